"""Administrators' view of incidents: cases whose timers keep failing to fire, with a retry button."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from engine import EngineError
from store.incidents import MAX_ATTEMPTS, list_incidents
from store.timerworker import retry_incident

from .context import clock, service

bp = Blueprint("incidents", __name__, url_prefix="/admin/incidents")


@bp.before_request
@login_required
def _admins_only():
    if "admin" not in current_user.roles:
        abort(403)


@bp.route("")
def index(error: str | None = None):
    """Open incidents first, then failures being retried, then recently resolved ones."""
    rows = list_incidents(include_resolved=True, limit=100)
    return render_template("incidents/index.html", title=("Error: " if error else "") + "Incidents", error=error,
                           max_attempts=MAX_ATTEMPTS,
                           unresolved=[i for i in rows if i.status != "resolved"],
                           resolved=[i for i in rows if i.status == "resolved"][:20]), 422 if error else 200


@bp.route("/<int:incident_id>/retry", methods=["POST"])
def retry(incident_id: int):
    """Fire the case's timers now; the page says whether it worked."""
    try:
        incident = retry_incident(service(), incident_id, current_user.username, clock().now())
    except EngineError as exc:
        return index(error=f"Incident {incident_id}: {exc}")
    flash(f"Incident {incident.id} on case {incident.case.reference} is resolved.")
    return redirect(url_for("incidents.index"))
