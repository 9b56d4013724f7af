"""The one place that decides who may see a case or task: every route goes through these helpers."""
from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, has_app_context, has_request_context, request
from flask_login import current_user

from store import audit
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
    """The case, or 404 if it does not exist, or 403 if this user may not see it (both views and
    refusals are recorded in the audit)."""
    case = _case_or_404(case_id)
    _audit("view", "case", case.id, case.id)
    return case


def _case_or_404(case_id: int) -> Case:
    case = Case.get_or_none(Case.id == case_id)
    if case is None:
        abort(404, f"There is no case {case_id}")
    if not can_see_case(case):
        _audit("refused", "case", case.id, case.id)
        abort(403)
    return case


def get_task_or_404(task_id: str) -> Task:
    """An open task this user may work on (holds its role), or 404/403 (recorded as for cases)."""
    task = Task.get_or_none(Task.id == task_id)
    if task is None:
        abort(404, "This task is not open: it may have been completed or cancelled")
    if task.role not in current_user.roles and not current_user.is_manager:
        _audit("refused", "task", task.id, task.case_id)
        abort(403)
    _case_or_404(task.case_id)
    _audit("view", "task", task.id, task.case_id)
    return task


def _audit(action: str, record_type: str, record_id, case_id: int | None) -> None:
    """Append a view or refusal by the signed-in user to the audit chain."""
    detail = {"method": request.method, "path": request.path[:200]} if has_request_context() else None
    audit.record(getattr(current_user, "username", None) or "anonymous", action, record_type, record_id,
                 None, detail, case_id=case_id)


def _request_address() -> str | None:
    return (request.remote_addr or "unknown") if has_request_context() else None


def _request_clock() -> datetime | None:
    if not has_app_context():
        return None
    context = current_app.extensions.get("safeguarding")
    return context.clock.now() if context is not None else None


audit.set_address_provider(_request_address)
audit.set_clock_provider(_request_clock)
