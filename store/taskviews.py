"""Read models for the task page: the READY task as the engine offers it, and the case beside it."""
from __future__ import annotations

from datetime import date, datetime

from engine import DEADLINE_KEYS, TaskNotFound, TaskView, WorkingDayCalendar

from .cases import Safeguarding
from .conferences import SCHEDULING_TASKS
from .models import Case, CaseState, ChronologyEntry, Task
from .views import deadline_status

OPEN_DEADLINE_PREFIXES = ("due", "OVERDUE")


def task_view(service: Safeguarding, task_id: str, now: datetime) -> TaskView:
    """The open task ``task_id`` as the engine offers it now (schema, instructions, prefill, token)."""
    task = Task.get_or_none(Task.id == task_id)
    if task is None:
        raise TaskNotFound(f"no open task {task_id}")
    case = task.case
    state = CaseState.get_or_none(CaseState.case == case.id)
    if state is None:
        raise TaskNotFound(f"case {case.reference} has no workflow state")
    diagrams = service.diagrams_for(case.diagram_version_id)
    for view in service.engine.tasks(diagrams, state.state, now):
        if view.id == task.id:
            return view
    raise TaskNotFound(f"task {task.name} is no longer ready on case {case.reference}")


def open_deadlines(case: Case, today: date, calendar: WorkingDayCalendar) -> list[dict]:
    """The case's statutory deadlines still running (due or overdue), with their status."""
    found = [deadline_status(case, key, today, calendar) for key in DEADLINE_KEYS]
    return [d for d in found if d["status"].startswith(OPEN_DEADLINE_PREFIXES)]


def booking_deadline(case: Case, bpmn_id: str) -> date | None:
    """The statutory date a conference booked by this scheduling task must be held by, if any."""
    rule = SCHEDULING_TASKS.get(bpmn_id)
    if not rule or not rule[1]:
        return None
    return getattr(case, rule[1])


def last_completion(case_id: int, bpmn_id: str) -> ChronologyEntry | None:
    """The newest chronology record of a task of this kind being completed on the case."""
    return (ChronologyEntry.select()
            .where(ChronologyEntry.case == case_id, ChronologyEntry.kind == "task_completed",
                   ChronologyEntry.element == bpmn_id)
            .order_by(ChronologyEntry.at.desc(), ChronologyEntry.id.desc()).first())


def completion_of(task_id: str) -> ChronologyEntry | None:
    """The chronology record of this very task being completed, if it was."""
    return (ChronologyEntry.select()
            .where(ChronologyEntry.task_id == task_id, ChronologyEntry.kind == "task_completed")
            .order_by(ChronologyEntry.id.desc()).first())
