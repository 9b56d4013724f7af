"""The JSON API for partner systems and automated clients: bearer tokens, the user's own permissions.

Every route needs ``Authorization: Bearer <token>`` (``safeguarding users token NAME`` makes one);
a browser session is not enough. Errors are JSON: ``{"error", "status", "detail"}`` plus
``errors: [{field, message}]`` for invalid data (422). The routes are described by
``GET /api/openapi.json`` (webui/openapi.py). Every POST honours an ``Idempotency-Key`` header
(store/idempotency.py): a retry with the same key gets the first answer and changes nothing again.
"""
from __future__ import annotations

import functools
import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import NotFound

from engine import DEADLINE_KEYS, CaseConflict, FieldError, ValidationFailed
from store.queues import list_tasks
from store.db import database
from store.idempotency import check_key, fingerprint, remember, reserve
from store.models import Case, Task
from store.tasks import claim_task
from store.tokens import user_for_token
from store.views import case_summary, open_tasks_if_visible, siblings

from .access import FRONT_DOOR, can_see_case, can_see_referrer, get_case_or_404, get_task_or_404, viewer
from .context import clock, csrf, service
from .limits import MAX_ID
from .session import CurrentUser

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # no cookies are trusted here: a bearer token cannot be sent by another site's form

CONTACT_ROLES = FRONT_DOOR  # contact officers and CADS staff record contacts
COMPLETE_KEYS = {"data", "token"}


# -- authentication ------------------------------------------------------------------------
@bp.before_request
def _authenticate() -> Response | None:
    """Act as the token's user (with exactly their roles); anything else is 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("Send the header 'Authorization: Bearer <token>' "
                             "(an administrator makes one with: safeguarding users token USERNAME)")
    user = user_for_token(token.strip(), clock().now())
    if user is None:
        return _unauthorized("The token is not valid, or its user has been disabled")
    # The same hook flask-login uses when it loads a user: access.py then sees this user.
    current_app.login_manager._update_request_context_with_user(CurrentUser(user))
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # case data must not sit in caches
    return response


def _unauthorized(detail: str) -> Response:
    response = jsonify({"error": "Authentication required", "status": 401, "detail": detail})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="safeguarding"'
    return response


# -- request bodies ------------------------------------------------------------------------
def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def json_object() -> dict[str, Any]:
    """The request body as a JSON object: 400 if it is not JSON, 422 if it is JSON but not an object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        abort(400, "The request body is empty: send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        abort(400, "The request body is nested too deeply")
    except ValueError as exc:  # includes JSONDecodeError and undecodable bytes
        abort(400, f"The request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("", "the request body must be a JSON object")],
                               title="The request has errors")
    return body


def _completion(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Split ``{"data": {...}, "token": "..."}``; anything else is 422 with the field named."""
    errors = [FieldError(key, f"{key} is not part of a completion: put the form's fields inside data")
              for key in sorted(set(body) - COMPLETE_KEYS)]
    data, token = body.get("data"), body.get("token")
    if not isinstance(data, dict):
        errors.append(FieldError("data", "data is required: the form's fields as a JSON object"))
    if token is not None and (not isinstance(token, str) or not token):
        errors.append(FieldError("token", "token must be the text offered with the task"))
    if errors:
        raise ValidationFailed(errors, title="The request has errors")
    return data, token


def _case_id_arg(value: str) -> int:
    cleaned = value.strip().upper().removeprefix("C")
    if not cleaned.isdigit() or int(cleaned) > MAX_ID:
        abort(400, f"case must be a case id such as 12 or C000012, not {value!r}")
    return int(cleaned)


# -- shapes --------------------------------------------------------------------------------
def task_json(task: Task) -> dict[str, Any]:
    """A task as the API shows it, with the JSON Schema of its form."""
    case = task.case
    form = service().diagrams_for(case.diagram_version_id).forms.get(task.form_name)
    return {"id": task.id, "element_id": task.bpmn_id, "title": task.name, "role": task.role,
            "assignee": task.assignee.username if task.assignee_id else None,
            "due": task.due.isoformat() if task.due else None, "case_id": case.id,
            "case_reference": case.reference, "token": task.token, "form_name": task.form_name,
            "form_schema": form.schema if form else None}


def _task_summary(task: dict[str, Any]) -> dict[str, Any]:
    return {"id": task["id"], "element_id": task["task"], "title": task["name"], "role": task["role"],
            "assignee": task["assignee"], "due": task["due"], "token": task["token"]}


def case_json(case: Case) -> dict[str, Any]:
    """The case document: stage, child, deadlines by contract key, statutory dates, tasks, chronology."""
    summary = case_summary(case.id, clock().now().date(), service().engine.calendar)
    child, contact = case.child, case.contact
    document = {
        "id": case.id, "reference": case.reference, "status": summary["status"], "stage": summary["stage"],
        "referral_date": summary["referral_date"], "re_referral": summary["re_referral"],
        "allocated_worker": summary["allocated_worker"], "diagram_version": summary["diagram_version"],
        "child": {"person_id": child.id, "name": child.display_name, "given_name": child.given_name,
                  "family_name": child.family_name,
                  "date_of_birth": child.date_of_birth.isoformat() if child.date_of_birth else None,
                  "expected_date_of_birth": (child.expected_date_of_birth.isoformat()
                                             if child.expected_date_of_birth else None),
                  "gender": child.gender},
        "siblings": [f"{s.reference} {s.child.display_name}" for s in siblings(case) if can_see_case(s)],
        "contact": {"id": contact.id, "received_on": contact.received_on.isoformat(), "channel": contact.channel,
                    "immediate_danger": contact.immediate_danger},
        "deadlines": {d["key"]: {"due": d["due"], "status": d["status"]} for d in summary["deadlines"]},
        "statutory": summary["statutory"],
        "tasks": [_task_summary(t) for t in summary["tasks"]],
        "chronology": summary["chronology"],
    }
    if can_see_referrer(case):
        document["referrer"] = dict((contact.payload or {}).get("referrer") or {})
    return document


# -- retries -------------------------------------------------------------------------------
def idempotent(view):
    """With an ``Idempotency-Key`` header, the first answer is stored with the effect, in one transaction,
    and a retry replays it (header ``Idempotent-Replayed: true``). A refusal raises, which rolls back the
    key with everything else, so error answers are not stored and a corrected retry runs."""
    @functools.wraps(view)
    def run(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        key, user_id = check_key(key.strip()), current_user.user.id
        request_print = fingerprint(request.method, request.path, request.get_data(cache=True))
        with database.atomic():  # the effect's own transaction nests inside this one
            stored = reserve(user_id, key, request_print, clock().now())
            if stored is not None:
                replay = current_app.response_class(stored.body, status=stored.status, mimetype="application/json")
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            response = current_app.make_response(view(*args, **kwargs))
            remember(user_id, key, response.status_code, response.get_data(as_text=True))
        return response
    return run


# -- routes --------------------------------------------------------------------------------
@bp.route("/contacts", methods=["POST"])
@idempotent
def record_contact():
    """Record a contact (the contact form as JSON): one case per child; 201 with their ids."""
    if not current_user.has(*CONTACT_ROLES):
        abort(403, "Only contact officers and CADS staff may record contacts")
    cases = service().record_contact(json_object(), current_user.username,
                                     acting=(current_user.user, current_user.actor))
    return jsonify({
        "contact_id": cases[0].contact_id,
        "cases": [{"id": c.id, "reference": c.reference, "child": c.child.display_name, "stage": c.stage,
                   "re_referral": c.re_referral} for c in cases],
    }), 201


@bp.route("/tasks", methods=["GET"])
def tasks():
    """Tasks I can work (mine and my roles' queues), optionally by case, role or only mine."""
    role = request.args.get("role") or None
    if role and role not in current_user.roles:
        abort(403, f"You do not hold the role {role}")
    case_id = _case_id_arg(request.args["case"]) if request.args.get("case") else None
    if case_id is not None:
        get_case_or_404(case_id)
    mine = request.args.get("mine", "").lower() in ("1", "true", "yes")
    filtered = case_id is not None or mine
    rows = list_tasks(role=role, username=current_user.username, limit=None if filtered else 500,
                      viewer=viewer())
    if case_id is not None:
        rows = [t for t in rows if t.case_id == case_id]
    if mine:
        rows = [t for t in rows if t.assignee_id == current_user.user.id]
    return jsonify({"tasks": [task_json(t) for t in rows]})


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@idempotent
def claim(task_id: str):
    """Take a task from one of my roles' queues (409 if someone else holds it)."""
    task = get_task_or_404(task_id)
    return jsonify({"task": task_json(claim_task(task.id, current_user.username))})


@bp.route("/tasks/<task_id>/complete", methods=["POST"])
@idempotent
def complete(task_id: str):
    """Complete a task with ``{"data": {...form...}, "token": "..."}``; 200 with the case's new stage."""
    data, token = _completion(json_object())
    try:
        task = get_task_or_404(task_id)
    except NotFound:
        if token is not None:  # the caller was offered this task: it was completed or cancelled since
            raise CaseConflict("This task is no longer open: it was completed or cancelled after it "
                               "was offered to you") from None
        raise
    if task.assignee_id is not None and task.assignee_id != current_user.user.id:
        raise CaseConflict(f"{task.name} is assigned to {task.assignee.username}")
    result = service().complete_task(task, current_user.username, data, token=token,
                                     acting=(current_user.user, current_user.actor))
    case = result.case
    tasks = open_tasks_if_visible(viewer(), case.id)
    done = result.outcome.completed_task
    return jsonify({
        "completed_task": {"id": done.id, "element_id": done.bpmn_id, "title": done.name},
        "case": {"id": case.id, "reference": case.reference, "stage": case.stage, "status": case.status},
        "tasks": [_task_summary(t) for t in tasks],
    })


@bp.route("/cases/<int:case_id>", methods=["GET"])
def case(case_id: int):
    """A case: stage, status, child, deadlines, statutory dates, open tasks, chronology."""
    return jsonify(case_json(get_case_or_404(case_id)))


@bp.route("/openapi.json", methods=["GET"])
def openapi():
    """The OpenAPI 3.1 description of these routes."""
    from .openapi import openapi_document
    contact_form = service().current_diagrams().forms.get("contact.json")
    return jsonify(openapi_document(contact_form.schema if contact_form else None, list(DEADLINE_KEYS)))
