"""Who does a task: claiming from a role's queue, releasing, and managers reassigning."""
from __future__ import annotations

from engine import CaseConflict, EngineError, NotPermitted, TaskNotFound

from . import audit
from .db import database
from .models import Task
from .users import actor_for, get_user

MANAGER_ROLES = frozenset({"team_manager", "cads_manager"})


def _open_task(task_id: str) -> Task:
    task = Task.get_or_none(Task.id == task_id)
    if task is None:
        raise TaskNotFound(f"no open task {task_id}")
    return task


def claim_task(task_id: str, username: str) -> Task:
    """Take a task from one of my roles' queues; refused if someone else holds it."""
    user, actor = actor_for(username)
    with database.atomic():
        task = _open_task(task_id)
        if task.role not in actor.roles:
            raise NotPermitted(f"{username} does not hold the role {task.role} needed for {task.name}")
        rows = Task.update(assignee=user).where(Task.id == task.id, (Task.assignee.is_null()) |
                                                (Task.assignee == user)).execute()
        if rows != 1:
            raise CaseConflict(f"{task.name} has already been claimed by someone else")
        audit.record(username, "change", "task", task.id, None, {"action": "claimed", "task": task.name},
                     case_id=task.case_id)
    return Task.get_by_id(task.id)


def release_task(task_id: str, username: str) -> Task:
    """Put my task back in its role's queue."""
    user, _actor = actor_for(username)
    with database.atomic():
        task = _open_task(task_id)
        if task.assignee_id != user.id:
            raise NotPermitted(f"{task.name} is not assigned to {username}")
        Task.update(assignee=None).where(Task.id == task.id).execute()
        audit.record(username, "change", "task", task.id, None, {"action": "released", "task": task.name},
                     case_id=task.case_id)
    return Task.get_by_id(task.id)


def reassign_task(task_id: str, manager: str, to_username: str | None) -> Task:
    """A manager gives a task to someone holding its role (or back to the queue with None)."""
    _manager, actor = actor_for(manager)
    if not actor.roles & MANAGER_ROLES:
        raise NotPermitted(f"{manager} is not a manager and cannot reassign tasks")
    with database.atomic():
        task = _open_task(task_id)
        target = None
        if to_username:
            target, target_actor = actor_for(to_username)
            if task.role not in target_actor.roles:
                raise EngineError(f"{to_username} does not hold the role {task.role} needed for {task.name}")
        Task.update(assignee=target).where(Task.id == task.id).execute()
        audit.record(manager, "change", "task", task.id, None, {"action": "reassigned", "task": task.name,
                                                                "to": to_username}, case_id=task.case_id)
    return Task.get_by_id(task.id)


def holders_of(role: str) -> list:
    """Active users holding ``role`` (for a manager's reassignment list)."""
    from .models import User, UserRole
    return list(User.select().join(UserRole).where(UserRole.role == role, User.active == True)  # noqa: E712
                .order_by(User.full_name))


__all__ = ["claim_task", "release_task", "reassign_task", "holders_of", "get_user"]
