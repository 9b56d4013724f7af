"""The engine's one-walk task scan gives what SpiffWorkflow's own task queries give, on every saved
state of every lifecycle path: the same tasks in the same order (ready tasks are offered in it,
and deadline events are written in it), the same covering deadlines and the same loop tasks."""
from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import StandardLoopTask
from SpiffWorkflow.spiff.specs.defaults import UserTask
from SpiffWorkflow.util.task import TaskState

from engine.calendar import local_date
from engine.cases import _covering_deadline, _in_order, _Scan
from engine.diagrams import deadline_key
from engine.timers import ClockDurationTimer, ClockTimeDate, timer_due
from store.demo import SCENARIOS
from store.dryrun import drive


def _is_deadline_timer(task) -> bool:
    definition = getattr(task.task_spec, "event_definition", None)
    return isinstance(definition, (ClockTimeDate, ClockDurationTimer)) and bool(deadline_key(task.task_spec))


def _reference_deadline_timers(workflow) -> list:
    found = []
    for task in workflow.get_tasks(state=TaskState.WAITING | TaskState.COMPLETED):
        value = task._get_internal_data("event_value")
        if _is_deadline_timer(task) and value:
            found.append((str(task.id), deadline_key(task.task_spec), local_date(timer_due(value)),
                          task.state == TaskState.COMPLETED))
    return found


def _reference_covering_deadline(task):
    """Walking every enclosing activity's siblings, as the engine did before it kept a scan."""
    current = task
    while current is not None:
        parent = current.parent
        if parent is None:
            parent_id = current.workflow.parent_task_id
            current = current.workflow.top_workflow.get_task_from_id(parent_id) if parent_id else None
            continue
        for sibling in parent.children:
            if sibling is not current and sibling.state == TaskState.WAITING and _is_deadline_timer(sibling):
                value = sibling._get_internal_data("event_value")
                if value:
                    return local_date(timer_due(value))
        current = parent
    return None


def _check(engine, diagrams, state: str, now) -> None:
    workflow = engine.serializer(diagrams).loads(state)
    scan = _Scan(workflow)
    for mask in (TaskState.READY, TaskState.WAITING | TaskState.COMPLETED, TaskState.STARTED):
        assert [t for t in _in_order(workflow) if t.state & mask] == workflow.get_tasks(state=mask)
    assert scan.ready == [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                          if isinstance(t.task_spec, UserTask)]
    assert scan.deadline_timers == _reference_deadline_timers(workflow)
    assert scan.loops == [t for t in workflow.get_tasks(state=TaskState.STARTED)
                          if isinstance(t.task_spec, StandardLoopTask)]
    for task in scan.ready:
        assert _covering_deadline(task, scan.covering) == _reference_covering_deadline(task)
    for sub in workflow.subprocesses.values():  # engine.history marks a subprocess's own tasks from its dict
        assert set(sub.tasks.values()) == {t for t in sub.get_tasks() if t.workflow is sub}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scan_matches_spiffworkflow_queries(engine, diagrams, calendar, scenario):
    checked = []
    drive(engine, diagrams, calendar, scenario,
          after_step=lambda d, state, now: checked.append(_check(engine, d, state, now)))
    assert len(checked) > 1
