"""Who may see a case: a manager allocates it to a social worker (and so to their team), restricts
it to named people, names or removes people, lifts it; managers see refused attempts."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import EngineError
from store import access as rules
from store.allocation import allocate_case
from store.models import User

from .access import get_case_or_404, viewer
from .context import clock, status_for

bp = Blueprint("restriction", __name__)
REFUSAL_VIEWERS = ("team_manager", "cads_manager", "admin", "information_governance")
ACTIONS = ("restrict", "name", "remove", "lift")


@bp.route("/cases/<int:case_id>/restriction", methods=["GET", "POST"])
@login_required
def page(case_id: int):
    """Who may see a restricted case; restrict it, name or remove people, or lift the restriction."""
    case = get_case_or_404(case_id)
    if not rules.may_restrict(viewer(), case.id):
        abort(403)
    error, status = None, 200
    if request.method == "POST":
        try:
            _apply(case.id, request.form.get("action", ""))
            return redirect(url_for("restriction.page", case_id=case.id))
        except EngineError as exc:
            error, status = str(exc), status_for(exc)
    restricted, named = rules.restriction(case.id)
    names = {u.username: u.full_name for u in User.select().where(User.username.in_([n.username for n in named] or [""]))}
    return render_template("restriction/page.html", case=case, restricted=restricted, named=named, names=names,
                           error=error, form=request.form), status


def _apply(case_id: int, action: str) -> None:
    by, now = current_user.username, clock().now()
    reason = request.form.get("reason", "")
    usernames = [n.strip() for n in request.form.get("names", "").replace(",", " ").split() if n.strip()]
    if action == "restrict":
        rules.restrict_case(case_id, by, reason, usernames, now)
        flash("The case is restricted: only the people named below may see it")
    elif action == "name":
        for username in usernames or [""]:
            rules.grant_access(case_id, username, by, reason, now)
        flash(f"Named: {', '.join(usernames)}")
    elif action == "remove":
        rules.revoke_access(case_id, request.form.get("username", ""), by, now)
        flash(f"{request.form.get('username')} may no longer see the case")
    elif action == "lift":
        rules.unrestrict_case(case_id, by, reason, now)
        flash("The restriction is lifted: the ordinary rules apply again")
    else:
        abort(400, f"Choose one of: {', '.join(ACTIONS)}")


@bp.route("/cases/<int:case_id>/allocate", methods=["POST"])
@login_required
def allocate(case_id: int):
    """Allocate the case to a social worker of the manager's team (any team for the CADS manager)."""
    case = get_case_or_404(case_id)
    updated = allocate_case(case.id, request.form.get("worker", ""), current_user.username, clock().now())
    flash(f"{updated.reference} is allocated to {updated.allocated_worker.full_name}")
    return redirect(url_for("cases.case_page", case_id=case.id))


@bp.route("/access/refused")
@login_required
def refused():
    """Refused attempts to open records (managers: on cases they may see; administrators and
    information governance: all)."""
    if not current_user.has(*REFUSAL_VIEWERS):
        abort(403)
    return render_template("restriction/refused.html", rows=rules.refused_attempts(viewer()))
