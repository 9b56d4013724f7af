"""Injected time: every component asks a clock, never ``datetime.now()``."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    """Anything that can tell the current moment as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that says what it is told; tests and the demo move it by hand."""

    def __init__(self, moment: datetime | str) -> None:
        self.set(moment)

    def set(self, moment: datetime | str) -> None:
        """Move the clock to ``moment`` (an aware datetime or an ISO string)."""
        self._now = as_utc(moment)

    def now(self) -> datetime:
        return self._now


def as_utc(moment: datetime | str) -> datetime:
    """Parse or normalise a moment to an aware UTC datetime; naive values are taken as UTC."""
    if isinstance(moment, str):
        text = moment.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
