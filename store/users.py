"""Users and their roles; passwords hashed with argon2."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import JOIN, IntegrityError

from engine import KNOWN_ROLES, Actor, EngineError, ValidationFailed, FieldError

from .db import database
from .models import Team, User, UserRole
from .timeutil import to_db

_HASHER = PasswordHasher()


def add_user(username: str, full_name: str, roles: Iterable[str], now: datetime,
             password: str | None = None, team: str | None = None, email: str | None = None) -> User:
    """Create a user with roles; refuses unknown roles and duplicate usernames, changing nothing."""
    roles = sorted(set(roles))
    errors = []
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        errors.append(FieldError("username", "use letters, digits, dots, dashes or underscores"))
    unknown = [r for r in roles if r not in KNOWN_ROLES]
    if unknown:
        errors.append(FieldError("roles", f"unknown role(s): {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_ROLES))}"))
    if not roles:
        errors.append(FieldError("roles", "give at least one role"))
    if errors:
        raise ValidationFailed(errors, title="Cannot add the user")
    with database.atomic():
        team_row = Team.get_or_create(name=team)[0] if team else None
        try:
            user = User.create(username=username, full_name=full_name or username, email=email,
                               password_hash=_HASHER.hash(password) if password else None,
                               team=team_row, created_at=to_db(now))
        except IntegrityError:
            raise EngineError(f"a user called {username!r} already exists") from None
        for role in roles:
            UserRole.create(user=user, role=role)
    return user


def get_user(username: str) -> User:
    """The active user ``username`` or a clear error."""
    user = User.get_or_none(User.username == username)
    if user is None:
        raise EngineError(f"no user {username!r}")
    if not user.active:
        raise EngineError(f"user {username!r} is disabled")
    return user


def roles_of(user: User) -> frozenset[str]:
    return frozenset(r.role for r in UserRole.select(UserRole.role).where(UserRole.user == user))


def actor_for(username: str) -> tuple[User, Actor]:
    user = get_user(username)
    return user, Actor(user.username, roles_of(user))


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def list_users() -> list[User]:
    """Every user with team, by name."""
    return list(User.select(User, Team).join(Team, JOIN.LEFT_OUTER).order_by(User.full_name))


def set_user(username: str, roles: Iterable[str], team: str | None, active: bool, by: str,
             full_name: str | None = None) -> User:
    """Change a user's roles, team, name and whether they may sign in; refuses leaving no admin."""
    user = User.get_or_none(User.username == username)
    if user is None:
        raise EngineError(f"no user {username!r}")
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in KNOWN_ROLES]
    errors = []
    if unknown:
        errors.append(FieldError("roles", f"unknown role(s): {', '.join(unknown)}"))
    if not roles:
        errors.append(FieldError("roles", "give at least one role"))
    if username == by and (not active or "admin" not in roles):
        errors.append(FieldError("roles", "you cannot remove your own admin role or disable yourself"))
    if errors:
        raise ValidationFailed(errors, title="Cannot change the user")
    with database.atomic():
        user.team = Team.get_or_create(name=team.strip())[0] if team and team.strip() else None
        user.active = active
        if full_name:
            user.full_name = full_name.strip()
        user.save()
        UserRole.delete().where(UserRole.user == user).execute()
        for role in roles:
            UserRole.create(user=user, role=role)
    return user


def list_teams() -> list[Team]:
    return list(Team.select().order_by(Team.name))
