"""A demo collection year: every lifecycle path, spread over the year, with complete census data.

Children carry what the census needs (valid unique UPNs or a reason code, sex, ethnicity,
disabilities, referral sources), and the year holds the awkward cases: a plan open on 1 April,
a re-referral, a second child protection plan, an unborn child and work open across 31 March.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterator

from engine import FixedClock

from ..cases import Safeguarding
from ..demo import SCENARIOS, Scenario, contact_payload, drive_case, ensure_demo_users
from ..models import User
from ..users import add_user
from . import collection_period

ETHNICITIES = ["WBRI", "WIRI", "WIRT", "WROM", "WOTH", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN",
               "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT"]
DISABILITIES = [["NONE"], ["MOB"], ["NONE"], ["HAND", "PC"], ["NONE"], ["INC"], ["COMM", "LD"], ["NONE"],
                ["HEAR"], ["VIS"], ["BEH", "AUT"], ["CON"], ["DDA"], ["NONE"]]
SOURCES = ["1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F", "4", "5A", "5B", "5C", "5D",
           "6", "7", "8", "9", "10"]
GIVEN = ["Amara", "Bilal", "Cara", "Dylan", "Esme", "Felix", "Gina", "Hugo", "Iris", "Jonah", "Kira", "Liam",
         "Mia", "Nico", "Orla", "Pavel", "Queenie", "Rafi", "Saskia", "Tomas", "Uma", "Vinnie", "Wren", "Xander"]
FAMILY = ["Abbott", "Bello", "Chen", "Doyle", "Eze", "Fox", "Gill", "Hart", "Ince", "Jones", "Khan", "Lowe"]
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # the DfE check letters (no I, O or S)
LA_CODE = "926"
EXTRA_WORKER = ("sw.kai", "Kai Brennan", ["social_worker"], "Great Yarmouth locality")


def upn(serial: int, la_code: str = LA_CODE, year: int = 10) -> str:
    """A valid unique pupil number: check letter, LA code, establishment year and serial, digit 13."""
    body = f"{la_code}{year:02d}{serial:05d}{serial % 10}"[:12].ljust(12, "0")
    total = sum(int(ch) * weight for ch, weight in zip(body, range(2, 14)))
    return UPN_LETTERS[total % 23] + body


def census_child(index: int, reference_date: date) -> dict[str, Any]:
    """A distinct child with every census field: school-age children have a UPN, infants UN1."""
    born = reference_date - timedelta(days=400 + index * 173 % 5800)
    child: dict[str, Any] = {
        "given_name": GIVEN[index % len(GIVEN)], "family_name": f"{FAMILY[index % len(FAMILY)]}-{index}",
        "unborn": False, "date_of_birth": born.isoformat(), "gender": ("female", "male")[index % 2],
        "ethnicity": ETHNICITIES[index % len(ETHNICITIES)], "disability": DISABILITIES[index % len(DISABILITIES)],
        "address": f"{index + 1} Orchard Close, Norwich", "postcode": "NR3 2AB", "current_location": "At home"}
    if (reference_date - born).days > 5 * 365:
        child["upn"] = upn(index + 1)
    else:
        child["upn_unknown"] = "UN1"
    return child


def unborn_child(index: int, expected: date) -> dict[str, Any]:
    return {"family_name": f"{FAMILY[index % len(FAMILY)]}-{index}", "unborn": True,
            "expected_date_of_birth": expected.isoformat(), "gender": "unknown", "ethnicity": "NOBT",
            "disability": ["NONE"], "upn_unknown": "UN1", "address": "3 Mill Lane, Norwich",
            "postcode": "NR2 4AA"}


def _by_name(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


def year_plan(year: int) -> list[tuple[date, Scenario, int]]:
    """(referral date, scenario, child index) for the demo year, in date order.

    Every scenario twice across the year, then the edge cases: a plan begun in the previous year,
    a re-referral and a second plan for the same children, an unborn child, and cases still open
    on 31 March (an assessment, a child in need plan, a child protection plan awaiting review).
    """
    start, end = collection_period(year)
    plan: list[tuple[date, Scenario, int]] = []
    rounds = SCENARIOS * 2
    for i, scenario in enumerate(rounds):
        plan.append((start + timedelta(days=7 + i * 300 // len(rounds)), scenario, i))
    n = len(rounds)
    plan += [
        (start - timedelta(days=50), _by_name("cp_plan_two_reviews"), n),           # plan open on 1 April
        (start + timedelta(days=30), _by_name("assessment_cin_plan"), n + 1),      # ... re-referred below
        (start + timedelta(days=200), _by_name("assessment_cin_plan"), n + 1),
        (start + timedelta(days=45), _by_name("cp_plan_two_reviews"), n + 2),      # first plan ...
        (start + timedelta(days=230), _by_name("cp_plan_two_reviews"), n + 2),     # ... and a second
        (end - timedelta(days=60), replace(_by_name("assessment_cin_plan"), stop_before="end_cin_plan"), -1),
        (end - timedelta(days=25), replace(_by_name("assessment_cin_plan"), stop_before="assessment"), n + 3),
        (end - timedelta(days=20), replace(_by_name("cp_plan_two_reviews")), n + 4),  # reviews after 31 March
    ]
    return sorted(plan, key=lambda item: item[0])


def run_demo_year(service: Safeguarding, year: int) -> Iterator[str]:
    """Drive the demo year's cases (the service's clock is moved and restored); a line per case."""
    original = service.clock
    clock = FixedClock(datetime.combine(collection_period(year)[0], time(9, 0), tzinfo=timezone.utc))
    service.clock = clock
    try:
        users = ensure_demo_users(service)
        if User.get_or_none(User.username == EXTRA_WORKER[0]) is None:
            add_user(*EXTRA_WORKER[:3], clock.now(), password=None, team=EXTRA_WORKER[3])
        end = collection_period(year)[1]
        for number, (day, scenario, index) in enumerate(year_plan(year)):
            while not service.engine.calendar.is_working_day(day):
                day += timedelta(days=1)
            clock.set(datetime.combine(day, time(9, 0), tzinfo=timezone.utc))
            payload = contact_payload(scenario, day)
            child = unborn_child(number, end + timedelta(days=45)) if index < 0 else census_child(index, end)
            payload["children"] = [child]
            payload["referral_source"] = SOURCES[number % len(SOURCES)]
            workers = dict(users, social_worker=EXTRA_WORKER[0] if number % 3 == 0 else users["social_worker"])
            for case in service.record_contact(copy.deepcopy(payload), users["contact_officer"]):
                final = drive_case(service, clock, case.id, scenario, workers)
                yield (f"{day.isoformat()} {scenario.name:<24} case {final.reference} {final.child.display_name:<18} "
                       f"{final.status:<7} {final.stage}" + ("  [re-referral]" if final.re_referral else ""))
    finally:
        service.clock = original
