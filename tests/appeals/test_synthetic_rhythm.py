"""The synthetic city's day rhythm: background appeals and planted issues follow one weekly and holiday rhythm
(measured on real appeals), and the detector's day factors, estimated from the city's totals, recover it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _per_day(received: pd.Series, days: pd.DatetimeIndex) -> pd.Series:
    t = pd.to_datetime(received, errors="coerce", format="%Y-%m-%d %H:%M:%S").dropna().dt.normalize()
    return t.value_counts().reindex(days, fill_value=0)


def test_background_appeals_follow_the_day_rhythm_and_the_city_totals_show_it(synthetic):
    from quanhuiqi.appeals.trends import day_factors, day_kinds
    from quanhuiqi.synth.appeals import DAY_RHYTHM

    raw, truth = synthetic  # 1,500 appeals over the 120 days before 2025-07-01
    first = truth["duplicate_of_true"].isna().to_numpy()  # re-filed copies come 0.1-4 days after their first
    days = pd.date_range("2025-03-03", "2025-06-30", freq="D")
    n = _per_day(raw["received_at"][first], days)
    kind = day_kinds(days)
    ordinary = np.isin(kind, ["mon", "tue", "wed", "thu", "fri"])
    weekend = kind == "weekend"
    ratio = n[weekend].mean() / n[ordinary].mean()
    assert abs(ratio - DAY_RHYTHM["weekend"]) < 0.12, ratio
    # what a detector can know: the factors estimated from the city's totals alone show the same rhythm
    f = day_factors(n)
    assert abs(f[weekend].mean() / f[ordinary].mean() - DAY_RHYTHM["weekend"]) < 0.12
    # holidays of the period (清明, 劳动节, 端午 on working days) are quieter than ordinary working days
    assert n[kind == "holiday"].mean() < n[ordinary].mean()


def test_planted_issues_share_the_backgrounds_rhythm(sample_enterprises):
    """Steady planted issues over a year: their weekend volume relative to working days is the background's."""
    from quanhuiqi.appeals.trends import day_kinds
    from quanhuiqi.profile import profile
    from quanhuiqi.synth import appeals as writer
    from quanhuiqi.synth.appeals import DAY_RHYTHM
    from quanhuiqi.synth.appeals_issues import plant_issues
    from quanhuiqi.tables import validate_enterprises

    as_of = pd.Timestamp("2025-07-01")
    clean = validate_enterprises(sample_enterprises.head(1200), as_of.date(), source="enterprises").clean
    raw, _, planted = plant_issues(profile(clean, as_of.date()), 11, as_of, 364, 16, False,
                                   writer=writer)
    assert set(planted["shape"]) == {"steady"}
    days = pd.date_range(as_of - pd.Timedelta(days=364), periods=364, freq="D")
    n = _per_day(raw["received_at"].dt.strftime("%Y-%m-%d %H:%M:%S"), days)
    kind = day_kinds(days)
    ordinary = np.isin(kind, ["mon", "tue", "wed", "thu", "fri"])
    ratio = n[kind == "weekend"].mean() / n[ordinary].mean()
    assert abs(ratio - DAY_RHYTHM["weekend"]) < 0.1, ratio  # the old planted × 0.35 sits near 0.35


def test_synthetic_appeals_for_a_day_late_in_the_last_known_year(sample_enterprises):
    """The generator's handling times run 400 days past its day: a year the holiday package does not know
    yet counts Monday-Friday there instead of refusing every day from 400 days before the package's end."""
    from quanhuiqi.appeals import response_clock, validate_appeals
    from quanhuiqi.appeals.clock import _holiday_years
    from quanhuiqi.appeals.dedupe import cases
    from quanhuiqi.synth.appeals import generate_appeals

    day = f"{_holiday_years()[1]}-12-06"
    raw, truth = generate_appeals(sample_enterprises.head(300), seed=5, as_of=day, days=30, n=80)
    assert len(raw) == len(truth) >= 80
    received = pd.to_datetime(raw["received_at"], errors="coerce", format="%Y-%m-%d %H:%M:%S")
    assert received.max() < pd.Timestamp(day)
    clean = validate_appeals(raw, pd.Timestamp(day)).clean
    assert len(response_clock(cases(clean), day).status) > 0  # and the day's clock runs on them
