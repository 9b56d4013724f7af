"""The cold archive of a case's completed workflow history.

engine.history prunes finished subprocesses and loop turns from a case's state before it is
saved, so a step never loads the case's whole past; what was pruned is appended here, one row
per step that pruned something, and is read only when someone asks for the full history.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from peewee import DateTimeField, ForeignKeyField, TextField

from .models import BaseModel, Case
from .prepared import Prepared
from .timeutil import to_db


class CaseArchive(BaseModel):
    """Workflow history pruned from a case's state in one step (JSON, as engine.serializer wrote it)."""

    case = ForeignKeyField(Case, backref="archive", on_delete="CASCADE")
    at = DateTimeField()
    content = TextField()


def archive(case_id: int, content: str | None, now: datetime) -> None:
    """Append what a step pruned (nothing when it pruned nothing)."""
    if content:
        _APPEND.later(case=case_id, at=to_db(now), content=content)


# Most steps that finish a subprocess append (store/prepared.py: built once).
_APPEND = Prepared(lambda place: CaseArchive.insert(case=place("case"), at=place("at", CaseArchive.at),
                                                   content=place("content")))


def archived_history(case_id: int) -> list[dict[str, Any]]:
    """Everything pruned from a case's state, oldest first."""
    rows = CaseArchive.select().where(CaseArchive.case == case_id).order_by(CaseArchive.id)
    return [json.loads(row.content) for row in rows]
