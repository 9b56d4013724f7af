"""Working days across Christmas, New Year and Easter; months; end of day in GMT and BST."""
from datetime import date, datetime, timezone

import pytest

from engine import WorkingDayCalendar, add_months, end_of_day_utc


@pytest.mark.parametrize("start, days, expected", [
    ("2026-12-18", 15, "2027-01-13"),   # docs/process.md: ICPC deadline over Christmas and New Year
    ("2026-12-24", 1, "2026-12-29"),    # Christmas Day, Boxing Day substitute (Mon 28th)
    ("2026-12-31", 1, "2027-01-04"),    # New Year's Day on a Friday
    ("2027-03-25", 1, "2027-03-30"),    # Good Friday 26 March and Easter Monday 29 March 2027
    ("2026-04-02", 1, "2026-04-07"),    # Good Friday 3 April and Easter Monday 6 April 2026
    ("2026-11-20", 1, "2026-11-23"),    # Friday to Monday
    ("2026-11-23", 0, "2026-11-23"),
    ("2026-12-18", 45, "2027-02-24"),   # assessment timescale across the holidays
])
def test_add_working_days(calendar, start, days, expected):
    assert calendar.add_working_days(start, days).isoformat() == expected


def test_working_days_between_is_the_inverse(calendar):
    assert calendar.working_days_between("2026-12-18", "2027-01-13") == 15
    assert calendar.working_days_between("2027-01-13", "2026-12-18") == -15


def test_calendar_is_configurable():
    closed = WorkingDayCalendar(extra_closures=["2026-12-21"])
    assert closed.add_working_days("2026-12-18", 1) == date(2026, 12, 22)
    scotland = WorkingDayCalendar(subdiv="SCT")
    assert scotland.add_working_days("2026-12-31", 1) == date(2027, 1, 5)  # 2 January is a holiday there


def test_negative_days_refused(calendar):
    with pytest.raises(ValueError):
        calendar.add_working_days("2026-12-18", -1)


def test_add_months_clamps_to_month_end():
    assert add_months("2027-01-31", 1) == date(2027, 2, 28)
    assert add_months("2027-01-13", 3) == date(2027, 4, 13)


def test_end_of_day_follows_british_summer_time():
    assert end_of_day_utc("2027-01-13") == datetime(2027, 1, 13, 23, 59, 59, tzinfo=timezone.utc)
    assert end_of_day_utc("2027-07-01") == datetime(2027, 7, 1, 22, 59, 59, tzinfo=timezone.utc)


@pytest.mark.parametrize("closures", [(), ("2026-12-29", "2027-06-05")])
def test_working_days_between_counts_as_walking_day_by_day(closures):
    """The whole-week count (inbox pages ask it for every row) agrees with walking each day."""
    import random
    from datetime import timedelta
    calendar = WorkingDayCalendar(extra_closures=closures)

    def walked(first: date, last: date) -> int:
        sign, (first, last) = (1, (first, last)) if first <= last else (-1, (last, first))
        return sign * sum(calendar.is_working_day(first + timedelta(days=n)) for n in range(1, (last - first).days + 1))

    pick = random.Random(7)
    for _ in range(400):
        first, last = (date(2025, 1, 1) + timedelta(days=pick.randrange(1200)) for _ in range(2))
        assert calendar.working_days_between(first, last) == walked(first, last), (first, last)


@pytest.mark.parametrize("day, why", [
    ("2027-01-16", "a Saturday"), ("2027-01-17", "a Sunday"),
    ("2026-12-25", "Christmas Day, a bank holiday"), ("2026-12-28", "Boxing Day (observed), a bank holiday"),
    ("2027-01-15", None),
])
def test_why_a_day_is_closed_in_words(calendar, day, why):
    assert calendar.why_closed(day) == why
    assert calendar.is_working_day(date.fromisoformat(day)) == (why is None)


def test_a_configured_closure_says_so():
    assert WorkingDayCalendar(extra_closures=["2027-01-15"]).why_closed("2027-01-15") == "a closure day"
