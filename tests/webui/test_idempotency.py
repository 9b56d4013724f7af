"""Idempotency-Key on the API's POSTs, on SQLite and PostgreSQL: retries replay, never repeat."""
from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest

from store.audit import AuditEntry
from store.demo import SCENARIOS, build_form, contact_payload
from store.idempotency import IdempotencyKey
from store.models import Case, ChronologyEntry, Contact, Task

from ..store.test_concurrency import run_together


@pytest.fixture
def context(db_web_app):
    context = db_web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    yield context
    context.db.close()


@pytest.fixture
def post(db_web_app, context):
    """post(url, as_=role, body=..., key=...) -> response, with the user's bearer token."""
    from store.tokens import issue_token
    tokens: dict[str, str] = {}
    users = db_web_app.config["USERS_BY_ROLE"]

    def call(url: str, as_: str, body=None, key: str | None = None):
        token = tokens.setdefault(as_, issue_token(users.get(as_, as_), context.clock.now()))
        headers = {"Authorization": f"Bearer {token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = db_web_app.test_client().post(url, json=body, headers=headers)
        context.db.connect(reuse_if_open=True)  # the request closed this thread's connection
        return response
    return call


def contact(context, **overrides) -> dict:
    payload = contact_payload(next(s for s in SCENARIOS if s.name == "nfa"), context.clock.now().date())
    payload.update(overrides)
    return payload


def open_case(context, db_web_app) -> tuple[Case, Task]:
    [case] = context.service.record_contact(contact(context), db_web_app.config["USERS_BY_ROLE"]["contact_officer"])
    return case, Task.get(Task.case == case.id, Task.bpmn_id == "cads_decision")


def completion(context, task) -> dict:
    form = build_form(task.form_name, {"decision": "nfa"}, context.clock.now().date(), context.service.engine.calendar)
    return {"data": form, "token": task.token}


def test_a_retried_contact_gets_the_same_answer_and_records_once(post, context):
    key, body = str(uuid.uuid4()), contact(context)
    first = post("/api/contacts", "contact_officer", body, key=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = post("/api/contacts", "contact_officer", body, key=key)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Contact.select().count() == 1 and Case.select().count() == 1
    assert AuditEntry.select().where(AuditEntry.record_type == "contact").count() == 1
    assert post("/api/contacts", "contact_officer", body).status_code == 201  # no key: a new contact
    assert Contact.select().count() == 2


def test_a_retried_completion_replays_instead_of_409(post, context, db_web_app):
    case, task = open_case(context, db_web_app)
    key, body = "complete-" + task.id, completion(context, task)
    url = f"/api/tasks/{task.id}/complete"
    first = post(url, "cads_social_worker", body, key=key)
    assert first.status_code == 200, first.data
    again = post(url, "cads_social_worker", body, key=key)
    assert (again.status_code, again.get_json()) == (200, first.get_json())
    assert Case.get_by_id(case.id).version == case.version + 1
    assert ChronologyEntry.select().where(ChronologyEntry.case == case.id,
                                          ChronologyEntry.kind == "task_completed").count() == 1
    assert AuditEntry.select().where(AuditEntry.record_id == str(case.id), AuditEntry.record_type == "case",
                                     AuditEntry.action == "change").count() == 2  # started, completed
    assert post(url, "cads_social_worker", body).status_code == 409  # without the key: the task is gone


def test_a_retried_claim_replays(post, context, db_web_app):
    _case, task = open_case(context, db_web_app)
    url = f"/api/tasks/{task.id}/claim"
    first = post(url, "cads_social_worker", key="claim-1")
    again = post(url, "cads_social_worker", key="claim-1")
    assert first.status_code == again.status_code == 200 and again.get_json() == first.get_json()
    assert AuditEntry.select().where(AuditEntry.record_type == "task", AuditEntry.record_id == task.id,
                                     AuditEntry.action == "change").count() == 1


def test_the_same_key_with_another_body_or_route_is_422_and_changes_nothing(post, context, db_web_app):
    key = "contact-42"  # CADS records contacts and may claim the CADS decision (access is checked first)
    assert post("/api/contacts", "cads_social_worker", contact(context), key=key).status_code == 201
    other = post("/api/contacts", "cads_social_worker", contact(context, concern="Another worry"), key=key)
    assert other.status_code == 422
    [error] = other.get_json()["errors"]
    assert error["field"] == "Idempotency-Key" and "already used for a different request" in error["message"]
    _case, task = open_case(context, db_web_app)
    before = Contact.select().count()
    assert post(f"/api/tasks/{task.id}/claim", "cads_social_worker", key=key).status_code == 422  # another route
    assert Contact.select().count() == before and Task.get_by_id(task.id).assignee_id is None


def test_keys_belong_to_their_user(post, context):
    body = contact(context)
    first = post("/api/contacts", "contact_officer", body, key="shared-key")
    second = post("/api/contacts", "cads_manager", body, key="shared-key")
    assert first.status_code == second.status_code == 201
    assert first.get_json()["contact_id"] != second.get_json()["contact_id"]
    assert IdempotencyKey.select().where(IdempotencyKey.key == "shared-key").count() == 2


def test_an_error_answer_is_not_kept_so_the_corrected_request_runs(post, context):
    bad = post("/api/contacts", "contact_officer", contact(context, received_on="2026-13-01"), key="k-1")
    assert bad.status_code == 422 and IdempotencyKey.select().count() == 0
    forbidden = post("/api/contacts", "social_worker", contact(context), key="k-1")
    assert forbidden.status_code == 403 and IdempotencyKey.select().count() == 0
    good = post("/api/contacts", "contact_officer", contact(context), key="k-1")
    assert good.status_code == 201 and Contact.select().count() == 1


def test_keys_expire_after_a_day_by_the_injected_clock(post, context):
    body = contact(context, received_on=date(2026, 12, 14).isoformat())
    assert post("/api/contacts", "contact_officer", body, key="daily").status_code == 201
    context.clock.set(context.clock.now() + timedelta(hours=23, minutes=59))
    assert post("/api/contacts", "contact_officer", body, key="daily").headers.get("Idempotent-Replayed") == "true"
    context.clock.set(context.clock.now() + timedelta(minutes=1))
    later = post("/api/contacts", "contact_officer", body, key="daily")
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert Contact.select().count() == 2
    from store.idempotency import purge_expired
    assert purge_expired(context.clock.now() + timedelta(days=1)) == 1 and IdempotencyKey.select().count() == 0


@pytest.mark.parametrize("key", ["", " ", "has space", "x" * 201, "caf\u00e9"])
def test_a_malformed_key_is_400(post, context, key):
    response = post("/api/contacts", "contact_officer", contact(context), key=key)
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["detail"]
    assert Contact.select().count() == 0


def test_the_key_and_the_effect_commit_together(post, context, monkeypatch):
    """A failure after the effect but before the answer is stored (a crash) leaves neither."""
    import webui.api

    def crash(*_args, **_kwargs):
        raise RuntimeError("the process died here")
    monkeypatch.setattr(webui.api, "remember", crash)
    response = post("/api/contacts", "contact_officer", contact(context), key="atomic")
    assert response.status_code == 500 and "the process died" not in response.get_data(as_text=True)
    assert Contact.select().count() == 0 and Case.select().count() == 0 and IdempotencyKey.select().count() == 0
    monkeypatch.undo()
    assert post("/api/contacts", "contact_officer", contact(context), key="atomic").status_code == 201
    assert Contact.select().count() == 1


@pytest.mark.parametrize("threads", [4, 10])
def test_concurrent_requests_with_one_key_have_one_effect(post, context, threads):
    body = contact(context)
    results = run_together(threads, lambda: post("/api/contacts", "contact_officer", body, key="burst"))
    assert {r.status_code for r in results} == {201}, [r.data[:200] for r in results]
    assert len({r.get_data() for r in results}) == 1
    assert sum(1 for r in results if "Idempotent-Replayed" not in r.headers) == 1
    assert Contact.select().count() == 1 and Case.select().count() == 1


def test_openapi_documents_the_header_on_every_post(post, db_web_app, context):
    from store.tokens import issue_token
    token = issue_token("cads.sw", context.clock.now())
    spec = db_web_app.test_client().get("/api/openapi.json", headers={"Authorization": f"Bearer {token}"}).get_json()
    for path, item in spec["paths"].items():
        if "post" in item:
            names = [p["name"] for p in item["post"].get("parameters", [])]
            assert "Idempotency-Key" in names, path
            assert "422" in item["post"]["responses"], path


def test_a_refused_request_with_a_key_is_still_audited(post, context, db_web_app):
    """Access is checked (and a refusal recorded) before the key's transaction, so a key never hides one."""
    _case, task = open_case(context, db_web_app)
    refused = post(f"/api/tasks/{task.id}/claim", "mash_police", key="probe")
    assert refused.status_code in (403, 404)
    assert AuditEntry.select().where(AuditEntry.action == "refused", AuditEntry.record_id == task.id,
                                     AuditEntry.actor == "mash.police").count() == 1
    assert IdempotencyKey.select().count() == 0 and Task.get_by_id(task.id).assignee_id is None


# -- the browser's contact form: a page records once -------------------------------------------------
def test_a_contact_form_sent_twice_records_once(client, auth, db):
    from .test_contacts import BEN, fields
    auth.login_as("contact_officer")
    page = client.get("/contacts/new").get_data(as_text=True)
    [submission] = re.findall(r'name="_submission" value="([0-9a-f]{32})"', page)
    data = dict(fields(), _submission=submission)
    first = client.post("/contacts/new", data=data)
    again = client.post("/contacts/new", data=data)
    assert first.status_code == again.status_code == 302 and first.location == again.location
    assert Contact.select().count() == 1 and Case.select().count() == 1
    assert "Contact recorded. Case created: C" in client.get(again.location).get_data(as_text=True)
    other_page = re.findall(r'name="_submission" value="([0-9a-f]{32})"',
                            client.get("/contacts/new").get_data(as_text=True))
    assert other_page != [submission]  # a new page is a new contact
    ben, cara = BEN, dict(BEN, given_name="Cara", date_of_birth="2021-03-04")
    assert client.post("/contacts/new", data=dict(fields((ben,)), _submission=other_page[0])).status_code == 302
    assert client.post("/contacts/new", data=fields((cara,))).status_code == 302  # an older page without a key
    assert Contact.select().count() == 3


def test_a_contact_page_keeps_its_key_across_errors_then_records_once(client, auth, db, web_app):
    from .conftest import PASSWORD
    from .test_contacts import fields
    auth.login_as("contact_officer")
    submission = "0123456789abcdef0123456789abcdef"
    invalid = client.post("/contacts/new", data=dict(fields(concern=""), _submission=submission))
    assert invalid.status_code == 422 and f'value="{submission}"' in invalid.get_data(as_text=True)
    clients = [web_app.test_client() for _ in range(4)]  # four tabs sending the same page at once
    for tab in clients:
        assert tab.post("/login", data={"username": "contact.officer", "password": PASSWORD}).status_code == 302
    data = dict(fields(), _submission=submission)
    results = run_together(4, lambda: clients.pop().post("/contacts/new", data=data).status_code)
    # A tab that checked for known children just after another recorded the contact is asked about the
    # child (200) and, sending again, told it was recorded; none records it twice.
    assert results.count(302) >= 1 and set(results) <= {200, 302} and Contact.select().count() == 1
