"""Signing in and out (argon2 passwords, throttled failures), and changing one's own password."""
from __future__ import annotations

from datetime import timedelta
from math import ceil

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from engine import ValidationFailed
from store.models import User
from store.users import (change_own_password, clear_login_failures, end_sessions, login_refused_for,
                         record_login_failure, verify_password)

from .context import clock
from .session import CurrentUser, start_session

bp = Blueprint("auth", __name__)


def _throttle() -> dict:
    config = current_app.config
    return {"max_failures": int(config["LOGIN_MAX_FAILURES"]),
            "window": timedelta(minutes=float(config["LOGIN_WINDOW_MINUTES"]))}


def _same_site_path(target: str) -> bool:
    """A path on this site: no scheme or host, and nothing a browser reads as one ('//', '/\\', controls)."""
    return (target.startswith("/") and not target.startswith(("//", "/\\"))
            and not any(c == "\\" or ord(c) < 32 or ord(c) == 127 for c in target))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in page; after too many failures for a username or address, refuses with 429."""
    if current_user.is_authenticated:
        return redirect(url_for("work.my_work"))
    error, status = None, 200
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:200]
        password = request.form.get("password") or ""
        address, now = request.remote_addr, clock().now()
        wait = login_refused_for(username, address, now, **_throttle())
        user = User.get_or_none(User.username == username) if wait is None else None
        if wait is not None:
            minutes = max(1, ceil(wait.total_seconds() / 60))
            error, status = (f"Too many failed sign-in attempts. Try again in {minutes} "
                             f"minute{'s' if minutes != 1 else ''}"), 429
        elif user is None or not user.active or not verify_password(user, password):
            record_login_failure(username, address, now, window=_throttle()["window"])
            error, status = "Enter a correct username and password", 401
        else:
            clear_login_failures(username)
            session.clear()  # a fresh session at sign-in
            login_user(CurrentUser(user), remember=False)
            start_session(user)
            target = request.args.get("next") or ""
            if not _same_site_path(target):
                target = url_for("work.my_work")
            return redirect(target)
    response = current_app.make_response((render_template("login.html", error=error, username=username), status))
    if status == 429:
        response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
    return response


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out: ends this user's sessions server-side, so a copied cookie no longer works."""
    end_sessions(current_user.username)
    logout_user()
    session.clear()
    flash("You have signed out")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """The signed-in user changes their password; every session (this one included) then ends."""
    errors = []
    if request.method == "POST":
        try:
            change_own_password(current_user.username, request.form.get("current_password") or "",
                                request.form.get("new_password") or "", request.form.get("confirm_password") or "")
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            logout_user()
            session.clear()
            flash("Your password has been changed. Sign in with the new password")
            return redirect(url_for("auth.login"))
    return render_template("auth/password.html", errors=errors), (422 if errors else 200)
