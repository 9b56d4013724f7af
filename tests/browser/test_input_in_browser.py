"""In the browser: a long text field shows its limit as the person types (GOV.UK character count),
and impossible input comes back as an error on its field, in the error summary."""
from __future__ import annotations

from .conftest import sign_in


def test_the_concern_counts_down_its_characters_as_they_are_typed(live_server, page, artifacts):
    sign_in(page, live_server, "contact.officer")
    page.goto(f"{live_server}/contacts/new")
    status = page.locator("[data-field='concern'] .govuk-character-count__status")
    assert status.inner_text() == "You have 10,000 characters remaining"  # the script replaced the static message
    page.locator("#concern").press_sequentially("Bruise to her cheek")
    page.wait_for_function("document.querySelector(\"[data-field='concern'] .govuk-character-count__status\")"
                           ".textContent.includes('9,981')")
    assert status.inner_text() == "You have 9,981 characters remaining"
    page.fill("#concern", "x" * 10_002)
    page.locator("#concern").press("End")  # the count follows input events; fill sends one
    page.wait_for_function("document.querySelector(\"[data-field='concern'] .govuk-character-count__status\")"
                           ".textContent.includes('too many')")
    assert status.inner_text() == "You have 2 characters too many"
    assert "govuk-textarea--error" in (page.get_attribute("#concern", "class") or "")
    page.screenshot(path=str(artifacts / "character-count.png"), full_page=False)


def test_a_future_date_of_birth_is_an_error_on_its_field(live_server, page):
    sign_in(page, live_server, "contact.officer")
    page.goto(f"{live_server}/contacts/new")
    page.fill("#children-0-given_name", "Amy")
    page.fill("#children-0-family_name", "Mills")
    page.check("#children-0-unborn-2")  # No
    page.fill("#children-0-date_of_birth-day", "1")
    page.fill("#children-0-date_of_birth-month", "1")
    page.fill("#children-0-date_of_birth-year", "2999")
    page.click("#save")
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert "Child 1: Date of birth must be between 1 January 1900 and 31 December 2100" in summary.inner_text()
    page.click(".govuk-error-summary a:has-text('Date of birth must be between')")
    assert page.evaluate("document.activeElement.id") == "children-0-date_of_birth-day"
