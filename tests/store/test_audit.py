"""The hash-chained audit on SQLite and PostgreSQL: appends, verification, tampering, concurrency."""
from __future__ import annotations

import threading
from datetime import date

import pytest

from engine import EngineError
from store import audit
from store import cases as store_cases
from store.audit import AuditEntry, AuditHead, case_viewers, entries_for_case, verify_chain
from store.db import database
from store.demo import SCENARIOS, build_form, contact_payload
from store.models import Case, ChronologyEntry, Task
from store.tasks import claim_task, release_task

REFERRAL = date(2026, 12, 14)


def record_contact(app, users):
    scenario = next(s for s in SCENARIOS if s.name == "nfa")
    return app.service.record_contact(contact_payload(scenario, REFERRAL), users["contact_officer"])


def cads_task(case):
    return Task.get((Task.case == case.id) & (Task.bpmn_id == "cads_decision"))


def changes_of(case_id):
    return list(AuditEntry.select().where(AuditEntry.case_id == case_id, AuditEntry.action == "change")
                .order_by(AuditEntry.id))


def test_contact_and_each_step_append_one_change_entry(app, users):
    [case] = record_contact(app, users)
    contact_rows = list(AuditEntry.select().where(AuditEntry.record_type == "contact"))
    assert len(contact_rows) == 1 and contact_rows[0].actor == users["contact_officer"]
    assert contact_rows[0].detail["cases"] == [case.id] and contact_rows[0].address == "cli"
    assert len(changes_of(case.id)) == 1  # the case starting
    task = cads_task(case)
    form = build_form(task.form_name, {"decision": "assessment"}, app.clock.now().date(),
                      app.service.engine.calendar)
    app.service.complete_task(task.id, users["cads_social_worker"], form, token=task.token)
    rows = changes_of(case.id)
    assert len(rows) == 2
    step = rows[-1]
    assert step.actor == users["cads_social_worker"] and step.record_type == "case" and step.record_id == str(case.id)
    assert step.detail["task"]["bpmn_id"] == "cads_decision" and step.detail["task"]["id"] == task.id
    assert step.detail["task"]["fields"] == sorted(form)  # field names, never the values
    assert "assessment" not in str(step.detail["task"])
    assert step.detail["version"] == Case.get_by_id(case.id).version
    assert step.at == app.clock.now().replace(tzinfo=None)
    assert verify_chain() == (AuditEntry.select().count(), [])


def test_a_failed_step_leaves_no_audit_entry(app, users):
    [case] = record_contact(app, users)
    task = cads_task(case)
    before = AuditEntry.select().count()
    form = build_form(task.form_name, {"decision": "assessment"}, app.clock.now().date(), app.service.engine.calendar)
    with pytest.raises(EngineError):
        app.service.complete_task(task.id, users["cads_social_worker"], form, token="stale-token")
    assert AuditEntry.select().count() == before
    assert verify_chain()[1] == []


def test_claim_and_release_are_recorded(app, users):
    [case] = record_contact(app, users)
    task = cads_task(case)
    claim_task(task.id, users["cads_social_worker"])
    release_task(task.id, users["cads_social_worker"])
    actions = [e.detail.get("action") for e in entries_for_case(case.id) if e.record_type == "task"]
    assert actions == ["released", "claimed"]  # newest first


def append(n, actor="alice", case_id=None, now=None):
    for i in range(n):
        audit.record(actor, "view", "case", case_id or 1, now, {"n": i}, case_id=case_id)


def test_verify_passes_on_an_intact_chain(app):
    assert verify_chain() == (0, [])
    append(5)
    assert verify_chain() == (5, [])
    assert [e.id for e in AuditEntry.select().order_by(AuditEntry.id)] == [1, 2, 3, 4, 5]
    first = AuditEntry.get_by_id(1)
    assert first.prev_hash == audit.GENESIS and AuditEntry.get_by_id(2).prev_hash == first.hash


def test_verify_detects_an_edited_entry(app):
    append(5)
    database.execute_sql("UPDATE audit_entry SET actor = 'mallory' WHERE id = 3")
    count, breaks = verify_chain()
    assert count == 5 and [b.entry_id for b in breaks] == [3] and "edited" in breaks[0].reason


def test_verify_detects_an_edited_detail(app):
    append(3)
    database.execute_sql("""UPDATE audit_entry SET detail = '{"n":99}' WHERE id = 2""")
    assert [b.entry_id for b in verify_chain()[1]] == [2]


def test_verify_detects_a_deleted_entry(app):
    append(5)
    database.execute_sql("DELETE FROM audit_entry WHERE id = 3")
    count, breaks = verify_chain()
    assert count == 4 and {b.entry_id for b in breaks} == {4}
    assert any("deleted" in b.reason for b in breaks)


def test_verify_detects_deleting_the_newest_entries(app):
    append(5)
    database.execute_sql("DELETE FROM audit_entry WHERE id >= 4")
    count, breaks = verify_chain()
    assert count == 3 and len(breaks) == 1 and "newest" in breaks[0].reason


def test_verify_detects_an_entry_forged_after_the_head(app):
    """An entry inserted at the end without going through the chain (the head never saw it)."""
    append(3)
    forged = AuditEntry.get_by_id(3)
    forged.id, forged.actor, forged.prev_hash = 4, "mallory", forged.hash
    forged.hash = audit.entry_hash(forged.prev_hash, audit._content(forged))
    forged.save(force_insert=True)
    count, breaks = verify_chain()
    assert count == 3 and [b.entry_id for b in breaks] == [4] and "after the chain head" in breaks[0].reason


def test_verify_ignores_appends_committed_while_it_reads(app, monkeypatch):
    """A live system keeps appending while the chain is checked: the newer entries are not breaks."""
    append(3)
    read_head, appended = AuditHead.get_or_none, []

    def head_then_an_append(*args, **kwargs):
        head = read_head(*args, **kwargs)
        if not appended:  # committed after verify read the head, before it reads the entries
            appended.append(True)
            append(2)
        return head

    monkeypatch.setattr(AuditHead, "get_or_none", head_then_an_append)
    assert verify_chain() == (3, [])
    monkeypatch.undo()
    assert verify_chain() == (5, [])


def test_verify_detects_an_edit_that_recomputes_its_own_hash(app):
    """Rewriting an entry and its hash still breaks the next entry's link."""
    append(4)
    row = AuditEntry.get_by_id(2)
    row.actor = "mallory"
    new_hash = audit.entry_hash(row.prev_hash, audit._content(row))
    database.execute_sql("UPDATE audit_entry SET actor = 'mallory', hash = %s WHERE id = 2"
                         .replace("%s", database.param), (new_hash,))
    assert [b.entry_id for b in verify_chain()[1]] == [3]


def test_verify_detects_reordered_hashes(app):
    append(4)
    two, three = AuditEntry.get_by_id(2), AuditEntry.get_by_id(3)
    param = database.param
    database.execute_sql(f"UPDATE audit_entry SET hash = {param}, prev_hash = {param} WHERE id = 2",
                         (three.hash, three.prev_hash))
    database.execute_sql(f"UPDATE audit_entry SET hash = {param}, prev_hash = {param} WHERE id = 3",
                         (two.hash, two.prev_hash))
    breaks = verify_chain()[1]
    assert {2, 3} <= {b.entry_id for b in breaks}


def test_entries_cannot_be_changed_through_the_module():
    assert not any(name.startswith(("update", "delete", "remove", "edit")) for name in dir(audit))


def test_concurrent_appends_keep_one_chain(app):
    threads_count, per_thread = 8, 10
    barrier, errors = threading.Barrier(threads_count), []

    def worker(n):
        barrier.wait()
        try:
            append(per_thread, actor=f"user{n}", now=app.clock.now())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            app.db.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = threads_count * per_thread
    assert verify_chain() == (total, [])
    rows = list(AuditEntry.select().order_by(AuditEntry.id))
    assert [r.id for r in rows] == list(range(1, total + 1))
    assert len({r.prev_hash for r in rows}) == total  # no two entries share a parent: no fork
    assert AuditHead.get_by_id(1).last_id == total


def test_case_viewers_counts_views_newest_first(app, users, clock):
    from datetime import timedelta
    start = clock.now()
    audit.record(users["social_worker"], "view", "case", 7, start, case_id=7)
    audit.record(users["team_manager"], "view", "case", 7, start + timedelta(hours=1), case_id=7)
    audit.record(users["social_worker"], "view", "case", 7, start + timedelta(hours=2), case_id=7)
    audit.record(users["contact_officer"], "refused", "case", 7, start + timedelta(hours=3), case_id=7)
    audit.record(users["team_manager"], "view", "case", 8, start + timedelta(hours=4), case_id=8)
    viewers = case_viewers(7)
    assert [(v["username"], v["views"]) for v in viewers] == [(users["social_worker"], 2), (users["team_manager"], 1)]
    assert viewers[0]["last_at"] == start + timedelta(hours=2) and "social_worker" in viewers[0]["roles"]



def _counting(monkeypatch, owner, name: str) -> list:
    """Each call of ``owner.name`` from now on (its arguments), the call still made."""
    calls: list = []
    original = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda *args, **kwargs: calls.append((args, kwargs)) or original(*args, **kwargs))
    return calls


def _insert_sizes(monkeypatch) -> list[int]:
    """The number of entries each audit INSERT built from now on writes."""
    sizes: list[int] = []
    family = audit._INSERT

    class Counting:
        def __getitem__(self, count):
            sizes.append(count)
            return family[count]
    monkeypatch.setattr(audit, "_INSERT", Counting())
    return sizes


def test_entries_recorded_together_are_appended_once_on_leaving_in_order(app, monkeypatch):
    append(1)
    locks = _counting(monkeypatch, audit, "_lock_head")
    inserts = _insert_sizes(monkeypatch)
    with database.atomic(), audit.together():
        assert audit.record("alice", "view", "case", 1, None, {"n": "first"}) is None
        with audit.together():  # an inner block leaves the appending to the outer one
            audit.record("bob", "view", "case", 2, None, {"n": "second"})
        audit.record("carol", "view", "case", 3, None, {"n": "third"})
        assert AuditEntry.select().count() == 1  # nothing yet
    assert [e.actor for e in AuditEntry.select().order_by(AuditEntry.id)] == ["alice", "alice", "bob", "carol"]
    assert len(locks) == 1 and inserts == [3]  # one lock of the head, one INSERT
    assert verify_chain() == (4, [])


def test_entries_recorded_together_are_dropped_with_a_failed_block(app):
    append(1)
    with pytest.raises(RuntimeError), database.atomic(), audit.together():
        audit.record("alice", "view", "case", 1, None, {"n": 1})
        raise RuntimeError("the change failed")
    audit.record("bob", "view", "case", 1, None, {"n": 2})  # not collected: the block has ended
    assert [e.actor for e in AuditEntry.select().order_by(AuditEntry.id)] == ["alice", "bob"]
    assert verify_chain() == (2, [])


def test_many_entries_appended_at_once_go_in_several_inserts(app, monkeypatch):
    count = audit.INSERT_ROWS * 2 + 5
    inserts = _insert_sizes(monkeypatch)
    with database.atomic(), audit.together():
        append(count)
    assert inserts == [audit.INSERT_ROWS, audit.INSERT_ROWS, 5]
    rows = list(AuditEntry.select().order_by(AuditEntry.id))
    assert [r.detail["n"] for r in rows] == list(range(count))
    assert verify_chain() == (count, [])


def test_a_contact_for_two_children_appends_its_entries_together(app, users, monkeypatch):
    scenario = next(s for s in SCENARIOS if s.name == "nfa")
    payload = contact_payload(scenario, REFERRAL)
    payload["children"] = [payload["children"][0], dict(payload["children"][0], given_name="Sam")]
    locks = _counting(monkeypatch, audit, "_lock_head")
    inserted = _counting(monkeypatch, store_cases._INSERT_STATE, "later")
    updated = _counting(monkeypatch, store_cases._UPDATE_STATE, "later")
    read = _counting(monkeypatch, store_cases._TASKS_OF_CASE, "rows")
    cases = app.service.record_contact(payload, users["contact_officer"])
    assert len(cases) == 2
    assert len(locks) == 1
    # each new case's state is written once, by its insert, and it has no task rows to read
    assert len(inserted) == 2 and updated == [] and read == []
    rows = list(AuditEntry.select().order_by(AuditEntry.id))
    assert [(r.record_type, r.record_id) for r in rows] == [("case", str(cases[0].id)), ("case", str(cases[1].id)),
                                                            ("contact", str(cases[0].contact_id))]
    assert verify_chain() == (3, [])
