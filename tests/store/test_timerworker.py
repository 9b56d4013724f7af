"""The timer worker on SQLite and PostgreSQL: several workers, a killed worker, failing cases, incidents."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from engine import EngineError
from store.audit import AuditEntry, verify_chain
from store.demo import SCENARIOS, contact_payload
from store.incidents import MAX_ATTEMPTS, Incident, list_incidents
from store.models import Case, CaseState, ChronologyEntry, Task
from store.timerworker import run_due_timers, retry_incident
from store.timeutil import from_db

REFERRAL = date(2026, 12, 14)
DUE = datetime(2026, 12, 16, 8, tzinfo=timezone.utc)  # the CADS decision deadline (end of 15 December) has passed


def start_cases(app, users, count: int) -> list[Case]:
    scenario = next(s for s in SCENARIOS if s.name == "nfa")
    return [app.service.record_contact(contact_payload(scenario, REFERRAL, child_index=i), users["contact_officer"])[0]
            for i in range(count)]


def assert_escalated_once(case_id: int) -> None:
    """The CADS deadline fired exactly once: one escalation task, one chronology entry, one audit change."""
    case = Case.get_by_id(case_id)
    assert Task.select().where(Task.case == case_id, Task.bpmn_id == "escalate_cads_decision").count() == 1
    assert ChronologyEntry.select().where(ChronologyEntry.case == case_id,
                                          ChronologyEntry.kind == "deadline_missed").count() == 1
    changes = AuditEntry.select().where(AuditEntry.record_type == "case", AuditEntry.record_id == str(case_id),
                                        AuditEntry.action == "change").count()
    assert case.version == 3 and changes == case.version - 1


def break_case(case_id: int) -> str:
    """Corrupt a case's stored workflow (as a bad migration or a disk fault might); returns the good state."""
    good = CaseState.get_by_id(case_id).state
    CaseState.update(state='{"serializer_version": "broken", "data": ').where(CaseState.case == case_id).execute()
    return good


def fail_until_incident(service, case_id: int, now: datetime) -> tuple[Incident, datetime]:
    """Run worker passes at each retry time until the failing case becomes an open incident."""
    for _ in range(MAX_ATTEMPTS):
        result = run_due_timers(service, now)
        assert case_id in result.failed
        incident = Incident.get(Incident.case == case_id)
        if incident.status == "open":
            return incident, now
        now = from_db(incident.next_attempt_at)
    raise AssertionError("no incident after MAX_ATTEMPTS failures")


def _worker_process(app, barrier, results) -> None:
    """One ``safeguarding worker`` pass in its own process (forked: its own connection)."""
    barrier.wait()
    done = run_due_timers(app.service, DUE)
    results.put((done.fired, done.failed))


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_several_workers_never_fire_one_timer_twice(app, users, mode, workers=4):
    cases = start_cases(app, users, 24)
    app.db.close()  # each worker opens its own connection
    if mode == "threads":
        totals, barrier = [], threading.Barrier(workers)

        def work():
            barrier.wait()
            try:
                done = run_due_timers(app.service, DUE)
                totals.append((done.fired, done.failed))
            finally:
                app.db.close()
        runners = [threading.Thread(target=work) for _ in range(workers)]
    else:
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(workers), context.Queue()
        runners = [context.Process(target=_worker_process, args=(app, barrier, results)) for _ in range(workers)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(120)
    if mode == "processes":
        assert all(r.exitcode == 0 for r in runners)
        totals = [results.get(timeout=10) for _ in runners]
    assert len(totals) == workers and sum(fired for fired, _ in totals) == len(cases), totals
    assert all(not failed for _, failed in totals)
    for case in cases:
        assert_escalated_once(case.id)
    assert run_due_timers(app.service, DUE + timedelta(hours=1)).fired == 0
    assert verify_chain()[1] == []


def _stalled_worker(url: str, inside) -> None:
    """A worker process that fires a timer and then hangs inside the transaction until it is killed."""
    from store import app_context
    from engine import FixedClock
    context = app_context(url, FixedClock(DUE))
    real = context.service.engine.fire_timers

    def fire_and_hang(*args, **kwargs):
        outcome = real(*args, **kwargs)
        inside.set()
        time.sleep(60)
        return outcome
    context.service.engine.fire_timers = fire_and_hang
    run_due_timers(context.service, DUE)


def test_a_worker_killed_mid_step_leaves_nothing_and_the_next_worker_fires(app, users, db_url):
    [case] = start_cases(app, users, 1)
    before = (Case.get_by_id(case.id).version, AuditEntry.select().count())
    app.db.close()  # the forked worker must not share this connection
    inside = multiprocessing.get_context("fork").Event()
    worker = multiprocessing.get_context("fork").Process(target=_stalled_worker, args=(db_url, inside))
    worker.start()
    try:
        assert inside.wait(60), "the worker never reached the step"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.join(10)
    assert worker.exitcode == -signal.SIGKILL
    assert (Case.get_by_id(case.id).version, AuditEntry.select().count()) == before  # rolled back
    fired, deadline = 0, time.monotonic() + 20
    while not fired and time.monotonic() < deadline:  # PostgreSQL ends the dead session's transaction
        fired = run_due_timers(app.service, DUE).fired
    assert fired == 1
    assert_escalated_once(case.id)
    assert Incident.select().count() == 0 and verify_chain()[1] == []


def break_diagrams(case_id: int, now: datetime) -> str:
    """Point a case at a stored diagram version that no longer loads; returns the good version."""
    from store.models import DiagramVersion
    good = Case.get_by_id(case_id).diagram_version_id
    DiagramVersion.create(version="broken0000000000", files={"safeguarding_case.bpmn": "<definitions"},
                          created_at=now.replace(tzinfo=None))
    Case.update(diagram_version="broken0000000000").where(Case.id == case_id).execute()
    return good


@pytest.mark.parametrize("fault", ["state", "diagrams"])
def test_a_failing_case_is_retried_with_backoff_and_never_blocks_the_others(app, users, fault):
    first, broken, last = start_cases(app, users, 3)
    if fault == "state":
        break_case(broken.id)
    else:
        break_diagrams(broken.id, DUE)
    result = run_due_timers(app.service, DUE)
    assert result.fired == 2 and result.failed == [broken.id]
    assert_escalated_once(first.id) and assert_escalated_once(last.id)
    incident = Incident.get(Incident.case == broken.id)
    assert (incident.status, incident.attempts) == ("retrying", 1)
    assert from_db(incident.next_attempt_at) == DUE + timedelta(minutes=2)
    assert ("JSON" if fault == "state" else "DiagramError") in incident.error, incident.error
    assert run_due_timers(app.service, DUE + timedelta(minutes=1)).failed == []  # waiting for its retry time
    incident, now = fail_until_incident(app.service, broken.id, DUE + timedelta(minutes=2))
    assert incident.attempts == MAX_ATTEMPTS and incident.next_attempt_at is None
    assert from_db(incident.first_failed_at) == DUE and from_db(incident.last_failed_at) == now
    assert now == DUE + timedelta(minutes=2 + 4 + 8 + 16)  # backoff doubles
    assert run_due_timers(app.service, now + timedelta(days=3)).failed == []  # an incident waits for a person
    assert [i.id for i in list_incidents()] == [incident.id]
    assert Case.get_by_id(broken.id).version == 2  # nothing half-done


def test_a_failure_that_clears_up_is_resolved_by_the_next_attempt(app, users):
    [case] = start_cases(app, users, 1)
    good = break_case(case.id)
    assert run_due_timers(app.service, DUE).failed == [case.id]
    CaseState.update(state=good).where(CaseState.case == case.id).execute()
    assert run_due_timers(app.service, DUE + timedelta(minutes=2)).fired == 1
    incident = Incident.get(Incident.case == case.id)
    assert (incident.status, incident.resolved_by) == ("resolved", "system") and incident.attempts == 1
    assert_escalated_once(case.id)


def test_an_administrator_retries_an_incident_after_fixing_the_cause(app, users):
    [case] = start_cases(app, users, 1)
    good = break_case(case.id)
    incident, now = fail_until_incident(app.service, case.id, DUE)
    with pytest.raises(EngineError, match="the retry failed again"):
        retry_incident(app.service, incident.id, users["admin"], now)
    assert Incident.get_by_id(incident.id).attempts == MAX_ATTEMPTS + 1
    CaseState.update(state=good).where(CaseState.case == case.id).execute()  # the cause is fixed
    resolved = retry_incident(app.service, incident.id, users["admin"], now + timedelta(hours=1))
    assert (resolved.status, resolved.resolved_by) == ("resolved", users["admin"])
    assert from_db(resolved.resolved_at) == now + timedelta(hours=1)
    assert_escalated_once(case.id)
    retried = AuditEntry.get(AuditEntry.record_type == "incident")
    assert retried.actor == users["admin"] and retried.detail == {"action": "incident retried", "fired": True}
    with pytest.raises(EngineError, match="already resolved"):
        retry_incident(app.service, incident.id, users["admin"], now)
    with pytest.raises(EngineError, match="no incident 999"):
        retry_incident(app.service, 999, users["admin"], now)
    assert list_incidents() == [] and [i.id for i in list_incidents(include_resolved=True)] == [incident.id]
    assert verify_chain()[1] == []


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_worker_command_survives_its_database_session_being_killed(app, users, db_url, monkeypatch, capsys):
    """A PostgreSQL restart or a killed session: the worker says so, reconnects and carries on."""
    from tests.conftest import POSTGRES_URL
    from store.db import database, make_database
    from webui.cli import main, operations
    cases = start_cases(app, users, 2)
    sleeps = []

    def between_passes(_seconds):
        sleeps.append(_seconds)
        if len(sleeps) == 1:  # kill this worker's own database session, as a restart would
            [(pid,)] = database.execute_sql("SELECT pg_backend_pid()").fetchall()
            admin = make_database(POSTGRES_URL)
            admin.execute_sql("SELECT pg_terminate_backend(%s)", (pid,))
            admin.close()
        if len(sleeps) == 3:
            raise KeyboardInterrupt
    monkeypatch.setattr(operations.time, "sleep", between_passes)
    try:
        code = main(["--database", db_url, "worker", "--interval", "0.5", "--now", DUE.isoformat()])
    finally:
        database.initialize(app.db)
    out, err = capsys.readouterr()
    assert code == 130 and len(sleeps) == 3
    assert out.splitlines() == [f"{DUE.isoformat()}: fired timers on {count} case(s)" for count in (2, 0)]
    assert err.startswith("the database is unavailable (") and err.rstrip().endswith("trying again in 0.5s")
    for case in cases:
        assert_escalated_once(case.id)
