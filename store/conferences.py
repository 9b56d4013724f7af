"""Independent chairs' conferences: lists, calendars, statutory windows, offered dates and double booking.

A conference is created when a chair completes a scheduling task and marked held when the
holding task (icpc, review_conference, contextual_conference) is completed; both happen in
``Safeguarding.complete_task``, which calls the rules here inside its unit of work.
"""
from __future__ import annotations

import calendar as monthcalendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable, Mapping

from peewee import JOIN, fn

from engine import FieldError, ValidationFailed, WorkingDayCalendar, add_months, parse_date
from engine.deadlines import DUE_COLUMNS

from .db import is_postgres
from .models import Case, Conference, Person, ReviewConference, Task, User

# The chair's tasks, by BPMN element id: scheduling ones book a conference (its kind, and the case
# column holding the statutory date it must be held by), holding ones record it as held.
SCHEDULING_TASKS = {"schedule_icpc": ("icpc", DUE_COLUMNS["icpc"]),
                    "schedule_review": ("review", DUE_COLUMNS["next_review"]),
                    "schedule_contextual_conference": ("contextual", None)}
HOLDING_TASKS = {"icpc": "icpc", "review_conference": "review", "contextual_conference": "contextual"}
KIND_LABELS = {"icpc": "Initial child protection conference", "review": "Review child protection conference",
               "contextual": "Contextual safeguarding conference"}
KIND_SHORT = {"icpc": "ICPC", "review": "Review", "contextual": "Contextual"}
DEFAULT_DURATION_MINUTES = 90
# The next review the rules suggest once a conference is held: months after it, by kind and outcome.
# The statutory timers themselves live in the diagrams (child_protection_plan.bpmn); these only
# prefill a suggestion, and the case's own next_review_due (from the diagram) is shown beside it.
REVIEW_INTERVAL_MONTHS = {("icpc", "cp_plan"): 3, ("review", "continue_plan"): 6}
MAX_OFFERED_DATES = 10
REVIEW_OFFERS_MONTHS = 1  # a review's dates are offered from this many months before it is due
SCAN_LIMIT_DAYS = 400  # never look further ahead than this for a free day
INVITEE_GROUPS = (("Parents and carers", ("parent", "carer")), ("Child or advocate", ("child", "advocate")),
                  ("Professionals", ("professional",)))
HELD_FIELDS = ("attendees", "child_participation", "categories", "core_group_members", "risks", "step_down_to",
               "outline_plan", "plan", "decision_reasons", "dissent", "reason_held_on_another_day")
NEXT_REVIEW_FIELDS = ("first_review_by", "next_review_by", "review_by")


# -- queries -----------------------------------------------------------------------------
def _with_case(query):
    return (query.join(Case, on=(Conference.case == Case.id)).join(Person, on=(Case.child == Person.id))
            .switch(Conference).join(User, JOIN.LEFT_OUTER, on=(Conference.chair == User.id)))


def _selected():
    return _with_case(Conference.select(Conference, Case, Person, User))


def conference_day(conference: Conference) -> date | None:
    """The day a conference is (or was) held: its held date once held, else its booked date."""
    return conference.held_on or conference.scheduled_for


def conferences_for(chair: User | None, where=None) -> list[Conference]:
    """Every conference chaired by ``chair`` (all conferences when None) of cases ``where`` (a Case
    condition: the access rules) admits, with case and child loaded."""
    query = _selected() if where is None else _selected().where(where)
    if chair is not None:
        query = query.where(Conference.chair == chair)
    return list(query.order_by(Conference.scheduled_for, Conference.start_time, Conference.id))


def split_upcoming(conferences: Iterable[Conference], today: date) -> tuple[list[Conference], list[Conference]]:
    """Upcoming (still scheduled, today or later; soonest first) and past (held or gone by; latest first)."""
    upcoming, past = [], []
    for conference in conferences:
        day = conference_day(conference)
        if conference.status == "scheduled" and (day is None or day >= today):
            upcoming.append(conference)
        else:
            past.append(conference)
    upcoming.sort(key=lambda c: (c.scheduled_for or date.max, c.start_time or "", c.id))
    past.sort(key=lambda c: (conference_day(c) or date.min, c.start_time or "", c.id), reverse=True)
    return upcoming, past


def conferences_between(chair: User | None, first: date, last: date, where=None) -> dict[date, list[Conference]]:
    """A chair's conferences (all when None; of cases ``where`` admits) on each day from ``first`` to ``last``."""
    in_range = ((Conference.scheduled_for.between(first, last)) | (Conference.held_on.between(first, last)))
    query = _selected().where(in_range)
    if where is not None:
        query = query.where(where)
    if chair is not None:
        query = query.where(Conference.chair == chair)
    days: dict[date, list[Conference]] = {}
    for conference in query.order_by(Conference.start_time, Conference.id):
        day = conference_day(conference)
        if day is not None and first <= day <= last:
            days.setdefault(day, []).append(conference)
    return days


def get_conference(conference_id: int) -> Conference | None:
    """One conference with its case, child and chair, or None."""
    return _selected().where(Conference.id == conference_id).first()


def holding_task(conference: Conference) -> Task | None:
    """The open task that records this conference (if it is still to be held)."""
    if conference.status != "scheduled":
        return None
    ids = [bpmn_id for bpmn_id, kind in HOLDING_TASKS.items() if kind == conference.kind]
    return Task.select().where(Task.case == conference.case_id, Task.bpmn_id.in_(ids)).first()


def invitation_groups(conference: Conference) -> list[tuple[str, list[dict]]]:
    """Invitees grouped as parents and carers, child or advocate, professionals (empty groups kept)."""
    invitees = conference.invitations
    groups = [(label, [i for i in invitees if i.get("type") in types]) for label, types in INVITEE_GROUPS]
    known = {t for _label, types in INVITEE_GROUPS for t in types}
    others = [i for i in invitees if i.get("type") not in known]
    if others:
        groups.append(("Others", others))
    return groups


def attendance_counts(conference: Conference) -> dict[str, int]:
    """How many attendees had each attendance status once the conference was held."""
    counts: dict[str, int] = {}
    for person in (conference.details or {}).get("attendees") or []:
        counts[person.get("status", "unknown")] = counts.get(person.get("status", "unknown"), 0) + 1
    return counts


# -- time and double booking -------------------------------------------------------------
def _minutes(start_time: str | None) -> int | None:
    if not start_time:
        return None
    hours, minutes = start_time.split(":")
    return int(hours) * 60 + int(minutes)


def end_time(conference: Conference) -> str | None:
    """'HH:MM' when the conference is expected to end (start plus its duration)."""
    start = _minutes(conference.start_time)
    if start is None:
        return None
    end = start + (conference.duration_minutes or DEFAULT_DURATION_MINUTES)
    return f"{end // 60 % 24:02d}:{end % 60:02d}"


def _overlaps(start_a: str | None, minutes_a: int, start_b: str | None, minutes_b: int) -> bool:
    """Two bookings on one day overlap; a booking without a time takes the whole day."""
    a, b = _minutes(start_a), _minutes(start_b)
    if a is None or b is None:
        return True
    return a < b + minutes_b and b < a + minutes_a


def find_clash(chair: User | int, day: date, start_time: str | None,
               duration_minutes: int = DEFAULT_DURATION_MINUTES, exclude_id: int | None = None) -> Conference | None:
    """Another scheduled conference of this chair that the booking would overlap, if any."""
    query = _selected().where(Conference.chair == chair, Conference.status == "scheduled",
                              Conference.scheduled_for == day)
    if exclude_id is not None:
        query = query.where(Conference.id != exclude_id)
    for other in query.order_by(Conference.start_time, Conference.id):
        if _overlaps(start_time, duration_minutes, other.start_time, other.duration_minutes or DEFAULT_DURATION_MINUTES):
            return other
    return None


def describe(conference: Conference) -> str:
    """A one-line name for a conference: kind, child, case, date and time."""
    when = conference.scheduled_for.strftime("%-d %B %Y") if conference.scheduled_for else "no date"
    if conference.start_time:
        when += f", {conference.start_time} to {end_time(conference)}"
    else:
        when += " (all day: no start time)"
    return (f"{KIND_LABELS.get(conference.kind, conference.kind)} for {conference.case.child.display_name} "
            f"({conference.case.reference}) on {when}")


def check_chair_available(chair: User, day: date, start_time: str | None,
                          duration_minutes: int = DEFAULT_DURATION_MINUTES, exclude_id: int | None = None) -> None:
    """Refuse (ValidationFailed on ``scheduled_for``) a booking that overlaps another of the chair's conferences.

    Called inside the scheduling unit of work; on PostgreSQL the chair's row is locked first so two
    bookings for one chair made at the same moment queue (SQLite's BEGIN IMMEDIATE already does).
    """
    if is_postgres():
        User.select(User.id).where(User.id == chair.id).for_update().first()
    clash = find_clash(chair, day, start_time, duration_minutes, exclude_id)
    if clash is not None:
        raise ValidationFailed([FieldError("scheduled_for", f"{chair.full_name} is already booked to chair the "
                                           f"{describe(clash)}: choose another date or time")],
                               title="The chair cannot be booked into two conferences at once")


def booked_days(chair: User, first: date, last: date) -> set[date]:
    """Days on which the chair already has a scheduled conference."""
    rows = (Conference.select(Conference.scheduled_for)
            .where(Conference.chair == chair, Conference.status == "scheduled",
                   Conference.scheduled_for.between(first, last)))
    return {parse_date(r.scheduled_for) for r in rows}


# -- scheduling requests -----------------------------------------------------------------
@dataclass
class SchedulingRequest:
    """A conference waiting to be scheduled, with its statutory window and the dates offered."""

    task: Task
    kind: str
    window_start: date | None
    due: date | None
    days_left: int | None
    offered: list[date] = field(default_factory=list)
    offered_outside: bool = False  # no free day was left inside the window
    cancelled: Conference | None = None  # a booking was cancelled: a new date is wanted (``task`` holds it)

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


def statutory_window(case: Case, kind: str) -> tuple[date | None, date | None]:
    """When a conference of ``kind`` may be held: from its starting event up to the statutory due date.

    ICPC: from the strategy discussion that initiated the section 47 enquiry to ``Case.icpc_due``;
    review: from the last ICPC or review held to ``Case.next_review_due``; contextual: no window.
    """
    if kind == "icpc":
        return case.initiating_strategy_discussion_on or case.last_strategy_discussion_on, case.icpc_due
    if kind == "review":
        last_review = (ReviewConference.select(fn.MAX(ReviewConference.held_on))
                       .where(ReviewConference.case == case.id).scalar())
        held = [parse_date(d) for d in (case.icpc_held_on, last_review) if d]
        return (max(held) if held else None), case.next_review_due
    return None, None


def offered_dates(calendar: WorkingDayCalendar, first: date, due: date | None, booked: set[date],
                  limit: int = MAX_OFFERED_DATES) -> list[date]:
    """Working days from ``first`` up to ``due`` (or onward without one) on which the chair is free."""
    found: list[date] = []
    day = first
    last = due if due is not None else first + timedelta(days=SCAN_LIMIT_DAYS)
    while day <= last and len(found) < limit:
        if calendar.is_working_day(day) and day not in booked:
            found.append(day)
        day += timedelta(days=1)
    return found


def first_offered_day(kind: str, start: date | None, due: date | None, today: date) -> date:
    """Where the dates offered begin: inside the window and not before today; a review's in the last
    REVIEW_OFFERS_MONTHS of its interval, as a review a few days after the last conference reviews little."""
    first = max(today, start) if start else today
    if kind == "review" and due is not None:
        first = max(first, add_months(due, -REVIEW_OFFERS_MONTHS))
    return first


def needing_new_date(chair: User | None, where=None) -> list[tuple[Task, Conference]]:
    """Cancelled conferences not booked again whose holding task is still open (the case still needs
    the conference), with that task: the chair's own (everyone's when None), of cases ``where`` admits."""
    awaiting = Task.select(Task.case).where(Task.bpmn_id.in_(list(HOLDING_TASKS)))  # bounds it to open work
    query = _selected().where(Conference.status == "cancelled", Conference.case.in_(awaiting))
    if where is not None:
        query = query.where(where)
    if chair is not None:
        query = query.where(Conference.chair == chair)
    cancelled = list(query.order_by(Conference.id))
    if not cancelled:
        return []
    case_ids = sorted({c.case_id for c in cancelled})
    newest = {(row.case_id, row.kind): row.newest for row in Conference.select(
        Conference.case, Conference.kind, fn.MAX(Conference.id).alias("newest"))
        .where(Conference.case.in_(case_ids)).group_by(Conference.case, Conference.kind)}
    holding = {(t.case_id, HOLDING_TASKS[t.bpmn_id]): t for t in Task.select().where(
        Task.case.in_(case_ids), Task.bpmn_id.in_(list(HOLDING_TASKS)))}
    return [(holding[(c.case_id, c.kind)], c) for c in cancelled
            if newest.get((c.case_id, c.kind)) == c.id and (c.case_id, c.kind) in holding]


def scheduling_requests(chair: User | None, today: date, calendar: WorkingDayCalendar,
                        where=None) -> list[SchedulingRequest]:
    """Open scheduling tasks and cancelled bookings wanting a new date (soonest due first), with windows;
    offered dates skip the chair's booked days.

    For a chair: the unassigned queue, the tasks assigned to them and their cancelled conferences;
    with no chair (business support) every request, and no dates are offered. ``where`` (the access
    rules) narrows them.
    """
    query = (Task.select(Task, Case, Person).join(Case).join(Person, on=(Case.child == Person.id))
             .where(Task.bpmn_id.in_(list(SCHEDULING_TASKS)), Task.role == "conference_chair"))
    if where is not None:
        query = query.where(where)
    if chair is not None:
        query = query.where(Task.assignee.is_null() | (Task.assignee == chair))
    wanted = [(task, SCHEDULING_TASKS[task.bpmn_id][0], None) for task in query]
    wanted += [(task, conference.kind, conference) for task, conference in needing_new_date(chair, where)]
    wanted.sort(key=lambda w: (w[0].due or date.max, w[0].created_at, w[0].id))
    booked = booked_days(chair, today, today + timedelta(days=SCAN_LIMIT_DAYS * 2)) if chair is not None else set()
    requests = []
    for task, kind, cancelled in wanted:
        start, due = statutory_window(cancelled.case if cancelled else task.case, kind)
        request = SchedulingRequest(task=task, kind=kind, window_start=start, due=due, cancelled=cancelled,
                                    days_left=calendar.working_days_between(today, due) if due else None)
        if chair is not None:
            first = first_offered_day(kind, start, due, today)
            request.offered = offered_dates(calendar, first, due, booked)
            if not request.offered and due is not None:  # past due or fully booked: the next free days after it
                request.offered = offered_dates(calendar, max(first, due + timedelta(days=1)), None, booked, 5)
                request.offered_outside = True
        requests.append(request)
    return requests


# -- recording ---------------------------------------------------------------------------
def suggested_next_review(kind: str, outcome: str | None, held_on: date | str | None) -> date | None:
    """The next review the rules suggest: 3 months after an ICPC that starts a plan, 6 after a review."""
    months = REVIEW_INTERVAL_MONTHS.get((kind, outcome or ""))
    if months is None or not held_on:
        return None
    return add_months(held_on, months)


def scheduling_values(form: Mapping[str, Any]) -> dict[str, Any]:
    """Conference columns taken from a schedule form (date, start time, venue, invitees)."""
    return {"scheduled_for": parse_date(form["scheduled_for"]) if form.get("scheduled_for") else None,
            "start_time": form.get("time") or None, "venue": form.get("venue"),
            "duration_minutes": DEFAULT_DURATION_MINUTES}


def held_details(kind: str, form: Mapping[str, Any], recorded_by: str) -> dict[str, Any]:
    """What the conference page shows once held: attendance, decision, categories, core group, next review."""
    details = {key: form[key] for key in HELD_FIELDS if key in form}
    next_review = next((form[key] for key in NEXT_REVIEW_FIELDS if form.get(key)), None)
    suggested = suggested_next_review(kind, form.get("outcome"), form.get("held_on"))
    details.update(next_review_by=next_review, recorded_by=recorded_by,
                   suggested_next_review=suggested.isoformat() if suggested else None)
    return details


def month_grid(anchor: date) -> list[list[date | None]]:
    """The weeks (Monday first) of ``anchor``'s month; days outside the month are None."""
    weeks = monthcalendar.Calendar(firstweekday=0).monthdatescalendar(anchor.year, anchor.month)
    return [[d if d.month == anchor.month else None for d in week] for week in weeks]


def week_of(anchor: date) -> list[date]:
    """Monday to Sunday of ``anchor``'s week."""
    monday = anchor - timedelta(days=anchor.weekday())
    return [monday + timedelta(days=i) for i in range(7)]



def form_labels(forms: Mapping[str, Any], kind: str) -> dict[str, dict[str, str]]:
    """Field -> code -> label for the enums of the forms that schedule and record a ``kind`` conference."""
    names = [f"{bpmn_id}.json" for bpmn_id, (k, _due) in SCHEDULING_TASKS.items() if k == kind]
    names += [f"{bpmn_id}.json" for bpmn_id, k in HOLDING_TASKS.items() if k == kind]
    labels: dict[str, dict[str, str]] = {}

    def collect(properties: Mapping[str, Any]) -> None:
        for name, schema in properties.items():
            if not isinstance(schema, dict):
                continue
            items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
            found = schema.get("x-enumLabels") or items.get("x-enumLabels")
            if found:
                labels.setdefault(name, {}).update({str(k): str(v) for k, v in found.items()})
            for nested in (schema.get("properties"), items.get("properties")):
                if isinstance(nested, dict):
                    collect(nested)

    for name in names:
        form = forms.get(name)
        if form is not None:
            collect(form.schema.get("properties") or {})
    return labels


# The field of each holding task's form that records the next review, and the outcome that needs one.
REVIEW_SUGGESTION = {"icpc": ("icpc", "cp_plan", "first_review_by"),
                     "review_conference": ("review", "continue_plan", "next_review_by")}


def current_booking(case_id: int, kind: str) -> Conference | None:
    """The case's newest conference of ``kind`` (scheduled, held or cancelled), or None."""
    return (Conference.select().where(Conference.case == case_id, Conference.kind == kind)
            .order_by(Conference.id.desc()).first())


def suggested_review_fields(task: Task) -> dict[str, str]:
    """For an ICPC or review being recorded: the next review date the rules suggest, counted from
    the day the conference is booked for (where the next review's window opens), as the form's
    prefill; nothing without a booking, rather than a date counted from today."""
    rule = REVIEW_SUGGESTION.get(task.bpmn_id)
    if rule is None:
        return {}
    kind, outcome, field = rule
    booked = current_booking(task.case_id, kind)
    if booked is None or booked.status != "scheduled" or booked.scheduled_for is None:
        return {}
    suggested = suggested_next_review(kind, outcome, booked.scheduled_for)
    return {field: suggested.isoformat()} if suggested else {}
