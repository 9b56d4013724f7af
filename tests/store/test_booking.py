"""Booking a conference on SQLite and PostgreSQL: the booking rules at the chair's task, a conference held
on another day than booked, moving and cancelling with a reason (chronology, audit, calendar, statutory
window), booking again after a cancellation, and the dates offered for a review."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from engine import CaseConflict, NotPermitted, ValidationFailed
from store import conferences as rules
from store import rebooking
from store.audit import AuditEntry
from store.demo import build_form
from store.models import Case, ChronologyEntry, Conference, Task, User
from store.users import add_user
from tests.store.test_conferences import case_waiting_for, schedule, snapshot, task_of


def long(day: date) -> str:
    return day.strftime("%-d %B %Y")


def entries(case, kind):
    return [e.summary for e in ChronologyEntry.select().where(ChronologyEntry.case == case.id,
                                                             ChronologyEntry.kind == kind).order_by(ChronologyEntry.id)]


def hold(app, case, held_on, bpmn_id="icpc", **extra):
    """Record the holding task as held on ``held_on`` (the clock moved to that day if it is later)."""
    if app.clock.now().date() < held_on:
        app.clock.set(datetime.combine(held_on, time(17, 0), tzinfo=timezone.utc))
    task = task_of(case, bpmn_id)
    form = build_form(task.form_name, {"outcome": "cp_plan", "categories": ["neglect"]}, held_on,
                      app.service.engine.calendar)
    form.update(held_on=held_on.isoformat(), **extra)
    return app.service.complete_task(task.id, task.assignee.username if task.assignee else "chair.helen", form,
                                     token=task.token)


def next_working_day(app, day, n=1):
    return app.service.engine.calendar.add_working_days(day, n)


def booked(app, users, child_index, days_ahead=None):
    """A case with its ICPC booked on its statutory date (or ``days_ahead`` working days after today)."""
    case = case_waiting_for(app, users, child_index=child_index)
    day = next_working_day(app, app.clock.now().date(), days_ahead) if days_ahead else case.icpc_due
    schedule(app, users["conference_chair"], case, day)
    return Case.get_by_id(case.id), Conference.get(Conference.case == case.id)


# -- the booking rules at the scheduling task -----------------------------------------------
def test_a_past_saturday_before_the_strategy_discussion_is_refused_whatever_the_reasons(app, users):
    case = case_waiting_for(app, users, child_index=0)
    saturday = case.referral_date - timedelta(days=(case.referral_date.weekday() - 5) % 7 or 7)
    assert saturday.weekday() == 5 and saturday < case.referral_date
    before = snapshot(case.id)
    with pytest.raises(ValidationFailed) as refused:
        schedule(app, users["conference_chair"], case, saturday, reason_not_working_day="x",
                 reason_recorded_late="y")
    [error] = refused.value.errors
    assert error.field == "scheduled_for"
    assert error.message == ("Date of conference cannot be before the strategy discussion that started the section 47 "
                             f"enquiry on {case.initiating_strategy_discussion_on.strftime('%A %-d %B %Y')}")
    assert snapshot(case.id) == before  # nothing written: no conference, the task still open


def test_a_weekend_booking_needs_its_reason_which_is_recorded(app, users):
    case = case_waiting_for(app, users, child_index=1)
    saturday = case.icpc_due - timedelta(days=(case.icpc_due.weekday() - 5) % 7)
    assert saturday.weekday() == 5 and app.clock.now().date() < saturday <= case.icpc_due
    before = snapshot(case.id)
    with pytest.raises(ValidationFailed) as refused:
        schedule(app, users["conference_chair"], case, saturday)
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("reason_not_working_day", f"Enter the reason for a date on a weekend or bank holiday: {long(saturday)} is a Saturday")]
    assert snapshot(case.id) == before
    schedule(app, users["conference_chair"], case, saturday, reason_not_working_day="Father works away all week")
    conference = Conference.get(Conference.case == case.id)
    assert conference.details["reason_not_working_day"] == "Father works away all week"
    assert not conference.outside_timescale and "reason_recorded_late" not in conference.details
    assert entries(case, "conference_booked") == [
        f"ICPC booked for {long(saturday)}. It is a Saturday: Father works away all week."]


def test_a_bank_holiday_booking_names_the_holiday(app, users):
    case = case_waiting_for(app, users, child_index=2)
    with pytest.raises(ValidationFailed) as refused:
        schedule(app, users["conference_chair"], case, date(2026, 12, 28))
    assert refused.value.errors[0].message.endswith("28 December 2026 is Boxing Day (observed), a bank holiday")


def test_a_date_already_past_needs_a_reason_and_is_recorded_late(app, users):
    case = case_waiting_for(app, users, child_index=3)
    today = app.clock.now().date()
    past = max(d for d in (today - timedelta(days=n) for n in range(1, 5)) if app.service.engine.calendar.is_working_day(d))
    assert past >= case.initiating_strategy_discussion_on
    with pytest.raises(ValidationFailed) as refused:
        schedule(app, users["conference_chair"], case, past)
    assert [e.field for e in refused.value.errors] == ["reason_recorded_late"]
    assert f"{long(past)} is before today ({long(today)})" in refused.value.errors[0].message
    schedule(app, users["conference_chair"], case, past, reason_recorded_late="Held by phone, recorded afterwards")
    conference = Conference.get(Conference.case == case.id)
    assert conference.details["reason_recorded_late"] == "Held by phone, recorded afterwards"
    assert entries(case, "conference_booked") == [
        f"ICPC booked for {long(past)}. Recorded after the date: Held by phone, recorded afterwards."]


def test_an_ordinary_booking_adds_nothing_to_the_chronology_but_the_task(app, users):
    case, conference = booked(app, users, 4)
    assert entries(case, "conference_booked") == []
    assert conference.details["changes"][0]["action"] == "booked"


# -- held on another day than booked --------------------------------------------------------
def test_held_on_another_day_than_booked_needs_the_reason(app, users):
    case, conference = booked(app, users, 5)
    held_on = next_working_day(app, conference.scheduled_for)
    before = snapshot(case.id)
    with pytest.raises(ValidationFailed) as refused:
        hold(app, case, held_on)
    [error] = refused.value.errors
    assert error.field == "reason_held_on_another_day"
    assert error.message == ("Enter the reason it was held on another day than booked: it was booked for "
                             f"{conference.scheduled_for.strftime('%A %-d %B %Y')}, and the date held is "
                             f"{held_on.strftime('%A %-d %B %Y')}")
    assert snapshot(case.id)[1:] == before[1:] and Conference.get_by_id(conference.id).status == "scheduled"
    hold(app, case, held_on, reason_held_on_another_day="Interpreter delayed a day")
    conference = Conference.get_by_id(conference.id)
    assert (conference.status, conference.held_on) == ("held", held_on)
    assert conference.details["reason_held_on_another_day"] == "Interpreter delayed a day"
    assert entries(case, "conference_held_another_day") == [
        f"ICPC held on {long(held_on)}, not on {long(conference.scheduled_for)} as booked: Interpreter delayed a day"]


def test_held_on_the_booked_day_needs_no_reason(app, users):
    case, conference = booked(app, users, 6)
    hold(app, case, conference.scheduled_for)
    assert Conference.get_by_id(conference.id).status == "held"
    assert entries(case, "conference_held_another_day") == []


# -- moving --------------------------------------------------------------------------------
def test_moving_a_conference_follows_in_the_chronology_audit_calendar_and_window(app, users):
    chair = users["conference_chair"]
    case, conference = booked(app, users, 7)
    first = conference.scheduled_for
    earlier = next_working_day(app, app.clock.now().date(), 2)
    version = case.version
    moved = rebooking.move(app.service, conference.id, chair, {"scheduled_for": earlier.isoformat(), "time": "14:00",
                                                               "reason": "Chair unwell"},
                           expected=rebooking.revision(conference))
    assert (moved.scheduled_for, moved.start_time, moved.status) == (earlier, "14:00", "scheduled")
    assert entries(case, "conference_moved") == [
        f"ICPC moved from {long(first)} at 10:00 to {long(earlier)} at 14:00: Chair unwell"]
    assert Case.get_by_id(case.id).version == version + 1
    audit = AuditEntry.select().where(AuditEntry.record_type == "conference", AuditEntry.record_id == str(conference.id))
    [entry] = [a for a in audit if (a.detail or {}).get("action") == "moved"]
    assert entry.actor == chair and entry.detail["to"] == earlier.isoformat() and "Chair unwell" not in str(entry.detail)
    days = rules.conferences_between(None, min(first, earlier), max(first, earlier))
    assert [c.id for c in days[earlier]] == [conference.id] and first not in days
    assert rules.find_clash(moved.chair, first, "10:00") is None  # the old day is free again
    # moved past the statutory date: a reason, then flagged as out of timescale; moved back, no longer
    late = next_working_day(app, case.icpc_due)
    with pytest.raises(ValidationFailed) as refused:
        rebooking.move(app.service, conference.id, chair, {"scheduled_for": late.isoformat(), "reason": "Family away"})
    assert [e.field for e in refused.value.errors] == ["reason_outside_timescale"]
    moved = rebooking.move(app.service, conference.id, chair, {"scheduled_for": late.isoformat(), "reason": "Family away",
                                                               "reason_outside_timescale": "Solicitor unavailable"})
    assert moved.outside_timescale and moved.reason_outside_timescale == "Solicitor unavailable"
    assert entries(case, "conference_moved")[-1] == (
        f"ICPC moved from {long(earlier)} at 14:00 to {long(late)}: Family away. After the statutory date "
        f"of {long(case.icpc_due)}: Solicitor unavailable.")
    back = rebooking.move(app.service, conference.id, chair, {"scheduled_for": case.icpc_due.isoformat(),
                                                              "time": "09:30", "reason": "Family back early"})
    assert not back.outside_timescale and back.reason_outside_timescale is None
    assert [c["action"] for c in back.details["changes"]] == ["booked", "moved", "moved", "moved"]


def test_a_move_is_refused_without_a_reason_onto_another_booking_or_from_a_stale_page(app, users):
    chair = users["conference_chair"]
    case, conference = booked(app, users, 8)
    other_case, other = booked(app, users, 9, days_ahead=3)
    stale = rebooking.revision(conference)
    before = snapshot(case.id)
    with pytest.raises(ValidationFailed) as refused:
        rebooking.move(app.service, conference.id, chair, {"scheduled_for": other.scheduled_for.isoformat()})
    assert [e.field for e in refused.value.errors] == ["reason"]
    with pytest.raises(ValidationFailed) as refused:
        rebooking.move(app.service, conference.id, chair, {"scheduled_for": other.scheduled_for.isoformat(),
                                                           "time": "10:30", "reason": "Venue flooded"})
    assert refused.value.errors[0].field == "scheduled_for" and other_case.reference in refused.value.errors[0].message
    with pytest.raises(ValidationFailed) as refused:  # the same date and time: nothing to move
        rebooking.move(app.service, conference.id, chair, {"scheduled_for": conference.scheduled_for.isoformat(),
                                                           "time": "10:00", "reason": "No change"})
    assert "already booked for" in refused.value.errors[0].message
    assert snapshot(case.id) == before
    rebooking.move(app.service, conference.id, chair, {"scheduled_for": conference.scheduled_for.isoformat(),
                                                       "time": "15:00", "reason": "Parent at work until 14:00"},
                   expected=stale)  # the same day at another time: its own old slot does not clash
    with pytest.raises(CaseConflict, match="changed by someone else"):
        rebooking.move(app.service, conference.id, chair, {"scheduled_for": conference.scheduled_for.isoformat(),
                                                           "time": "16:00", "reason": "Again"}, expected=stale)


def test_only_its_chair_or_business_support_may_change_a_conference(app, users):
    add_user("chair.two", "Rob Chair", ["conference_chair"], app.clock.now())
    case, conference = booked(app, users, 10)
    day = next_working_day(app, conference.scheduled_for, 0)
    with pytest.raises(NotPermitted):
        rebooking.cancel(app.service, conference.id, "chair.two", {"reason": "Not mine"})
    with pytest.raises(NotPermitted):
        rebooking.cancel(app.service, conference.id, users["social_worker"], {"reason": "Not mine"})
    moved = rebooking.move(app.service, conference.id, users["business_support"],
                           {"scheduled_for": day.isoformat(), "time": "13:00", "reason": "Room double booked"})
    assert moved.chair.username == users["conference_chair"]  # the chair stays the chair


# -- cancelling and booking again ------------------------------------------------------------
def test_cancelling_frees_the_day_and_leaves_the_case_needing_a_new_date(app, users):
    chair = users["conference_chair"]
    case, conference = booked(app, users, 11)
    day = conference.scheduled_for
    cancelled = rebooking.cancel(app.service, conference.id, chair, {"reason": "Family bereavement"},
                                 expected=rebooking.revision(conference))
    assert cancelled.status == "cancelled" and cancelled.details["changes"][-1]["reason"] == "Family bereavement"
    assert entries(case, "conference_cancelled") == [
        f"ICPC of {long(day)} cancelled: Family bereavement. A new date is needed, by {long(case.icpc_due)}."]
    assert rules.find_clash(cancelled.chair, day, "10:00") is None and day not in rules.booked_days(
        cancelled.chair, day, day)
    assert task_of(case, "icpc") is not None and rules.holding_task(cancelled) is None
    chair_user = User.get(User.username == chair)
    [(task, wanted)] = rules.needing_new_date(chair_user)
    assert wanted.id == conference.id and task.bpmn_id == "icpc"
    [request] = [r for r in rules.scheduling_requests(chair_user, app.clock.now().date(), app.service.engine.calendar)
                 if r.cancelled is not None]
    assert request.cancelled.id == conference.id and request.due == case.icpc_due and request.offered
    with pytest.raises(CaseConflict, match="cannot be cancelled"):
        rebooking.cancel(app.service, conference.id, chair, {"reason": "Twice"})
    # the conference cannot be recorded as held while it has no booking
    before = snapshot(case.id)
    with pytest.raises(ValidationFailed) as refused:
        hold(app, case, day)
    assert refused.value.errors[0].field == "held_on"
    assert refused.value.errors[0].message.startswith(f"Date held: the conference booked for {day.strftime('%A %-d %B %Y')}"
                                                      " was cancelled")
    assert snapshot(case.id) == before


def test_a_new_date_after_a_cancellation_is_a_new_booking_the_holding_task_then_records(app, users):
    chair = users["conference_chair"]
    case, conference = booked(app, users, 12)
    cancelled = rebooking.cancel(app.service, conference.id, chair, {"reason": "Chair unwell"})
    new_day = next_working_day(app, conference.scheduled_for)
    with pytest.raises(ValidationFailed) as refused:
        rebooking.rebook(app.service, cancelled.id, chair, {"scheduled_for": new_day.isoformat()})
    assert [e.field for e in refused.value.errors] == ["venue"]
    new = rebooking.rebook(app.service, cancelled.id, chair, {"scheduled_for": new_day.isoformat(), "time": "11:00",
                                                             "venue": "Online (Teams)",
                                                             "reason_outside_timescale": "After the chair's illness"},
                           expected=rebooking.revision(cancelled))
    assert (new.status, new.scheduled_for, new.venue, new.kind) == ("scheduled", new_day, "Online (Teams)", "icpc")
    assert new.outside_timescale == (new_day > case.icpc_due) and new.invitations == conference.invitations
    assert new.details["replaces"] == cancelled.id
    assert Conference.get_by_id(cancelled.id).details["replaced_by"] == new.id
    assert entries(case, "conference_booked")[0].startswith(
        f"ICPC booked for {long(new_day)} at 11:00, in place of the one of {long(conference.scheduled_for)} that was cancelled")
    assert rules.needing_new_date(None) == [] and not rebooking.needs_new_date(Conference.get_by_id(cancelled.id))
    with pytest.raises(CaseConflict, match="cannot be booked here"):
        rebooking.rebook(app.service, cancelled.id, chair, {"scheduled_for": new_day.isoformat(), "venue": "x"})
    hold(app, case, new_day)
    held = Conference.get_by_id(new.id)
    assert held.status == "held" and Case.get_by_id(case.id).icpc_held_on == new_day
    assert Conference.get_by_id(cancelled.id).status == "cancelled"


def test_a_cancelled_conference_whose_case_moved_on_is_not_offered_again(app, users):
    case, conference = booked(app, users, 13)
    hold(app, case, conference.scheduled_for)
    # a held conference cannot be cancelled, and nothing is waiting for a new date
    with pytest.raises(CaseConflict, match="held on"):
        rebooking.cancel(app.service, conference.id, users["conference_chair"], {"reason": "Too late"})
    assert rules.needing_new_date(None) == []


def test_a_form_sent_twice_is_recognised_as_the_change_already_made(app, users):
    chair = users["conference_chair"]
    case, conference = booked(app, users, 14, days_ahead=2)
    day = next_working_day(app, conference.scheduled_for)
    answers = {"scheduled_for": day.isoformat(), "reason": "Chair unwell"}
    moved = rebooking.move(app.service, conference.id, chair, answers)
    assert rebooking.repeat_of_last(moved, "moved", answers, chair) == moved
    assert rebooking.repeat_of_last(moved, "moved", dict(answers, reason="Other"), chair) is None
    assert rebooking.repeat_of_last(moved, "cancelled", {"reason": "Chair unwell"}, chair) is None


# -- the dates offered for a review, and the next review the record form suggests ---------------
def test_dates_offered_for_a_review_start_from_its_window_not_from_today(app, users):
    case = case_waiting_for(app, users, stop_before="schedule_review", child_index=15)
    chair = User.get(User.username == users["conference_chair"])
    today, calendar = app.clock.now().date(), app.service.engine.calendar
    [request] = rules.scheduling_requests(chair, today, calendar)
    assert request.kind == "review" and request.due == case.next_review_due
    window_opens = case.next_review_due - timedelta(days=31)
    assert request.offered and all(window_opens <= d <= case.next_review_due for d in request.offered)
    assert request.offered[0] > today + timedelta(days=30)
    assert request.offered[0] == min(d for d in (case.next_review_due - timedelta(days=n) for n in range(0, 40))
                                     if d >= rules.add_months(case.next_review_due, -1) and calendar.is_working_day(d))


def test_the_record_form_suggests_the_next_review_from_the_booking_never_from_today(app, users):
    case, conference = booked(app, users, 16)
    task = task_of(case, "icpc")
    assert rules.suggested_review_fields(task) == {
        "first_review_by": rules.add_months(conference.scheduled_for, 3).isoformat()}
    rebooking.cancel(app.service, conference.id, users["conference_chair"], {"reason": "Chair unwell"})
    assert rules.suggested_review_fields(task) == {}
    assert Task.get_or_none(Task.id == task.id) is not None
