"""The process owner's pages: figures over the published diagram, and two versions compared."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from store.demo import SCENARIOS, contact_payload, drive_case

UTC = timezone.utc
PAGES = ["/process/", "/process/compare"]


def _scenario(name):
    return next(s for s in SCENARIOS if s.name == name)


def _record(web_app, scenario, at, steps=0):
    context = web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    users = web_app.config["USERS_BY_ROLE"]
    context.clock.set(at)
    [case] = context.service.record_contact(contact_payload(_scenario(scenario), at.date()), users["contact_officer"])
    if steps:
        drive_case(context.service, context.clock, case.id, _scenario(scenario), users, max_steps=steps)
    return case


def _row(page: str, attribute: str, value: str) -> dict[str, str]:
    """The data-figure cells of the table row marked ``attribute="value"``."""
    match = re.search(rf'<tr [^>]*{attribute}="{re.escape(value)}".*?</tr>', page, re.S)
    assert match, f"no row {value}"
    return {k: v.strip() for k, v in re.findall(r'data-figure="(\w+)">(.*?)</td>', match.group(0), re.S)}


def _data(page: str, block: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{block}">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


@pytest.mark.parametrize("url", PAGES)
def test_pages_refuse_everyone_but_process_owners(client, auth, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for role in ("social_worker", "team_manager", "admin"):
        auth.login_as(role)
        assert client.get(url).status_code == 403, role
        auth.logout()
    auth.login_as("process_owner")
    assert client.get(url).status_code == 200


def test_stats_show_waiting_cases_median_time_and_missed_deadlines(client, auth, web_app, db):
    # CADS decisions completed at 10:00 on Tuesday 15 December: after 25, 19 and 22 hours (median 22).
    _record(web_app, "nfa", datetime(2026, 12, 14, 9, 0, tzinfo=UTC), steps=1)
    _record(web_app, "nfa", datetime(2026, 12, 14, 15, 0, tzinfo=UTC), steps=1)
    _record(web_app, "mash_then_assessment", datetime(2026, 12, 14, 12, 0, tzinfo=UTC), steps=1)
    _record(web_app, "nfa", datetime(2026, 12, 15, 11, 0, tzinfo=UTC))  # still waiting for its decision
    auth.login_as("process_owner")

    page = client.get("/process/?file=cads_triage.bpmn").get_data(as_text=True)
    assert _row(page, "data-element", "cads_decision") == {"cases": "1", "tasks": "1", "median": "22 hours",
                                                           "completions": "3"}
    overlays = _data(page, "process-data")["overlays"]
    assert overlays["cads_decision"]["cases"] == 1 and overlays["cads_decision"]["level"] == "some"
    assert "<bpmn:definitions" in _data(page, "process-data")["xml"]

    page = client.get("/process/?file=mash_checks.bpmn").get_data(as_text=True)
    assert _row(page, "data-element", "mash_check") == {"cases": "1", "tasks": "4", "median": "No completions",
                                                        "completions": "0"}

    page = client.get("/process/").get_data(as_text=True)  # the top diagram, with its deadline timers
    assert _row(page, "data-deadline", "cads_decision") == {"missed": "0"}
    # The MASH case's CADS deadline (end of Tuesday) passes while its checks are open.
    db.clock.set(datetime(2026, 12, 16, 9, 0, tzinfo=UTC))
    assert db.service.fire_due_timers() == 1
    page = client.get("/process/").get_data(as_text=True)
    assert _row(page, "data-deadline", "cads_decision") == {"missed": "1"}
    assert _row(page, "data-element", "escalate_cads_decision")["cases"] == "1"
    overlays = _data(page, "process-data")["overlays"]
    assert overlays["cads_decision_deadline"]["missed"] == 1
    assert overlays["call_cads_triage"]["missed"] == 1  # the step the timer watches


def test_stats_unknown_file_is_404(client, auth):
    auth.login_as("process_owner")
    assert client.get("/process/?file=nope.bpmn").status_code == 404


def _two_versions(db, diagram_files):
    """The shipped set, and a day later a draft whose lado.bpmn lost a task and renamed another."""
    from store.models import DiagramVersion
    old = dict(diagram_files)
    new = dict(diagram_files)
    lado = new["lado.bpmn"]
    start = lado.index('    <bpmn:userTask id="allegation_management_meeting"')
    end = lado.index("</bpmn:userTask>", start) + len("</bpmn:userTask>\n")
    new["lado.bpmn"] = (lado[:start] + lado[end:]).replace('name="Allegation outcome"', 'name="Record the outcome"') \
        .replace("<bpmn:flowNodeRef>allegation_management_meeting</bpmn:flowNodeRef>", "")
    now = datetime(2026, 12, 1, 9, 0)
    DiagramVersion.create(version="v-old", files=old, created_at=now, created_by="owner.pat", status="retired")
    DiagramVersion.create(version="v-new", files=new, created_at=now + timedelta(days=1), created_by="owner.pat",
                          status="draft")


def test_compare_lists_added_changed_and_removed_elements(client, auth, db, diagram_files):
    _two_versions(db, diagram_files)
    auth.login_as("process_owner")
    # Given in either order, the versions are compared oldest to newest; the first changed file is shown.
    page = client.get("/process/compare?from=v-new&to=v-old").get_data(as_text=True)
    assert "<h2 class=\"govuk-heading-m\">lado.bpmn</h2>" in page
    removed = re.search(r'<ul [^>]*id="removed-list">(.*?)</ul>', page, re.S).group(1)
    assert 'data-element="allegation_management_meeting"' in removed
    statuses = dict(re.findall(r'data-element="([\w]+)" data-status="(\w+)"', page))
    assert statuses["allegation_management_meeting"] == "removed"
    assert statuses["lado_outcome"] == "changed"
    assert statuses["Lane_lado"] == "changed"
    assert "Record the outcome" in page and "Allegation outcome" in page
    data = _data(page, "compare-data")
    assert data["removed"] == ["allegation_management_meeting"] and "lado_outcome" in data["changed"]
    assert data["added"] == []
    task = 'userTask id="allegation_management_meeting"'
    assert task in data["old_xml"] and task not in data["new_xml"]

    page = client.get("/process/compare?from=v-old&to=v-new&file=assessment.bpmn").get_data(as_text=True)
    assert 'id="no-differences"' in page


def test_compare_with_a_single_version_says_so(client, auth, db):
    db.service.current_diagrams()  # stores the shipped set
    auth.login_as("process_owner")
    response = client.get("/process/compare")
    assert response.status_code == 200 and "Only one version" in response.get_data(as_text=True)


def test_compare_refuses_bad_choices(client, auth, db, diagram_files):
    _two_versions(db, diagram_files)
    auth.login_as("process_owner")
    response = client.get("/process/compare?from=v-old&to=nope")
    assert response.status_code == 422 and "There is no diagram version nope" in response.get_data(as_text=True)
    response = client.get("/process/compare?from=v-old&to=v-old")
    assert response.status_code == 422 and "Choose two different versions" in response.get_data(as_text=True)
    assert client.get("/process/compare?from=v-old&to=v-new&file=nope.bpmn").status_code == 404
