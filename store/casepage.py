"""Read models for the case page, the contact form's duplicate check and the managers' team view."""
from __future__ import annotations

from datetime import date
from difflib import SequenceMatcher
from typing import Any

from peewee import JOIN, fn

from engine import DEADLINE_KEYS, WorkingDayCalendar, case_progress, process_index
from engine.calendar import LONDON
from engine.chronology import SYSTEM

from .cases import Safeguarding
from .views import chronology, siblings
from .models import Case, CaseState, Person, Task, User
from .views import deadline_status
from .timeutil import from_db

# The roles whose queues each manager oversees. Escalations open in the manager's own lane, so it
# is included. Independent chairs and business support belong to no locality team.
MANAGED_ROLES = {
    "team_manager": ("social_worker", "family_help_practitioner", "team_manager"),
    "cads_manager": ("contact_officer", "cads_social_worker", "cads_manager",
                     "mash_police", "mash_health", "mash_education", "mash_probation"),
}
SIMILAR = 0.8  # names at least this alike (difflib ratio) count as "similar"


# -- case page --------------------------------------------------------------------------
def case_page(case: Case, today: date, calendar: WorkingDayCalendar) -> dict[str, Any]:
    """What the case page shows: the child, contact, family, siblings, tasks, deadlines, chronology."""
    payload = case.contact.payload or {}
    entries = chronology(case)
    names = _full_names({e.actor for e in entries if e.actor})
    tasks = list(Task.select(Task, User).join(User, on=(Task.assignee == User.id), join_type=JOIN.LEFT_OUTER)
                 .where(Task.case == case.id).order_by(Task.due.asc(nulls="LAST"), Task.created_at, Task.id))
    return {
        "case": case,
        "child": case.child,
        "child_details": _child_entry(case, payload),
        "contact": case.contact,
        "payload": payload,
        "family": payload.get("family_members") or [],
        "referrer": payload.get("referrer") or {},
        "siblings": siblings(case),
        "tasks": [{"task": t, "left": calendar.working_days_between(today, t.due) if t.due else None}
                  for t in tasks],
        "deadlines": [deadline_status(case, key, today, calendar) for key in DEADLINE_KEYS],
        "chronology": [{"entry": e, "who": "System" if e.actor == SYSTEM else names.get(e.actor, e.actor or ""),
                        "happened": e.happened, "recorded": from_db(e.at).astimezone(LONDON)} for e in entries],
        "allocated_worker": case.allocated_worker,
        "previous_case": case.previous_case,
    }


def _child_entry(case: Case, payload: dict[str, Any]) -> dict[str, Any]:
    """This case's child as the contact described them (cases of a contact follow its children's order)."""
    children = payload.get("children") or []
    ids = [c.id for c in Case.select(Case.id).where(Case.contact == case.contact_id).order_by(Case.id)]
    index = ids.index(case.id) if case.id in ids else 0
    return children[index] if index < len(children) else {}


def _full_names(usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    return {u.username: u.full_name for u in User.select(User.username, User.full_name)
            .where(User.username.in_(sorted(usernames)))}


def diagram_progress(service: Safeguarding, case: Case) -> list[dict[str, Any]]:
    """The processes the case has entered, in order: id, name, file, completed and active ids."""
    diagrams = service.diagrams_for(case.diagram_version_id)
    state = CaseState.get_by_id(case.id).state
    index = process_index(diagrams)
    rows = []
    for pid, marks in case_progress(service.engine, diagrams, state).items():
        info = index[pid]
        flows = {flow_id for flow_id, _source, _target in info.flows}
        done = [info.names[e] for e in marks["completed"] if e not in flows and info.names.get(e)]
        rows.append({"id": pid, "name": info.name, "file": info.file, **marks,
                     "active_names": [info.names[e] for e in marks["active"] if info.names.get(e)],
                     "done_names": list(dict.fromkeys(done))})
    return rows


def diagram_xml(service: Safeguarding, case: Case, process_id: str) -> str | None:
    """The BPMN XML drawing one process of the case's diagram version (None if it has none)."""
    diagrams = service.diagrams_for(case.diagram_version_id)
    info = process_index(diagrams).get(process_id)
    return diagrams.files.get(info.file) if info else None


# -- possible duplicates ----------------------------------------------------------------
def possible_matches(child: dict[str, Any], limit: int = 5, where=None) -> list[dict[str, Any]]:
    """Existing child records that may be this child: same birth date and a similar name, or same name.
    ``where`` (a Case condition) leaves out children none of whose cases it admits."""
    given = (child.get("given_name") or "").strip().lower()
    family = (child.get("family_name") or "").strip().lower()
    born = child.get("expected_date_of_birth") if child.get("unborn") else child.get("date_of_birth")
    if not family:
        return []
    query = Person.select().where(Person.kind == "child")
    born_field = Person.expected_date_of_birth if child.get("unborn") else Person.date_of_birth
    query = query.where((born_field == born) | (fn.LOWER(Person.family_name) == family)) if born \
        else query.where(fn.LOWER(Person.family_name) == family)
    found = []
    for person in query.order_by(Person.id).limit(200):
        same_day = born is not None and _iso(getattr(person, born_field.name)) == born
        family_alike = _alike(family, person.family_name)
        given_alike = _alike(given, person.given_name) if given else not person.given_name
        if (same_day and (family_alike or given_alike)) or (family_alike and given_alike and not same_day
                                                              and (not born or not getattr(person, born_field.name))):
            found.append(person)
    rows = []
    for person in found:
        cases = _narrowed(Case.select().where(Case.child == person), where)
        latest = cases.order_by(Case.referral_date.desc(), Case.id.desc()).first()
        if latest is not None and len(rows) < limit:
            rows.append({"person": person, "latest_case": latest, "cases": cases.count()})
    return rows


def _narrowed(query, where):
    """``query`` further narrowed by ``where`` (the access rules' condition), when given."""
    return query if where is None else query.where(where)


def _alike(a: str, b: str | None) -> bool:
    return bool(a and b) and SequenceMatcher(None, a, b.strip().lower()).ratio() >= SIMILAR


def _iso(value) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


# -- team view --------------------------------------------------------------------------
def managed_roles(roles: set[str] | frozenset[str]) -> list[str]:
    """The roles whose work a holder of ``roles`` manages (empty for non-managers)."""
    return sorted({r for role in roles for r in MANAGED_ROLES.get(role, ())})


def team_tasks(roles: list[str], today: date, calendar: WorkingDayCalendar, where=None) -> list[dict[str, Any]]:
    """Open tasks for ``roles`` (of cases ``where`` admits): overdue first, then escalations, then by due date."""
    tasks = _narrowed(Task.select(Task, Case, Person).join(Case).join(Person).where(Task.role.in_(roles)), where) \
        .order_by(Task.due.asc(nulls="LAST"), Task.created_at, Task.id)
    rows = []
    for task in tasks:
        left = calendar.working_days_between(today, task.due) if task.due else None
        rows.append({"task": task, "left": left, "overdue": left is not None and left < 0,
                     "escalation": task.bpmn_id.startswith("escalate_")})
    rows.sort(key=lambda r: (not r["overdue"], not r["escalation"], r["task"].due or date.max))
    return rows


def team_cases(roles: list[str], today: date, calendar: WorkingDayCalendar,
               include_allocated: bool, where=None) -> list[dict[str, Any]]:
    """Open cases with work in ``roles`` (and, for locality managers, every allocated case), overdue first;
    only those ``where`` (a Case condition) admits."""
    with_work = Task.select(Task.case).where(Task.role.in_(roles))
    condition = Case.id.in_(with_work)
    if include_allocated:
        condition = condition | Case.allocated_worker.is_null(False)
    cases = _narrowed(Case.select(Case, Person).join(Person).switch(Case).where(Case.status == "open", condition),
                      where).order_by(Case.referral_date, Case.id)
    workers = {u.id: u for u in User.select().where(User.id.in_(
        [c.allocated_worker_id for c in cases if c.allocated_worker_id] or [0]))}
    rows = []
    for case in cases:
        overdue = [d for d in (deadline_status(case, key, today, calendar) for key in DEADLINE_KEYS)
                   if d["status"].startswith("OVERDUE")]
        rows.append({"case": case, "worker": workers.get(case.allocated_worker_id), "overdue": overdue})
    rows.sort(key=lambda r: not r["overdue"])
    return rows
