"""Who may see which case: the rules as query conditions, so one check serves pages, lists and the API.

A case is visible to a viewer when it is not restricted and one of these holds (or, restricted,
when the viewer is named on it):

* front door (contact officer, CADS social worker, CADS manager): the case has no team yet
  (a contact, the CADS decision, MASH checks, awaiting allocation);
* its allocated worker;
* members of its team holding a locality role (social worker, team manager, family help);
* the LADO: cases the CADS decision sent to the LADO;
* the chair of one of its conferences; business support (conference administration) for any
  case with a conference or a conference chair's task;
* whoever holds the role of an open task on it that is theirs or unassigned (a team manager also
  the roles they manage), except MASH partners; tasks of locality roles count only while the case
  has no team or it is the viewer's team.

MASH partners never see a case: only their own agency's checks (``task_condition``). The rules
are peewee expressions, so a list filtered with them and a page checked with them always agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from peewee import SQL, CharField, DateTimeField, ForeignKeyField, TextField, fn

from engine import EngineError, FieldError, NotPermitted, ValidationFailed

from . import audit
from .db import database
from .models import BaseModel, Case, Conference, Task, User
from .prepared import PreparedFamily
from .timeutil import to_db
from .users import actor_for, roles_of

FRONT_DOOR = frozenset({"contact_officer", "cads_social_worker", "cads_manager"})
LOCALITY = frozenset({"social_worker", "team_manager", "family_help_practitioner"})  # team-scoped roles
MASH = frozenset({"mash_police", "mash_health", "mash_education", "mash_probation"})
MANAGES = {"team_manager": LOCALITY, "cads_manager": FRONT_DOOR | MASH}
# Who may restrict a case and name the people who may see it: a manager who can see the case
# (team manager of its team, CADS manager at the front door), or an administrator acting on a
# request (an administrator is not named by restricting and sees the case only if named).
RESTRICTING_MANAGERS = frozenset({"team_manager", "cads_manager"})
ADMIN = "admin"


class RestrictedCase(BaseModel):
    """A case only the people named in CaseAccess may see (a child related to a member of staff)."""

    case = ForeignKeyField(Case, primary_key=True, on_delete="CASCADE")
    restricted_by = CharField(max_length=80)
    restricted_at = DateTimeField()
    reason = TextField()


class CaseAccess(BaseModel):
    """One person named on a restricted case."""

    case = ForeignKeyField(Case, backref="access_grants", on_delete="CASCADE")
    username = CharField(max_length=80)
    granted_by = CharField(max_length=80)
    granted_at = DateTimeField()
    reason = TextField()

    class Meta:
        indexes = ((("case", "username"), True),)


@dataclass(frozen=True)
class Viewer:
    """Whoever is looking: their user id, name, team and roles."""

    user_id: int
    username: str
    team_id: int | None
    roles: frozenset[str]

    @classmethod
    def of(cls, user: User, roles: frozenset[str] | None = None) -> "Viewer":
        return cls(user.id, user.username, user.team_id, frozenset(roles if roles is not None else roles_of(user)))


# -- the rules as conditions --------------------------------------------------------------
def _restricted_ids():
    return RestrictedCase.select(RestrictedCase.case)


def _named_ids(viewer: Viewer):
    return CaseAccess.select(CaseAccess.case).where(CaseAccess.username == viewer.username)


def not_hidden(viewer: Viewer):
    """Case condition: not restricted, or restricted with the viewer named."""
    return Case.id.not_in(_restricted_ids()) | Case.id.in_(_named_ids(viewer))


def _task_roles(viewer: Viewer) -> frozenset[str]:
    managed = frozenset(r for role in viewer.roles for r in MANAGES.get(role, ()))
    return (viewer.roles | managed) - MASH


def case_condition(viewer: Viewer):
    """Case condition: the cases ``viewer`` may see (for lists and single checks alike)."""
    ordinary = Case.allocated_worker == viewer.user_id
    if viewer.roles & FRONT_DOOR:
        ordinary |= Case.team.is_null()
    if viewer.team_id is not None and viewer.roles & LOCALITY:
        ordinary |= Case.team == viewer.team_id
    if "conference_chair" in viewer.roles:
        ordinary |= Case.id.in_(Conference.select(Conference.case).where(Conference.chair == viewer.user_id))
    if "lado" in viewer.roles:  # allegations against adults who work with children are the LADO's cases
        ordinary |= Case.cads_decision == "lado"
    if "business_support" in viewer.roles:  # conference administration: requested, booked and held ones
        ordinary |= (Case.id.in_(Conference.select(Conference.case))
                     | Case.id.in_(Task.select(Task.case).where(Task.role == "conference_chair")))
    ordinary |= Case.id.in_(Task.select(Task.case).where(Task.assignee == viewer.user_id))
    roles = _task_roles(viewer)
    queue = Task.select(Task.case).where(Task.assignee.is_null() | (Task.assignee == viewer.user_id))
    if roles - LOCALITY:
        ordinary |= Case.id.in_(queue.where(Task.role.in_(sorted(roles - LOCALITY))))
    if roles & LOCALITY:
        own_team = Case.team.is_null() if viewer.team_id is None else (Case.team.is_null() | (Case.team == viewer.team_id))
        ordinary |= own_team & Case.id.in_(queue.where(Task.role.in_(sorted(roles & LOCALITY))))
    return (Case.id.not_in(_restricted_ids()) & ordinary) | Case.id.in_(_named_ids(viewer))


def task_condition(viewer: Viewer):
    """Task condition (on a query joined to Case) for task lists: never another team's locality
    work, never a hidden case's work."""
    team_ok = Task.role.not_in(sorted(LOCALITY)) | Case.team.is_null()
    if viewer.team_id is not None:
        team_ok |= Case.team == viewer.team_id
    return not_hidden(viewer) & ((Task.assignee == viewer.user_id) | team_ok)


def visible_case_ids(viewer: Viewer):
    """A subquery of the ids of the cases ``viewer`` may see."""
    return Case.select(Case.id).where(case_condition(viewer))


def visible_among(viewer: Viewer, case_ids: Iterable[int]) -> set[int]:
    """Which of ``case_ids`` the viewer may see: one statement for a page's worth of cases.

    The ids are sent in groups of a few fixed sizes (the last id repeated to fill a group), so a
    viewer's statements are built and planned once per size, not once per page."""
    wanted = sorted(set(case_ids))
    seen: set[int] = set()
    for start in range(0, len(wanted), _AMONG_SIZES[-1]):
        group = wanted[start:start + _AMONG_SIZES[-1]]
        size = next(n for n in _AMONG_SIZES if n >= len(group))
        padded = group + group[-1:] * (size - len(group))
        seen.update(row.id for row in _AMONG[viewer, size].rows(**{f"c{i}": c for i, c in enumerate(padded)}))
    return seen


_AMONG_SIZES = (8, 16, 32, 64)
_AMONG = PreparedFamily(lambda key, place: Case.select(Case.id).where(
    Case.id.in_([place(f"c{i}") for i in range(key[1])]), case_condition(key[0])), limit=2048)


def can_see_case(viewer: Viewer, case_id: int) -> bool:
    """Whether ``viewer`` may see the case (the same condition the lists use)."""
    return _CAN_SEE[viewer].scalar(case=case_id) is not None


# The condition for one viewer, built once (store/prepared.py): every request that names a case asks it.
_CAN_SEE = PreparedFamily(lambda viewer, place: _seen(viewer, place("case")).limit(1), limit=4096)


def _seen(viewer: Viewer, case_id):
    """The case ``case_id`` (a value or a column) if ``viewer`` may see it: SELECT 1, or no row."""
    return Case.select(SQL("1")).where(Case.id == case_id, case_condition(viewer))


def can_open_task(viewer: Viewer, task: Task, case_seen: bool | None = None) -> bool:
    """A MASH partner opens their own agency's checks (never the case); anyone else a task of a
    case they may see, when they hold its role or manage it (the CADS manager manages MASH checks).
    ``case_seen``: whether the viewer may see the task's case, if the caller has read it already."""
    if task.role in viewer.roles and task.role in MASH:
        return not is_hidden(viewer, task.case_id)
    held = task.role in viewer.roles or any(task.role in MANAGES.get(r, ()) for r in viewer.roles)
    if not held:
        return False
    # the case condition already leaves hidden cases out
    return case_seen if case_seen is not None else can_see_case(viewer, task.case_id)


def open_task_for(viewer: Viewer, task_id: str) -> tuple[Task | None, bool]:
    """The open task with exactly this id (or None) and whether ``viewer`` may open it
    (can_open_task): the task and whether the viewer may see its case are one statement."""
    task = _TASK_AND_SIGHT[viewer].first(id=task_id)
    if task is None:
        return None, False
    return task, can_open_task(viewer, task, case_seen=bool(task.case_seen))


# A task with the case condition for one viewer (store/prepared.py): every API completion asks it.
_TASK_AND_SIGHT = PreparedFamily(lambda viewer, place: Task.select(
    Task, fn.EXISTS(_seen(viewer, Task.case)).alias("case_seen")).where(Task.id == place("id")), limit=4096)


def is_restricted(case_id: int) -> bool:
    return RestrictedCase.select().where(RestrictedCase.case == case_id).exists()


def is_hidden(viewer: Viewer, case_id: int) -> bool:
    """Restricted and ``viewer`` is not named on it."""
    return not Case.select(Case.id).where(Case.id == case_id, not_hidden(viewer)).exists()


# -- restricting ---------------------------------------------------------------------------
def restriction(case_id: int) -> tuple[RestrictedCase | None, list[CaseAccess]]:
    """The case's restriction (or None) and the people named on it."""
    row = RestrictedCase.get_or_none(RestrictedCase.case == case_id)
    names = list(CaseAccess.select().where(CaseAccess.case == case_id).order_by(CaseAccess.username))
    return row, names


def may_restrict(viewer: Viewer, case_id: int) -> bool:
    """An administrator, or a team or CADS manager who can see the case."""
    if ADMIN in viewer.roles:
        return True
    return bool(viewer.roles & RESTRICTING_MANAGERS) and can_see_case(viewer, case_id)


def _manager(username: str, case_id: int) -> Viewer:
    user, actor = actor_for(username)
    viewer = Viewer.of(user, actor.roles)
    if Case.get_or_none(Case.id == case_id) is None:
        raise EngineError(f"no case {case_id}")
    if not may_restrict(viewer, case_id):
        raise NotPermitted(f"{username} may not restrict case {case_id}: a team manager or CADS manager who "
                           "can see the case, or an administrator, may")
    return viewer


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed([FieldError("reason", "Enter the reason")], title="The reason is missing")
    return text


def restrict_case(case_id: int, by: str, reason: str, names: list[str], now: datetime) -> RestrictedCase:
    """Restrict a case to the named people (a restricting manager is named too)."""
    viewer = _manager(by, case_id)
    reason = _reason(reason)
    with database.atomic():
        row = RestrictedCase.get_or_none(RestrictedCase.case == case_id)
        if row is None:
            row = RestrictedCase.create(case=case_id, restricted_by=by, restricted_at=to_db(now), reason=reason)
            audit.record(by, "change", "restriction", case_id, now, {"action": "restricted"}, case_id=case_id)
        named = set(names) | ({by} if viewer.roles & RESTRICTING_MANAGERS else set())
        if not named:
            raise ValidationFailed([FieldError("names", "Name at least one person who may see the case")],
                                   title="Nobody is named")
        for username in sorted(named):
            grant_access(case_id, username, by, reason, now, _checked=True)
    return row


def grant_access(case_id: int, username: str, by: str, reason: str, now: datetime, _checked: bool = False) -> CaseAccess:
    """Name one more person on a restricted case."""
    if not _checked:
        _manager(by, case_id)
        reason = _reason(reason)
        if not is_restricted(case_id):
            raise EngineError(f"case {case_id} is not restricted: restrict it first")
    user = User.get_or_none(User.username == username)
    if user is None:
        raise ValidationFailed([FieldError("names", f"there is no user {username!r}")], title="Cannot name that person")
    with database.atomic():
        existing = CaseAccess.get_or_none(CaseAccess.case == case_id, CaseAccess.username == username)
        if existing is not None:
            return existing
        grant = CaseAccess.create(case=case_id, username=username, granted_by=by, granted_at=to_db(now), reason=reason)
        audit.record(by, "change", "restriction", case_id, now, {"action": "named", "username": username},
                     case_id=case_id)
    return grant


def revoke_access(case_id: int, username: str, by: str, now: datetime) -> None:
    """Remove a person from a restricted case (the last named person cannot be removed)."""
    _manager(by, case_id)
    with database.atomic():
        names = [g.username for g in CaseAccess.select().where(CaseAccess.case == case_id)]
        if username not in names:
            raise EngineError(f"{username} is not named on case {case_id}")
        if len(names) == 1:
            raise EngineError("the last person named on a restricted case cannot be removed: lift the restriction")
        CaseAccess.delete().where(CaseAccess.case == case_id, CaseAccess.username == username).execute()
        audit.record(by, "change", "restriction", case_id, now, {"action": "removed", "username": username},
                     case_id=case_id)


def unrestrict_case(case_id: int, by: str, reason: str, now: datetime) -> None:
    """Lift a restriction: the ordinary rules apply again (the audit keeps the history)."""
    _manager(by, case_id)
    reason = _reason(reason)
    with database.atomic():
        if RestrictedCase.delete().where(RestrictedCase.case == case_id).execute() != 1:
            raise EngineError(f"case {case_id} is not restricted")
        CaseAccess.delete().where(CaseAccess.case == case_id).execute()
        audit.record(by, "change", "restriction", case_id, now, {"action": "lifted", "reason": reason}, case_id=case_id)


def backfill_case_teams(_now: datetime | None = None) -> int:
    """Cases allocated before cases had teams: the allocated worker's team (schema migration 3)."""
    team = User.select(User.team).where(User.id == Case.allocated_worker)
    return Case.update(team=team).where(Case.team.is_null(), Case.allocated_worker.is_null(False)).execute()


# -- refused attempts ----------------------------------------------------------------------
def refused_attempts(viewer: Viewer, case_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Refused attempts to open records, newest first: all of them for administrators and
    information governance, otherwise those on cases the viewer (a manager) may see."""
    query = audit.AuditEntry.select().where(audit.AuditEntry.action == "refused")
    if case_id is not None:
        query = query.where(audit.AuditEntry.case_id == case_id)
    if not viewer.roles & {ADMIN, "information_governance"}:
        query = query.where(audit.AuditEntry.case_id.in_(visible_case_ids(viewer)))
    rows = list(query.order_by(audit.AuditEntry.id.desc()).limit(limit))
    names = {u.username: u.full_name for u in User.select().where(User.username.in_({r.actor for r in rows} or {""}))}
    return [{"at": r.at, "actor": r.actor, "name": names.get(r.actor, r.actor), "record_type": r.record_type,
             "record_id": r.record_id, "case_id": r.case_id, "path": (r.detail or {}).get("path"),
             "address": r.address} for r in rows]


__all__ = ["RestrictedCase", "CaseAccess", "Viewer", "case_condition", "task_condition", "not_hidden",
           "visible_case_ids", "visible_among", "can_see_case", "can_open_task", "open_task_for", "is_restricted",
           "is_hidden", "restriction", "may_restrict", "restrict_case", "grant_access", "revoke_access",
           "unrestrict_case", "refused_attempts",
           "backfill_case_teams",
           "FRONT_DOOR", "LOCALITY", "MASH"]
