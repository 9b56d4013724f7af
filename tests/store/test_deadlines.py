"""Each statutory deadline is declared once (engine/deadlines.py); its column, its status on a case,
its words and its place in the API and the booking rules all follow from that declaration."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from engine import DEADLINE_KEYS, DEADLINES, WorkingDayCalendar
from store.conferences import SCHEDULING_TASKS
from store.models import Case
from store.views import STATUTORY_FIELDS, deadline_status

TODAY = date(2026, 12, 14)


@pytest.mark.parametrize("deadline", DEADLINES, ids=lambda d: d.key)
def test_every_column_a_deadline_names_is_a_case_column(deadline):
    columns = Case._meta.fields
    assert deadline.due_column == f"{deadline.key}_due" and deadline.due_column in columns
    assert deadline.counts_from in columns
    assert deadline.done_column is None or deadline.done_column in columns
    assert deadline.stopped_by is None or deadline.stopped_by[0] in columns
    assert deadline.due_column in STATUTORY_FIELDS  # the subject access pack and the API show it
    assert deadline.label and deadline.short_label


@pytest.mark.parametrize("deadline", DEADLINES, ids=lambda d: d.key)
def test_a_deadline_reads_from_its_declared_columns(deadline):
    calendar = WorkingDayCalendar()
    case = Case(status="open", **{deadline.due_column: date(2026, 12, 16)})
    assert deadline_status(case, deadline.key, TODAY, calendar)["status"] == "due: 2 working day(s) left"
    assert deadline_status(Case(status="open"), deadline.key, TODAY, calendar)["status"] == "not set"
    if deadline.done_column:
        setattr(case, deadline.done_column, date(2026, 12, 17))
        assert deadline_status(case, deadline.key, TODAY, calendar)["status"] == "missed (done 2026-12-17)"
        setattr(case, deadline.done_column, None)
    if deadline.stopped_by:
        setattr(case, deadline.stopped_by[0], True if deadline.stopped_by[0].endswith("required") else TODAY)
        assert deadline_status(case, deadline.key, TODAY, calendar)["status"] == deadline.stopped_by[1]


def test_the_keys_are_the_declarations_in_order():
    assert DEADLINE_KEYS == tuple(d.key for d in DEADLINES)
    assert len(set(DEADLINE_KEYS)) == len(DEADLINE_KEYS)


def test_conference_booking_uses_the_declared_due_columns():
    due_columns = {d.due_column for d in DEADLINES}
    assert {column for _kind, column in SCHEDULING_TASKS.values() if column} <= due_columns


def test_a_label_without_a_shipped_timescale_reads_as_the_label():
    deadline = replace(DEADLINES[0], timescale="")
    assert deadline.long_label == deadline.label
    assert DEADLINES[0].long_label == "CADS decision (1 working day)"
