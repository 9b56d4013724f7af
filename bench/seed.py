"""Seeding a benchmark database fast: a few template cases per stage are driven through the
real engine and store, then their rows are copied in bulk with fresh ids.

A copy keeps everything the product reads (case row, workflow state, task projection,
chronology, conferences, review dates); the open tasks get fresh ids, rewritten in the stored
workflow state too, so every copy can be worked like the template. Copies are not written to
the hash-chained audit (that would need each entry in turn); the templates are.
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable

from engine import FixedClock
from store.db import database, is_postgres
from store.demo import (CP_PATH, SCENARIOS, Scenario, _defaults, contact_payload, demo_child, drive_case,
                        ensure_demo_users)
from store.models import (Case, CaseState, ChronologyEntry, Conference, Contact, Person, ReviewConference, Task,
                          User, UserRole)
from store.users import add_user

BATCH = 2000
_UUID = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
START = date(2026, 1, 5)  # templates start on a Monday of the benchmark's fixed calendar


def _open(name: str, stop_before: str, **choices) -> Scenario:
    merged = {**_defaults(), **{k: v if isinstance(v, list) else [v] for k, v in choices.items()}}
    return Scenario(name, merged, stop_before=stop_before, expect_status="open")


CP_OPEN = {k: v for k, v in CP_PATH.items()}
# (scenario, share of the caseload): every stage of the lifecycle, weighted towards where cases wait.
STAGES: list[tuple[Scenario, float]] = [
    (_open("awaiting_cads_decision", "cads_decision"), 0.18),
    (_open("mash_checks", "mash_check", cads_decision={"decision": "mash_checks"}), 0.06),
    (_open("in_assessment", "assessment", cads_decision={"decision": "assessment"}), 0.22),
    (_open("strategy_discussion", "strategy_discussion", cads_decision={"decision": "strategy_discussion"}), 0.04),
    (_open("section47", "section47_enquiry", cads_decision={"decision": "strategy_discussion"},
           strategy_discussion={"outcome": "section47_single"}), 0.04),
    (_open("awaiting_icpc", "schedule_icpc", **CP_OPEN), 0.03),
    (_open("cp_plan_core_group", "core_group_meeting", **CP_OPEN, icpc={"outcome": "cp_plan", "categories": ["neglect"]}), 0.08),
    (_open("cp_plan_review", "review_conference", **CP_OPEN, icpc={"outcome": "cp_plan", "categories": ["neglect"]}), 0.04),
    (_open("cin_plan", "end_cin_plan", cads_decision={"decision": "assessment"}, assessment={"outcome": "cin_plan"}), 0.10),
    (_open("early_help", "early_help_referral", cads_decision={"decision": "early_help"}), 0.03),
    (_open("lado", "lado_outcome", cads_decision={"decision": "lado"}, lado_initial_consideration={"threshold_met": True}), 0.02),
    (_open("contextual", "contextual_review", cads_decision={"decision": "contextual"},
           contextual_conference={"outcome": "contextual_plan"}), 0.02),
] + [(s, 0.14 / 4) for s in SCENARIOS if s.name in ("nfa", "assessment_cin_plan", "cp_plan_two_reviews", "s47_not_substantiated")]


CHAIRS = 20  # independent chairs besides the demo's: a large authority's conferences are shared out


def users(service) -> dict[str, str]:
    """The demo users (role -> username) and the benchmark's chairs, without passwords."""
    by_role = ensure_demo_users(service, password=None)
    for n in range(1, CHAIRS + 1):
        if User.get_or_none(User.username == f"chair.bench{n:02d}") is None:
            add_user(f"chair.bench{n:02d}", f"Bench Chair {n}", ["conference_chair"], service.clock.now(),
                     team="Safeguarding and quality")
    return by_role


def drive_template(service, scenario: Scenario, by_role: dict[str, str], start: date = START,
                   review: int = 1, settled: bool = False) -> int:
    """One case driven through the real engine and store down ``scenario``; its id.

    With ``review`` > 1 (a plan waiting for its review conference), the earlier reviews are
    held first, each continuing the plan: the case is then at its ``review``-th review.
    ``settled``: everything else the scenario completes is done, so the case waits at
    ``scenario.stop_before`` with only the work that runs beside it (a plan's core group meeting,
    which repeats until the plan ends). The drive stops as soon as that task opens, whatever else is
    open then: the case-age section compares the same step at the first and the twentieth review,
    so its templates are settled.
    """
    clock = FixedClock(datetime.combine(start, time(9, 0), tzinfo=timezone.utc))
    previous, service.clock = service.clock, clock
    try:
        [case] = service.record_contact(contact_payload(scenario, start, 0), by_role["contact_officer"])
        drive_case(service, clock, case.id, scenario, by_role, max_steps=400)
        if review > 1:
            held = {"n": 0}

            def count(_case, task) -> None:
                held["n"] += task.bpmn_id == "review_conference"
                if held["n"] == review - 1:
                    raise _Enough

            try:
                drive_case(service, clock, case.id, dataclasses.replace(scenario, stop_before=None), by_role,
                           on_step=count, max_steps=100 * review)
            except _Enough:
                pass
            drive_case(service, clock, case.id, scenario, by_role, max_steps=400)
        if settled:  # everything else the scenario completes, leaving its stopping task open
            others = {k: v for k, v in scenario.choices.items() if k != scenario.stop_before}
            drive_case(service, clock, case.id, dataclasses.replace(scenario, choices=others, stop_before=None),
                       by_role, max_steps=20)
    finally:
        service.clock = previous
    return case.id


class _Enough(Exception):
    """Enough reviews held."""


def long_plan() -> Scenario:
    """A child protection plan that each review conference continues."""
    return _open("long_plan", "review_conference", **CP_OPEN, icpc={"outcome": "cp_plan", "categories": ["neglect"]},
                 review_conference={"outcome": "continue_plan", "categories": ["neglect"]})


class Copier:
    """Copies template cases with fresh ids in bulk: rows that change little are copied inside the
    database (INSERT ... SELECT, executemany); the workflow state and the open tasks in Python."""

    MODELS = (Person, Contact, Case, ChronologyEntry, Conference, ReviewConference)

    def __init__(self) -> None:
        self._ids = {model: 0 for model in self.MODELS}
        self._chairs: list[int] = []

    def copy(self, template_id: int, count: int, day_spread: int = 180) -> list[int]:
        """``count`` copies of the case ``template_id``; returns their ids."""
        for model in self.MODELS:  # rows made through the service since the last copy come first
            self._ids[model] = max(self._ids[model], _next_id(model))
        self._chairs = self._chairs or [u.id for u in User.select(User.id).join(UserRole).where(
            UserRole.role == "conference_chair").order_by(User.id)]
        case = _row(Case, Case.id == template_id)
        state = _row(CaseState, CaseState.case == template_id)["state"]
        tasks = _rows(Task, Task.case == template_id)
        pieces = _UUID.split(state)  # text, id, text, id, ...: every workflow task id is given a fresh one per copy
        keys = set(pieces[1::2])
        conferences = _rows(Conference, Conference.case == template_id)
        made: list[int] = []
        for first in range(0, count, BATCH):
            rows: dict[Any, list] = {m: [] for m in (Person, Contact, Case, CaseState, Task, ChronologyEntry,
                                                     Conference, ReviewConference)}
            for n in range(first, min(count, first + BATCH)):
                shift = timedelta(days=(n * 7919) % day_spread)  # spread dates over the half year
                person_id, contact_id, case_id = (self._take(Person), self._take(Contact), self._take(Case))
                child = demo_child(n)
                rows[Person].append((person_id, child["given_name"], f"{child['family_name']}{n}", case["child"]))
                rows[Contact].append((contact_id, case["contact"]))
                rows[Case].append((case_id, person_id, contact_id, f"contact-{contact_id}", 1, None, template_id))
                rows[ChronologyEntry].append((case_id, template_id))
                rows[ReviewConference].append((case_id, template_id))
                fresh = {old: str(uuid.uuid4()) for old in keys}
                rows[CaseState].append({"case": case_id, "state": "".join(
                    fresh[part] if index % 2 else part for index, part in enumerate(pieces))})
                for task in tasks:
                    new_id = fresh[task["id"]]
                    token = f"{new_id.replace('-', '')[:12]}-{task['token'].split('-', 1)[1]}"  # as engine.cases._token
                    rows[Task].append({**task, "id": new_id, "token": token, "case": case_id,
                                       "due": task["due"] + shift if task["due"] else None})
                booked = timedelta(days=(n * 7919) % 730)  # conferences over two years, shared by the chairs
                rows[Conference] += [{**c, "id": self._take(Conference), "case": case_id,
                                      "chair": self._chairs[n % len(self._chairs)] if c["chair"] else None,
                                      "scheduled_for": c["scheduled_for"] + booked if c["scheduled_for"] else None,
                                      "held_on": c["held_on"] + booked if c["held_on"] else None}
                                     for c in conferences]
                made.append(case_id)
            with database.atomic():
                _clone(Person, ("id", "given_name", "family_name"), rows[Person])
                _clone(Contact, ("id",), rows[Contact])
                _clone(Case, ("id", "child_id", "contact_id", "sibling_group", "version", "previous_case_id"),
                       rows[Case])
                for model, found in rows.items():
                    if model in (Person, Contact, Case):
                        continue
                    if model in (ChronologyEntry, ReviewConference):
                        _clone(model, ("case_id",), found, by="case_id")
                    else:
                        _insert(model, found)
        if is_postgres():
            for model in self._ids:
                table = model._meta.table_name
                database.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                     f"(SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))")
        return made

    def _take(self, model) -> int:
        self._ids[model] += 1
        return self._ids[model]


def _clone(model, replaced: tuple[str, ...], rows: list[tuple], by: str = "id") -> None:
    """Copy rows inside the database: each row tuple gives the ``replaced`` columns' values, then
    the ``by`` key of the rows to copy (ids are fresh ones given, or the database's when ``by`` is
    not the id)."""
    if not rows:
        return
    columns = [f.column_name for f in model._meta.sorted_fields
               if not (by != "id" and f is model._meta.primary_key)]
    chosen = ", ".join(database.param if c in replaced else f'"{c}"' for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    table = model._meta.table_name
    order = [c for c in columns if c in replaced]
    if order != list(replaced):
        raise ValueError(f"replaced columns of {table} must follow the table's order: {order}")
    sql = f'INSERT INTO "{table}" ({names}) SELECT {chosen} FROM "{table}" WHERE "{by}" = {database.param}'
    database.cursor().executemany(sql, rows)


def seed(service, by_role: dict[str, str], total: int, templates: dict[str, int] | None = None,
         copier: Copier | None = None) -> dict[str, int]:
    """Bring the database to ``total`` cases spread over every stage; returns the templates by stage name."""
    templates = templates if templates is not None else {}
    for offset, (scenario, _share) in enumerate(STAGES):
        if scenario.name not in templates:
            templates[scenario.name] = drive_template(service, scenario, by_role,
                                                      START + timedelta(days=7 * offset))
    copier = copier or Copier()
    missing = total - Case.select().count()
    for scenario, share in STAGES:
        wanted = int(round(missing * share))
        if wanted > 0:
            copier.copy(templates[scenario.name], wanted)
    return templates


def _next_id(model) -> int:
    return model.select(model.id).order_by(model.id.desc()).limit(1).scalar() or 0


def _row(model, condition) -> dict:
    return model.select().where(condition).dicts().get()


def _rows(model, condition) -> list[dict]:
    return list(model.select().where(condition).order_by(model._meta.primary_key).dicts())


def _insert(model, rows: Iterable[dict]) -> None:
    rows = list(rows)
    if not rows:
        return
    fields = model._meta.sorted_fields
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join([database.param] * len(fields))
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
    values = [tuple(f.db_value(row.get(f.name)) for f in fields) for row in rows]
    cursor = database.cursor()
    cursor.executemany(sql, values)

STAGES_BY_NAME = {scenario.name: scenario for scenario, _share in STAGES}
