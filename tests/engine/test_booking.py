"""Booking rules without a database: working days, the window's opening event, late and out-of-timescale
bookings each with a reason, and a conference held on another day than booked."""
from __future__ import annotations

from datetime import date

import pytest

from engine import ValidationFailed
from engine.booking import Window, booking_problems, check_booking, held_day_problems

TODAY = date(2026, 12, 14)  # a Monday
ICPC = Window(date(2026, 12, 11), "the strategy discussion that started the section 47 enquiry", date(2027, 1, 6))


def problems(day, **reasons):
    errors, recorded = booking_problems({"scheduled_for": day, **reasons}, ICPC, TODAY, _calendar())
    return {e.field: e.message for e in errors}, recorded


def _calendar():
    from engine import WorkingDayCalendar
    return WorkingDayCalendar()


def test_a_working_day_inside_the_window_needs_no_reason():
    assert problems("2026-12-17") == ({}, {})
    assert problems("2026-12-14") == ({}, {})  # today is not in the past


def test_never_before_the_event_that_opens_the_window_whatever_the_reasons():
    errors, recorded = problems("2026-12-10", reason_recorded_late="x", reason_not_working_day="y")
    assert list(errors) == ["scheduled_for"] and recorded == {}
    assert errors["scheduled_for"] == ("Date of conference cannot be before the strategy discussion that started "
                                       "the section 47 enquiry on Friday 11 December 2026")
    assert problems("2026-12-11", reason_recorded_late="Booked by phone on Friday")[0] == {}  # the same day is allowed


@pytest.mark.parametrize("day, why", [("2026-12-19", "a Saturday"), ("2026-12-20", "a Sunday"),
                                      ("2026-12-25", "Christmas Day, a bank holiday"),
                                      ("2026-12-28", "Boxing Day (observed), a bank holiday")])
def test_a_weekend_or_bank_holiday_needs_a_reason_which_is_recorded(day, why):
    errors, _ = problems(day)
    assert errors == {"reason_not_working_day": f"Enter the reason for a date on a weekend or bank holiday: "
                                                f"{date.fromisoformat(day).strftime('%-d %B %Y')} is {why}"}
    assert problems(day, reason_not_working_day="  ")[0] == errors  # blank is no reason
    assert problems(day, reason_not_working_day=" Family work weekdays ") == (
        {}, {"reason_not_working_day": "Family work weekdays"})


def test_a_date_already_past_needs_a_reason_and_is_recorded_late():
    errors, _ = problems("2026-12-11")
    assert errors == {"reason_recorded_late": "Enter the reason for booking a date that has passed: "
                                              "11 December 2026 is before today (14 December 2026)"}
    assert problems("2026-12-11", reason_recorded_late="Agreed by phone")[1] == {"reason_recorded_late": "Agreed by phone"}


def test_after_the_statutory_date_needs_a_reason_and_every_missing_reason_is_named_at_once():
    errors, _ = problems("2027-01-09")  # a Saturday after the deadline
    assert set(errors) == {"reason_not_working_day", "reason_outside_timescale"}
    assert errors["reason_outside_timescale"] == ("Enter the reason the date is outside the timescale: it is after "
                                                  "the statutory date, Wednesday 6 January 2027")
    assert problems("2027-01-11", reason_outside_timescale="Solicitor")[1] == {"reason_outside_timescale": "Solicitor"}


def test_the_form_s_own_labels_name_the_fields():
    labels = {"scheduled_for": "Date of review conference", "reason_recorded_late": "Why is this late?"}
    errors, _ = booking_problems({"scheduled_for": "2026-12-01"}, ICPC, TODAY, _calendar(), labels)
    assert errors[0].message.startswith("Date of review conference cannot be before")
    errors, _ = booking_problems({"scheduled_for": "2026-12-11"}, ICPC, TODAY, _calendar(), labels)
    assert errors[0].message.startswith("Answer the question: Why is this late?: 11 December 2026 is before today")


def test_check_booking_raises_with_every_field_or_returns_the_reasons():
    with pytest.raises(ValidationFailed) as refused:
        check_booking({"scheduled_for": "2026-12-12"}, ICPC, TODAY, _calendar())
    assert {e.field for e in refused.value.errors} == {"reason_not_working_day", "reason_recorded_late"}
    assert check_booking({"scheduled_for": "2026-12-16"}, ICPC, TODAY, _calendar()) == {}
    assert check_booking({}, ICPC, TODAY, _calendar()) == {}  # no date: the schema says so


def test_a_window_without_an_opening_event_or_due_date_checks_only_the_day():
    open_window = Window(None, "the referral", None)
    errors, _ = booking_problems({"scheduled_for": "2027-06-05"}, open_window, TODAY, _calendar())
    assert [e.field for e in errors] == ["reason_not_working_day"]


def test_held_on_another_day_than_booked_needs_the_reason():
    booked = date(2027, 1, 5)
    assert held_day_problems({"held_on": "2027-01-05"}, booked) == []
    [error] = held_day_problems({"held_on": "2027-01-06"}, booked)
    assert error.field == "reason_held_on_another_day"
    assert error.message == ("Enter the reason it was held on another day than booked: it was booked for "
                             "Tuesday 5 January 2027, and the date held is Wednesday 6 January 2027")
    assert held_day_problems({"held_on": "2027-01-06", "reason_held_on_another_day": "Chair unwell"}, booked) == []
    assert held_day_problems({"held_on": "2027-01-06"}, None) == []  # nothing was booked
