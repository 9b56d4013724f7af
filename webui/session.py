"""The signed-in person: a store user with their roles, as flask-login wants it."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, session
from flask_login import UserMixin

from engine import Actor, SystemClock
from store.models import User
from store.users import roles_of

MANAGER_ROLES = frozenset({"team_manager", "cads_manager"})


class CurrentUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user
        self.id = str(user.id)
        self.username = user.username
        self.full_name = user.full_name
        self.roles = roles_of(user)

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.roles)

    @property
    def is_manager(self) -> bool:
        return bool(self.roles & MANAGER_ROLES)

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def is_active(self) -> bool:
        return bool(self.user.active)


def session_clock():
    """The clock session lifetimes are measured on: real time, unless SESSION_CLOCK is configured.

    Not the app clock: the demo and many tests move the app clock by days, which must not sign
    everyone out; in production both are the system clock anyway."""
    return current_app.config.get("SESSION_CLOCK") or SystemClock()


def start_session(user: User) -> None:
    """Mark a fresh session as belonging to ``user`` now (epoch, sign-in time, last activity)."""
    now = session_clock().now().isoformat()
    session["epoch"] = user.session_epoch or 0
    session["login_at"] = session["seen_at"] = now


def load_current_user(user_id: str):
    """The signed-in user, if the session is still valid: epoch current, not idle too long, not too old."""
    user = User.get_or_none(User.id == int(user_id)) if str(user_id).isdigit() else None
    if user is None or not user.active or not _session_valid(user):
        session.clear()
        return None
    return CurrentUser(user)


def _session_valid(user: User) -> bool:
    if session.get("epoch") != (user.session_epoch or 0):
        return False
    try:
        login_at = datetime.fromisoformat(session["login_at"])
        seen_at = datetime.fromisoformat(session["seen_at"])
    except (KeyError, TypeError, ValueError):
        return False
    now = session_clock().now()
    idle = timedelta(minutes=float(current_app.config["SESSION_IDLE_MINUTES"]))
    lifetime = timedelta(hours=float(current_app.config["SESSION_ABSOLUTE_HOURS"]))
    if now - seen_at > idle or now - login_at > lifetime:
        return False
    session["seen_at"] = now.isoformat()
    return True
