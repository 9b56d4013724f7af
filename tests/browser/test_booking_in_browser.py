"""A chair moves a booked conference in a real browser: a double click moves it once, and going back to
the form and sending it again changes nothing more."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone

from engine import FixedClock
from store.demo import SCENARIOS, build_form, contact_payload, drive_case
from tests.browser.conftest import sign_in


def booked_case(live_server):
    """A case whose ICPC chair.helen has booked for the next working day (driven from ten days ago)."""
    from store.demo import ensure_demo_users
    from store.models import Conference, Task
    context = live_server.app.extensions["safeguarding"]
    context.db.connect(reuse_if_open=True)
    service, real_clock = context.service, context.service.clock
    users = ensure_demo_users(service, password=None)
    scenario = dataclasses.replace(next(s for s in SCENARIOS if s.name == "cp_plan_two_reviews"),
                                   stop_before="schedule_icpc")
    start = date.today() - timedelta(days=10)
    service.clock = FixedClock(datetime.combine(start, time(9, 0), tzinfo=timezone.utc))
    try:
        [case] = service.record_contact(contact_payload(scenario, start, 30), users["contact_officer"])
        case = drive_case(service, service.clock, case.id, scenario, users)
    finally:
        service.clock = real_clock
    calendar = service.engine.calendar
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "schedule_icpc"))
    form = build_form(task.form_name, {}, date.today(), calendar)
    form.update(scheduled_for=calendar.add_working_days(date.today(), 1).isoformat(), time="10:00")
    service.complete_task(task.id, "chair.helen", form, token=task.token)
    return case, Conference.get(Conference.case == case.id)


def test_a_double_click_and_the_back_button_move_a_conference_once(live_server, page, artifacts):
    from store.models import ChronologyEntry, Conference
    case, conference = booked_case(live_server)
    new_day = live_server.app.extensions["safeguarding"].service.engine.calendar.add_working_days(date.today(), 3)
    sign_in(page, live_server, "chair.helen")
    page.goto(f"{live_server}/conferences/{conference.id}")
    page.click("#move")
    page.fill("#scheduled_for-day", str(new_day.day))
    page.fill("#scheduled_for-month", str(new_day.month))
    page.fill("#scheduled_for-year", str(new_day.year))
    page.fill("#reason", "Chair unwell")
    page.dblclick("#submit")
    page.wait_for_url(f"{live_server}/conferences/{conference.id}")
    page.screenshot(path=str(artifacts / "conference-moved.png"), full_page=True)
    assert f"ICPC moved to {new_day.strftime('%-d %B %Y')}" in page.content()
    page.go_back()  # the form again, as the booking now stands
    page.wait_for_selector("#submit")
    page.click("#submit")
    assert page.locator(".govuk-error-summary").count() == 1
    assert "already booked for" in page.locator(".govuk-error-summary").inner_text()
    moves = ChronologyEntry.select().where(ChronologyEntry.case == case.id, ChronologyEntry.kind == "conference_moved")
    assert [e.summary for e in moves] == [f"ICPC moved from {conference.scheduled_for.strftime('%-d %B %Y')} to "
                                          f"{new_day.strftime('%-d %B %Y')}: Chair unwell"]
    assert [c["action"] for c in Conference.get_by_id(conference.id).details["changes"]] == ["booked", "moved"]
