"""Moving a running case to a new version of the diagrams (SpiffWorkflow's workflow diff and migrate).

A case may move when no task that is active in it (ready, waiting or started) was removed or
changed in the new version, and its state restores against the new diagrams afterwards.
Active tasks keep their ids, data and timer due dates; what follows them is predicted anew.
"""
from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from .cases import CaseEngine, _run_engine, _Snapshot
from .chronology import after_migration
from .diagrams import DiagramSet
from .errors import EngineError
from .types import ChronologyEvent, StepOutcome

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


class CannotMigrate(EngineError):
    """The case cannot move to the new version; the message says why."""

    code = "conflict"


def can_migrate(engine: CaseEngine, old: DiagramSet, new: DiagramSet, state: str,
                now: datetime) -> tuple[bool, str]:
    """Whether a case in ``state`` on ``old`` can move to ``new``, and why (not); tries the move in memory."""
    if old.version == new.version:
        return False, "the case is already on this version"
    try:
        _migrated(engine, old, new, state, now)
    except CannotMigrate as exc:
        return False, str(exc)
    except EngineError as exc:
        return False, f"the case could not be moved: {exc}"
    return True, "no active task was removed or changed"


def migrate(engine: CaseEngine, old: DiagramSet, new: DiagramSet, state: str, now: datetime) -> StepOutcome:
    """Move a case to ``new``: its state serialized against the new set, its tasks re-projected."""
    workflow, before = _migrated(engine, old, new, state, now)
    events = [ChronologyEvent("migrated", f"Moved from diagram version {old.version} to {new.version}",
                              details={"from": old.version, "to": new.version})]
    return engine._outcome(new, workflow, now, before, events, reason=after_migration(new.version))


def _label(task) -> str:
    spec = task.task_spec
    name = spec.bpmn_name or spec.bpmn_id or spec.name
    return f"{spec.bpmn_id or spec.name} ({name}, {TaskState.get_name(task.state).lower()})"


def _blockers(workflow_diff, process: str) -> list[str]:
    found = []
    for task in workflow_diff.removed:
        if task.state & ACTIVE:
            found.append(f"{process}: active task {_label(task)} was removed in the new version")
    for task in workflow_diff.changed:
        if task.state & ACTIVE and task not in workflow_diff.removed:
            found.append(f"{process}: active task {_label(task)} was changed in the new version")
    return found


def _migrated(engine: CaseEngine, old: DiagramSet, new: DiagramSet, state: str, now: datetime):
    """The workflow moved onto ``new`` (raises CannotMigrate with every reason) and a snapshot from before."""
    workflow = engine._restore(old, state, now)
    before = _Snapshot.of(workflow)
    registry = engine.serializer(old)._serializer.registry
    try:
        top_diff, sub_diffs = diff_workflow(registry, workflow, new.spec, new.subprocess_specs)
    except Exception as exc:  # noqa: BLE001 - any failure to compare means the case stays where it is
        raise CannotMigrate(f"the versions cannot be compared: {type(exc).__name__}: {exc}") from None
    reasons = _blockers(top_diff, workflow.spec.name)
    for sp_id, diff in sub_diffs.items():
        sub = workflow.subprocesses[sp_id]
        if diff is None:
            if any(t.state & ACTIVE for t in sub.get_tasks(skip_subprocesses=True)):
                reasons.append(f"process {sub.spec.name} is running in the case but not in the new version")
            continue
        reasons.extend(_blockers(diff, sub.spec.name))
    if reasons:
        raise CannotMigrate("; ".join(reasons))
    try:
        _move(top_diff, workflow, new.spec)
        for sp_id, diff in sub_diffs.items():
            if diff is not None:
                sub = workflow.subprocesses[sp_id]
                _move(diff, sub, new.subprocess_specs[sub.spec.name])
        workflow.subprocess_specs = new.subprocess_specs
        _run_engine(workflow)
    except EngineError as exc:
        raise CannotMigrate(f"the case does not run on the new version: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a failed move leaves the stored case as it was
        raise CannotMigrate(f"the case could not be moved: {type(exc).__name__}: {exc}") from None
    text = engine.serializer(new).dumps(workflow)
    try:
        workflow = engine._restore(new, text, now)
    except Exception as exc:  # noqa: BLE001 - a state the new version cannot restore must not be saved
        raise CannotMigrate(f"the moved case does not restore on the new version: {type(exc).__name__}: {exc}") from None
    orphans = sorted({str(task.id) for wf in [workflow, *workflow.subprocesses.values()]
                      for task in wf.tasks.values() if task.task_spec is None})
    if orphans:
        raise CannotMigrate(f"{len(orphans)} task(s) of the case (done or predicted) have no place in the new version")
    return workflow, before


def _move(diff, workflow, spec) -> None:
    """migrate_workflow, keeping each active task's data and timer due dates through the re-prediction."""
    kept = {task.id: (dict(task.data), dict(task.internal_data))
            for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)}
    migrate_workflow(diff, workflow, spec, reset_mask=TaskState.READY | TaskState.WAITING)
    for task_id, (data, internal) in kept.items():
        task = workflow.tasks.get(task_id)
        if task is not None:
            task.data = data
            task.internal_data.update(internal)


def restored_outcome(engine: CaseEngine, diagrams: DiagramSet, state: str, now: datetime) -> StepOutcome:
    """A stored state as a step's outcome (its open tasks, stage, timers), changing nothing: for a rollback."""
    workflow = engine._restore(diagrams, state, now)
    return engine._outcome(diagrams, workflow, now, _Snapshot.of(workflow), [])
