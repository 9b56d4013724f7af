"""Recording a contact through the web form: sibling groups, field errors, known children."""
from __future__ import annotations

import re

import pytest

from store.casepage import possible_matches, team_cases, team_tasks
from store.demo import SCENARIOS, contact_payload
from store.models import Case, Contact, Person

AMY = {"given_name": "Amy", "family_name": "Mills", "date_of_birth": "2018-04-09", "gender": "female",
       "unborn": "no", "ethnicity": "WBRI", "current_location": "At school"}
BEN = {"given_name": "Ben", "family_name": "Mills", "date_of_birth": "2020-07-21", "gender": "male",
       "unborn": "no", "ethnicity": "WBRI", "current_location": "At nursery"}


def fields(children=(AMY,), family=({"name": "Dawn Mills", "relationship": "mother", "lives_with_child": "yes"},),
           **overrides) -> dict[str, object]:
    """A complete contact as the browser posts it (dates as day, month and year)."""
    data: dict[str, object] = {
        "received_on": "2026-12-14", "received_time": "10:42", "channel": "professional_line",
        "professional_line_option": "0", "referrer.type": "professional", "referrer.anonymous": "no",
        "referrer.name": "Tom Reid", "referrer.agency": "Rosewood Primary School", "referral_source": "2A",
        "concern": "Amy has a bruise to her cheek.", "concern_types": ["physical_abuse", "domestic_abuse"],
        "immediate_danger": "no", "consent": "not_sought_risk_of_harm",
        "consent_reason": "Asking could put Amy at risk.", "support_so_far": "School nurse involved.",
        "_rows:children": str(len(children)), "_rows:family_members": str(max(len(family), 1)),
    }
    for index, child in enumerate(children):
        data.update({f"children.{index}.{k}": v for k, v in child.items()})
    for index, member in enumerate(family):
        data.update({f"family_members.{index}.{k}": v for k, v in member.items()})
    data.update(overrides)
    return split_dates(data)


def split_dates(data: dict[str, object]) -> dict[str, object]:
    """Dates go as the GOV.UK date input's three fields."""
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            year, month, day = value.split("-")
            out.update({f"{key}-day": str(int(day)), f"{key}-month": str(int(month)), f"{key}-year": year})
        else:
            out[key] = value
    return out


def test_the_form_is_for_front_door_roles_only(client, auth):
    assert client.get("/contacts/new").status_code == 302
    auth.login_as("social_worker")
    assert client.get("/contacts/new").status_code == 403
    assert client.post("/contacts/new", data=fields()).status_code == 403
    auth.logout()
    auth.login_as("contact_officer")
    page = client.get("/contacts/new").get_data(as_text=True)
    for label in ("How was the contact received?", "Professional line menu option", "Who is making the contact",
                  "Does the referrer want to stay anonymous?", "Children", "Date of birth", "Ethnicity",
                  "Family and important adults", "Where is the child now?", "What are you worried about?",
                  "Is any child in immediate danger?", "Consent to the contact", "Support given so far",
                  "Time received", 'name="received_on-day" type="text" inputmode="numeric" value="14"',
                  'name="children.0.given_name"', 'name="family_members.0.name"', "Add another child",
                  "Add another family member", 'name="referrer.anonymous" type="radio" value="yes"'):
        assert label in page, label
    assert 'name="children.1.given_name"' not in page and 'name="family_members.1.name"' not in page  # one row each


def test_a_sibling_group_of_two_creates_two_linked_cases(client, auth, db):
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data=fields(children=(AMY, BEN)))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    cases = list(Case.select().order_by(Case.id))
    assert len(cases) == 2 and len({c.sibling_group for c in cases}) == 1
    assert response.headers["Location"].endswith(f"/cases/{cases[0].id}")
    assert [c.child.given_name for c in cases] == ["Amy", "Ben"]
    contact = Contact.get()
    assert contact.payload["referrer"] == {"type": "professional", "anonymous": False, "name": "Tom Reid",
                                           "agency": "Rosewood Primary School"}
    assert contact.payload["concern_types"] == ["physical_abuse", "domestic_abuse"]
    assert contact.payload["family_members"][0]["lives_with_child"] is True
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Contact recorded" in page and cases[0].reference in page and cases[1].reference in page


def test_add_another_child_re_renders_with_one_more_row(client, auth, db):
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data=fields(_add_row="children"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and Case.select().count() == 0
    assert 'name="children.1.given_name"' in page and 'name="children.2.given_name"' not in page
    assert 'value="Amy"' in page  # what was typed is kept
    assert 'name="_rows:children" value="2"' in page
    page = client.post("/contacts/new", data=fields(_add_row="family_members")).get_data(as_text=True)
    assert 'name="family_members.1.name"' in page


def test_blank_extra_rows_are_ignored(client, auth, db):
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data=fields(**{"_rows:children": "3", "_rows:family_members": "2"}))
    assert response.status_code == 302 and Case.select().count() == 1


@pytest.mark.parametrize("change,field,message", [
    ({"children.0.family_name": ""}, "children-0-family_name", "Enter the last name"),
    ({"consent": ""}, "consent", "Choose the consent to the contact"),
    ({"referrer.agency": ""}, "referrer-agency", "Enter the agency or organisation"),
    ({"received_on-day": "31", "received_on-month": "2"}, "received_on", "must be a real date"),
    ({"children.0.date_of_birth-month": "13"}, "children-0-date_of_birth", "must be a real date"),
    ({"received_time": "25:00"}, "received_time", "not in the expected format"),
    ({"children.0.gender": "robot"}, "children-0-gender", "choose one of"),
])
def test_invalid_contact_shows_field_errors_and_creates_nothing(client, auth, db, change, field, message):
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data={**fields(), **change})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    anchor = f"{field}-day" if field.endswith(("received_on", "date_of_birth")) else field  # a date: its first box
    assert "There is a problem" in page and f'href="#{anchor}"' in page  # the error summary links to the field
    assert f'id="{field}-error"' in page and message in page  # and the field shows its error
    assert Case.select().count() == 0 and Contact.select().count() == 0


def test_several_errors_each_on_its_field_and_nothing_saved(client, auth, db):
    auth.login_as("contact_officer")
    data = fields(**{"concern": "", "immediate_danger": "", "children.0.given_name": ""})
    response = client.post("/contacts/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("children-0-given_name", "immediate_danger", "concern"):
        assert f'id="{field}-error"' in page, field
    summary = page[page.index("govuk-error-summary__list"):page.index("</ul>", page.index("govuk-error-summary__list"))]
    assert summary.index("#children-0-given_name") < summary.index("#concern") < summary.index("#immediate_danger")
    assert "Answer the question: Is any child in immediate danger?" in page
    assert "Asking could put Amy at risk." in page  # what was typed is kept
    assert Case.select().count() == 0


def test_no_children_at_all_is_an_error(client, auth, db):
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data=fields(children=({},)))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'href="#children"' in page and "Add at least one child" in page


def test_a_contact_received_in_the_future_is_refused_on_its_field(client, auth, db):
    auth.login_as("contact_officer")
    response = client.post("/contacts/new", data=fields(received_on="2026-12-20"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="received_on-error"' in page and "future" in page
    assert Case.select().count() == 0


def test_a_possible_existing_child_is_offered_and_linking_makes_a_re_referral(client, auth, db):
    auth.login_as("contact_officer")
    assert client.post("/contacts/new", data=fields()).status_code == 302
    [first] = Case.select()
    amie = dict(AMY, given_name="Amie")  # spelt differently this time: not matched automatically
    response = client.post("/contacts/new", data=fields(children=(amie,)))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and Case.select().count() == 1  # nothing saved yet
    assert "Check for existing records" in page and first.reference in page
    assert f'name="children.0.existing" type="radio" value="{first.child_id}"' in page
    chosen = {"children.0.existing": str(first.child_id)}
    response = client.post("/contacts/new", data=fields(children=(amie,), **chosen))
    assert response.status_code == 302
    second = Case.select().order_by(Case.id.desc()).first()
    assert second.id != first.id and second.child_id == first.child_id
    assert second.re_referral and second.previous_case_id == first.id
    assert "re-referral" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_different_child_gets_a_new_record(client, auth, db):
    auth.login_as("contact_officer")
    client.post("/contacts/new", data=fields())
    amie = dict(AMY, given_name="Amie")
    response = client.post("/contacts/new", data=fields(children=(amie,), **{"children.0.existing": "new"}))
    assert response.status_code == 302
    assert Person.select().where(Person.kind == "child").count() == 2
    assert not Case.select().order_by(Case.id.desc()).first().re_referral


def test_a_different_child_with_the_same_name_and_birth_date_is_not_merged(client, auth, db):
    auth.login_as("contact_officer")
    client.post("/contacts/new", data=fields())
    response = client.post("/contacts/new", data=fields(**{"children.0.existing": "new"}))
    assert response.status_code == 302
    assert Person.select().where(Person.kind == "child").count() == 2
    assert not Case.select().order_by(Case.id.desc()).first().re_referral


def test_a_forged_existing_record_is_not_linked(client, auth, db):
    auth.login_as("contact_officer")
    client.post("/contacts/new", data=fields())
    amie = dict(AMY, given_name="Amie")
    response = client.post("/contacts/new", data=fields(children=(amie,), **{"children.0.existing": "9999"}))
    assert response.status_code == 200 and "Check for existing records" in response.get_data(as_text=True)
    assert Case.select().count() == 1


def test_possible_matches_and_team_queries_on_both_databases(app, users):
    """The duplicate check and the team queries in store/casepage.py, on SQLite and PostgreSQL."""
    payload = contact_payload(SCENARIOS[0], app.clock.now().date())
    [case] = app.service.record_contact(payload, users["contact_officer"])
    amy = payload["children"][0]
    assert [m["person"].id for m in possible_matches(dict(amy, given_name="Amie"))] == [case.child_id]
    assert [m["person"].id for m in possible_matches(dict(amy, family_name="MILLS"))] == [case.child_id]
    assert possible_matches(dict(amy, given_name="Zed", family_name="Quinn")) == []
    assert possible_matches(dict(amy, date_of_birth="2001-01-01", given_name="Zed")) == []
    [match] = possible_matches(dict(amy, given_name="Amie"))
    assert match["latest_case"].id == case.id and match["cases"] == 1
    today, calendar = app.clock.now().date(), app.service.engine.calendar
    assert [r["task"].bpmn_id for r in team_tasks(["cads_social_worker"], today, calendar)] == ["cads_decision"]
    assert team_tasks(["social_worker"], today, calendar) == []
    assert [r["case"].id for r in team_cases(["cads_social_worker"], today, calendar, False)] == [case.id]
    assert team_cases(["social_worker"], today, calendar, True) == []
