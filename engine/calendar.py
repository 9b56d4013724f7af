"""Working days for statutory timescales: weekends and England and Wales bank holidays."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

LONDON = ZoneInfo("Europe/London")


def parse_date(value: date | str) -> date:
    """Accept a date or an ISO 'YYYY-MM-DD' string (a datetime string keeps its date part)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected an ISO date, got {value!r}")
    return date.fromisoformat(value[:10])


class WorkingDayCalendar:
    """Counts working days; the bank-holiday region and extra closure days are configurable."""

    def __init__(self, country: str = "GB", subdiv: str = "ENG",
                 extra_closures: Iterable[date | str] = ()) -> None:
        self.country = country
        self.subdiv = subdiv
        self.extra_closures = frozenset(parse_date(d) for d in extra_closures)

    @lru_cache(maxsize=64)
    def _holidays_for(self, year: int) -> frozenset[date]:
        return frozenset(holidays.country_holidays(self.country, subdiv=self.subdiv, years=year))

    def is_working_day(self, day: date) -> bool:
        """True on a weekday that is neither a bank holiday nor a configured closure."""
        return (day.weekday() < 5 and day not in self._holidays_for(day.year)
                and day not in self.extra_closures)

    def why_closed(self, day: date | str) -> str | None:
        """Why ``day`` is not a working day, in words ("a Saturday", "Christmas Day, a bank holiday"), or None."""
        day = parse_date(day)
        if day.weekday() >= 5:
            return f"a {day.strftime('%A')}"
        name = holidays.country_holidays(self.country, subdiv=self.subdiv, years=day.year).get(day)
        if name:
            return f"{name}, a bank holiday"
        if day in self.extra_closures:
            return "a closure day"
        return None

    def add_working_days(self, start: date | str, days: int) -> date:
        """The date ``days`` working days after ``start`` (the start day itself is day 0)."""
        if days < 0:
            raise ValueError("working days must not be negative")
        return self._after_working_days(parse_date(start), days)

    @lru_cache(maxsize=4096)
    def _after_working_days(self, day: date, days: int) -> date:
        # Every task offered with a deadline asks this, some twice (due date and instructions).
        remaining = days
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date | str, end: date | str) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when end is earlier)."""
        first, last = parse_date(start), parse_date(end)
        if last < first:
            return -self._working_days_after(last, last=first)
        return self._working_days_after(first, last)

    @lru_cache(maxsize=4096)
    def _working_days_after(self, first: date, last: date) -> int:
        # Weekdays counted by whole weeks (inbox pages ask this for every row, often years apart),
        # less the bank holidays and closures that fall on weekdays in between.
        days = (last - first).days
        weeks, rest = divmod(days, 7)
        count = weeks * 5 + sum(1 for n in range(1, rest + 1) if (first + timedelta(days=n)).weekday() < 5)
        closed = set(self.extra_closures).union(*(self._holidays_for(y) for y in range(first.year, last.year + 1)))
        return count - sum(1 for day in closed if first < day <= last and day.weekday() < 5)


def add_months(start: date | str, months: int) -> date:
    """Same day ``months`` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    return parse_date(start) + relativedelta(months=months)


def end_of_day_utc(day: date | str) -> datetime:
    """The last second of ``day`` in England, as an aware UTC datetime."""
    local = datetime.combine(parse_date(day), time(23, 59, 59), tzinfo=LONDON)
    return local.astimezone(timezone.utc)


def local_date(moment: datetime) -> date:
    """The calendar date in England of a UTC moment."""
    return moment.astimezone(LONDON).date()
