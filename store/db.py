"""Database connection: SQLite (WAL, busy timeout) by default, PostgreSQL by ``DATABASE_URL``."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase

database = DatabaseProxy()
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
        return SqliteDatabase(path, lock_type="IMMEDIATE", check_same_thread=False, pragmas={
            "journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1, "synchronous": "normal"})
    if parsed.scheme in ("postgres", "postgresql"):
        extra = {key: values[-1] for key, values in parse_qs(parsed.query).items()}  # e.g. options=-csearch_path=x
        return PostgresqlDatabase(parsed.path.lstrip("/") or "postgres", host=parsed.hostname or "127.0.0.1",
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
