"""The administrators' incidents page and the ``safeguarding incidents`` command."""
from __future__ import annotations

from datetime import timedelta

import pytest

from store.incidents import Incident
from store.models import CaseState

from ..store.test_timerworker import DUE, assert_escalated_once, break_case, fail_until_incident, start_cases


@pytest.fixture
def incident(web_app, db):
    """An open incident on a case with a corrupted workflow; (incident, the good state, the moment)."""
    users = web_app.config["USERS_BY_ROLE"]
    [case] = start_cases(db, users, 1)
    good = break_case(case.id)
    found, now = fail_until_incident(db.service, case.id, DUE)
    db.clock.set(now + timedelta(minutes=5))
    return found, good


@pytest.mark.parametrize("role", [None, "team_manager", "process_owner"])
def test_only_administrators_see_incidents(client, auth, incident, role):
    found, _good = incident
    if role:
        auth.login_as(role)
    for method, url in (("GET", "/admin/incidents"), ("POST", f"/admin/incidents/{found.id}/retry")):
        assert client.open(url, method=method).status_code == (403 if role else 302)
    assert Incident.get_by_id(found.id).status == "open"


def test_an_administrator_sees_an_incident_and_retries_it_after_the_fix(client, auth, incident, db):
    found, good = incident
    auth.login_as("admin")
    page = client.get("/admin/incidents").get_data(as_text=True)
    assert f'id="incident-{found.id}"' in page and found.case.reference in page and "Needs you" in page
    assert 'href="/admin/incidents">Incidents</a>' in page  # in the administrator's navigation
    assert "not valid JSON" in page or "JSONDecodeError" in page
    failed = client.post(f"/admin/incidents/{found.id}/retry")
    assert failed.status_code == 422 and "The retry did not work" in failed.get_data(as_text=True)
    CaseState.update(state=good).where(CaseState.case == found.case_id).execute()
    done = client.post(f"/admin/incidents/{found.id}/retry")
    assert done.status_code == 302
    page = client.get("/admin/incidents").get_data(as_text=True)
    assert "is resolved" in page and 'id="no-incidents"' in page and 'id="resolved"' in page
    assert Incident.get_by_id(found.id).resolved_by == "admin"
    assert_escalated_once(found.case_id)


def test_the_incidents_command_lists_and_retries(web_app, incident, db, capsys):
    from store.db import database
    from webui.cli import main
    found, good = incident
    url = ["--database", web_app.config["DATABASE_URL"]]
    now = ["--now", db.clock.now().isoformat()]
    try:
        assert main([*url, "incidents", "list"]) == 0
        out = capsys.readouterr().out
        assert f"{found.case.reference}  open" in out and "needs an administrator" in out
        assert main([*url, "incidents", "retry", str(found.id), "--as", "tm.claire"]) == 2
        assert "not an administrator" in capsys.readouterr().err
        assert main([*url, "incidents", "retry", str(found.id), "--as", "admin", *now]) == 2
        assert "error: the retry failed again" in capsys.readouterr().err
        CaseState.update(state=good).where(CaseState.case == found.case_id).execute()
        assert main([*url, "incidents", "retry", str(found.id), "--as", "admin", *now]) == 0
        assert "resolved" in capsys.readouterr().out
        assert main([*url, "incidents", "list"]) == 0 and capsys.readouterr().out == "no incidents\n"
        assert main([*url, "incidents", "list", "--all"]) == 0 and "resolved" in capsys.readouterr().out
        assert_escalated_once(found.case_id)
        assert main([*url, "incidents", "retry", "999", "--as", "admin"]) == 2
    finally:
        database.initialize(db.db)  # the command bound the models to its own connection


def test_the_worker_command_reports_failures_and_purges_expired_keys(web_app, db, capsys):
    from store.db import database
    from store.idempotency import IdempotencyKey
    from store.models import User
    from webui.cli import main
    [case] = start_cases(db, web_app.config["USERS_BY_ROLE"], 1)
    break_case(case.id)
    IdempotencyKey.create(user=User.get(User.username == "contact.officer"), key="old", fingerprint="0" * 64,
                          status=201, body="{}", created_at=DUE.replace(tzinfo=None) - timedelta(days=2),
                          expires_at=DUE.replace(tzinfo=None) - timedelta(days=1))
    try:
        code = main(["--database", web_app.config["DATABASE_URL"], "worker", "--once", "--now", DUE.isoformat()])
        out = capsys.readouterr().out
    finally:
        database.initialize(db.db)
    assert code == 0 and "fired timers on 0 case(s); failed on 1 case(s), to be retried" in out
    assert Incident.get(Incident.case == case.id).attempts == 1 and IdempotencyKey.select().count() == 0
