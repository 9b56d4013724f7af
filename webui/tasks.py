"""The task page: a task's instructions and form beside its case; completing it from the browser.

The page carries the task's token, as the API's completion does. A page sent twice by the same user
(a double click, a reload) completes the task once: the completion keeps an idempotency key made of
the task and its token (store/idempotency.py), and the second answer is the first one again.
"""
from __future__ import annotations

import hashlib
import json
import re

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from werkzeug.exceptions import NotFound

from engine import (DEADLINES, CaseConflict, FieldError, TaskChanged, TaskNotFound, TaskNotReady, TaskView,
                    ValidationFailed)
from store.booking import holding_booking
from store.conferences import suggested_review_fields
from store.db import database
from store.idempotency import IdempotencyKeyReused, fingerprint, remember, reserve, stored_answer
from store.models import Case, Task
from store.taskviews import booking_deadline, completion_of, last_completion, open_deadlines, task_view

from .access import can_see_case, get_case_or_404, get_task_or_404
from .context import clock, service
from .formrender import FormView, Parsed, build_form, page_errors, parse_form, to_values
from .limits import MAX_ID

bp = Blueprint("tasks", __name__)

DEADLINE_LABELS = {d.key: d.short_label for d in DEADLINES}


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task_page(task_id: str):
    """Show a task's form (GET) or complete the task with the posted answers (POST)."""
    try:
        task = get_task_or_404(task_id)
    except NotFound:
        return _sent_again(task_id) or _gone(task_id, 404, bpmn_id=request.form.get("_element"))
    try:
        view = task_view(service(), task.id, clock().now())
    except TaskNotFound:
        return _sent_again(task.id) or _gone(task.id, 404, case=task.case, bpmn_id=task.bpmn_id)
    if request.method == "GET":
        return _page(task, view, build_form(view.schema, to_values(view.schema, _prefill(task, view))))
    return _submit(task, view)


SUGGESTIBLE = ("scheduled_for",)  # fields a link may suggest, e.g. a date offered inside the statutory window


def _prefill(task: Task, view: TaskView) -> dict:
    """The engine's prefill, the next review the rules suggest, and a date offered by a link."""
    values = dict(view.prefill)
    values.update(suggested_review_fields(task))
    for name in SUGGESTIBLE:
        suggested = request.args.get(name)
        if suggested and name in view.schema.get("properties", {}):
            values[name] = suggested
    return values


def _submit(task: Task, view: TaskView):
    if task.role not in current_user.roles:
        abort(403)
    if task.assignee_id is not None and task.assignee.username != current_user.username:
        return _unavailable("assigned", 409, case=task.case, task=task)
    token = request.form.get("_token", "")
    parsed = parse_form(view.schema, request.form)
    group = request.form.get("_add_row")
    if group:  # one more blank row; nothing is checked or saved
        parsed.add_row(group)
        return _page(task, view, _redisplay(view, parsed, []), token=token)
    if parsed.errors:
        return _page(task, view, _redisplay(view, parsed, page_errors(view.schema, parsed)), token=token, status=422)
    user_id, key = current_user.user.id, _form_key(task.id, token)
    try:
        with database.atomic():  # the key is kept with the completion, or neither is (as the API's)
            answer = reserve(user_id, key, _form_print(), clock().now())
            if answer is None:
                result = service().complete_task(task.id, current_user.username, parsed.data, token=token)
                answer = _success(view, result)
                remember(user_id, key, 302, json.dumps(answer))
    except IdempotencyKeyReused:  # this page was sent before, then sent again with other answers
        return _gone(task.id, 409, case=task.case, bpmn_id=task.bpmn_id, answers=_answers(view, parsed))
    except ValidationFailed as exc:
        errors = [FieldError(parsed.display_path(e.field), e.message) for e in exc.errors] or [FieldError("", str(exc))]
        return _page(task, view, _redisplay(view, parsed, errors), token=token, status=422)
    except (CaseConflict, TaskChanged, TaskNotReady) as exc:
        if Task.get_or_none(Task.id == task.id) is not None:
            return _unavailable("changed", 409, case=task.case, task=task, message=str(exc),
                                answers=_answers(view, parsed))
        return _sent_again(task.id) or _gone(task.id, 409, case=task.case, bpmn_id=task.bpmn_id,
                                             answers=_answers(view, parsed))
    except TaskNotFound:
        return _sent_again(task.id) or _gone(task.id, 404, case=task.case, bpmn_id=task.bpmn_id,
                                             answers=_answers(view, parsed))
    return _replay(answer)


def _success(view: TaskView, result) -> dict[str, str]:
    """Where the completion leads and the confirmation shown there (kept, to be shown again)."""
    opened = [f"{e.details['task']} for {e.details['role'].replace('_', ' ')}"
              for e in result.outcome.events if e.kind == "task_opened"]
    message = (f"{view.name} completed for {result.case.reference} ({result.case.child.display_name}). "
               + (f"Next: {'; '.join(opened)}." if opened else "No new tasks were opened."))
    if "cases.case_page" in current_app.view_functions and can_see_case(result.case):
        return {"location": url_for("cases.case_page", case_id=result.case.id), "message": message}
    return {"location": url_for("work.my_work"), "message": message}  # a MASH partner goes back to their work


def _replay(answer) -> Response:
    """The redirect and confirmation of a completion (``answer`` as made, or as kept with its key)."""
    if not isinstance(answer, dict):
        answer = json.loads(answer.body)
    flash(answer["message"])
    return redirect(answer["location"])


def _form_key(task_id: str, token: str) -> str:
    """One key per task as offered to this user: the same page sent again finds its first answer."""
    return "task-form:" + hashlib.sha256(f"{task_id}\n{token}".encode()).hexdigest()[:48]


def _form_print() -> str:
    """What the page sent, less its CSRF token: a double click sends the same answers twice."""
    sent = sorted((name, value) for name, value in request.form.items(multi=True) if name != "csrf_token")
    return fingerprint("POST", request.path, json.dumps(sent).encode())


def _sent_again(task_id: str) -> Response | None:
    """The first answer again, when the user who completed the task sends the same page once more."""
    token = request.form.get("_token", "")
    if request.method != "POST" or not token:
        return None
    kept = stored_answer(current_user.user.id, _form_key(task_id, token), clock().now(), _form_print())
    return _replay(kept) if kept is not None else None


def _redisplay(view: TaskView, parsed: Parsed, errors: list[FieldError]) -> FormView:
    return build_form(view.schema, parsed.values, errors, parsed.rows, parsed.date_parts)


def _page(task: Task, view: TaskView, form: FormView, token: str | None = None, status: int = 200):
    case = task.case
    today = clock().now().date()
    calendar = service().engine.calendar
    mine = task.assignee_id is None or task.assignee.username == current_user.username
    can_complete = task.role in current_user.roles and mine
    deadlines = [dict(d, label=DEADLINE_LABELS.get(d["key"], d["key"])) for d in open_deadlines(case, today, calendar)]
    return render_template(
        "tasks/task.html", task=task, view=view, case=case, form=form, token=token or view.token,
        instructions=instructions_html(view.instructions), can_complete=can_complete, mine=mine,
        case_visible=can_see_case(case),
        days_left=calendar.working_days_between(today, view.due) if view.due else None,
        booking_due=booking_deadline(case, view.bpmn_id), deadlines=deadlines,
        booking=holding_booking(view.bpmn_id, case.id),
        title=("Error: " if form.errors else "") + f"{view.name} - {case.reference}"), status


def _unavailable(reason: str, status: int, case: Case | None = None, task: Task | None = None,
                 message: str | None = None, answers=None):
    """Why the form cannot be used: changed since offered, or someone else's."""
    return render_template("tasks/unavailable.html", reason=reason, case=case, task=task, done=None,
                           message=message, answers=answers or [], title="This task cannot be completed here"), status


def _gone(task_id: str, status: int, case: Case | None = None, bpmn_id: str | None = None, answers=None):
    """The task is not open: who completed it and when, told only to those who may see its case
    (to anyone else this page is the same as for a task that never existed), and whether what was
    sent now was saved. Deciding what to show is not an attempt to open the case: no refusal is recorded."""
    done = completion_of(task_id)
    if done is not None:
        case, mine = done.case, done.actor == current_user.username
    else:
        case, mine = case or _posted_case(), False
    visible = case is not None and can_see_case(case)
    sent = request.method == "POST" and request.form.get("_token") is not None
    if sent and answers is None and case is not None and (visible or mine):
        answers = _sent_answers(case, done.element if done is not None else bpmn_id)
    if visible:
        get_case_or_404(case.id)  # the completion shown is the case's: the view is audited
        done = done or (last_completion(case.id, bpmn_id) if bpmn_id else None)
    else:
        case, done = None, None
    return render_template("tasks/unavailable.html", reason="gone", case=case, task=None, done=done, mine=mine,
                           sent=sent, message=None, answers=answers or [],
                           title="This task cannot be completed here"), status


def _posted_case() -> Case | None:
    """The case a posted form belonged to (to say what became of a task that was cancelled)."""
    case_id = request.form.get("_case", "")
    if request.method != "POST" or not case_id.isdigit() or int(case_id) > MAX_ID:
        return None
    return Case.get_or_none(Case.id == int(case_id))


def _sent_answers(case: Case, bpmn_id: str | None) -> list[tuple[str, str]]:
    """What a page sent for a task no longer open, read with the task's form (so it is not lost)."""
    tasks = service().diagrams_for(case.diagram_version_id).user_tasks.values()
    info = next((t for t in tasks if t.bpmn_id == bpmn_id), None)
    if info is None:
        return []
    return _answers_of(info.form.schema, parse_form(info.form.schema, request.form))


def _answers(view: TaskView, parsed: Parsed) -> list[tuple[str, str]]:
    """What the user entered, as label and text, so work refused by a conflict is not lost."""
    return _answers_of(view.schema, parsed)


def _answers_of(schema: dict, parsed: Parsed) -> list[tuple[str, str]]:
    properties = schema.get("properties", {})
    found = []
    for name, value in parsed.data.items():
        label = properties.get(name, {}).get("title") or name
        found.append((label, value if isinstance(value, str) else _plain(value)))
    return found


def _plain(value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in value.items())
    return str(value)


_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*([^*\n]+?)\*(?![\w*])")


def instructions_html(text: str) -> Markup:
    """Instructions as escaped text, read like Markdown: blank lines part paragraphs, a single line
    break is a space (diagram text wraps), **bold** and *emphasis*; never raw HTML."""
    escaped = str(escape((text or "").strip()))
    escaped = _ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", escaped))
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", escaped) if p.strip()]
    return Markup("".join(f'<p class="govuk-body">{p}</p>' for p in paragraphs))
