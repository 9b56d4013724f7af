"""The one place that decides who may see a case or task: every route goes through these helpers."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from store.models import Case, Task

FRONT_DOOR = frozenset({"contact_officer", "cads_social_worker", "cads_manager"})
CASEWORK = frozenset({"social_worker", "team_manager", "conference_chair", "business_support",
                      "family_help_practitioner", "lado"})
MASH = frozenset({"mash_police", "mash_health", "mash_education", "mash_probation"})
REFERRER_VISIBLE = frozenset({"contact_officer", "cads_social_worker", "cads_manager"})


def can_see_case(case: Case) -> bool:
    """Front door and casework roles see cases; a MASH partner only those with a check asked of them."""
    roles = current_user.roles
    if roles & (FRONT_DOOR | CASEWORK):
        return True
    mash_roles = roles & MASH
    if mash_roles:
        return Task.select().where(Task.case == case.id, Task.role.in_(list(mash_roles))).exists()
    return False


def can_see_referrer(case: Case) -> bool:
    """Who referred is for CADS roles only; an anonymous referrer for the CADS manager alone."""
    if case.contact.referrer_anonymous:
        return "cads_manager" in current_user.roles
    return bool(current_user.roles & REFERRER_VISIBLE)


def get_case_or_404(case_id: int) -> Case:
    """The case, or 404 if it does not exist, or 403 if this user may not see it."""
    case = Case.get_or_none(Case.id == case_id)
    if case is None:
        abort(404, f"There is no case {case_id}")
    if not can_see_case(case):
        abort(403)
    return case


def get_task_or_404(task_id: str) -> Task:
    """An open task this user may work on (holds its role), or 404/403."""
    task = Task.get_or_none(Task.id == task_id)
    if task is None:
        abort(404, "This task is not open: it may have been completed or cancelled")
    if task.role not in current_user.roles and not current_user.is_manager:
        abort(403)
    get_case_or_404(task.case_id)
    return task
