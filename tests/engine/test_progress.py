"""Where a case is in its diagrams: completed and active elements per process, for the case page."""
from __future__ import annotations

from engine import case_progress, process_index
from store.demo import SCENARIOS, build_form
from tests.engine.test_lifecycle import REFERRAL, WORKER, at, drive, start


def complete(engine, diagrams, calendar, outcome, bpmn_id, **overrides):
    task = next(t for t in outcome.tasks if t.bpmn_id == bpmn_id)
    form = build_form(task.form_name, overrides, REFERRAL, calendar, task.prefill)
    return engine.complete(diagrams, outcome.state, task.id, WORKER, form, at(REFERRAL))


def test_every_process_is_indexed_with_its_file_and_names(diagrams):
    index = process_index(diagrams)
    assert index["safeguarding_case"].file == "safeguarding_case.bpmn"
    assert index["assessment_process"].name == "Child and family assessment"
    assert index["cads_triage"].names["cads_decision"]  # embedded subprocess elements belong to their file
    assert "cads_round" not in index  # an embedded subprocess is not a process of its own
    assert all(source and target for _id, source, target in index["safeguarding_case"].flows)
    assert process_index(diagrams) is index  # parsed once per diagram set


def test_a_new_case_waits_for_the_cads_decision(engine, diagrams):
    progress = case_progress(engine, diagrams, start(engine, diagrams).state)
    assert list(progress) == ["safeguarding_case", "cads_triage"]
    assert "call_cads_triage" in progress["safeguarding_case"]["active"]
    assert "contact_received" in progress["safeguarding_case"]["completed"]
    assert progress["cads_triage"]["active"] == ["cads_decision", "cads_round"]
    assert "cads_decision" not in progress["cads_triage"]["completed"]


def test_a_case_in_assessment(engine, diagrams, calendar):
    outcome = complete(engine, diagrams, calendar, start(engine, diagrams), "cads_decision", decision="assessment")
    progress = case_progress(engine, diagrams, outcome.state)
    assert list(progress) == ["safeguarding_case", "cads_triage", "assessment_process"]
    main = progress["safeguarding_case"]
    assert {"call_assessment", "feedback_to_referrer"} <= set(main["active"])
    assert {"call_cads_triage", "route_gateway"} <= set(main["completed"])
    assert not set(main["active"]) & set(main["completed"])
    assert progress["cads_triage"]["active"] == [] and "cads_decision" in progress["cads_triage"]["completed"]
    assert progress["assessment_process"]["active"] == ["assessment"]
    flows = {f for f, *_ in process_index(diagrams)["safeguarding_case"].flows}
    taken = set(main["completed"]) & flows
    assert "flow_route_gateway_to_call_assessment" in taken
    assert not any("early_help" in f for f in taken)  # a branch not taken is not marked
    assert "assessment_deadline" not in main["active"]  # a waiting boundary timer is not current work


def test_a_loop_done_before_and_active_again_is_only_active(engine, diagrams, calendar):
    scenario = next(s for s in SCENARIOS if s.name == "mash_then_assessment")
    outcome = complete(engine, diagrams, calendar, start(engine, diagrams), "cads_decision",
                       decision="mash_checks", mash_agencies=["police"])
    outcome = complete(engine, diagrams, calendar, outcome, "mash_check")
    progress = case_progress(engine, diagrams, outcome.state)
    assert "mash_checks" in progress
    triage = progress["cads_triage"]
    assert "cads_decision" in triage["active"] and "cads_decision" not in triage["completed"]
    assert scenario.name == "mash_then_assessment"


def test_a_closed_case_has_nothing_active(engine, diagrams, calendar):
    scenario = next(s for s in SCENARIOS if s.name == "nfa")
    outcome, _done = drive(engine, diagrams, calendar, scenario)
    progress = case_progress(engine, diagrams, outcome.state)
    assert all(not marks["active"] for marks in progress.values())
    assert "case_closed" in progress["safeguarding_case"]["completed"]
