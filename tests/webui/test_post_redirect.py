"""Post/Redirect/Get: every form the browser sends answers a success with a redirect to a page that
shows what was done, so Back and Reload never offer to send the form again.

The test walks the app's URL map: a new POST route fails here until a successful post of it is added
to SUCCESSES (or, for a route a page's script calls with fetch(), to SCRIPT_ROUTES)."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest

from store.demo import Scenario, _defaults

from .conftest import PASSWORD
from .test_cases import in_assessment
from .test_contacts import fields
from .test_restriction_and_sar import allocated_case
from .test_security import STRONG
from .test_tasks import CADS_ANSWERS, case_at, open_task, posted, record_contact

# Routes called by a page's script, never by a form: their answer is read by the script (JSON, or the
# preview's HTML fragment), so it does not enter the browser's history.
SCRIPT_ROUTES = {"diagrams.save": "the modeler saves the diagram and reads the JSON answer",
                 "diagrams.form_preview": "the form editor refreshes its preview as the owner types"}
# A banner on the page redirected to, except after signing in (the page itself is the confirmation).
NO_BANNER = {"auth.login"}


class Setup:
    """What a successful post needs: the app, a signed-in client, and a few ways to reach a state."""

    def __init__(self, client, auth, web_app, web_clock, diagram_files) -> None:
        self.client, self.auth, self.app, self.clock, self.files = client, auth, web_app, web_clock, diagram_files

    def owner(self) -> str:
        """Sign in the process owner; the published version's hash."""
        self.auth.login_as("process_owner")
        return self.app.extensions["safeguarding"].service.current_diagrams().version

    def draft(self, version: str) -> str:
        """A draft with the assessment renamed, saved by the modeler's route."""
        text = self.files["assessment.bpmn"].replace('name="Assessment"', 'name="Single assessment"', 1)
        answer = self.client.post(f"/diagrams/save/{version}/assessment.bpmn", data=text,
                                  content_type="application/xml")
        assert answer.status_code == 200, answer.data[:500]
        return answer.get_json()["version"]

    def published_draft(self) -> tuple[str, str, int]:
        """A case on the first version, then a second version published: (first, second, case id)."""
        case = record_contact(self.app, "assessment_cin_plan")
        first = self.owner()
        second = self.draft(first)
        self.clock.set(self.clock.now() + timedelta(hours=1))
        assert self.client.post(f"/diagrams/publish/{second}").status_code == 302
        return first, second, case.id

    def cads_task(self):
        return open_task(record_contact(self.app), "cads_decision")


def _task_page(s: Setup):
    task = s.cads_task()
    s.auth.login_as("cads_social_worker")
    form = posted(s.client.get(f"/tasks/{task.id}").get_data(as_text=True))
    for key, value in CADS_ANSWERS.items():
        form.setlist(key, [value])
    return f"/tasks/{task.id}", form


def _release(s: Setup):
    task = s.cads_task()
    s.auth.login_as("cads_social_worker")
    assert s.client.post(f"/tasks/{task.id}/claim").status_code == 302
    return f"/tasks/{task.id}/release", {}


def _allocate(s: Setup):
    case = case_at(s.app, s.clock, Scenario("to_assessment", {**_defaults(), "cads_decision": [
        {"decision": "assessment"}]}, stop_before="assessment"))
    s.auth.login_as("team_manager")
    return f"/cases/{case.id}/allocate", {"worker": "sw.omar"}


def _form_editor(s: Setup):
    from store.versions import download
    version = s.owner()
    text = download(version)["forms/cads_decision.json"].replace('"CADS decision"', '"The CADS decision"', 1)
    return f"/diagrams/forms/{version}/cads_decision.json", {"schema": text, "action": "save"}


def _upload(s: Setup):
    s.owner()
    text = s.files["assessment.bpmn"].replace('name="Assessment"', 'name="Single assessment"', 1)
    return "/diagrams/upload", {"diagram": (io.BytesIO(text.encode()), "assessment.bpmn")}


def _publish(s: Setup):
    return f"/diagrams/publish/{s.draft(s.owner())}", {}


def _migrate(s: Setup):
    _first, second, _case = s.published_draft()
    return f"/diagrams/migrate/{second}", {}


def _rollback(s: Setup):
    _first, second, case_id = s.published_draft()
    assert s.client.post(f"/diagrams/migrate/{second}").status_code == 302
    return f"/diagrams/rollback/{case_id}", {"version": second}


def _retire(s: Setup):
    first, _second, _case = s.published_draft()
    return f"/diagrams/retire/{first}", {}


def _retry_incident(s: Setup):
    from store.models import CaseState
    from ..store.test_timerworker import DUE, break_case, fail_until_incident, start_cases
    context = s.app.extensions["safeguarding"]
    [case] = start_cases(context, s.app.config["USERS_BY_ROLE"], 1)
    good = break_case(case.id)
    found, now = fail_until_incident(context.service, case.id, DUE)
    context.clock.set(now + timedelta(minutes=5))
    CaseState.update(state=good).where(CaseState.case == case.id).execute()  # fixed, then retried
    s.auth.login_as("admin")
    return f"/admin/incidents/{found.id}/retry", {}


def _booked(s: Setup, child_index: int):
    """An ICPC booked for its statutory date, the chair signed in: (conference, its change form's fields)."""
    from tests.webui.test_chairs import book, waiting_case
    case = waiting_case(s.app, child_index=child_index)
    conference = book(s.app, case, case.icpc_due)
    s.auth.login_as("conference_chair")
    return conference


def _change(s: Setup, action: str, reason: str | None = None):
    """A booked ICPC moved, cancelled, or (cancelled first) booked again, three working days on."""
    from tests.webui.test_booking_pages import date_fields
    from tests.webui.test_booking_pages import posted as change_fields
    from tests.webui.test_booking_pages import today, working_day
    conference = _booked(s, {"move": 1, "cancel": 2, "rebook": 3}[action])
    if action == "rebook":
        form = change_fields(s.client.get(f"/conferences/{conference.id}/cancel").get_data(as_text=True))
        assert s.client.post(f"/conferences/{conference.id}/cancel",
                             data={**form, "reason": "Family bereavement"}).status_code == 303
    data = change_fields(s.client.get(f"/conferences/{conference.id}/{action}").get_data(as_text=True))
    if action != "cancel":  # after the case was driven here, so "today" is the day it reached the chair
        data.update(date_fields("scheduled_for", working_day(s.app, today(s.app), 3)), time="14:00")
    if reason:
        data["reason"] = reason
    return f"/conferences/{conference.id}/{action}", data


def _signed_in(role: str, url: str, data=None):
    def build(s: Setup):
        s.auth.login_as(role)
        return url, data or {}
    return build


# endpoint -> builds (url, data) of a successful post, signing in whoever sends it
SUCCESSES = {
    "auth.login": lambda s: ("/login", {"username": "cads.sw", "password": PASSWORD}),
    "auth.logout": _signed_in("social_worker", "/logout"),
    "auth.change_password": _signed_in("social_worker", "/account/password", {
        "current_password": PASSWORD, "new_password": STRONG, "confirm_password": STRONG}),
    "admin.new_user": _signed_in("admin", "/admin/users/new", {
        "username": "sw.new", "full_name": "New Worker", "team": "Norwich locality", "roles": ["social_worker"],
        "password": STRONG}),
    "admin.edit_user": _signed_in("admin", "/admin/users/sw.omar", {
        "full_name": "Omar Hussain", "team": "Norwich locality", "roles": ["social_worker"], "active": "yes"}),
    "admin.reset_password": _signed_in("admin", "/admin/users/sw.omar/password", {"password": STRONG}),
    "contacts.new_contact": _signed_in("contact_officer", "/contacts/new", fields()),
    "tasks.task_page": _task_page,
    "work.claim": lambda s: (lambda t: _signed_in("cads_social_worker", f"/tasks/{t.id}/claim")(s))(s.cads_task()),
    "work.release": _release,
    "work.reassign": lambda s: (lambda t: _signed_in("cads_manager", f"/tasks/{t.id}/reassign",
                                                     {"assignee": "cads.sw"})(s))(s.cads_task()),
    "cases.request_strategy": lambda s: _signed_in(
        "social_worker", f"/cases/{in_assessment(s.app, s.clock).id}/strategy-discussion",
        {"reason": "A new disclosure at school"})(s),
    "restriction.page": lambda s: _signed_in(
        "team_manager", f"/cases/{allocated_case(s.app, s.clock).id}/restriction",
        {"action": "restrict", "names": "sw.omar", "reason": "The child's aunt works in the team"})(s),
    "restriction.allocate": _allocate,
    "chairs.move": lambda s: _change(s, "move", reason="Chair unwell"),
    "chairs.cancel": lambda s: _change(s, "cancel", reason="Family bereavement"),
    "chairs.rebook": lambda s: _change(s, "rebook"),
    "diagrams.upload": _upload,
    "diagrams.new": lambda s: (s.owner(), ("/diagrams/new", {"process_id": "family_group_conference"}))[1],
    "diagrams.form_editor": _form_editor,
    "diagrams.publish": _publish,
    "diagrams.migration": _migrate,
    "diagrams.rollback": _rollback,
    "diagrams.retire": _retire,
    "incidents.retry": _retry_incident,
}


def test_every_post_route_of_the_pages_has_a_successful_post_here(web_app):
    posts = {rule.endpoint for rule in web_app.url_map.iter_rules() if "POST" in rule.methods}
    pages = {e for e in posts if not e.startswith("api.")}  # the JSON API answers partner systems, not pages
    missing = sorted(pages - set(SUCCESSES) - set(SCRIPT_ROUTES))
    assert not missing, f"add a successful post of each to SUCCESSES: {missing}"
    assert not (set(SUCCESSES) | set(SCRIPT_ROUTES)) - pages, "an entry names a route that is gone"


@pytest.mark.parametrize("endpoint", sorted(SUCCESSES))
def test_a_successful_post_answers_with_a_redirect_to_a_page_that_says_what_was_done(
        client, auth, web_app, web_clock, diagram_files, db, endpoint):
    url, data = SUCCESSES[endpoint](Setup(client, auth, web_app, web_clock, diagram_files))
    response = client.post(url, data=data)
    assert response.status_code in (302, 303), (endpoint, response.status_code, response.data[:800])
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    shown = client.get(location, follow_redirects=True)
    assert shown.status_code == 200, (endpoint, location)
    if endpoint not in NO_BANNER:
        assert "govuk-notification-banner--success" in shown.get_data(as_text=True), (endpoint, location)
