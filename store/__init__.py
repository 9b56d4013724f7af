"""Persistence with peewee (SQLite by default, PostgreSQL by DATABASE_URL) and the units of work."""
from __future__ import annotations

from dataclasses import dataclass

from engine import Clock

from .cases import Safeguarding
from .db import connect, database
from .migrations import create_schema


@dataclass
class AppContext:
    """A connected database and the command service over it."""

    service: Safeguarding
    clock: Clock
    db: object


def app_context(url: str | None, clock: Clock, diagram_dir=None) -> AppContext:
    """Connect to ``url`` (creating the schema if needed) and build the service."""
    db = connect(url)
    db.connect(reuse_if_open=True)
    create_schema()
    return AppContext(Safeguarding(clock, diagram_dir=diagram_dir), clock, db)


__all__ = ["AppContext", "Safeguarding", "app_context", "connect", "create_schema", "database"]
