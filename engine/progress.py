"""Where a case is in its diagrams: the elements done and the elements active, per process.

Read from the restored workflow (nothing is changed or saved), for the case page's diagram:
bpmn-js marks ``completed`` ids (elements and the sequence flows taken) and ``active`` ids
(user tasks waiting to be done, call activities and other steps in progress).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState

from .diagrams import DiagramSet, parse_xml
from .history import trail_of

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_INDEX_LOCK = threading.Lock()
_REACHED = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING


@dataclass(frozen=True)
class ProcessInfo:
    """One process of a diagram set: its id, name, the file drawing it and its elements' names."""

    id: str
    name: str
    file: str
    names: dict[str, str] = field(default_factory=dict)  # element id -> name ('' if unnamed)
    flows: tuple[tuple[str, str, str], ...] = ()  # (flow id, source id, target id), embedded subprocesses included


def process_index(diagrams: DiagramSet) -> dict[str, ProcessInfo]:
    """Every top-level process of the diagram set by id (parsed once, kept on the set)."""
    found = getattr(diagrams, "_process_index", None)
    if found is not None:
        return found
    index: dict[str, ProcessInfo] = {}
    for name, text in sorted(diagrams.files.items()):
        if not name.endswith(".bpmn"):
            continue
        root = parse_xml(name, text)
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            names: dict[str, str] = {}
            flows = []
            for element in process.iter():
                element_id = element.get("id") if isinstance(element.tag, str) else None
                if not element_id:
                    continue
                names[element_id] = element.get("name") or ""
                if element.tag == f"{{{BPMN_NS}}}sequenceFlow":
                    flows.append((element_id, element.get("sourceRef"), element.get("targetRef")))
            index[process.get("id")] = ProcessInfo(process.get("id"), process.get("name") or process.get("id"),
                                                   name, names, tuple(flows))
    with _INDEX_LOCK:
        diagrams._process_index = index
    return index


def case_progress(engine: Any, diagrams: DiagramSet, state: str) -> dict[str, dict[str, list[str]]]:
    """For a stored case: process id -> {"completed": [...], "active": [...]} in the order entered.

    An element both done before and active again (a loop) is listed as active only.
    Embedded subprocesses count under the process whose diagram draws them. History pruned
    from the workflow (engine.history) comes back from the trail kept with the state.
    """
    workflow = engine.serializer(diagrams).loads(state)
    index = process_index(diagrams)
    marks: dict[str, dict[str, set]] = {}
    mark_tasks(workflow, workflow.get_tasks(), marks, index)
    for process, kept in trail_of(workflow).items():
        found = _marks_for(marks, process)
        found["completed"].update(kept["completed"])
        found["steps"].update(tuple(step) for step in kept["steps"])
    for sub in workflow.subprocesses.values():
        mark_tasks(sub, sub.get_tasks(), marks, index)
    result: dict[str, dict[str, list[str]]] = {}
    for process, found in marks.items():
        if process not in index:
            continue
        flows = {flow_id for flow_id, source, target in index[process].flows
                 if (source, target) in found["steps"] and source in found["completed"]}
        done = (found["completed"] - found["active"]) | flows
        result[process] = {"completed": sorted(done), "active": sorted(found["active"])}
    return result


def mark_tasks(sub, tasks, marks: dict[str, dict[str, set]], index: dict[str, ProcessInfo]) -> None:
    """Add the elements of ``tasks`` (of the (sub)workflow ``sub``) done and active, and the steps
    taken to reach them, to ``marks`` under the process whose diagram draws ``sub``."""
    process = _drawn_in(sub, index)
    if process is None:
        return
    found = _marks_for(marks, process)
    for task in tasks:
        if task.workflow is not sub or not task.task_spec.bpmn_id:
            continue
        element = task.task_spec.bpmn_id
        waiting_boundary = task.state == TaskState.WAITING and isinstance(task.task_spec, BoundaryEvent)
        if task.state == TaskState.COMPLETED:
            found["completed"].add(element)
        elif task.state in (TaskState.READY, TaskState.STARTED, TaskState.WAITING) and not waiting_boundary:
            found["active"].add(element)  # a boundary timer waiting on an activity is not work in progress
        if task.state & _REACHED and not waiting_boundary:
            source = _previous_element(task)
            if source:
                found["steps"].add((source, element))


def _marks_for(marks: dict[str, dict[str, set]], process: str) -> dict[str, set]:
    return marks.setdefault(process, {"completed": set(), "active": set(), "steps": set()})


def _drawn_in(sub, index: dict[str, ProcessInfo]) -> str | None:
    """The top-level process whose diagram draws this (sub)workflow's elements."""
    current = sub
    while current is not None:
        if current.spec.name in index:
            return current.spec.name
        current = current.parent_workflow
    return None


def _previous_element(task) -> str | None:
    """The nearest ancestor task in the same workflow that is a diagram element."""
    parent = task.parent
    while parent is not None and parent.workflow is task.workflow:
        if parent.task_spec.bpmn_id:
            return parent.task_spec.bpmn_id
        parent = parent.parent
    return None
