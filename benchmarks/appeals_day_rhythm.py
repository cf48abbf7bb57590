"""Measurement: the weekly and holiday rhythm of real appeal volume (the world the synthetic city must follow).

    .venv/bin/python benchmarks/appeals_day_rhythm.py [--data ../shared/data/appeals] [--from 2017-01-01]

Reads the real 问政 messages (2020 泰迪杯 problem C: ``unlabeled_messages.csv``, ``labeled_messages_full.csv``,
``replies.csv``; citizens' messages to a provincial platform, real posting times), keeps each message once
(same posting time to the second and same title), counts messages per calendar day over the dense period
(``--from`` … the last message, every day counted, zeros included) and measures, per kind of day, its volume
relative to an average ordinary working day (Monday … Friday that is not a holiday):

* Monday … Friday (ordinary working days), ``weekend`` (a Saturday or Sunday not worked), ``holiday`` (an
  official holiday, 法定节假日, on a Monday … Friday), ``workday_weekend`` (调休: a Saturday or Sunday worked) —
  chinese-calendar's official calendar, the same kinds as ``quanhuiqi.appeals.trends.day_kinds``;
  also the weekend days inside a holiday period, apart, for the reader; and, besides its kind, the first working
  day after three or more days off that hold an official holiday (``after_long_holiday``: does a backlog arrive?).

The estimate is indirectly standardised by calendar month (a platform's volume drifts by year and season):
``factor(kind) = Σ count on days of that kind / Σ over those days of their month's mean ordinary-working-day
count``; a 95 % interval from a bootstrap over calendar months (months resampled whole: counts of nearby days
are correlated).  The real data is read by path only (never shipped); the script says so and stops when it is
absent.  Writes ``benchmarks/results/appeals_day_rhythm.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
FILES = {"unlabeled_messages.csv": "留言时间_iso", "labeled_messages_full.csv": "received_at",
         "replies.csv": "留言时间_iso"}
TITLE = {"unlabeled_messages.csv": "留言主题", "labeled_messages_full.csv": "title", "replies.csv": "留言主题"}
KINDS = ["mon", "tue", "wed", "thu", "fri", "weekend", "holiday", "workday_weekend", "holiday_weekend"]


def messages(data: Path) -> pd.DataFrame:
    """``received_at, title, source`` of every message with a readable time, each message once."""
    parts = []
    for name, col in FILES.items():
        d = pd.read_csv(data / name, dtype=str)
        t = pd.to_datetime(d[col], errors="coerce", format="%Y-%m-%d %H:%M:%S")
        parts.append(pd.DataFrame({"received_at": t, "title": d[TITLE[name]].fillna("").str.strip(),
                                   "source": name}).dropna(subset=["received_at"]))
    allm = pd.concat(parts, ignore_index=True)
    return allm.drop_duplicates(["received_at", "title"], ignore_index=True)


def kinds_of(days: pd.DatetimeIndex) -> np.ndarray:
    """The day kinds of ``quanhuiqi.appeals.trends.day_kinds`` plus ``holiday_weekend`` (a weekend day inside
    an official holiday period, which the trends module counts as a plain weekend)."""
    import chinese_calendar as cc

    from quanhuiqi.appeals.trends import day_kinds

    k = day_kinds(days).astype(object)
    for i, d in enumerate(days):
        if k[i] == "weekend":
            try:
                on, name = cc.get_holiday_detail(d.date())
            except NotImplementedError:
                continue
            if on and name is not None:
                k[i] = "holiday_weekend"
    return k


def after_long_holiday(kinds: np.ndarray) -> np.ndarray:
    """The first working day after ≥ 3 days off (weekend or holiday) that hold an official holiday."""
    off = np.isin(kinds, ["weekend", "holiday", "holiday_weekend"])
    out = np.zeros(len(kinds), dtype=bool)
    run, official = 0, False
    for i in range(len(kinds)):
        if off[i]:
            run, official = run + 1, official or kinds[i] in ("holiday", "holiday_weekend")
            continue
        out[i] = run >= 3 and official
        run, official = 0, False
    return out


def factors(daily: pd.DataFrame) -> dict[str, float]:
    """Indirectly standardised factor of each kind (and of the first working day after a long holiday) against
    its months' ordinary working days."""
    ordinary = daily["kind"].isin(KINDS[:5])
    month_rate = daily[ordinary].groupby("month")["n"].mean()
    exp = daily["month"].map(month_rate)
    ok = exp.notna()
    d = daily[ok].assign(exp=exp[ok])
    by = d.groupby("kind")[["n", "exp"]].sum()
    out = {k: float(by.at[k, "n"] / by.at[k, "exp"]) for k in by.index if by.at[k, "exp"] > 0}
    after = d[d["after_long_holiday"]]
    if len(after) and after["exp"].sum() > 0:
        out["after_long_holiday"] = float(after["n"].sum() / after["exp"].sum())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/appeals")
    ap.add_argument("--from", dest="start", default="2017-01-01",
                    help="first day of the measured period (the platform's early years are sparse)")
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--out", default=str(HERE / "results" / "appeals_day_rhythm.json"))
    args = ap.parse_args()
    data = Path(args.data)
    if not all((data / f).exists() for f in FILES):
        sys.exit(f"real appeals not found under {data} (needs {', '.join(FILES)}); nothing measured")
    m = messages(data)
    by_year = m["received_at"].dt.year.value_counts().sort_index()
    m = m[m["received_at"] >= pd.Timestamp(args.start)]
    days = pd.date_range(m["received_at"].min().normalize(), m["received_at"].max().normalize(), freq="D")
    n = m["received_at"].dt.normalize().value_counts().reindex(days, fill_value=0)
    kinds = kinds_of(days)
    daily = pd.DataFrame({"day": days, "n": n.to_numpy(), "kind": kinds, "month": days.to_period("M"),
                          "after_long_holiday": after_long_holiday(kinds)})
    point = factors(daily)
    rng = np.random.default_rng(0)
    months = daily["month"].unique()
    groups = {mo: g for mo, g in daily.groupby("month")}
    boots = []
    for _ in range(args.boot):
        pick = rng.choice(len(months), size=len(months), replace=True)
        sample = pd.concat([groups[months[i]].assign(month=j) for j, i in enumerate(pick)], ignore_index=True)
        boots.append(factors(sample))
    per_kind = {}
    for k in [*KINDS, "after_long_holiday"]:
        if k not in point:
            continue
        b = np.array([x[k] for x in boots if k in x])
        sel = daily["kind"] == k if k in KINDS else daily[k]
        per_kind[k] = {"factor": round(point[k], 3), "ci95": [round(float(np.quantile(b, 0.025)), 3),
                                                              round(float(np.quantile(b, 0.975)), 3)],
                       "days": int(sel.sum()), "messages": int(daily.loc[sel, "n"].sum())}
    weekday_mean = np.mean([point[k] for k in KINDS[:5]])
    hours = m["received_at"].dt.hour
    result = {
        "command": f"benchmarks/appeals_day_rhythm.py --data {args.data} --from {args.start} --boot {args.boot}",
        "source": "2020 泰迪杯 problem C 问政 messages (citizens' messages, real posting times); "
                  "unlabeled_messages.csv + labeled_messages_full.csv (rows with a time) + replies.csv, "
                  "each message once (same second and title)",
        "messages_by_year_all": {int(y): int(c) for y, c in by_year.items()},
        "period": [str(days[0].date()), str(days[-1].date())], "days": len(days), "messages": int(daily["n"].sum()),
        "factors_vs_ordinary_working_day": per_kind,
        "weekday_mean_factor": round(float(weekday_mean), 3),
        "share_received_09_17": round(float(((hours >= 9) & (hours < 17)).mean()), 3),
        "method": "indirect standardisation by calendar month (expected = the month's mean ordinary-working-day "
                  "count); 95 % interval: bootstrap over whole months",
        "load": os.getloadavg(),
        "cpu_seconds": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1),
    }
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
