"""The one place that decides who may see a case, task, conference or person on the web and the API.

``guard_routes(app)`` wraps every route whose URL names a record (``case_id``, ``task_id``,
``conference_id``, ``person_id``) with the check for that record, so a new route cannot forget it
(tests/webui/test_access_matrix.py walks the URL map to prove it). The rules themselves are in
store/access.py. Views and refusals are written to the audit. A restricted case answers 404 to
anyone not named on it, exactly as if it did not exist (the refusal is still audited); any other
case the user may not see answers 403.
"""
from __future__ import annotations

from datetime import datetime
from functools import wraps

from flask import Flask, abort, current_app, g, has_app_context, has_request_context, request
from flask_login import current_user
from werkzeug.exceptions import NotFound

from store import access as rules
from store import audit
from store.models import Case, Conference, Person, Task

from .limits import MAX_ID

FRONT_DOOR = rules.FRONT_DOOR
REFERRER_VISIBLE = FRONT_DOOR  # who referred is for CADS roles only
SAR_ROLES = frozenset({"information_governance"})  # who may produce a subject access pack


def viewer() -> rules.Viewer:
    """The signed-in user as the access rules see them (once per request)."""
    if "access_viewer" not in g:
        g.access_viewer = rules.Viewer.of(current_user.user, current_user.roles)
    return g.access_viewer


def can_see_case(case: Case) -> bool:
    """Whether the signed-in user may see ``case`` (store/access.py has the rules)."""
    return rules.can_see_case(viewer(), case.id)


def can_see_referrer(case: Case) -> bool:
    """Who referred is for CADS roles only; an anonymous referrer for the CADS manager alone."""
    if case.contact.referrer_anonymous:
        return "cads_manager" in current_user.roles
    return bool(current_user.roles & REFERRER_VISIBLE)


def _once(kind: str, key, check):
    """``check(key)`` once per request (the route guard and the view both ask; one audit entry)."""
    if "access_checked" not in g:
        g.access_checked = {}
    if (kind, key) not in g.access_checked:
        g.access_checked[(kind, key)] = check(key)
    return g.access_checked[(kind, key)]


def get_case_or_404(case_id: int) -> Case:
    """The case, or 404 if it does not exist (or is restricted and the user is not named), or 403
    if this user may not see it; views and refusals are audited once per request."""
    return _once("case", case_id, _check_case)


def _check_case(case_id: int) -> Case:
    # An id from a posted field (not the URL's bounded converter) may be beyond any column: no such case.
    case = Case.get_or_none(Case.id == case_id) if 0 < case_id <= MAX_ID else None
    if case is None:
        abort(404, f"There is no case {case_id}")
    if not can_see_case(case):
        _refuse("case", case.id, case.id)
    _audit("view", "case", case.id, case.id)
    return case


def _refuse(record_type: str, record_id, case_id: int) -> None:
    """Record the refused attempt, then answer 404 for a hidden restricted case, else 403."""
    _audit("refused", record_type, record_id, case_id)
    if rules.is_hidden(viewer(), case_id):
        abort(404, f"There is no case {case_id}" if record_type == "case" else None)
    abort(403)


class TaskGone(NotFound):
    """The task is not open (any more): a 404 that the route guard leaves to the view to explain."""


def get_task_or_404(task_id: str) -> Task:
    """An open task this user may open, or 404/403 (recorded as for cases)."""
    return _once("task", task_id, _check_task)


def _check_task(task_id: str) -> Task:
    task, may_open = rules.open_task_for(viewer(), task_id)
    if task is None:
        raise TaskGone("This task is not open: it may have been completed or cancelled")
    if not may_open:
        _refuse("task", task.id, task.case_id)
    _audit("view", "task", task.id, task.case_id)
    return task


def get_conference_or_404(conference_id: int) -> Conference:
    """A conference of a case this user may see (the case check is audited)."""
    conference = Conference.get_or_none(Conference.id == conference_id)
    if conference is None:
        abort(404, f"There is no conference {conference_id}")
    get_case_or_404(conference.case_id)
    return conference


def get_person_or_404(person_id: int) -> Person:
    """A person's record, for information governance only (subject access)."""
    if not current_user.roles & SAR_ROLES:
        _audit("refused", "person", person_id, None)
        abort(403)
    person = Person.get_or_none(Person.id == person_id)
    if person is None:
        abort(404, f"There is no person {person_id}")
    return person


def _if_open(model, getter):
    """A guard that leaves a missing task or conference to the view (it explains what became of it)."""
    def check(value):
        if model.select().where(model.id == value).exists():
            getter(value)
    return check


def _open_task_guard(getter):
    """A guard that reads the task once and leaves one that is not open (never was, or was
    completed a moment ago) to the view, which explains what became of it."""
    def check(task_id):
        try:
            getter(task_id)
        except TaskGone:
            pass
    return check


# URL argument -> the check made before the view runs.
GUARDS = {"case_id": get_case_or_404, "task_id": _open_task_guard(get_task_or_404),
          "conference_id": _if_open(Conference, get_conference_or_404), "person_id": get_person_or_404}


# Routes naming a case that a role may use without seeing the case: a process owner moves a
# migrated case back to its diagram version (no case content is shown to them).
TECHNICAL_ROUTES = {"diagrams.rollback": frozenset({"process_owner"})}


def guard_routes(app: Flask) -> None:
    """Wrap every view whose URL names a record with that record's check (signed-in users only:
    a visitor is left to the login or bearer-token refusal)."""
    for rule in app.url_map.iter_rules():
        names = sorted(set(rule.arguments) & set(GUARDS))
        view = app.view_functions.get(rule.endpoint)
        if not names or view is None or getattr(view, "access_guard", None):
            continue
        app.view_functions[rule.endpoint] = _guarded(view, names, TECHNICAL_ROUTES.get(rule.endpoint, frozenset()))


def _guarded(view, names: list[str], technical_roles: frozenset[str]):
    @wraps(view)
    def checked(*args, **kwargs):
        if current_user.is_authenticated and not current_user.roles & technical_roles:
            for name in names:
                if name in kwargs:
                    GUARDS[name](kwargs[name])
        return view(*args, **kwargs)
    checked.access_guard = tuple(names)
    return checked


def _audit(action: str, record_type: str, record_id, case_id: int | None) -> None:
    """Append a view or refusal by the signed-in user to the audit chain.

    A view in a web request is taken down now and appended with the request's change, if it
    makes one (one write instead of two), else before the answer leaves (``append_views``)."""
    actor = getattr(current_user, "username", None) or "anonymous"
    detail = {"method": request.method, "path": request.path[:200]} if has_request_context() else None
    if action == "view" and detail is not None:
        g.setdefault("audit_pending", []).append(audit.pending(actor, action, record_type, record_id, detail, case_id))
        return
    audit.record(actor, action, record_type, record_id, None, detail, case_id=case_id)


def append_views(response):
    """After a request's view (before the answer is sent): append the views not yet appended.
    If that fails the answer is an error, never the record unaudited."""
    audit.append_pending()
    return response


def _request_pending() -> list | None:
    return g.get("audit_pending") if has_request_context() else None


def _request_address() -> str | None:
    return (request.remote_addr or "unknown") if has_request_context() else None


def _request_clock() -> datetime | None:
    if not has_app_context():
        return None
    context = current_app.extensions.get("safeguarding")
    return context.clock.now() if context is not None else None


audit.set_address_provider(_request_address)
audit.set_clock_provider(_request_clock)
audit.set_pending_provider(_request_pending)
