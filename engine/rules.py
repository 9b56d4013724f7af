"""Checks JSON Schema cannot express: recorded events are not in the future, nor before the referral."""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from .calendar import parse_date
from .errors import FieldError

# Fields recording when something happened (as opposed to bookings and targets).
EVENT_DATE_FIELDS = frozenset({
    "decided_on", "held_on", "started_on", "authorised_on", "given_on", "checked_on", "completed_on",
    "closed_on", "ended_on", "concluded_on", "reviewed_on", "referred_on", "plan_agreed_on",
    "child_seen_on", "received_on",
})
NOT_BEFORE_REFERRAL = EVENT_DATE_FIELDS - {"received_on", "child_seen_on"}
ORDERED_PAIRS = (("started_on", "authorised_on"), ("started_on", "completed_on"))


def event_date_errors(form: Mapping[str, Any], today: date, referral_date: date | None) -> list[FieldError]:
    """Problems with the dates a form records, given today and the case's referral date."""
    errors = []
    for name in EVENT_DATE_FIELDS:
        value = form.get(name)
        if not isinstance(value, str) or len(value) != 10:
            continue
        try:
            when = parse_date(value)
        except ValueError:
            continue  # the schema reports malformed dates
        if when > today:
            errors.append(FieldError(name, f"{name.replace('_', ' ')} cannot be in the future (today is {today.isoformat()})"))
        elif referral_date and name in NOT_BEFORE_REFERRAL and when < referral_date:
            errors.append(FieldError(name, f"{name.replace('_', ' ')} cannot be before the referral on {referral_date.isoformat()}"))
    for first, second in ORDERED_PAIRS:
        if isinstance(form.get(first), str) and isinstance(form.get(second), str):
            try:
                if parse_date(form[second]) < parse_date(form[first]):
                    errors.append(FieldError(second, f"{second.replace('_', ' ')} cannot be before {first.replace('_', ' ')}"))
            except ValueError:
                continue
    return sorted(errors, key=lambda e: e.field)
