"""API bearer tokens: random secrets shown once, stored only as a SHA-256 hash.

A token acts as its user with exactly that user's roles; disabling the user stops every
token of theirs at once.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, fn

from .db import database, is_postgres
from .models import BaseModel, User, UserRole
from .prepared import Prepared
from .timeutil import from_db, to_db
from .users import get_user

TOKEN_BYTES = 32
# Writing last_used_at on every call would turn each read into a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiToken(BaseModel):
    """One bearer token of a user: its hash (never the secret), when made and when last used."""

    user = ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    token_hash = CharField(unique=True, max_length=64)
    created_at = DateTimeField()
    last_used_at = DateTimeField(null=True)


def hash_token(token: str) -> str:
    """The stored form of a token (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(username: str, now: datetime) -> str:
    """Make a new token for an active user and return the secret (it cannot be shown again)."""
    user = get_user(username)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with database.atomic():
        ApiToken.create(user=user, token_hash=hash_token(token), created_at=to_db(now))
    return token


def user_for_token(token: str, now: datetime) -> User | None:
    """The active user a token belongs to (recording its use), or None for an unknown token."""
    if not token:
        return None
    row = _TOKEN.first(token_hash=hash_token(token))
    if row is None:
        return None
    last = from_db(row.last_used_at)
    if last is None or now - last >= LAST_USED_RESOLUTION:
        ApiToken.update(last_used_at=to_db(now)).where(ApiToken.id == row.id).execute()
    user = row.user
    user.roles_read = frozenset(row.role_list.split(",")) if row.role_list else frozenset()  # store.users.roles_of
    return user


def _token_query(place):
    """The token, its active user and the user's roles (comma-separated; no role name has a comma)."""
    joined = fn.STRING_AGG(UserRole.role, ",") if is_postgres() else fn.GROUP_CONCAT(UserRole.role, ",")
    roles = UserRole.select(joined).where(UserRole.user == User.id)
    return (ApiToken.select(ApiToken, User, roles.alias("role_list")).join(User)
            .where(ApiToken.token_hash == place("token_hash"), User.active == True))  # noqa: E712


# Every API request looks its token up (store/prepared.py: built once), with its user's roles.
_TOKEN = Prepared(_token_query)


def tokens_of(username: str) -> list[ApiToken]:
    """A user's tokens, newest first (hashes and dates only)."""
    return list(ApiToken.select().join(User).where(User.username == username)
                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))


def revoke_tokens(username: str) -> int:
    """Delete every token of a user; returns how many there were."""
    user = User.get_or_none(User.username == username)
    if user is None:
        return 0
    return ApiToken.delete().where(ApiToken.user == user).execute()


__all__ = ["ApiToken", "hash_token", "issue_token", "user_for_token", "tokens_of", "revoke_tokens"]
