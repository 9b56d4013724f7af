"""SpiffWorkflow 3.2.0's engine steps, with its task-tree walks done in one plain loop each.

A step runs ``BpmnWorkflow.do_engine_steps``: it asks every active (sub)workflow for its READY
tasks again and again (``get_tasks(state=READY)``) until none is automatic, and every task that
completes asks its workflow to update its WAITING tasks (``Workflow.update_waiting_tasks``).
Each of those questions is a walk of the task tree by SpiffWorkflow's ``TaskIterator``, which
filters, tracks depth and rebuilds its pending list task by task; a completion asked about
thirty of them, a third of the time the engine took for a step (bench/).

``run_engine_steps`` and ``quicken`` do the same walks, in the same order, visiting the same
tasks at the same moments, as plain loops:

- ``run_engine_steps(workflow)`` is ``workflow.do_engine_steps()`` (no callbacks), its READY tasks
  found as ``BpmnTaskIterator`` finds them: depth first, a task's called subprocess before its
  children, nothing below a predicted task unless it calls a subprocess.
- ``quicken(workflow)`` gives the workflow and its subprocesses an ``update_waiting_tasks`` that
  walks as ``TaskIterator(task_tree, state=WAITING)`` does: lazily, each task's children taken
  when the task is reached, each task tested when it is reached, so an update made to one WAITING
  task is seen by the tasks after it exactly as SpiffWorkflow's own loop sees it.

Both follow the iterators' one other limit, a depth of 1,000: a workflow of as many tasks is
left to SpiffWorkflow's own methods. tests/engine/test_engine_steps.py drives every lifecycle
path both ways and compares every saved state.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

_READY, _WAITING, _FUTURE = TaskState.READY, TaskState.WAITING, TaskState.FUTURE
_MAX_DEPTH = 1000  # TaskIterator's default max_depth: a tree of fewer tasks never reaches it


def run_engine_steps(workflow: BpmnWorkflow) -> None:
    """``workflow.do_engine_steps()``: passes until one runs nothing, then the timers. A pass
    depends only on the workflow as it is, so SpiffWorkflow's own method takes over from any
    pass, should the workflow have grown to 1,000 tasks."""
    while True:
        if _too_big(workflow):
            workflow.do_engine_steps()
            return
        if not _engine_pass(workflow):
            break
    workflow.refresh_timers()


def quicken(workflow: BpmnWorkflow) -> BpmnWorkflow:
    """Give ``workflow`` and its subprocesses the plain walk for ``update_waiting_tasks``
    (a subprocess started later keeps SpiffWorkflow's, until the next engine pass gives it ours)."""
    for each in (workflow, *workflow.subprocesses.values()):
        if "update_waiting_tasks" not in each.__dict__:
            each.update_waiting_tasks = _WaitingUpdater(each)
    return workflow


class _WaitingUpdater:
    """``Workflow.update_waiting_tasks`` of one (sub)workflow: no bound method in the workflow's
    own attributes (nothing of it is saved: the state is written attribute by attribute)."""

    __slots__ = ("workflow",)

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow

    def __call__(self) -> None:
        workflow = self.workflow
        if len(workflow.tasks) >= _MAX_DEPTH:
            Workflow.update_waiting_tasks(workflow)
            return
        for task in _waiting(workflow.task_tree):
            task.task_spec._update(task)


def _waiting(root):
    """``TaskIterator(root, state=WAITING)``: one (sub)workflow's tree, lazily."""
    pending = [root]
    while pending:
        task = pending.pop()
        children = task._children
        if children and task._state >= _FUTURE:
            tasks = task.workflow.tasks
            pending.extend([tasks.get(child) for child in reversed(children)])
        if task._state & _WAITING:
            yield task


def _engine_pass(workflow: BpmnWorkflow) -> bool:
    """``BpmnWorkflow._do_engine_steps``: whether another pass is needed."""
    quicken(workflow)
    active = workflow.get_active_subprocesses()
    for subprocess in sorted(active, key=lambda v: v.depth, reverse=True):
        while _run_ready(subprocess, workflow) > 0:
            pass
        if subprocess.parent_task_id is not None:
            task = workflow.get_task_from_id(subprocess.parent_task_id)
            task.task_spec._update(task)
    count = _run_ready(workflow, workflow)
    return count > 0 or len(workflow.get_active_subprocesses()) > len(active)


def _run_ready(workflow, top: BpmnWorkflow) -> int:
    """``update_workflow``: run the automatic tasks among ``workflow.get_tasks(state=READY)``."""
    count = 0
    for task in _ready(workflow.task_tree, top.subprocesses):
        if not task.task_spec.manual:
            task.run()
            count += 1
    return count


def _ready(root, subprocesses: dict) -> list:
    """``BpmnTaskIterator(root, state=READY)`` as a list (get_tasks)."""
    return [task for task in in_order(root, subprocesses) if task._state & _READY]


def in_order(root, subprocesses: dict) -> list:
    """The tasks ``BpmnTaskIterator(root, state=...)`` visits for any definite or finished state,
    in its order (``subprocesses``: the top workflow's, by the id of the task calling each).

    Depth first: a task, then the tree of the subprocess it calls (if any), then its children;
    nothing below a predicted (MAYBE or LIKELY) task unless it calls a subprocess."""
    called = {task_id.int: sub for task_id, sub in subprocesses.items()}  # int keys: hashed in C
    found = []
    pending = [root]
    while pending:
        task = pending.pop()
        found.append(task)
        sub = called.get(task.id.int) if called else None
        children = task._children
        if children and (sub is not None or task._state >= _FUTURE):
            tasks = task.workflow.tasks
            pending.extend([tasks.get(child) for child in reversed(children)])
        if sub is not None:
            pending.append(sub.task_tree)
    return found


def _too_big(workflow: BpmnWorkflow) -> bool:
    return len(workflow.tasks) + sum(len(sp.tasks) for sp in workflow.subprocesses.values()) >= _MAX_DEPTH
