"""Typed values crossing the engine boundary (nothing outside engine/ sees SpiffWorkflow)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

@dataclass(frozen=True)
class Actor:
    """Who is acting: a user name and the roles they hold ('system' for the timer worker)."""

    username: str
    roles: frozenset[str]

    @classmethod
    def of(cls, username: str, *roles: str) -> "Actor":
        return cls(username, frozenset(roles))


@dataclass(frozen=True)
class TaskView:
    """A READY user task as offered to people: who may do it, its form, its due date."""

    id: str
    bpmn_id: str
    process: str
    name: str
    role: str
    form_name: str
    form_title: str
    schema: dict[str, Any]
    instructions: str
    due: date | None
    token: str
    prefill: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChronologyEvent:
    """One thing that happened to a case, for its chronology; ``happened_on``: the day it happened
    (None: the day it is recorded)."""

    kind: str
    summary: str
    element: str | None = None
    actor: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    happened_on: date | None = None


@dataclass
class StepOutcome:
    """Everything the store writes after one engine step, in one transaction."""

    state: str
    diagram_version: str
    tasks: list[TaskView]
    deadlines: dict[str, date]
    statutory: dict[str, Any]
    reviews: list[date]
    events: list[ChronologyEvent]
    stage: str
    completed: bool
    next_timer_at: datetime | None
    completed_task: TaskView | None = None
    archive: str | None = None  # completed history pruned from the state in this step (JSON), for cold storage
