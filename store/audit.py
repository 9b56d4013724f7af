"""The record of access: an append-only, hash-chained audit of every view and change.

Each entry's hash is SHA-256 of the previous entry's hash and the canonical JSON of the entry
(including its id), so editing, deleting or reordering an entry breaks the chain and
``verify_chain`` finds it. Entries are numbered 1, 2, 3... with no gaps; the one-row chain head
holds the last id and hash, so even removing the newest entries is detected. An append takes the
chain head inside the caller's transaction (SQLite's write lock is held by BEGIN IMMEDIATE; on
PostgreSQL the head row is locked FOR UPDATE), so concurrent appends queue and never fork the chain.
There are deliberately no functions to update or delete entries.
"""
from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from peewee import CharField, DateTimeField, IntegerField, fn

from .db import database, is_postgres
from .models import BaseModel, JSONField, User
from .prepared import Prepared, PreparedFamily
from .timeutil import from_db, to_db

GENESIS = "0" * 64
ACTIONS = ("view", "change", "refused", "login")


class AuditEntry(BaseModel):
    """One audited event: who did what to which record, when, and from where."""

    id = IntegerField(primary_key=True)  # assigned 1, 2, 3... under the chain lock: a gap is a deleted entry
    at = DateTimeField(index=True)
    actor = CharField(max_length=80)
    action = CharField(max_length=20)
    record_type = CharField(max_length=40)
    record_id = CharField(max_length=64)
    case_id = IntegerField(null=True, index=True)
    address = CharField(max_length=64)
    detail = JSONField(null=True)
    prev_hash = CharField(max_length=64)
    hash = CharField(max_length=64)


class AuditHead(BaseModel):
    """The chain head (one row, id 1): the newest entry's id and hash; locked by every append."""

    id = IntegerField(primary_key=True)
    last_id = IntegerField()
    last_hash = CharField(max_length=64)


# -- where an event comes from ---------------------------------------------------------------
_source: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_source", default=None)
_address_provider: Callable[[], str | None] | None = None
_clock_provider: Callable[[], datetime | None] | None = None


def set_address_provider(provider: Callable[[], str | None]) -> None:
    """Register how to find the client address of the current request (the web app does this)."""
    global _address_provider
    _address_provider = provider


def set_clock_provider(provider: Callable[[], datetime | None]) -> None:
    """Register the clock of the current request, for changes made by functions given no ``now``."""
    global _clock_provider
    _clock_provider = provider


def current_time() -> datetime:
    """The current request's clock, else the system clock (UTC)."""
    moment = _clock_provider() if _clock_provider is not None else None
    return moment or datetime.now(timezone.utc)


@contextmanager
def audit_source(source: str) -> Iterator[None]:
    """Attribute entries appended inside this block to ``source`` (e.g. 'worker')."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


def current_address() -> str:
    """The client address of the current web request, else the explicit source, else 'cli'."""
    if _address_provider is not None:
        address = _address_provider()
        if address:
            return address[:64]
    return _source.get() or "cli"


# -- appending ---------------------------------------------------------------------------------
def canonical(entry: dict[str, Any]) -> str:
    """The canonical JSON of an entry's content (sorted keys, no spaces) that its hash covers."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """sha256(prev_hash + canonical JSON of the entry)."""
    return hashlib.sha256((prev_hash + canonical(content)).encode("utf-8")).hexdigest()


def _content(row: AuditEntry) -> dict[str, Any]:
    at = from_db(row.at)
    return {"id": row.id, "at": at.isoformat() if at else None, "actor": row.actor, "action": row.action,
            "record_type": row.record_type, "record_id": str(row.record_id), "case_id": row.case_id,
            "address": row.address, "detail": row.detail}


def _lock_head() -> AuditHead:
    """The chain head, locked for the rest of the transaction (created on first use)."""
    head = _HEAD.first()
    if head is None and is_postgres():  # the first append: two may race to create the head
        database.execute_sql("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, %s) "
                             "ON CONFLICT (id) DO NOTHING", (GENESIS,))
        return _HEAD.first()
    if head is None:
        head = AuditHead.create(id=1, last_id=0, last_hash=GENESIS)
    return head


@dataclass
class Pending:
    """An entry taken down now and appended with the next write (``set_pending_provider``)."""

    actor: str
    action: str
    record_type: str
    record_id: Any
    at: datetime
    detail: dict[str, Any] | None
    case_id: int | None
    address: str
    written: bool = False


_pending_provider: Callable[[], list[Pending] | None] | None = None


def set_pending_provider(provider: Callable[[], list[Pending] | None]) -> None:
    """Register where the current request keeps entries not yet appended (the web app's views of
    records): every append writes them first, in its own transaction, so a request that changes
    something appends its views and its change together; the web app appends any left before it answers."""
    global _pending_provider
    _pending_provider = provider


def pending(actor: str, action: str, record_type: str, record_id: Any, detail: dict[str, Any] | None,
            case_id: int | None) -> Pending:
    """An entry stamped with the current time and address, to append later (``append_pending``)."""
    return Pending((actor or "anonymous")[:80], action, record_type, str(record_id)[:64], current_time(), detail,
                   case_id, current_address())


def record(actor: str, action: str, record_type: str, record_id: Any, now: datetime | None,
           detail: dict[str, Any] | None = None, case_id: int | None = None,
           address: str | None = None) -> AuditEntry | None:
    """Append one entry to the chain, inside the caller's transaction when there is one
    (after any pending entries of the current request); inside ``together`` it is appended on
    leaving it, and None is returned."""
    entry = Pending((actor or "anonymous")[:80], action, record_type, str(record_id)[:64], now or current_time(),
                    detail, case_id, (address or current_address())[:64])
    collected = _together.get()
    if collected is not None:
        collected.append(entry)
        return None
    return _append([*_waiting(), entry])


_together: contextvars.ContextVar[list[Pending] | None] = contextvars.ContextVar("audit_together", default=None)


@contextmanager
def together() -> Iterator[None]:
    """The entries recorded inside are appended on leaving, in the order recorded, under one lock
    of the chain head (a contact records one per case and one for itself). Use it inside the
    caller's transaction: they are then written with the change they record, or not at all."""
    if _together.get() is not None:  # already collecting: the outer block appends
        yield
        return
    collected: list[Pending] = []
    token = _together.set(collected)
    try:
        yield
    finally:
        _together.reset(token)
    if collected:
        _append([*_waiting(), *collected])


def append_pending() -> None:
    """Append the current request's pending entries, if any are still waiting."""
    waiting = _waiting()
    if waiting:
        _append(waiting)


def _waiting() -> list[Pending]:
    found = _pending_provider() if _pending_provider is not None else None
    return [entry for entry in found or () if not entry.written]


def _append(entries: list[Pending]) -> AuditEntry:
    """Append ``entries`` in order under one lock of the chain head; the last one's row.

    Inside the caller's transaction it joins that transaction (no savepoint of its own: an entry
    that cannot be appended fails the change it records), otherwise it is its own."""
    with database.transaction():
        head = _lock_head()
        last_id, last_hash = head.last_id, head.last_hash
        rows: list[AuditEntry] = []
        for entry in entries:
            row = AuditEntry(id=last_id + 1, at=to_db(entry.at), actor=entry.actor, action=entry.action,
                             record_type=entry.record_type, record_id=entry.record_id, case_id=entry.case_id,
                             address=entry.address[:64], detail=entry.detail, prev_hash=last_hash)
            # Hash what will be read back (JSON round trip, microsecond precision kept by both databases).
            row.detail = json.loads(canonical(entry.detail)) if entry.detail is not None else None
            row.hash = entry_hash(last_hash, _content(row))
            rows.append(row)
            last_id, last_hash = row.id, row.hash
        for first in range(0, len(rows), INSERT_ROWS):  # a statement for every INSERT_ROWS entries
            chunk = rows[first:first + INSERT_ROWS]
            _INSERT[len(chunk)].later(**{f"{name}{i}": getattr(row, name)
                                         for i, row in enumerate(chunk) for name in _COLUMNS})
        _MOVE_HEAD.later(last_id=last_id, last_hash=last_hash)
        database.after_commit(lambda: _mark_written(entries))  # a rolled-back write leaves them waiting
    return row


def _mark_written(entries: list[Pending]) -> None:
    for entry in entries:
        entry.written = True


_COLUMNS = tuple(AuditEntry._meta.sorted_field_names)
INSERT_ROWS = 32  # entries written by one INSERT (a request's views and its change are a few)
# An append's statements, built once (store/prepared.py): every view and change appends.
_HEAD = Prepared(lambda place: (lambda query: query.for_update() if is_postgres() else query)(
    AuditHead.select().where(AuditHead.id == 1)))
_INSERT = PreparedFamily(lambda count, place: AuditEntry.insert_many(
    [{name: place(f"{name}{i}", getattr(AuditEntry, name)) for name in _COLUMNS} for i in range(count)]))
_MOVE_HEAD = Prepared(lambda place: AuditHead.update(last_id=place("last_id"), last_hash=place("last_hash"))
                      .where(AuditHead.id == 1))


# -- verifying ---------------------------------------------------------------------------------
@dataclass
class Break:
    """One broken link of the chain: the entry id and why."""

    entry_id: int
    reason: str


def verify_chain(batch: int = 1000) -> tuple[int, list[Break]]:
    """Recompute the chain from the first entry; returns (entries checked, broken links)."""
    breaks: list[Break] = []
    expected_id, prev_hash, count, last_id = 1, GENESIS, 0, 0
    # The head is read first and only entries up to it are checked: an entry and the head move in one
    # transaction, so appends committed while the chain is being read (a live system) are simply newer.
    head = AuditHead.get_or_none(AuditHead.id == 1)
    query = AuditEntry.select().order_by(AuditEntry.id)
    if head is not None:
        query = query.where(AuditEntry.id <= head.last_id)
    for row in query.iterator():
        count += 1
        if row.id != expected_id:
            missing = f"entry {expected_id}" if row.id == expected_id + 1 else f"entries {expected_id}-{row.id - 1}"
            breaks.append(Break(row.id, f"{missing} missing before it (deleted)"))
        if row.prev_hash != prev_hash:
            breaks.append(Break(row.id, "its previous hash does not match the entry before it "
                                        "(an entry was deleted, inserted or reordered)"))
        if entry_hash(row.prev_hash, _content(row)) != row.hash:
            breaks.append(Break(row.id, "its contents do not match its hash (the entry was edited)"))
        prev_hash, expected_id, last_id = row.hash, row.id + 1, row.id
    if head is not None:
        # An entry beyond the head that the head has not caught up with was not appended by record():
        # the newest id is read before the head again, so a genuine append in between is never flagged.
        newest = AuditEntry.select(fn.MAX(AuditEntry.id)).scalar() or 0
        if newest > AuditHead.get_by_id(1).last_id:
            breaks.append(Break(newest, "entries after the chain head were not appended through the chain"))
    if head is not None and (head.last_id != last_id or head.last_hash != prev_hash):
        breaks.append(Break(head.last_id, f"the chain head records entry {head.last_id} as the newest but the "
                                          f"newest entry is {last_id} (entries at the end were deleted or changed)"))
    elif head is None and count:
        breaks.append(Break(last_id, "the chain head is missing"))
    return count, breaks


# -- reading -----------------------------------------------------------------------------------
def entries_for_case(case_id: int, limit: int = 500) -> list[AuditEntry]:
    """A case's entries (its views, changes and refusals), newest first (this request's own included)."""
    append_pending()
    return list(AuditEntry.select().where(AuditEntry.case_id == case_id)
                .order_by(AuditEntry.id.desc()).limit(limit))


def case_viewers(case_id: int) -> list[dict[str, Any]]:
    """Who has seen a case: name, roles, last view and how many views, most recent viewer first
    (the current request's own view included)."""
    append_pending()
    rows = (AuditEntry.select(AuditEntry.actor, fn.COUNT(AuditEntry.id).alias("views"),
                              fn.MAX(AuditEntry.at).alias("last_at"))
            .where(AuditEntry.case_id == case_id, AuditEntry.action == "view")
            .group_by(AuditEntry.actor)
            .order_by(fn.MAX(AuditEntry.at).desc(), fn.MAX(AuditEntry.id).desc()).dicts())
    rows = list(rows)
    users = {u.username: u for u in User.select().where(User.username.in_([r["actor"] for r in rows]))} if rows else {}
    result = []
    for r in rows:
        user = users.get(r["actor"])
        roles = sorted(row.role for row in user.role_rows) if user is not None else []
        result.append({"username": r["actor"], "name": getattr(user, "full_name", None) or r["actor"],
                       "roles": roles, "last_at": from_db(r["last_at"]), "views": r["views"]})
    return result


__all__ = ["AuditEntry", "AuditHead", "Break", "Pending", "record", "pending", "append_pending", "set_pending_provider", "verify_chain", "entries_for_case", "case_viewers",
           "audit_source", "set_address_provider", "set_clock_provider", "current_time", "current_address", "canonical", "entry_hash", "GENESIS"]
