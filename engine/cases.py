"""Running a case's workflow: start, offer tasks, complete one, fire timers, send messages.

Every operation restores the workflow from its stored state, works on that private copy and
returns a StepOutcome; nothing is kept between calls, so a failed step changes nothing.
"""
from __future__ import annotations

import functools
import threading
from datetime import date, datetime
from typing import Any, Iterable, Mapping
from uuid import UUID

from jinja2.sandbox import SandboxedEnvironment
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import StandardLoopTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.defaults import UserTask
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from . import chronology
from .calendar import WorkingDayCalendar, local_date, parse_date
from .clock import FixedClock
from .deadlines import DUE_COLUMNS
from .diagrams import KNOWN_ROLES, DiagramSet, deadline_key
from .errors import (DiagramError, EngineError, NotPermitted, TaskChanged, TaskNotFound,
                     TaskNotReady, ValidationFailed)
from .expressions import RestrictedScriptEngine, diagram_functions
from .history import prune
from .progress import mark_tasks, process_index
from .rules import event_date_errors
from .serializer import CaseSerializer
from .statutory import closure_from_data, statutory_updates
from .steps import in_order, quicken, run_engine_steps
from .timers import ClockDurationTimer, ClockTimeDate, timer_due
from .types import Actor, ChronologyEvent, StepOutcome, TaskView

STRATEGY_MESSAGE = "strategy_discussion_requested"
STAGES = (  # (stage label, the task ids that show a case is at it), in the order a case moves
    ("CADS decision", ("cads_decision",)), ("MASH checks", ("mash_check",)),
    ("Feedback to referrer", ("feedback_to_referrer",)), ("Early help", ("early_help_referral",)),
    ("Family Help", ("family_help_plan",)), ("Assessment", ("assessment",)),
    ("Child in need plan", ("cin_plan", "end_cin_plan")),
    ("LADO allegation", ("lado_initial_consideration", "allegation_management_meeting", "lado_outcome")),
    ("Contextual safeguarding", ("contextual_assessment", "schedule_contextual_conference",
                                 "contextual_conference", "contextual_review")),
    ("Strategy discussion", ("strategy_discussion",)), ("Section 47 enquiry", ("section47_enquiry",)),
    ("Initial child protection conference", ("schedule_icpc", "icpc")),
    ("Child protection plan", ("core_group", "core_group_meeting", "schedule_review", "review_conference")),
    ("Closure", ("close_case",)),
)
_CLOCK_TIMERS = (ClockTimeDate, ClockDurationTimer)
_TIMER_STATES = TaskState.WAITING | TaskState.COMPLETED  # a deadline timer reached: still waiting, or fired
_STAGE_RANK = {task: (rank, label) for rank, (label, tasks) in enumerate(STAGES) for task in tasks}
_JINJA = SandboxedEnvironment(autoescape=False)


DEFAULT_MASH_AGENCIES = ("police", "health", "education", "probation")


def case_seed(reference: str, child: Mapping[str, Any], referral_date: date, immediate_danger: bool,
              referrer_anonymous: bool, re_referral: bool) -> dict[str, Any]:
    """The data a case's workflow starts with (the keys the diagrams rely on)."""
    return {
        "case_id": reference,
        "child": {key: child.get(key) for key in ("id", "given_name", "family_name", "date_of_birth",
                                                  "expected_date_of_birth", "unborn")},
        "referral_date": referral_date.isoformat(),
        "immediate_danger": bool(immediate_danger),
        "referrer_anonymous": bool(referrer_anonymous),
        "re_referral": bool(re_referral),
        "mash_agencies": list(DEFAULT_MASH_AGENCIES),
    }


class CaseEngine:
    """The process behind a small typed boundary; one instance is shared by all threads."""

    def __init__(self, calendar: WorkingDayCalendar | None = None) -> None:
        self.calendar = calendar or WorkingDayCalendar()
        self._functions = diagram_functions(self.calendar)  # also usable in instruction templates
        self._lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------
    def serializer(self, diagrams: DiagramSet) -> CaseSerializer:
        """The serializer bound to this parsed diagram set (made once, kept on the set)."""
        found = getattr(diagrams, "_serializer", None)
        if found is None:
            with self._lock:
                found = getattr(diagrams, "_serializer", None) or CaseSerializer(diagrams)
                diagrams._serializer = found
        return found

    def _script_engine(self, now: datetime) -> RestrictedScriptEngine:
        return RestrictedScriptEngine(self.calendar, FixedClock(now))

    def _restore(self, diagrams: DiagramSet, state: str, now: datetime) -> BpmnWorkflow:
        workflow = self.serializer(diagrams).loads(state)
        workflow.script_engine = self._script_engine(now)
        return quicken(workflow)

    # -- operations ---------------------------------------------------------------------
    def start(self, diagrams: DiagramSet, seed: Mapping[str, Any], now: datetime,
              actor: Actor | None = None) -> StepOutcome:
        """Start a case seeded with ``seed`` (flat keys: referral_date, child, ...)."""
        workflow = quicken(BpmnWorkflow(diagrams.spec, diagrams.subprocess_specs,
                                        script_engine=self._script_engine(now)))
        workflow.task_tree.data.update(dict(seed))
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(dict(seed))
        referral = parse_date(seed["referral_date"])
        events = [ChronologyEvent("case_started", "Case started from the contact", actor=actor and actor.username,
                                  happened_on=referral)]
        _run_engine(workflow)
        return self._outcome(diagrams, workflow, now, before=_Snapshot.empty(), events=events,
                             reason=chronology.AFTER_CONTACT, step_on=referral)

    def tasks(self, diagrams: DiagramSet, state: str, now: datetime) -> list[TaskView]:
        """The READY user tasks of a stored case."""
        scan = _Scan(self._restore(diagrams, state, now))
        return [self._view(diagrams, t, scan.covering) for t in scan.ready]

    def data(self, diagrams: DiagramSet, state: str, now: datetime) -> dict[str, Any]:
        """The case's current workflow data (the merged data of its newest tasks)."""
        workflow = self._restore(diagrams, state, now)
        return dict(workflow.last_task.data if workflow.last_task else workflow.task_tree.data)

    def complete(self, diagrams: DiagramSet, state: str, task_id: str, actor: Actor,
                 form: Any, now: datetime, token: str | None = None,
                 extra_check=None) -> StepOutcome:
        """Complete a READY user task for ``actor`` with validated ``form`` data.

        Refuses (changing nothing) an unknown task, one not READY, one that changed since
        ``token`` was offered, a role the actor does not hold, and invalid data.
        ``extra_check(view, form)`` may raise ValidationFailed for rules beyond the schema.
        """
        workflow = self._restore(diagrams, state, now)
        task = _find_task(workflow, task_id)
        if not isinstance(task.task_spec, UserTask):
            raise TaskNotFound(f"task {task_id} is not a user task")
        if task.state != TaskState.READY:
            raise TaskNotReady(f"task {task_id} ({task.task_spec.bpmn_name or task.task_spec.name}) "
                               f"is {TaskState.get_name(task.state).lower()}, not ready")
        before = _Snapshot.of(workflow)
        view = self._view(diagrams, task, before.covering)
        if token is not None and token != view.token:
            raise TaskChanged(f"task {view.name} changed since it was offered; reload and try again")
        if view.role not in actor.roles:
            raise NotPermitted(f"{actor.username} does not hold the role {view.role} needed for {view.name}")
        info = diagrams.task_info(task.task_spec)
        info.form.validate(form)
        referral = task.data.get("referral_date")
        problems = event_date_errors(form, local_date(now), parse_date(referral) if referral else None,
                                     info.form.label)
        if problems:
            raise ValidationFailed(problems, title=f"{info.form.title}: the form has errors")
        if extra_check is not None:
            extra_check(view, form)
        task.set_data(**{view.bpmn_id: dict(form)})
        _guarded(lambda: task.run(), view.bpmn_id)
        _run_engine(workflow)
        data_after = dict(task.data)
        event = chronology.task_completed(view, info.form.schema, form, actor.username, local_date(now))
        statutory = statutory_updates(view.bpmn_id, form, data_after)
        reviews = [parse_date(form["held_on"])] if view.bpmn_id == "review_conference" and form.get("held_on") else []
        return self._outcome(diagrams, workflow, now, before, [event], statutory, reviews, completed_task=view,
                             reason=chronology.after_task(view), step_on=event.happened_on)

    def fire_timers(self, diagrams: DiagramSet, state: str, now: datetime) -> StepOutcome:
        """Fire every timer due at ``now`` (refresh_timers, then engine steps)."""
        workflow = self._restore(diagrams, state, now)
        before = _Snapshot.of(workflow)
        _guarded(workflow.refresh_timers, "timer")
        _run_engine(workflow)
        return self._outcome(diagrams, workflow, now, before, [], reason=chronology.AFTER_TIMER)

    def request_strategy_discussion(self, diagrams: DiagramSet, state: str, actor: Actor,
                                    reason: str, now: datetime) -> StepOutcome:
        """Call a strategy discussion during an assessment or a plan (a BPMN message)."""
        if not reason or not reason.strip():
            raise ValidationFailed([], title="Give the reason a strategy discussion is needed")
        workflow = self._restore(diagrams, state, now)
        before = _Snapshot.of(workflow)
        if not any(_catches(t, STRATEGY_MESSAGE) for t in workflow.event_manager.tasks.values()):
            raise TaskNotReady("a strategy discussion can only be called during an assessment, or once during a "
                               "child protection plan; this case is not at such a point")
        payload = {"reason": reason.strip(), "requested_by": actor.username, "requested_on": local_date(now).isoformat()}
        event = BpmnEvent(MessageEventDefinition(STRATEGY_MESSAGE), payload)
        _guarded(lambda: workflow.catch(event), "message")
        _run_engine(workflow)
        events = [ChronologyEvent("strategy_discussion_requested", f"Strategy discussion requested: {reason.strip()}",
                                  actor=actor.username, details=payload, happened_on=local_date(now))]
        return self._outcome(diagrams, workflow, now, before, events, reason=chronology.AFTER_STRATEGY_REQUEST)

    # -- views --------------------------------------------------------------------------
    def _view(self, diagrams: DiagramSet, task, covering: Mapping[Any, list]) -> TaskView:
        """``task`` as offered; ``covering``: the waiting deadline timers found by a _Scan of its workflow."""
        info = diagrams.task_info(task.task_spec)
        role = info.lane
        if info.role_expression:
            role = task.workflow.script_engine.evaluate(task, info.role_expression)
            if role not in KNOWN_ROLES:
                raise DiagramError(f"{info.process}/{info.bpmn_id}", f"assignedRole gave unknown role {role!r}")
        due = _covering_deadline(task, covering)
        if due is None and info.due_expression:
            due = parse_date(task.workflow.script_engine.evaluate(task, info.due_expression))
        properties = info.form.schema.get("properties", {})
        prefill = {k: task.data[k] for k in properties
                   if k in task.data and isinstance(task.data[k], (str, int, float, bool))}
        return TaskView(id=str(task.id), bpmn_id=info.bpmn_id, process=info.process, name=info.name,
                        role=role, form_name=info.form.filename, form_title=info.form.title,
                        schema=info.form.schema, instructions=_render(info.instructions, {**self._functions, **task.data}),
                        due=due, token=_token(task), prefill=prefill)

    def _outcome(self, diagrams, workflow, now, before: "_Snapshot", events: list[ChronologyEvent],
                 statutory: dict | None = None, reviews: list[date] | None = None,
                 completed_task: TaskView | None = None, reason: str = chronology.AFTER_STEP,
                 step_on: date | None = None) -> StepOutcome:
        """The step's results; ``reason``: why the tasks it opened opened (unless a deadline's timer
        opened them); ``step_on``: the day the step's event happened (default: today)."""
        after = _Scan(workflow)
        tasks = [self._view(diagrams, t, after.covering) for t in after.ready]
        timers = _waiting_timers(workflow)
        deadline_timers = after.deadline_timers
        deadlines = {key: due for _tid, key, due, fired in deadline_timers if not fired}
        statutory = dict(statutory or {})
        today = local_date(now)
        step_on = step_on or today
        # A deadline's timer (``<key>_deadline``) sets its case column (``<key>_due``): engine/deadlines.py.
        for key, due in deadlines.items():
            if before.deadlines.get(key) != due:
                statutory[DUE_COLUMNS[key]] = due
                events.append(chronology.deadline_set(key, due, step_on))
        opened = [(task, view) for task, view in zip(after.ready, tasks) if view.id not in before.ready_ids]
        fired = {tid: key for tid, key, _due, done in deadline_timers if done and tid not in before.fired_ids}
        causes = {view.id: chronology.fired_timer_above(task, fired) for task, view in opened} if fired else {}
        for tid, key, due, done in deadline_timers:
            if tid not in fired:
                continue
            if before.deadlines.get(key) != due and key not in deadlines:
                statutory[DUE_COLUMNS[key]] = due  # set and passed in one step (a back-dated record)
                events.append(chronology.deadline_set(key, due, step_on))
            escalated_to = next((view.role for _task, view in opened if causes.get(view.id) == tid), None)
            events.append(chronology.deadline_missed(key, due, escalated_to))
        for _task, view in opened:
            cause = causes.get(view.id)
            events.append(chronology.task_opened(view, chronology.after_deadline(fired[cause]) if cause else reason,
                                                 today))
        completed = workflow.is_completed()
        if completed:
            statutory.update({k: v for k, v in closure_from_data(_final_data(workflow)).items()
                              if k not in statutory})
            events.append(chronology.case_closed(step_on))
        next_timer = min((due for _key, due in timers), default=None)
        index = process_index(diagrams)
        pruned = prune(workflow, after.loops, lambda sub, found, marks: mark_tasks(sub, found, marks, index))
        serializer = self.serializer(diagrams)
        return StepOutcome(state=serializer.dumps(workflow), diagram_version=diagrams.version,
                           tasks=tasks, deadlines=deadlines, statutory=statutory, reviews=reviews or [],
                           events=events, stage=_stage(tasks, completed), completed=completed,
                           next_timer_at=next_timer, completed_task=completed_task,
                           archive=serializer.dumps_archive(pruned) if pruned else None)


class _Scan:
    """What one walk over a workflow's tasks finds, each list in ``get_tasks`` order.

    ``ready``: the READY user tasks (offered to people in this order); ``deadline_timers``:
    (task id, key, due date, fired?) of every statutory deadline timer reached, waiting or
    completed; ``covering``: parent task id -> [(waiting deadline timer, due date)] in
    children order, for _covering_deadline; ``loops``: the STARTED standard loops, whose
    finished turns engine.history.prune removes.
    """

    def __init__(self, workflow: BpmnWorkflow) -> None:
        self.ready: list = []
        self.deadline_timers: list[tuple[str, str, date, bool]] = []
        self.covering: dict[UUID, list[tuple[Any, date]]] = {}
        self.loops: list = []
        for task in _in_order(workflow):
            state, spec = task._state, task.task_spec
            if state == TaskState.READY:
                if spec.manual and isinstance(spec, UserTask):
                    self.ready.append(task)
            elif state & _TIMER_STATES:
                if isinstance(getattr(spec, "event_definition", None), _CLOCK_TIMERS):
                    self._timer(task, spec, state)
            elif state == TaskState.STARTED and isinstance(spec, StandardLoopTask):
                self.loops.append(task)

    def _timer(self, task, spec, state: TaskState) -> None:
        key, value = deadline_key(spec), task._get_internal_data("event_value")
        if not (key and value):
            return
        due = local_date(timer_due(value))
        self.deadline_timers.append((str(task.id), key, due, state == TaskState.COMPLETED))
        if state == TaskState.WAITING:
            self.covering.setdefault(task.parent.id, []).append((task, due))


def _in_order(workflow: BpmnWorkflow) -> list:
    """The tasks ``workflow.get_tasks(state=...)`` visits for any definite or finished state, in
    its order (engine/steps.py ``in_order``, from the workflow's root). One plain walk costs a
    fraction of one SpiffWorkflow TaskIterator pass, and a step needed several."""
    return in_order(workflow.task_tree, workflow.subprocesses)


class _Snapshot:
    """What was true before a step, to describe what the step changed (and the deadlines covering its tasks)."""

    def __init__(self, ready_ids: set[str], deadlines: dict[str, date], fired_ids: set[str],
                 covering: dict | None = None) -> None:
        self.ready_ids, self.deadlines, self.fired_ids = ready_ids, deadlines, fired_ids
        self.covering = covering or {}

    @classmethod
    def empty(cls) -> "_Snapshot":
        return cls(set(), {}, set())

    @classmethod
    def of(cls, workflow: BpmnWorkflow) -> "_Snapshot":
        scan = _Scan(workflow)
        timers = scan.deadline_timers
        return cls({str(t.id) for t in scan.ready},
                   {key: due for _tid, key, due, fired in timers if not fired},
                   {tid for tid, _key, _due, fired in timers if fired}, scan.covering)


def _guarded(action, element: str):
    """Run a SpiffWorkflow call, turning its exceptions into one clear engine error."""
    try:
        return action()
    except EngineError:
        raise
    except SpiffWorkflowException as exc:
        raise EngineError(f"the process could not continue at {element}: {str(exc).splitlines()[0]}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"the process could not continue at {element}: {type(exc).__name__}: {exc}") from None


def _run_engine(workflow: BpmnWorkflow) -> None:
    """The engine steps, and again while their closing refresh of the timers finds one due.

    SpiffWorkflow's steps end by refreshing the timers, which makes a timer already due READY
    without running it: a task completed after a deadline passed, before the worker fired it,
    left the deadline neither waiting nor fired (no escalation, and no next timer for the worker)."""
    for _ in range(_TIMER_ROUNDS):
        waiting = _waiting_timer_tasks(workflow)
        _guarded(lambda: run_engine_steps(workflow), "an automatic step")
        if not any(t.state == TaskState.READY for t in waiting):
            return


_TIMER_ROUNDS = 10  # a step's timers settle in a round or two; a diagram that keeps making due timers stops here


def _find_task(workflow: BpmnWorkflow, task_id: str):
    try:
        uid = UUID(str(task_id))
    except ValueError:
        raise TaskNotFound(f"no task {task_id!r} (not a task id)") from None
    try:
        task = workflow.get_task_from_id(uid)
    except SpiffWorkflowException:
        task = None
    if task is None:
        raise TaskNotFound(f"no task {task_id} in this case")
    return task


def _waiting_timer_tasks(workflow: BpmnWorkflow) -> list:
    return [t for t in workflow.event_manager.tasks.values()
            if isinstance(getattr(t.task_spec, "event_definition", None), _CLOCK_TIMERS)
            and t.state == TaskState.WAITING]


def _waiting_timers(workflow: BpmnWorkflow) -> list[tuple[str | None, datetime]]:
    found = []
    for task in _waiting_timer_tasks(workflow):
        value = task._get_internal_data("event_value")
        if value:
            found.append((deadline_key(task.task_spec), timer_due(value)))
    return found


def _catches(task, message: str) -> bool:
    definition = getattr(task.task_spec, "event_definition", None)
    return getattr(definition, "name", None) == message and task.state == TaskState.WAITING


def _covering_deadline(task, covering: Mapping[Any, list]) -> date | None:
    """The due date of the nearest waiting deadline timer on this task or an enclosing activity.

    A timer on an activity is a sibling of the activity's task (its boundary event split's
    child); ``covering`` holds the waiting ones by parent (_Scan), so no children are walked.
    """
    current = task
    while covering and current is not None:
        parent = current.parent
        if parent is None:
            parent_id = current.workflow.parent_task_id
            current = current.workflow.top_workflow.get_task_from_id(parent_id) if parent_id else None
            continue
        for sibling, due in covering.get(parent.id, ()):
            if sibling is not current:
                return due
        current = parent
    return None


def _final_data(workflow: BpmnWorkflow) -> dict:
    ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.workflow is workflow]
    return dict(ends[-1].data) if ends else dict(workflow.data)


def _token(task) -> str:
    return f"{task.id.hex[:12]}-{int(task.last_state_change * 1000)}"


def _render(template: str, data: Mapping[str, Any]) -> str:
    if not template:
        return ""
    try:
        return _compiled(template).render(**data)
    except Exception:  # a broken template shows as written rather than breaking the task
        return template


@functools.lru_cache(maxsize=512)
def _compiled(template: str):
    """Compiling an instruction template costs more than a whole engine step: once per text."""
    return _JINJA.from_string(template)


def _stage(tasks: Iterable[TaskView], completed: bool) -> str:
    if completed:
        return "Closed"
    best = (-1, "Open")
    for view in tasks:
        if view.bpmn_id.startswith("escalate_"):
            continue
        best = max(best, _STAGE_RANK.get(view.bpmn_id, (-1, "Open")))
    return best[1]
