"""The JSON API: bearer tokens, every route's answer, and every error status."""
from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator

from engine import DEADLINE_KEYS, EngineError
from store.demo import FORM_EXAMPLES, SCENARIOS, build_form, contact_payload

from .test_work import record_contact

ROUTES = [("POST", "/api/contacts"), ("GET", "/api/tasks"), ("POST", "/api/tasks/{task}/claim"),
          ("POST", "/api/tasks/{task}/complete"), ("GET", "/api/cases/{case}"), ("GET", "/api/openapi.json")]


@pytest.fixture
def token_for(web_app, db):
    """token_for(role or username) -> a fresh bearer token of that demo user."""
    from store.tokens import issue_token

    def make(who: str) -> str:
        username = web_app.config["USERS_BY_ROLE"].get(who, who)
        return issue_token(username, db.clock.now())
    return make


@pytest.fixture
def api(client, token_for):
    """api(method, url, as_=role, body=...) -> response, sending the user's bearer token."""
    tokens: dict[str, str] = {}

    def call(method: str, url: str, as_: str, body=None, raw: bytes | None = None):
        token = tokens.setdefault(as_, token_for(as_))
        headers = {"Authorization": f"Bearer {token}"}
        if raw is not None:
            return client.open(url, method=method, data=raw, headers=headers, content_type="application/json")
        return client.open(url, method=method, json=body, headers=headers)
    return call


def open_task(case_id: int, element: str = "cads_decision"):
    from store.models import Task
    return Task.get(Task.case == case_id, Task.bpmn_id == element)


def decision(db, **overrides) -> dict:
    return build_form("cads_decision.json", {"decision": "nfa", **overrides}, db.clock.now().date(),
                      db.service.engine.calendar)


def contact(db, **overrides) -> dict:
    payload = contact_payload(next(s for s in SCENARIOS if s.name == "nfa"), db.clock.now().date())
    payload.update(overrides)
    return payload


# -- tokens ----------------------------------------------------------------------------------
def test_a_token_is_stored_only_as_its_hash_and_records_its_use(db):
    from store.models import User
    from store.tokens import ApiToken, issue_token, revoke_tokens, tokens_of, user_for_token
    now = db.clock.now()
    token = issue_token("cads.sw", now)
    [row] = tokens_of("cads.sw")
    assert len(token) >= 40 and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps([list(r) for r in ApiToken.select().tuples()], default=str)
    assert row.last_used_at is None and row.created_at == now.replace(tzinfo=None)
    assert user_for_token(token, now).username == "cads.sw"
    assert tokens_of("cads.sw")[0].last_used_at == now.replace(tzinfo=None)
    assert user_for_token(token + "x", now) is None and user_for_token("", now) is None
    assert issue_token("cads.sw", now) != token  # a new secret every time
    User.update(active=False).where(User.username == "cads.sw").execute()
    assert user_for_token(token, now) is None
    with pytest.raises(EngineError, match="disabled"):
        issue_token("cads.sw", now)
    with pytest.raises(EngineError, match="no user"):
        issue_token("nobody", now)
    assert revoke_tokens("cads.sw") == 2 and tokens_of("cads.sw") == []


def test_a_tokens_user_comes_with_their_roles_as_they_are_now(db):
    from store.models import User, UserRole
    from store.tokens import issue_token, user_for_token
    from store.users import roles_of
    now = db.clock.now()
    token = issue_token("cads.sw", now)
    user = user_for_token(token, now)
    assert user.roles_read == roles_of(User.get(User.username == "cads.sw")) == {"cads_social_worker"}
    UserRole.create(user=user, role="cads_manager")
    assert roles_of(user_for_token(token, now)) == {"cads_social_worker", "cads_manager"}
    UserRole.delete().where(UserRole.user == user).execute()
    assert roles_of(user_for_token(token, now)) == frozenset()


def test_the_cli_prints_a_token_once_and_it_works(web_app, client, capsys, tmp_path):
    from store.db import database
    from webui.cli import main
    context = web_app.extensions["safeguarding"]
    try:
        code = main(["--database", web_app.config["DATABASE_URL"], "users", "token", "mash.health"])
        out, err = capsys.readouterr()
        assert code == 0 and "shown only this once" in err
        token = out.strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
        assert main(["--database", web_app.config["DATABASE_URL"], "users", "token", "nobody"]) == 2
        assert "error: no user 'nobody'" in capsys.readouterr().err
    finally:
        database.initialize(context.db)  # the command bound the models to its own connection
    response = client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json() == {"tasks": []}


# -- 401 on every route ----------------------------------------------------------------------
@pytest.mark.parametrize("method, url", ROUTES)
def test_every_route_refuses_without_a_valid_token(method, url, client, auth, web_app, db, token_for):
    [case] = record_contact(web_app)
    url = url.format(task=open_task(case.id).id, case=case.id)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer "}):
        response = client.open(url, method=method, headers=headers, json={})
        assert response.status_code == 401, (headers, response.data)
        body = response.get_json()
        assert body["status"] == 401 and "detail" in body
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    auth.login_as("cads_social_worker")  # a browser session is not enough
    assert client.open(url, method=method, json={}).status_code == 401


def test_a_disabled_users_token_stops_working(client, token_for, db):
    from store.models import User
    token = token_for("cads_social_worker")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/tasks", headers=headers).status_code == 200
    User.update(active=False).where(User.username == "cads.sw").execute()
    response = client.get("/api/tasks", headers=headers)
    assert response.status_code == 401 and "disabled" in response.get_json()["detail"]


# -- contacts --------------------------------------------------------------------------------
def test_recording_a_contact_starts_a_case_per_child(api, db, web_app):
    payload = contact(db, children=copy.deepcopy(FORM_EXAMPLES["contact.json"]["children"]))
    web_app.config["WTF_CSRF_ENABLED"] = True  # the API is exempt: tokens, not cookies
    response = api("POST", "/api/contacts", "contact_officer", payload)
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert len(body["cases"]) == 2 and {c["stage"] for c in body["cases"]} == {"CADS decision"}
    from store.models import Case
    assert {c.id for c in Case.select().where(Case.contact == body["contact_id"])} == {c["id"] for c in body["cases"]}
    assert body["cases"][0]["reference"] == f"C{body['cases'][0]['id']:06d}"
    assert api("POST", "/api/contacts", "cads_manager", contact(db)).status_code == 201


def test_only_front_door_roles_record_contacts(api, db):
    from store.models import Contact
    for role in ("social_worker", "mash_police", "conference_chair"):
        response = api("POST", "/api/contacts", role, contact(db))
        assert response.status_code == 403 and response.get_json()["status"] == 403
    assert Contact.select().count() == 0


def test_an_invalid_contact_is_422_with_field_errors(api, db):
    from store.models import Contact
    payload = contact(db, concern="", received_on="2026-13-01")
    del payload["consent"]
    payload["children"][0]["date_of_birth"] = "yesterday"
    response = api("POST", "/api/contacts", "contact_officer", payload)
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert {"concern", "received_on", "consent", "children.0.date_of_birth"} <= set(errors)
    assert "YYYY-MM-DD" in errors["received_on"]
    future = api("POST", "/api/contacts", "contact_officer",
                 contact(db, received_on=(db.clock.now().date() + timedelta(days=2)).isoformat()))
    assert future.status_code == 422 and future.get_json()["errors"][0]["field"] == "received_on"
    not_object = api("POST", "/api/contacts", "contact_officer", ["a", "list"])
    assert not_object.status_code == 422 and not_object.get_json()["errors"][0]["field"] == ""
    assert Contact.select().count() == 0


@pytest.mark.parametrize("raw", [b"{not json", b"", b"   ", b"{\"a\": NaN}", b"\xff\xfe\x00"])
def test_a_body_that_is_not_json_is_400(api, raw, web_app):
    [case] = record_contact(web_app)
    for url in ("/api/contacts", f"/api/tasks/{open_task(case.id).id}/complete"):
        response = api("POST", url, "cads_social_worker", raw=raw)
        assert response.status_code == 400, (url, response.data)
        assert response.get_json()["status"] == 400 and "Traceback" not in response.get_data(as_text=True)


# -- tasks -----------------------------------------------------------------------------------
def test_listing_tasks_with_their_form_schema_and_filters(api, web_app, db):
    [first] = record_contact(web_app)
    [second] = record_contact(web_app, scenario="advice")
    response = api("GET", "/api/tasks", "cads_social_worker")
    assert response.status_code == 200
    tasks = response.get_json()["tasks"]
    assert {t["case_id"] for t in tasks} == {first.id, second.id}
    task = next(t for t in tasks if t["case_id"] == first.id)
    row = open_task(first.id)
    schema = db.service.diagrams_for(first.diagram_version_id).forms["cads_decision.json"].schema
    assert task == {"id": row.id, "element_id": "cads_decision", "title": row.name, "role": "cads_social_worker",
                    "assignee": None, "due": row.due.isoformat(), "case_id": first.id,
                    "case_reference": first.reference, "token": row.token, "form_name": "cads_decision.json",
                    "form_schema": schema}
    by_case = api("GET", f"/api/tasks?case={second.id}", "cads_social_worker").get_json()["tasks"]
    assert [t["case_id"] for t in by_case] == [second.id]
    assert api("GET", f"/api/tasks?case={second.reference}", "cads_social_worker").get_json()["tasks"] == by_case
    assert len(api("GET", "/api/tasks?role=cads_social_worker", "cads_social_worker").get_json()["tasks"]) == 2
    assert api("GET", "/api/tasks?mine=1", "cads_social_worker").get_json()["tasks"] == []
    assert api("POST", f"/api/tasks/{row.id}/claim", "cads_social_worker").status_code == 200
    mine = api("GET", "/api/tasks?mine=1", "cads_social_worker").get_json()["tasks"]
    assert [(t["id"], t["assignee"]) for t in mine] == [(row.id, "cads.sw")]
    assert api("GET", "/api/tasks", "social_worker").get_json()["tasks"] == []


def test_task_filters_refuse_what_is_not_yours(api, web_app):
    [case] = record_contact(web_app)
    assert api("GET", "/api/tasks?role=team_manager", "cads_social_worker").status_code == 403
    assert api("GET", f"/api/tasks?case={case.id}", "mash_police").status_code == 403  # no check asked of them
    assert api("GET", "/api/tasks?case=999", "cads_social_worker").status_code == 404
    bad = api("GET", "/api/tasks?case=twelve", "cads_social_worker")
    assert bad.status_code == 400 and "case id" in bad.get_json()["detail"]


def test_claiming_a_task(api, web_app, db):
    from store.models import Task
    from store.users import add_user
    [case] = record_contact(web_app)
    task = open_task(case.id)
    response = api("POST", f"/api/tasks/{task.id}/claim", "cads_social_worker")
    assert response.status_code == 200 and response.get_json()["task"]["assignee"] == "cads.sw"
    assert Task.get_by_id(task.id).assignee.username == "cads.sw"
    assert api("POST", f"/api/tasks/{task.id}/claim", "cads_social_worker").status_code == 200  # already mine
    add_user("cads.two", "Second CADS", ["cads_social_worker"], db.clock.now())
    taken = api("POST", f"/api/tasks/{task.id}/claim", "cads.two")
    assert taken.status_code == 409 and "already been claimed" in taken.get_json()["detail"]
    assert api("POST", f"/api/tasks/{task.id}/claim", "mash_police").status_code == 403
    assert api("POST", f"/api/tasks/{task.id}/claim", "cads_manager").status_code == 403  # manager, not the role
    assert api("POST", "/api/tasks/00000000-0000-0000-0000-000000000000/claim", "cads_social_worker").status_code == 404


def test_completing_a_task_moves_the_case_on(api, web_app, db):
    from store.models import Case, Task
    [case] = record_contact(web_app)
    task = open_task(case.id)
    response = api("POST", f"/api/tasks/{task.id}/complete", "cads_social_worker",
                   {"data": decision(db), "token": task.token})
    assert response.status_code == 200, response.data
    body = response.get_json()
    assert body["completed_task"] == {"id": task.id, "element_id": "cads_decision", "title": task.name}
    stored = Case.get_by_id(case.id)
    assert body["case"] == {"id": case.id, "reference": case.reference, "stage": stored.stage, "status": stored.status}
    assert stored.cads_decision == "nfa" and stored.stage != "CADS decision"
    assert {t["id"] for t in body["tasks"]} == {t.id for t in Task.select().where(Task.case == case.id)}
    assert body["tasks"] and all(set(t) == {"id", "element_id", "title", "role", "assignee", "due", "token"}
                                 for t in body["tasks"])
    again = api("POST", f"/api/tasks/{task.id}/complete", "cads_social_worker",
                {"data": decision(db), "token": task.token})
    assert again.status_code == 409 and "no longer open" in again.get_json()["detail"]
    unknown = api("POST", f"/api/tasks/{task.id}/complete", "cads_social_worker", {"data": decision(db)})
    assert unknown.status_code == 404


def test_completing_with_a_stale_token_or_a_task_someone_else_holds_is_409(api, web_app, db):
    from store.models import Case, Task
    from store.users import add_user
    [case] = record_contact(web_app)
    task = open_task(case.id)
    stale = api("POST", f"/api/tasks/{task.id}/complete", "cads_social_worker",
                {"data": decision(db), "token": task.token + "0"})
    assert stale.status_code == 409 and "changed since it was offered" in stale.get_json()["detail"]
    add_user("cads.two", "Second CADS", ["cads_social_worker"], db.clock.now())
    assert api("POST", f"/api/tasks/{task.id}/claim", "cads.two").status_code == 200
    held = api("POST", f"/api/tasks/{task.id}/complete", "cads_social_worker", {"data": decision(db)})
    assert held.status_code == 409 and "cads.two" in held.get_json()["detail"]
    assert Case.get_by_id(case.id).version == case.version and Task.get_or_none(Task.id == task.id) is not None


def test_completing_refuses_wrong_role_unknown_task_and_invalid_data(api, web_app, db):
    from store.models import Case
    [case] = record_contact(web_app)
    task = open_task(case.id)
    url = f"/api/tasks/{task.id}/complete"
    assert api("POST", url, "social_worker", {"data": decision(db)}).status_code == 403
    assert api("POST", "/api/tasks/nope-nope/complete", "cads_social_worker", {"data": decision(db)}).status_code == 404
    invalid = api("POST", url, "cads_social_worker", {"data": decision(db, decision="maybe", decided_on="soon")})
    assert invalid.status_code == 422
    errors = {e["field"]: e["message"] for e in invalid.get_json()["errors"]}
    assert set(errors) >= {"decision", "decided_on"} and "choose one of" in errors["decision"]
    bare = api("POST", url, "cads_social_worker", decision(db))  # the form without the envelope
    assert bare.status_code == 422
    fields = {e["field"] for e in bare.get_json()["errors"]}
    assert "data" in fields and "decision" in fields
    bad_token = api("POST", url, "cads_social_worker", {"data": decision(db), "token": 7})
    assert bad_token.status_code == 422 and bad_token.get_json()["errors"][0]["field"] == "token"
    assert Case.get_by_id(case.id).version == case.version  # nothing changed


# -- cases -----------------------------------------------------------------------------------
def test_a_case_with_deadlines_statutory_dates_tasks_and_chronology(api, web_app, db):
    [case] = record_contact(web_app)
    response = api("GET", f"/api/cases/{case.id}", "cads_social_worker")
    assert response.status_code == 200
    body = response.get_json()
    assert body["stage"] == "CADS decision" and body["status"] == "open" and body["reference"] == case.reference
    assert set(body["deadlines"]) == set(DEADLINE_KEYS)
    assert body["deadlines"]["cads_decision"]["due"] == case.cads_decision_due.isoformat()
    assert body["deadlines"]["cads_decision"]["status"].startswith("due:")
    assert body["deadlines"]["icpc"] == {"due": None, "status": "not set"}
    assert body["statutory"]["referral_date"] == case.referral_date.isoformat()
    assert [t["element_id"] for t in body["tasks"]] == ["cads_decision"]
    assert body["chronology"][0]["kind"] == "case_started"
    assert body["child"]["name"] == case.child.display_name and body["child"]["date_of_birth"]
    assert body["referrer"]["name"] == "Tom Reid"
    assert api("GET", f"/api/cases/{case.id}", "social_worker").status_code == 403  # still at the front door
    from store.models import Case, User
    worker = User.get(User.username == web_app.config["USERS_BY_ROLE"]["social_worker"])
    Case.update(allocated_worker=worker, team=worker.team).where(Case.id == case.id).execute()
    allocated = api("GET", f"/api/cases/{case.id}", "social_worker").get_json()
    assert "referrer" not in allocated and allocated["deadlines"] == body["deadlines"]


def test_an_anonymous_referrer_is_shown_only_to_the_cads_manager(api, web_app, db):
    payload = contact(db, referrer={"type": "member_of_public", "anonymous": True})
    created = api("POST", "/api/contacts", "contact_officer", payload)
    assert created.status_code == 201, created.data
    case_id = created.get_json()["cases"][0]["id"]
    assert "referrer" not in api("GET", f"/api/cases/{case_id}", "cads_social_worker").get_json()
    assert api("GET", f"/api/cases/{case_id}", "cads_manager").get_json()["referrer"]["anonymous"] is True


def test_a_case_refuses_strangers_and_unknown_ids(api, web_app):
    [case] = record_contact(web_app)
    assert api("GET", f"/api/cases/{case.id}", "mash_police").status_code == 403
    assert api("GET", f"/api/cases/{case.id}", "process_owner").status_code == 403
    missing = api("GET", "/api/cases/999", "cads_social_worker")
    assert missing.status_code == 404 and missing.get_json()["status"] == 404
    assert api("GET", "/api/cases/C12", "cads_social_worker").status_code == 404
    assert api("GET", "/api/no-such-thing", "cads_social_worker").status_code == 404


# -- the description -------------------------------------------------------------------------
def test_openapi_describes_every_route_of_the_blueprint(api, web_app):
    response = api("GET", "/api/openapi.json", "cads_social_worker")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    routes = set()
    for rule in web_app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == described
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert "401" in operation["responses"], (path, method)
            if "requestBody" in operation:
                assert {"400", "422"} <= set(operation["responses"]), (path, method)
    for name, schema in spec["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    assert spec["components"]["schemas"]["ContactRequest"]["properties"]["children"]["minItems"] == 1
    assert set(spec["components"]["schemas"]["Case"]["properties"]["deadlines"]["required"]) == set(DEADLINE_KEYS)
    for code in ("400", "403", "422"):
        assert code in spec["paths"]["/api/contacts"]["post"]["responses"]
    for code in ("403", "404", "409", "422"):
        assert code in spec["paths"]["/api/tasks/{task_id}/complete"]["post"]["responses"]
