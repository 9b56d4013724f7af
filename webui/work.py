"""My work: tasks assigned to me and my roles' queues, overdue first; claim, release, reassign."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import NotPermitted
from store.access import visible_among
from store.queues import list_tasks
from store.models import Task
from store.tasks import claim_task, holders_of, reassign_task, release_task

from .access import viewer
from .context import clock, service

bp = Blueprint("work", __name__)
PAGE_SIZE = 50  # a page stays quick to read and to render however long the queue is


def working_days_left(due):
    if due is None:
        return None
    return service().engine.calendar.working_days_between(clock().now().date(), due)


@bp.route("/")
@login_required
def my_work():
    role = request.args.get("role") or None
    if role and role not in current_user.roles:
        abort(403)
    page = max(1, request.args.get("page", 1, type=int))
    tasks = list_tasks(role=role, username=current_user.username, viewer=viewer(),
                       limit=PAGE_SIZE * page + 1)  # one more than the page: is there a next one?
    rows = [{"task": t, "left": working_days_left(t.due)} for t in tasks[PAGE_SIZE * (page - 1):PAGE_SIZE * page]]
    rows.sort(key=lambda r: (r["left"] is None, r["left"] if r["left"] is not None else 0, r["task"].created_at))
    ids = {r["task"].case_id for r in rows}
    linked = visible_among(viewer(), ids)
    return render_template("work/my_work.html", rows=rows, role=role, page=page, linked=linked,
                           first=PAGE_SIZE * (page - 1) + 1, has_next=len(tasks) > PAGE_SIZE * page)


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str):
    task = claim_task(task_id, current_user.username)
    flash(f"You have claimed {task.name} for {task.case.reference}")
    return redirect(request.form.get("next") or url_for("work.my_work"))


@bp.route("/tasks/<task_id>/release", methods=["POST"])
@login_required
def release(task_id: str):
    try:
        task = release_task(task_id, current_user.username)
    except NotPermitted:
        task = Task.get_or_none(Task.id == task_id)
        if task is None or task.assignee_id is not None:
            raise
        # already in the queue: a double click's second post (or another tab's) confirms it again
    flash(f"{task.name} is back in the {task.role.replace('_', ' ')} queue")
    return redirect(request.form.get("next") or url_for("work.my_work"))


@bp.route("/tasks/<task_id>/reassign", methods=["GET", "POST"])
@login_required
def reassign(task_id: str):
    if not current_user.is_manager:
        abort(403)
    task = Task.get_or_none(Task.id == task_id)  # access was checked before the view (access.guard_routes)
    if task is None:
        abort(404)
    if request.method == "POST":
        target = request.form.get("assignee") or None
        task = reassign_task(task_id, current_user.username, target)
        flash(f"{task.name} assigned to {task.assignee.full_name if task.assignee else 'the queue'}")
        return redirect(url_for("work.my_work"))
    return render_template("work/reassign.html", task=task, people=holders_of(task.role))
