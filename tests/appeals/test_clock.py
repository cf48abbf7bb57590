"""The 2110 clock: working time on China's official calendar (holidays, 调休), deadlines, states, lists, settings."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanhuiqi.appeals import WorkingCalendar, load_clock_config, response_clock
from quanhuiqi.appeals.clock import _holiday_years, calendar_ending_warning, official_workdays
from quanhuiqi.tables.io import InputError

CFG = load_clock_config()


def cal(first="2025-09-20", last="2025-11-30", cfg=CFG):
    return WorkingCalendar.build(pd.Timestamp(first), pd.Timestamp(last), cfg)


def ts(*xs):
    return np.array(xs, dtype="datetime64[ns]")


def test_official_calendar_knows_national_day_and_the_working_sunday():
    flags, plain = official_workdays(pd.date_range("2025-09-26", "2025-10-12"))
    days = dict(zip(pd.date_range("2025-09-26", "2025-10-12").strftime("%m-%d"), flags))
    assert days["09-28"] and days["10-11"]  # Sunday 28 Sep and Saturday 11 Oct are working days (调休)
    assert not any(days[f"10-0{d}"] for d in range(1, 9))  # 1-8 October off
    assert days["10-09"] and not days["09-27"] and plain == []


def test_deadlines_skip_evenings_weekends_and_holidays():
    c = cal()
    day = c.day_seconds  # 09:00-12:00 + 13:00-17:00 = 7 h
    assert day == 7 * 3600
    start = ts("2025-09-26T16:00")  # Friday 16:00
    w = c.working_seconds(start)
    assert c.instant_at(w + 2 * 3600)[0] == np.datetime64("2025-09-28T10:00")  # the working Sunday
    # received during the holiday: the clock starts at the first working minute, 9 October 09:00
    h = c.working_seconds(ts("2025-10-03T10:00"))
    assert c.instant_at(h + 2 * 3600)[0] == np.datetime64("2025-10-09T11:00")
    # 10 working days from Tuesday 30 September 10:00 (Saturday 11 October counts, the holiday does not)
    t = c.working_seconds(ts("2025-09-30T10:00"))
    assert c.instant_at(t + 10 * day)[0] == np.datetime64("2025-10-21T10:00")
    # lunch is not working time
    lunch = c.working_seconds(ts("2025-10-09T11:30", "2025-10-09T12:30", "2025-10-09T13:30"))
    assert list(np.diff(lunch)) == [1800.0, 1800.0]


@settings(deadline=None)  # the calendar is built per example: no per-example time limit on a shared machine
@given(st.integers(0, 40 * 86400 - 1), st.integers(1, 60 * 3600))
def test_deadline_is_the_first_instant_with_that_much_working_time(offset, limit):
    c = cal()
    t = ts("2025-09-21T00:00") + np.timedelta64(offset, "s")
    w = c.working_seconds(t)
    d = c.instant_at(w + limit)
    assert c.working_seconds(d)[0] == pytest.approx(w[0] + limit, abs=1e-3)
    assert d[0] >= t[0]
    # one second earlier is not enough working time
    assert c.working_seconds(d - np.timedelta64(1, "s"))[0] < w[0] + limit


def cases_frame():
    return pd.DataFrame({
        "case_id": ["C1", "C2", "C3", "C4", "C5", "C6"],
        "department": ["市税务局", "市税务局;市商务局", None, "市商务局", "市商务局", "市商务局"],
        "received_at": pd.to_datetime(["2025-06-04 09:00", "2025-06-04 09:00", "2025-06-05 14:30",
                                       "2025-05-20 09:00", "2025-06-05 16:30", "2025-06-02 10:00"]),
        "assigned_at": pd.to_datetime(["2025-06-04 10:00", "2025-06-04 10:45", None, "2025-05-20 09:30",
                                       "2025-06-05 16:40", "2025-06-03 10:30"]),
        "first_contact_at": pd.to_datetime(["2025-06-04 15:00", "2025-06-05 09:30", None, "2025-05-20 10:00",
                                            None, None]),
        "resolved_at": pd.to_datetime([None, None, None, "2025-05-23 10:00", None, None]),
        "revisited_at": pd.NaT,
        "closed_at": pd.to_datetime([None, None, None, "2025-05-26 10:00", None, None]),
    })


def test_states_lists_and_statistics():
    r = response_clock(cases_frame(), "2025-06-05 16:00")
    s = r.status.set_index(["case_id", "stage"])["state"]
    assert s[("C1", "respond")] == "done" and s[("C1", "contact")] == "done"
    assert s[("C2", "respond")] == "done"  # 1.75 working hours
    assert s[("C2", "contact")] == "late"  # 4 Jun 09:00 + 7 working hours = 4 Jun 17:00 < 5 Jun 09:30
    assert s[("C3", "respond")] == "at_risk"  # 1.5 of 2 working hours gone
    assert s[("C6", "respond")] == "done"  # received on the Dragon Boat holiday: the clock started 3 Jun 09:00
    assert s[("C6", "contact")] == "overdue" and s[("C4", "resolve")] == "done"
    assert ("C5", "respond") not in s.index  # received after as_of
    c6 = r.status.set_index(["case_id", "stage"]).loc[("C6", "contact")]
    assert c6["deadline"] == pd.Timestamp("2025-06-03 17:00")
    later = response_clock(cases_frame(), "2025-06-13 16:00")
    st_ = later.status.set_index(["case_id", "stage"])
    assert st_.loc[("C1", "resolve"), "deadline"] == pd.Timestamp("2025-06-17 17:00")
    assert st_.loc[("C1", "resolve"), "state"] == "at_risk"  # 15 of 70 working hours left
    assert set(later.at_risk["case_id"]) >= {"C1", "C2"}
    assert set(later.at_risk.loc[later.at_risk["case_id"] == "C2", "department"]) == {"市税务局", "市商务局"}
    assert "(未分拨)" in set(later.overdue["department"])  # C3 never assigned
    stats = later.department_stats.set_index("department")
    assert stats.loc["市商务局", "days_to_resolve_n"] == 1
    assert stats.loc["市商务局", "days_to_resolve_median"] == pytest.approx(3 + 1 / 7, abs=0.01)


def test_every_threshold_is_a_setting():
    cfg = load_clock_config({"stages": {"respond": {"limit": 1}}, "working_hours": [["08:30", "12:00"],
                                                                                     ["14:00", "17:30"]]})
    assert cfg["stages"]["respond"]["limit"] == 1 and cfg["stages"]["resolve"]["limit"] == 10
    r = response_clock(cases_frame(), "2025-06-05 16:00", cfg)
    assert r.status.set_index(["case_id", "stage"]).loc[("C1", "respond"), "state"] == "done"  # 1 h
    assert r.status.set_index(["case_id", "stage"]).loc[("C2", "respond"), "state"] == "late"
    for bad in ({"stages": {"respond": {"limit": -1}}}, {"stages": {"x": {"end": "nowhere"}}}, {"speed": 1},
                {"working_hours": [["12:00", "09:00"]]}, {"calendar": "lunar"}, {"at_risk_share": 2}):
        with pytest.raises(InputError):
            load_clock_config(bad)


def test_years_the_holiday_package_does_not_know():
    frame = cases_frame().assign(received_at=pd.Timestamp("2031-06-02 09:00"), assigned_at=pd.NaT,
                                 first_contact_at=pd.NaT, resolved_at=pd.NaT, closed_at=pd.NaT)
    with pytest.raises(InputError, match="2031.*outside_known_years: weekdays"):
        response_clock(frame, "2031-06-03")
    r = response_clock(frame, "2031-06-03", {"outside_known_years": "weekdays"})
    assert "2031" in r.calendar_note and len(r.status) == 6 * 3


def test_december_of_the_last_known_year():
    """The clock's room after its day reaches the next year, which the holiday package does not know yet:
    not refused while the day and every recorded time lie in known years (it was, from late November on:
    the daily job failed).  A deadline that falls in the unknown year is given counted Monday-Friday there
    and marked provisional; its state and working hours count known days only, so they stay exact."""
    hi = _holiday_years()[1]
    frame = cases_frame().iloc[:2].assign(
        received_at=pd.to_datetime([f"{hi}-12-01 09:00", f"{hi}-12-28 09:00"]),
        assigned_at=pd.to_datetime([f"{hi}-12-01 10:00", f"{hi}-12-28 10:00"]),
        first_contact_at=pd.NaT, resolved_at=pd.NaT, revisited_at=pd.NaT, closed_at=pd.NaT)
    early = response_clock(frame, f"{hi}-12-04 16:00")  # C2 not yet received
    assert early.calendar_note == "calendar: China's official holidays and adjusted working days"
    assert not early.status["deadline_provisional"].any() and set(early.status["case_id"]) == {"C1"}
    late = response_clock(frame, f"{hi}-12-29 10:00")
    s = late.status.set_index(["case_id", "stage"])
    assert s.loc[("C2", "resolve"), "deadline_provisional"] and s.loc[("C2", "resolve"), "deadline"].year == hi + 1
    assert not s.loc[("C2", "respond"), "deadline_provisional"] and s.loc[("C2", "respond"), "state"] == "done"
    assert not s.loc[("C1", "resolve"), "deadline_provisional"]  # 10 working days from 1 December
    open_ = s.loc[("C2", "resolve")]
    assert open_["state"] == "open"
    assert open_["elapsed_working_hours"] + open_["remaining_working_hours"] == pytest.approx(10 * 7)
    assert f"1 deadline(s) fall in {hi + 1}" in late.calendar_note and "provisional" in late.calendar_note
    assert "deadline_provisional" in late.overdue.columns and "deadline_provisional" in late.at_risk.columns
    # the clock's own day in the unknown year is refused by name, unless counted Monday-Friday on purpose
    with pytest.raises(InputError, match=f"not {hi + 1} \\(the clock's day"):
        response_clock(frame, f"{hi + 1}-01-05 10:00")
    weekdays = response_clock(frame, f"{hi + 1}-01-05 10:00", {"outside_known_years": "weekdays"})
    assert f"{hi + 1} counted Monday-Friday" in weekdays.calendar_note


def test_the_last_month_of_the_known_years_warns_ahead():
    """In the last 31 days of the last year the holiday package knows, a clock that will refuse the next year
    says so (the daily job's report carries it weeks before its first failing day); not earlier, not when
    the next year is counted Monday-Friday on purpose or the calendar is plain weekdays."""
    hi = _holiday_years()[1]
    warning = calendar_ending_warning(CFG, f"{hi}-12-06")
    assert warning and f"up to {hi}; from {hi + 1}-01-01" in warning and "outside_known_years" in warning
    assert calendar_ending_warning(CFG, f"{hi}-12-01") and calendar_ending_warning(CFG, f"{hi}-12-31 23:00")
    assert calendar_ending_warning(CFG, f"{hi}-11-30") is None
    assert calendar_ending_warning(load_clock_config({"outside_known_years": "weekdays"}), f"{hi}-12-06") is None
    assert calendar_ending_warning(load_clock_config({"calendar": "weekdays"}), f"{hi}-12-06") is None


def test_a_million_cases_is_a_vectorised_pass():
    """Not a timing test: the clock over many cases equals the clock over each alone (spot check)."""
    frame = pd.concat([cases_frame()] * 200, ignore_index=True)
    frame["case_id"] = [f"K{i}" for i in range(len(frame))]
    big = response_clock(frame, "2025-06-13 16:00").status.set_index(["case_id", "stage"])
    one = response_clock(frame.iloc[[7]], "2025-06-13 16:00").status.set_index(["case_id", "stage"])
    pd.testing.assert_frame_equal(big.loc[one.index], one, check_dtype=False)
    assert dt.date(2025, 6, 13)
