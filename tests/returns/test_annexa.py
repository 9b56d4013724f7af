"""Ofsted's Annex A lists from real cases: the right children on the right lists, with their values."""
from __future__ import annotations

from datetime import date

from store.demo import drive_case
from store.returns.annexa import CHILD_COLUMNS, annex_a_lists
from store.returns.demoyear import census_child

from .test_cin import refer, scenario, step

REFERENCE = date(2027, 3, 31)


def rows_of(lists, name):
    columns, rows = lists[name]
    return [dict(zip(columns, row)) for row in rows]


def test_lists_from_a_referral_an_early_help_contact_and_a_plan(app, users):
    nfa = refer(app, users, date(2026, 10, 5), census_child(1, REFERENCE), "nfa")
    step(app, users, nfa.id, "cads_decision", date(2026, 10, 5), {"decision": "nfa"})
    helped = refer(app, users, date(2026, 10, 12), census_child(2, REFERENCE), "early_help")
    drive_case(app.service, app.clock, helped.id, scenario("early_help"), users)
    planned = refer(app, users, date(2026, 11, 2), census_child(3, REFERENCE), "cp_plan_two_reviews")
    planned = drive_case(app.service, app.clock, planned.id, scenario("cp_plan_two_reviews", stop_before="review_conference"),
                         users)
    lists = annex_a_lists(date(2026, 10, 1), date(2027, 3, 31))
    assert list(lists) == ["List 1 Contacts", "List 2 Early help", "List 3 Referrals", "List 4 Assessments",
                           "List 5 Section 47 and ICPC", "List 6 Children in need", "List 7 Child protection"]
    assert all(columns[:6] == CHILD_COLUMNS for columns, _rows in lists.values())
    contacts = rows_of(lists, "List 1 Contacts")
    assert [r["Child unique ID"] for r in contacts] == [f"CH{c.child_id}" for c in (nfa, helped, planned)]
    assert contacts[0]["Date of contact"] == date(2026, 10, 5) and contacts[0]["Contact source"] == "2A"
    assert [r["Child unique ID"] for r in rows_of(lists, "List 2 Early help")] == [f"CH{helped.child_id}"]
    referrals = {r["Child unique ID"]: r for r in rows_of(lists, "List 3 Referrals")}
    assert set(referrals) == {f"CH{nfa.child_id}", f"CH{planned.child_id}"}  # early help is not a referral
    assert referrals[f"CH{nfa.child_id}"]["Referral resulting in no further action"] == "Yes"
    [s47] = rows_of(lists, "List 5 Section 47 and ICPC")
    assert s47["Date of initial child protection conference"] == planned.icpc_held_on
    assert s47["Did the ICPC result in a child protection plan"] == "Yes"
    assert s47["Allocated team"] == "Norwich locality" and s47["Allocated worker"] == "Priya Shah"
    [plan] = rows_of(lists, "List 7 Child protection")
    assert plan["Child protection plan start date"] == planned.cp_plan_started_on
    assert (plan["Initial category of abuse"], plan["Latest category of abuse"]) == ("Multiple", "Multiple")
    assert plan["Child protection plan end date"] is None and plan["Number of previous child protection plans"] == 0
    in_need = {r["Child unique ID"]: r for r in rows_of(lists, "List 6 Children in need")}
    assert set(in_need) == {f"CH{planned.child_id}"} and in_need[f"CH{planned.child_id}"]["Case status"] == \
        "Child protection plan"
    # born 4 September 2025 (573 days before 31 March 2027): 1 year old at the end of the period
    assert contacts[0]["Date of birth"] == date(2025, 9, 4) and contacts[0]["Age of child (years)"] == 1
