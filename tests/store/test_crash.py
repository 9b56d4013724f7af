"""Crash safety: a worker process completing tasks is killed with SIGKILL at random moments, again and again.

One database is reused across the kills, so the work accumulates. After every kill: SQLite's
integrity check passes, the audit chain verifies, and every case is consistent: its workflow
restores, its task projection is exactly the workflow's ready tasks, its audit has one change
entry per version step (``version - 1`` of them, numbered 2..version), its chronology's completed
tasks are the audit's, and the step that was in flight is wholly done or wholly undone.
"""
from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from peewee import fn

from engine import EngineError
from engine.migration import restored_outcome
from store.audit import AuditEntry, verify_chain
from store.db import QueuedSqliteDatabase
from store.demo import SCENARIOS, build_form, contact_payload
from store.models import Case, CaseState, ChronologyEntry, Contact, Task
from store.timerworker import run_due_timers

START = datetime(2026, 12, 14, 9, tzinfo=timezone.utc)
KILLS = {"sqlite": 200, "postgres": 40}
OPEN_CASES = 8
DECISIONS = ["assessment", "mash_checks", "strategy_discussion", "nfa", "advice"]
# Shared with the worker: what it is doing when it dies.
PHASE, TX, CASE, VERSION, OPS = range(5)
IDLE, COMPLETING = 0, 1
NO_TX, IN_TX, COMMITTING, CHECKPOINTING = 0, 1, 2, 3


def _instrument(db, slots) -> None:
    """Note in shared memory when the worker's transactions begin and commit (peewee calls these)."""
    begin, commit, rollback = db.begin, db.commit, db.rollback

    def traced_begin(*args, **kwargs):
        result = begin(*args, **kwargs)
        slots[TX] = IN_TX
        return result

    def traced_commit():
        slots[TX] = COMMITTING
        result = commit()
        slots[TX] = NO_TX
        return result

    def traced_rollback():
        result = rollback()
        slots[TX] = NO_TX
        return result
    db.begin, db.commit, db.rollback = traced_begin, traced_commit, traced_rollback
    checkpoint = getattr(db, "checkpoint", None)
    if checkpoint is not None:  # SQLite: after a commit, the WAL's checkpoint (store/db.py)
        def traced_checkpoint():
            slots[TX] = CHECKPOINTING
            return checkpoint()
        db.checkpoint = traced_checkpoint


def _work(app, users, slots, task_slot, ready, day: int, seed: int) -> None:
    """The worker process: record contacts, complete random open tasks, fire timers; forever (until killed)."""
    rng = random.Random(seed)
    _instrument(app.db, slots)
    app.clock.set(START + timedelta(days=day))
    today, calendar = app.clock.now().date(), app.service.engine.calendar
    scenario = next(s for s in SCENARIOS if s.name == "nfa")
    Case.select().count()  # connected
    ready.set()
    while True:
        try:
            if Case.select().where(Case.status == "open").count() < OPEN_CASES:
                app.service.record_contact(contact_payload(scenario, today, child_index=rng.randrange(40)),
                                           users["contact_officer"])
                continue
            if rng.random() < 0.1:
                run_due_timers(app.service, app.clock.now())
                continue
            tasks = list(Task.select())
            task = rng.choice(tasks)
            overrides = {"decision": rng.choice(DECISIONS)} if task.bpmn_id == "cads_decision" else {}
            prefill = {"agency": task.role.removeprefix("mash_")} if task.bpmn_id == "mash_check" else {}
            form = build_form(task.form_name, overrides, today, calendar, prefill)
            username = task.assignee.username if task.assignee_id else users[task.role]
            task_slot.value = task.id.encode()
            slots[CASE], slots[VERSION] = task.case_id, Case.get_by_id(task.case_id).version
            slots[PHASE] = COMPLETING
            app.service.complete_task(task.id, username, form, token=task.token)
            slots[PHASE] = IDLE
            slots[OPS] += 1
        except EngineError:  # refused (a form that does not fit this case yet): nothing changed
            slots[PHASE] = IDLE


def check_store(app, touched_since: datetime, sqlite: bool) -> None:
    """Every invariant that must hold after a crash."""
    if sqlite:
        assert app.db.execute_sql("PRAGMA integrity_check").fetchall() == [("ok",)]
    count, breaks = verify_chain()
    assert breaks == [], breaks[:3]
    changes = dict(AuditEntry.select(AuditEntry.record_id, fn.COUNT(AuditEntry.id))
                   .where(AuditEntry.record_type == "case", AuditEntry.action == "change")
                   .group_by(AuditEntry.record_id).tuples())
    versions = dict(Case.select(Case.id, Case.version).tuples())
    assert {int(k): v for k, v in changes.items()} == {case_id: v - 1 for case_id, v in versions.items()}
    contacts = AuditEntry.select().where(AuditEntry.record_type == "contact").count()
    assert contacts == Contact.select().count() == Contact.select().join(Case).distinct().count()
    for case in Case.select().where((Case.status == "open") | (Case.updated_at >= touched_since.replace(tzinfo=None))):
        check_case(app, case)


def check_case(app, case: Case) -> None:
    """One case: its workflow restores and agrees with its projection, audit and chronology."""
    diagrams = app.service.diagrams_for(case.diagram_version_id)
    now = app.clock.now()
    state = CaseState.get_by_id(case.id).state
    outcome = restored_outcome(app.service.engine, diagrams, state, now)
    projected = {(t.id, t.token, t.bpmn_id) for t in Task.select().where(Task.case == case.id)}
    assert projected == {(v.id, v.token, v.bpmn_id) for v in outcome.tasks}, case.reference
    assert case.stage == outcome.stage and (case.status == "closed") == outcome.completed
    assert case.next_timer_at == (outcome.next_timer_at.replace(tzinfo=None) if outcome.next_timer_at else None)
    audit = list(AuditEntry.select().where(AuditEntry.record_type == "case", AuditEntry.record_id == str(case.id),
                                           AuditEntry.action == "change").order_by(AuditEntry.id))
    assert [a.detail["version"] for a in audit] == list(range(2, case.version + 1))
    completed = [c.task_id for c in ChronologyEntry.select().where(ChronologyEntry.case == case.id,
                                                                   ChronologyEntry.kind == "task_completed")
                 .order_by(ChronologyEntry.id)]
    assert completed == [a.detail["task"]["id"] for a in audit if "task" in a.detail]


def wait_for_orphaned_sessions(app, seconds: float = 10.0) -> None:
    """PostgreSQL finishes what a killed client's session was doing (a COMMIT already sent still commits)
    before it notices the client is gone: as after a real restart, check only once those sessions ended."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        busy = app.db.execute_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND state <> 'idle'").fetchone()[0]
        if not busy:
            return
        time.sleep(0.02)


def in_flight(slots, task_slot) -> str:
    """Was the step being completed when the worker died wholly done or wholly undone?"""
    if slots[PHASE] != COMPLETING:
        return "between steps"
    task_id, case = task_slot.value.decode(), Case.get_by_id(slots[CASE])
    done = ChronologyEntry.select().where(ChronologyEntry.task_id == task_id).exists()
    if case.version == slots[VERSION]:
        assert not done and Task.get_or_none(Task.id == task_id) is not None
        return "step undone"
    assert case.version == slots[VERSION] + 1 and done and Task.get_or_none(Task.id == task_id) is None
    return "step done"


@pytest.mark.parametrize("seed", [20261214])
def test_killing_the_worker_at_random_moments_never_leaves_half_a_step(app, users, db_url, seed, monkeypatch):
    kind = "postgres" if db_url.startswith("postgres") else "sqlite"
    # SQLite: the worker checkpoints its WAL after every third commit (store/db.py), so kills land in
    # checkpoints too, not only in steps.
    monkeypatch.setattr(QueuedSqliteDatabase, "CHECKPOINT_EVERY", 3)
    rng, context = random.Random(seed), multiprocessing.get_context("fork")
    slots, task_slot = context.Array("i", 5, lock=False), context.Array("c", 40, lock=False)
    landed, tx_states, started = Counter(), Counter(), time.monotonic()
    scenario = next(s for s in SCENARIOS if s.name == "nfa")  # warm up here, not in every short-lived worker
    app.service.record_contact(contact_payload(scenario, START.date()), users["contact_officer"])
    for day in range(KILLS[kind]):
        for index in range(5):
            slots[index] = 0 if index != OPS else slots[OPS]
        app.db.close()  # never share a connection with the child
        ready = context.Event()
        worker = context.Process(target=_work, args=(app, users, slots, task_slot, ready, day, rng.randrange(1 << 30)))
        worker.start()
        try:
            assert ready.wait(30), "the worker did not start"
            time.sleep(rng.uniform(0.02, 0.4))
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.join(10)
        assert worker.exitcode == -signal.SIGKILL, f"the worker stopped by itself ({worker.exitcode})"
        if kind == "postgres":
            wait_for_orphaned_sessions(app)
        tx_states[("outside a transaction", "inside a transaction", "committing", "checkpointing")[slots[TX]]] += 1
        app.clock.set(START + timedelta(days=day))
        landed[in_flight(slots, task_slot)] += 1
        check_store(app, START + timedelta(days=day), sqlite=kind == "sqlite")
    for case in Case.select():  # finally every case, closed ones too, restores
        check_case(app, case)
    elapsed = time.monotonic() - started
    summary = (f"{kind}: {KILLS[kind]} kills in {elapsed:.0f}s, {slots[OPS]} completions, "
               f"{Case.select().count()} cases ({Case.select().where(Case.status == 'closed').count()} closed), "
               f"kills {dict(tx_states)}, in-flight completions {dict(landed)}")
    print(summary)
    report = os.environ.get("CRASH_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(summary + "\n")
    # Enough kills land where a write is under way: in a transaction, in its COMMIT or (SQLite) in the
    # checkpoint after it; and some in each.
    writing = tx_states["inside a transaction"] + tx_states["committing"]
    assert writing + tx_states["checkpointing"] >= KILLS[kind] // 10, summary
    assert writing >= KILLS[kind] // 20, summary
    if kind == "sqlite":
        assert tx_states["checkpointing"] >= 3, summary
    assert landed["step undone"] and slots[OPS] >= KILLS[kind] // 2, summary
