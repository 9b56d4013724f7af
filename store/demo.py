"""Demo users and demo cases driven down every path of the lifecycle.

The same scenarios drive the end-to-end tests, so the demo can never show a path the tests
do not prove. Form data starts from one realistic example per form (``demo_forms.json``);
each scenario overrides the decisions, and dates follow the clock as the case moves.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from dateutil.relativedelta import relativedelta

from engine import FixedClock, WorkingDayCalendar

from .access import restrict_case
from .cases import Safeguarding
from .conferences import HOLDING_TASKS
from .models import Case, Conference, Task, User
from .users import add_user

FORM_EXAMPLES: dict[str, dict] = json.loads((Path(__file__).with_name("demo_forms.json")).read_text())
DEMO_PASSWORD = "demo-password"
DEMO_USERS = [  # username, full name, roles, team
    ("contact.officer", "Chris Contact", ["contact_officer"], "CADS"),
    ("cads.sw", "Sam CADS", ["cads_social_worker"], "CADS"),
    ("cads.manager", "Claire Dunn", ["cads_manager"], "CADS"),
    ("mash.police", "DC Mark Ellis", ["mash_police"], "MASH"),
    ("mash.health", "Sarah Okafor", ["mash_health"], "MASH"),
    ("mash.education", "Tom Reid", ["mash_education"], "MASH"),
    ("mash.probation", "Ravi Patel", ["mash_probation"], "MASH"),
    ("sw.priya", "Priya Shah", ["social_worker"], "Norwich locality"),
    ("sw.omar", "Omar Hussain", ["social_worker"], "Norwich locality"),
    ("tm.claire", "Claire Morgan", ["team_manager"], "Norwich locality"),
    ("chair.helen", "Helen Carter", ["conference_chair"], "Safeguarding and quality"),
    ("bs.alex", "Alex Green", ["business_support"], "Safeguarding and quality"),
    ("fh.jo", "Jo Baker", ["family_help_practitioner"], "Family Help"),
    ("lado.sam", "Sam Lado", ["lado"], "LADO"),
    ("owner.pat", "Pat Owner", ["process_owner"], "Service management"),
    ("admin", "Ada Admin", ["admin"], None),
    ("ig.nadia", "Nadia Iqbal", ["information_governance"], "Information governance"),
]
# One demo case is restricted (a child related to a member of staff): only these people may see it.
RESTRICTED_DEMO = ("live_cp_plan", "tm.claire", ["sw.priya", "chair.helen", "bs.alex"],
                   "The child's aunt works in the Norwich locality team")
# Date fields that look forward (bookings, targets); every other date field records the day it happened.
FUTURE_DATE_FIELDS = {"scheduled_for", "review_on", "revised_date", "next_meeting_on", "expected_date_of_birth"}


@dataclass
class Scenario:
    """A path through the lifecycle: the contact, each decision, and where the case should end."""

    name: str
    choices: dict[str, list[dict[str, Any]]]
    contact: dict[str, Any] = field(default_factory=dict)
    strategy_request_after: str | None = None
    stop_before: str | None = None
    expect_status: str = "closed"
    days_ago: int | None = None  # live demo cases start this many days before today

    def wants(self, bpmn_id: str) -> bool:
        """Whether the scenario completes this task (escalations are always answered)."""
        return bpmn_id in self.choices or bpmn_id.startswith("escalate_")

    def overrides(self, bpmn_id: str, used: dict[str, int]) -> dict[str, Any]:
        """The form overrides for this task's next occurrence (the last one repeats)."""
        options = self.choices.get(bpmn_id, [{}])
        index = used.get(bpmn_id, 0)
        used[bpmn_id] = index + 1
        return options[min(index, len(options) - 1)]


def _defaults() -> dict[str, list[dict[str, Any]]]:
    return {"feedback_to_referrer": [{}], "close_case": [{"reason": "RC7"}], "mash_check": [{}],
            "schedule_icpc": [{}], "schedule_review": [{}], "core_group": [{}],
            "core_group_meeting": [{}], "cin_plan": [{}],
            "end_cin_plan": [{}], "early_help_referral": [{}], "family_help_plan": [{}],
            "allegation_management_meeting": [{}], "lado_outcome": [{}], "contextual_assessment": [{}],
            "schedule_contextual_conference": [{}]}


def _s(name: str, contact: dict | None = None, **choices) -> Scenario:
    merged = _defaults()
    merged.update({k: v if isinstance(v, list) else [v] for k, v in choices.items()})
    return Scenario(name, merged, contact or {})


SINGLE_CHILD = {"children": [FORM_EXAMPLES["contact.json"]["children"][0]]}
CP_PATH = dict(cads_decision={"decision": "strategy_discussion"},
               strategy_discussion={"outcome": "section47_single"}, section47_enquiry={"outcome": "icpc"})
SCENARIOS: list[Scenario] = [
    _s("nfa", cads_decision={"decision": "nfa"}),
    _s("advice", cads_decision={"decision": "advice"}),
    _s("early_help", cads_decision={"decision": "early_help"}),
    _s("family_help", cads_decision={"decision": "family_help"}),
    _s("assessment_cin_plan", cads_decision={"decision": "assessment"}, assessment={"outcome": "cin_plan"}),
    _s("assessment_strategy", cads_decision={"decision": "assessment"},
       assessment={"outcome": "strategy_discussion"}, strategy_discussion={"outcome": "no_section47"}),
    _s("strategy_no_s47", cads_decision={"decision": "strategy_discussion"},
       strategy_discussion={"outcome": "no_section47"}),
    _s("s47_not_substantiated", cads_decision={"decision": "strategy_discussion"},
       strategy_discussion={"outcome": "section47_single"}, section47_enquiry={"outcome": "not_substantiated"}),
    _s("icpc_no_plan", **CP_PATH, icpc={"outcome": "no_plan"}),
    _s("cp_plan_two_reviews", **CP_PATH, icpc={"outcome": "cp_plan", "categories": ["physical", "emotional"]},
       review_conference=[{"outcome": "continue_plan", "categories": ["emotional"]},
                          {"outcome": "end_plan", "step_down_to": "nfa"}]),
    _s("contextual", cads_decision={"decision": "contextual"},
       contextual_conference={"outcome": "contextual_plan"}, contextual_review={"outcome": "end_plan"}),
    _s("lado", cads_decision={"decision": "lado"}, lado_initial_consideration={"threshold_met": True}),
    _s("immediate_danger", {"immediate_danger": True, "police_informed": True},
       strategy_discussion={"outcome": "section47_joint"}, section47_enquiry={"outcome": "not_substantiated"}),
    _s("mash_then_assessment", cads_decision=[{"decision": "mash_checks", "mash_agencies": ["police", "health", "education", "probation"]},
                                               {"decision": "assessment"}],
       assessment={"outcome": "nfa"}, close_case={"reason": "RC8"}),
]


def build_form(form_name: str, overrides: dict[str, Any], today: date, calendar: WorkingDayCalendar,
               prefill: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid form: the example, the scenario's overrides, the task's prefill, dates from ``today``."""
    form = copy.deepcopy(FORM_EXAMPLES[form_name])
    form.update(copy.deepcopy(overrides))
    form.update(prefill or {})
    _fill_dates(form, today, calendar)
    return form


def _fill_dates(value: Any, today: date, calendar: WorkingDayCalendar) -> None:
    if isinstance(value, list):
        for item in value:
            _fill_dates(item, today, calendar)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            _fill_dates(item, today, calendar)
        elif isinstance(item, str) and _looks_like_date(item) and key != "date_of_birth":
            future = key in FUTURE_DATE_FIELDS or key.endswith("_by")
            value[key] = (calendar.add_working_days(today, 10) if future else today).isoformat()


def _looks_like_date(text: str) -> bool:
    return len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit()


DEMO_CHILDREN = [
    ("Amy", "Mills", "2018-04-09", "female"), ("Ben", "Carter", "2015-09-21", "male"),
    ("Chloe", "Ahmed", "2012-02-14", "female"), ("Daniel", "Novak", "2019-11-30", "male"),
    ("Ella", "Brown", "2016-06-03", "female"), ("Finn", "O'Connor", "2011-01-17", "male"),
    ("Grace", "Okoro", "2020-08-08", "female"), ("Harry", "Singh", "2013-03-25", "male"),
    ("Isla", "Wood", "2017-12-01", "female"), ("Jack", "Kowalski", "2010-05-19", "male"),
    ("Keira", "Patel", "2014-10-10", "female"), ("Leo", "Murphy", "2012-07-07", "male"),
    ("Maya", "Evans", "2009-04-29", "female"), ("Noah", "Campbell", "2021-02-02", "male"),
    ("Olivia", "Hughes", "2015-01-23", "female"), ("Poppy", "Taylor", "2018-09-09", "female"),
    ("Reuben", "Clarke", "2016-03-13", "male"), ("Sofia", "Rossi", "2011-11-11", "female"),
    ("Theo", "Adeyemi", "2019-06-06", "male"), ("Una", "Fraser", "2013-08-18", "female"),
    ("Victor", "Lopez", "2010-12-12", "male"), ("Willow", "Green", "2022-01-04", "female"),
    ("Yusuf", "Ali", "2014-04-04", "male"), ("Zara", "Hussain", "2017-10-31", "female"),
]


def demo_child(index: int) -> dict[str, Any]:
    """A distinct demo child (the contact example's details under another name)."""
    given, family, born, gender = DEMO_CHILDREN[index % len(DEMO_CHILDREN)]
    return dict(copy.deepcopy(SINGLE_CHILD["children"][0]), given_name=given, family_name=family,
                date_of_birth=born, gender=gender)


def contact_payload(scenario: Scenario, received_on: date, child_index: int | None = None) -> dict[str, Any]:
    payload = copy.deepcopy(FORM_EXAMPLES["contact.json"])
    payload.update(copy.deepcopy(SINGLE_CHILD))
    if child_index is not None:
        payload["children"] = [demo_child(child_index)]
    payload.update(copy.deepcopy(scenario.contact))
    payload["received_on"] = received_on.isoformat()
    for person in [*payload.get("children", []), *payload.get("family_members", [])]:
        _born_by(person, received_on)
    return payload


def _born_by(person: dict[str, Any], day: date) -> None:
    """A demo person born after ``day`` (a contact dated years back, as the benchmark's long plans are)
    is made the same age a whole number of years earlier: nobody is born after the contact about them."""
    if not person.get("date_of_birth"):
        return
    born = date.fromisoformat(person["date_of_birth"])
    if born > day:
        years = born.year - day.year + 1
        person["date_of_birth"] = (born - relativedelta(years=years)).isoformat()


def ensure_demo_users(service: Safeguarding, password: str | None = DEMO_PASSWORD) -> dict[str, str]:
    """Create the demo users that do not exist yet; returns role -> first username holding it."""
    for username, full_name, roles, team in DEMO_USERS:
        if User.get_or_none(User.username == username) is None:
            add_user(username, full_name, roles, service.clock.now(), password=password, team=team)
    by_role: dict[str, str] = {}
    for username, _name, roles, _team in DEMO_USERS:
        for role in roles:
            by_role.setdefault(role, username)
    return by_role


def drive_case(service: Safeguarding, clock: FixedClock, case_id: int, scenario: Scenario,
               users_by_role: dict[str, str], on_step: Callable[[Case, Task], None] | None = None,
               max_steps: int = 80) -> Case:
    """Complete the case's tasks as the scenario says, one working day apart, until none is left."""
    used: dict[str, int] = {}
    requested = False
    calendar = service.engine.calendar
    for _ in range(max_steps):
        task = _next_task(case_id, scenario)
        if task is None or task.bpmn_id == scenario.stop_before:
            break
        today = calendar.add_working_days(clock.now().date(), 1)
        booked = _booked_for(case_id, task.bpmn_id)  # a conference is held on the day it was booked for
        if booked and booked > today:
            today = booked
        clock.set(datetime.combine(today, time(10, 0), tzinfo=timezone.utc))
        overrides = scenario.overrides(task.bpmn_id, used)
        username = task.assignee.username if task.assignee else users_by_role[task.role]
        prefill = {"agency": task.role.removeprefix("mash_")} if task.bpmn_id == "mash_check" else {}
        form = build_form(task.form_name, overrides, today, calendar, prefill)
        if booked and "held_on" in form:  # booked for a day already behind the drive: recorded late
            form["held_on"] = booked.isoformat()
        result = service.complete_task(task.id, username, form, token=task.token)
        if on_step:
            on_step(result.case, task)
        if scenario.strategy_request_after == task.bpmn_id and not requested:
            requested = True
            service.request_strategy_discussion(case_id, users_by_role["social_worker"],
                                                "New injury reported by school during the plan")
    return Case.get_by_id(case_id)


def _booked_for(case_id: int, bpmn_id: str) -> date | None:
    """The day the conference a holding task records was booked for (None for any other task)."""
    if bpmn_id not in HOLDING_TASKS:
        return None
    booking = (Conference.select(Conference.scheduled_for)
               .where(Conference.case == case_id, Conference.kind == HOLDING_TASKS[bpmn_id],
                      Conference.status == "scheduled").order_by(Conference.id.desc()).first())
    return booking.scheduled_for if booking else None


def _next_task(case_id: int, scenario: Scenario) -> Task | None:
    tasks = list(Task.select().where(Task.case == case_id).order_by(Task.created_at, Task.id))
    for task in tasks:
        if task.bpmn_id == scenario.stop_before:
            return task
    return next((task for task in tasks if scenario.wants(task.bpmn_id)), None)


def demo_start(today: date) -> date:
    """A Monday about eleven months back: whole plans fit before today, and a child referred
    then and again today is a re-referral within 12 months."""
    start = today - timedelta(days=330)
    return start - timedelta(days=start.weekday())


def run_demo(app) -> Iterator[str]:
    """Create demo users and drive one case down every path; yields a line per case."""
    service: Safeguarding = app.service
    if Case.select().count() and User.get_or_none(User.username == "cads.sw") is not None:
        yield f"demo data already present ({Case.select().count()} cases); delete instance/ to start again"
        return
    real_today = app.clock.now().date()
    clock = FixedClock(datetime.combine(demo_start(real_today), time(9, 0), tzinfo=timezone.utc))
    service.clock = clock
    users = ensure_demo_users(service)
    yield f"demo users (password '{DEMO_PASSWORD}'): " + ", ".join(u for u, *_ in DEMO_USERS)
    for offset, scenario in enumerate(SCENARIOS + LIVE_SCENARIOS):
        start = service.engine.calendar.add_working_days(demo_start(real_today), offset)
        if scenario.days_ago is not None:
            start = real_today - timedelta(days=scenario.days_ago)
            start -= timedelta(days=max(0, start.weekday() - 4))  # a weekend contact is dated the Friday
        clock.set(datetime.combine(start, time(9, 0), tzinfo=timezone.utc))
        cases = service.record_contact(contact_payload(scenario, start, offset), users["contact_officer"])
        for case in cases:
            final = drive_case(service, clock, case.id, scenario, users)
            if scenario.name == RESTRICTED_DEMO[0]:
                _name, manager, named, reason = RESTRICTED_DEMO
                restrict_case(final.id, manager, reason, named, clock.now())
                yield f"{'':<24} case {final.reference} restricted by {manager}: only {', '.join([manager, *named])} may see it"
            open_tasks = ", ".join(t.name for t in Task.select().where(Task.case == final.id)) or "none"
            yield (f"{scenario.name:<24} case {final.reference} {final.child.display_name:<14} "
                   f"{final.status:<7} stage: {final.stage}; open tasks: {open_tasks}"
                   + ("  [re-referral within 12 months]" if final.re_referral else ""))
    clock.set(datetime.combine(real_today, time(9, 0), tzinfo=timezone.utc))
    moved = service.fire_due_timers(clock.now())
    yield f"timer worker at {real_today.isoformat()}: escalations opened on {moved} case(s) with passed deadlines"
    service.clock = app.clock


LIVE_SCENARIOS: list[Scenario] = [  # left open so every inbox has work
    Scenario("live_awaiting_decision", _defaults(), stop_before="cads_decision", expect_status="open", days_ago=0),
    Scenario("live_in_assessment", {**_defaults(), "cads_decision": [{"decision": "assessment"}]},
             stop_before="assessment", expect_status="open", days_ago=12),
    Scenario("live_mash_checks", {**_defaults(), "cads_decision": [
        {"decision": "mash_checks", "mash_agencies": ["police", "health", "education"]}]},
             stop_before="mash_check", expect_status="open", days_ago=1),
    Scenario("live_awaiting_icpc", {**_defaults(), **{k: [v] for k, v in CP_PATH.items()}},
             stop_before="schedule_icpc", expect_status="open", days_ago=6),
    Scenario("live_sibling_group", _defaults(), stop_before="cads_decision", expect_status="open", days_ago=1,
             contact={"children": [dict(demo_child(0), given_name=name, family_name="Walker", date_of_birth=born)
                                   for name, born in (("Ruby", "2014-02-11"), ("Sam", "2016-08-30"),
                                                      ("Tia", "2020-05-05"))]}),
    Scenario("live_re_referral", _defaults(), stop_before="cads_decision", expect_status="open", days_ago=0,
             contact={"children": [demo_child(0)]}),
    Scenario("live_cp_plan", {**_defaults(), **{k: [v] for k, v in CP_PATH.items()},
                              "icpc": [{"outcome": "cp_plan", "categories": ["neglect"]}]},
             stop_before="review_conference", expect_status="open", days_ago=35),
]
