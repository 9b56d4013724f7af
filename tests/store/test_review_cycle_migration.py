"""Running plans move to the corrected review cycle with the product's own migration, their dates right.

The version before it made the next review wait for the core group to say it would not meet again
(tests/fixtures/review_cycle_before/). A running plan cannot move in place: its open work was
redrawn. It moves by replaying its recorded history on the new version (engine/migration.py).
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from store.demo import LIVE_SCENARIOS, SCENARIOS, build_form, contact_payload, drive_case
from store.models import Case, CaseMigration, CaseState, ChronologyEntry, Task
from store.versions import migrate_all, migration_plan, publish, rollback_case

BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "review_cycle_before"


@pytest.fixture
def before_files(diagram_files):
    """The shipped diagrams as they were before the review cycle was corrected."""
    return dict(diagram_files, **{"child_protection_plan.bpmn": (BEFORE / "child_protection_plan.bpmn").read_text(),
                                  "forms/core_group_meeting.json":
                                  (BEFORE / "forms" / "core_group_meeting.json").read_text()})


@pytest.fixture
def old_version(app, users, before_files):
    """The old set published as the version new cases start on."""
    return app.service.publish_diagrams(before_files, by=users["process_owner"])


def on(app, day: date) -> None:
    app.clock.set(datetime.combine(day, time(10, 0), tzinfo=timezone.utc))


def do(app, users, case, bpmn_id, day: date, **overrides):
    on(app, day)
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == bpmn_id))
    form = build_form(task.form_name, overrides, day, app.service.engine.calendar,
                      {"agency": task.role.removeprefix("mash_")} if bpmn_id == "mash_check" else {})
    return app.service.complete_task(task.id, users[task.role], form, token=task.token).case


def open_tasks(case) -> list[str]:
    return sorted(t.bpmn_id for t in Task.select().where(Task.case == case.id))


def plan_from_icpc_on(app, users, icpc_on: date) -> Case:
    """A case whose ICPC, held on ``icpc_on``, starts a child protection plan (on the current version)."""
    calendar = app.service.engine.calendar
    # the example form books ten working days ahead: the day to book on for a conference on icpc_on
    booked_on = next(icpc_on - timedelta(days=n) for n in range(30, 0, -1)
                     if calendar.is_working_day(icpc_on - timedelta(days=n))
                     and calendar.add_working_days(icpc_on - timedelta(days=n), 10) == icpc_on)
    referral = booked_on - timedelta(days=7)
    while not calendar.is_working_day(referral):
        referral -= timedelta(days=1)
    on(app, referral)
    scenario = next(s for s in SCENARIOS if s.name == "cp_plan_two_reviews")
    [case] = app.service.record_contact(contact_payload(scenario, referral), users["contact_officer"])
    decided = calendar.add_working_days(referral, 1)
    do(app, users, case, "cads_decision", decided, decision="strategy_discussion")
    do(app, users, case, "feedback_to_referrer", decided)
    do(app, users, case, "strategy_discussion", calendar.add_working_days(decided, 1), outcome="section47_joint")
    do(app, users, case, "section47_enquiry", calendar.add_working_days(decided, 2), outcome="icpc")
    do(app, users, case, "schedule_icpc", booked_on)
    return do(app, users, case, "icpc", icpc_on, outcome="cp_plan", categories=["neglect"])


def publish_corrected(app, users, diagram_files):
    return publish(diagram_files, users["process_owner"], service=app.service)


def test_a_plan_whose_core_group_is_open_at_a_review_moves_with_its_next_review(app, users, old_version,
                                                                                 diagram_files):
    """The case seen: ICPC 13 Jan 2026, first core group 21 Jan, a review on 9 Apr 2026 continues the plan
    while a core group meeting is open. On the old version the case still says the next review is due
    13 April and nothing lets the chair book it; moved, it is due 9 October and can be booked."""
    case = plan_from_icpc_on(app, users, date(2026, 1, 13))
    assert case.diagram_version_id == old_version.version
    do(app, users, case, "core_group", date(2026, 1, 21))
    do(app, users, case, "schedule_review", date(2026, 3, 24))  # booked for 9 April (ten working days on)
    case = do(app, users, case, "review_conference", date(2026, 4, 9), outcome="continue_plan", categories=["neglect"])
    assert case.next_review_due == date(2026, 4, 13) and open_tasks(case) == ["core_group_meeting"]  # the fault

    on(app, date(2026, 4, 10))
    new = publish_corrected(app, users, diagram_files)
    [check] = [c for c in migration_plan(new.version, app.service) if c.case_id == case.id]
    assert check.movable and "replayed" in check.reason, check.reason
    [result] = [r for r in migrate_all(new.version, users["process_owner"], app.service) if r.case_id == case.id]
    assert result.migrated, result.reason

    case = Case.get_by_id(case.id)
    assert case.diagram_version_id == new.version
    assert case.next_review_due == date(2026, 10, 9)
    assert case.icpc_held_on == date(2026, 1, 13) and case.cp_plan_started_on == date(2026, 1, 13)
    assert open_tasks(case) == ["core_group_meeting", "schedule_review"]
    schedule = Task.get((Task.case == case.id) & (Task.bpmn_id == "schedule_review"))
    assert schedule.due == date(2026, 10, 9) and schedule.role == "conference_chair"
    moved = ChronologyEntry.get((ChronologyEntry.case == case.id) & (ChronologyEntry.kind == "migrated"))
    assert "recorded steps replayed" in moved.summary and moved.details["replayed_steps"] >= 8

    # the moved case works on: the chair books the next review, and it can still be rolled back before that
    rolled = rollback_case(case.id, users["process_owner"], app.service)
    assert rolled.diagram_version_id == old_version.version and rolled.next_review_due == date(2026, 4, 13)
    assert CaseState.get_by_id(case.id).state == CaseMigration.get(CaseMigration.case == case.id).previous_state


def test_the_demo_live_plan_moves_with_its_dates(app, users, old_version, diagram_files):
    """The demo's live plan (ICPC held, core group met, the first review booked) keeps its dates."""
    scenario = next(s for s in LIVE_SCENARIOS if s.name == "live_cp_plan")
    # the old core group form asked whether another meeting would come before the review
    scenario = dataclasses.replace(scenario, choices={**scenario.choices, "core_group_meeting": [
        {"another_meeting_before_review": False}]})
    start = date(2026, 11, 2)
    on(app, start)
    [case] = app.service.record_contact(contact_payload(scenario, start), users["contact_officer"])
    case = drive_case(app.service, app.clock, case.id, scenario, users)
    before = {"icpc": case.icpc_held_on, "next_review_due": case.next_review_due, "cp": case.cp_plan_started_on,
              "first_core_group_due": case.first_core_group_due, "tasks": open_tasks(case)}
    assert "review_conference" in before["tasks"]

    on(app, app.service.engine.calendar.add_working_days(app.clock.now().date(), 1))
    new = publish_corrected(app, users, diagram_files)
    [result] = [r for r in migrate_all(new.version, users["process_owner"], app.service) if r.case_id == case.id]
    assert result.migrated, result.reason
    case = Case.get_by_id(case.id)
    assert (case.icpc_held_on, case.cp_plan_started_on, case.first_core_group_due) == (
        before["icpc"], before["cp"], before["first_core_group_due"])
    assert case.next_review_due == before["next_review_due"]  # 3 months after the ICPC, as before
    assert "review_conference" in open_tasks(case)  # the booked review is still to be held
    review = Task.get((Task.case == case.id) & (Task.bpmn_id == "review_conference"))
    assert review.due == case.next_review_due


def test_a_case_that_cannot_replay_stays_where_it_is_and_says_why(app, users, old_version, diagram_files):
    """A recorded step with no place in the new version stops the move, naming the step."""
    case = plan_from_icpc_on(app, users, date(2026, 1, 13))
    do(app, users, case, "core_group", date(2026, 1, 21))
    on(app, date(2026, 1, 22))
    no_core_group = dict(diagram_files, **{"child_protection_plan.bpmn": diagram_files["child_protection_plan.bpmn"]
                                           .replace('"core_group"', '"first_core_group"')
                                           .replace(">core_group<", ">first_core_group<")})
    state = CaseState.get_by_id(case.id).state
    from engine.migration import can_migrate
    from store.versions import recorded_steps
    target = app.service.registry.load(no_core_group)
    movable, reason = can_migrate(app.service.engine, app.service.diagrams_for(old_version.version), target, state,
                                  app.clock.now(), recorded_steps(case.id))
    assert not movable and "core_group completed on 21 January 2026 has no open task" in reason, reason
    assert CaseState.get_by_id(case.id).state == state


def test_recorded_steps_are_the_chronology_in_order(app, users, old_version):
    from store.versions import recorded_steps
    case = plan_from_icpc_on(app, users, date(2026, 1, 13))
    steps = recorded_steps(case.id)
    assert [s.element for s in steps] == ["cads_decision", "feedback_to_referrer", "strategy_discussion",
                                          "section47_enquiry", "schedule_icpc", "icpc"]
    assert steps[-1].data["outcome"] == "cp_plan" and steps[-1].at.date() == date(2026, 1, 13)
    assert all(dataclasses.is_dataclass(s) for s in steps)


def test_the_case_the_chair_the_dashboard_and_the_returns_agree_on_the_review_dates(app, users, shipped):
    """On the corrected version: a review on 9 April 2026 continuing a plan from an ICPC on 13 January."""
    from store.queues import list_tasks
    from store.returns.annexa import annex_a_lists
    from store.returns.cin import build_census
    from store.returns.indicators import figures
    from store.views import deadline_status
    case = plan_from_icpc_on(app, users, date(2026, 1, 13))
    assert case.next_review_due == date(2026, 4, 13)  # from the moment the plan starts
    do(app, users, case, "core_group", date(2026, 1, 21))
    do(app, users, case, "schedule_review", date(2026, 3, 24))  # booked for 9 April (ten working days on)
    case = do(app, users, case, "review_conference", date(2026, 4, 9), outcome="continue_plan", categories=["neglect"])

    calendar = app.service.engine.calendar
    assert deadline_status(case, "next_review", date(2026, 4, 10), calendar)["due"] == "2026-10-09"
    chair = [t for t in list_tasks(username=users["conference_chair"]) if t.case_id == case.id]
    assert [(t.bpmn_id, t.due) for t in chair] == [("schedule_review", date(2026, 10, 9))]
    [reviews] = [f for f in figures("reviews", date(2026, 4, 1), date(2026, 4, 30)) if f.total]
    assert (reviews.met, reviews.total) == (1, 1)  # held 9 April, due 13 April: on time
    census = build_census(2027, "926")
    [episode] = [e for r in census.children for e in r.episodes if e.case_id == case.id]
    assert episode.cp_plan["reviews"] == [date(2026, 4, 9)]
    _columns, rows = annex_a_lists(date(2026, 4, 1), date(2026, 4, 30))["List 7 Child protection"]
    assert any(date(2026, 4, 9) in row and date(2026, 1, 13) in row for row in rows)


@pytest.fixture
def shipped(app):
    return app.service.current_diagrams()
