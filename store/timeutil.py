"""Moments are stored as naive UTC datetimes (portable across SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timezone


def to_db(moment: datetime | None) -> datetime | None:
    """An aware moment as naive UTC for storage."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def from_db(value: datetime | None) -> datetime | None:
    """A stored naive UTC value as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
