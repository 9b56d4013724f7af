"""Keeping a case's completed history out of its hot path.

SpiffWorkflow keeps every finished subprocess and every finished turn of a loop (core groups,
review cycles) in the workflow, so a case that lives for years would restore, walk and save
its whole past at each step. Before a step's state is saved, ``prune`` removes what can never
run again: finished subprocesses (their calling task is done) and finished turns of standard
loops. What the case page's diagram needs from them (the elements done and the flows taken)
is folded into a small trail kept with the state, bounded by the size of the diagrams; the
removed parts themselves are returned, to be archived apart from the hot path.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR
TRAIL_ATTRIBUTE = "sgw_trail"  # process id -> {"completed": [...], "steps": [[source, target], ...]}


@dataclass
class Pruned:
    """What one prune removed: whole subprocesses and single finished loop turns."""

    subprocesses: list[Any] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.subprocesses or self.tasks)


def trail_of(workflow: BpmnWorkflow) -> dict[str, dict[str, list]]:
    """The trail of already pruned history kept with a workflow (empty for a new case)."""
    return getattr(workflow, TRAIL_ATTRIBUTE, None) or {}


def prune(workflow: BpmnWorkflow, loops: list, mark) -> Pruned:
    """Remove finished subprocesses and finished loop turns; fold their marks into the trail.

    ``loops``: the workflow's STARTED standard loop tasks in ``get_tasks`` order (the caller
    has walked the tasks already; engine.cases._Scan). ``mark(sub, tasks, marks)`` adds the
    completed elements and steps of those ``tasks`` that belong to the (sub)workflow ``sub``
    to ``marks`` (engine.progress does this for the case page).
    """
    pruned = Pruned()
    marks: dict[str, dict[str, set]] = {}
    _drop_orphans(workflow, pruned)
    for task in loops:
        for turn in [c for c in task.children if c.state & _FINISHED and not c.children]:
            mark(turn.workflow, [turn], marks)
            if turn.id in workflow.subprocesses:
                _drop_subprocess(workflow, turn, mark, marks, pruned)
            owner = turn.workflow
            owner._remove_task(turn.id)
            if owner.last_task is turn:
                owner.last_task = task
            pruned.tasks.append(turn)
    for parent_id in list(workflow.subprocesses):
        if parent_id not in workflow.subprocesses:
            continue  # removed with the subprocess it was nested in
        parent = workflow.get_task_from_id(parent_id)
        if parent.state & _FINISHED:
            _drop_subprocess(workflow, parent, mark, marks, pruned)
    if pruned:
        _fold(workflow, marks)
    return pruned


def _drop_orphans(workflow: BpmnWorkflow, pruned: Pruned) -> None:
    """Remove subprocesses whose calling task is gone from the tree.

    Cancelling a task drops its unfinished children without cancelling them (SpiffWorkflow
    3.2.0, ``Task._drop_children``): when a terminate end event ends the child protection plan,
    the running turn of the core group loop is dropped and its subprocess, with the meeting it
    was waiting for, is left behind, unreachable but still saved, restored and scanned for
    timers at every step. Nested ones go in later rounds, once their own caller has gone.
    """
    while True:
        known = set(workflow.tasks).union(*(sp.tasks for sp in workflow.subprocesses.values()))
        orphans = [sp_id for sp_id in workflow.subprocesses if sp_id not in known]
        if not orphans:
            return
        for sp_id in orphans:
            sub = workflow.subprocesses.pop(sp_id)  # not marked: it has no place on the drawing left
            pruned.subprocesses.append(sub)
            for task in sub.tasks.values():
                workflow.event_manager.remove_task(task)


def _drop_subprocess(workflow: BpmnWorkflow, parent, mark, marks, pruned: Pruned) -> None:
    nested = [sp for sp in workflow.subprocesses.values() if sp.parent_task_id != parent.id]
    subprocess = workflow.subprocesses[parent.id]
    inside = [sp for sp in nested if _within(sp, subprocess)]
    for sub in [subprocess, *inside]:
        mark(sub, sub.tasks.values(), marks)  # its own tasks, the same as walking its tree
        pruned.subprocesses.append(sub)
    for task in workflow.delete_subprocess(parent):
        workflow.event_manager.remove_task(task)


def _within(sub, ancestor) -> bool:
    current = sub.parent_workflow
    while current is not None and current is not ancestor:
        current = getattr(current, "parent_workflow", None)
    return current is ancestor


def _fold(workflow: BpmnWorkflow, marks: dict[str, dict[str, set]]) -> None:
    trail = trail_of(workflow)
    for process, found in marks.items():
        kept = trail.setdefault(process, {"completed": [], "steps": []})
        kept["completed"] = sorted(set(kept["completed"]) | found["completed"])
        kept["steps"] = sorted({tuple(s) for s in kept["steps"]} | found["steps"])
        kept["steps"] = [list(s) for s in kept["steps"]]
    setattr(workflow, TRAIL_ATTRIBUTE, trail)
