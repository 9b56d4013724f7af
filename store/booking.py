"""A conference's booking as the chair's tasks make it: the rules of engine/booking.py applied to a case.

``check_task`` runs before a scheduling or holding task is completed (inside ``complete_task``'s
engine call, so a refusal changes nothing); ``record_task`` writes the booking or the holding in
the same unit of work and returns the chronology lines for anything unusual (a weekend, a date
already past, a date after the statutory one, a conference held on another day than booked).
Moving, cancelling and booking again are in store/rebooking.py.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from engine import ChronologyEvent, FieldError, TaskView, ValidationFailed, WorkingDayCalendar, local_date, parse_date
from engine.booking import (BOOKING_REASONS, HELD_ANOTHER_DAY, HELD_FIELD, NOT_WORKING_DAY, OUTSIDE_TIMESCALE,
                            RECORDED_LATE, Window, booking_problems, check_booking, held_day_problems, long_date)

from .conferences import (HOLDING_TASKS, SCHEDULING_TASKS, check_chair_available, current_booking, held_details,
                          scheduling_values, statutory_window)
from .models import Case, Conference, User
from .timeutil import to_db

# What opens each kind's window, in words for the chair.
OPENED_BY = {"icpc": "the strategy discussion that started the section 47 enquiry",
             "review": "the previous conference"}
# How the chronology names each kind.
NAMES = {"icpc": "ICPC", "review": "Review conference", "contextual": "Contextual safeguarding conference"}


def day_text(day: date | str | None) -> str:
    """'12 January 2027' (the chronology's dates)."""
    return parse_date(day).strftime("%-d %B %Y") if day else "no date"


def booking_window(case: Case, kind: str) -> Window:
    """The window a ``kind`` conference of ``case`` is booked in: from the event that opens it (never
    before the referral) to the statutory date; a contextual conference's opens at the referral."""
    start, due = statutory_window(case, kind)
    if start is None or start < case.referral_date:
        return Window(case.referral_date, "the referral", due)
    return Window(start, OPENED_BY.get(kind, "the referral"), due)


def labels_of(schema: Mapping[str, Any]) -> dict[str, str]:
    """Field -> the title the form shows (so messages name fields as the chair sees them)."""
    return {name: str(prop.get("title")) for name, prop in (schema.get("properties") or {}).items()
            if isinstance(prop, dict) and prop.get("title")}


def check_task(case: Case, view: TaskView, form: Mapping[str, Any], today: date,
               calendar: WorkingDayCalendar) -> None:
    """Refuse (ValidationFailed, naming the form's fields) a booking the rules do not allow, or a
    holding that does not match its booking: cancelled, or held on another day without the reason."""
    labels = labels_of(view.schema)
    if view.bpmn_id in SCHEDULING_TASKS:
        check_booking(form, booking_window(case, SCHEDULING_TASKS[view.bpmn_id][0]), today, calendar, labels)
        return
    kind = HOLDING_TASKS.get(view.bpmn_id)
    if kind is None:
        return
    booking = current_booking(case.id, kind)
    if booking is not None and booking.status == "cancelled":
        held = labels.get(HELD_FIELD, "Date held")
        raise ValidationFailed([FieldError(HELD_FIELD, f"{held}: the conference booked for "
                                                       f"{long_date(booking.scheduled_for)} was cancelled. Book a new "
                                                       "date on the conference's page before recording it as held")],
                               title="The conference was cancelled")
    booked_for = booking.scheduled_for if booking is not None and booking.status == "scheduled" else None
    problems = held_day_problems(form, booked_for, labels)
    if problems:
        raise ValidationFailed(problems, title="The conference was held on another day than booked")


def holding_booking(bpmn_id: str, case_id: int) -> Conference | None:
    """For a task recording a conference as held: the booking it records (or the cancelled one)."""
    kind = HOLDING_TASKS.get(bpmn_id)
    return current_booking(case_id, kind) if kind else None


def reasons_text(reasons: Mapping[str, str], day: date, due: date | None, calendar: WorkingDayCalendar) -> str:
    """The reasons a booking needed, as sentences for the chronology ('' when none)."""
    parts = []
    if reasons.get(NOT_WORKING_DAY):
        parts.append(f"It is {calendar.why_closed(day)}: {reasons[NOT_WORKING_DAY]}.")
    if reasons.get(RECORDED_LATE):
        parts.append(f"Recorded after the date: {reasons[RECORDED_LATE]}.")
    if reasons.get(OUTSIDE_TIMESCALE) and due is not None:
        parts.append(f"After the statutory date of {day_text(due)}: {reasons[OUTSIDE_TIMESCALE]}.")
    return " ".join(parts)


def apply_booking(conference: Conference, day: date, window: Window, reasons: Mapping[str, str]) -> None:
    """Set a conference's date-dependent columns: the statutory date, whether it is outside it, and
    the reasons this date needs (a reason no longer needed is dropped)."""
    conference.scheduled_for, conference.due = day, window.due
    conference.outside_timescale = bool(window.due and day > window.due)
    conference.reason_outside_timescale = reasons.get(OUTSIDE_TIMESCALE)
    details = {k: v for k, v in (conference.details or {}).items() if k not in BOOKING_REASONS}
    details.update({k: v for k, v in reasons.items() if k != OUTSIDE_TIMESCALE})
    conference.details = details


def history_entry(action: str, by: str, now: datetime, **values: Any) -> dict[str, Any]:
    """One line of a conference's booking history (kept in its details, oldest first)."""
    return {"action": action, "by": by, "at": to_db(now).isoformat(timespec="seconds"),
            **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items() if v is not None}}


def record_task(case: Case, view: TaskView, form: Mapping[str, Any], user: User, now: datetime,
                calendar: WorkingDayCalendar) -> list[ChronologyEvent]:
    """Book (refusing a chair's double booking) or mark held the conference a chair's task is about;
    returns the chronology lines this adds to the task's own."""
    if view.bpmn_id in SCHEDULING_TASKS:
        return _book(case, SCHEDULING_TASKS[view.bpmn_id][0], form, user, now, calendar)
    kind = HOLDING_TASKS.get(view.bpmn_id)
    if kind is None:
        return []
    conference = current_booking(case.id, kind)
    if conference is None or conference.status != "scheduled":
        conference = Conference(case=case, kind=kind, chair=user)
    booked_for = conference.scheduled_for
    conference.status, conference.outcome = "held", form.get("outcome")
    conference.held_on = parse_date(form[HELD_FIELD]) if form.get(HELD_FIELD) else None
    conference.details = {**(conference.details or {}), **held_details(kind, form, user.username)}
    conference.save()
    if booked_for is None or conference.held_on in (None, booked_for):
        return []
    return [ChronologyEvent("conference_held_another_day",
                            f"{NAMES[kind]} held on {day_text(conference.held_on)}, not on {day_text(booked_for)} "
                            f"as booked: {form.get(HELD_ANOTHER_DAY, '').strip()}", element=view.bpmn_id,
                            actor=user.username, details={"conference": conference.id})]


def _book(case: Case, kind: str, form: Mapping[str, Any], user: User, now: datetime,
          calendar: WorkingDayCalendar) -> list[ChronologyEvent]:
    values = scheduling_values(form)
    day = values["scheduled_for"]
    if day is not None:
        check_chair_available(user, day, values["start_time"], values["duration_minutes"])
    window = booking_window(case, kind)
    # check_task has refused a date lacking a reason it needs; only the reasons it needs are kept.
    needed = booking_problems(form, window, local_date(now), calendar)[1] if day is not None else {}
    conference = Conference(case=case, kind=kind, chair=user, status="scheduled", **values,
                            details={"invitees": form.get("invitees", []),
                                     "changes": [history_entry("booked", user.username, now, to=day,
                                                               time=values["start_time"])]})
    if day is not None:
        apply_booking(conference, day, window, needed)
    conference.save()
    text = reasons_text(needed, day, window.due, calendar) if day is not None else ""
    if not text:
        return []
    return [ChronologyEvent("conference_booked", f"{NAMES[kind]} booked for {day_text(day)}. {text}",
                            actor=user.username, details={"conference": conference.id})]
