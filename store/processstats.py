"""Figures for the process owner: who waits where now, time spent at each task, deadlines missed.

All figures come from the task projection and the chronology; no workflow is deserialized.

Median time at a task: each ``task_completed`` chronology entry is paired, in the database, with
the latest ``task_opened`` entry of the same case and element written before it (a correlated
subquery, portable across SQLite and PostgreSQL). The median itself is computed in Python,
because SQLite has no portable median or percentile aggregate: the query is bounded to the
completions of the last ``window_days`` days and at most ``MAX_COMPLETIONS`` of the newest.
Pairing with the *latest* opening means a task opened, cancelled and opened again is timed from
its last opening, and multi-instance tasks (MASH checks, one instance per agency) opened together
are each timed from that opening.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import fn

from .models import ChronologyEntry, DiagramVersion, Task
from .timeutil import from_db, to_db

MAX_COMPLETIONS = 20000
DEFAULT_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Waiting:
    """Open work at one task: how many cases wait there, and how many task instances."""

    cases: int
    tasks: int


@dataclass(frozen=True)
class TimeSpent:
    """The median time from a task's opening to its completion, over ``completions`` completions."""

    median: timedelta
    completions: int


@dataclass
class ProcessStats:
    """Every figure of the statistics page, keyed by BPMN element id (deadlines by deadline key)."""

    waiting: dict[str, Waiting] = field(default_factory=dict)
    time_spent: dict[str, TimeSpent] = field(default_factory=dict)
    deadlines_missed: dict[str, int] = field(default_factory=dict)
    since: datetime | None = None
    truncated: bool = False


def list_versions() -> list[DiagramVersion]:
    """Every stored diagram version, newest first."""
    return list(DiagramVersion.select().order_by(DiagramVersion.created_at.desc(), DiagramVersion.version))


def get_version(version: str) -> DiagramVersion | None:
    """One stored diagram version, or None."""
    return DiagramVersion.get_or_none(DiagramVersion.version == version)


def newest_published() -> DiagramVersion | None:
    """The newest published version (the one new cases start on)."""
    return (DiagramVersion.select().where(DiagramVersion.status == "published")
            .order_by(DiagramVersion.created_at.desc()).first())


def waiting_at_tasks() -> dict[str, Waiting]:
    """Open tasks now, grouped by BPMN id: distinct cases and task instances (MASH checks count each)."""
    rows = (Task.select(Task.bpmn_id, fn.COUNT(fn.DISTINCT(Task.case)), fn.COUNT(Task.id))
            .group_by(Task.bpmn_id).tuples())
    return {bpmn_id: Waiting(cases, tasks) for bpmn_id, cases, tasks in rows}


def time_spent_at_tasks(since: datetime | None, limit: int = MAX_COMPLETIONS) -> tuple[dict[str, TimeSpent], bool]:
    """Median opening-to-completion time per BPMN id over completions since ``since``; and whether
    the row limit cut the query short."""
    completed = ChronologyEntry
    opened = ChronologyEntry.alias("opened")
    opened_at = (opened.select(fn.MAX(opened.at))
                 .where(opened.case == completed.case, opened.element == completed.element,
                        opened.kind == "task_opened",
                        (opened.at < completed.at) | ((opened.at == completed.at) & (opened.id < completed.id))))
    query = (completed.select(completed.element, completed.at, opened_at.alias("opened_at"))
             .where(completed.kind == "task_completed", completed.element.is_null(False))
             .order_by(completed.at.desc(), completed.id.desc()).limit(limit + 1))
    if since is not None:
        query = query.where(completed.at >= to_db(since))
    rows = list(query.tuples())
    truncated = len(rows) > limit
    durations: dict[str, list[timedelta]] = {}
    for element, done_at, started_at in rows[:limit]:
        if started_at is None:
            continue  # opened before the chronology recorded openings
        spent = from_db(_as_datetime(done_at)) - from_db(_as_datetime(started_at))
        durations.setdefault(element, []).append(spent)
    return {element: TimeSpent(statistics.median(values), len(values))
            for element, values in durations.items()}, truncated


def _as_datetime(value) -> datetime:
    """A timestamp from a subquery column: SQLite hands back text, PostgreSQL a datetime."""
    return ChronologyEntry.at.python_value(value) if isinstance(value, str) else value


def deadlines_missed(since: datetime | None) -> dict[str, int]:
    """How often each statutory deadline (by key, e.g. ``cads_decision``) was missed since ``since``."""
    query = (ChronologyEntry.select(ChronologyEntry.element, fn.COUNT(ChronologyEntry.id))
             .where(ChronologyEntry.kind == "deadline_missed", ChronologyEntry.element.is_null(False))
             .group_by(ChronologyEntry.element))
    if since is not None:
        query = query.where(ChronologyEntry.at >= to_db(since))
    return dict(query.tuples())


def process_stats(now: datetime, window_days: int | None = DEFAULT_WINDOW_DAYS) -> ProcessStats:
    """Open work now, and time spent and deadlines missed over the last ``window_days`` days (None: all)."""
    since = now - timedelta(days=window_days) if window_days else None
    time_spent, truncated = time_spent_at_tasks(since)
    return ProcessStats(waiting=waiting_at_tasks(), time_spent=time_spent,
                        deadlines_missed=deadlines_missed(since), since=since, truncated=truncated)


__all__ = ["ProcessStats", "TimeSpent", "Waiting", "deadlines_missed", "get_version", "list_versions",
           "newest_published", "process_stats", "time_spent_at_tasks", "waiting_at_tasks"]
