"""Read models: what a person sees of a case (no workflow is deserialized to build them)."""
from __future__ import annotations

from datetime import date
from typing import Any

from peewee import JOIN

from engine import DEADLINE_KEYS, DEADLINES, DEADLINES_BY_KEY, CaseNotFound, WorkingDayCalendar

from .models import Case, ChronologyEntry, Task, User
from .access import Viewer, visible_case_ids
from .prepared import Prepared, PreparedFamily
from .timeutil import from_db


def get_case(case_id: int) -> Case:
    """The case with this id, or CaseNotFound (no access check: callers apply the rule)."""
    case = Case.get_or_none(Case.id == case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


def chronology(case: Case) -> list[ChronologyEntry]:
    """The case's chronology in the order things happened; entries of one day in the order they were
    recorded (a form typed in days later takes its place among the days it describes)."""
    entries = list(ChronologyEntry.select().where(ChronologyEntry.case == case)
                   .order_by(ChronologyEntry.at, ChronologyEntry.id))
    entries.sort(key=lambda e: e.happened)  # stable: ties keep the recording order
    return entries


def siblings(case: Case) -> list[Case]:
    """The other cases started by the same contact (the children of one sibling group)."""
    return list(Case.select().where(Case.sibling_group == case.sibling_group, Case.id != case.id).order_by(Case.id))


def deadline_status(case: Case, key: str, today: date, calendar: WorkingDayCalendar) -> dict[str, Any]:
    """A deadline's date and status: met, missed, overdue, due (with working days left), not set, or
    what stopped it applying (engine/deadlines.py)."""
    deadline = DEADLINES_BY_KEY[key]
    due = getattr(case, deadline.due_column)
    done = getattr(case, deadline.done_column) if deadline.done_column else None
    if done is None and deadline.stopped_by and getattr(case, deadline.stopped_by[0]):
        return {"key": key, "due": due.isoformat() if due else None, "status": deadline.stopped_by[1]}
    if due is None:
        return {"key": key, "due": None, "status": "not set"}
    if done is not None:
        status = "met" if done <= due else f"missed (done {done.isoformat()})"
    elif case.status == "closed":
        status = "closed before it applied"
    else:
        left = calendar.working_days_between(today, due)
        status = f"OVERDUE by {-left} working day(s)" if left < 0 else f"due: {left} working day(s) left"
    return {"key": key, "due": due.isoformat(), "status": status}


def case_summary(case_id: int, today: date, calendar: WorkingDayCalendar) -> dict[str, Any]:
    """Everything the case command and page show, as plain data."""
    case = get_case(case_id)
    return {
        "id": case.id, "reference": case.reference, "child": case.child.display_name,
        "status": case.status, "stage": case.stage, "referral_date": case.referral_date.isoformat(),
        "re_referral": case.re_referral, "diagram_version": case.diagram_version_id,
        "allocated_worker": case.allocated_worker.username if case.allocated_worker else None,
        "siblings": [f"{s.reference} {s.child.display_name}" for s in siblings(case)],
        "deadlines": [deadline_status(case, key, today, calendar) for key in DEADLINE_KEYS],
        "tasks": open_tasks(case.id),
        "chronology": [{"happened_on": e.happened.isoformat(), "at": from_db(e.at).isoformat(), "actor": e.actor,
                        "kind": e.kind, "summary": e.summary} for e in chronology(case)],
        "statutory": {f: _plain(getattr(case, f)) for f in STATUTORY_FIELDS},
    }


def open_tasks(case_id: int) -> list[dict[str, Any]]:
    """A case's open tasks as plain data, soonest due first (one query: an API answer needs no more)."""
    return _task_dicts(_OPEN_TASKS.rows(case=case_id))


def open_tasks_if_visible(viewer: Viewer, case_id: int) -> list[dict[str, Any]]:
    """``open_tasks(case_id)`` if ``viewer`` may see the case (store/access.py), else none: the
    check and the read in one statement (an API completion answers with them, and the step it
    has just made may have taken the case out of the viewer's sight)."""
    return _task_dicts(_VISIBLE_OPEN_TASKS[viewer].rows(case=case_id))


def _task_dicts(tasks) -> list[dict[str, Any]]:
    return [{"id": t.id, "task": t.bpmn_id, "name": t.name, "role": t.role,
             "assignee": t.assignee.username if t.assignee_id else None,
             "due": t.due.isoformat() if t.due else None, "token": t.token} for t in tasks]


def _open_tasks_query(place):
    return (Task.select(Task, User.username).join(User, JOIN.LEFT_OUTER, on=(Task.assignee == User.id))
            .where(Task.case == place("case")).order_by(Task.due.asc(nulls="LAST"), Task.created_at))


# An API completion answers with the case's open tasks (store/prepared.py: built once; per viewer
# with the access rule's case condition).
_OPEN_TASKS = Prepared(_open_tasks_query)
_VISIBLE_OPEN_TASKS = PreparedFamily(lambda viewer, place: _open_tasks_query(place).where(
    Task.case.in_(visible_case_ids(viewer).where(Case.id == place("case")))), limit=4096)


STATUTORY_FIELDS = (
    "referral_date", "cads_decision_on", "cads_decision", "primary_need", "nfa_at_referral",
    "assessment_started_on", "assessment_authorised_on", "assessment_factors", "assessment_outcome",
    "last_strategy_discussion_on", "initiating_strategy_discussion_on", "s47_started_on", "s47_outcome",
    "icpc_held_on", "icpc_outcome", "icpc_not_required", "cp_plan_started_on", "cp_plan_ended_on",
    "initial_category", "latest_category", "first_core_group_on", "cin_plan_started_on",
    "cin_plan_ended_on", "closed_on", "closure_reason", *(d.due_column for d in DEADLINES),
)


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value
