"""Moving a running case to a new version of the diagrams.

Two ways, tried in this order:

- **in place** (SpiffWorkflow's workflow diff and migrate): when no task that is active in the
  case (ready, waiting or started) was removed or changed in the new version. Active tasks keep
  their ids, data and timer due dates; what follows them is predicted anew.
- **by replay**: when the new version changed the diagram around the case's open work (a loop
  redrawn, a task moved into another branch), the case is started again on the new version and
  its recorded history (each completed task's form at the moment it was completed, each strategy
  discussion called, the timers due in between) is replayed, so every date is worked out afresh
  from the recorded event dates. A step with no place in the new version stops the move, naming it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from .calendar import local_date
from .cases import CaseEngine, _run_engine, _Scan, _Snapshot
from .chronology import after_migration
from .diagrams import KNOWN_ROLES, DiagramSet
from .errors import EngineError, ValidationFailed
from .types import Actor, ChronologyEvent, StepOutcome, TaskView

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


class CannotMigrate(EngineError):
    """The case cannot move to the new version; the message says why."""

    code = "conflict"


@dataclass(frozen=True)
class RecordedStep:
    """One step of a case's recorded history: a completed task (its form) or a strategy discussion
    called during the case (its reason), by whom and when."""

    at: datetime
    kind: str  # "task_completed" or "strategy_discussion_requested"
    element: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    actor: str = "system"


REPLAYED_KINDS = ("task_completed", "strategy_discussion_requested")
REPLAYING = Actor("migration", frozenset(KNOWN_ROLES))  # the recorded steps were allowed when they were taken


def can_migrate(engine: CaseEngine, old: DiagramSet, new: DiagramSet, state: str,
                now: datetime, history: Sequence[RecordedStep] | None = None) -> tuple[bool, str]:
    """Whether a case in ``state`` on ``old`` can move to ``new``, and why (not); tries the move in memory.

    With ``history`` (the case's recorded steps, oldest first) a case that cannot move in place
    may move by replaying them."""
    if old.version == new.version:
        return False, "the case is already on this version"
    try:
        _migrated(engine, old, new, state, now)
    except CannotMigrate as exc:
        if history is None:
            return False, str(exc)
        try:
            _replayed(engine, old, new, state, now, history)
        except CannotMigrate as again:
            return False, f"{exc}; replaying its history: {again}"
        return True, f"its open work changed in the new version: its {len(history)} recorded steps are replayed on it"
    except EngineError as exc:
        return False, f"the case could not be moved: {exc}"
    return True, "no active task was removed or changed"


def migrate(engine: CaseEngine, old: DiagramSet, new: DiagramSet, state: str, now: datetime,
            history: Sequence[RecordedStep] | None = None) -> StepOutcome:
    """Move a case to ``new``: in place if it can, else (given its ``history``) by replaying it."""
    try:
        workflow, before = _migrated(engine, old, new, state, now)
        how = {}
    except CannotMigrate:
        if history is None:
            raise
        workflow, before = _replayed(engine, old, new, state, now, history)
        how = {"replayed_steps": len(history)}
    summary = f"Moved from diagram version {old.version} to {new.version}"
    if how:
        summary += f" (its {len(history)} recorded steps replayed on the new version)"
    events = [ChronologyEvent("migrated", summary, details={"from": old.version, "to": new.version, **how})]
    return engine._outcome(new, workflow, now, before, events, reason=after_migration(new.version))


def _replayed(engine: CaseEngine, old: DiagramSet, new: DiagramSet, state: str, now: datetime,
              history: Sequence[RecordedStep]):
    """The case started again on ``new`` and its recorded steps replayed at their own moments.

    Returns the new workflow and a snapshot that makes the move's outcome report what changed
    for people (a deadline's new date), not the new task ids of work already done or open."""
    previous = engine._restore(old, state, now)
    if not history:
        raise CannotMigrate("the case has no recorded steps to replay")
    outcome = engine.start(new, dict(previous.task_tree.data), history[0].at)
    for step in history:
        outcome = _due_timers(engine, new, outcome, step.at)
        outcome = _replay_step(engine, new, outcome, step)
    outcome = _due_timers(engine, new, outcome, now)
    # the open work of the case as restored above (not read and restored a second time)
    waiting = {t.task_spec.bpmn_id: t.task_spec.bpmn_name or t.task_spec.bpmn_id for t in _Scan(previous).ready}
    lost = sorted(set(waiting) - {t.bpmn_id for t in outcome.tasks})
    if lost:  # a move never takes away work a case is waiting on
        raise CannotMigrate("; ".join(f"its open task {b} ({waiting[b]}) was removed in the new version" for b in lost))
    workflow = engine._restore(new, outcome.state, now)
    old_view, new_view = _Snapshot.of(previous), _Snapshot.of(workflow)
    return workflow, _Snapshot(new_view.ready_ids, old_view.deadlines, new_view.fired_ids)


def _due_timers(engine: CaseEngine, diagrams: DiagramSet, outcome: StepOutcome, at: datetime) -> StepOutcome:
    if outcome.next_timer_at is not None and outcome.next_timer_at <= at:
        return engine.fire_timers(diagrams, outcome.state, at)
    return outcome


def _replay_step(engine: CaseEngine, diagrams: DiagramSet, outcome: StepOutcome, step: RecordedStep) -> StepOutcome:
    when = local_date(step.at).strftime("%-d %B %Y")
    try:
        if step.kind == "strategy_discussion_requested":
            actor = Actor(step.data.get("requested_by") or step.actor, REPLAYING.roles)
            return engine.request_strategy_discussion(diagrams, outcome.state, actor, step.data.get("reason", ""),
                                                      step.at)
        task = _matching_task(outcome.tasks, step)
        if task is None:
            raise CannotMigrate(f"{step.element} completed on {when} has no open task to replay on in the new version "
                                f"(open then: {', '.join(sorted(t.bpmn_id for t in outcome.tasks)) or 'none'})")
        return engine.complete(diagrams, outcome.state, task.id, REPLAYING, _known_fields(task, step.data), step.at)
    except ValidationFailed as exc:
        problems = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or str(exc)
        raise CannotMigrate(f"{step.element or step.kind} recorded on {when} is not valid on the new version: "
                            f"{problems}") from None
    except CannotMigrate:
        raise
    except EngineError as exc:
        raise CannotMigrate(f"{step.element or step.kind} recorded on {when} cannot be replayed: {exc}") from None


def _matching_task(tasks: list[TaskView], step: RecordedStep) -> TaskView | None:
    """The open task the recorded step completed: same element, and for one of several (a MASH check
    per agency) the one whose prefilled answers the recorded form shares."""
    same = [t for t in tasks if t.bpmn_id == step.element]
    alike = [t for t in same if all(step.data.get(k) == v for k, v in t.prefill.items() if k in step.data)]
    return alike[0] if alike else (same[0] if len(same) == 1 else None)


def _known_fields(task: TaskView, data: dict[str, Any]) -> dict[str, Any]:
    """The recorded answers the new version's form still asks for (a question it dropped is left out;
    the record of the answer stays in the chronology)."""
    properties = task.schema.get("properties")
    if not properties or task.schema.get("additionalProperties", True) is not False:
        return dict(data)
    return {k: v for k, v in data.items() if k in properties}


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
