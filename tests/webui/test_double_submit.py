"""A browser form sent twice (a double click, a reload, a resubmission after Back) has one effect,
and every answer to the same user's same form shows the success; others get the honest answer."""
from __future__ import annotations

import re

from store.audit import AuditEntry
from store.demo import Scenario, _defaults
from store.models import Case, ChronologyEntry, Contact, Task

from ..store.test_concurrency import run_together
from .test_tasks import CADS_ANSWERS, add_user, case_at, open_task, posted, record_contact, version_of

MASH_ANSWERS = {"checked_on-day": "14", "checked_on-month": "12", "checked_on-year": "2026",
                "information_held": "yes", "findings": "Two call-outs to the address in 2026.", "rag": "amber"}
TO_MASH = Scenario("to_mash", {**_defaults(), "cads_decision": [{"decision": "mash_checks",
                                                                  "mash_agencies": ["police"]}]},
                   stop_before="mash_check")


def filled(client, task, answers: dict):
    """The task page's form as a browser would send it, with ``answers`` typed in."""
    form = posted(client.get(f"/tasks/{task.id}").get_data(as_text=True))
    for key, value in answers.items():
        form.setlist(key, [value])
    return form


def banner(client, location: str) -> str:
    """The confirmation shown on the page a post redirected to."""
    page = client.get(location).get_data(as_text=True)
    found = re.findall(r'govuk-notification-banner__heading">([^<]*)<', page)
    return found[0] if found else ""


def completions(task) -> int:
    return ChronologyEntry.select().where(ChronologyEntry.task_id == task.id,
                                          ChronologyEntry.kind == "task_completed").count()


def plain(page: str) -> str:
    """A page without what differs between any two answers (the CSP nonce, the CSRF token)."""
    return re.sub(r'(nonce|name="csrf_token" value)="[^"]*"', "", page)


def refusals() -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.action == "refused"))


# -- a task ----------------------------------------------------------------------------------------
def test_a_task_form_sent_twice_completes_once_and_both_answers_show_the_success(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    form = filled(client, task, CADS_ANSWERS)
    before = version_of(case)
    first = client.post(f"/tasks/{task.id}", data=form)
    first_banner = banner(client, first.location)
    second = client.post(f"/tasks/{task.id}", data=form)
    assert first.status_code == second.status_code == 302 and first.location == second.location
    assert first.location.endswith(f"/cases/{case.id}")
    assert first_banner.startswith(f"CADS decision completed for {case.reference}")
    assert banner(client, second.location) == first_banner
    assert completions(task) == 1 and version_of(case) == before + 1
    assert Case.get_by_id(case.id).cads_decision == "strategy_discussion"
    assert refusals() == []


def test_a_mash_partner_double_click_shows_their_work_and_records_no_refusal(client, auth, web_app, web_clock):
    """A MASH partner never sees the case: the second answer used to look the case up and record a refusal."""
    case = case_at(web_app, web_clock, TO_MASH)
    task = Task.get(Task.case == case.id, Task.role == "mash_police")
    auth.login_as("mash_police")
    form = filled(client, task, MASH_ANSWERS)
    first = client.post(f"/tasks/{task.id}", data=form)
    first_banner = banner(client, first.location)
    second = client.post(f"/tasks/{task.id}", data=form)
    assert first.status_code == second.status_code == 302 and first.location == second.location == "/"
    assert "MASH check completed" in first_banner and banner(client, second.location) == first_banner
    assert completions(task) == 1 and refusals() == []


def test_the_same_page_sent_from_four_tabs_at_once_completes_once(client, auth, web_app):
    """Posts arriving together: the later ones wait for the first's key and answer as it did."""
    from .conftest import PASSWORD
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    form = filled(client, task, CADS_ANSWERS)
    tabs = [web_app.test_client() for _ in range(4)]
    for tab in tabs:
        assert tab.post("/login", data={"username": "cads.sw", "password": PASSWORD}).status_code == 302
    answers = run_together(4, lambda: tabs.pop().post(f"/tasks/{task.id}", data=form))
    assert {(a.status_code, a.location) for a in answers} == {(302, f"/cases/{case.id}")}
    assert completions(task) == 1 and refusals() == []


def test_the_same_form_with_other_answers_after_completion_gets_the_honest_answer(client, auth, web_app):
    """Back to the filled page, an answer changed, sent again: it was not saved, and the page says so."""
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    form = filled(client, task, CADS_ANSWERS)
    assert client.post(f"/tasks/{task.id}", data=form).status_code == 302
    form.setlist("reasons", ["A different reason, typed after going back."])
    again = client.post(f"/tasks/{task.id}", data=form)
    page = again.get_data(as_text=True)
    assert again.status_code == 404 and "You have already completed this task" in page
    assert "Nothing you entered this time has been saved" in page
    assert "A different reason, typed after going back." in page  # shown so it is not lost
    assert completions(task) == 1 and refusals() == []
    assert Case.get_by_id(case.id).cads_decision == "strategy_discussion"


def test_another_user_or_an_old_token_gets_the_honest_answer(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    add_user(web_app, "cads.two", "cads_social_worker")
    auth.login_as("cads_social_worker")
    form = filled(client, task, CADS_ANSWERS)
    assert client.post(f"/tasks/{task.id}", data=form).status_code == 302
    auth.logout()
    assert auth.login("cads.two").status_code == 302
    other = client.post(f"/tasks/{task.id}", data=form)  # the same page, sent by someone else
    page = other.get_data(as_text=True)
    assert other.status_code == 404 and "This task has already been completed" in page
    assert "Nothing you entered has been saved" in page and 'id="completed-by"' in page and "cads.sw" in page
    auth.logout()
    auth.login_as("cads_social_worker")
    stale = client.post(f"/tasks/{task.id}", data=dict(form.items(), _token="0123456789ab-1"))
    assert stale.status_code == 404 and b"already completed this task" in stale.data
    assert b"Nothing you entered this time has been saved" in stale.data
    assert completions(task) == 1


def test_an_error_is_not_remembered_so_the_corrected_form_completes(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    form = filled(client, task, dict(CADS_ANSWERS, decision=""))
    assert client.post(f"/tasks/{task.id}", data=form).status_code == 422
    form.setlist("decision", ["nfa"])
    assert client.post(f"/tasks/{task.id}", data=form).status_code == 302
    assert completions(task) == 1 and Case.get_by_id(case.id).cads_decision == "nfa"


def test_a_posted_case_the_user_may_not_see_is_not_named_and_no_refusal_is_recorded(client, auth, web_app,
                                                                                       web_clock):
    """The 'already completed' answer names the case only to someone who may see it; asking is not an attempt."""
    case = case_at(web_app, web_clock, TO_MASH)
    task = Task.get(Task.case == case.id, Task.role == "mash_police")
    auth.login_as("mash_police")
    form = filled(client, task, MASH_ANSWERS)
    service = web_app.extensions["safeguarding"].service
    service.complete_task(task.id, "mash.police", {"agency": "police", "checked_on": "2026-12-14",
                                                   "information_held": False, "findings": "None", "rag": "green"},
                          token=task.token)
    response = client.post(f"/tasks/{task.id}", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and "already completed" in page
    assert case.reference not in page and 'id="completed-by"' not in page
    assert refusals() == []


# -- the page of a completed task, reached again with Back ------------------------------------------
def test_back_to_a_task_one_completed_says_so_without_claiming_nothing_was_saved(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    assert client.post(f"/tasks/{task.id}", data=filled(client, task, CADS_ANSWERS)).status_code == 302
    again = client.get(f"/tasks/{task.id}")
    page = again.get_data(as_text=True)
    assert again.status_code == 404 and "You have already completed this task" in page
    assert "Nothing you entered" not in page and 'id="completed-by"' in page
    assert f'href="/cases/{case.id}"' in page


def test_a_completed_task_of_a_case_one_may_not_see_answers_as_an_unknown_task(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    assert client.post(f"/tasks/{task.id}", data=filled(client, task, CADS_ANSWERS)).status_code == 302
    auth.logout()
    auth.login_as("mash_police")
    seen = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    unknown = client.get("/tasks/00000000-0000-0000-0000-000000000000").get_data(as_text=True)
    assert plain(seen).replace(task.id, "") == plain(unknown).replace("00000000-0000-0000-0000-000000000000", "")
    assert refusals() == []


# -- a contact --------------------------------------------------------------------------------------
def test_a_contact_form_sent_twice_records_once_and_both_answers_show_the_success(client, auth, db):
    from .test_contacts import fields
    auth.login_as("contact_officer")
    page = client.get("/contacts/new").get_data(as_text=True)
    [submission] = re.findall(r'name="_submission" value="([0-9a-f]{32})"', page)
    data = dict(fields(), _submission=submission)
    first = client.post("/contacts/new", data=data)
    first_banner = banner(client, first.location)
    second = client.post("/contacts/new", data=data)
    assert first.status_code == second.status_code == 302 and first.location == second.location
    assert first_banner.startswith("Contact recorded. Case created: C")
    assert banner(client, second.location) == first_banner
    assert Contact.select().count() == 1 and Case.select().count() == 1


def test_back_to_a_recorded_contact_page_says_it_was_recorded(client, auth, db):
    """The page's address names its submission (the browser's history keeps it), so going back to it
    shows what became of it instead of an empty form or a resubmission."""
    from .test_contacts import fields
    auth.login_as("contact_officer")
    page = client.get("/contacts/new").get_data(as_text=True)
    [submission] = re.findall(r'name="_submission" value="([0-9a-f]{32})"', page)
    assert f'data-history-url="/contacts/new?submission={submission}"' in page
    unsent = client.get(f"/contacts/new?submission={submission}").get_data(as_text=True)
    assert f'name="_submission" value="{submission}"' in unsent and 'id="contact-form"' in unsent
    first = client.post("/contacts/new", data=dict(fields(), _submission=submission))
    [case] = Case.select()
    back = client.get(f"/contacts/new?submission={submission}")
    text = back.get_data(as_text=True)
    assert back.status_code == 200 and "This contact has been recorded" in text
    assert f'href="/cases/{case.id}"' in text and case.reference in text and 'id="contact-form"' not in text
    assert first.location.endswith(f"/cases/{case.id}")
    assert client.get("/contacts/new?submission=not-a-key").status_code == 200  # a fresh form
    auth.logout()
    auth.login_as("cads_social_worker")  # keys are per user: someone else's is a fresh page for them
    theirs = client.get(f"/contacts/new?submission={submission}").get_data(as_text=True)
    assert "This contact has been recorded" not in theirs and 'id="contact-form"' in theirs
    assert Contact.select().count() == 1


def test_a_page_answering_a_post_replaces_its_history_entry(client, auth, db, web_app):
    """An error or 'Add another' page names the address Back and Reload should fetch instead of posting."""
    from .test_contacts import fields
    auth.login_as("contact_officer")
    submission = "0123456789abcdef0123456789abcdef"
    invalid = client.post("/contacts/new", data=dict(fields(concern=""), _submission=submission))
    assert invalid.status_code == 422
    assert f'data-history-url="/contacts/new?submission={submission}"' in invalid.get_data(as_text=True)
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.logout()
    auth.login_as("cads_social_worker")
    form = filled(client, task, dict(CADS_ANSWERS, decision=""))
    wrong = client.post(f"/tasks/{task.id}", data=form)
    assert wrong.status_code == 422 and f'data-history-url="/tasks/{task.id}"' in wrong.get_data(as_text=True)
    assert "data-history-url" not in client.get(f"/tasks/{task.id}").get_data(as_text=True)


def test_a_failed_post_to_a_route_without_a_page_stands_for_the_page_it_was_sent_from(client, auth, web_app,
                                                                                       web_clock):
    from .test_cases import in_assessment
    case = in_assessment(web_app, web_clock)
    auth.login_as("social_worker")
    url = f"/cases/{case.id}/strategy-discussion"
    failed = client.post(url, data={"reason": " "}, headers={"Referer": f"http://localhost/cases/{case.id}?x=1"})
    assert failed.status_code == 422
    assert f'data-history-url="/cases/{case.id}?x=1"' in failed.get_data(as_text=True)
    elsewhere = client.post(url, data={"reason": " "}, headers={"Referer": "http://elsewhere.example/cases/1"})
    assert elsewhere.status_code == 422 and "data-history-url" not in elsewhere.get_data(as_text=True)


def test_release_sent_twice_puts_the_task_back_once_and_both_answers_say_so(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    claimed = client.post(f"/tasks/{task.id}/claim")
    assert claimed.status_code == 302 and banner(client, claimed.location).startswith("You have claimed")
    first = client.post(f"/tasks/{task.id}/release")
    first_banner = banner(client, first.location)
    second = client.post(f"/tasks/{task.id}/release")
    assert first.status_code == second.status_code == 302 and first.location == second.location
    assert first_banner == "CADS decision is back in the cads social worker queue"
    assert banner(client, second.location) == first_banner
    released = AuditEntry.select().where(AuditEntry.action == "change", AuditEntry.record_id == task.id)
    assert [e.detail["action"] for e in released] == ["claimed", "released"]
    assert Task.get_by_id(task.id).assignee_id is None


def test_release_of_a_task_someone_else_holds_is_still_refused(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    add_user(web_app, "cads.two", "cads_social_worker")
    auth.login_as("cads_social_worker")
    assert client.post(f"/tasks/{task.id}/claim").status_code == 302
    auth.logout()
    assert auth.login("cads.two").status_code == 302
    assert client.post(f"/tasks/{task.id}/release").status_code == 403
    assert Task.get_by_id(task.id).assignee.username == "cads.sw"
