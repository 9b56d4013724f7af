"""Signing in, my work, claiming, releasing and reassigning."""
from __future__ import annotations

from datetime import date

from store.demo import SCENARIOS, contact_payload


def record_contact(web_app, scenario="nfa", received=date(2026, 12, 14)):
    context = web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    payload = contact_payload(next(s for s in SCENARIOS if s.name == scenario), received)
    cases = context.service.record_contact(payload, web_app.config["USERS_BY_ROLE"]["contact_officer"])
    return cases


def test_login_required_and_bad_password(client, auth):
    assert client.get("/").status_code == 302
    response = auth.login("cads.sw", "wrong")
    assert response.status_code == 401 and b"Enter a correct username and password" in response.data
    assert auth.login("cads.sw").status_code == 302
    assert client.get("/").status_code == 200


def test_my_work_lists_the_queue_and_claiming_moves_it(client, auth, web_app, db):
    [case] = record_contact(web_app)
    auth.login_as("cads_social_worker")
    page = client.get("/").get_data(as_text=True)
    assert "CADS decision" in page and case.reference in page and "Unassigned" in page
    from store.models import Task
    task = Task.get(Task.case == case.id)
    assert client.post(f"/tasks/{task.id}/claim").status_code == 302
    assert Task.get_by_id(task.id).assignee.username == "cads.sw"
    assert "Sam CADS" in client.get("/").get_data(as_text=True)
    assert client.post(f"/tasks/{task.id}/release").status_code == 302
    assert Task.get_by_id(task.id).assignee is None


def test_claim_refused_for_another_role_and_reassign_for_non_managers(client, auth, web_app, db):
    [case] = record_contact(web_app)
    from store.models import Task
    task = Task.get(Task.case == case.id)
    auth.login_as("mash_police")
    assert client.post(f"/tasks/{task.id}/claim").status_code == 403
    assert client.get(f"/tasks/{task.id}/reassign").status_code == 403
    assert client.post("/tasks/nope/claim").status_code == 404


def test_manager_reassigns(client, auth, web_app, db):
    from store.models import Task, User, UserRole
    [case] = record_contact(web_app)
    task = Task.get(Task.case == case.id)
    manager = User.get(User.username == "cads.manager")
    UserRole.create(user=manager, role="cads_social_worker")  # a manager who also works cases
    auth.login("cads.manager")
    page = client.get(f"/tasks/{task.id}/reassign").get_data(as_text=True)
    assert "cads.sw" in page
    assert client.post(f"/tasks/{task.id}/reassign", data={"assignee": "cads.sw"}).status_code == 302
    assert Task.get_by_id(task.id).assignee.username == "cads.sw"
    response = client.post(f"/tasks/{task.id}/reassign", data={"assignee": "lado.sam"})
    assert response.status_code == 400 and b"does not hold the role" in response.data


def test_logout_ends_the_session(client, auth):
    auth.login_as("social_worker")
    assert client.get("/").status_code == 200
    auth.logout()
    assert client.get("/").status_code == 302


def test_csrf_is_required_on_forms(web_app):
    web_app.config["WTF_CSRF_ENABLED"] = True
    client = web_app.test_client()
    response = client.post("/login", data={"username": "cads.sw", "password": "demo-password"})
    assert response.status_code == 400 and b"expired" in response.data


def test_errors_never_show_internals(client, auth):
    auth.login_as("social_worker")
    response = client.get("/no/such/page")
    assert response.status_code == 404 and b"Traceback" not in response.data


def test_my_work_links_are_the_addresses_url_for_gives(client, auth, web_app, db):
    import re

    from flask import url_for

    from store.models import Task
    [case] = record_contact(web_app)
    auth.login_as("cads_social_worker")
    page = client.get("/").get_data(as_text=True)
    task = Task.get(Task.case == case.id)
    with web_app.test_request_context():
        wanted = {url_for("cases.case_page", case_id=case.id), url_for("tasks.task_page", task_id=task.id),
                  url_for("work.claim", task_id=task.id)}
        from webui.app import UrlPattern
        assert UrlPattern("cases.case_page", "case_id")(case.id) == url_for("cases.case_page", case_id=case.id)
        assert UrlPattern("tasks.task_page", "task_id")(task.id) == url_for("tasks.task_page", task_id=task.id)
    found = set(re.findall(r'(?:href|action)="([^"]+)"', page))
    assert wanted <= found, wanted - found
