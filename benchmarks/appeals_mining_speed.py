"""Benchmark: speed and memory of issue mining — group N appeals one-shot, attach one day of M new appeals to
the saved state, build the weekly report over the N appeals.

    .venv/bin/python benchmarks/appeals_mining_speed.py [--n 50000] [--new 10000] [--days 365] [--base 12000]

Targets (issue 18): group 1M < 5 min; 10k new appeals of a day attached < 30 s; weekly report < 60 s at 1M;
memory < 6 GB.  Appeals: ``--base`` synthetic appeals (data_samples enterprises, 16 planted issues) are
generated once, then tiled to N with new ids, their days spread over ``--days`` days and every copy's text
varied (a copy-specific district or amount is inserted, so tiles are near- but not always exact duplicates);
this is an honest load for the topic stage only as far as the base's vocabulary goes — real text has a
longer tail.  The M new appeals are a fresh tile put on the day after the last one.  Writes
``benchmarks/results/appeals_mining_speed.json`` with wall and CPU seconds, peak RSS and the machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DISTRICTS = ["历下", "市中", "槐荫", "天桥", "历城", "长清", "章丘", "济阳", "莱芜", "钢城", "平阴", "商河", "高新"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def tiled(base: pd.DataFrame, n: int, days: int, start: pd.Timestamp, tag: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    reps = int(np.ceil(n / len(base)))
    out = pd.concat([base] * reps, ignore_index=True).iloc[:n].copy()
    k = np.arange(n)
    out["appeal_id"] = [f"{tag}{i:08d}" for i in k]
    day = np.sort(rng.integers(0, days, n))
    secs = rng.integers(8 * 3600, 18 * 3600, n)
    received = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(secs, unit="s")
    # the handling times move with the appeal (a copy keeps its original's durations): left as they were, every
    # copy would be closed within the base's 120 days, a quarter of a year's appeals "answered in the last four
    # weeks" where a city of that size answers a thirteenth
    shift = received - out["received_at"].astype("datetime64[us]").to_numpy()
    for col in ("assigned_at", "first_contact_at", "resolved_at", "revisited_at", "closed_at"):
        if col in out.columns:
            out[col] = out[col] + shift
    out["received_at"] = received
    d = np.array(DISTRICTS, dtype=object)[rng.integers(0, len(DISTRICTS), n)]
    amt = rng.integers(2, 900, n).astype(str)
    out["body"] = (d + "区企业反映：" + out["body"].astype("string").fillna("") + "涉及金额约" + amt + "万元。")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--base", type=int, default=12_000)
    ap.add_argument("--report", action="store_true", help="also time the weekly report over the N appeals")
    args = ap.parse_args()
    from quanhuiqi.appeals import validate_appeals
    from quanhuiqi.appeals.issues import IssueState, group_appeals
    from quanhuiqi.synth.appeals import generate_appeals
    from quanhuiqi.tables import read_table

    t0 = time.perf_counter()
    ent = read_table(HERE.parent / "data_samples" / "enterprises.csv")
    raw, _ = generate_appeals(ent, seed=9, n=args.base, days=120, issues=16, mess=False)
    base = validate_appeals(raw).clean
    gen_s = time.perf_counter() - t0
    start = pd.Timestamp("2024-07-01")
    hist = tiled(base, args.n, args.days, start, "H", 1)
    new = tiled(base, args.new, 1, start + pd.Timedelta(days=args.days), "N", 2)
    result = {"command": f"benchmarks/appeals_mining_speed.py --n {args.n} --new {args.new} --days {args.days} "
                         f"--base {args.base}", "generate_seconds": round(gen_s, 1), "appeals": len(hist)}
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), _cpu()
    g, st = group_appeals(hist)
    result["group_seconds"] = round(time.perf_counter() - t0, 1)
    result["group_cpu_seconds"] = round(_cpu() - c0, 1)
    result["issues"] = int(g["issue_id"].nunique())
    result["rss_gb_after_group"] = round(_rss_gb(), 2)
    folder = Path(tempfile.mkdtemp(prefix="issues_speed_"))
    try:
        t0 = time.perf_counter()
        st.save(folder)
        result["state_save_seconds"] = round(time.perf_counter() - t0, 1)
        t0, c0 = time.perf_counter(), _cpu()
        st2 = IssueState.load(folder)
        g2, st2 = group_appeals(new, st2)
        st2.save(folder)
        result["new_day_seconds"] = round(time.perf_counter() - t0, 1)
        result["new_day_cpu_seconds"] = round(_cpu() - c0, 1)
        result["new_day_appeals"] = len(new)
        result["new_day_attached_to_existing"] = round(float(g2["issue_id"].isin(g["issue_id"]).mean()), 4)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.report:
        from quanhuiqi.appeals.insight import policy_table
        from quanhuiqi.appeals.report import build_report, render_html
        from quanhuiqi.policy import load_book

        pol = policy_table(load_book(HERE.parent / "data_samples" / "policies"))
        t0, c0 = time.perf_counter(), _cpu()
        rep = build_report(hist, g, st, hist["received_at"].max(), profiles=None, policies=pol, clock=None)
        render_html(rep)
        result["report_seconds"] = round(time.perf_counter() - t0, 1)
        result["report_cpu_seconds"] = round(_cpu() - c0, 1)
        result["report_note"] = "without enterprise profiles and the 2110 clock (timed by their own benchmarks)"
    result["peak_rss_gb"] = round(_rss_gb(), 2)
    result["load_before"] = load0
    result["load_after"] = os.getloadavg()
    out = HERE / "results" / f"appeals_mining_speed_{args.n}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
