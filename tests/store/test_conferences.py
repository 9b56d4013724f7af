"""Conferences on SQLite and PostgreSQL: windows, offered dates, double booking, timescale, recording."""
from __future__ import annotations

import dataclasses
import threading
from datetime import date, timedelta

import pytest

from engine import ValidationFailed
from store import conferences as rules
from store.demo import SCENARIOS, build_form, contact_payload, drive_case
from store.models import Case, CaseState, ChronologyEntry, Conference, Task, User
from store.users import add_user

BANK_HOLIDAYS = {date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)}


def case_waiting_for(app, users, stop_before="schedule_icpc", child_index=0, scenario="cp_plan_two_reviews"):
    """A child protection case driven up to ``stop_before`` (a distinct child each time)."""
    chosen = dataclasses.replace(next(s for s in SCENARIOS if s.name == scenario), stop_before=stop_before)
    payload = contact_payload(chosen, app.clock.now().date(), child_index)
    [case] = app.service.record_contact(payload, users["contact_officer"])
    return drive_case(app.service, app.clock, case.id, chosen, users)


def task_of(case, bpmn_id):
    return Task.get((Task.case == case.id) & (Task.bpmn_id == bpmn_id))


def schedule(app, username, case, day, time="10:00", bpmn_id="schedule_icpc", **extra):
    """Complete the case's scheduling task as ``username`` for ``day`` at ``time`` (None: no time)."""
    task = task_of(case, bpmn_id)
    form = build_form(task.form_name, {}, app.clock.now().date(), app.service.engine.calendar)
    form.update(scheduled_for=day.isoformat(), **extra)
    if time is None:
        form.pop("time", None)
    else:
        form["time"] = time
    return app.service.complete_task(task.id, username, form, token=task.token)


def snapshot(case_id):
    case = Case.get_by_id(case_id)
    return (case.version, CaseState.get_by_id(case_id).state,
            sorted((t.id, t.token) for t in Task.select().where(Task.case == case_id)),
            ChronologyEntry.select().where(ChronologyEntry.case == case_id).count(),
            Conference.select().count())


def test_booking_records_time_venue_invitations_and_window(app, users):
    case = case_waiting_for(app, users)
    assert case.icpc_due == app.service.engine.calendar.add_working_days(case.initiating_strategy_discussion_on, 15)
    schedule(app, users["conference_chair"], case, case.icpc_due, time="14:30", venue="County Hall")
    conference = Conference.get(Conference.case == case.id)
    assert (conference.kind, conference.status, conference.scheduled_for, conference.start_time) == \
        ("icpc", "scheduled", case.icpc_due, "14:30")
    assert conference.duration_minutes == rules.DEFAULT_DURATION_MINUTES and rules.end_time(conference) == "16:00"
    assert conference.chair.username == users["conference_chair"] and conference.venue == "County Hall"
    assert not conference.outside_timescale and conference.due == case.icpc_due
    groups = dict(rules.invitation_groups(conference))
    assert [i["name"] for i in groups["Parents and carers"]] == ["Dawn Mills", "Lee Mills"]
    assert [i["name"] for i in groups["Professionals"]] == ["Sarah Okafor"] and groups["Child or advocate"] == []


def test_a_chair_cannot_be_booked_into_two_conferences_at_once(app, users):
    chair = users["conference_chair"]
    first = case_waiting_for(app, users, child_index=1)
    second = case_waiting_for(app, users, child_index=2)
    day = first.icpc_due
    schedule(app, chair, first, day, time="10:00")
    before = snapshot(second.id)
    with pytest.raises(ValidationFailed) as refused:
        schedule(app, chair, second, day, time="11:00")  # 10:00 runs to 11:30
    [error] = refused.value.errors
    assert error.field == "scheduled_for"
    assert first.reference in error.message and "10:00 to 11:30" in error.message
    assert first.child.display_name in error.message
    assert snapshot(second.id) == before  # nothing written: no conference, task still open
    schedule(app, chair, second, day, time="11:30")  # starts as the other ends
    assert Conference.select().where(Conference.scheduled_for == day).count() == 2


def test_two_bookings_of_one_chair_at_the_same_moment_exactly_one_wins(app, users):
    chair = users["conference_chair"]
    cases = [case_waiting_for(app, users, child_index=20 + i) for i in range(3)]
    day = min(c.icpc_due for c in cases)
    outcomes, barrier = [], threading.Barrier(len(cases))

    def attempt(case):
        barrier.wait()
        try:
            schedule(app, chair, case, day, time="10:00")
            outcomes.append("ok")
        except ValidationFailed as exc:
            outcomes.append(exc.errors[0].field)
        finally:
            app.db.close()

    threads = [threading.Thread(target=attempt, args=(case,)) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "scheduled_for", "scheduled_for"], outcomes
    assert Conference.select().where(Conference.scheduled_for == day).count() == 1


def test_another_chair_may_be_booked_at_the_same_time(app, users):
    add_user("chair.two", "Rob Chair", ["conference_chair"], app.clock.now())
    first = case_waiting_for(app, users, child_index=3)
    second = case_waiting_for(app, users, child_index=4)
    schedule(app, users["conference_chair"], first, first.icpc_due)
    schedule(app, "chair.two", second, first.icpc_due)
    assert {c.chair.username for c in Conference.select()} == {users["conference_chair"], "chair.two"}


def test_a_booking_without_a_time_takes_the_whole_day(app, users):
    chair = users["conference_chair"]
    first = case_waiting_for(app, users, child_index=5)
    second = case_waiting_for(app, users, child_index=6)
    schedule(app, chair, first, first.icpc_due, time=None)
    with pytest.raises(ValidationFailed) as refused:
        schedule(app, chair, second, first.icpc_due, time="16:00")
    assert "all day" in refused.value.errors[0].message
    another_day = app.service.engine.calendar.add_working_days(app.clock.now().date(), 1)
    assert another_day != first.icpc_due
    schedule(app, chair, second, another_day, time="16:00")


def test_a_held_conference_no_longer_blocks_its_chair(app, users):
    first = case_waiting_for(app, users, stop_before="schedule_review", child_index=7)
    held = Conference.get(Conference.case == first.id)
    assert held.status == "held"
    assert rules.find_clash(held.chair, held.scheduled_for, held.start_time) is None


def test_outside_the_timescale_needs_a_reason_and_is_flagged(app, users):
    case = case_waiting_for(app, users, child_index=8)
    late = app.service.engine.calendar.add_working_days(case.icpc_due, 2)
    before = snapshot(case.id)
    with pytest.raises(ValidationFailed) as refused:
        schedule(app, users["conference_chair"], case, late)
    assert [e.field for e in refused.value.errors] == ["reason_outside_timescale"]
    assert snapshot(case.id) == before
    schedule(app, users["conference_chair"], case, late, reason_outside_timescale="Father's solicitor unavailable")
    conference = Conference.get(Conference.case == case.id)
    assert conference.outside_timescale and conference.reason_outside_timescale == "Father's solicitor unavailable"
    assert conference.due == case.icpc_due


def test_scheduling_requests_offer_free_working_days_inside_the_window(app, users):
    chair = User.get(User.username == users["conference_chair"])
    booked_case = case_waiting_for(app, users, child_index=9)
    case = case_waiting_for(app, users, child_index=10)
    today = app.clock.now().date()
    calendar = app.service.engine.calendar
    busy = calendar.add_working_days(today, 1)
    schedule(app, chair.username, booked_case, busy)
    [request] = rules.scheduling_requests(chair, today, calendar)
    assert request.task.case_id == case.id and request.kind == "icpc"
    assert request.window_start == case.initiating_strategy_discussion_on and request.due == case.icpc_due
    assert request.days_left == calendar.working_days_between(today, case.icpc_due)
    assert request.offered and not request.offered_outside
    assert len(request.offered) == rules.MAX_OFFERED_DATES
    for day in request.offered:
        assert today <= day <= case.icpc_due and calendar.is_working_day(day) and day not in BANK_HOLIDAYS
    assert busy not in request.offered
    assert request.offered == sorted(request.offered)
    # business support sees the request but is offered no dates (there is no chair to book)
    [seen] = rules.scheduling_requests(None, today, calendar)
    assert seen.task.id == request.task.id and seen.offered == []


def test_offered_dates_after_a_passed_window_are_marked_outside(app, users):
    chair = User.get(User.username == users["conference_chair"])
    case = case_waiting_for(app, users, child_index=11)
    later = case.icpc_due + timedelta(days=10)
    [request] = rules.scheduling_requests(chair, later, app.service.engine.calendar)
    assert request.offered_outside and request.days_left < 0
    assert all(day >= later for day in request.offered)


def test_review_window_runs_from_the_icpc_held(app, users):
    case = case_waiting_for(app, users, stop_before="schedule_review", child_index=12)
    start, due = rules.statutory_window(case, "review")
    assert start == case.icpc_held_on and due == case.next_review_due
    assert due == rules.suggested_next_review("icpc", "cp_plan", case.icpc_held_on)


def test_holding_the_conference_records_attendance_decision_and_next_review(app, users):
    case = case_waiting_for(app, users, stop_before="schedule_review", child_index=13)
    conference = Conference.get(Conference.case == case.id)
    details = conference.details
    assert conference.status == "held" and conference.outcome == "cp_plan" and conference.held_on == case.icpc_held_on
    assert details["categories"] == ["physical", "emotional"]
    assert {a["status"] for a in details["attendees"]} >= {"attended", "sent_report"}
    assert details["core_group_members"][0]["name"] == "Priya Shah"
    # the suggestion (3 months) agrees with the review deadline the diagram's timer set on the case
    assert details["suggested_next_review"] == case.next_review_due.isoformat()
    assert details["next_review_by"] and details["recorded_by"] == users["conference_chair"]
    assert details["invitees"]  # the invitations from the booking stay on the conference
    assert rules.attendance_counts(conference)["attended"] >= 1
    assert rules.holding_task(conference) is None


def test_suggested_next_review_follows_the_rules():
    assert rules.suggested_next_review("icpc", "cp_plan", "2027-01-13") == date(2027, 4, 13)
    assert rules.suggested_next_review("review", "continue_plan", "2027-04-12") == date(2027, 10, 12)
    assert rules.suggested_next_review("review", "end_plan", "2027-04-12") is None
    assert rules.suggested_next_review("icpc", "no_plan", "2027-01-13") is None
    assert rules.suggested_next_review("icpc", "cp_plan", "2026-11-30") == date(2027, 2, 28)  # clamped


def test_calendar_grids():
    assert rules.week_of(date(2027, 1, 13))[0] == date(2027, 1, 11)
    grid = rules.month_grid(date(2027, 2, 10))
    assert grid[0][0] == date(2027, 2, 1) and sum(d is not None for week in grid for d in week) == 28


def test_offered_dates_skip_weekends_bank_holidays_and_booked_days(calendar):
    offered = rules.offered_dates(calendar, date(2026, 12, 23), date(2027, 1, 6), booked={date(2026, 12, 29)})
    assert offered == [date(2026, 12, 23), date(2026, 12, 24), date(2026, 12, 30), date(2026, 12, 31),
                       date(2027, 1, 4), date(2027, 1, 5), date(2027, 1, 6)]
    assert rules.offered_dates(calendar, date(2027, 1, 7), date(2027, 1, 6), booked=set()) == []
