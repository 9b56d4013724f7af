"""Impossible input is refused with a message naming the field as the person sees it, and changes
nothing: dates no record can have, identifiers that are not one, characters that cannot be stored
(through every content type), more children than a contact holds, numbers no record has."""
from __future__ import annotations

import json
import re

import pytest

from store.models import Case, ChronologyEntry, Contact, Person

from .test_contacts import AMY, fields
from .test_work import record_contact

TODAY = "2026-12-14"  # the web clock's day


def page_text(response) -> str:
    return response.get_data(as_text=True)


def error_on(page: str, anchor: str) -> str:
    """The message a field shows (its govuk-error-message), as text."""
    found = re.search(rf'<p id="{re.escape(anchor)}-error" class="govuk-error-message">(.*?)</p>', page, re.S)
    assert found, f"no error on {anchor}"
    return re.sub(r"<[^>]+>", "", found.group(1)).replace("Error:", "").strip().replace("&#39;", "'")


@pytest.fixture
def counts(db):
    """What a refused request must leave as it was."""
    def now():
        return (Contact.select().count(), Case.select().count(), Person.select().count(),
                ChronologyEntry.select().count())
    return now


@pytest.fixture
def token(web_app, db):
    from store.tokens import issue_token
    return issue_token(web_app.config["USERS_BY_ROLE"]["contact_officer"], db.clock.now())


def api_contact(client, token, payload, content_type="application/json", raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post("/api/contacts", data=body, content_type=content_type,
                       headers={"Authorization": f"Bearer {token}"})


def contact_json(db, **child) -> dict:
    from store.demo import SCENARIOS, contact_payload
    payload = contact_payload(next(s for s in SCENARIOS if s.name == "nfa"), db.clock.now().date())
    payload["children"][0].update(child)
    return payload


# -- dates ---------------------------------------------------------------------------------------
def test_a_born_child_cannot_be_born_after_today(client, auth, db, counts, token):
    before = counts()
    auth.login_as("contact_officer")
    tomorrow = dict(AMY, date_of_birth="2026-12-15")
    response = client.post("/contacts/new", data=fields(children=(tomorrow,)))
    assert response.status_code == 422
    assert error_on(page_text(response), "children-0-date_of_birth") == (
        "Date of birth cannot be in the future (today is 14 December 2026). If the child is not born yet, "
        "answer yes to ‘Is this an unborn child?’ and give the expected date of birth")
    api = api_contact(client, token, contact_json(db, date_of_birth="2027-01-01"))
    assert api.status_code == 422
    assert [e["field"] for e in api.get_json()["errors"]] == ["children.0.date_of_birth"]
    unborn = {"family_name": "Mills", "unborn": "yes", "expected_date_of_birth": "2027-03-01", "gender": "unknown"}
    both = dict(unborn, date_of_birth="2026-12-01")
    response = client.post("/contacts/new", data=fields(children=(both,)))
    assert response.status_code == 422 and "an unborn child has none yet" in error_on(
        page_text(response), "children-0-date_of_birth")
    assert counts() == before
    assert client.post("/contacts/new", data=fields(children=(unborn,))).status_code == 302  # what unborn is for


@pytest.mark.parametrize("when", ["1899-12-31", "2101-01-01"])
def test_dates_before_1900_or_after_2100_are_refused_in_forms(client, auth, web_app, db, counts, when):
    before = counts()
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data=fields(children=(dict(AMY, date_of_birth=when),)))
    assert response.status_code == 422
    assert error_on(page_text(response), "children-0-date_of_birth") == \
        "Date of birth must be between 1 January 1900 and 31 December 2100"
    assert counts() == before
    [case] = record_contact(web_app)
    task = next(t for t in case.tasks if t.bpmn_id == "cads_decision")
    auth.logout()
    auth.login_as("cads_social_worker")
    year, month, day = when.split("-")
    answers = {"decided_on-day": str(int(day)), "decided_on-month": str(int(month)), "decided_on-year": year,
               "decision": "nfa", "reasons": "No concerns.", "_token": task.token}
    response = client.post(f"/tasks/{task.id}", data=answers)
    assert response.status_code == 422
    assert error_on(page_text(response), "decided_on") == \
        "Date of decision must be between 1 January 1900 and 31 December 2100"


@pytest.mark.parametrize("role,url", [
    ("conference_chair", "/conferences/calendar?on=1899-12-31"),
    ("team_manager", "/dashboards/timeliness/cads_decision?from=0001-01-01&to=2026-12-01"),
    ("team_manager", "/dashboards/timeliness/cads_decision?month=2101-01"),
    ("team_manager", "/returns/annex-a.xlsx?from=1066-10-14&to=2026-12-01"),
    ("information_governance", "/sar/?name=Amy+Mills&born=1899-04-09"),
])
def test_dates_before_1900_or_after_2100_are_refused_in_addresses(client, auth, role, url):
    auth.login_as(role)
    response = client.get(url)
    assert response.status_code == 400
    assert "must be between 1 January 1900 and 31 December 2100" in page_text(response)


# -- identifiers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value,message", [
    ("referrer.email", "dsl.rosewood.example.sch.uk",
     "Email address must be an email address in the correct format, like name@example.com"),
    ("referrer.phone", "01603 555 01922", "Phone number must be a UK phone number, like 01632 960 001, "
                                          "07700 900 982 or +44 808 157 0192"),
    ("family_members.0.phone", "+1 212 555 0100", "Phone number must be a UK phone number"),
    ("children.0.postcode", "NR3 2A", "Postcode must be a UK postcode, like NR3 2AB"),
    ("family_members.0.postcode", "12345", "Postcode must be a UK postcode, like NR3 2AB"),
    ("children.0.nhs_number", "943 476 5918", "NHS number is not a valid NHS number: its last digit does not "
                                              "match the others. Check it and enter it again"),
    ("children.0.nhs_number", "943 476 591", "NHS number must be 10 digits, like 943 476 5919"),
    ("children.0.upn", "A926100000110", "Unique pupil number (UPN) is not valid: its first letter does not "
                                        "match its numbers. Check it and enter it again"),
    ("children.0.upn", "H92610000011", "Unique pupil number (UPN) must be 13 characters: a letter, 11 numbers, "
                                       "then a number or a letter"),
])
def test_identifiers_that_are_not_one_are_refused_by_their_label(client, auth, db, counts, field, value, message):
    before = counts()
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data=fields(**{field: value}))
    page = page_text(response)
    assert response.status_code == 422
    assert error_on(page, field.replace(".", "-")).startswith(message)
    assert "YYYY-MM-DD" not in page
    assert counts() == before


def test_real_identifiers_are_taken(client, auth, db):
    auth.login_as("contact_officer")
    real = {"referrer.email": "dsl@rosewood.example.sch.uk", "referrer.phone": "01603 222333 ext 214",
            "family_members.0.phone": "+44 (0)7700 900982", "children.0.postcode": "nr3 2ab",
            "family_members.0.postcode": "SW1A 1AA", "children.0.nhs_number": "943 476 5919",
            "children.0.upn": "H926100000110"}
    response = client.post("/contacts/new", data=fields(**real))
    assert response.status_code == 302, page_text(response)[:3000]
    child = Contact.get().payload["children"][0]
    assert (child["nhs_number"], child["upn"], child["postcode"]) == ("943 476 5919", "H926100000110", "nr3 2ab")


# -- characters that cannot be stored ------------------------------------------------------------
def test_control_characters_in_the_contact_form_are_refused_on_their_field(client, auth, db, counts):
    before = counts()
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data=fields(concern="Bruise to her\x0b cheek",
                                                         **{"children.0.given_name": "Amy\x1b[2J"}))
    page = page_text(response)
    assert response.status_code == 422
    assert error_on(page, "concern") == ("The answer to “What are you worried about?” contains a hidden control "
                                         "character (U+000B) after “Bruise to her”, which cannot be stored: remove it")
    assert error_on(page, "children-0-given_name").startswith("First name contains a hidden control character (U+001B)")
    assert counts() == before
    tabbed = client.post("/contacts/new", data=fields(concern="Seen at:\r\n\tschool"))  # ordinary in a text area
    assert tabbed.status_code == 302


def test_other_forms_refuse_control_characters_naming_the_field(client, auth, web_app, web_clock, db):
    from .test_restriction_and_sar import allocated_case
    case = allocated_case(web_app, web_clock)
    auth.login_as("team_manager")
    before = (case.version, ChronologyEntry.select().count())
    response = client.post(f"/cases/{case.id}/strategy-discussion", data={"reason": "New disclosure\x07 at school"})
    assert response.status_code == 400
    assert ("Reason contains a hidden control character (U+0007) after “New disclosure”, which cannot be stored: "
            "remove it and send the form again.") in page_text(response)
    response = client.post(f"/cases/{case.id}/restriction",
                           data={"action": "restrict", "names": "sw.omar\x00", "reason": "Staff relative"})
    assert response.status_code == 400 and "People who may see it contains a NUL character" in page_text(response)
    assert (Case.get_by_id(case.id).version, ChronologyEntry.select().count()) == before
    auth.logout()
    response = client.post("/login", data={"username": "admin", "password": "secret\x01word"})
    assert response.status_code == 400 and "Password contains a hidden control character (U+0001)," in page_text(
        response) and "secret" not in page_text(response)  # a password is never shown back


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/x-anything"])
def test_the_api_refuses_such_characters_whatever_the_content_type(client, db, counts, token, content_type):
    before = counts()
    for value, words in (("Amy\u0007", "a hidden control character (U+0007)"), ("Amy\x00", "a NUL character"),
                         ("Amy\ud800", "an incomplete character (U+D800, half of a pair)")):
        response = api_contact(client, token, contact_json(db, given_name=value), content_type)
        assert response.status_code == 422, (content_type, value, response.data[:300])
        errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
        assert errors["children.0.given_name"].startswith(f"First name contains {words}")
    raw = json.dumps(contact_json(db)).replace('"Amy"', '"A\x07my"').encode()  # not even JSON: refused at the door
    response = api_contact(client, token, None, content_type, raw=raw)
    assert response.status_code == 400 and "hidden control character (U+0007)" in response.get_json()["detail"]
    assert counts() == before
    task_id = "0" * 36
    response = client.post(f"/api/tasks/{task_id}/claim", data='{"note": "x\\u0000"}', content_type=content_type,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and "NUL character" in response.get_json()["detail"]


def test_file_names_and_addresses_with_control_characters_are_refused(client, auth):
    auth.login_as("process_owner")
    boundary = "b-7MA4YWxkTrZu0gW"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="diagram"; filename="a\x07b.bpmn"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n<definitions/>\r\n--{boundary}--\r\n").encode()
    response = client.post("/diagrams/upload", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400 and "The name of the file given for ‘Diagram’ contains" in page_text(response)
    response = client.get("/?role=%07social_worker")
    assert response.status_code == 400 and "The address contains a hidden control character" in page_text(response)


# -- how many children ---------------------------------------------------------------------------
def test_a_contact_holds_at_most_100_children_on_the_page_and_through_the_api(client, auth, db, counts, token):
    before = counts()
    auth.login_as("contact_officer")
    many = [dict(AMY, given_name=f"Child{index}") for index in range(101)]
    response = client.post("/contacts/new", data=fields(children=many))
    page = page_text(response)
    assert response.status_code == 422
    message = "A contact can be about at most 100 children: record the others in a second contact"
    assert message in error_on(page, "children")
    full = client.post("/contacts/new", data=fields(children=many[:100], _add_row="children"))
    page = page_text(full)
    assert 'name="children.99.given_name"' in page and 'name="children.100.given_name"' not in page
    assert 'id="children-add"' not in page and message in page  # 'Add another child' gives way to the limit
    payload = contact_json(db)
    payload["children"] = [dict(payload["children"][0], given_name=f"Child{index}") for index in range(101)]
    response = api_contact(client, token, payload)
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": "children", "message": message}]
    assert counts() == before


# -- numbers too large for their column ----------------------------------------------------------
WEBUI = __import__("pathlib").Path(__file__).resolve().parents[2] / "webui"
QUERY_NAMES = sorted({m for path in WEBUI.glob("*.py") for m in re.findall(
    r"request\.args(?:\.get\(|\[)\s*[\"'](\w+)[\"']", path.read_text())} | {"page", "case", "person", "team"})


@pytest.fixture
def everyone(web_app, db):
    """Signed in as someone holding every role, so every route's view is reached."""
    from engine import KNOWN_ROLES
    from store.models import User
    from store.users import add_user
    add_user("all.roles", "All Roles", sorted(KNOWN_ROLES), db.clock.now(), team="Norwich locality")
    User.update(password_hash=User.get(User.username == "admin").password_hash).where(
        User.username == "all.roles").execute()
    return "all.roles"


def test_numbers_too_large_in_any_address_are_a_clear_answer_never_a_500(client, auth, web_app, everyone):
    assert {"page", "team", "months", "person", "year"} <= set(QUERY_NAMES)
    assert auth.login(everyone).status_code == 302
    record_contact(web_app)
    probes = 0
    for rule in web_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "vendor", "govuk_assets"):
            continue
        ints = [name for name, conv in rule._converters.items() if conv.__class__.__name__ == "BoundedInteger"]
        values = {name: (1 if name in ints else "x") for name in rule.arguments}
        for huge in (2**63, 10**30):
            if ints:  # a number in the path: not found
                url = rule.build({**values, ints[0]: 1}, append_unknown=False)[1].replace("/1", f"/{huge}", 1)
                response = client.get(url)
                assert response.status_code == 404, (url, response.status_code)
            base = rule.build(values, append_unknown=False)[1]
            for name in QUERY_NAMES:
                response = client.get(f"{base}?{name}={huge}")
                probes += 1
                assert response.status_code == 400, (base, name, response.status_code)
                assert "is too large" in page_text(response)
    assert probes > 200


def test_a_too_large_case_number_posted_with_a_form_is_not_found(client, auth, everyone):
    assert auth.login(everyone).status_code == 302
    for huge in (2**63, 10**30):  # the task page says what became of a task, reading the case it was posted with
        response = client.post("/tasks/" + "0" * 36, data={"_case": str(huge), "_element": "cads_decision"})
        assert response.status_code == 404, response.status_code


# -- what is already stored ----------------------------------------------------------------------
def test_a_stored_lone_surrogate_no_longer_breaks_the_subject_access_pages(client, auth, web_app, db):
    """A pack holding a lone surrogate (stored through the API before it was refused) failed with a 500;
    schema migration 6 repairs the stored text."""
    from store.migrations import SchemaVersion, migrate
    [case] = record_contact(web_app)
    child = Person.get_by_id(case.child_id)
    Person.update(details=dict(child.details, first_language="Pol\ud83dish")).where(Person.id == child.id).execute()
    auth.login_as("information_governance")
    web_app.config["PROPAGATE_EXCEPTIONS"] = False  # as served: the failure is a 500 page, not a test error
    assert client.get(f"/sar/{child.id}").status_code == 500
    SchemaVersion.delete().where(SchemaVersion.version >= 6).execute()
    SchemaVersion.insert(version=5, description="as before", applied_at=None).on_conflict_ignore().execute()
    migrate(db.clock.now())
    page, download = client.get(f"/sar/{child.id}"), client.get(f"/sar/{child.id}/download")
    assert page.status_code == 200 and download.status_code == 200
    assert json.loads(download.data)["subject"]["details"]["first_language"] == "Pol\ufffdish"


# -- long text shows its limit as it is typed ----------------------------------------------------
def test_long_text_fields_use_the_govuk_character_count(client, auth):
    auth.login_as("contact_officer")
    page = page_text(client.get("/contacts/new"))
    concern = page[page.index('data-field="concern"') - 200:page.index('id="concern-info"') + 200]
    assert 'class="govuk-form-group govuk-character-count" data-field="concern" data-module="govuk-character-count" ' \
           'data-maxlength="10000"' in concern
    assert '<textarea class="govuk-textarea govuk-js-character-count" id="concern" name="concern" rows="5" ' \
           'aria-describedby="concern-info concern-hint"' in concern
    assert '<div id="concern-info" class="govuk-hint govuk-character-count__message">You can enter up to 10,000 ' \
           'characters</div>' in concern
    assert page.count("govuk-character-count__message") == page.count('class="govuk-textarea') == 5  # every text area
    assert '<script type="module" src="/static/govuk-init.js"></script>' in page  # GOV.UK Frontend's initAll
    assert 'data-maxlength="200"' not in page  # a one-line field keeps its plain input
