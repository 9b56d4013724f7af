"""Incidents: a case whose timers keep failing to fire, retried with backoff, then shown to administrators.

A failure is recorded in its own transaction after the failed step rolled back. The first
``MAX_ATTEMPTS - 1`` failures wait ``BACKOFF * 2**(attempts - 1)`` before the worker tries again
(status ``retrying``); the ``MAX_ATTEMPTS``-th makes it an incident (status ``open``) that the
worker leaves alone until an administrator retries it. A success resolves it.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from engine import EngineError

from .db import database
from .models import BaseModel, Case
from .timeutil import to_db

MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=2)  # 2, 4, 8, 16 minutes between the automatic attempts
UNRESOLVED = ("retrying", "open")


class Incident(BaseModel):
    """A case's timers failing to fire: the error, how often, when, and who resolved it."""

    case = ForeignKeyField(Case, backref="incidents", on_delete="CASCADE")
    kind = CharField(max_length=20, default="timer")
    status = CharField(max_length=20, index=True)  # retrying, open (needs a person), resolved
    error = TextField()
    attempts = IntegerField(default=0)
    first_failed_at = DateTimeField()
    last_failed_at = DateTimeField()
    next_attempt_at = DateTimeField(null=True)  # while retrying
    resolved_at = DateTimeField(null=True)
    resolved_by = CharField(null=True, max_length=80)

    class Meta:
        indexes = ((("case", "status"), False),)


def unresolved_for(case_id: int) -> Incident | None:
    """The case's current (retrying or open) incident, if any."""
    return Incident.get_or_none(Incident.case == case_id, Incident.status.in_(UNRESOLVED))


def record_failure(case_id: int, error: str, now: datetime) -> Incident:
    """Count one more failed attempt on the case; after MAX_ATTEMPTS it is an open incident."""
    with database.atomic():
        incident = unresolved_for(case_id) or Incident(case=case_id, error=error, first_failed_at=to_db(now))
        incident.attempts += 1
        incident.error, incident.last_failed_at = error[:2000], to_db(now)
        if incident.attempts >= MAX_ATTEMPTS:
            incident.status, incident.next_attempt_at = "open", None
        else:
            incident.status = "retrying"
            incident.next_attempt_at = to_db(now + BACKOFF * 2 ** (incident.attempts - 1))
        incident.save()
    return incident


def resolve(case_id: int, now: datetime, by: str) -> Incident | None:
    """Mark the case's unresolved incident resolved (inside the caller's transaction)."""
    incident = unresolved_for(case_id)
    if incident is not None:
        incident.status, incident.resolved_at, incident.resolved_by = "resolved", to_db(now), by
        incident.next_attempt_at = None
        incident.save()
    return incident


def waiting_cases(now: datetime):
    """Cases the worker must not try at ``now``: an open incident, or a retry not yet due."""
    return Incident.select(Incident.case).where(
        (Incident.status == "open") | ((Incident.status == "retrying") & (Incident.next_attempt_at > to_db(now))))


def list_incidents(include_resolved: bool = False, limit: int = 200) -> list[Incident]:
    """Incidents needing a person first, then those being retried, newest failure first."""
    query = Incident.select(Incident, Case).join(Case)
    if not include_resolved:
        query = query.where(Incident.status.in_(UNRESOLVED))
    order = (Incident.status != "open", Incident.status != "retrying", Incident.last_failed_at.desc(),
             Incident.id.desc())
    return list(query.order_by(*order).limit(limit))


def get_incident(incident_id: int) -> Incident:
    incident = Incident.get_or_none(Incident.id == incident_id)
    if incident is None:
        raise EngineError(f"no incident {incident_id}")
    return incident


__all__ = ["Incident", "MAX_ATTEMPTS", "BACKOFF", "unresolved_for", "record_failure", "resolve", "waiting_cases",
           "list_incidents", "get_incident"]
