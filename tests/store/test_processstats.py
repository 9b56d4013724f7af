"""Process figures from the task projection and the chronology, hand-computed, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from store.demo import SCENARIOS, contact_payload, drive_case, ensure_demo_users
from store.models import ChronologyEntry
from store.processstats import (Waiting, deadlines_missed, newest_published, process_stats,
                                time_spent_at_tasks, waiting_at_tasks)

UTC = timezone.utc


def _scenario(name):
    return next(s for s in SCENARIOS if s.name == name)


def _record(app, users, scenario, at):
    app.clock.set(at)
    [case] = app.service.record_contact(contact_payload(_scenario(scenario), at.date()), users["contact_officer"])
    return case


@pytest.fixture
def users(app):
    return ensure_demo_users(app.service, password=None)


@pytest.fixture
def driven(app, users):
    """Four cases whose CADS decision each took a known time, one still waiting, one with MASH checks open.

    drive_case completes each task at 10:00 on the next working day (Tuesday 15 December 2026):
    recorded Monday 09:00 -> 25 h, 16:00 -> 18 h, 12:00 -> 22 h, and the MASH case 09:00 -> 25 h.
    """
    cases = {}
    for name, scenario, hour in (("a", "nfa", 9), ("b", "nfa", 16), ("c", "nfa", 12),
                                 ("mash", "mash_then_assessment", 9)):
        case = _record(app, users, scenario, datetime(2026, 12, 14, hour, 0, tzinfo=UTC))
        drive_case(app.service, app.clock, case.id, _scenario(scenario), users, max_steps=1)
        cases[name] = case
    cases["waiting"] = _record(app, users, "nfa", datetime(2026, 12, 15, 11, 0, tzinfo=UTC))
    return cases


def test_median_time_at_a_task_pairs_each_completion_with_its_opening(app, driven):
    spent, truncated = time_spent_at_tasks(since=None)
    assert not truncated
    cads = spent["cads_decision"]
    assert cads.completions == 4
    assert cads.median == timedelta(hours=23, minutes=30)  # median of 18, 22, 25, 25 hours


def test_waiting_counts_cases_and_each_mash_check_instance(app, driven):
    waiting = waiting_at_tasks()
    assert waiting["cads_decision"] == Waiting(cases=1, tasks=1)
    assert waiting["mash_check"] == Waiting(cases=1, tasks=4)  # one case, one check per agency


def test_window_and_row_limit_bound_the_query(app, driven):
    later = datetime(2026, 12, 15, 10, 0, tzinfo=UTC) + timedelta(minutes=1)
    spent, _ = time_spent_at_tasks(since=later)
    assert "cads_decision" not in spent
    spent, truncated = time_spent_at_tasks(since=None, limit=2)
    assert truncated and spent["cads_decision"].completions == 2


def test_missed_deadline_counted_after_the_timer_fires(app, driven):
    assert deadlines_missed(None) == {}
    # The CADS deadline (covering the MASH checks too) is the end of the first working day after
    # the referral: Tuesday 15 December for the MASH case, Wednesday 16 for the waiting case.
    app.clock.set(datetime(2026, 12, 16, 9, 0, tzinfo=UTC))
    assert app.service.fire_due_timers() == 1
    assert deadlines_missed(None) == {"cads_decision": 1}
    app.clock.set(datetime(2026, 12, 17, 9, 0, tzinfo=UTC))
    assert app.service.fire_due_timers() == 1
    assert deadlines_missed(None) == {"cads_decision": 2}
    missed = ChronologyEntry.select().where(ChronologyEntry.kind == "deadline_missed")
    assert {e.case_id for e in missed} == {driven["mash"].id, driven["waiting"].id}
    stats = process_stats(app.clock.now())
    assert stats.deadlines_missed == {"cads_decision": 2}
    assert stats.waiting["escalate_cads_decision"] == Waiting(cases=2, tasks=2)
    assert deadlines_missed(datetime(2026, 12, 18, tzinfo=UTC)) == {}


def test_newest_published_version(app):
    assert newest_published() is None
    diagrams = app.service.current_diagrams()
    assert newest_published().version == diagrams.version
