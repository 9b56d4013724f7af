"""The OpenAPI 3.1 description of the JSON API (webui/api.py), written by hand.

tests/webui/test_api.py compares its paths with the app's routes, so a new route cannot be
left undescribed.
"""
from __future__ import annotations

from typing import Any

ERRORS = {
    400: "The body is not JSON (or a query parameter is malformed)",
    401: "No token, an unknown token, or the token's user is disabled",
    403: "The token's user does not have the role or access this needs",
    404: "No such case, or no open task with this id (a restricted case you are not named on is not found either)",
    409: "The task or case changed first (completed, cancelled, claimed by someone else, or a stale token); "
         "nothing was changed",
    422: "The data is invalid, or the Idempotency-Key was used for a different request; `errors` lists each "
         "problem and nothing was changed",
}
DATE = {"type": "string", "format": "date"}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: int, description: str, schema: dict[str, Any], *errors: int) -> dict[str, Any]:
    responses: dict[str, Any] = {str(ok): {"description": description, "content": _json(schema)}}
    for status in (401, *errors):
        body = "ValidationError" if status == 422 else "Error"
        responses[str(status)] = {"description": ERRORS[status], "content": _json(_ref(body))}
    return responses


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _task_properties() -> dict[str, Any]:
    return {"id": {**TEXT, "description": "The task id (a UUID)"},
            "element_id": {**TEXT, "description": "The BPMN element id, e.g. cads_decision (the contract ids of docs/process.md)"},
            "title": TEXT, "role": {**TEXT, "description": "The role whose queue the task is in"},
            "assignee": {**NULLABLE_TEXT, "description": "Username of the person holding it, or null"},
            "due": NULLABLE_DATE,
            "token": {**TEXT, "description": "Send it back when completing: a changed task is then refused (409)"}}


def _schemas(contact_schema: dict[str, Any] | None, deadline_keys: list[str]) -> dict[str, Any]:
    task_summary = _object(list(_task_properties()), **_task_properties())
    task = _object(list(_task_properties()) + ["case_id", "case_reference", "form_name", "form_schema"],
                   **_task_properties(), case_id={"type": "integer"}, case_reference=TEXT, form_name=TEXT,
                   form_schema={"type": ["object", "null"],
                                "description": "The JSON Schema (2020-12) the completion's data must match"})
    deadline = _object(["due", "status"], due=NULLABLE_DATE, status={
        **TEXT, "description": "met, missed (done ...), due: N working day(s) left, OVERDUE by N working day(s), "
                               "not set, ICPC not required, plan ended, closed before it applied"})
    case = _object(
        ["id", "reference", "status", "stage", "referral_date", "child", "deadlines", "statutory", "tasks",
         "chronology"],
        id={"type": "integer"}, reference={**TEXT, "examples": ["C000012"]},
        status={"enum": ["open", "closed"]}, stage=TEXT, referral_date=DATE, re_referral={"type": "boolean"},
        allocated_worker=NULLABLE_TEXT, diagram_version=TEXT,
        child=_object(["name"], person_id={"type": "integer"}, name=TEXT, given_name=NULLABLE_TEXT,
                      family_name=NULLABLE_TEXT, date_of_birth=NULLABLE_DATE, expected_date_of_birth=NULLABLE_DATE,
                      gender=NULLABLE_TEXT),
        siblings={"type": "array", "items": TEXT, "description": "Cases of the same contact (sibling group)"},
        contact=_object(["id", "received_on", "channel"], id={"type": "integer"}, received_on=DATE, channel=TEXT,
                        immediate_danger={"type": "boolean"}),
        deadlines={"type": "object", "required": deadline_keys, "additionalProperties": False,
                   "properties": {key: _ref("Deadline") for key in deadline_keys}},
        statutory={"type": "object", "description": "Statutory dates and codes (Children in Need census, Annex A)",
                   "additionalProperties": True},
        tasks={"type": "array", "items": _ref("TaskSummary")},
        chronology={"type": "array", "description": "In the order things happened (ties in recording order)",
                    "items": _object(["happened_on", "at", "kind", "summary"],
                                     happened_on={**DATE, "description": "When it happened (the date the record gives)"},
                                     at={**TEXT, "format": "date-time", "description": "When it was recorded (UTC)"},
                                     actor={**NULLABLE_TEXT, "description": "Who: a username, or system"},
                                     kind=TEXT, summary=TEXT)},
        referrer={"type": "object", "description": "Who referred: present only if you may see it (CADS roles; "
                                                   "an anonymous referrer only for the CADS manager)"})
    contact_request = dict(contact_schema or {"type": "object"})
    for key in ("$schema", "$id"):
        contact_request.pop(key, None)
    return {
        "Error": _object(["error", "status"], error=TEXT, status={"type": "integer"}, detail=TEXT),
        "ValidationError": _object(["error", "status", "errors"], error=TEXT, status={"const": 422}, detail=TEXT,
                                   errors={"type": "array", "items": _object(
                                       ["field", "message"],
                                       field={**TEXT, "description": "Dotted path, e.g. children.0.date_of_birth; "
                                                                     "empty for the whole body"},
                                       message=TEXT)}),
        "ContactRequest": contact_request,
        "ContactCreated": _object(["contact_id", "cases"], contact_id={"type": "integer"}, cases={
            "type": "array", "items": _object(["id", "reference", "child", "stage", "re_referral"],
                                              id={"type": "integer"}, reference=TEXT, child=TEXT, stage=TEXT,
                                              re_referral={"type": "boolean"})}),
        "Task": task, "TaskSummary": task_summary, "Deadline": deadline, "Case": case,
        "Completion": {**_object(["data"], data={"type": "object", "description": "The form's fields, matching the "
                                                  "task's form_schema"},
                                 token={**TEXT, "description": "The token the task was offered with (recommended)"}),
                       "additionalProperties": False},
        "CompletionResult": _object(
            ["completed_task", "case", "tasks"],
            completed_task=_object(["id", "element_id", "title"], id=TEXT, element_id=TEXT, title=TEXT),
            case=_object(["id", "reference", "stage", "status"], id={"type": "integer"}, reference=TEXT, stage=TEXT,
                         status={"enum": ["open", "closed"]}),
            tasks={"type": "array", "items": _ref("TaskSummary"),
                   "description": "The case's open tasks now (empty if you may no longer see the case)"}),
    }


def _task_id() -> dict[str, Any]:
    return {"name": "task_id", "in": "path", "required": True, "schema": TEXT}


def _idempotency_key() -> dict[str, Any]:
    return {"name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
            "description": "A key you choose (a UUID) so the request can be retried safely for 24 hours: a retry "
                           "with the same key and body gets the first answer again (with the header "
                           "`Idempotent-Replayed: true`) and changes nothing more; the same key with another body "
                           "or route is 422. Keys are per user. Error answers are not kept: a retry after one is "
                           "carried out afresh."}


def openapi_document(contact_schema: dict[str, Any] | None, deadline_keys: list[str]) -> dict[str, Any]:
    """The whole description; the contact request is the live contact form's JSON Schema."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Safeguarding Workflow API", "version": "1",
                 "description": "For partner systems and automated clients. Every call needs "
                                "`Authorization: Bearer <token>` (`safeguarding users token USERNAME` prints one) "
                                "and acts with exactly that user's roles. Dates are ISO 8601."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/contacts": {"post": {
                "operationId": "recordContact", "summary": "Record a contact; one case starts per child",
                "description": "Contact officers and CADS roles only. The body is the contact form "
                               "(bpmn/forms/contact.json).",
                "parameters": [_idempotency_key()],
                "requestBody": {"required": True, "content": _json(_ref("ContactRequest"))},
                "responses": _responses(201, "The contact and its cases", _ref("ContactCreated"), 400, 403, 422)}},
            "/api/tasks": {"get": {
                "operationId": "listTasks", "summary": "Open tasks you can work, overdue first",
                "description": "Tasks assigned to you and the unassigned tasks of your roles' queues.",
                "parameters": [
                    {"name": "case", "in": "query", "schema": {"type": "string", "pattern": "^[Cc]?[0-9]{1,10}$"},
                     "description": "Only this case's tasks (id such as 12 or C000012)"},
                    {"name": "role", "in": "query", "schema": TEXT,
                     "description": "Only this role's queue (one of your roles, else 403)"},
                    {"name": "mine", "in": "query", "schema": {"enum": ["1", "true", "yes", "0", ""]},
                     "description": "1: only tasks assigned to you"}],
                "responses": _responses(200, "The tasks", _object(["tasks"], tasks={"type": "array",
                                                                                    "items": _ref("Task")}),
                                        400, 403, 404)}},
            "/api/tasks/{task_id}/claim": {"post": {
                "operationId": "claimTask", "summary": "Take a task from one of your roles' queues",
                "parameters": [_task_id(), _idempotency_key()],
                "responses": _responses(200, "The task, now assigned to you", _object(["task"], task=_ref("Task")),
                                        400, 403, 404, 409, 422)}},
            "/api/tasks/{task_id}/complete": {"post": {
                "operationId": "completeTask", "summary": "Complete a task with its form data",
                "description": "Body `{\"data\": {...}, \"token\": \"...\"}`. With the token, a task completed, "
                               "cancelled or changed since it was offered is 409; without it, a task that is not "
                               "open is 404.",
                "parameters": [_task_id(), _idempotency_key()],
                "requestBody": {"required": True, "content": _json(_ref("Completion"))},
                "responses": _responses(200, "The case after the step", _ref("CompletionResult"),
                                        400, 403, 404, 409, 422)}},
            "/api/cases/{case_id}": {"get": {
                "operationId": "getCase", "summary": "A case: stage, deadlines, statutory dates, tasks, chronology",
                "parameters": [{"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": _responses(200, "The case", _ref("Case"), 403, 404)}},
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This description",
                "responses": _responses(200, "OpenAPI 3.1 document", {"type": "object"})}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from `safeguarding users token USERNAME`"}},
            "schemas": _schemas(contact_schema, deadline_keys),
        },
    }
