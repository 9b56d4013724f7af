"""A process owner adds a user task in the modeler and publishes; new cases reach it, an older case
keeps its version, and a migrated case carries on into the new task."""
from __future__ import annotations

from datetime import date

from tests.browser.conftest import sign_in
from store.demo import SCENARIOS, build_form, contact_payload

ADD_HOME_VISIT = """() => {
  const modeler = window.appModeler;
  const registry = modeler.get('elementRegistry'), modeling = modeler.get('modeling');
  const factory = modeler.get('elementFactory');
  const task = registry.get('assessment'), end = registry.get('assessment_process_end');
  modeling.moveElements([task, end], { x: 160, y: 0 });
  const participant = registry.get('Participant_assessment_process');
  const visit = modeling.createShape(factory.createShape({ type: 'bpmn:UserTask' }),
                                     { x: task.x - 110, y: task.y + task.height / 2 }, participant);
  modeling.updateProperties(visit, { id: 'home_visit', name: 'Home visit' });
  const flow = registry.get('flow_assessment_process_start_to_assessment');
  modeling.reconnectEnd(flow, visit, { x: visit.x, y: visit.y + visit.height / 2 });
  modeling.connect(visit, task);
  return visit.businessObject.id;
}"""


def service_of(live_server):
    context = live_server.app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    return context.service


def complete(service, case, bpmn_id, overrides, username):
    from store.models import Task
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == bpmn_id))
    form = build_form(task.form_name, overrides, date.today(), service.engine.calendar, {})
    return service.complete_task(task.id, username, form)


def open_tasks(case_id):
    from store.models import Task
    return sorted(t.bpmn_id for t in Task.select().where(Task.case == case_id))


def test_a_process_owner_adds_a_task_publishes_and_migrates(live_server, page, artifacts):
    from store.models import Case
    service = service_of(live_server)
    scenario = SCENARIOS[0]
    carries_on, migrates = (service.record_contact(contact_payload(scenario, date.today(), index), "contact.officer")[0]
                            for index in (3, 4))
    old_version = carries_on.diagram_version_id

    sign_in(page, live_server, "owner.pat")
    page.goto(f"{live_server}/diagrams/")
    page.click("#files a[href$='/assessment.bpmn']:has-text('Edit')")
    page.wait_for_selector("#modeler[data-ready='true']")
    assert page.evaluate(ADD_HOME_VISIT) == "home_visit"
    page.locator(".djs-element[data-element-id='home_visit']").click()
    page.click(".bio-properties-panel-group-header:has-text('Safeguarding')")
    page.locator("input[name='spiff-formJsonSchemaFilename']").fill("core_group.json")
    page.wait_for_timeout(600)  # the panel debounces typing
    page.screenshot(path=str(artifacts / "process-change-modeler.png"), full_page=True)
    page.click("#modeler-save")
    page.wait_for_selector("#modeler-status:has-text('Saved as draft')")
    draft = page.url.split("/diagrams/edit/")[1].split("/")[0]

    page.goto(f"{live_server}/diagrams/check/{draft}")
    page.click("button:has-text('Publish version')")
    page.wait_for_selector("button:has-text('Migrate all movable cases')")
    page.screenshot(path=str(artifacts / "process-change-publish.png"), full_page=True)

    # A new case starts on the new version and reaches the new task in the social worker's lane.
    new_case = service.record_contact(contact_payload(scenario, date.today(), 5), "contact.officer")[0]
    assert new_case.diagram_version_id != old_version
    complete(service, new_case, "cads_decision", {"decision": "assessment"}, "cads.sw")
    assert "home_visit" in open_tasks(new_case.id)
    from store.models import Task
    assert Task.get((Task.case == new_case.id) & (Task.bpmn_id == "home_visit")).role == "social_worker"

    # The older case carries on on its own version, straight to the assessment.
    complete(service, carries_on, "cads_decision", {"decision": "assessment"}, "cads.sw")
    assert Case.get_by_id(carries_on.id).diagram_version_id == old_version
    assert "assessment" in open_tasks(carries_on.id) and "home_visit" not in open_tasks(carries_on.id)

    # Migration: the case still waiting at the CADS decision moves, and then reaches the new task.
    page.click("button:has-text('Migrate all movable cases')")
    page.wait_for_load_state()
    page.screenshot(path=str(artifacts / "process-change-migrated.png"), full_page=True)
    moved = Case.get_by_id(migrates.id)
    assert moved.diagram_version_id == new_case.diagram_version_id
    complete(service, moved, "cads_decision", {"decision": "assessment"}, "cads.sw")
    assert "home_visit" in open_tasks(moved.id)
