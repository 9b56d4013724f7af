"""Idempotency keys: a retried request with the same key gets the first answer and has no second effect.

A key belongs to one user. ``reserve`` inserts the key's row inside the caller's transaction before
the effect runs, and ``remember`` stores the answer in the same transaction, so a crash keeps both
or neither. A concurrent request with the same key waits on the unique index (PostgreSQL) or the
write lock (SQLite) until the first commits, then replays its answer; if the first failed and
rolled back, the second runs as if it were first. Keys expire after ``KEY_LIFETIME``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, IntegrityError, TextField

from engine import EngineError, FieldError, ValidationFailed

from .db import database
from .models import BaseModel, User
from .timeutil import to_db

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 200


class IdempotencyKeyReused(ValidationFailed):
    """The key was already used for a different request (another body, route or method): 422."""

    def __init__(self, key: str) -> None:
        super().__init__([FieldError("Idempotency-Key", f"the key {key!r} was already used for a different request "
                                                        "(another body or route); use a new key for a new request")],
                         title="The Idempotency-Key was used before")


class IdempotencyKey(BaseModel):
    """One user's key: what the first request was (its fingerprint) and the answer it got."""

    user = ForeignKeyField(User, on_delete="CASCADE")
    key = CharField(max_length=MAX_KEY_LENGTH)
    fingerprint = CharField(max_length=64)  # sha256 of method, path and body
    status = IntegerField(null=True)  # null only inside the transaction that reserved it
    body = TextField(null=True)
    created_at = DateTimeField()
    expires_at = DateTimeField(index=True)

    class Meta:
        indexes = ((("user", "key"), True),)


@dataclass
class Stored:
    """A remembered answer."""

    status: int
    body: str


def check_key(key: str) -> str:
    """A key must be 1-200 visible ASCII characters (a UUID is typical)."""
    if not key or len(key) > MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise EngineError(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} visible ASCII characters without spaces "
                          "(a UUID is typical)")
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: method, path and the body (JSON compared by content)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode("utf-8")
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def reserve(user_id: int, key: str, print_: str, now: datetime) -> Stored | None:
    """Claim ``key`` for this request inside the current transaction; the earlier answer if it was used.

    Raises IdempotencyKeyReused when the key was used for a different request.
    """
    IdempotencyKey.delete().where(IdempotencyKey.user == user_id, IdempotencyKey.key == key,
                                  IdempotencyKey.expires_at <= to_db(now)).execute()
    try:
        with database.atomic():  # a savepoint: a duplicate key must not abort the caller's transaction
            IdempotencyKey.create(user=user_id, key=key, fingerprint=print_, created_at=to_db(now),
                                  expires_at=to_db(now + KEY_LIFETIME))
        return None
    except IntegrityError:
        pass
    row = IdempotencyKey.get(IdempotencyKey.user == user_id, IdempotencyKey.key == key)
    if row.fingerprint != print_:
        raise IdempotencyKeyReused(key)
    return Stored(row.status, row.body)


def stored_answer(user_id: int, key: str, now: datetime, print_: str | None = None) -> Stored | None:
    """The answer already kept for a live key, without claiming it (a quick check before other work);
    with ``print_``, only if the key was used for that same request."""
    row = IdempotencyKey.get_or_none(IdempotencyKey.user == user_id, IdempotencyKey.key == key,
                                     IdempotencyKey.expires_at > to_db(now), IdempotencyKey.status.is_null(False))
    if row is None or (print_ is not None and row.fingerprint != print_):
        return None
    return Stored(row.status, row.body)


def remember(user_id: int, key: str, status: int, body: str) -> None:
    """Store the answer of the request that reserved ``key`` (same transaction as its effect)."""
    IdempotencyKey.update(status=status, body=body).where(IdempotencyKey.user == user_id,
                                                          IdempotencyKey.key == key).execute()


def purge_expired(now: datetime) -> int:
    """Delete expired keys; returns how many."""
    return IdempotencyKey.delete().where(IdempotencyKey.expires_at <= to_db(now)).execute()


__all__ = ["IdempotencyKey", "IdempotencyKeyReused", "KEY_LIFETIME", "Stored", "check_key", "fingerprint",
           "reserve", "stored_answer", "remember", "purge_expired"]
