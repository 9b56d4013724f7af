"""The store on SQLite and PostgreSQL: contacts, units of work, conflicts, timers, bad input."""
from __future__ import annotations

import copy
import dataclasses
from datetime import date, datetime, timezone

import pytest

from engine import CaseConflict, EngineError, TaskNotFound, ValidationFailed
from store.queues import find_task, list_tasks
from store.demo import FORM_EXAMPLES, SCENARIOS, build_form, contact_payload, drive_case
from store.models import Case, CaseState, ChronologyEntry, Conference, ReviewConference, Task

REFERRAL = date(2026, 12, 14)


def record(app, users, scenario_name="nfa", **contact):
    scenario = next(s for s in SCENARIOS if s.name == scenario_name)
    payload = contact_payload(scenario, REFERRAL)
    payload.update(contact)
    return app.service.record_contact(payload, users["contact_officer"])


def drive_until(app, users, name, stop_before):
    """Record a contact for scenario ``name`` and drive it up to the task ``stop_before``."""
    scenario = dataclasses.replace(next(s for s in SCENARIOS if s.name == name), stop_before=stop_before)
    [case] = record(app, users, name)
    return drive_case(app.service, app.clock, case.id, scenario, users)


def snapshot(case_id):
    """Everything a failed command must leave untouched."""
    case = Case.get_by_id(case_id)
    return (case.version, case.stage, CaseState.get_by_id(case_id).state,
            sorted((t.id, t.token) for t in Task.select().where(Task.case == case_id)),
            ChronologyEntry.select().where(ChronologyEntry.case == case_id).count())


def task_of(case, bpmn_id):
    return Task.get((Task.case == case.id) & (Task.bpmn_id == bpmn_id))


def form_for(task, app, **overrides):
    return build_form(task.form_name, overrides, app.clock.now().date(), app.service.engine.calendar)


def test_contact_starts_a_case_with_its_task_and_deadline(app, users):
    [case] = record(app, users)
    assert case.status == "open" and case.stage == "CADS decision"
    assert case.referral_date == REFERRAL and case.cads_decision_due == date(2026, 12, 15)
    task = task_of(case, "cads_decision")
    assert task.role == "cads_social_worker" and task.due == date(2026, 12, 15)
    assert [t.id for t in list_tasks(role="cads_social_worker")] == [task.id]
    kinds = [e.kind for e in ChronologyEntry.select().where(ChronologyEntry.case == case.id)]
    assert kinds[0] == "case_started" and "task_opened" in kinds and "deadline_set" in kinds


def test_sibling_group_of_three_gets_linked_cases(app, users):
    children = copy.deepcopy(FORM_EXAMPLES["contact.json"]["children"][:1]) * 3
    for i, name in enumerate(["Amy", "Ben", "Cara"]):
        children[i] = dict(children[i], given_name=name, date_of_birth=f"201{i + 5}-01-0{i + 1}")
    cases = record(app, users, children=children)
    assert len(cases) == 3
    assert len({c.sibling_group for c in cases}) == 1
    assert len({c.child_id for c in cases}) == 3
    assert Task.select().where(Task.bpmn_id == "cads_decision").count() == 3


def test_re_referral_within_twelve_months_is_flagged(app, users):
    [first] = record(app, users)
    [second] = record(app, users)
    assert not first.re_referral
    assert second.re_referral and second.previous_case_id == first.id and second.child_id == first.child_id
    assert ChronologyEntry.select().where(ChronologyEntry.case == second.id,
                                          ChronologyEntry.kind == "re_referral").count() == 1


def test_complete_moves_the_case_in_one_unit_of_work(app, users):
    [case] = record(app, users)
    task = task_of(case, "cads_decision")
    result = app.service.complete_task(task.id[:8], users["cads_social_worker"],
                                       form_for(task, app, decision="assessment", decided_on="2026-12-14"),
                                       token=task.token)
    case = result.case
    assert case.version == 3 and case.cads_decision == "assessment" and case.cads_decision_on == REFERRAL
    assert Task.get_or_none(Task.id == task.id) is None
    assert {t.bpmn_id for t in Task.select().where(Task.case == case.id)} == {"feedback_to_referrer", "assessment"}
    assert case.assessment_due == date(2027, 2, 18)  # 45 working days from the referral


@pytest.mark.parametrize("problem", ["invalid", "wrong_role", "unknown_task", "stale_token", "future_date"])
def test_bad_input_is_refused_and_changes_nothing(app, users, problem):
    [case] = record(app, users)
    task = task_of(case, "cads_decision")
    before = snapshot(case.id)
    form = form_for(task, app, decision="assessment")
    user, task_id, token, error = users["cads_social_worker"], task.id, task.token, ValidationFailed
    if problem == "invalid":
        form["decision"] = "adopt"
        del form["reasons"]
    elif problem == "wrong_role":
        user, error = users["mash_police"], EngineError
    elif problem == "unknown_task":
        task_id, error = "ffffffff-0000", TaskNotFound
    elif problem == "stale_token":
        token, error = "0" * 12 + "-1", EngineError
    elif problem == "future_date":
        form["decided_on"] = "2027-01-01"
    with pytest.raises(error) as raised:
        app.service.complete_task(task_id, user, form, token=token)
    assert snapshot(case.id) == before
    if problem == "invalid":
        fields = {e.field for e in raised.value.errors}
        assert {"decision", "reasons"} <= fields


def test_a_task_completed_twice_is_a_conflict(app, users):
    [case] = record(app, users)
    task = task_of(case, "cads_decision")
    form = form_for(task, app, decision="nfa")
    app.service.complete_task(task.id, users["cads_social_worker"], form)
    with pytest.raises(CaseConflict, match="already completed by cads.sw"):
        app.service.complete_task(task.id, users["cads_social_worker"], form)


def test_worker_fires_each_due_timer_once(app, users):
    [case] = record(app, users)
    assert app.service.fire_due_timers(datetime(2026, 12, 15, 12, tzinfo=timezone.utc)) == 0
    assert app.service.fire_due_timers(datetime(2026, 12, 16, 8, tzinfo=timezone.utc)) == 1
    assert app.service.fire_due_timers(datetime(2026, 12, 16, 9, tzinfo=timezone.utc)) == 0
    escalations = list(Task.select().where(Task.case == case.id, Task.bpmn_id == "escalate_cads_decision"))
    assert len(escalations) == 1 and escalations[0].role == "cads_manager"
    assert ChronologyEntry.select().where(ChronologyEntry.case == case.id,
                                          ChronologyEntry.kind == "deadline_missed").count() == 1


def test_conference_outside_timescale_needs_a_reason(app, users):
    case = drive_until(app, users, "icpc_no_plan", "schedule_icpc")
    task = task_of(case, "schedule_icpc")
    form = form_for(task, app)
    form["scheduled_for"] = app.service.engine.calendar.add_working_days(case.icpc_due, 3).isoformat()
    form.pop("reason_outside_timescale", None)
    with pytest.raises(ValidationFailed) as raised:
        app.service.complete_task(task.id, users["conference_chair"], form)
    assert raised.value.errors[0].field == "reason_outside_timescale"
    form["reason_outside_timescale"] = "Parents asked for a later date to attend with an advocate"
    app.service.complete_task(task.id, users["conference_chair"], form)
    conference = Conference.get(Conference.case == case.id)
    assert conference.outside_timescale and conference.due == case.icpc_due


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_path_through_the_store(app, users, scenario):
    [case] = app.service.record_contact(contact_payload(scenario, REFERRAL), users["contact_officer"])
    final = drive_case(app.service, app.clock, case.id, scenario, users)
    assert final.status == "closed", final.stage
    assert Task.select().where(Task.case == final.id).count() == 0
    if scenario.name == "cp_plan_two_reviews":
        assert final.cp_plan_started_on and final.cp_plan_ended_on and final.initial_category == "MUL"
        assert ReviewConference.select().where(ReviewConference.case == final.id).count() == 2
        assert final.latest_category == "EMO" and final.first_core_group_on
    if scenario.name in ("nfa", "advice"):
        assert final.closed_on and final.closure_reason
    if scenario.name == "close_case":
        assert final.closed_on


def test_unknown_case_and_task_ids(app, users):
    from engine import CaseNotFound
    from store.views import get_case
    with pytest.raises(CaseNotFound):
        get_case(999)
    with pytest.raises(TaskNotFound):
        find_task("abc")


def test_a_later_strategy_discussion_does_not_move_the_icpc_deadline(app, users):
    case = drive_until(app, users, "cp_plan_two_reviews", "review_conference")
    before = Case.get_by_id(case.id)
    assert before.icpc_due and before.initiating_strategy_discussion_on
    app.service.request_strategy_discussion(case.id, users["social_worker"], "New bruising seen at school")
    task = task_of(before, "strategy_discussion")
    app.service.complete_task(task.id, task.assignee.username if task.assignee else users["social_worker"],
                              form_for(task, app, outcome="no_section47"))
    after = Case.get_by_id(case.id)
    assert after.last_strategy_discussion_on == app.clock.now().date()
    assert (after.icpc_due, after.initiating_strategy_discussion_on) == (before.icpc_due,
                                                                         before.initiating_strategy_discussion_on)
    assert after.stage == "Child protection plan"
    with pytest.raises(EngineError, match="only be called"):
        app.service.request_strategy_discussion(case.id, users["social_worker"], "Again")
