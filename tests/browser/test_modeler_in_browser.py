"""The process owner opens the modeler: the diagram draws, the Safeguarding properties show, a save makes a draft."""
from __future__ import annotations

from tests.browser.conftest import sign_in


def test_the_process_owner_edits_a_diagram_in_the_modeler(live_server, page, artifacts):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, live_server, "owner.pat")
    page.click("a.govuk-service-navigation__link[href='/diagrams/']")
    page.screenshot(path=str(artifacts / "diagrams.png"), full_page=True)
    page.click("#files a[href$='/assessment.bpmn']:has-text('Edit')")
    page.wait_for_selector("#modeler[data-ready='true']")
    task = page.locator(".djs-element[data-element-id='assessment']")
    assert task.count() == 1
    assert page.locator(".djs-element[data-element-id='Lane_social_worker']").count() == 1
    task.click()
    page.wait_for_selector(".bio-properties-panel-group-header:has-text('Safeguarding')")
    page.click(".bio-properties-panel-group-header:has-text('Safeguarding')")
    form_input = page.locator("input[name='spiff-formJsonSchemaFilename']")
    assert form_input.input_value() == "assessment.json"
    assert page.locator(".bjsl-button").count() == 1  # bpmnlint's status button
    page.screenshot(path=str(artifacts / "modeler.png"), full_page=True)
    form_input.fill("assessment_v2.json")
    page.wait_for_timeout(600)  # the panel debounces typing
    page.click("#modeler-save")
    page.wait_for_selector("#modeler-status:has-text('Saved as draft')")
    status = page.locator("#modeler-status").inner_text()
    assert "problem" in status  # the new form does not exist: reported, to fix before publishing
    assert "/diagrams/edit/" in page.url and errors == []
    draft_url = page.url
    page.goto(draft_url + "?problems=1")
    page.wait_for_selector("#modeler[data-ready='true']")
    assert page.locator(".djs-element.app-problem[data-element-id='assessment']").count() == 1
    assert "does not exist" in page.locator(".app-problem-overlay").first.inner_text()
    page.screenshot(path=str(artifacts / "modeler-problems.png"), full_page=True)
    page.goto(draft_url.replace("/edit/", "/xml/"))
    assert 'value="assessment_v2.json"' in page.content()


def test_the_form_preview_follows_the_owner_typing(live_server, page, artifacts):
    sign_in(page, live_server, "owner.pat")
    page.goto(f"{live_server}/diagrams/")
    page.click("#files a[href$='/section47_enquiry.json']")
    page.wait_for_selector("#form-preview input, #form-preview textarea")  # the preview draws after the page
    page.fill("#schema", '{"type": "object", "properties": {"seen_on": {"type": "string", "format": "date", '
                         '"title": "Date the child was seen"}}}')
    page.wait_for_selector("#form-preview :text('Date the child was seen')")
    assert page.locator("#form-preview input[name='seen_on-day']").count() == 1
    page.fill("#schema", '{"type": "object", "properties": ')
    page.wait_for_selector("#preview-error:has-text('not valid JSON')")
    page.screenshot(path=str(artifacts / "form-editor.png"), full_page=True)


def test_conditions_and_called_processes_are_editable_in_the_panel(live_server, page):
    sign_in(page, live_server, "owner.pat")
    page.goto(f"{live_server}/diagrams/")
    page.click("#files a[href$='/safeguarding_case.bpmn']:has-text('Edit')")
    page.wait_for_selector("#modeler[data-ready='true']")
    flow = page.evaluate("""() => window.appModeler.get('elementRegistry').filter(
        (e) => e.type === 'bpmn:SequenceFlow' && e.businessObject.conditionExpression
               && e.businessObject.conditionExpression.body === "route == 'assessment'")[0].id""")
    page.evaluate(f"() => window.appModeler.get('selection').select(window.appModeler.get('elementRegistry').get('{flow}'))")
    page.click(".bio-properties-panel-group-header:has-text('Safeguarding')")
    assert page.locator("input[name='spiff-condition']").input_value() == "route == 'assessment'"
    page.evaluate("() => window.appModeler.get('selection').select(window.appModeler.get('elementRegistry').get('call_lado'))")
    page.wait_for_selector("input[name='spiff-calledElement']")
    assert page.locator("input[name='spiff-calledElement']").input_value() == "lado"
