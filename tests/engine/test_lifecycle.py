"""Every path of the lifecycle on the real diagrams, saving and restoring at every step."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from engine import Actor
from store.demo import SCENARIOS, Scenario, build_form
from store.dryrun import REFERRAL, WORKER, at, drive as _drive, start


def assert_round_trip(engine, diagrams, state: str, now: datetime) -> None:
    """Restoring the saved state and saving it again gives the same state and the same tasks."""
    serializer = engine.serializer(diagrams)
    again = serializer.dumps(serializer.loads(state))
    assert json.loads(again) == json.loads(state)
    assert [t.id for t in engine.tasks(diagrams, again, now)] == [t.id for t in engine.tasks(diagrams, state, now)]


def drive(engine, diagrams, calendar, scenario: Scenario, referral=REFERRAL, request_strategy_after=None,
          diagrams_for_step=None):
    """The shared driver (store.dryrun.drive), checking that every saved state round-trips."""
    return _drive(engine, diagrams, calendar, scenario, referral, request_strategy_after, diagrams_for_step,
                  after_step=lambda d, state, now: assert_round_trip(engine, d, state, now))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_path_reaches_the_end(engine, diagrams, calendar, scenario):
    outcome, done = drive(engine, diagrams, calendar, scenario)
    assert outcome.completed, f"stuck at {[t.bpmn_id for t in outcome.tasks]} after {done}"
    assert outcome.stage == "Closed"
    assert outcome.tasks == []


EXPECTED_TASKS = {
    "nfa": ["cads_decision", "feedback_to_referrer"],
    "early_help": ["cads_decision", "feedback_to_referrer", "early_help_referral"],
    "assessment_cin_plan": ["cads_decision", "feedback_to_referrer", "assessment", "cin_plan", "end_cin_plan", "close_case"],
    "immediate_danger": ["strategy_discussion", "feedback_to_referrer", "section47_enquiry", "close_case"],
    # four days of partner checks miss the one-working-day CADS deadline: the manager is asked to act
    "mash_then_assessment": ["cads_decision", "mash_check", "mash_check", "mash_check", "mash_check",
                             "escalate_cads_decision", "cads_decision", "feedback_to_referrer", "assessment",
                             "close_case"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TASKS))
def test_paths_visit_the_expected_tasks(engine, diagrams, calendar, name):
    scenario = next(s for s in SCENARIOS if s.name == name)
    _outcome, done = drive(engine, diagrams, calendar, scenario)
    assert sorted(done) == sorted(EXPECTED_TASKS[name])


def test_child_protection_plan_records_two_reviews(engine, diagrams, calendar):
    scenario = next(s for s in SCENARIOS if s.name == "cp_plan_two_reviews")
    outcome, done = drive(engine, diagrams, calendar, scenario)
    assert done.count("review_conference") == 2
    assert done.count("schedule_review") == 2
    assert done.count("core_group") == 1
    assert done.count("core_group_meeting") == 2
    assert outcome.completed


def test_mash_checks_go_to_each_partner_agency(engine, diagrams, calendar):
    scenario = next(s for s in SCENARIOS if s.name == "mash_then_assessment")
    outcome = start(engine, diagrams)
    decision = next(t for t in outcome.tasks if t.bpmn_id == "cads_decision")
    form = build_form(decision.form_name, {"decision": "mash_checks", "mash_agencies": ["police", "health", "probation"]},
                      REFERRAL, calendar)
    outcome = engine.complete(diagrams, outcome.state, decision.id, WORKER, form, at(REFERRAL))
    checks = [t for t in outcome.tasks if t.bpmn_id == "mash_check"]
    assert sorted(t.role for t in checks) == ["mash_health", "mash_police", "mash_probation"]
    assert sorted(t.prefill["agency"] for t in checks) == ["health", "police", "probation"]
    assert scenario.choices["cads_decision"][0]["decision"] == "mash_checks"


def test_strategy_discussion_called_during_assessment(engine, diagrams, calendar):
    scenario = next(s for s in SCENARIOS if s.name == "assessment_cin_plan")
    outcome = start(engine, diagrams)
    for bpmn_id, overrides in (("cads_decision", {"decision": "assessment"}), ("feedback_to_referrer", {})):
        task = next(t for t in outcome.tasks if t.bpmn_id == bpmn_id)
        outcome = engine.complete(diagrams, outcome.state, task.id, WORKER,
                                  build_form(task.form_name, overrides, REFERRAL, calendar), at(REFERRAL))
    assert [t.bpmn_id for t in outcome.tasks] == ["assessment"]
    outcome = engine.request_strategy_discussion(diagrams, outcome.state, WORKER, "Disclosure at school", at(REFERRAL))
    assert [t.bpmn_id for t in outcome.tasks] == ["strategy_discussion"]
    assert scenario.name == "assessment_cin_plan"


def test_strategy_discussion_called_during_a_plan_keeps_the_plan(engine, diagrams, calendar):
    scenario = next(s for s in SCENARIOS if s.name == "cp_plan_two_reviews")
    outcome, done = drive(engine, diagrams, calendar, scenario, request_strategy_after="core_group")
    assert done.count("strategy_discussion") == 2  # the initiating one and the one during the plan
    assert done.count("review_conference") == 2
    assert outcome.completed


def test_strategy_discussion_cannot_be_called_at_the_front_door(engine, diagrams):
    from engine import TaskNotReady
    outcome = start(engine, diagrams)
    with pytest.raises(TaskNotReady):
        engine.request_strategy_discussion(diagrams, outcome.state, WORKER, "reason", at(REFERRAL))


@pytest.mark.parametrize("name", ["mash_then_assessment", "cp_plan_two_reviews", "contextual"])
def test_each_step_restores_in_a_fresh_process(engine, diagram_files, calendar, name):
    """Loops and multi-instance tasks must finish when every step parses the diagrams afresh,
    as each web request or CLI command in a new process does."""
    from engine import load_diagram_set
    scenario = next(s for s in SCENARIOS if s.name == name)
    outcome, _done = drive(engine, load_diagram_set(diagram_files), calendar, scenario,
                           diagrams_for_step=lambda: load_diagram_set(diagram_files))
    assert outcome.completed, [t.bpmn_id for t in outcome.tasks]


def test_only_ready_tasks_can_be_completed(engine, diagrams, calendar):
    """docs/engine-notes.md, trap 1: task.run() checks nothing, so the engine must."""
    from engine import NotPermitted, TaskNotFound, TaskNotReady, ValidationFailed
    from engine.serializer import CaseSerializer
    outcome = start(engine, diagrams)
    [decision] = outcome.tasks
    workflow = CaseSerializer(diagrams).loads(outcome.state)
    future = next(t for t in workflow.get_tasks() if t.task_spec.name == "feedback_to_referrer")
    form = build_form("feedback_to_referrer.json", {}, REFERRAL, calendar)
    with pytest.raises(TaskNotReady):
        engine.complete(diagrams, outcome.state, str(future.id), WORKER, form, at(REFERRAL))
    with pytest.raises(TaskNotFound):
        engine.complete(diagrams, outcome.state, "00000000-0000-0000-0000-000000000000", WORKER, form, at(REFERRAL))
    with pytest.raises(NotPermitted):
        engine.complete(diagrams, outcome.state, decision.id, Actor.of("x", "lado"),
                        build_form(decision.form_name, {}, REFERRAL, calendar), at(REFERRAL))
    with pytest.raises(ValidationFailed) as raised:
        engine.complete(diagrams, outcome.state, decision.id, WORKER, {"decision": "maybe"}, at(REFERRAL))
    assert {"decision", "decided_on", "reasons"} <= {e.field for e in raised.value.errors}
    done = engine.complete(diagrams, outcome.state, decision.id, WORKER,
                           build_form(decision.form_name, {"decision": "nfa"}, REFERRAL, calendar), at(REFERRAL))
    # Completing it again from the new state: its finished CADS round was pruned from the state
    # (engine.history), so the engine no longer knows the task; the store answers "already
    # completed" from the chronology (tests/store/test_cases.py).
    with pytest.raises(TaskNotFound):
        engine.complete(diagrams, done.state, decision.id, WORKER,
                        build_form(decision.form_name, {"decision": "nfa"}, REFERRAL, calendar), at(REFERRAL))
