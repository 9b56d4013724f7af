"""Subject access packs on SQLite and PostgreSQL: everything about the subject, others redacted with reasons."""
from __future__ import annotations

import json

import pytest

from engine import EngineError
from store import audit
from store.audit import AuditEntry
from store.demo import CP_PATH, Scenario, _defaults, contact_payload, demo_child, drive_case
from store.models import Case
from store.sar import find_subject, redacted, subject_access_pack

REFERRER = {"type": "professional", "anonymous": False, "name": "Rita Referrer", "agency": "Oak Surgery",
            "phone": "01603 000 111", "email": "rita@oak.example"}
TO_ICPC = Scenario("to_icpc", {**_defaults(), **{k: [v] for k, v in CP_PATH.items()}}, stop_before="icpc")


def record(app, clock, children, referrer=REFERRER, links=None):
    payload = contact_payload(TO_ICPC, clock.now().date())
    payload.update(children=children, referrer=referrer)
    return app.service.record_contact(payload, "contact.officer", links)


@pytest.fixture
def subject_case(app, users, clock):
    """Amy's case (with her brother on the same contact) taken to a booked ICPC, viewed by her worker."""
    amy, brother = demo_child(0), dict(demo_child(0), given_name="Alfie", date_of_birth="2020-01-01")
    cases = record(app, clock, [amy, brother])
    case = drive_case(app.service, clock, cases[0].id, TO_ICPC, users)
    audit.record("sw.priya", "view", "case", case.id, clock.now(), case_id=case.id)
    return case


def reasons(value) -> list[str]:
    """Every redaction reason in a pack, in document order."""
    if isinstance(value, dict):
        if value.get("redacted") is True:
            return [value["reason"]]
        return [r for item in value.values() for r in reasons(item)]
    if isinstance(value, list):
        return [r for item in value for r in reasons(item)]
    return []


def test_the_pack_holds_the_subjects_records_and_redacts_others(app, subject_case, clock):
    pack = subject_access_pack(subject_case.child_id, "ig.nadia", clock.now())
    text = json.dumps(pack)
    assert pack["subject"]["given_name"] == "Amy" and pack["subject"]["date_of_birth"] == "2018-04-09"
    [case] = pack["cases"]
    assert case["reference"] == subject_case.reference and case["allocated_worker"] == "Priya Shah"
    recorded = case["contact"]["recorded"]
    assert recorded["referrer"] == redacted("third party: referrer")
    assert recorded["children"][0]["given_name"] == "Amy"  # the subject's own entry
    assert recorded["children"][1] == redacted("third party: another child named in the contact")
    assert recorded["family_members"][0]["name"] == redacted("third party: family member (mother)")
    assert recorded["family_members"][0]["relationship"] == "mother"
    for withheld in ("Rita Referrer", "Oak Surgery", "01603 000 111", "Alfie", "Dawn Mills", "DS Kate Moore"):
        assert withheld not in text, withheld
    assert "Priya Shah" in text and "Helen Carter" in text  # staff acting in their work are disclosed
    tasks = {t["task"]: t for t in case["completed_tasks"]}
    attendees = tasks["Strategy discussion"]["form"]["attendees"]
    assert attendees[1]["name"] == redacted("third party: police") and attendees[0]["name"] == "Priya Shah"
    [conference] = case["conferences"]
    assert conference["kind"] == "icpc" and conference["chair"] == "Helen Carter"
    assert conference["details"]["invitees"][0]["name"] == redacted("third party: parent")
    assert [e["kind"] for e in case["chronology"]][0] == "case_started"
    assert case["plans"]["child_protection"]["started_on"] is None
    assert [v["username"] for v in case["viewed_by"]] == ["sw.priya"]
    assert all(r.startswith(("third party", "anonymous referrer")) for r in reasons(pack))
    assert pack["review_notes"] and pack["produced_by"] == "ig.nadia"


def test_producing_a_pack_is_audited(app, subject_case, clock):
    subject_access_pack(subject_case.child_id, "ig.nadia", clock.now())
    rows = list(AuditEntry.select().where(AuditEntry.action == "export").order_by(AuditEntry.id))
    assert [(r.actor, r.record_type) for r in rows] == [("ig.nadia", "subject_access"), ("ig.nadia", "case")]
    assert rows[0].record_id == str(subject_case.child_id) and rows[1].case_id == subject_case.id
    assert rows[0].detail["redactions"] >= 5


def test_an_anonymous_referrer_is_redacted_as_anonymous_and_a_referrers_own_pack(app, users, clock):
    anonymous = {"type": "member_of_public", "anonymous": True, "name": "Nina Neighbour"}
    [case] = record(app, clock, [demo_child(3)], referrer=anonymous)
    pack = subject_access_pack(case.child_id, "ig.nadia", clock.now())
    assert pack["cases"][0]["contact"]["recorded"]["referrer"] == redacted("anonymous referrer")
    assert "Nina Neighbour" not in json.dumps(pack)
    referrer = Case.get_by_id(case.id).contact.referrer
    own = subject_access_pack(referrer.id, "ig.nadia", clock.now())
    assert own["subject"]["kind"] == "referrer" and own["cases"] == []
    assert own["referrals_made"][0]["children"] == [redacted("third party: child named in the referral")]
    assert demo_child(3)["given_name"] not in json.dumps(own)


def test_finding_the_subject_by_id_or_name_and_birth_date(app, users, clock):
    [first] = record(app, clock, [demo_child(5)])
    [second] = record(app, clock, [demo_child(5)], links={0: None})  # recorded as a different child
    assert first.child_id != second.child_id
    assert find_subject(str(first.child_id)).id == first.child_id
    [other] = record(app, clock, [demo_child(6)])
    child = demo_child(6)
    assert find_subject(None, f"{child['given_name']} {child['family_name']}", child["date_of_birth"]).id == other.child_id
    with pytest.raises(EngineError, match=rf"2 people called .* {first.child_id} .*{second.child_id} .*Give the person id"):
        find_subject(None, demo_child(5)["given_name"], demo_child(5)["date_of_birth"])
    with pytest.raises(EngineError, match="no one called Zed Nobody"):
        find_subject(None, "Zed Nobody", "2001-01-01")
    with pytest.raises(EngineError, match="not a date"):
        find_subject(None, "Amy", "9 April")
    with pytest.raises(EngineError, match="there is no person 9999"):
        find_subject("9999")
    with pytest.raises(EngineError, match="give a person id"):
        find_subject(None, "", None)
