"""Booking rules for conferences, apart from any database.

A conference is booked on a working day, never before the event that opens its statutory window;
a weekend or bank holiday, a date already past (the booking is recorded late) and a date after
the statutory one each need a reason, which is recorded. A conference recorded as held on another
day than booked says why. The store gathers the dates (store/booking.py) and applies these.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from .calendar import WorkingDayCalendar, parse_date
from .errors import FieldError, ValidationFailed

DATE_FIELD = "scheduled_for"
HELD_FIELD = "held_on"
NOT_WORKING_DAY = "reason_not_working_day"
RECORDED_LATE = "reason_recorded_late"
OUTSIDE_TIMESCALE = "reason_outside_timescale"
HELD_ANOTHER_DAY = "reason_held_on_another_day"
BOOKING_REASONS = (NOT_WORKING_DAY, RECORDED_LATE, OUTSIDE_TIMESCALE)
# The shipped forms' titles for these fields; a form's own titles (``labels``) take precedence, so
# messages name a field as the user sees it.
LABELS = {DATE_FIELD: "Date of conference", HELD_FIELD: "Date held",
          NOT_WORKING_DAY: "Reason for a date on a weekend or bank holiday",
          RECORDED_LATE: "Reason for booking a date that has passed",
          OUTSIDE_TIMESCALE: "Reason the date is outside the timescale",
          HELD_ANOTHER_DAY: "Reason it was held on another day than booked"}


@dataclass(frozen=True)
class Window:
    """When a conference may be held: from ``opens_on`` (the event ``opened_by`` names) to ``due``."""

    opens_on: date | None
    opened_by: str
    due: date | None


def long_date(day: date | str) -> str:
    """'Tuesday 12 January 2027'."""
    return parse_date(day).strftime("%A %-d %B %Y")


def _label(labels: Mapping[str, str] | None, name: str) -> str:
    return (labels or {}).get(name) or LABELS.get(name) or name.replace("_", " ").capitalize()


def _enter(labels: Mapping[str, str] | None, name: str) -> str:
    """'Enter the reason ...', the field named as its label reads (an initialism keeps its capitals)."""
    title = _label(labels, name)
    if title.endswith("?"):
        return f"Answer the question: {title}"
    return f"Enter the {title if title[1:2].isupper() else title[:1].lower() + title[1:]}"


def _given(answers: Mapping[str, Any], name: str) -> str | None:
    value = answers.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def booking_problems(answers: Mapping[str, Any], window: Window, today: date, calendar: WorkingDayCalendar,
                     labels: Mapping[str, str] | None = None) -> tuple[list[FieldError], dict[str, str]]:
    """What is wrong with a booking's date (errors on the form's fields), and the reasons it needs
    that were given (field -> reason, to record with the booking). No date: nothing to check."""
    if not isinstance(answers.get(DATE_FIELD), str):
        return [], {}
    try:
        day = parse_date(answers[DATE_FIELD])
    except ValueError:
        return [], {}  # the form's schema reports a malformed date
    if window.opens_on is not None and day < window.opens_on:
        return [FieldError(DATE_FIELD, f"{_label(labels, DATE_FIELD)} cannot be before {window.opened_by} on "
                                       f"{long_date(window.opens_on)}")], {}
    needed: list[tuple[str, str]] = []
    closed = calendar.why_closed(day)
    if closed:
        needed.append((NOT_WORKING_DAY, f"{day.strftime('%-d %B %Y')} is {closed}"))
    if day < today:
        needed.append((RECORDED_LATE, f"{day.strftime('%-d %B %Y')} is before today ({today.strftime('%-d %B %Y')})"))
    if window.due is not None and day > window.due:
        needed.append((OUTSIDE_TIMESCALE, f"it is after the statutory date, {long_date(window.due)}"))
    errors, reasons = [], {}
    for name, why in needed:
        given = _given(answers, name)
        if given is None:
            errors.append(FieldError(name, f"{_enter(labels, name)}: {why}"))
        else:
            reasons[name] = given
    return errors, reasons


def check_booking(answers: Mapping[str, Any], window: Window, today: date, calendar: WorkingDayCalendar,
                  labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """The reasons a booking needs and has (to record); ValidationFailed naming each field if not acceptable."""
    errors, reasons = booking_problems(answers, window, today, calendar, labels)
    if errors:
        raise ValidationFailed(errors, title="The conference cannot be booked on that date")
    return reasons


def held_day_problems(answers: Mapping[str, Any], booked_for: date | None,
                      labels: Mapping[str, str] | None = None) -> list[FieldError]:
    """A conference recorded as held on another day than it was booked for needs the reason."""
    held = answers.get(HELD_FIELD)
    if booked_for is None or not isinstance(held, str):
        return []
    try:
        held_on = parse_date(held)
    except ValueError:
        return []
    if held_on == booked_for or _given(answers, HELD_ANOTHER_DAY):
        return []
    return [FieldError(HELD_ANOTHER_DAY, f"{_enter(labels, HELD_ANOTHER_DAY)}: it was booked for "
                                         f"{long_date(booked_for)}, and the {_label(labels, HELD_FIELD).lower()} "
                                         f"is {long_date(held_on)}")]
