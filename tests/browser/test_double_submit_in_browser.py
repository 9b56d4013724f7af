"""A double click on "Complete task" completes the task once and shows the success; Back after recording
a contact shows a page fetched again, never the browser's "Confirm form resubmission"."""
from __future__ import annotations

import copy
import time
from datetime import date

import pytest

from store.demo import FORM_EXAMPLES, SCENARIOS, build_form, contact_payload
from tests.browser.conftest import sign_in
from tests.browser.test_lifecycle_in_browser import fill


def service_of(live_server):
    context = live_server.app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    return context.service


def cads_decision(live_server, index: int):
    """A new contact's CADS decision task, recorded through the service."""
    from store.models import Task
    service = service_of(live_server)
    [case] = service.record_contact(contact_payload(SCENARIOS[0], date.today(), index), "contact.officer")
    return case, Task.get((Task.case == case.id) & (Task.bpmn_id == "cads_decision"))


def completions(task_id: str) -> int:
    from store.models import ChronologyEntry
    return ChronologyEntry.select().where(ChronologyEntry.task_id == task_id,
                                          ChronologyEntry.kind == "task_completed").count()


def refusals(actor: str) -> int:
    from store.audit import AuditEntry
    return AuditEntry.select().where(AuditEntry.action == "refused", AuditEntry.actor == actor).count()


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_a_double_click_on_complete_task_completes_once_and_shows_the_success(browser, live_server, javascript,
                                                                               monkeypatch, artifacts):
    """A second click while the first answer is slow to come: with JavaScript GOV.UK's button ignores
    it (data-prevent-double-click); without, the form is sent again, and the second post gets the
    first one's answer. (Chrome itself drops a second click in the same instant, so the clicks are apart.)"""
    case, task = cads_decision(live_server, 11 if javascript else 12)
    service = service_of(live_server)
    complete_task = service.complete_task

    def slowly(*args, **kwargs):  # a busy server: the first answer is still coming when the user clicks again
        time.sleep(1.5)
        return complete_task(*args, **kwargs)
    monkeypatch.setattr(service, "complete_task", slowly)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        sign_in(page, live_server, "cads.sw")
        page.goto(f"{live_server}/tasks/{task.id}")
        fill(page, build_form("cads_decision.json", {"decision": "nfa"}, date.today(), service.engine.calendar))
        posts = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/tasks/" in r.url else None)
        button = page.locator("#complete")
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.click(x, y)  # the mouse, not page.click: that would wait for the first click's page
        page.wait_for_timeout(400)
        page.mouse.click(x, y)
        page.wait_for_url(f"**/cases/{case.id}")
        page.wait_for_load_state()
        banner = page.locator(".govuk-notification-banner--success").inner_text()
        page.screenshot(path=str(artifacts / f"double-click-{'js' if javascript else 'no-js'}.png"), full_page=True)
        assert f"CADS decision completed for {case.reference}" in banner
        assert "already" not in page.content()
        assert completions(task.id) == 1 and refusals("cads.sw") == 0
        assert len(posts) == (1 if javascript else 2), posts
    finally:
        context.close()


def contact_with_two_children(today: date) -> dict:
    payload = copy.deepcopy(FORM_EXAMPLES["contact.json"])
    payload["received_on"] = today.isoformat()
    payload.pop("received_time", None)
    payload["family_members"] = payload["family_members"][:1]
    first = payload["children"][0]
    payload["children"] = [dict(first, given_name="Nell", family_name="Quarry"),
                           dict(first, given_name="Otto", family_name="Quarry")]
    return payload


def test_back_after_recording_a_contact_shows_a_page_not_a_resubmission(page, live_server):
    """The 'Add another child' page answered a POST; Back used to land on it and ask to send it again."""
    from store.models import Contact
    sign_in(page, live_server, "contact.officer")
    before = Contact.select().count()
    page.goto(f"{live_server}/contacts/new")
    data = contact_with_two_children(date.today())
    fill(page, {k: v for k, v in data.items() if k != "children"})
    fill(page, {"children": data["children"][:1]})
    page.locator("button[name=_add_row][value=children]").click()
    page.wait_for_load_state()
    assert "submission=" in page.url  # the history holds the page's address, not the POST
    fill(page, {"children": data["children"]})
    page.locator("#save").click()
    page.wait_for_url("**/cases/*")
    assert "Contact recorded" in page.locator(".govuk-notification-banner--success").inner_text()
    response = page.go_back()
    assert response is not None and response.request.method == "GET" and response.status == 200
    assert page.locator("h1").inner_text() == "This contact has been recorded"
    assert page.locator("#contact-recorded a.govuk-link").count() == 2  # a case per child
    page.go_back()  # and the page before it, the form as first opened
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "This contact has been recorded"
    assert Contact.select().count() == before + 1
