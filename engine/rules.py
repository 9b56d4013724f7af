"""Checks JSON Schema cannot express, as they need today's date: recorded events are not in the
future nor before the referral, and a child already born was not born after today."""
from __future__ import annotations

from datetime import date
from typing import Any, Callable, Mapping

from .calendar import parse_date
from .errors import FieldError
from .inputs import day_words

# Fields recording when something happened (as opposed to bookings and targets).
EVENT_DATE_FIELDS = frozenset({
    "decided_on", "held_on", "started_on", "authorised_on", "given_on", "checked_on", "completed_on",
    "closed_on", "ended_on", "concluded_on", "reviewed_on", "referred_on", "plan_agreed_on",
    "child_seen_on", "received_on",
})
NOT_BEFORE_REFERRAL = EVENT_DATE_FIELDS - {"received_on", "child_seen_on"}
ORDERED_PAIRS = (("started_on", "authorised_on"), ("started_on", "completed_on"))

Labeller = Callable[[str], str]  # a field's path -> the title the person sees (Form.label)


def _plain_label(field: str) -> str:
    return field.split(".")[-1].replace("_", " ").capitalize()


def _day(value: Any) -> date | None:
    """A well-formed ISO date in ``value``, else None (the schema reports malformed ones)."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None


def event_date_errors(form: Mapping[str, Any], today: date, referral_date: date | None,
                      label: Labeller = _plain_label) -> list[FieldError]:
    """Problems with the dates a form records, given today and the case's referral date."""
    errors = []
    for name in EVENT_DATE_FIELDS:
        when = _day(form.get(name))
        if when is None:
            continue
        if when > today:
            errors.append(FieldError(name, f"{label(name)} cannot be in the future (today is {day_words(today)})"))
        elif referral_date and name in NOT_BEFORE_REFERRAL and when < referral_date:
            errors.append(FieldError(name, f"{label(name)} cannot be before the referral on {day_words(referral_date)}"))
    for first, second in ORDERED_PAIRS:
        start, end = _day(form.get(first)), _day(form.get(second))
        if start and end and end < start:
            errors.append(FieldError(second, f"{label(second)} cannot be before the {label(first).lower()}"))
    return sorted(errors, key=lambda e: e.field)


def contact_date_errors(payload: Any, today: date, label: Labeller = _plain_label) -> list[FieldError]:
    """A contact's impossible dates: received in the future; a born child or an adult born after today
    (an unborn child has an expected date of birth instead), or an unborn child given a date of birth."""
    if not isinstance(payload, Mapping):
        return []
    errors = []
    received = _day(payload.get("received_on"))
    if received and received > today:
        errors.append(FieldError("received_on", f"{label('received_on')} cannot be in the future "
                                                f"(today is {day_words(today)})"))
    for group in ("children", "family_members"):
        rows = payload.get(group)
        for index, row in enumerate(rows if isinstance(rows, list) else []):
            born = _day(row.get("date_of_birth")) if isinstance(row, Mapping) else None
            if born is None:
                continue
            field = f"{group}.{index}.date_of_birth"
            if group == "children" and row.get("unborn") is True:
                errors.append(FieldError(field, f"{label(field)}: an unborn child has none yet. Leave it blank "
                                                f"and give the {label(f'{group}.{index}.expected_date_of_birth').lower()}"))
            elif born > today:
                message = f"{label(field)} cannot be in the future (today is {day_words(today)})"
                if group == "children":
                    message += (f". If the child is not born yet, answer yes to ‘{label(f'{group}.{index}.unborn')}’ "
                                "and give the expected date of birth")
                errors.append(FieldError(field, message))
    return errors
