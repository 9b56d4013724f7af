"""The case page, its diagram data, calling a strategy discussion, and the managers' team view."""
from __future__ import annotations

import copy
import dataclasses
import re
from datetime import date, datetime, timezone

import pytest

from store.demo import FORM_EXAMPLES, SCENARIOS, contact_payload, drive_case
from store.models import Case, ChronologyEntry, Task

TODAY = date(2026, 12, 14)
REFERRER = {"type": "professional", "anonymous": False, "name": "Rita Referrer", "agency": "Oak Surgery",
            "role": "GP"}


def scenario(name, **changes):
    return dataclasses.replace(next(s for s in SCENARIOS if s.name == name), **changes)


def record(web_app, name="nfa", received=TODAY, **contact):
    """Record a contact through the service (as the contact officer); returns its cases."""
    context = web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    payload = contact_payload(scenario(name), received)
    payload.update({"referrer": dict(REFERRER)}, **copy.deepcopy(contact))
    return context.service.record_contact(payload, web_app.config["USERS_BY_ROLE"]["contact_officer"])


def drive(web_app, web_clock, case, name, stop_before):
    context = web_app.extensions["safeguarding"]
    return drive_case(context.service, web_clock, case.id, scenario(name, stop_before=stop_before),
                      web_app.config["USERS_BY_ROLE"])


def in_assessment(web_app, web_clock):
    [case] = record(web_app, "assessment_cin_plan")
    return drive(web_app, web_clock, case, "assessment_cin_plan", "assessment")


def allocate(web_app, case, role="social_worker"):
    """Allocate the case to the demo user holding ``role`` (and so to their team)."""
    from store.models import User
    worker = User.get(User.username == web_app.config["USERS_BY_ROLE"][role])
    Case.update(allocated_worker=worker, team=worker.team).where(Case.id == case.id).execute()


def test_case_page_shows_each_section(client, auth, web_app, db):
    first, unborn = record(web_app, children=FORM_EXAMPLES["contact.json"]["children"])  # Amy and an unborn sibling
    auth.login_as("cads_social_worker")
    response = client.get(f"/cases/{first.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for heading in ('id="child"', 'id="family"', 'id="referrer"', 'id="siblings"', 'id="open-tasks"',
                    'id="deadlines"', 'id="where"', 'id="chronology"', 'id="contact"'):
        assert heading in page, heading
    assert "Amy Mills" in page and "9 April 2018" in page and "Female" in page and "White: British" in page
    assert "At school until 3:15pm" in page  # where the child is now
    assert "Dawn Mills" in page and "Mother" in page and "Lee Mills" in page
    assert "Rita Referrer" in page and "Oak Surgery" in page
    assert "CADS decision" in page and "Unassigned" in page  # stage and open task, nobody assigned yet
    assert re.search(r'data-deadline="cads_decision">.*?2026-12-15.*?due: 1 working day', page, re.S)
    assert 'data-deadline="icpc"' in page and "not set" in page
    assert f'href="/cases/{unborn.id}"' in page and unborn.reference in page  # sibling linked
    assert "Case started from the contact" in page and "Chris Contact" in page  # chronology: who and what
    assert 'id="case-diagram"' in page and "/cases/%d/diagram" % first.id in page
    assert 'id="progress-active"' in page and "CADS triage" in page  # the no-JavaScript list
    assert "Call a strategy discussion" not in page  # not a social worker
    sibling_page = client.get(f"/cases/{unborn.id}").get_data(as_text=True)
    assert "Expected date of birth" in sibling_page and "(unborn)" in sibling_page


def test_referrer_hidden_from_a_social_worker_and_shown_to_cads(client, auth, web_app, db):
    [case] = record(web_app)
    allocate(web_app, case)
    auth.login_as("social_worker")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Referrer details are restricted" in page and "Rita Referrer" not in page and "Oak Surgery" not in page
    auth.logout()
    auth.login_as("cads_social_worker")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Rita Referrer" in page and "Referrer details are restricted" not in page


def test_anonymous_referrer_shown_only_to_the_cads_manager(client, auth, web_app, db):
    anonymous = {"type": "member_of_public", "anonymous": True, "name": "Nina Neighbour",
                 "relationship_to_child": "Neighbour"}
    [case] = record(web_app, referrer=anonymous, referral_source="9")
    for role in ("contact_officer", "cads_social_worker", "social_worker"):
        if role == "social_worker":
            allocate(web_app, case)
        auth.login_as(role)
        page = client.get(f"/cases/{case.id}").get_data(as_text=True)
        assert "Nina Neighbour" not in page and "Referrer details are restricted" in page, role
        auth.logout()
    auth.login_as("cads_manager")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Nina Neighbour" in page and "do not share who referred" in page


def test_mash_partner_sees_only_their_check_never_the_case(client, auth, web_app, web_clock, db):
    [case] = record(web_app)
    auth.login_as("mash_police")
    assert client.get(f"/cases/{case.id}").status_code == 403
    assert client.get(f"/cases/{case.id}/diagram").status_code == 403
    drive(web_app, web_clock, case, "mash_then_assessment", "mash_check")
    check = Task.get(Task.case == case.id, Task.role == "mash_police")
    assert client.get(f"/tasks/{check.id}").status_code == 200  # the check, with the case summary beside it
    assert client.get(f"/cases/{case.id}").status_code == 403
    other = Task.get(Task.case == case.id, Task.role == "mash_health")
    assert client.get(f"/tasks/{other.id}").status_code == 403


@pytest.mark.parametrize("method,url", [("get", "/cases/1"), ("get", "/cases/1/diagram"),
                                        ("post", "/cases/1/strategy-discussion"), ("get", "/team")])
def test_pages_refuse_strangers(client, web_app, db, method, url):
    record(web_app)
    response = getattr(client, method)(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_case_is_404(client, auth, web_app, db):
    auth.login_as("cads_social_worker")
    assert client.get("/cases/999").status_code == 404
    assert client.get("/cases/999/diagram").status_code == 404
    assert client.post("/cases/999/strategy-discussion", data={"reason": "x"}).status_code == 404


def test_diagram_json_lists_completed_and_active_elements(client, auth, web_app, web_clock, db):
    case = in_assessment(web_app, web_clock)
    auth.login_as("social_worker")
    data = client.get(f"/cases/{case.id}/diagram").get_json()
    assert data["process"] == "assessment_process" and "assessment_process" in data["xml"]
    processes = {p["id"]: p for p in data["processes"]}
    assert list(processes)[:2] == ["safeguarding_case", "cads_triage"] and "assessment_process" in processes
    main = processes["safeguarding_case"]
    assert {"contact_received", "call_cads_triage"} <= set(main["completed"])
    assert "call_assessment" in main["active"] and "call_assessment" not in main["completed"]
    assert "cads_decision" in processes["cads_triage"]["completed"]
    assert processes["assessment_process"]["active"] == ["assessment"]
    assert any(e.startswith("flow_") for e in main["completed"])  # the path taken, flows included
    main_xml = client.get(f"/cases/{case.id}/diagram?process=safeguarding_case").get_json()["xml"]
    assert 'id="safeguarding_case"' in main_xml
    assert client.get(f"/cases/{case.id}/diagram?process=child_protection").status_code == 404
    page = client.get(f"/cases/{case.id}?process=cads_triage").get_data(as_text=True)
    assert '<option value="cads_triage" selected' in page and "CADS decision" in page


def test_strategy_discussion_during_an_assessment(client, auth, web_app, web_clock, db):
    case = in_assessment(web_app, web_clock)
    auth.login_as("social_worker")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Call a strategy discussion" in page
    response = client.post(f"/cases/{case.id}/strategy-discussion", data={"reason": "  "})
    assert response.status_code == 422 and "Enter the reason" in response.get_data(as_text=True)
    assert not Task.select().where(Task.case == case.id, Task.bpmn_id == "strategy_discussion").exists()
    response = client.post(f"/cases/{case.id}/strategy-discussion", data={"reason": "New disclosure at school"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case.id}")
    assert Task.select().where(Task.case == case.id, Task.bpmn_id == "strategy_discussion").exists()
    assert ChronologyEntry.select().where(ChronologyEntry.case == case.id,
                                          ChronologyEntry.kind == "strategy_discussion_requested").exists()
    assert "Strategy discussion requested" in client.get(f"/cases/{case.id}").get_data(as_text=True)


def test_strategy_discussion_at_the_front_door_is_refused_clearly(client, auth, web_app, db):
    [case] = record(web_app)
    allocate(web_app, case)
    before = Case.get_by_id(case.id).version
    auth.login_as("social_worker")
    response = client.post(f"/cases/{case.id}/strategy-discussion", data={"reason": "Worried"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "There is a problem" in page and "only be called during an assessment" in page
    assert Case.get_by_id(case.id).version == before
    auth.logout()
    auth.login_as("cads_social_worker")
    assert client.post(f"/cases/{case.id}/strategy-discussion", data={"reason": "Worried"}).status_code == 403


def test_team_view_lists_overdue_first_and_highlights_escalations(client, auth, web_app, web_clock, db):
    child = contact_payload(scenario("nfa"), TODAY)["children"][0]
    now = web_clock.now()
    web_clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc))  # a week ago: its decision is overdue now
    [late] = record(web_app, received=date(2026, 12, 7), children=[dict(child, given_name="Larry", family_name="Late")])
    web_clock.set(now)
    [fresh] = record(web_app, children=[dict(child, given_name="Fern", family_name="Fresh")])
    auth.login_as("cads_manager")
    page = client.get("/team").get_data(as_text=True)
    assert page.index(f'data-case="{late.reference}"') < page.index(f'data-case="{fresh.reference}"')
    assert "Overdue by" in page
    context = web_app.extensions["safeguarding"]
    context.service.fire_due_timers(datetime(2026, 12, 14, 9, 0, tzinfo=timezone.utc))
    page = client.get("/team").get_data(as_text=True)
    assert 'data-task="escalate_cads_decision"' in page and "app-escalation" in page and ">Escalation<" in page
    cases_table = page[page.index('id="cases"'):]
    assert cases_table.index(late.reference) < cases_table.index(fresh.reference)
    assert "OVERDUE" in cases_table


def test_team_view_for_a_team_manager_and_refused_for_a_social_worker(client, auth, web_app, web_clock, db):
    [case] = record(web_app, "assessment_strategy")
    case = drive(web_app, web_clock, case, "assessment_strategy", "strategy_discussion")
    auth.login_as("team_manager")
    page = client.get("/team").get_data(as_text=True)
    row = page[page.index(f'<tr class="govuk-table__row" data-case="{case.reference}">'):]
    assert "Strategy discussion" in row and "Priya Shah" in row  # stage and allocated worker
    assert 'data-task="strategy_discussion"' in page
    auth.logout()
    auth.login_as("social_worker")
    assert client.get("/team").status_code == 403
