"""Restricting a case on its page, the subject access pages, and the referrer kept out of what others see."""
from __future__ import annotations

import json
from datetime import date

from store.audit import AuditEntry
from store.demo import SCENARIOS, contact_payload, drive_case
from store.models import Case, ChronologyEntry

REFERRER = {"type": "professional", "anonymous": False, "name": "Rita Referrer-Unique", "agency": "Oak Surgery",
            "phone": "01603 999 123", "email": "rita.unique@oak.example"}
SECRETS = ("Rita Referrer-Unique", "01603 999 123", "rita.unique@oak.example")


def allocated_case(web_app, web_clock, referrer=REFERRER):
    """A case recorded with a distinctive referrer and driven through an assessment to a plan."""
    context = web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    scenario = next(s for s in SCENARIOS if s.name == "assessment_cin_plan")
    payload = dict(contact_payload(scenario, date(2026, 12, 14)), referrer=referrer)
    [case] = context.service.record_contact(payload, web_app.config["USERS_BY_ROLE"]["contact_officer"])
    return drive_case(context.service, web_clock, case.id, scenario, web_app.config["USERS_BY_ROLE"])


def test_a_manager_restricts_names_removes_and_lifts_on_the_page(client, auth, web_app, web_clock, db):
    case = allocated_case(web_app, web_clock)
    assert case.team_id is not None
    auth.login_as("team_manager")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="restriction-link"' in page and 'id="restricted-tag"' not in page
    url = f"/cases/{case.id}/restriction"
    response = client.post(url, data={"action": "restrict", "names": "sw.omar", "reason": ""})
    assert response.status_code == 422 and "Enter the reason" in response.get_data(as_text=True)
    response = client.post(url, data={"action": "restrict", "names": "sw.omar, nobody.x", "reason": "Staff relative"})
    assert response.status_code == 422 and "there is no user" in response.get_data(as_text=True)
    assert Case.select().where(Case.id == case.id).get().id == case.id
    response = client.post(url, data={"action": "restrict", "names": "sw.omar", "reason": "Staff relative"})
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'data-username="sw.omar"' in page and 'data-username="tm.claire"' in page
    assert 'id="restricted-tag"' in client.get(f"/cases/{case.id}").get_data(as_text=True)
    auth.logout()
    auth.login_as("social_worker")  # the allocated worker, not named
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert "C%06d" % case.id not in client.get("/").get_data(as_text=True)
    refusal = AuditEntry.select().where(AuditEntry.action == "refused").order_by(AuditEntry.id.desc()).first()
    assert (refusal.actor, refusal.case_id) == ("sw.priya", case.id)
    auth.logout()
    auth.login_as("team_manager")
    assert client.post(url, data={"action": "remove", "username": "sw.omar"}).status_code == 302
    assert client.post(url, data={"action": "name", "names": "sw.priya", "reason": "Allocated worker"}).status_code == 302
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'data-username="sw.priya"' in page[page.index('id="refusals"'):]
    assert client.post(url, data={"action": "lift", "reason": "Relative has left"}).status_code == 302
    assert client.post(url, data={"action": "bogus"}).status_code == 400
    auth.logout()
    auth.login_as("social_worker")
    assert client.get(url).status_code == 403  # sees the case, may not restrict it


def test_subject_access_pages_for_information_governance_only(client, auth, web_app, web_clock, db):
    case = allocated_case(web_app, web_clock)
    auth.login_as("team_manager")
    assert client.get("/sar/").status_code == 403
    assert client.get(f"/sar/{case.child_id}").status_code == 403
    auth.logout()
    auth.login_as("information_governance")
    child = case.child
    response = client.get(f"/sar/?name={child.given_name}&born=2001-01-01")
    assert response.status_code == 422 and "no one called" in response.get_data(as_text=True)
    response = client.get(f"/sar/?name={child.given_name}+{child.family_name}&born={child.date_of_birth.isoformat()}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/sar/{child.id}")
    page = client.get(f"/sar/{child.id}").get_data(as_text=True)
    assert case.reference in page and 'id="download"' in page and "third party: referrer" in page
    download = client.get(f"/sar/{child.id}/download")
    assert download.headers["Content-Disposition"] == f'attachment; filename="subject-access-{child.id}.json"'
    pack = json.loads(download.data)
    assert pack["subject"]["person_id"] == child.id and pack["produced_by"] == "ig.nadia"
    assert AuditEntry.select().where(AuditEntry.action == "export", AuditEntry.record_type == "subject_access").count() == 2
    assert client.get("/sar/99999").status_code == 404


def test_the_referrer_is_never_in_what_others_see(client, auth, web_app, web_clock, db):
    """Chronology (every summary and detail), the case page and the API for the allocated worker,
    and the subject access pack never carry the referrer's name or contact details."""
    case = allocated_case(web_app, web_clock)
    for entry in ChronologyEntry.select().where(ChronologyEntry.case == case.id):
        text = entry.summary + json.dumps(entry.details)
        assert not any(s in text for s in SECRETS), (entry.kind, entry.summary)
    from store.tokens import issue_token
    for role in ("social_worker", "team_manager"):
        auth.login_as(role)
        page = client.get(f"/cases/{case.id}").get_data(as_text=True)
        assert "Referrer details are restricted" in page and not any(s in page for s in SECRETS), role
        auth.logout()
        token = issue_token(web_app.config["USERS_BY_ROLE"][role], web_clock.now())
        body = client.get(f"/api/cases/{case.id}", headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True)
        assert '"referrer"' not in body and not any(s in body for s in SECRETS), role
    auth.login_as("information_governance")
    pack = client.get(f"/sar/{case.child_id}/download").get_data(as_text=True)
    assert not any(s in pack for s in SECRETS)


def test_an_anonymous_referrer_is_hidden_even_from_cads_except_its_manager(client, auth, web_app, web_clock, db):
    context = web_app.extensions["safeguarding"]
    payload = dict(contact_payload(SCENARIOS[0], date(2026, 12, 14)), referrer=dict(REFERRER, anonymous=True))
    [case] = context.service.record_contact(payload, web_app.config["USERS_BY_ROLE"]["contact_officer"])
    from store.tokens import issue_token
    for role, shown in (("contact_officer", False), ("cads_social_worker", False), ("cads_manager", True)):
        token = issue_token(web_app.config["USERS_BY_ROLE"][role], web_clock.now())
        body = client.get(f"/api/cases/{case.id}", headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True)
        assert (SECRETS[0] in body) is shown, role


def test_a_mash_partner_completing_a_check_goes_back_to_their_work_not_to_the_case(client, auth, web_app, web_clock, db):
    from store.demo import Scenario, _defaults
    from store.models import Task
    from tests.webui.test_tasks import case_at, posted
    scenario = Scenario("to_mash", {**_defaults(), "cads_decision": [{"decision": "mash_checks", "mash_agencies": ["police"]}]},
                        stop_before="mash_check")
    case = case_at(web_app, web_clock, scenario)
    task = Task.get(Task.case == case.id, Task.role == "mash_police")
    auth.login_as("mash_police")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert case.reference in page and f'href="/cases/{case.id}"' not in page  # the summary, not a link to the case
    form = posted(page)
    today = web_clock.now().date()
    for key, value in {"checked_on-day": str(today.day), "checked_on-month": str(today.month),
                       "checked_on-year": str(today.year), "information_held": "yes",
                       "findings": "Two call-outs to the address this year", "rag": "amber"}.items():
        form.setlist(key, [value])
    response = client.post(f"/tasks/{task.id}", data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith("/"), response.headers.get("Location")
    assert Task.get_or_none(Task.id == task.id) is None
    assert client.get(f"/cases/{case.id}").status_code == 403


def test_a_team_manager_allocates_a_case_awaiting_allocation_from_its_page(client, auth, web_app, web_clock, db):
    from store.demo import Scenario, _defaults
    from tests.webui.test_tasks import case_at
    case = case_at(web_app, web_clock, Scenario("to_assessment", {**_defaults(), "cads_decision": [
        {"decision": "assessment"}]}, stop_before="assessment"))
    assert Case.get_by_id(case.id).team_id is None
    auth.login_as("social_worker")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)  # awaiting allocation: any social worker
    assert 'id="allocate-form"' not in page
    assert client.post(f"/cases/{case.id}/allocate", data={"worker": "sw.priya"}).status_code == 403
    auth.logout()
    auth.login_as("team_manager")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    form = page[page.index('id="allocate-form"'):page.index("</form>", page.index('id="allocate-form"'))]
    assert 'value="sw.omar"' in form and 'value="sw.priya"' in form and 'value="cads.sw"' not in form
    response = client.post(f"/cases/{case.id}/allocate", data={"worker": "cads.sw"})
    assert response.status_code == 422 and "Choose the social worker" in response.get_data(as_text=True)
    assert client.post(f"/cases/{case.id}/allocate", data={"worker": "sw.omar"}).status_code == 302
    saved = Case.get_by_id(case.id)
    assert saved.allocated_worker.username == "sw.omar" and saved.team.name == "Norwich locality"
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Allocated to Omar Hussain (Norwich locality)" in page and "Reallocate to" in page
    auth.logout()
    auth.login_as("contact_officer")  # no longer a front-door case
    assert client.get(f"/cases/{case.id}").status_code == 403
