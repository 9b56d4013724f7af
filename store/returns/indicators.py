"""Timeliness indicators (docs/process.md) by month and team, counted by the database.

Each indicator is a grouped query over the statutory date columns: per day of its event and the
case's team, how many cases count and how many meet the indicator's condition (for the last three, the
condition is the thing to keep low: a re-referral, a plan of 2 years or more, a second plan).
Nothing is loaded into Python but the grouped counts, and the drill-down pages list the cases
behind one figure with the same conditions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from peewee import SQL, fn
from peewee import Case as SqlCase

from ..db import database, is_postgres
from ..models import Case, Conference, Team
from . import is_referral


@dataclass(frozen=True)
class Indicator:
    """One indicator: what it counts, when (the event date), and what meeting it means."""

    key: str
    title: str
    counted: str  # what the denominator counts
    meets: str  # what the numerator counts
    higher_is_better: bool
    source: Callable[[], Any]  # the model whose rows are counted (Case or Conference)
    event: Callable[[], Any]  # the date column that places a row in a month
    base: Callable[[], Any]  # which rows count
    met: Callable[[], Any]  # which of them meet the condition


def _case():
    return Case


def _plus_years(column, years: int):
    """``column`` + ``years`` years, in the database's own date arithmetic."""
    if is_postgres():
        return column + SQL(f"interval '{int(years)} years'")
    return fn.date(column, f"+{int(years)} years")


def _earlier_plan():
    previous = Case.alias("previous")
    return fn.EXISTS(previous.select(SQL("1")).where(previous.child == Case.child,
                                                     previous.cp_plan_started_on < Case.cp_plan_started_on))


INDICATORS: dict[str, Indicator] = {i.key: i for i in [
    Indicator("decisions", "Referrals decided within 1 working day", "contacts decided",
              "decided by the end of the next working day", True, _case, lambda: Case.cads_decision_on,
              lambda: Case.cads_decision_on.is_null(False),
              lambda: Case.cads_decision_on <= Case.cads_decision_due),
    Indicator("assessments", "Assessments within 45 working days", "assessments authorised",
              "authorised within 45 working days of the referral", True, _case,
              lambda: Case.assessment_authorised_on, lambda: Case.assessment_authorised_on.is_null(False),
              lambda: Case.assessment_authorised_on <= Case.assessment_due),
    Indicator("icpcs", "Initial conferences within 15 working days", "initial child protection conferences held",
              "held within 15 working days of the initiating strategy discussion", True, _case,
              lambda: Case.icpc_held_on, lambda: Case.icpc_held_on.is_null(False),
              lambda: Case.icpc_held_on <= Case.icpc_due),
    Indicator("reviews", "Review conferences on time", "review conferences held", "held by their due date",
              True, lambda: Conference, lambda: Conference.held_on,
              lambda: (Conference.kind == "review") & Conference.held_on.is_null(False),
              lambda: Conference.held_on <= Conference.due),
    Indicator("re_referrals", "Re-referrals within 12 months", "referrals",
              "within 12 months of a previous referral", False, _case, lambda: Case.referral_date,
              is_referral, lambda: Case.re_referral == True),  # noqa: E712 - a SQL condition
    Indicator("long_plans", "Plans lasting 2 years or more", "child protection plans ended",
              "had lasted 2 years or more", False, _case, lambda: Case.cp_plan_ended_on,
              lambda: Case.cp_plan_ended_on.is_null(False) & Case.cp_plan_started_on.is_null(False),
              lambda: Case.cp_plan_ended_on >= _plus_years(Case.cp_plan_started_on, 2)),
    Indicator("second_plans", "Second or later plans", "child protection plans started",
              "a second or later plan for the child", False, _case, lambda: Case.cp_plan_started_on,
              lambda: Case.cp_plan_started_on.is_null(False), _earlier_plan),
]}


def _query(indicator: Indicator, first: date, last: date, *columns):
    source = indicator.source()
    event = indicator.event()
    query = source.select(*columns)
    if source is Conference:
        query = query.join(Case, on=(Conference.case == Case.id))
    return query.where(event.between(first, last), indicator.base())


@dataclass
class Figure:
    """One cell: the month, the team (None: no team), how many counted and how many met."""

    month: str
    team_id: int | None
    total: int
    met: int


def percent(met: int, total: int) -> float | None:
    """The share met, to one decimal place; None when nothing was counted."""
    return round(100.0 * met / total, 1) if total else None


def figures(key: str, first: date, last: date) -> list[Figure]:
    """The indicator's counts by month and team between ``first`` and ``last``.

    The database counts per day and team in one grouped query (which streams in the order of the
    indicator's index); the days, a few hundred rows, are then added up into months.
    """
    indicator = INDICATORS[key]
    event, team = indicator.event(), Case.team
    met = fn.SUM(SqlCase(None, [(indicator.met(), 1)], 0))
    query = (_query(indicator, first, last, event.alias("day"), team.alias("team"),
                    fn.COUNT(SQL("*")).alias("total"), met.alias("met")).group_by(event, team))
    rows = database.execute(query).fetchall()  # raw rows: a day is 'YYYY-MM-DD' text or a date
    months: dict[tuple[str, int | None], Figure] = {}
    for day, team_id, total, met_count in rows:
        month = str(day)[:7]
        cell = months.setdefault((month, team_id), Figure(month, team_id, 0, 0))
        cell.total += int(total)
        cell.met += int(met_count or 0)
    return sorted(months.values(), key=lambda f: (f.month, f.team_id or 0))


def cases_behind(key: str, first: date, last: date, team_id: int | None = None, met: bool | None = None,
                 any_team: bool = True, limit: int = 500) -> list[int]:
    """Ids of the cases behind a figure: in the period, of one team (or all), meeting it or not."""
    indicator = INDICATORS[key]
    query = _query(indicator, first, last, Case.id)
    if not any_team:
        team = Case.team
        query = query.where(team.is_null() if team_id is None else team == team_id)
    if met is not None:  # a condition on a missing date counts as not met, as in the figures
        query = query.where(SqlCase(None, [(indicator.met(), 1)], 0) == (1 if met else 0))
    return [row[0] for row in query.order_by(indicator.event(), Case.id).limit(limit).tuples()]


def team_names() -> dict[int, str]:
    return {t.id: t.name for t in Team.select()}


def month_bounds(month: str) -> tuple[date, date]:
    """The first and last day of a 'YYYY-MM' month (ValueError when it is not one)."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)
