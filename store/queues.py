"""Task queues: finding an open task by its id, and listing a role's or a person's open tasks,
overdue first, as the access rule lets a viewer see them (store/access.py)."""
from __future__ import annotations

from datetime import date
from typing import Any

from peewee import JOIN

from engine import CaseConflict, TaskNotFound

from .access import Viewer, task_condition
from .models import Case, ChronologyEntry, Person, Task, User
from .prepared import Prepared, PreparedFamily
from .users import actor_for

_TASK_BY_ID = Prepared(lambda place: Task.select().where(Task.id == place("id")))


def find_task(task_id: str) -> Task:
    """A READY task by id or unique id prefix (at least 6 characters)."""
    task_id = (task_id or "").strip().lower()
    if len(task_id) < 6:
        raise TaskNotFound(f"no task {task_id!r}: give at least 6 characters of the task id")
    matches = (_TASK_BY_ID.rows(id=task_id) if len(task_id) == 36
               else list(Task.select().where(Task.id.startswith(task_id)).limit(2)))
    if not matches:
        done = (ChronologyEntry.select().where(ChronologyEntry.task_id == task_id)
                .order_by(ChronologyEntry.id.desc()).first()) if len(task_id) == 36 else None
        if done is not None:
            raise CaseConflict(f"task {done.details.get('task', task_id)} was already completed by {done.actor} "
                               f"on {done.at.date().isoformat()}")
        raise TaskNotFound(f"no open task {task_id}")
    if len(matches) > 1:
        raise TaskNotFound(f"task id {task_id} is ambiguous: give more characters")
    return matches[0]


def list_tasks(role: str | None = None, username: str | None = None, limit: int | None = 200,
               viewer: Viewer | None = None) -> list[Task]:
    """Open tasks for a role's queue and/or a user (their own and their roles' unassigned), overdue first;
    with ``viewer``, only the ones the access rules let them see in a list (store/access.py).

    Each part of the queue (the user's own tasks, each role's unassigned ones; dated, then undated)
    is its own query along the (assignee, due) or (role, due) index, limited, and the parts are
    merged: the first page costs the same with a hundred thousand open tasks as with a hundred.
    Each part's SQL is built once per viewer (store/prepared.py): building it took longer than
    SQLite takes to answer it.
    """
    if username:
        if viewer is not None and viewer.username == username:
            user_id, roles = viewer.user_id, viewer.roles
        else:
            user, actor = actor_for(username)
            user_id, roles = user.id, actor.roles
        parts = [("mine", {"user": user_id})] + [("queue", {"role": r}) for r in sorted([role] if role else roles)]
    else:
        parts = [("role", {"role": role})] if role else [("all", {})]
    bound = {} if limit is None else {"limit": limit}
    found: dict[str, Task] = {}
    for dated in (True, False):
        if not dated and limit is not None and len(found) >= limit:
            break  # undated tasks come after every dated one
        for kind, values in parts:
            rows = _QUEUE_PART[kind, dated, limit is None, viewer].tuples(**values, **bound)
            found.update((t.id, t) for t in _queue_tasks(rows))
    return sorted(found.values(), key=lambda t: (t.due is None, t.due or date.min, t.created_at, t.id))[:limit]


# The parts of a queue: a user's own tasks, one role's unassigned ones, one role's, every open task.
_QUEUE_PARTS = {"mine": lambda place: Task.assignee == place("user"),
                "queue": lambda place: Task.assignee.is_null() & (Task.role == place("role")),
                "role": lambda place: Task.role == place("role"),
                "all": lambda place: None}


# What a queue shows, not whole cases: each model's columns, in the order they are selected.
_QUEUE_COLUMNS = ((Task, tuple(Task._meta.sorted_fields)),
                  (Case, (Case.id, Case.child, Case.diagram_version, Case.stage, Case.status, Case.referral_date)),
                  (Person, (Person.id, Person.given_name, Person.family_name)),
                  (User, (User.id, User.username, User.full_name)))


def _queue_tasks(rows: list[tuple]) -> list[Task]:
    """A queue's rows as tasks with their case, the case's child and the assignee, built here:
    peewee's general row conversion (a model instance per table, each value set through its
    field) took 3.5 ms of a 16 ms inbox page of 50 rows. Values are converted by each field, as
    peewee converts them; the instances are what a peewee query of these columns gives."""
    tasks = []
    for row in rows:
        values = iter(row)
        task, case, child, assignee = (_loaded(model, {f.name: None if v is None else f.python_value(v)
                                                       for f, v in zip(fields, values)})
                                       for model, fields in _QUEUE_COLUMNS)
        case.__rel__["child"] = child
        task.__rel__["case"] = case
        if assignee.__data__["id"] is not None:
            task.__rel__["assignee"] = assignee
        tasks.append(task)
    return tasks


def _loaded(model, data: dict[str, Any]):
    """An instance of ``model`` holding ``data`` as read (nothing dirty), as peewee's rows are."""
    instance = model.__new__(model)
    instance.__data__, instance._dirty, instance.__rel__ = data, set(), {}
    return instance


def _queue_part(key: tuple[str, bool, bool, Viewer | None], place) -> Any:
    kind, dated, unlimited, viewer = key
    query = (Task.select(*(f for _model, fields in _QUEUE_COLUMNS for f in fields))
             .join(Case).join(Person).switch(Task).join(User, JOIN.LEFT_OUTER, on=(Task.assignee == User.id))
             .where(Task.due.is_null(False) if dated else Task.due.is_null()))
    part = _QUEUE_PARTS[kind](place)
    if part is not None:
        query = query.where(part)
    if viewer is not None:
        query = query.where(task_condition(viewer))
    query = query.order_by(Task.due, Task.created_at, Task.id)
    return query if unlimited else query.limit(place("limit"))


_QUEUE_PART = PreparedFamily(_queue_part, limit=2048)  # at most twelve per viewer
