"""Database connection: SQLite (WAL, busy timeout) by default, PostgreSQL by ``DATABASE_URL``."""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase, __exception_wrapper__

database = DatabaseProxy()
log = logging.getLogger(__name__)
INSTANCE_DIR = Path(os.environ.get("SAFEGUARDING_INSTANCE", Path(__file__).resolve().parent.parent / "instance"))
DEFAULT_URL = f"sqlite:///{INSTANCE_DIR / 'safeguarding.db'}"


def make_database(url: str | None = None):
    """A peewee database for ``url`` (sqlite:///path or postgresql://...)."""
    url = url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = parsed.path if url.startswith("sqlite:///") else ""
        path = path or ":memory:"
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # BEGIN IMMEDIATE takes the write lock when a unit of work starts, so two writers of
        # one case queue instead of both reading the same version.
        return QueuedSqliteDatabase(path, lock_type="IMMEDIATE", check_same_thread=False, pragmas={
            "journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1, "synchronous": "normal",
            "wal_autocheckpoint": QueuedSqliteDatabase.BACKSTOP_PAGES})
    if parsed.scheme in ("postgres", "postgresql"):
        extra = {key: values[-1] for key, values in parse_qs(parsed.query).items()}  # e.g. options=-csearch_path=x
        return BatchingPostgresqlDatabase(parsed.path.lstrip("/") or "postgres", host=parsed.hostname or "127.0.0.1",
                                  port=parsed.port or 5432, user=parsed.username or "postgres",
                                  password=parsed.password, **extra)
    raise ValueError(f"unsupported DATABASE_URL scheme {parsed.scheme!r} (use sqlite:/// or postgresql://)")


def connect(url: str | None = None):
    """Bind the models to the database at ``url`` and return it."""
    db = make_database(url)
    database.initialize(db)
    return db


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


class QueuedSqliteDatabase(SqliteDatabase):
    """SQLite whose writers wait their turn in the kernel instead of polling for the write lock.

    One writer at a time holds SQLite's write lock. A second writer's BEGIN IMMEDIATE is refused
    and SQLite's busy handler sleeps and retries (after 1, 2, 5, 10, 15, 20, 25... ms), so with
    several web workers the lock often sat free while the next writer slept. Each transaction
    first takes an exclusive flock on a file beside the database: waiting writers sleep in the
    kernel and the next one wakes as soon as the lock is released at COMMIT or ROLLBACK. A thread
    that already holds the turn (a second connection to the same file in one thread) does not
    queue again, so it cannot wait on itself; it falls back to SQLite's own busy handling.

    Checkpoints (copying the WAL into the database file, and syncing it) happen after the turn is
    given up. SQLite's own automatic checkpoint runs inside the COMMIT that takes the WAL past
    its threshold, 20 to 50 ms here while the turn is still held, so every waiting writer of
    every worker waited for it too. Instead, every ``CHECKPOINT_EVERY`` commits a process runs a
    PASSIVE checkpoint on the connection that just committed, once it holds no transaction and
    no turn: writers go on meanwhile. No other connection and no thread is involved, so nothing
    extra is ever open across a fork. SQLite's own checkpoint stays as a backstop at
    ``BACKSTOP_PAGES``, for a WAL the periodic ones cannot keep up with.
    """

    CHECKPOINT_EVERY = 100
    BACKSTOP_PAGES = 10_000
    _holders: dict[str, int] = {}  # queue file -> the thread holding the turn (per process)
    _holders_lock = threading.Lock()

    def __init__(self, database, *args, **kwargs) -> None:
        super().__init__(database, *args, **kwargs)
        self._queue = None if database in (":memory:", "") else f"{database}-writers"
        self._local = threading.local()
        self._commits = 0  # since this process's last checkpoint (approximate across threads)

    def begin(self, lock_type=None):
        self._take_turn()
        try:
            return super().begin(lock_type)
        except BaseException:
            self._end_turn()
            raise

    def commit(self):
        try:
            result = super().commit()
        finally:
            self._end_turn()
        if self._queue is not None:  # a file (an in-memory database has no WAL)
            self._commits += 1
            if self._commits >= self.CHECKPOINT_EVERY:
                self._commits = 0
                self.checkpoint()
        return result

    def checkpoint(self) -> tuple[int, int, int] | None:
        """A PASSIVE checkpoint on this thread's connection, outside any transaction: (busy, frames
        in the WAL, frames copied), or None if it could not run. A failure here is logged, never
        raised: the commit before it has already succeeded."""
        try:
            connection = self.connection()
            if connection.in_transaction:
                return None
            return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint after a commit failed (SQLite will retry at its own threshold): %s", exc)
            return None

    def rollback(self):
        try:
            return super().rollback()
        finally:
            self._end_turn()

    def _take_turn(self) -> None:
        if self._queue is None:
            return
        me = threading.get_ident()
        with self._holders_lock:
            if self._holders.get(self._queue) == me:
                return  # this thread holds the turn through another connection
        fd = getattr(self._local, "fd", None)
        if fd is None:
            fd = self._local.fd = os.open(self._queue, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with self._holders_lock:
            self._holders[self._queue] = me
        self._local.holding = True

    def _end_turn(self) -> None:
        if not getattr(self._local, "holding", False):
            return
        self._local.holding = False
        with self._holders_lock:
            self._holders.pop(self._queue, None)
        fcntl.flock(self._local.fd, fcntl.LOCK_UN)


class BatchingPostgresqlDatabase(PostgresqlDatabase):
    """PostgreSQL that sends the statements nobody waits for with the next one somebody does.

    Every statement is a round trip to the server, and a step's writes are a dozen of them
    whose answers are never read: the transaction's BEGIN, the state, the task rows, the
    chronology, the audit entries. Inside a transaction these are held (``later``; BEGIN always)
    and sent, in order, ahead of the next statement whose answer is read, or ahead of the
    COMMIT, as one query of several statements (PostgreSQL's simple protocol answers with the
    last one's result). The order on the server is unchanged, so is what the transaction sees.

    An error in a held statement is raised by the call that sends it, which is still inside the
    same transaction (or savepoint block): that rolls back exactly as before, and a COMMIT sent
    behind a failed statement never runs. A transaction that sent nothing has nothing to roll
    back on the server, and one that held only its BEGIN commits without a round trip.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._held = _Held()

    def _take_held(self) -> list[bytes]:
        held, self._held.statements = self._held.statements, []
        return held

    def _formatted(self, cursor, sql: str, params) -> bytes:
        """``sql`` with its values, as execute would send it; a value that cannot be sent fails here."""
        with __exception_wrapper__:
            statement = cursor.mogrify(sql, params or ())
        self._log_query(sql, params)
        return statement

    def later(self, sql: str, params=None) -> None:
        """Run ``sql`` (whose answer is not read) with the next statement that is sent; at once
        outside a transaction."""
        if not self.in_transaction():
            self.execute_sql(sql, params)
            return
        self._held.statements.append(self._formatted(self.cursor(), sql, params))

    def begin(self, isolation_level=None):
        if isolation_level is None:
            isolation_level = self._isolation_level
        statement = "BEGIN"
        if isolation_level:
            statement = f"BEGIN TRANSACTION ISOLATION LEVEL {self._adapter.isolation_level_str(isolation_level)}"
        self.connection()  # connects now if need be (connecting resets the transaction stack)
        self._held.statements = [_Begin(statement.encode())]  # a stale remainder is never sent

    def execute_sql(self, sql, params=None):
        if not self._held.statements:
            return super().execute_sql(sql, params)
        cursor = self.cursor()
        statement = self._formatted(cursor, sql, params)  # before taking them: if it fails, they stay held
        held = self._take_held()
        with __exception_wrapper__:
            cursor.execute(b";\n".join([*held, statement]))
        return cursor

    def commit(self):
        held = self._take_held()
        if not held:
            super().commit()
        elif len(held) > 1 or not isinstance(held[0], _Begin):  # only a held BEGIN: nothing to commit
            with __exception_wrapper__:
                self.cursor().execute(b";\n".join([*held, b"COMMIT"]))

    def rollback(self):
        held = self._take_held()
        if held and isinstance(held[0], _Begin):
            return  # the BEGIN was never sent: the server has nothing to roll back
        super().rollback()

    def _close(self, conn):
        self._take_held()
        super()._close(conn)


class _Held(threading.local):
    """This thread's held statements (peewee's connection state is per thread too)."""

    def __init__(self) -> None:
        self.statements: list[bytes] = []


class _Begin(bytes):
    """A held BEGIN (the server has no transaction while it is held)."""
