"""The record of access on the web: views, refusals and changes are audited; managers see who has seen a case."""
from __future__ import annotations

from datetime import date

from store.audit import AuditEntry, verify_chain
from store.demo import SCENARIOS, build_form, contact_payload


def record_contact(web_app):
    context = web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    payload = contact_payload(next(s for s in SCENARIOS if s.name == "nfa"), date(2026, 12, 14))
    return context.service.record_contact(payload, web_app.config["USERS_BY_ROLE"]["contact_officer"])


def allocate(web_app, case):
    """The case allocated to the demo social worker (and so visible to their team)."""
    from store.models import Case, User
    worker = User.get(User.username == web_app.config["USERS_BY_ROLE"]["social_worker"])
    Case.update(allocated_worker=worker, team=worker.team).where(Case.id == case.id).execute()


def entries(**where):
    query = AuditEntry.select().order_by(AuditEntry.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return list(query)


def test_a_case_page_view_appends_one_view_entry(client, auth, web_app, db, web_clock):
    [case] = record_contact(web_app)
    allocate(web_app, case)
    user = auth.login_as("social_worker")
    before = AuditEntry.select().count()
    assert client.get(f"/cases/{case.id}").status_code == 200
    new = entries()[before:]
    assert len(new) == 1
    view = new[0]
    assert (view.actor, view.action, view.record_type, view.record_id, view.case_id) == (
        user, "view", "case", str(case.id), case.id)
    assert view.address == "127.0.0.1" and view.detail == {"method": "GET", "path": f"/cases/{case.id}"}
    assert view.at == web_clock.now().replace(tzinfo=None)
    assert verify_chain()[1] == []


def test_a_refused_view_appends_one_refused_entry(client, auth, web_app, db):
    [case] = record_contact(web_app)
    user = auth.login_as("mash_police")  # no check asked of the police on this case
    before = AuditEntry.select().count()
    assert client.get(f"/cases/{case.id}").status_code == 403
    new = entries()[before:]
    assert [(e.actor, e.action, e.case_id) for e in new] == [(user, "refused", case.id)]


def test_an_unknown_case_is_not_an_audit_entry(client, auth, web_app, db):
    auth.login_as("social_worker")
    before = AuditEntry.select().count()
    assert client.get("/cases/9999").status_code == 404
    assert AuditEntry.select().count() == before


def test_task_page_view_and_refusal(client, auth, web_app, db):
    from store.models import Task
    [case] = record_contact(web_app)
    task = Task.get(Task.case == case.id)
    auth.login_as("cads_social_worker")
    before = AuditEntry.select().count()
    assert client.get(f"/tasks/{task.id}").status_code == 200
    assert [(e.action, e.record_type, e.record_id) for e in entries()[before:]] == [("view", "task", task.id)]
    auth.logout()
    auth.login_as("mash_health")
    before = AuditEntry.select().count()
    assert client.get(f"/tasks/{task.id}").status_code == 403
    assert [(e.action, e.record_type) for e in entries()[before:]] == [("refused", "task")]


def test_completing_a_task_on_the_web_records_the_change_with_the_address(client, auth, web_app, db):
    from store.models import Task
    [case] = record_contact(web_app)
    task = Task.get(Task.case == case.id)
    user = auth.login_as("cads_social_worker")
    form = build_form(task.form_name, {"decision": "assessment"}, db.clock.now().date(), db.service.engine.calendar)
    db.service.complete_task(task.id, user, form, token=task.token)  # outside a request: no address
    [change] = [e for e in entries(case_id=case.id, action="change") if e.detail.get("task")]
    assert change.address == "cli" and change.detail["task"]["fields"] == sorted(form)


def test_api_views_are_recorded(client, web_app, db):
    from store.tokens import issue_token
    [case] = record_contact(web_app)
    allocate(web_app, case)
    username = web_app.config["USERS_BY_ROLE"]["social_worker"]
    token = issue_token(username, db.clock.now())
    before = AuditEntry.select().count()
    response = client.get(f"/api/cases/{case.id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert [(e.actor, e.action, e.case_id) for e in entries()[before:]] == [(username, "view", case.id)]


def test_case_page_shows_who_has_seen_it_to_a_team_manager(client, auth, web_app, db):
    [case] = record_contact(web_app)
    allocate(web_app, case)
    worker = auth.login_as("social_worker")
    client.get(f"/cases/{case.id}")
    client.get(f"/cases/{case.id}")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Who has seen this case" not in page  # a social worker does not see the section
    auth.logout()
    manager = auth.login_as("team_manager")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Who has seen this case" in page
    section = page[page.index('id="viewers"'):]
    assert f'data-username="{worker}"' in section and f'data-username="{manager}"' in section
    worker_row = section[section.index(f'data-username="{worker}"'):]
    worker_row = worker_row[:worker_row.index("</tr>")]
    assert ">3</td>" in worker_row and "social worker" in worker_row
    # newest first: the manager's own view is the latest
    assert section.index(f'data-username="{manager}"') < section.index(f'data-username="{worker}"')


def test_cads_manager_sees_the_section_and_others_do_not(client, auth, web_app, db):
    [case] = record_contact(web_app)
    auth.login_as("cads_manager")
    assert "Who has seen this case" in client.get(f"/cases/{case.id}").get_data(as_text=True)
    auth.logout()
    auth.login_as("contact_officer")
    assert "Who has seen this case" not in client.get(f"/cases/{case.id}").get_data(as_text=True)


def test_case_page_login_required_is_not_audited(client, web_app, db):
    [case] = record_contact(web_app)
    before = AuditEntry.select().count()
    assert client.get(f"/cases/{case.id}").status_code == 302
    assert AuditEntry.select().count() == before


def _cli_contact(cli, tmp_path, first=True):
    import json
    payload = contact_payload(next(s for s in SCENARIOS if s.name == "nfa"), date(2026, 11, 20))
    path = tmp_path / "contact.json"
    path.write_text(json.dumps(payload))
    if first:
        assert cli("init")[0] == 0
        assert cli("users", "add", "co", "--role", "contact_officer")[0] == 0
    code, _out, err = cli("contact", path, "--as", "co")
    assert code == 0, err


def _tamper(sql: str) -> None:
    """Change the command's database behind its back (SQLite or PostgreSQL, as the cli fixture made it)."""
    import os

    from store.db import make_database
    db = make_database(os.environ["DATABASE_URL"])
    db.execute_sql(sql)
    db.close()


def test_cli_audit_verify_and_show(cli, tmp_path):
    assert cli("audit", "verify")[:2] == (0, "OK: audit chain intact (0 entries)\n")
    _cli_contact(cli, tmp_path)
    code, out, _ = cli("audit", "verify")
    assert code == 0 and out.startswith("OK: audit chain intact (2 entries)")
    code, out, _ = cli("audit", "show", "--case", "C000001")
    assert code == 0 and " co " in out and " change " in out and "case 1 " in out and "from cli" in out
    code, out, _ = cli("audit", "show", "--case", "1", "--json")
    assert code == 0 and '"action": "change"' in out
    assert cli("audit", "show", "--case", "77")[1].startswith("no audit entries")
    _tamper("UPDATE audit_entry SET actor = 'mallory' WHERE id = 1")
    code, out, err = cli("audit", "verify")
    assert code == 1 and "BROKEN: entry 1:" in out and "edited" in out and "1 broken link" in err


def test_cli_audit_verify_reports_a_deleted_entry(cli, tmp_path):
    _cli_contact(cli, tmp_path)
    _cli_contact(cli, tmp_path, first=False)  # a second contact: entries 3 and 4
    _tamper("DELETE FROM audit_entry WHERE id = 2")
    code, out, _ = cli("audit", "verify")
    assert code == 1 and "BROKEN: entry 3:" in out and "deleted" in out


# -- a view is appended with the request's change, or before the answer leaves --------------
def _cads_decision_task(case):
    from store.models import Task
    return Task.get(Task.case == case.id)


def _complete_over_api(client, web_app, task, data):
    from store.tokens import issue_token
    context = web_app.extensions["safeguarding"]
    token = issue_token(web_app.config["USERS_BY_ROLE"]["cads_social_worker"], context.clock.now())
    return client.post(f"/api/tasks/{task.id}/complete", json={"data": data},
                       headers={"Authorization": f"Bearer {token}"})


def test_a_completion_appends_its_view_and_its_change_together(client, web_app, db):
    [case] = record_contact(web_app)
    task = _cads_decision_task(case)
    form = build_form(task.form_name, {"decision": "nfa"}, date(2026, 12, 14), web_app.extensions["safeguarding"].service.engine.calendar)
    before = AuditEntry.select().count()
    assert _complete_over_api(client, web_app, task, form).status_code == 200
    new = entries()[before:]
    assert [(e.action, e.record_type, e.record_id) for e in new] == [("view", "task", task.id),
                                                                     ("change", "case", str(case.id))]
    assert new[1].id == new[0].id + 1 and new[1].prev_hash == new[0].hash  # one append, in order
    assert verify_chain()[1] == []


def test_a_refused_completion_still_records_the_view(client, web_app, db):
    [case] = record_contact(web_app)
    task = _cads_decision_task(case)
    before = AuditEntry.select().count()
    response = _complete_over_api(client, web_app, task, {"decision": "not a decision"})
    assert response.status_code == 422  # the change rolled back; the view of the task stands
    new = entries()[before:]
    assert [(e.action, e.record_type, e.record_id) for e in new] == [("view", "task", task.id)]
    assert verify_chain()[1] == []


def test_a_view_that_cannot_be_appended_is_an_error_not_an_unaudited_page(client, auth, web_app, db, monkeypatch):
    import store.audit
    [case] = record_contact(web_app)
    allocate(web_app, case)
    auth.login_as("social_worker")

    def broken(entries):
        raise RuntimeError("the audit cannot be written")
    monkeypatch.setattr(store.audit, "_append", broken)
    monkeypatch.setitem(web_app.config, "PROPAGATE_EXCEPTIONS", False)  # answered as in production
    response = client.get(f"/cases/{case.id}")
    assert response.status_code == 500 and case.reference not in response.get_data(as_text=True)
