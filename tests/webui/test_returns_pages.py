"""The managers' pages: timeliness dashboard with drill-down, and the returns downloads."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone

import pytest
from openpyxl import load_workbook

from store.audit import AuditEntry
from store.returns.demoyear import run_demo_year
from store.returns.indicators import figures, month_bounds


@pytest.fixture
def demo_year(web_app, db, web_clock):
    lines = list(run_demo_year(db.service, 2026))
    web_clock.set(datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc))
    return lines


def test_dashboard_shows_each_indicator_as_a_chart_with_figures_from_the_database(client, auth, demo_year):
    auth.login_as("team_manager")
    page = client.get("/dashboards/timeliness").get_data(as_text=True)
    for key in ("decisions", "assessments", "icpcs", "reviews", "re_referrals", "long_plans", "second_plans"):
        assert f'id="indicator-{key}"' in page
    assert page.count("<svg") == 14 and page.count('data-chart="teams"') == 7  # by month and by team
    assert 'data-team="Great Yarmouth locality"' in page and 'data-team="Norwich locality"' in page
    assert "<script" not in page.split("<main")[-1].split("</main>")[0]
    expected = figures("decisions", date(2025, 6, 1), date(2026, 5, 31))
    section = page.split('id="indicator-decisions"')[1].split("</section>")[0]
    assert re.search(r'data-figure="total">(\d+)<', section).group(1) == str(sum(f.total for f in expected))
    assert re.search(r'data-figure="met">(\d+)<', section).group(1) == str(sum(f.met for f in expected))
    assert 'data-month="2025-10"' in section and "/dashboards/timeliness/decisions?month=2025-10" in section


def test_a_bar_opens_the_cases_behind_it(client, auth, demo_year):
    auth.login_as("team_manager")
    total = sum(f.total for f in figures("decisions", *month_bounds("2025-10")))
    page = client.get("/dashboards/timeliness/decisions?month=2025-10").get_data(as_text=True)
    references = re.findall(r'data-case="(C\d{6})"', page)
    hidden = int(re.search(r"(\d+) more case", page).group(1)) if "more case" in page else 0
    assert len(references) + hidden == total > 0
    case_page = client.get(f"/cases/{int(references[0][1:])}")
    assert case_page.status_code == 200  # through the case page's own access check


def test_team_filter_and_not_met(client, auth, demo_year):
    auth.login_as("cads_manager")
    page = client.get("/dashboards/timeliness?team=none&months=24")
    assert page.status_code == 200
    listing = client.get("/dashboards/timeliness/icpcs?from=2025-04-01&to=2026-03-31&met=0")
    assert listing.status_code == 200 and "not held within 15 working days" in listing.get_data(as_text=True)


@pytest.mark.parametrize("url, status", [
    ("/dashboards/timeliness?months=abc", 400),
    ("/dashboards/timeliness?team=north", 400),
    ("/dashboards/timeliness/nonsense?month=2026-01", 404),
    ("/dashboards/timeliness/decisions?month=2026-13", 400),
    ("/dashboards/timeliness/decisions", 400),
    ("/returns/cin.xml?year=abc", 400),
    ("/returns/annex-a.xlsx?from=2026-05-01&to=2026-01-01", 400),
    ("/returns/annex-a.xlsx?from=x&to=2026-01-01", 400),
])
def test_bad_parameters_get_a_clear_error(client, auth, url, status):
    auth.login_as("team_manager")
    response = client.get(url)
    assert response.status_code == status and "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/dashboards/timeliness", "/dashboards/timeliness/decisions?month=2026-01",
                                 "/returns", "/returns/cin.xml?year=2026",
                                 "/returns/annex-a.xlsx?from=2026-01-01&to=2026-03-31"])
@pytest.mark.parametrize("role", ["social_worker", "contact_officer", "mash_police", "conference_chair"])
def test_only_managers(client, auth, url, role):
    auth.login_as(role)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", ["/dashboards/timeliness", "/returns", "/returns/cin.xml?year=2026"])
def test_visitors_are_sent_to_sign_in(client, url):
    assert client.get(url).status_code == 302


def test_census_download_is_audited(client, auth, demo_year, db):
    user = auth.login_as("team_manager")
    response = client.get("/returns/cin.xml?year=2026")
    assert response.status_code == 200 and "cin_census_2026.xml" in response.headers["Content-Disposition"]
    root = ET.fromstring(response.data)
    assert root.findtext("Header/CollectionDetails/ReferenceDate") == "2026-03-31" and len(root.findall(".//Child")) > 20
    entry = AuditEntry.select().where(AuditEntry.action == "export").order_by(AuditEntry.id.desc()).first()
    assert entry.actor == user and entry.record_id == "cin-2026"
    assert "Children in Need census" in client.get("/returns").get_data(as_text=True)


def test_annex_a_workbook_has_the_seven_lists(client, auth, demo_year):
    auth.login_as("cads_manager")
    response = client.get("/returns/annex-a.xlsx?from=2025-10-01&to=2026-03-31")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["List 1 Contacts", "List 2 Early help", "List 3 Referrals", "List 4 Assessments",
                               "List 5 Section 47 and ICPC", "List 6 Children in need", "List 7 Child protection"]
    for sheet in book.worksheets:
        header = [c.value for c in sheet[1]]
        assert header[:6] == ["Child unique ID", "Gender", "Ethnicity", "Date of birth", "Age of child (years)",
                              "Does the child have a disability"]
        assert sheet.max_row > 1, sheet.title


def test_managers_find_the_pages_in_the_menu(client, auth):
    auth.login_as("team_manager")
    menu = client.get("/").get_data(as_text=True)
    assert 'href="/dashboards/timeliness"' in menu and 'href="/returns"' in menu
    auth.logout()
    auth.login_as("social_worker")
    assert 'href="/dashboards/timeliness"' not in client.get("/").get_data(as_text=True)


def test_drill_down_lists_only_cases_the_manager_may_see(client, auth, demo_year, db):
    """Figures count every team; the list behind one shows a Norwich manager only Norwich cases and
    says how many others there are."""
    from store.models import Case, Team
    yarmouth = Team.get(Team.name == "Great Yarmouth locality")
    theirs = {f"C{c.id:06d}" for c in Case.select().where(Case.team == yarmouth)}
    assert theirs
    auth.login_as("team_manager")
    page = client.get("/dashboards/timeliness/decisions?from=2025-04-01&to=2026-03-31").get_data(as_text=True)
    shown = set(re.findall(r'data-case="(C\d{6})"', page))
    assert shown and not shown & theirs
    assert int(re.search(r"(\d+) more case", page).group(1)) >= len(theirs & {
        f"C{c.id:06d}" for c in Case.select().where(Case.cads_decision_on.between(date(2025, 4, 1), date(2026, 3, 31)))})
