"""The timer worker: fires each due timer exactly once, however many workers run, and survives failures.

Each case is its own transaction. On PostgreSQL the case row is taken ``FOR UPDATE SKIP LOCKED``,
so concurrent workers share the due cases and never fire one twice; on SQLite ``BEGIN IMMEDIATE``
queues them. Inside the transaction the case must still be due, so a case another worker has
just fired is skipped. A worker killed mid-step leaves nothing behind: its transaction rolls
back and the next pass fires the timer. A step that raises is recorded (store/incidents.py) and
retried with backoff; the other due cases carry on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from peewee import InterfaceError, OperationalError

from engine import CaseConflict, CaseEngine, DiagramSet, EngineError, StepOutcome

from . import audit, incidents
from .db import database, is_postgres
from .models import Case, CaseState
from .timeutil import to_db


class CaseService(Protocol):
    """What firing a case's timers needs of the command service (``store.cases.Safeguarding``):
    named by its shape, so the worker and the service it serves do not import each other."""

    engine: CaseEngine

    def diagrams_for(self, version: str) -> DiagramSet: ...

    def _write(self, case: Case, outcome: StepOutcome, actor: str, now: datetime, expected_version: int,
               moved: dict[str, Any] | None = None, new: bool = False) -> None: ...


SYSTEM = "system"
DATABASE_DOWN = (OperationalError, InterfaceError)  # the database, not a case, is failing


@dataclass
class WorkerPass:
    """What one pass did: cases moved, cases whose step failed (ids), cases another worker had."""

    fired: int = 0
    failed: list[int] = field(default_factory=list)
    skipped: int = 0


def due_case_ids(now: datetime, batch: int) -> list[int]:
    """Open cases with a timer due at ``now``, oldest first, leaving out those waiting on an incident."""
    return [c.id for c in Case.select(Case.id)
            .where(Case.status == "open", Case.next_timer_at <= to_db(now),
                   Case.id.not_in(incidents.waiting_cases(now)))
            .order_by(Case.next_timer_at, Case.id).limit(batch)]


def _take(case_id: int, now: datetime, wait: bool) -> Case | None:
    """The case row, locked, if it is still due; None if it is not, or (not waiting) another worker has it."""
    query = Case.select().where(Case.id == case_id, Case.status == "open", Case.next_timer_at <= to_db(now))
    if is_postgres():
        query = query.for_update() if wait else query.for_update("FOR UPDATE SKIP LOCKED")
    return query.first()


def fire_case(service: CaseService, case_id: int, now: datetime, actor: str = SYSTEM,
              wait: bool = False) -> bool:
    """Fire one case's due timers in one transaction; False if it was not due (or another worker has it)."""
    with database.atomic():
        case = _take(case_id, now, wait)
        if case is None:
            return False
        diagrams = service.diagrams_for(case.diagram_version_id)
        outcome = service.engine.fire_timers(diagrams, CaseState.get_by_id(case.id).state, now)
        service._write(case, outcome, actor, now, expected_version=case.version)
        incidents.resolve(case.id, now, actor)
    return True


def run_due_timers(service: CaseService, now: datetime, batch: int = 100) -> WorkerPass:
    """One pass over the due cases; a failing case is recorded for retry and never stops the others."""
    result = WorkerPass()
    for case_id in due_case_ids(now, batch):
        try:
            if fire_case(service, case_id, now):
                result.fired += 1
            else:
                result.skipped += 1
        except CaseConflict:
            result.skipped += 1  # changed by someone else meanwhile: due again on the next pass if still due
        except DATABASE_DOWN:
            raise  # the database itself is failing: not this case's fault; the next pass retries
        except Exception as exc:  # any failure of this case's step: recorded, retried, then an incident
            incidents.record_failure(case_id, f"{type(exc).__name__}: {exc}", now)
            result.failed.append(case_id)
    return result


def worker_pass(service: CaseService, now: datetime) -> str:
    """One pass of ``safeguarding worker``: fire due timers, drop expired idempotency keys; the line to print."""
    from .idempotency import purge_expired
    done = run_due_timers(service, now)
    purge_expired(now)
    failed = f"; failed on {len(done.failed)} case(s), to be retried (safeguarding incidents list)" \
        if done.failed else ""
    return f"{now.isoformat(timespec='seconds')}: fired timers on {done.fired} case(s){failed}"


def drop_connection(db) -> None:
    """After the database went away (a restart, a killed session): drop the dead connection; the next
    query opens a new one."""
    try:
        db.close()
    except Exception:  # noqa: BLE001 - the old connection is dead; closing it may fail in any way
        pass


def retry_incident(service: CaseService, incident_id: int, username: str, now: datetime) -> incidents.Incident:
    """An administrator retries an incident's case now (after fixing the cause).

    Resolved if the timers fire or nothing is due any more; otherwise the failure is recorded
    again and EngineError says why.
    """
    incident = incidents.get_incident(incident_id)
    if incident.status not in incidents.UNRESOLVED:
        raise EngineError(f"incident {incident_id} was already resolved by {incident.resolved_by}")
    try:
        fired = fire_case(service, incident.case_id, now, actor=username, wait=True)
    except DATABASE_DOWN:
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        incidents.record_failure(incident.case_id, error, now)
        raise EngineError(f"the retry failed again: {error}") from None
    with database.atomic():
        if not fired:  # nothing was due any more (for example the case was closed meanwhile)
            incidents.resolve(incident.case_id, now, username)
        audit.record(username, "change", "incident", incident.id, now,
                     {"action": "incident retried", "fired": fired}, case_id=incident.case_id)
    return incidents.Incident.get_by_id(incident.id)


__all__ = ["WorkerPass", "due_case_ids", "fire_case", "run_due_timers", "worker_pass", "drop_connection",
           "retry_incident", "SYSTEM", "DATABASE_DOWN"]
