"""The task page: every form renders, answers round-trip, errors show on their fields, refusals."""
from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from engine import CaseConflict
from store.demo import CP_PATH, FORM_EXAMPLES, SCENARIOS, Scenario, _defaults, contact_payload, drive_case
from webui.formrender import build_form, parse_form, to_values
from webui.tasks import instructions_html

FORMS_DIR = Path(__file__).resolve().parents[2] / "bpmn" / "forms"
FORM_FILES = sorted(p.name for p in FORMS_DIR.glob("*.json"))


# -- helpers ------------------------------------------------------------------------------
class _Browser(HTMLParser):
    """What a browser would post for the first form with id task-form (inputs, textareas, selects)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._textarea = self._select = None
        self._text: list[str] = []
        self._in_form = False
        self._option_value = None
        self._selected = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._in_form = a.get("id") == "task-form"
        if not self._in_form or "disabled" in a:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit",):
            if a.get("type") in ("radio", "checkbox") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []
        elif tag == "select":
            self._select, self._selected = a["name"], ""
        elif tag == "option" and self._select and "selected" in a:
            self._selected = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "textarea" and self._textarea:
            text = "".join(self._text)
            self.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "select" and self._select:
            self.fields.append((self._select, self._selected))
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def posted(html: str) -> MultiDict:
    browser = _Browser()
    browser.feed(html)
    return MultiDict(browser.fields)


def render_form(web_app, schema, values=None, errors=(), rows=None, date_parts=None) -> str:
    form = build_form(schema, values, errors, rows, date_parts)
    with web_app.test_request_context():
        template = web_app.jinja_env.from_string(
            '{% import "forms/fields.html" as forms %}{% if form.errors %}{{ forms.error_summary(form.errors) }}{% endif %}'
            '<form id="task-form">{% for f in form.fields %}{{ forms.field(f) }}{% endfor %}</form>')
        return template.render(form=form)


def record_contact(web_app, scenario="nfa", **contact):
    context = web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    chosen = next(s for s in SCENARIOS if s.name == scenario)
    payload = contact_payload(chosen, date(2026, 12, 14))
    payload.update(contact)
    [case] = context.service.record_contact(payload, web_app.config["USERS_BY_ROLE"]["contact_officer"])
    return case


def open_task(case, bpmn_id):
    from store.models import Task
    return Task.get(Task.case == case.id, Task.bpmn_id == bpmn_id)


def case_at(web_app, web_clock, scenario: Scenario):
    """A case driven (through the store) until the scenario's stop_before task is open."""
    case = record_contact(web_app, **scenario.contact)
    drive_case(web_app.extensions["safeguarding"].service, web_clock, case.id, scenario,
               web_app.config["USERS_BY_ROLE"])
    return case


def version_of(case) -> int:
    from store.models import Case
    return Case.get_by_id(case.id).version


def add_user(web_app, username, *roles):
    from store.models import User
    from store.users import add_user as store_add_user
    store_add_user(username, username.title(), roles, web_app.extensions["safeguarding"].clock.now())
    User.update(password_hash=User.get(User.username == "cads.sw").password_hash).where(
        User.username == username).execute()


CADS_ANSWERS = {"decided_on-day": "14", "decided_on-month": "12", "decided_on-year": "2026",
                "decision": "strategy_discussion", "reasons": "Injury disclosed at school.",
                "manager_consulted": "yes", "manager_name": "Claire Dunn", "parents_informed": "no"}


# -- the renderer on every form ---------------------------------------------------------------
@pytest.mark.parametrize("name", FORM_FILES)
def test_every_form_renders_and_round_trips_its_example(web_app, name):
    """Each schema renders; what a browser posts back from the filled page parses to the same data."""
    schema = json.loads((FORMS_DIR / name).read_text())
    example = FORM_EXAMPLES[name]
    html = render_form(web_app, schema, to_values(schema, example))
    for prop in schema["properties"]:
        assert f'data-field="{prop}"' in html, prop
    parsed = parse_form(schema, posted(html))
    assert parsed.errors == []
    assert parsed.data == example
    blank = parse_form(schema, posted(render_form(web_app, schema)))
    assert blank.data == {} and blank.errors == []


def test_widgets_follow_the_schema(web_app):
    schema = json.loads((FORMS_DIR / "icpc.json").read_text())
    html = render_form(web_app, schema)
    assert 'type="radio" value="cp_plan"' in html  # 2 options: radios
    assert '<select class="govuk-select" id="attendees-0-role" name="attendees.0.role"' in html  # 21: a select
    assert 'type="checkbox" value="neglect"' in html and "Physical abuse" in html  # x-enumLabels on items
    assert 'name="held_on-day"' in html and 'name="held_on-year"' in html
    assert '<textarea class="govuk-textarea govuk-js-character-count" id="parents_views"' in html  # 10,000 at most
    assert 'name="attendees.2.name"' in html and 'name="attendees.3.name"' not in html  # 3 blank rows
    assert "The parents&#39; or carers&#39; views (optional)" in html
    assert "Decision (optional)" not in html and "Category of abuse (optional)" not in html  # if/then
    cads = render_form(web_app, json.loads((FORMS_DIR / "cads_decision.json").read_text()))
    assert 'name="manager_consulted" type="radio" value="yes"' in cads and "govuk-radios--inline" in cads


def test_dates_are_parsed_from_day_month_year():
    schema = {"type": "object", "properties": {"held_on": {"title": "Date held", "type": "string", "format": "date"}}}

    def parse(day, month, year):
        return parse_form(schema, MultiDict({"held_on-day": day, "held_on-month": month, "held_on-year": year}))

    assert parse("5", "1", "2027").data == {"held_on": "2027-01-05"}
    assert parse(" 05 ", "01", "2027").data == {"held_on": "2027-01-05"}
    assert parse("", "", "").data == {} and parse("", "", "").errors == []
    partial = parse("5", "", "")
    assert partial.data == {} and partial.errors[0].field == "held_on"
    assert partial.errors[0].message == "Date held must include a month and year"
    assert partial.date_parts["held_on"] == ("month", "year")
    impossible = parse("31", "2", "2027")
    assert impossible.data == {} and impossible.errors[0].message == "Date held must be a real date"
    assert parse("1", "13", "2027").errors[0].message == "Date held must be a real date"
    assert "real date" in parse("x", "1", "2027").errors[0].message
    assert "4 numbers" in parse("1", "1", "27").errors[0].message


def test_blank_rows_are_ignored_and_errors_map_to_the_row_typed_in():
    schema = json.loads((FORMS_DIR / "strategy_discussion.json").read_text())
    form = MultiDict({"_rows:attendees": "4", "attendees.0.name": "Priya", "attendees.0.role": "social_worker",
                      "attendees.1.name": "", "attendees.2.name": "DS Moore", "attendees.3.name": " "})
    parsed = parse_form(schema, form)
    assert parsed.data["attendees"] == [{"name": "Priya", "role": "social_worker"}, {"name": "DS Moore"}]
    assert parsed.rows == {"attendees": 4}
    assert parsed.display_path("attendees.1.role") == "attendees.2.role"
    assert parsed.display_path("attendees.0.name") == "attendees.0.name"
    assert parsed.display_path("outcome") == "outcome"


def test_booleans_numbers_and_unknown_answers():
    schema = {"type": "object", "properties": {"ok": {"type": "boolean", "title": "OK"},
                                               "count": {"type": "integer", "title": "Count"},
                                               "place": {"type": "object", "properties": {"town": {"type": "string"}}}}}
    parsed = parse_form(schema, MultiDict({"ok": "no", "count": "3", "place.town": "Norwich"}))
    assert parsed.data == {"ok": False, "count": 3, "place": {"town": "Norwich"}}
    bad = parse_form(schema, MultiDict({"ok": "maybe", "count": "three"}))
    assert {e.field: e.message for e in bad.errors} == {"ok": "OK: choose yes or no", "count": "Count must be a whole number"}


def test_instructions_are_text_with_bold_and_paragraphs():
    html = str(instructions_html("Decide within **1 working day**.\nChoose *MASH*.\n\n<script>alert(1)</script>"))
    assert "<strong>1 working day</strong>" in html and "<em>MASH</em>" in html
    assert "day</strong>. Choose" in html and html.count('<p class="govuk-body">') == 2
    assert "<script>" not in html and "&lt;script&gt;" in html


# -- the page ---------------------------------------------------------------------------------
def test_get_shows_instructions_due_date_case_summary_and_form(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    response = client.get(f"/tasks/{task.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1 class=\"govuk-heading-l\">CADS decision</h1>" in page
    assert "<strong>1 working day</strong>" in page  # rendered instructions
    assert task.due.strftime("%-d %B %Y") in page and "working day" in page
    summary = page.split('id="case-summary"')[1]
    assert case.child.display_name in summary and case.reference in summary and "Referral" in summary
    assert 'data-deadline="cads_decision"' in summary and case.child.date_of_birth.strftime("%-d %B %Y") in summary
    assert f'name="_token" value="{task.token}"' in page
    assert 'name="decided_on-day"' in page and 'name="decision"' in page and "Claim it" in page


def test_post_completes_the_cads_decision_and_reports_next_tasks(client, auth, web_app):
    from store.models import Case, ChronologyEntry, Task
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    form = posted(client.get(f"/tasks/{task.id}").get_data(as_text=True))
    for key, value in CADS_ANSWERS.items():
        form.setlist(key, [value])
    response = client.post(f"/tasks/{task.id}", data=form)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case.id}")
    saved = Case.get_by_id(case.id)
    assert saved.cads_decision == "strategy_discussion" and saved.cads_decision_on == date(2026, 12, 14)
    assert Task.get_or_none(Task.id == task.id) is None
    entry = ChronologyEntry.get(ChronologyEntry.case == case.id, ChronologyEntry.kind == "task_completed")
    assert entry.actor == "cads.sw" and entry.details["form"]["parents_informed"] is False
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert f"CADS decision completed for {case.reference}" in page
    assert "Next: Feedback to referrer for cads social worker; Strategy discussion for social worker." in page


def test_invalid_post_shows_each_error_on_its_field_and_changes_nothing(client, auth, web_app):
    from store.models import Task
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    before = version_of(case)
    auth.login_as("cads_social_worker")
    response = client.post(f"/tasks/{task.id}", data={
        "_token": task.token, "decided_on-day": "14", "decided_on-month": "", "decided_on-year": "2026",
        "decision": "assessment", "reasons": "", "manager_name": "Typed but kept"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "govuk-error-summary" in page and "<title>Error:" in page
    assert '<a href="#decided_on-month">Date of decision must include a month</a>' in page
    assert '<a href="#reasons">Enter the reasons for the decision</a>' in page
    assert '<a href="#manager_consulted">' in page  # required when the decision is an assessment
    assert 'id="reasons-error"' in page and 'govuk-form-group--error" data-field="decided_on"' in page
    assert 'value="Typed but kept"' in page and 'name="decided_on-day" type="text" inputmode="numeric" value="14"' in page
    assert '<option value="assessment" selected>' in page
    assert version_of(case) == before and Task.get_or_none(Task.id == task.id) is not None


def test_rules_beyond_the_schema_show_on_their_field(client, auth, web_app):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    answers = dict(CADS_ANSWERS, _token=task.token, **{"decided_on-day": "15", "decided_on-month": "1",
                                                       "decided_on-year": "2027"})
    response = client.post(f"/tasks/{task.id}", data=answers)
    assert response.status_code == 422
    assert '<a href="#decided_on-day">Date of decision cannot be in the future (today is 14 December 2026)' in response.get_data(as_text=True)


def test_repeating_group_add_row_re_renders_without_saving(client, auth, web_app):
    case = record_contact(web_app, "immediate_danger")
    task = open_task(case, "strategy_discussion")
    before = version_of(case)
    auth.login_as("social_worker")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'name="attendees.2.name"' in page and 'name="attendees.3.name"' not in page
    form = posted(page)
    form.setlist("attendees.0.name", ["Priya Shah"])
    form.add("_add_row", "attendees")
    response = client.post(f"/tasks/{task.id}", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "govuk-error-summary" not in page
    assert 'name="attendees.3.name"' in page and 'name="attendees.4.name"' not in page
    assert 'value="Priya Shah"' in page and 'name="_rows:attendees" value="4"' in page
    assert version_of(case) == before


def test_repeating_group_rows_complete_a_strategy_discussion(client, auth, web_app):
    from store.models import ChronologyEntry
    case = record_contact(web_app, "immediate_danger")
    task = open_task(case, "strategy_discussion")
    auth.login_as("social_worker")
    form = posted(client.get(f"/tasks/{task.id}").get_data(as_text=True))
    answers = {"held_on-day": "14", "held_on-month": "12", "held_on-year": "2026", "outcome": "no_section47",
               "reasons": "No significant harm found.", "attendees.0.name": "Priya Shah",
               "attendees.0.role": "social_worker", "attendees.2.name": "DS Kate Moore"}
    for key, value in answers.items():
        form.setlist(key, [value])
    response = client.post(f"/tasks/{task.id}", data=form)  # row 1 blank, row 2 has no role
    assert response.status_code == 422
    assert '<a href="#attendees-2-role">Person 3: Choose the role</a>' in response.get_data(as_text=True)
    form.setlist("attendees.2.role", ["police"])
    assert client.post(f"/tasks/{task.id}", data=form).status_code == 302
    entry = ChronologyEntry.get(ChronologyEntry.case == case.id, ChronologyEntry.element == "strategy_discussion",
                                ChronologyEntry.kind == "task_completed")
    assert entry.details["form"]["attendees"] == [{"name": "Priya Shah", "role": "social_worker"},
                                                   {"name": "DS Kate Moore", "role": "police"}]


def test_every_task_page_along_the_lifecycle_renders(client, auth, web_app, web_clock):
    """Drive cases down several paths; at every step GET the page of each open task."""
    from store.models import Task
    add_user(web_app, "all.roles", *sorted(web_app.config["USERS_BY_ROLE"]))
    from store.models import User
    User.update(team=User.get(User.username == "sw.priya").team).where(User.username == "all.roles").execute()
    auth.login("all.roles")  # in the allocated worker's team: locality work is seen by its team only
    seen: set[str] = set()

    def visit(case, _task):
        for open_ in list(Task.select().where(Task.case == case.id)):
            response = client.get(f"/tasks/{open_.id}")
            assert response.status_code == 200, (open_.bpmn_id, response.data[:300])
            assert 'id="task-form"' in response.get_data(as_text=True)
            seen.add(open_.form_name)

    names = ("cp_plan_two_reviews", "mash_then_assessment", "lado", "contextual", "family_help",
             "early_help", "assessment_cin_plan")
    for name in names:
        scenario = next(s for s in SCENARIOS if s.name == name)
        case = record_contact(web_app, name, **scenario.contact)
        drive_case(web_app.extensions["safeguarding"].service, web_clock, case.id, scenario,
                   web_app.config["USERS_BY_ROLE"], on_step=visit)
    expected = set(FORM_FILES) - {"contact.json", "escalation.json", "end_cin_plan.json"}
    assert expected - seen <= {"core_group_meeting.json"}, sorted(expected - seen)


def test_mash_check_prefills_the_agency(client, auth, web_app, web_clock):
    scenario = Scenario("to_mash", {**_defaults(), "cads_decision": [{"decision": "mash_checks", "mash_agencies": ["police", "health"]}]},
                        stop_before="mash_check")
    case = case_at(web_app, web_clock, scenario)
    from store.models import Task
    task = Task.get(Task.case == case.id, Task.role == "mash_police")
    auth.login_as("mash_police")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'name="agency" type="radio" value="police" checked' in page


def test_scheduling_shows_the_statutory_deadline_and_needs_a_reason_after_it(client, auth, web_app, web_clock):
    from store.models import Case
    scenario = Scenario("to_icpc", {**_defaults(), **{k: [v] for k, v in CP_PATH.items()}}, stop_before="schedule_icpc")
    case = case_at(web_app, web_clock, scenario)
    due = Case.get_by_id(case.id).icpc_due
    task = open_task(case, "schedule_icpc")
    auth.login_as("conference_chair")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="statutory-deadline"' in page and due.strftime("%-d %B %Y") in page
    late = date.fromordinal(due.toordinal() + 7)
    response = client.post(f"/tasks/{task.id}", data={
        "_token": task.token, "scheduled_for-day": str(late.day), "scheduled_for-month": str(late.month),
        "scheduled_for-year": str(late.year), "venue": "County Hall"})
    assert response.status_code == 422
    assert '<a href="#reason_outside_timescale">' in response.get_data(as_text=True)


# -- refusals ---------------------------------------------------------------------------------
def test_not_logged_in_is_sent_to_sign_in(client, web_app):
    task = open_task(record_contact(web_app), "cads_decision")
    for response in (client.get(f"/tasks/{task.id}"), client.post(f"/tasks/{task.id}", data={})):
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_role_is_refused(client, auth, web_app):
    task = open_task(record_contact(web_app), "cads_decision")
    auth.login_as("mash_police")
    assert client.get(f"/tasks/{task.id}").status_code == 403
    assert client.post(f"/tasks/{task.id}", data=CADS_ANSWERS).status_code == 403


def test_unknown_task_is_404(client, auth):
    auth.login_as("cads_social_worker")
    response = client.get("/tasks/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and b"already been completed" in response.data


def test_stale_token_is_409_and_changes_nothing(client, auth, web_app):
    from store.models import Task
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    before = version_of(case)
    auth.login_as("cads_social_worker")
    response = client.post(f"/tasks/{task.id}", data=dict(CADS_ANSWERS, _token="0123456789ab-1"))
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "changed since you opened it" in page
    assert "Injury disclosed at school." in page  # what they typed is shown, not lost
    assert version_of(case) == before and Task.get_or_none(Task.id == task.id) is not None


def test_completed_meanwhile_says_so_and_never_overwrites(client, auth, web_app):
    from store.models import Case
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    form = posted(client.get(f"/tasks/{task.id}").get_data(as_text=True))
    for key, value in CADS_ANSWERS.items():
        form.setlist(key, [value])
    service = web_app.extensions["safeguarding"].service
    service.complete_task(task.id, "cads.sw", {"decided_on": "2026-12-14", "decision": "nfa", "reasons": "First"},
                          token=task.token)
    after_first = version_of(case)
    response = client.post(f"/tasks/{task.id}", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and "You have already completed this task" in page  # as cads.sw, elsewhere
    assert 'id="completed-by"' in page and "No further action" in page and "cads.sw" in page
    assert "Nothing you entered this time has been saved" in page and "Injury disclosed at school." in page
    assert version_of(case) == after_first and Case.get_by_id(case.id).cads_decision == "nfa"


def test_completed_during_the_request_is_409(client, auth, web_app, monkeypatch):
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    auth.login_as("cads_social_worker")
    service = web_app.extensions["safeguarding"].service

    def lost_race(*_args, **_kwargs):
        raise CaseConflict("task CADS decision was already completed or cancelled")
    monkeypatch.setattr(service, "complete_task", lost_race)
    response = client.post(f"/tasks/{task.id}", data=dict(CADS_ANSWERS, _token=task.token))
    assert response.status_code == 409 and b"changed since you opened it" in response.data


def test_task_assigned_to_someone_else(client, auth, web_app):
    from store.tasks import claim_task
    case = record_contact(web_app)
    task = open_task(case, "cads_decision")
    claim_task(task.id, "cads.sw")
    add_user(web_app, "cads.second", "cads_social_worker")
    auth.login("cads.second")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "assigned to <strong>Sam CADS</strong>" in page and 'id="task-form"' not in page
    response = client.post(f"/tasks/{task.id}", data=dict(CADS_ANSWERS, _token=task.token))
    assert response.status_code == 409 and b"assigned to someone else" in response.data
    auth.logout()
    auth.login("cads.manager")  # a manager sees the form, disabled, with a note
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "As a manager" in page and re.search(r'<fieldset class="app-plain-fieldset" disabled>', page)
    assert 'id="complete"' not in page
    assert client.post(f"/tasks/{task.id}", data=dict(CADS_ANSWERS, _token=task.token)).status_code == 403


def test_a_date_offered_by_the_chairs_page_is_filled_in(client, auth, web_app, db):
    from store.models import Task
    from tests.webui.test_chairs import waiting_case
    case = waiting_case(web_app)
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "schedule_icpc"))
    auth.login_as("conference_chair")
    plain = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    suggested = client.get(f"/tasks/{task.id}?scheduled_for=2027-01-12").get_data(as_text=True)
    assert 'id="scheduled_for-year" name="scheduled_for-year"' in suggested
    assert 'value="2027"' in suggested and 'value="2027"' not in plain


def test_recording_an_icpc_suggests_the_first_review_from_the_rules(client, auth, web_app, db):
    from store.models import Conference, Task
    from tests.webui.test_chairs import book, waiting_case
    case = waiting_case(web_app)
    book(web_app, case, date(2026, 12, 21))  # the Monday after the clock's day: a booking may not be in the past
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "icpc"))
    assert Conference.get(Conference.case == case.id).scheduled_for == date(2026, 12, 21)
    auth.login_as("conference_chair")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    review = page[page.index('name="first_review_by-day"'):][:400]
    assert 'value="21"' in review  # 21 March 2027: three months after the booked ICPC
    month = page[page.index('name="first_review_by-month"'):][:200]
    assert 'value="3"' in month
