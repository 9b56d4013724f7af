"""Allocating a case to a social worker: the case moves to the worker's team (who may see it follows).

A case is also allocated implicitly when a social worker completes its first social work task
(``Safeguarding.complete_task``); a manager allocates explicitly here. A team manager allocates
to a social worker of their own team, the CADS manager to a social worker of any team (the front
door hands a case over to a locality). The case's open social work tasks (unassigned, or the
previous allocated worker's) go to the worker: statutory work stays with the allocated worker.
"""
from __future__ import annotations

from datetime import datetime

from engine import CaseConflict, EngineError, FieldError, NotPermitted, ValidationFailed, local_date

from . import audit
from .access import Viewer, can_see_case
from .cases import ALLOCATED_ROLE, lock_case
from .db import database
from .models import Case, ChronologyEntry, Task, Team, User, UserRole
from .timeutil import to_db
from .users import actor_for

ALLOCATING_MANAGERS = frozenset({"team_manager", "cads_manager"})


def allocatable_workers(manager: Viewer) -> list[User]:
    """The social workers ``manager`` may allocate to: their own team's, or any team's for CADS."""
    query = (User.select().join(UserRole).where(UserRole.role == ALLOCATED_ROLE, User.active == True,  # noqa: E712
                                                User.team.is_null(False)))
    if "cads_manager" not in manager.roles:
        query = query.where(User.team == manager.team_id)
    return list(query.order_by(User.full_name))


def allocate_case(case_id: int, worker: str, by: str, now: datetime) -> Case:
    """Allocate the case to ``worker`` (and their team); refused clearly, changing nothing."""
    manager_user, manager_actor = actor_for(by)
    manager = Viewer.of(manager_user, manager_actor.roles)
    if not manager.roles & ALLOCATING_MANAGERS or not can_see_case(manager, case_id):
        raise NotPermitted(f"{by} may not allocate case {case_id}: a team manager or the CADS manager who can see it may")
    target = User.get_or_none(User.username == worker, User.active == True)  # noqa: E712
    if target is None or target.id not in {u.id for u in allocatable_workers(manager)}:
        raise ValidationFailed([FieldError("worker", f"{worker or 'nobody'} is not a social worker {by} can allocate to "
                                                     "(a social worker with a team; a team manager's own team)")],
                               title="Choose the social worker")
    team = Team.get_by_id(target.team_id)
    with database.atomic():
        case = lock_case(case_id)
        if case.status != "open":
            raise EngineError(f"case {case.reference} is closed")
        rows = (Case.update(allocated_worker=target, team=team, version=Case.version + 1, updated_at=to_db(now))
                .where(Case.id == case.id, Case.version == case.version).execute())
        if rows != 1:
            raise CaseConflict(f"case {case.reference} was changed by someone else; nothing was saved")
        held = Task.assignee.is_null() if case.allocated_worker_id is None else \
            (Task.assignee.is_null() | (Task.assignee == case.allocated_worker_id))
        Task.update(assignee=target).where(Task.case == case.id, Task.role == ALLOCATED_ROLE, held).execute()
        ChronologyEntry.create(case=case, at=to_db(now), happened_on=local_date(now), actor=by, kind="allocated",
                               summary=f"Allocated to {target.full_name} ({team.name})",
                               details={"worker": target.username, "team": team.name})
        audit.record(by, "change", "case", case.id, now, {"action": "allocated", "worker": target.username,
                                                          "team": team.name}, case_id=case.id)
    return Case.get_by_id(case.id)


__all__ = ["allocate_case", "allocatable_workers"]
