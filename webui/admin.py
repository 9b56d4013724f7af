"""Administration: users, their roles and teams; add, disable, change roles."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine import KNOWN_ROLES, ValidationFailed
from store.models import User
from store.users import add_user, list_teams, list_users, roles_of, set_password, set_user

from .context import clock

bp = Blueprint("admin", __name__, url_prefix="/admin")
ROLES = sorted(KNOWN_ROLES)


@bp.before_request
@login_required
def _admins_only():
    if "admin" not in current_user.roles:
        abort(403)


@bp.route("/users")
def users():
    rows = [{"user": u, "roles": sorted(roles_of(u))} for u in list_users()]
    return render_template("admin/users.html", rows=rows)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    values = {"username": "", "full_name": "", "team": "", "roles": []}
    errors = []
    if request.method == "POST":
        values = {"username": request.form.get("username", "").strip(),
                  "full_name": request.form.get("full_name", "").strip(),
                  "team": request.form.get("team", "").strip(), "roles": request.form.getlist("roles")}
        password = request.form.get("password") or ""
        try:
            add_user(values["username"], values["full_name"], values["roles"], clock().now(), password=password,
                     team=values["team"] or None)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(f"Added {values['username']}")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", values=values, errors=errors, roles=ROLES, teams=list_teams(),
                           new=True), (422 if errors else 200)


@bp.route("/users/<username>", methods=["GET", "POST"])
def edit_user(username: str):
    user = User.get_or_none(User.username == username)
    if user is None:
        abort(404)
    values = {"username": user.username, "full_name": user.full_name,
              "team": user.team.name if user.team else "", "roles": sorted(roles_of(user)), "active": user.active}
    errors = []
    if request.method == "POST":
        values.update(full_name=request.form.get("full_name", "").strip(), team=request.form.get("team", "").strip(),
                      roles=request.form.getlist("roles"), active=request.form.get("active") == "yes")
        try:
            set_user(username, values["roles"], values["team"] or None, values["active"], current_user.username,
                     full_name=values["full_name"] or None)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(f"Saved {username}" + ("" if values["active"] else " (disabled: they can no longer sign in)"))
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", values=values, errors=errors, roles=ROLES, teams=list_teams(),
                           new=False), (422 if errors else 200)


@bp.route("/users/<username>/password", methods=["GET", "POST"])
def reset_password(username: str):
    """An administrator sets a new password for a user (password rules apply; their sessions end)."""
    if User.get_or_none(User.username == username) is None:
        abort(404)
    errors = []
    if request.method == "POST":
        try:
            set_password(username, request.form.get("password") or "")
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(f"Set a new password for {username}; their sessions have ended")
            return redirect(url_for("admin.users"))
    return render_template("admin/password.html", username=username, errors=errors), (422 if errors else 200)
