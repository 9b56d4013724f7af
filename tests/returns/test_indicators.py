"""Each timeliness indicator against a figure worked out by hand, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timezone
from itertools import count

import pytest

from store.models import Case, Conference, Contact, Person, Team, User
from store.returns.indicators import INDICATORS, cases_behind, figures, month_bounds

MAY = month_bounds("2026-05")
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
_serial = count(1)


@pytest.fixture
def make_case(app, users):
    """A case row with the given statutory columns (as the engine would have left them)."""
    version = app.service.current_diagrams().version
    teams = {name: Team.get_or_create(name=name)[0] for name in ("North", "South")}
    workers = {name: User.create(username=f"sw.{name.lower()}", full_name=f"{name} worker", team=team,
                                 created_at=NOW) for name, team in teams.items()}

    def make(team: str = "North", child: Person | None = None, **columns) -> Case:
        n = next(_serial)
        child = child or Person.create(kind="child", family_name=f"Child{n}", created_at=NOW)
        contact = Contact.create(received_on=columns.get("referral_date", date(2026, 5, 1)), recorded_at=NOW,
                                 recorded_by="contact.officer", channel="professional_line", payload={})
        values = dict(child=child, contact=contact, sibling_group=f"g{n}", stage="Test", diagram_version=version,
                      created_at=NOW, updated_at=NOW, referral_date=date(2026, 5, 1),
                      allocated_worker=workers[team], team=teams[team], cads_decision="assessment")
        values.update(columns)
        return Case.create(**values)
    make.teams = teams
    return make


def cell(key: str, month: str = "2026-05", team: str | None = None, teams=None):
    """(total, met) of one month, over all teams or one team."""
    rows = [f for f in figures(key, date(2026, 1, 1), date(2026, 12, 31)) if f.month == month]
    if team is not None:
        rows = [f for f in rows if f.team_id == teams[team].id]
    return sum(f.total for f in rows), sum(f.met for f in rows)


def test_decisions_within_one_working_day(make_case):
    """Four decisions in May: on the due day, a day early, the referral day and one a day late: 3 of 4."""
    make_case(cads_decision_on=date(2026, 5, 5), cads_decision_due=date(2026, 5, 5))
    make_case(cads_decision_on=date(2026, 5, 11), cads_decision_due=date(2026, 5, 12))
    make_case(cads_decision_on=date(2026, 5, 14), cads_decision_due=date(2026, 5, 15), team="South")
    late = make_case(cads_decision_on=date(2026, 5, 27), cads_decision_due=date(2026, 5, 26), team="South")
    make_case(cads_decision_on=date(2026, 6, 2), cads_decision_due=date(2026, 6, 3))  # June, not May
    assert cell("decisions") == (4, 3)
    assert cell("decisions", team="South", teams=make_case.teams) == (2, 1)
    assert cell("decisions", "2026-06") == (1, 1)
    assert cases_behind("decisions", *MAY, met=False) == [late.id]


def test_assessments_within_45_working_days(make_case, calendar):
    """Referral Wednesday 1 April 2026: 45 working days skip Good Friday, Easter Monday and the May
    bank holidays, so the assessment is due Tuesday 9 June. Authorised 9 June: on time; 10 June: late."""
    due = date(2026, 6, 9)
    assert calendar.add_working_days(date(2026, 4, 1), 45) == due
    make_case(referral_date=date(2026, 4, 1), assessment_authorised_on=date(2026, 6, 9), assessment_due=due)
    late = make_case(referral_date=date(2026, 4, 1), assessment_authorised_on=date(2026, 6, 10), assessment_due=due)
    make_case(referral_date=date(2026, 4, 1), assessment_started_on=date(2026, 4, 2), assessment_due=due)  # not done
    assert cell("assessments", "2026-06") == (2, 1)
    assert cases_behind("assessments", *month_bounds("2026-06"), met=False) == [late.id]


def test_icpcs_within_15_working_days_of_the_initiating_strategy_discussion(make_case, calendar):
    """Initiating strategy discussion Friday 1 May 2026: due Tuesday 26 May (4 and 25 May are bank
    holidays). Held 22 May and 26 May: on time; 27 May: late. 2 of 3."""
    due = date(2026, 5, 26)
    assert calendar.add_working_days(date(2026, 5, 1), 15) == due
    for held in (date(2026, 5, 22), date(2026, 5, 26), date(2026, 5, 27)):
        make_case(initiating_strategy_discussion_on=date(2026, 5, 1), icpc_held_on=held, icpc_due=due)
    assert cell("icpcs") == (3, 2)


def test_reviews_on_time(make_case):
    """Three reviews held in May against their due dates: on, before and after: 2 of 3. A review
    still only scheduled is not counted."""
    case = make_case(cp_plan_started_on=date(2026, 2, 2))
    for held, due in ((date(2026, 5, 4), date(2026, 5, 4)), (date(2026, 5, 12), date(2026, 5, 20)),
                      (date(2026, 5, 29), date(2026, 5, 28))):
        Conference.create(case=case, kind="review", status="held", held_on=held, due=due, scheduled_for=held)
    Conference.create(case=case, kind="review", status="scheduled", scheduled_for=date(2026, 5, 30),
                      due=date(2026, 5, 30))
    Conference.create(case=case, kind="icpc", status="held", held_on=date(2026, 5, 6), due=date(2026, 5, 1))
    assert cell("reviews") == (3, 2)


def test_re_referrals_within_12_months(make_case):
    """Four referrals in May, one a re-referral: 1 of 4. Advice at the front door is not a referral."""
    for flag in (True, False, False, False):
        make_case(re_referral=flag)
    make_case(re_referral=True, cads_decision="advice")
    make_case(re_referral=True, cads_decision=None, last_strategy_discussion_on=date(2026, 5, 2),
              referral_date=date(2026, 6, 1))  # immediate danger in June
    assert cell("re_referrals") == (4, 1)
    assert cell("re_referrals", "2026-06") == (1, 1)


def test_plans_lasting_two_years_or_more(make_case):
    """Plans ended in May: 10 May 2024 to 10 May 2026 (exactly 2 years: counts), 12 May 2024 to
    11 May 2026 (a day short) and 1 January 2026 to 20 May 2026: 1 of 3."""
    make_case(cp_plan_started_on=date(2024, 5, 10), cp_plan_ended_on=date(2026, 5, 10))
    make_case(cp_plan_started_on=date(2024, 5, 12), cp_plan_ended_on=date(2026, 5, 11))
    make_case(cp_plan_started_on=date(2026, 1, 1), cp_plan_ended_on=date(2026, 5, 20))
    make_case(cp_plan_started_on=date(2023, 1, 1))  # still open: not an ended plan
    assert cell("long_plans") == (3, 1)


def test_second_or_later_plans(make_case):
    """Plans started in May: one child's second plan, another child's first: 1 of 2."""
    repeat = Person.create(kind="child", family_name="Repeat", created_at=NOW)
    make_case(child=repeat, referral_date=date(2025, 1, 6), cp_plan_started_on=date(2025, 2, 3),
              cp_plan_ended_on=date(2025, 9, 1))
    second = make_case(child=repeat, cp_plan_started_on=date(2026, 5, 18))
    make_case(cp_plan_started_on=date(2026, 5, 19))
    assert cell("second_plans") == (2, 1)
    assert cases_behind("second_plans", *MAY, met=True) == [second.id]


def test_every_indicator_is_tested():
    tested = {"decisions", "assessments", "icpcs", "reviews", "re_referrals", "long_plans", "second_plans"}
    assert set(INDICATORS) == tested


@pytest.mark.parametrize("text", ["2026-13", "May", "2026"])
def test_month_bounds_refuses_what_is_not_a_month(text):
    with pytest.raises(ValueError):
        month_bounds(text)
