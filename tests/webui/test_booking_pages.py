"""Booking a conference as the chair meets it in the browser: the rules on the scheduling task page,
moving and cancelling from the conference page, booking a new date, the calendar and requests that
follow, and the holding task that says how its booking stands."""
from __future__ import annotations

import re
from datetime import date, timedelta

from store.models import Case, ChronologyEntry, Conference, Task
from store.users import add_user
from tests.webui.test_chairs import book, cell, waiting_case
from tests.webui.test_tasks import posted as task_form_fields


def posted(html: str):
    """What the browser posts from the conference page's change form."""
    return task_form_fields(html.replace('id="change-form"', 'id="task-form"')).to_dict()


def date_fields(name: str, day: date) -> dict[str, str]:
    return {f"{name}-day": str(day.day), f"{name}-month": str(day.month), f"{name}-year": str(day.year)}


def long(day: date) -> str:
    return day.strftime("%-d %B %Y")


def working_day(web_app, day: date, n: int) -> date:
    return web_app.extensions["safeguarding"].service.engine.calendar.add_working_days(day, n)


def today(web_app) -> date:
    return web_app.extensions["safeguarding"].clock.now().date()


def summary(page: str) -> list[str]:
    """The error summary's messages."""
    block = page.split('class="govuk-error-summary"')[1].split("</ul>")[0]
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<a href="#[^"]+">([^<]+)</a>', block)]


def revision_of(page: str) -> str:
    return re.search(r'name="_revision" value="([^"]+)"', page).group(1)


def chronology(case, kind):
    return [e.summary for e in ChronologyEntry.select().where(ChronologyEntry.case == case.id, ChronologyEntry.kind == kind)]


def test_the_scheduling_task_page_names_each_booking_rule_it_breaks(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=0)
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "schedule_icpc"))
    auth.login_as("conference_chair")
    saturday = case.referral_date - timedelta(days=(case.referral_date.weekday() - 5) % 7 or 7)
    response = client.post(f"/tasks/{task.id}", data={"_token": task.token, "venue": "County Hall",
                                                      **date_fields("scheduled_for", saturday)})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert summary(page) == [f"Date of conference cannot be before the strategy discussion that started the section 47 "
                             f"enquiry on {case.initiating_strategy_discussion_on.strftime('%A %-d %B %Y')}"]
    assert '<a href="#scheduled_for-day">' in page
    weekend = case.icpc_due - timedelta(days=(case.icpc_due.weekday() - 5) % 7)
    response = client.post(f"/tasks/{task.id}", data={"_token": task.token, "venue": "County Hall",
                                                      **date_fields("scheduled_for", weekend)})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and '<a href="#reason_not_working_day">' in page
    assert summary(page) == [f"Enter the reason for a date on a weekend or bank holiday: {long(weekend)} is a Saturday"]
    assert Conference.select().where(Conference.case == case.id).count() == 0
    response = client.post(f"/tasks/{task.id}", data={"_token": task.token, "venue": "County Hall",
                                                      "reason_not_working_day": "Both parents work weekdays",
                                                      **date_fields("scheduled_for", weekend)})
    assert response.status_code == 302
    conference = Conference.get(Conference.case == case.id)
    page = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    assert "Both parents work weekdays" in page.split('id="reason-not-working-day"')[1]


def test_the_chair_moves_a_conference_from_its_page(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=1)
    conference = book(web_app, case, case.icpc_due)
    auth.login_as("conference_chair")
    page = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    assert f'href="/conferences/{conference.id}/move"' in page and f'href="/conferences/{conference.id}/cancel"' in page
    form = client.get(f"/conferences/{conference.id}/move").get_data(as_text=True)
    assert 'name="scheduled_for-day"' in form and f'value="{case.icpc_due.day}"' in form and 'value="10:00"' in form
    assert "Statutory window" in form and long(case.icpc_due) in form
    new_day = working_day(web_app, today(web_app), 3)
    fields = posted(form)
    fields.update({**date_fields("scheduled_for", new_day), "time": "14:00", "reason": "Chair unwell"})
    response = client.post(f"/conferences/{conference.id}/move", data=fields)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/conferences/{conference.id}")
    page = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    assert f"ICPC moved to {long(new_day)} at 14:00." in page  # the confirmation
    history = page.split('id="changes"')[1].split("</table>")[0]
    assert "Chair unwell" in history and f"Moved from {long(case.icpc_due)} at 10:00 to {long(new_day)} at 14:00" in history
    assert chronology(case, "conference_moved") == [
        f"ICPC moved from {long(case.icpc_due)} at 10:00 to {long(new_day)} at 14:00: Chair unwell"]
    case_page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f"ICPC moved from {long(case.icpc_due)} at 10:00 to {long(new_day)} at 14:00: Chair unwell" in case_page
    calendar = client.get(f"/conferences/calendar?view=month&on={new_day.isoformat()}").get_data(as_text=True)
    assert "14:00" in cell(calendar, new_day) and case.child.display_name in cell(calendar, new_day)


def test_a_move_that_breaks_a_rule_says_which_field_and_changes_nothing(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=2)
    conference = book(web_app, case, case.icpc_due)
    auth.login_as("conference_chair")
    form = client.get(f"/conferences/{conference.id}/move").get_data(as_text=True)
    fields = posted(form)
    response = client.post(f"/conferences/{conference.id}/move", data=fields)  # no reason
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and summary(page) == ["Enter the reason for the change"]
    assert page.count('class="govuk-error-message"') == 1 and "<title>Error: " in page
    late = working_day(web_app, case.icpc_due, 2)
    fields.update({**date_fields("scheduled_for", late), "reason": "Family away"})
    response = client.post(f"/conferences/{conference.id}/move", data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert summary(page) == [f"Enter the reason the date is outside the timescale: it is after the statutory date, "
                             f"{case.icpc_due.strftime('%A %-d %B %Y')}"]
    assert "Family away</textarea>" in page  # what was typed is kept
    assert Conference.get_by_id(conference.id).scheduled_for == case.icpc_due
    assert chronology(case, "conference_moved") == []


def test_a_move_sent_twice_moves_once_and_a_stale_page_changes_nothing(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=3)
    conference = book(web_app, case, working_day(web_app, today(web_app), 2))
    auth.login_as("conference_chair")
    form = client.get(f"/conferences/{conference.id}/move").get_data(as_text=True)
    fields = posted(form)
    fields.update({**date_fields("scheduled_for", working_day(web_app, today(web_app), 4)), "reason": "Room flooded"})
    first = client.post(f"/conferences/{conference.id}/move", data=fields)
    second = client.post(f"/conferences/{conference.id}/move", data=fields)  # a double click, or back and again
    assert first.status_code == second.status_code == 303
    assert len(chronology(case, "conference_moved")) == 1
    assert [c["action"] for c in Conference.get_by_id(conference.id).details["changes"]] == ["booked", "moved"]
    fields.update({**date_fields("scheduled_for", working_day(web_app, today(web_app), 5)), "reason": "Another"})
    response = client.post(f"/conferences/{conference.id}/move", data=fields, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Nothing was saved: this conference was changed by someone else since you opened the page" in page
    assert len(chronology(case, "conference_moved")) == 1


def test_cancel_then_book_a_new_date_from_the_same_page(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=4)
    conference = book(web_app, case, working_day(web_app, today(web_app), 1))
    day = conference.scheduled_for
    auth.login_as("conference_chair")
    form = client.get(f"/conferences/{conference.id}/cancel").get_data(as_text=True)
    response = client.post(f"/conferences/{conference.id}/cancel", data=posted(form))
    assert response.status_code == 422 and summary(response.get_data(as_text=True)) == ["Enter the reason for cancelling"]
    fields = posted(form)
    fields["reason"] = "Family bereavement"
    response = client.post(f"/conferences/{conference.id}/cancel", data=fields)
    assert response.status_code == 303
    page = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    cancelled = page.split('id="cancelled"')[1].split("</div>")[0]
    assert "Cancelled" in cancelled and "Family bereavement" in cancelled
    assert f'href="/conferences/{conference.id}/rebook"' in page and 'id="move"' not in page
    assert chronology(case, "conference_cancelled") == [
        f"ICPC of {long(day)} cancelled: Family bereavement. A new date is needed, by {long(case.icpc_due)}."]
    calendar = client.get(f"/conferences/calendar?view=week&on={day.isoformat()}").get_data(as_text=True)
    assert "Cancelled" in cell(calendar, day)
    requests = client.get("/conferences/requests").get_data(as_text=True)
    card = requests.split(f'data-cancelled="{conference.id}"')[1].split('class="govuk-summary-card"')[0]
    assert "Needs a new date" in card and "Family bereavement" in card
    offered = re.findall(r'href="(/conferences/\d+/rebook\?scheduled_for=([0-9-]+))"', card)
    assert offered and day.isoformat() in [d for _u, d in offered]  # the freed day is offered again
    url, chosen = next((u, d) for u, d in offered if d != day.isoformat())
    form = client.get(url).get_data(as_text=True)
    new_day = date.fromisoformat(chosen)
    assert f'name="scheduled_for-day" type="text" value="{new_day.day}"' in form or f'value="{new_day.day}"' in form
    response = client.post(f"/conferences/{conference.id}/rebook", data=posted(form))
    assert response.status_code == 303
    new = Conference.select().where(Conference.case == case.id).order_by(Conference.id.desc()).first()
    assert new.id != conference.id and new.scheduled_for == new_day and new.status == "scheduled"
    assert response.headers["Location"].endswith(f"/conferences/{new.id}")
    page = client.get(f"/conferences/{new.id}").get_data(as_text=True)
    assert 'id="replaces"' in page and f'href="/conferences/{conference.id}"' in page
    old = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    assert 'id="replaced-by"' in old and 'id="rebook"' not in old
    assert f'data-cancelled="{conference.id}"' not in client.get("/conferences/requests").get_data(as_text=True)


def test_the_holding_task_shows_its_booking_and_asks_why_it_was_held_another_day(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=5)
    conference = book(web_app, case, working_day(web_app, today(web_app), 1))
    context = web_app.extensions["safeguarding"]
    context.clock.set(context.clock.now() + timedelta(days=14))
    held_on = working_day(web_app, conference.scheduled_for, 2)
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "icpc"))
    auth.login_as("conference_chair")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert f"Booked for {conference.scheduled_for.strftime('%A %-d %B %Y')} at 10:00" in page.split('id="booked-for"')[1]
    fields = posted(page)
    fields.update({**date_fields("held_on", held_on), "outcome": "no_plan", "decision_reasons": "Risk reduced.",
                   "attendees.0.name": "Helen Carter", "attendees.0.role": "chair", "attendees.0.status": "attended",
                   "attendees.1.name": "Dawn Mills", "attendees.1.role": "parent", "attendees.1.status": "attended"})
    response = client.post(f"/tasks/{task.id}", data=fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 422, summary(page)
    assert summary(page) == [f"Enter the reason it was held on another day than booked: it was booked for "
                             f"{conference.scheduled_for.strftime('%A %-d %B %Y')}, and the date held is "
                             f"{held_on.strftime('%A %-d %B %Y')}"]
    assert '<a href="#reason_held_on_another_day">' in page
    fields["reason_held_on_another_day"] = "Police could only attend on the later day"
    response = client.post(f"/tasks/{task.id}", data=fields)
    assert response.status_code == 302, summary(response.get_data(as_text=True))
    page = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    assert "Police could only attend on the later day" in page.split('id="reason-held-another-day"')[1]


def test_a_cancelled_booking_is_flagged_on_the_holding_task(client, auth, web_app, db):
    case = waiting_case(web_app, child_index=6)
    conference = book(web_app, case, case.icpc_due)
    auth.login_as("conference_chair")
    form = client.get(f"/conferences/{conference.id}/cancel").get_data(as_text=True)
    client.post(f"/conferences/{conference.id}/cancel", data=dict(posted(form), reason="Chair unwell"))
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "icpc"))
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    warning = page.split('id="booking-cancelled"')[1].split("</div>")[0]
    assert "was cancelled" in warning and f'href="/conferences/{conference.id}"' in warning


def test_only_the_chair_or_business_support_may_change_a_conference(client, auth, web_app, db):
    add_user("chair.two", "Rob Chair", ["conference_chair"], web_app.extensions["safeguarding"].clock.now())
    case = waiting_case(web_app, child_index=7)
    conference = book(web_app, case, case.icpc_due)
    theirs = book(web_app, waiting_case(web_app, child_index=8),
                  working_day(web_app, today(web_app), 2), username="chair.two")
    auth.login_as("conference_chair")
    assert client.get(f"/conferences/{theirs.id}/move").status_code == 403
    assert client.post(f"/conferences/{theirs.id}/cancel", data={"reason": "x"}).status_code == 403
    assert Conference.get_by_id(theirs.id).status == "scheduled"
    auth.logout()
    auth.login_as("business_support")
    page = client.get(f"/conferences/{conference.id}").get_data(as_text=True)
    assert 'id="move"' in page and 'id="cancel"' in page
    assert client.get(f"/conferences/{conference.id}/rebook").status_code == 303  # nothing to rebook yet
    auth.logout()
    auth.login_as("social_worker")
    assert client.get(f"/conferences/{conference.id}/cancel").status_code == 403


def test_requests_offer_a_review_from_a_month_before_it_is_due(client, auth, web_app, db):
    case = waiting_case(web_app, stop_before="schedule_review", child_index=9)
    case = Case.get_by_id(case.id)
    auth.login_as("conference_chair")
    page = client.get("/conferences/requests").get_data(as_text=True)
    task = Task.get((Task.case == case.id) & (Task.bpmn_id == "schedule_review"))
    card = page.split(f'id="request-{task.id}"')[1]
    offered = [date.fromisoformat(d) for d in re.findall(r'data-date="([0-9-]+)"', card)]
    assert offered and offered[0] >= case.next_review_due - timedelta(days=31)
    assert offered[0] > today(web_app) + timedelta(days=30) and offered[-1] <= case.next_review_due
