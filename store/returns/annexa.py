"""Ofsted's Annex A lists 1 to 7 (the child-level lists an inspection asks for) as one workbook.

Each list is one sheet with Ofsted's columns: the six child columns every list starts with, then
the list's own. Dates are real spreadsheet dates (dd/mm/yyyy). Lists 1 to 5 hold what happened in
the period; lists 6 and 7 every child in need or on a plan at some point in it.
"""
from __future__ import annotations

import io
from datetime import date
from typing import Any, Iterable

from dateutil.relativedelta import relativedelta
from openpyxl import Workbook
from openpyxl.styles import Font

from peewee import fn

from ..models import Case, Contact, Person, ReviewConference, Team, User
from . import is_referral
from .cin import plan_starts

CHILD_COLUMNS = ["Child unique ID", "Gender", "Ethnicity", "Date of birth", "Age of child (years)",
                 "Does the child have a disability"]
GENDERS = {"male": "Male", "female": "Female", "unknown": "Not known", "indeterminate": "Indeterminate"}
CATEGORIES = {"NEG": "Neglect", "PHY": "Physical abuse", "SAB": "Sexual abuse", "EMO": "Emotional abuse",
              "MUL": "Multiple"}
EARLY_HELP = ("early_help", "family_help")


def _age(person: Person, on: date) -> int | None:
    """Age in whole years at ``on``; -1 for an unborn child, as Ofsted asks."""
    if person.date_of_birth is None:
        return -1 if person.expected_date_of_birth else None
    return relativedelta(on, person.date_of_birth).years


def _disabled(person: Person) -> str:
    codes = (person.details or {}).get("disability") or []
    if not codes:
        return "Not known"
    return "No" if codes == ["NONE"] else "Yes"


def _child(person: Person, on: date) -> list[Any]:
    return [f"CH{person.id}", GENDERS.get(person.gender or "", "Not known"), person.ethnicity or "NOBT",
            person.date_of_birth or person.expected_date_of_birth, _age(person, on), _disabled(person)]


class _Staff:
    """Team and worker names by id, read once for the whole workbook."""

    def __init__(self) -> None:
        self.teams = dict(Team.select(Team.id, Team.name).tuples())
        self.workers = dict(User.select(User.id, User.full_name).tuples())

    def of(self, case: Case) -> list[Any]:
        return [self.teams.get(case.team_id), self.workers.get(case.allocated_worker_id)]


def _cases(condition) -> Iterable[Case]:
    return (Case.select(Case, Person, Contact).join(Person, on=(Case.child == Person.id)).switch(Case)
            .join(Contact).where(condition).order_by(Case.referral_date, Case.id))


def _count_within_year(history: list[tuple], field: int) -> dict[int, int]:
    """For each case, how many of the child's other cases had date ``field`` of ``history`` rows
    (case id, child id, dates...) in the 12 months before its own."""
    by_child: dict[int, list[date]] = {}
    for row in history:
        if row[field]:
            by_child.setdefault(row[1], []).append(row[field])
    return {row[0]: sum(1 for d in by_child.get(row[1], []) if row[field] - relativedelta(months=12) <= d < row[field])
            for row in history if row[field]}


def annex_a_lists(first: date, last: date) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Sheet name -> (columns, rows) for lists 1 to 7 over ``first`` to ``last``."""
    in_period = lambda column: column.between(first, last)  # noqa: E731
    open_in_period = lambda start, end: (start <= last) & (end.is_null() | (end >= first))  # noqa: E731
    # The counts of the last 12 months need the cases of the 12 months before the period (24 to be sure).
    history = list(Case.select(Case.id, Case.child, Case.referral_date, Case.s47_started_on, Case.icpc_held_on)
                   .where(Case.referral_date.between(first - relativedelta(months=24), last)).tuples())
    referral_ids = {row[0] for row in Case.select(Case.id).where(
        Case.referral_date.between(first - relativedelta(months=24), last), is_referral()).tuples()}
    referrals = _count_within_year([row for row in history if row[0] in referral_ids], 2)
    s47s, icpcs = _count_within_year(history, 3), _count_within_year(history, 4)
    staff = _Staff()
    lists: dict[str, tuple[list[str], list[list[Any]]]] = {}
    lists["List 1 Contacts"] = (CHILD_COLUMNS + ["Date of contact", "Contact source"], [
        _child(c.child, last) + [c.contact.received_on, (c.contact.payload or {}).get("referral_source")]
        for c in _cases(in_period(Contact.received_on))])
    lists["List 2 Early help"] = (CHILD_COLUMNS + ["Early help start date", "Early help end date", "Organisation"], [
        _child(c.child, last) + [c.cads_decision_on or c.referral_date, c.closed_on, "Local authority early help"]
        for c in _cases((Case.cads_decision.in_(EARLY_HELP) | Case.assessment_outcome.in_(EARLY_HELP))
                        & open_in_period(Case.referral_date, Case.closed_on))])
    lists["List 3 Referrals"] = (CHILD_COLUMNS + [
        "Date of referral", "Referral source", "Referral resulting in no further action",
        "Number of referrals in the last 12 months", "Allocated team", "Allocated worker"], [
        _child(c.child, last) + [c.referral_date, (c.contact.payload or {}).get("referral_source"),
                                 "Yes" if c.nfa_at_referral else "No", referrals.get(c.id, 0)] + staff.of(c)
        for c in _cases(is_referral() & in_period(Case.referral_date))])
    lists["List 4 Assessments"] = (CHILD_COLUMNS + [
        "Assessment start date", "Assessment authorisation date",
        "Was the child assessed as requiring children's social care support", "Allocated team", "Allocated worker"], [
        _child(c.child, last) + [c.assessment_started_on, c.assessment_authorised_on,
                                 None if c.assessment_outcome is None else
                                 ("Yes" if c.assessment_outcome in ("cin_plan", "strategy_discussion") else "No")]
        + staff.of(c) for c in _cases(open_in_period(Case.assessment_started_on, Case.assessment_authorised_on))])
    lists["List 5 Section 47 and ICPC"] = (CHILD_COLUMNS + [
        "Strategy discussion initiating section 47 enquiry", "Date section 47 enquiry started",
        "Date of initial child protection conference", "ICPC target date", "ICPC not required",
        "Did the ICPC result in a child protection plan", "Number of section 47 enquiries in the last 12 months",
        "Number of ICPCs in the last 12 months", "Allocated team", "Allocated worker"], [
        _child(c.child, last) + [c.initiating_strategy_discussion_on, c.s47_started_on, c.icpc_held_on, c.icpc_due,
                                 "Yes" if c.icpc_not_required else "No",
                                 None if c.icpc_outcome is None else ("Yes" if c.icpc_outcome == "cp_plan" else "No"),
                                 s47s.get(c.id, 0), icpcs.get(c.id, 0)] + staff.of(c)
        for c in _cases(in_period(Case.s47_started_on) | in_period(Case.icpc_held_on))])
    lists["List 6 Children in need"] = (CHILD_COLUMNS + [
        "Date of referral", "Primary need code", "Case status", "Child in need plan start date",
        "Child in need plan end date", "Date case closed", "Allocated team", "Allocated worker"], [
        _child(c.child, last) + [c.referral_date, c.primary_need, _status(c, last), c.cin_plan_started_on,
                                 c.cin_plan_ended_on, c.closed_on] + staff.of(c)
        for c in _cases(is_referral() & ~Case.nfa_at_referral & open_in_period(Case.referral_date, Case.closed_on))])
    plans = list(_cases(open_in_period(Case.cp_plan_started_on, Case.cp_plan_ended_on)))
    starts = plan_starts({c.child_id for c in plans})
    reviews = dict(ReviewConference.select(ReviewConference.case, fn.MAX(ReviewConference.held_on))
                   .where(ReviewConference.case.in_([c.id for c in plans]), ReviewConference.held_on <= last)
                   .group_by(ReviewConference.case).tuples()) if plans else {}
    lists["List 7 Child protection"] = (CHILD_COLUMNS + [
        "Child protection plan start date", "Initial category of abuse", "Latest category of abuse",
        "Date of latest review conference", "Child protection plan end date", "Number of previous child protection plans",
        "Allocated team", "Allocated worker"], [
        _child(c.child, last) + [c.cp_plan_started_on, CATEGORIES.get(c.initial_category or ""),
                                 CATEGORIES.get(c.latest_category or ""), reviews.get(c.id), c.cp_plan_ended_on,
                                 sum(1 for d in starts.get(c.child_id, []) if d < c.cp_plan_started_on)] + staff.of(c)
        for c in plans])
    return lists


def _status(case: Case, on: date) -> str:
    if case.closed_on and case.closed_on <= on:
        return "Closed episode"
    if case.cp_plan_started_on and not case.cp_plan_ended_on:
        return "Child protection plan"
    if case.cin_plan_started_on and not case.cin_plan_ended_on:
        return "Child in need plan"
    if case.assessment_started_on and not case.assessment_authorised_on:
        return "Open assessment"
    return "Open case"


def annex_a_workbook(first: date, last: date) -> tuple[bytes, dict[str, int]]:
    """The workbook's bytes and the number of rows on each list."""
    book = Workbook()
    book.remove(book.active)
    counts = {}
    for name, (columns, rows) in annex_a_lists(first, last).items():
        sheet = book.create_sheet(title=name[:31])
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, date):
                    cell.number_format = "DD/MM/YYYY"
        counts[name] = len(rows)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), counts

