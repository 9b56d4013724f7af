"""The engine's own engine steps (engine/steps.py) do what SpiffWorkflow's do_engine_steps and
update_waiting_tasks do: every lifecycle path, driven once with each, with the same task ids and
clock, saves the same state at every step, byte for byte, and so do the timers fired on each."""
from __future__ import annotations

import itertools
from datetime import timedelta
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.workflow import Workflow

import engine.cases
from engine import steps
from store.demo import SCENARIOS
from store.dryrun import drive


@pytest.fixture
def repeatable(monkeypatch):
    """Task ids and state-change times from counters (restarted by calling the fixture's value)."""
    def restart() -> None:
        ids, ticks = itertools.count(1), itertools.count(1)
        monkeypatch.setattr("SpiffWorkflow.task.uuid4", lambda: UUID(int=next(ids)))
        monkeypatch.setattr("SpiffWorkflow.task.time.time", lambda: 1_800_000_000.0 + next(ticks))
    return restart


def _stock(monkeypatch) -> None:
    """SpiffWorkflow's own methods instead of engine/steps.py."""
    monkeypatch.setattr(engine.cases, "run_engine_steps", lambda workflow: workflow.do_engine_steps())
    monkeypatch.setattr(engine.cases, "quicken", lambda workflow: workflow)


def _path(engine_, diagrams, calendar, scenario, strategy_after, repeatable) -> list[str]:
    """Every saved state of the path, each followed by the state its timers give five weeks on."""
    repeatable()
    states: list[str] = []

    def seen(d, state, now) -> None:
        states.append(state)
        states.append(engine_.fire_timers(d, state, now + timedelta(days=35)).state)

    drive(engine_, diagrams, calendar, scenario, after_step=seen, request_strategy_after=strategy_after)
    return states


# every path, and a strategy discussion called during a plan (a message caught mid-process)
PATHS = [(s, None) for s in SCENARIOS] + [(next(s for s in SCENARIOS if s.name == "cp_plan_two_reviews"), "core_group")]


@pytest.mark.parametrize("scenario,strategy_after", PATHS,
                         ids=[s.name + (f"+strategy_after_{after}" if after else "") for s, after in PATHS])
def test_every_path_saves_what_spiffworkflow_would(engine, diagrams, calendar, scenario, strategy_after, repeatable,
                                                   monkeypatch):
    ours = _path(engine, diagrams, calendar, scenario, strategy_after, repeatable)
    with monkeypatch.context() as patched:
        _stock(patched)
        theirs = _path(engine, diagrams, calendar, scenario, strategy_after, repeatable)
    assert len(ours) == len(theirs) > 2
    for index, (mine, reference) in enumerate(zip(ours, theirs)):
        assert mine == reference, f"state {index} of {scenario.name} differs"


def test_the_stock_methods_are_what_the_reference_run_uses(engine, diagrams, calendar, monkeypatch):
    """The comparison above means something: with the stock methods, ours are not called."""
    called = []
    monkeypatch.setattr(steps, "_engine_pass", lambda workflow: called.append(workflow) or False)
    with monkeypatch.context() as patched:
        _stock(patched)
        drive(engine, diagrams, calendar, SCENARIOS[0])
    assert called == []
    drive(engine, diagrams, calendar, SCENARIOS[0])
    assert called


def test_restored_workflows_update_waiting_tasks_with_the_plain_walk(engine, diagrams, calendar):
    outcome, _done = drive(engine, diagrams, calendar, next(s for s in SCENARIOS if s.name == "cp_plan_two_reviews"))
    workflow = engine._restore(diagrams, outcome.state, outcome.next_timer_at or _now())
    for each in (workflow, *workflow.subprocesses.values()):
        assert isinstance(each.__dict__["update_waiting_tasks"], steps._WaitingUpdater)


def test_the_walks_give_spiffworkflows_tasks_in_its_order(engine, diagrams, calendar):
    """On every saved state of the longest path: READY as BpmnTaskIterator finds them, WAITING as
    TaskIterator does in each (sub)workflow."""
    from SpiffWorkflow.util.task import TaskIterator, TaskState
    checked = []

    def check(d, state, now) -> None:
        workflow = engine.serializer(d).loads(state)
        for each in (workflow, *workflow.subprocesses.values()):
            assert steps._ready(each.task_tree, workflow.subprocesses) == each.get_tasks(state=TaskState.READY)
            assert list(steps._waiting(each.task_tree)) == list(TaskIterator(each.task_tree, state=TaskState.WAITING))
        checked.append(state)

    drive(engine, diagrams, calendar, next(s for s in SCENARIOS if s.name == "cp_plan_two_reviews"), after_step=check)
    assert len(checked) > 10


def test_a_workflow_of_a_thousand_tasks_is_left_to_spiffworkflow(engine, diagrams, monkeypatch):
    workflow = BpmnWorkflow(diagrams.spec, diagrams.subprocess_specs)
    calls = []
    monkeypatch.setattr(BpmnWorkflow, "do_engine_steps", lambda self: calls.append("steps"))
    monkeypatch.setattr(Workflow, "update_waiting_tasks", lambda self: calls.append("waiting"))
    monkeypatch.setattr(steps, "_MAX_DEPTH", 1)
    steps.run_engine_steps(workflow)
    steps.quicken(workflow).update_waiting_tasks()
    assert calls == ["steps", "waiting"]


def _now():
    from datetime import datetime, timezone
    return datetime(2027, 1, 1, tzinfo=timezone.utc)


def test_a_workflow_that_grows_to_a_thousand_tasks_is_handed_to_spiffworkflow(engine, diagrams, monkeypatch):
    """A pass depends only on the workflow as it is: from the pass that finds it too big, the rest is SpiffWorkflow's."""
    workflow = BpmnWorkflow(diagrams.spec, diagrams.subprocess_specs)
    calls = []
    monkeypatch.setattr(BpmnWorkflow, "do_engine_steps", lambda self: calls.append("spiffworkflow"))
    monkeypatch.setattr(steps, "_engine_pass", lambda wf: calls.append("ours") or True)
    sizes = iter([False, False, True])
    monkeypatch.setattr(steps, "_too_big", lambda wf: next(sizes))
    steps.run_engine_steps(workflow)
    assert calls == ["ours", "ours", "spiffworkflow"]
