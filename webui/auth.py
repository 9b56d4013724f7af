"""Signing in and out (passwords checked with argon2)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from store.models import User
from store.users import verify_password

from .session import CurrentUser

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("work.my_work"))
    error = None
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        user = User.get_or_none(User.username == username)
        if user is None or not user.active or not verify_password(user, password):
            error = "Enter a correct username and password"
        else:
            session.clear()  # a fresh session at sign-in
            login_user(CurrentUser(user))
            target = request.args.get("next") or ""
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("work.my_work")
            return redirect(target)
    return render_template("login.html", error=error, username=username), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    flash("You have signed out")
    return redirect(url_for("auth.login"))
