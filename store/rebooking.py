"""Moving, cancelling and booking again a chair's conference, each with its reason.

Each is one unit of work on the case: its row is locked and its version moved on, so a holding
task recorded at the same moment is worked again against the booking as changed (and refused if
it was cancelled). The change goes into the conference's history, the chronology (in plain words,
"ICPC moved from 12 January 2027 to 14 January 2027: chair unwell") and the audit. A cancelled
conference frees its chair's day; the case keeps its open holding task, so the conference is
offered again under *Waiting to be scheduled* until a new date is booked from its page.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from engine import CaseConflict, CaseNotFound, FieldError, Form, NotPermitted, ValidationFailed, local_date, parse_date
from engine.booking import check_booking

from . import audit
from .booking import NAMES, apply_booking, booking_window, day_text, history_entry, labels_of, reasons_text
from .cases import Safeguarding, lock_case
from .conferences import (DEFAULT_DURATION_MINUTES, HOLDING_TASKS, check_chair_available, current_booking,
                          get_conference)
from .db import database
from .models import Case, ChronologyEntry, Conference, Task, User
from .timeutil import to_db
from .users import actor_for

CHANGERS = frozenset({"business_support"})  # besides the conference's own chair: conference administration
_REASON = {"type": "string", "minLength": 1, "maxLength": 5000, "x-widget": "textarea"}
_DATE = {"type": "string", "format": "date"}
_TIME = {"title": "Start time", "type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
         "description": "Use the 24-hour clock, for example 14:30. Leave it empty to book the whole day."}
_VENUE = {"title": "Venue", "type": "string", "minLength": 1, "maxLength": 200,
          "description": "Address of the venue, or 'Online' with the meeting platform."}
_DATE_REASONS = {
    "reason_not_working_day": dict(_REASON, title="Reason for a date on a weekend or bank holiday",
                                   description="Only needed if the date is a Saturday, a Sunday or a bank holiday."),
    "reason_recorded_late": dict(_REASON, title="Reason for booking a date that has passed",
                                 description="Only needed if the date is before today."),
    "reason_outside_timescale": dict(_REASON, title="Reason the date is outside the timescale",
                                     description="Only needed if the date is after the statutory date."),
}
# The forms of the conference page's actions (JSON Schema, drawn and read as task forms are).
MOVE_FORM = {"$id": "move_conference", "type": "object", "additionalProperties": False,
             "required": ["scheduled_for", "reason"], "properties": {
                 "scheduled_for": dict(_DATE, title="New date"), "time": _TIME, "venue": _VENUE,
                 "reason": dict(_REASON, title="Reason for the change",
                                description="For example: the chair is unwell, or the family cannot attend."),
                 **_DATE_REASONS}}
CANCEL_FORM = {"$id": "cancel_conference", "type": "object", "additionalProperties": False, "required": ["reason"],
               "properties": {"reason": dict(_REASON, title="Reason for cancelling",
                                             description="The case will still need the conference: "
                                                         "you can book a new date afterwards.")}}
REBOOK_FORM = {"$id": "rebook_conference", "type": "object", "additionalProperties": False,
               "required": ["scheduled_for", "venue"], "properties": {
                   "scheduled_for": dict(_DATE, title="Date of conference"), "time": _TIME, "venue": _VENUE,
                   **_DATE_REASONS}}


def revision(conference: Conference) -> str:
    """What a page showing this conference's booking saw: a change made since makes it stale."""
    return f"{conference.status}.{len((conference.details or {}).get('changes') or [])}"


def may_change(user: User, roles: frozenset[str] | set[str], conference: Conference) -> bool:
    """Its chair or conference administration (business support) may move, cancel or rebook it."""
    return bool(roles & CHANGERS) or ("conference_chair" in roles and conference.chair_id == user.id)


def needs_new_date(conference: Conference) -> bool:
    """A cancelled conference the case still needs (its holding task is open) and nobody has rebooked."""
    newest = current_booking(conference.case_id, conference.kind)
    return (conference.status == "cancelled" and newest is not None and newest.id == conference.id
            and Task.select().where(Task.case == conference.case_id, Task.bpmn_id.in_(
                [b for b, k in HOLDING_TASKS.items() if k == conference.kind])).exists())


def move(service: Safeguarding, conference_id: int, username: str, answers: Mapping[str, Any],
         expected: str | None = None) -> Conference:
    """Move a booked conference to another date or time, with the reason for the change."""
    return _change(service, conference_id, username, answers, expected, MOVE_FORM, _move)


def cancel(service: Safeguarding, conference_id: int, username: str, answers: Mapping[str, Any],
           expected: str | None = None) -> Conference:
    """Cancel a booked conference, with the reason; the case then needs a new date."""
    return _change(service, conference_id, username, answers, expected, CANCEL_FORM, _cancel)


def rebook(service: Safeguarding, conference_id: int, username: str, answers: Mapping[str, Any],
           expected: str | None = None) -> Conference:
    """Book a new date for a cancelled conference the case still needs; returns the new booking."""
    return _change(service, conference_id, username, answers, expected, REBOOK_FORM, _rebook)


class _Change:
    """What one change works with: the case and conference (locked), who, when, the answers."""

    def __init__(self, service: Safeguarding, case: Case, conference: Conference, user: User,
                 answers: dict[str, Any], now: datetime) -> None:
        self.service, self.case, self.conference, self.user, self.answers, self.now = (
            service, case, conference, user, answers, now)
        self.calendar = service.engine.calendar

    def chronology(self, kind: str, summary: str, conference: Conference) -> None:
        ChronologyEntry.create(case=self.case, at=to_db(self.now), actor=self.user.username, kind=kind,
                               element=None, summary=summary, details={"conference": conference.id})

    def audit(self, action: str, conference: Conference, **detail: Any) -> None:
        # Dates and field names, never the reasons' words (as for a task's form).
        audit.record(self.user.username, "change", "conference", conference.id, self.now,
                     {"action": action, "case": self.case.reference, "kind": conference.kind,
                      "fields": sorted(self.answers), **detail}, case_id=self.case.id)

    def booking(self, form: Mapping[str, Any], exclude_id: int | None):
        """The new date, time and venue checked (rules, the chair's other conferences) and the reasons kept."""
        day, time = parse_date(self.answers["scheduled_for"]), self.answers.get("time")
        window = booking_window(self.case, self.conference.kind)
        reasons = check_booking(self.answers, window, local_date(self.now), self.calendar, labels_of(form))
        chair = self.conference.chair or self.user
        check_chair_available(chair, day, time, self.conference.duration_minutes or DEFAULT_DURATION_MINUTES,
                              exclude_id=exclude_id)
        return day, time, window, reasons


def _change(service: Safeguarding, conference_id: int, username: str, answers: Mapping[str, Any],
            expected: str | None, form: dict, apply: Callable[[_Change], Conference]) -> Conference:
    user, actor = actor_for(username)
    answers = {k: v.strip() if isinstance(v, str) else v for k, v in answers.items()
               if not (isinstance(v, str) and not v.strip())}
    Form(form["$id"], form).validate(answers)
    found = get_conference(conference_id)
    if found is None:
        raise CaseNotFound(f"there is no conference {conference_id}")
    if not may_change(user, actor.roles, found):
        raise NotPermitted(f"{username} may not change this conference: only its chair or business support")
    now = service.clock.now()
    with database.atomic():
        case = lock_case(found.case_id)
        conference = get_conference(conference_id)  # again, under the case's lock
        if expected is not None and revision(conference) != expected:
            raise CaseConflict(f"this conference was changed by someone else since you opened the page: "
                               f"it is now {describe_state(conference)}")
        result = apply(_Change(service, case, conference, user, answers, now))
        Case.update(version=Case.version + 1, updated_at=to_db(now)).where(Case.id == case.id).execute()
    return get_conference(result.id)


def describe_state(conference: Conference) -> str:
    """'booked for 12 January 2027', 'cancelled', 'held on 12 January 2027' (for a stale page's message)."""
    if conference.status == "held":
        return f"held on {day_text(conference.held_on)}"
    if conference.status == "cancelled":
        return "cancelled"
    return f"booked for {day_text(conference.scheduled_for)}" + (
        f" at {conference.start_time}" if conference.start_time else "")


def _scheduled_only(conference: Conference, doing: str) -> None:
    if conference.status != "scheduled":
        raise CaseConflict(f"this conference cannot be {doing}: it is {describe_state(conference)}")


def _when(day, time) -> str:
    return day_text(day) + (f" at {time}" if time else "")


def _move(change: _Change) -> Conference:
    conference, answers = change.conference, change.answers
    _scheduled_only(conference, "moved")
    day, time, window, reasons = change.booking(MOVE_FORM, exclude_id=conference.id)
    venue = answers.get("venue") or conference.venue
    before_day, before_time, before_venue = conference.scheduled_for, conference.start_time, conference.venue
    if (day, time, venue) == (before_day, before_time, before_venue):
        raise ValidationFailed([FieldError("scheduled_for", "New date: the conference is already booked for "
                                                            f"{_when(day, time)}. Choose another date or time")])
    apply_booking(conference, day, window, reasons)
    conference.start_time, conference.venue = time, venue
    details = dict(conference.details)
    details["changes"] = [*(details.get("changes") or []), history_entry(
        "moved", change.user.username, change.now, **{"from": before_day, "from_time": before_time, "to": day,
                                                       "time": time, "reason": answers["reason"], **reasons})]
    conference.details = details
    conference.save()
    times = time != before_time and (time or before_time)
    summary = (f"{NAMES[conference.kind]} moved from {_when(before_day, before_time) if times else day_text(before_day)} "
               f"to {_when(day, time) if times else day_text(day)}: {answers['reason']}")
    if venue != before_venue:
        summary += f" (venue now {venue})"
    text = reasons_text(reasons, day, window.due, change.calendar)
    change.chronology("conference_moved", f"{summary}. {text}" if text else summary, conference)
    change.audit("moved", conference, **{"from": before_day.isoformat() if before_day else None,
                                         "to": day.isoformat(), "outside_timescale": conference.outside_timescale})
    return conference


def _cancel(change: _Change) -> Conference:
    conference = change.conference
    _scheduled_only(conference, "cancelled")
    reason = change.answers["reason"]
    conference.status = "cancelled"
    details = dict(conference.details)
    details["changes"] = [*(details.get("changes") or []), history_entry(
        "cancelled", change.user.username, change.now, on=conference.scheduled_for, reason=reason)]
    conference.details = details
    conference.save()
    due = booking_window(change.case, conference.kind).due
    needed = f" A new date is needed, by {day_text(due)}." if due else " A new date is needed."
    change.chronology("conference_cancelled",
                      f"{NAMES[conference.kind]} of {day_text(conference.scheduled_for)} cancelled: {reason}.{needed}",
                      conference)
    change.audit("cancelled", conference, on=conference.scheduled_for.isoformat() if conference.scheduled_for else None)
    return conference


def _rebook(change: _Change) -> Conference:
    cancelled, answers = change.conference, change.answers
    if not needs_new_date(cancelled):
        raise CaseConflict("a new date cannot be booked here: this conference is "
                           f"{describe_state(cancelled)}, and the case does not need it booked again")
    day, time, window, reasons = change.booking(REBOOK_FORM, exclude_id=None)
    conference = Conference(case=change.case, kind=cancelled.kind, chair=cancelled.chair or change.user,
                            status="scheduled", start_time=time, venue=answers["venue"],
                            duration_minutes=cancelled.duration_minutes or DEFAULT_DURATION_MINUTES,
                            details={"invitees": cancelled.invitations, "replaces": cancelled.id,
                                     "changes": [history_entry("booked", change.user.username, change.now, to=day,
                                                               time=time, replaces=cancelled.id)]})
    apply_booking(conference, day, window, reasons)
    conference.save()
    details = dict(cancelled.details)
    details["replaced_by"] = conference.id
    details["changes"] = [*(details.get("changes") or []), history_entry(
        "rebooked", change.user.username, change.now, to=day, conference=conference.id)]
    cancelled.details = details
    cancelled.save()
    text = reasons_text(reasons, day, window.due, change.calendar)
    summary = (f"{NAMES[conference.kind]} booked for {_when(day, time)}, in place of the one of "
               f"{day_text(cancelled.scheduled_for)} that was cancelled")
    change.chronology("conference_booked", f"{summary}. {text}" if text else summary, conference)
    change.audit("rebooked", conference, replaces=cancelled.id, to=day.isoformat())
    return conference


def repeat_of_last(conference: Conference, action: str, answers: Mapping[str, Any], username: str) -> Conference | None:
    """If the newest change to this conference is ``username`` doing ``action`` with these answers (a
    form sent twice), the conference that change left to show; else None."""
    changes = (conference.details or {}).get("changes") or []
    if not changes or changes[-1].get("action") != action or changes[-1].get("by") != username:
        return None
    last, day = changes[-1], answers.get("scheduled_for")
    if action == "moved" and (last.get("to"), last.get("reason")) == (day, answers.get("reason")):
        return conference
    if action == "cancelled" and last.get("reason") == answers.get("reason"):
        return conference
    if action == "rebooked" and last.get("to") == day:
        return Conference.get_or_none(Conference.id == last.get("conference"))
    return None

