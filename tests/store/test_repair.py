"""Migration 6 on SQLite and PostgreSQL: text stored before it was refused (lone surrogates from JSON
escapes, control characters) is repaired, so the child's subject access pack can be sent again."""
from __future__ import annotations

import json

import pytest

from store import audit
from store.audit import AuditEntry
from store.demo import SCENARIOS, contact_payload
from store.models import CaseState, ChronologyEntry, Contact, Person
from store.sar import subject_access_pack

HIGH, LOW = "\ud83d", "\udc00"  # halves of a pair, each alone


def sent(pack: dict) -> bytes:
    """The pack as the web sends it (webui/sar.py): JSON text, encoded as UTF-8."""
    return json.dumps(pack, indent=2, ensure_ascii=False).encode("utf-8")


def at_version_5() -> None:
    """The database as migration 5 left it (as the web, the API and the command line stored it then)."""
    from store.migrations import SchemaVersion
    SchemaVersion.delete().where(SchemaVersion.version >= 6).execute()
    SchemaVersion.insert(version=5, description="as before", applied_at=None).on_conflict_ignore().execute()


@pytest.fixture
def damaged(app, users, clock):
    """A case whose stored text holds what the API used to let in, written directly to the rows."""
    case = app.service.record_contact(contact_payload(SCENARIOS[0], clock.now().date(), 3), "contact.officer")[0]
    child = Person.get_by_id(case.child_id)
    Person.update(given_name="Ro\x07se", details=dict(child.details, first_language="Pol" + HIGH + "ish\x0bnotes")
                  ).where(Person.id == child.id).execute()
    payload = dict(Contact.get_by_id(case.contact_id).payload, concern="Bruise" + LOW + " seen\x1b[2J today\tat 9")
    Contact.update(payload=payload).where(Contact.id == case.contact_id).execute()
    entry = ChronologyEntry.select().where(ChronologyEntry.case == case.id).first()
    ChronologyEntry.update(summary="Case started\x07", details={"note": "x" + HIGH}).where(
        ChronologyEntry.id == entry.id).execute()
    state = json.loads(CaseState.get_by_id(case.id).state)
    state["data"] = dict(state.get("data") or {}, damaged="a" + LOW)
    CaseState.update(state=json.dumps(state)).where(CaseState.case == case.id).execute()
    return case


def test_migration_6_repairs_stored_text_and_the_pack_can_be_sent(app, damaged, clock):
    from store.migrations import migrate, schema_version
    with pytest.raises(UnicodeEncodeError):  # what failed with a 500
        sent(subject_access_pack(damaged.child_id, "ig.nadia", clock.now()))
    at_version_5()
    report = migrate(clock.now())
    assert "6: control characters and lone surrogates in stored text repaired" in report.applied
    assert schema_version() >= 6
    pack = json.loads(sent(subject_access_pack(damaged.child_id, "ig.nadia", clock.now())))
    assert pack["subject"]["given_name"] == "Ro\ufffdse"
    assert pack["subject"]["details"]["first_language"] == "Pol\ufffdish\nnotes"  # Word's line break kept as one
    [case] = pack["cases"]
    assert case["contact"]["recorded"]["concern"] == "Bruise\ufffd seen\ufffd[2J today\tat 9"  # a tab is ordinary
    assert case["chronology"][0]["summary"] == "Case started\ufffd"
    state = CaseState.get_by_id(damaged.id).state
    assert json.loads(state)["data"]["damaged"] == "a\ufffd" and state.isascii()  # as the serializer writes it
    app.service.engine.data(app.service.diagrams_for(damaged.diagram_version_id), state, clock.now())  # it loads
    repairs = list(AuditEntry.select().where(AuditEntry.actor == "migration").order_by(AuditEntry.id))
    assert sorted((r.record_type, r.detail["column"]) for r in repairs) == sorted([
        ("person", "given_name"), ("person", "details"), ("contact", "payload"), ("chronology_entry", "summary"),
        ("chronology_entry", "details"), ("case_state", "state")])
    assert all(r.case_id == damaged.id for r in repairs if r.record_type in ("chronology_entry", "case_state"))
    assert audit.verify_chain()[1] == []


def test_the_repair_leaves_ordinary_text_alone_and_a_second_run_changes_nothing(app, users, clock):
    from store.repair import repair_stored_text
    case = app.service.record_contact(contact_payload(SCENARIOS[0], clock.now().date(), 4), "contact.officer")[0]
    ordinary = "Zoë said “it’s fine”\n\tthen left 🙂"
    Contact.update(payload=dict(Contact.get_by_id(case.contact_id).payload, concern=ordinary)).execute()
    before = {row.id: row.payload for row in Contact.select()}
    assert repair_stored_text(clock.now()) == 0
    assert {row.id: row.payload for row in Contact.select()} == before
    assert AuditEntry.select().where(AuditEntry.actor == "migration").count() == 0
