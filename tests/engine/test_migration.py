"""Moving running cases to a new diagram version (engine level)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from engine import load_diagram_set
from engine.migration import CannotMigrate, can_migrate, migrate
from store.demo import build_form
from store.dryrun import REFERRAL, WORKER, at, dry_run, start

from .migration_helpers import with_home_visit, renaming

NOW = datetime(2026, 12, 14, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def home_visit_set(diagram_files):
    return load_diagram_set(with_home_visit(diagram_files))


def complete(engine, diagrams, outcome, bpmn_id, calendar, **overrides):
    task = next(t for t in outcome.tasks if t.bpmn_id == bpmn_id)
    form = build_form(task.form_name, overrides, REFERRAL, calendar, task.prefill) if task.form_name != "home_visit.json" \
        else {"visited_on": REFERRAL.isoformat()}
    return engine.complete(diagrams, outcome.state, task.id, WORKER, form, at(REFERRAL))


def test_a_case_at_the_cads_decision_moves_and_reaches_the_new_task(engine, diagrams, home_visit_set, calendar):
    outcome = start(engine, diagrams)
    [decision] = outcome.tasks
    assert can_migrate(engine, diagrams, home_visit_set, outcome.state, NOW) == (True, "no active task was removed or changed")
    moved = migrate(engine, diagrams, home_visit_set, outcome.state, at(REFERRAL))
    assert moved.diagram_version == home_visit_set.version
    assert [t.id for t in moved.tasks] == [decision.id]  # the same task, kept with its id
    assert moved.tasks[0].due == decision.due
    assert [e.kind for e in moved.events] == ["migrated"]
    with pytest.raises(Exception):  # the old set cannot read the moved state
        engine.tasks(diagrams, moved.state, at(REFERRAL))
    outcome = complete(engine, home_visit_set, moved, "cads_decision", calendar, decision="assessment")
    outcome = complete(engine, home_visit_set, outcome, "feedback_to_referrer", calendar)
    assert [t.bpmn_id for t in outcome.tasks] == ["home_visit"]
    outcome = complete(engine, home_visit_set, outcome, "home_visit", calendar)
    assert [t.bpmn_id for t in outcome.tasks] == ["assessment"]


def test_the_deadline_timer_keeps_its_due_date(engine, diagrams, home_visit_set):
    outcome = start(engine, diagrams)
    moved = migrate(engine, diagrams, home_visit_set, outcome.state, at(REFERRAL))
    assert moved.next_timer_at == outcome.next_timer_at


def test_a_case_whose_active_task_was_removed_cannot_move(engine, diagrams, diagram_files):
    renamed = load_diagram_set(renaming(diagram_files, "cads_triage.bpmn", "cads_decision", "triage_decision"))
    outcome = start(engine, diagrams)
    movable, reason = can_migrate(engine, diagrams, renamed, outcome.state, NOW)
    assert not movable
    assert "cads_decision" in reason and ("removed" in reason or "changed" in reason)
    with pytest.raises(CannotMigrate):
        migrate(engine, diagrams, renamed, outcome.state, at(REFERRAL))


def test_a_case_on_the_same_version_is_not_moved(engine, diagrams):
    outcome = start(engine, diagrams)
    assert can_migrate(engine, diagrams, diagrams, outcome.state, NOW)[0] is False


def test_dry_run_passes_the_shipped_set_and_a_set_with_a_new_task(engine, diagrams, home_visit_set):
    assert dry_run(engine, diagrams) == []
    assert dry_run(engine, home_visit_set) == []


def test_dry_run_reports_a_path_that_no_longer_finishes(engine, diagram_files):
    # the assessment form now requires a field no one can fill, so those paths stop there
    broken = load_diagram_set(_unfillable_assessment(diagram_files))
    stuck = dry_run(engine, broken)
    names = {s.scenario for s in stuck}
    assert "assessment_cin_plan" in names and "nfa" not in names
    assert all("assessment" in s.reason for s in stuck if s.scenario == "assessment_cin_plan")


def _unfillable_assessment(files):
    """The assessment task's form requires a field that no data can satisfy."""
    schema = json.loads(files["forms/assessment.json"])
    schema.setdefault("required", []).append("impossible")
    schema["properties"]["impossible"] = {"type": "string", "pattern": "^never$", "maxLength": 0}
    return {**files, "forms/assessment.json": json.dumps(schema)}


def test_a_case_inside_a_changed_process_at_a_changed_task_cannot_move(engine, diagrams, home_visit_set, calendar):
    outcome = start(engine, diagrams)
    outcome = complete(engine, diagrams, outcome, "cads_decision", calendar, decision="assessment")
    outcome = complete(engine, diagrams, outcome, "feedback_to_referrer", calendar)
    assert [t.bpmn_id for t in outcome.tasks] == ["assessment"]
    movable, reason = can_migrate(engine, diagrams, home_visit_set, outcome.state, NOW)
    assert not movable and "assessment_process: active task assessment" in reason and "changed" in reason
