"""Independent chairs' pages: conference list, week/month calendar, requests to schedule, a conference."""
from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta

import pytest

from engine import ValidationFailed
from store.demo import SCENARIOS, build_form, contact_payload, drive_case
from store.models import Conference, Task
from store.users import add_user

BANK_HOLIDAYS = {date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)}
PAGES = ["/conferences/", "/conferences/calendar", "/conferences/calendar?view=week", "/conferences/requests"]


def waiting_case(web_app, stop_before="schedule_icpc", child_index=0):
    """A child protection case driven (as the demo users) up to ``stop_before``."""
    context = web_app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    scenario = dataclasses.replace(next(s for s in SCENARIOS if s.name == "cp_plan_two_reviews"), stop_before=stop_before)
    users = web_app.config["USERS_BY_ROLE"]
    [case] = context.service.record_contact(contact_payload(scenario, context.clock.now().date(), child_index),
                                            users["contact_officer"])
    return drive_case(context.service, context.clock, case.id, scenario, users)


def book(web_app, case, day, username=None, time="10:00", **extra):
    """Complete the case's schedule_icpc task through the service (the store call the task page makes)."""
    context = web_app.extensions["safeguarding"]
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "schedule_icpc"))
    form = build_form(task.form_name, {}, context.clock.now().date(), context.service.engine.calendar)
    form.update(scheduled_for=day.isoformat(), time=time, **extra)
    context.service.complete_task(task.id, username or web_app.config["USERS_BY_ROLE"]["conference_chair"], form,
                                  token=task.token)
    return Conference.get(Conference.case == case.id)


def cell(page: str, day: date) -> str:
    """The calendar cell (or week row) of ``day``."""
    found = re.search(rf'id="day-{day.isoformat()}"(.*?)</(td|tr)>', page, re.S)
    assert found, f"no calendar cell for {day}"
    return found.group(1)


@pytest.mark.parametrize("url", PAGES + ["/conferences/1"])
def test_pages_need_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["social_worker", "team_manager", "contact_officer", "mash_police", "admin"])
def test_other_roles_are_refused(client, auth, web_app, db, role):
    case = waiting_case(web_app)
    conference = book(web_app, case, case.icpc_due)
    auth.login_as(role)
    for url in PAGES + [f"/conferences/{conference.id}"]:
        assert client.get(url).status_code == 403, url


def test_a_chair_sees_only_their_own_conferences_and_business_support_sees_all(client, auth, web_app, db):
    add_user("chair.two", "Rob Chair", ["conference_chair"], web_app.extensions["safeguarding"].clock.now())
    mine_case, theirs_case = waiting_case(web_app, child_index=1), waiting_case(web_app, child_index=2)
    mine = book(web_app, mine_case, mine_case.icpc_due, venue="County Hall, Norwich")
    theirs = book(web_app, theirs_case, theirs_case.icpc_due, username="chair.two")
    auth.login_as("conference_chair")
    page = client.get("/conferences/").get_data(as_text=True)
    assert mine_case.reference in page and mine_case.child.display_name in page and "County Hall, Norwich" in page
    assert theirs_case.reference not in page and "ICPC" in page
    assert mine.due.strftime("%-d %b %Y") in page and "10:00 to 11:30" in page
    assert client.get(f"/conferences/{mine.id}").status_code == 200
    assert client.get(f"/conferences/{theirs.id}").status_code == 403
    assert client.get("/conferences/99999").status_code == 404
    auth.logout()
    auth.login_as("business_support")
    page = client.get("/conferences/").get_data(as_text=True)
    assert mine_case.reference in page and theirs_case.reference in page and "Rob Chair" in page
    assert client.get(f"/conferences/{theirs.id}").status_code == 200


def test_the_list_links_to_the_case_and_splits_upcoming_from_past(client, auth, web_app, db):
    held_case = waiting_case(web_app, stop_before="schedule_review", child_index=3)
    booked_case = waiting_case(web_app, child_index=4)
    book(web_app, booked_case, booked_case.icpc_due)
    auth.login_as("conference_chair")
    page = client.get("/conferences/").get_data(as_text=True)
    upcoming, past = page.split('id="past"')
    assert booked_case.reference in upcoming and held_case.reference in past and "Held" in past
    assert f'href="/cases/{booked_case.id}"' in page
    clock = web_app.extensions["safeguarding"].clock
    clock.set(clock.now() + timedelta(days=60))  # the booked day has gone by without a record
    page = client.get("/conferences/").get_data(as_text=True)
    assert 'id="no-upcoming"' in page and "Not recorded yet" in page.split('id="past"')[1]


def test_out_of_timescale_is_tagged_and_its_reason_shown(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=5)
    late = web_app.extensions["safeguarding"].service.engine.calendar.add_working_days(case.icpc_due, 3)
    with pytest.raises(ValidationFailed) as refused:
        book(web_app, case, late)
    assert refused.value.errors[0].field == "reason_outside_timescale"
    conference = book(web_app, case, late, reason_outside_timescale="Interpreter not available until then")
    assert conference.outside_timescale
    auth.login_as("conference_chair")
    page = client.get("/conferences/").get_data(as_text=True)
    assert "Out of timescale" in page
    detail = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    assert "Out of timescale" in detail and "Interpreter not available until then" in detail


@pytest.mark.parametrize("view", ["week", "month"])
def test_calendar_shows_a_booked_conference_on_its_day(client, auth, web_app, db, view):
    case = waiting_case(web_app, child_index=6)
    conference = book(web_app, case, case.icpc_due, time="14:00")
    auth.login_as("conference_chair")
    day = case.icpc_due
    page = client.get(f"/conferences/calendar?view={view}&on={day.isoformat()}").get_data(as_text=True)
    assert "14:00" in cell(page, day) and case.child.display_name in cell(page, day)
    assert f"/conferences/{conference.id}" in cell(page, day)
    other = day + timedelta(days=1) if day.weekday() < 6 else day - timedelta(days=1)  # same week
    assert case.child.display_name not in cell(page, other)
    previous, following = neighbours(view, day)
    assert f"on={previous.isoformat()}" in page and f"on={following.isoformat()}" in page
    moved = client.get(f"/conferences/calendar?view={view}&on={following.isoformat()}").get_data(as_text=True)
    assert moved.count('id="day-') in (7, 28, 29, 30, 31) and case.child.display_name not in moved


def neighbours(view: str, day: date) -> tuple[date, date]:
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        return monday - timedelta(days=7), monday + timedelta(days=7)
    first = day.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return previous, following


def test_calendar_defaults_to_today_and_refuses_bad_dates(client, auth, web_app):
    auth.login_as("conference_chair")
    page = client.get("/conferences/calendar").get_data(as_text=True)
    assert "December 2026" in page and 'id="day-2026-12-14"' in page and "Today" in page
    week = client.get("/conferences/calendar?view=week").get_data(as_text=True)
    assert 'id="day-2026-12-14"' in week and 'id="day-2026-12-20"' in week and "Bank holiday" not in week
    assert "Bank holiday" in client.get("/conferences/calendar?view=week&on=2026-12-25").get_data(as_text=True)
    response = client.get("/conferences/calendar?on=2026-13-40")
    assert response.status_code == 400 and b"YYYY-MM-DD" in response.data
    assert client.get("/conferences/calendar?view=year").status_code == 400
    assert client.get("/conferences/calendar?view=week&on=0001-01-01").status_code == 400


def test_requests_show_the_window_and_offer_free_working_days_inside_it(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=7)
    context = web_app.extensions["safeguarding"]
    calendar = context.service.engine.calendar
    today = context.clock.now().date()
    assert today <= date(2026, 12, 24)  # so the window spans the Christmas bank holidays
    auth.login_as("conference_chair")
    page = client.get("/conferences/requests").get_data(as_text=True)
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "schedule_icpc"))
    card = page.split(f'id="request-{task.id}"')[1]
    assert case.reference in card and case.icpc_due.strftime("%-d %B %Y") in card
    assert case.initiating_strategy_discussion_on.strftime("%-d %B %Y") in card
    offered = [date.fromisoformat(d) for d in re.findall(r'data-date="([0-9-]+)"', card)]
    assert len(offered) == 10
    assert offered[-1] > date(2027, 1, 1)  # the offer runs past the Christmas bank holidays
    for day in offered:
        assert max(today, case.initiating_strategy_discussion_on) <= day <= case.icpc_due
        assert calendar.is_working_day(day) and day not in BANK_HOLIDAYS
    assert f"/tasks/{task.id}?scheduled_for={offered[0].isoformat()}" in card


def test_requests_skip_days_the_chair_is_already_booked(client, auth, web_app, db):
    booked_case, waiting = waiting_case(web_app, child_index=8), waiting_case(web_app, child_index=9)
    context = web_app.extensions["safeguarding"]
    busy = context.service.engine.calendar.add_working_days(context.clock.now().date(), 1)
    book(web_app, booked_case, busy)
    auth.login_as("conference_chair")
    page = client.get("/conferences/requests").get_data(as_text=True)
    assert booked_case.reference not in page and waiting.reference in page
    offered = re.findall(r'data-date="([0-9-]+)"', page)
    assert offered and busy.isoformat() not in offered


def test_business_support_sees_requests_without_offered_dates(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=10)
    auth.login_as("business_support")
    page = client.get("/conferences/requests").get_data(as_text=True)
    assert case.reference in page and "data-date" not in page


def test_no_requests(client, auth, web_app):
    auth.login_as("conference_chair")
    assert 'id="no-requests"' in client.get("/conferences/requests").get_data(as_text=True)


def test_double_booking_is_refused_through_the_task_page(client, auth, web_app, db):
    first, second = waiting_case(web_app, child_index=11), waiting_case(web_app, child_index=12)
    book(web_app, first, first.icpc_due, time="10:00")
    task = Task.get((Task.case == second.id) & (Task.bpmn_id == "schedule_icpc"))
    day = first.icpc_due
    auth.login_as("conference_chair")
    response = client.post(f"/tasks/{task.id}", data={
        "_token": task.token, "scheduled_for-day": str(day.day), "scheduled_for-month": str(day.month),
        "scheduled_for-year": str(day.year), "time": "10:45", "venue": "County Hall"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:500]
    assert first.reference in page and "already booked" in page
    assert Task.get_or_none(Task.id == task.id) is not None
    assert Conference.select().where(Conference.case == second.id).count() == 0


def test_conference_page_shows_invitations_then_the_record_once_held(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=13)
    conference = book(web_app, case, case.icpc_due)
    auth.login_as("conference_chair")
    page = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    assert "Parents and carers (2)" in page and "Dawn Mills" in page and "Professionals (1)" in page
    assert "Child or advocate (0)" in page and 'id="not-held"' in page
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "icpc"))
    assert f"/tasks/{task.id}" in page
    held_case = waiting_case(web_app, stop_before="schedule_review", child_index=14)
    held = Conference.get(Conference.case == held_case.id)
    page = client.get(f"/conferences/{held.id}").get_data(as_text=True)
    assert "The child needs a child protection plan" in page
    assert "Physical abuse" in page and "Emotional abuse" in page
    assert "Helen Carter" in page and "Did not attend, sent a written report" in page  # attendance
    assert 'id="core-group"' in page and "Rosewood Primary School" in page
    suggested = re.search(r'id="suggested-review"><time datetime="([0-9-]+)"', page)
    assert suggested and date.fromisoformat(suggested.group(1)) == held_case.next_review_due
