"""Users and their roles; passwords hashed with argon2."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import JOIN, IntegrityError, fn

from engine import KNOWN_ROLES, Actor, EngineError, ValidationFailed, FieldError

from .db import database
from .models import LoginAttempt, Team, User, UserRole
from .prepared import Prepared
from .timeutil import from_db, to_db

_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
# The most common passwords of 12 characters or more (breach lists); shorter ones fail on length anyway.
COMMON_PASSWORDS = frozenset("""
123456789012 1234567890123 12345678901234 123456789123 1234567890qwerty 1q2w3e4r5t6y 1qaz2wsx3edc
qwertyuiopasdfgh qwertyuiop123 qwerty123456 qwertyuiop12 password1234 password12345 password123456
passwordpassword password1234567 iloveyou1234 administrator administrator1 letmein12345 welcome12345
welcome123456 changeme1234 changeme123456 abcdefghijkl abcdefghijklm abc123456789 aaaaaaaaaaaa 111111111111
000000000000 987654321098 zaq12wsxcde3 football1234 baseball1234 sunshine1234 princess1234 trustno1trustno1
monkey123456 dragon123456 superman1234 starwars1234 qazwsxedcrfv asdfghjkl123 asdfghjklzxc 1qazxsw23edc
passw0rd1234 p@ssw0rd1234 p@ssword1234 secretpassword mypassword123 password2024 password2025 password2026
safeguarding safeguarding1 safeguarding123 children1234 socialwork123 welcome2024! welcome2025! summer2025!!
""".split())


def password_errors(password: str, username: str, field: str = "password") -> list[FieldError]:
    """What is wrong with ``password`` for ``username`` under the password rules (empty when it is fine)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [FieldError(field, f"Enter a password of at least {MIN_PASSWORD_LENGTH} characters")]
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) <= 2:
        return [FieldError(field, "That password is too common: choose one that is harder to guess")]
    if username and username.lower() in lowered:
        return [FieldError(field, "The password must not contain the username")]
    return []


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
    if password is not None:
        errors.extend(password_errors(password, username))
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
    user = _USER_NAMED.first(username=username)
    if user is None:
        raise EngineError(f"no user {username!r}")
    if not user.active:
        raise EngineError(f"user {username!r} is disabled")
    return user


def roles_of(user: User) -> frozenset[str]:
    """The user's roles (as read with the user row when it was, by a token's lookup)."""
    read = getattr(user, "roles_read", None)
    if read is not None:
        return read
    return frozenset(role for (role,) in _ROLES_OF.rows(user=user.id))


# Every step and request asks who its user is and what roles they hold (store/prepared.py).
_USER_NAMED = Prepared(lambda place: User.select().where(User.username == place("username")))
_ROLES_OF = Prepared(lambda place: UserRole.select(UserRole.role).where(UserRole.user == place("user")).tuples())


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
        if user.active and not active:
            user.session_epoch = (user.session_epoch or 0) + 1  # disabling ends every session at once
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


def end_sessions(username: str) -> int:
    """End every session of ``username`` (old cookies stop working); returns the new epoch."""
    User.update(session_epoch=fn.COALESCE(User.session_epoch, 0) + 1).where(User.username == username).execute()
    return session_epoch(username)


def session_epoch(username: str) -> int:
    """The user's current session epoch (a session is valid only while it carries this number)."""
    user = User.get_or_none(User.username == username)
    return (user.session_epoch or 0) if user else -1


def set_password(username: str, password: str) -> User:
    """Give ``username`` a new password under the rules and end all their sessions; refuses changing nothing."""
    user = User.get_or_none(User.username == username)
    if user is None:
        raise EngineError(f"no user {username!r}")
    errors = password_errors(password, username)
    if errors:
        raise ValidationFailed(errors, title="Cannot change the password")
    with database.atomic():
        User.update(password_hash=_HASHER.hash(password),
                    session_epoch=fn.COALESCE(User.session_epoch, 0) + 1).where(User.id == user.id).execute()
    return User.get_by_id(user.id)


def change_own_password(username: str, current: str, new: str, confirm: str) -> User:
    """A user changes their own password: the current one must be right and the new one follow the rules."""
    user = get_user(username)
    errors = []
    if not verify_password(user, current):
        errors.append(FieldError("current_password", "Your current password is not right"))
    if new != confirm:
        errors.append(FieldError("confirm_password", "The new passwords do not match"))
    elif new and new == current:
        errors.append(FieldError("new_password", "Choose a new password different from the current one"))
    errors.extend(password_errors(new, username, field="new_password"))
    if errors:
        raise ValidationFailed(errors, title="Cannot change the password")
    return set_password(username, new)


# Sign-in throttling: failures are kept in the database so every worker process sees them.
def _keys(username: str, address: str | None) -> list[str]:
    keys = [f"user:{username.lower()[:150]}"] if username else []
    return keys + ([f"addr:{address[:150]}"] if address else [])


def login_refused_for(username: str, address: str | None, now: datetime, max_failures: int = 5,
                      window: timedelta = timedelta(minutes=15)) -> timedelta | None:
    """How long sign-in stays refused for this username or address after too many failures, or None."""
    longest = None
    for key in _keys(username, address):
        recent = [from_db(row.at) for row in LoginAttempt.select(LoginAttempt.at)
                  .where(LoginAttempt.key == key, LoginAttempt.at > to_db(now - window))
                  .order_by(LoginAttempt.at.desc()).limit(max_failures)]
        if len(recent) >= max_failures:
            wait = recent[-1] + window - now
            longest = wait if longest is None or wait > longest else longest
    return longest


def record_login_failure(username: str, address: str | None, now: datetime,
                         window: timedelta = timedelta(minutes=15)) -> None:
    """Remember a failed sign-in for the username and the address (and forget ones older than the window)."""
    with database.atomic():
        LoginAttempt.delete().where(LoginAttempt.at <= to_db(now - window)).execute()
        for key in _keys(username, address):
            LoginAttempt.create(key=key, at=to_db(now))


def clear_login_failures(username: str) -> None:
    """A successful sign-in clears the username's failures (the address keeps its own)."""
    LoginAttempt.delete().where(LoginAttempt.key.in_(_keys(username, None))).execute()
