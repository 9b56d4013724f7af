"""The case page (with its diagram), calling a strategy discussion, and the managers' team view."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import DEADLINES, EngineError, TaskNotReady, ValidationFailed
from store.access import case_condition, may_restrict, refused_attempts, restriction
from store.allocation import ALLOCATING_MANAGERS, allocatable_workers
from store.audit import case_viewers
from store.casepage import case_page as case_page_data
from store.casepage import diagram_progress, diagram_xml, managed_roles, team_cases, team_tasks

from .access import can_see_case, can_see_referrer, get_case_or_404, viewer
from .context import clock, service, status_for

bp = Blueprint("cases", __name__)

STRATEGY_ROLES = ("social_worker", "team_manager")
AUDIT_VIEWER_ROLES = ("team_manager", "cads_manager")  # who may see "who has seen this case"
DEADLINE_LABELS = {d.key: d.long_label for d in DEADLINES}


@bp.route("/cases/<int:case_id>")
@login_required
def case_page(case_id: int):
    """Everything about one case, for those allowed to see it."""
    case = get_case_or_404(case_id)
    return _render_case(case)


def _render_case(case, strategy_error: str | None = None, reason: str = "", status: int = 200):
    data = case_page_data(case, clock().now().date(), service().engine.calendar)
    data["siblings"] = [s for s in data["siblings"] if can_see_case(s)]
    if data["previous_case"] is not None and not can_see_case(data["previous_case"]):
        data["previous_case"] = None
    managing = current_user.has(*AUDIT_VIEWER_ROLES)
    processes = diagram_progress(service(), case)
    chosen = request.args.get("process")
    if chosen not in {p["id"] for p in processes}:
        chosen = _deepest_active(processes)
    contact_form = service().diagrams_for(case.diagram_version_id).forms.get("contact.json")
    return render_template(
        "cases/case.html", **data, processes=processes, chosen=chosen,
        referrer_visible=can_see_referrer(case), schema=contact_form.schema if contact_form else {},
        deadline_labels=DEADLINE_LABELS, can_call_strategy=current_user.has(*STRATEGY_ROLES),
        strategy_error=strategy_error, reason=reason,
        viewers=case_viewers(case.id) if managing else None,
        refusals=refused_attempts(viewer(), case.id) if managing else None,
        restricted=restriction(case.id)[0], can_restrict=may_restrict(viewer(), case.id),
        workers=allocatable_workers(viewer()) if case.status == "open" and current_user.has(*ALLOCATING_MANAGERS)
        else []), status


def _deepest_active(processes: list[dict]) -> str | None:
    """The process where the case's newest active work is (the last one entered with active elements)."""
    with_work = [p["id"] for p in processes if p["active"]]
    return (with_work or [p["id"] for p in processes] or [None])[-1]


@bp.route("/cases/<int:case_id>/diagram")
@login_required
def diagram(case_id: int):
    """The case's progress per process and, for ``?process=``, that process's BPMN XML (JSON)."""
    case = get_case_or_404(case_id)
    processes = diagram_progress(service(), case)
    chosen = request.args.get("process") or _deepest_active(processes)
    if chosen not in {p["id"] for p in processes}:
        abort(404, f"Case {case.reference} has not entered the process {chosen}")
    return jsonify({
        "case": case.reference, "process": chosen, "xml": diagram_xml(service(), case, chosen),
        "processes": [{"id": p["id"], "name": p["name"], "completed": p["completed"], "active": p["active"]}
                      for p in processes],
    })


@bp.route("/cases/<int:case_id>/strategy-discussion", methods=["POST"])
@login_required
def request_strategy(case_id: int):
    """Call a strategy discussion during an assessment or a plan (social worker or team manager)."""
    case = get_case_or_404(case_id)
    if not current_user.has(*STRATEGY_ROLES):
        abort(403)
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        return _render_case(case, "Enter the reason a strategy discussion is needed", reason, 422)
    try:
        service().request_strategy_discussion(case.id, current_user.username, reason)
    except (ValidationFailed, TaskNotReady) as exc:
        return _render_case(case, _sentence(str(exc)), reason, status_for(exc))
    except EngineError as exc:
        if status_for(exc) != 400:
            raise
        return _render_case(case, _sentence(str(exc)), reason, 400)
    flash(f"Strategy discussion requested for {case.reference}: the task is in the social worker's queue")
    return redirect(url_for("cases.case_page", case_id=case.id))


def _sentence(text: str) -> str:
    text = text.rstrip(": ")
    return text[:1].upper() + text[1:]


@bp.route("/team")
@login_required
def team():
    """The team's open tasks and cases for managers: overdue first, escalations highlighted."""
    roles = managed_roles(current_user.roles)
    if not roles:
        abort(403)
    today, calendar = clock().now().date(), service().engine.calendar
    visible = case_condition(viewer())
    tasks = team_tasks(roles, today, calendar, where=visible)
    cases = team_cases(roles, today, calendar, include_allocated=current_user.has("team_manager"), where=visible)
    return render_template("cases/team.html", tasks=tasks, cases=cases, roles=roles,
                           deadline_labels=DEADLINE_LABELS)
