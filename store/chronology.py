"""The chronology's day each thing happened, for entries written before it was kept (migration 7).

Each entry gets the day engine/chronology.py gives a new one: a completed form's date, a missed
deadline's due date, a case's referral date for its start, the day of the step's event for a
deadline it set, otherwise the day it was recorded in England. Entries of one step share their
``at``, so a step's event is found among the entries of the same case and moment. The text of
old entries is left as written: the chronology is a record.
"""
from __future__ import annotations

from datetime import date, datetime
from itertools import groupby

from engine.calendar import local_date
from engine.chronology import happened_on

from .models import Case, ChronologyEntry
from .timeutil import from_db

CASES_AT_ONCE = 500
IDS_AT_ONCE = 500  # ids in one UPDATE's IN list (well under any database's limit on parameters)
_STEP_EVENTS = ("task_completed", "case_started")  # what a step's other entries follow from


def backfill_happened_on(now: datetime | None = None) -> None:
    """Give every entry without a ``happened_on`` the day it happened, a few hundred cases at a time."""
    last = 0
    while True:
        cases = list(Case.select(Case.id, Case.referral_date).where(Case.id > last)
                     .order_by(Case.id).limit(CASES_AT_ONCE).tuples())
        if not cases:
            return
        last = cases[-1][0]
        referrals = dict(cases)
        rows = (ChronologyEntry.select(ChronologyEntry.id, ChronologyEntry.case, ChronologyEntry.at,
                                       ChronologyEntry.kind, ChronologyEntry.details)
                .where(ChronologyEntry.case.in_(list(referrals)), ChronologyEntry.happened_on.is_null())
                .order_by(ChronologyEntry.case, ChronologyEntry.at, ChronologyEntry.id))
        days: dict[date, list[int]] = {}
        for (case_id, _at), step in groupby(rows, key=lambda e: (e.case_id, e.at)):
            for entry_id, day in _step_days(list(step), referrals[case_id]):
                days.setdefault(day, []).append(entry_id)
        for day, ids in days.items():
            for first in range(0, len(ids), IDS_AT_ONCE):
                (ChronologyEntry.update(happened_on=day)
                 .where(ChronologyEntry.id.in_(ids[first:first + IDS_AT_ONCE])).execute())


def _step_days(step: list[ChronologyEntry], referral_date: date | None) -> list[tuple[int, date]]:
    """(id, day it happened) for the entries one step wrote."""
    recorded_on = local_date(from_db(step[0].at))
    found = {e.kind: happened_on(e.kind, e.details or {}, recorded_on, referral_date=referral_date)
             for e in step if e.kind in _STEP_EVENTS}
    step_on = found.get("task_completed") or found.get("case_started")
    return [(e.id, happened_on(e.kind, e.details or {}, recorded_on, step_on, referral_date)) for e in step]


__all__ = ["backfill_happened_on"]
