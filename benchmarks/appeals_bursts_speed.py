"""Benchmark: CPU and memory of the burst detector alone at a large issue count (issue 18).

    .venv/bin/python benchmarks/appeals_bursts_speed.py [--issues 20000] [--days 365]

Daily counts of ``--issues`` issues over ``--days`` days (Gamma-Poisson levels, mean ~0.3 a day; every issue
with a random parent at a random founding cosine 0-0.3, so a third borrow their parent's history while young)
are tested on every day by the current defaults (v8) and by the issue-18 v6 and v7 settings.  The weekly report runs
the detector over every issue of the city, so this is its share of the report's 60 s at a city with tens of
thousands of live issues (the 1M speed benchmark's tiled city has ~116).  Writes
``benchmarks/results/appeals_bursts_speed.json`` with CPU seconds, peak RSS and the machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    from quanhuiqi.appeals.trends import BurstParams, detect_bursts

    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    days = pd.date_range("2025-01-01", periods=args.days)
    lam = rng.gamma(0.5, 0.6, args.issues)
    m = rng.poisson(lam[:, None] * np.ones(args.days))
    r, c = np.nonzero(m)
    daily = pd.DataFrame({"issue_id": [f"I{i:06d}" for i in r], "day": days[c], "appeals": m[r, c],
                          "voices": m[r, c]})
    founded = daily.groupby("issue_id")["day"].min()
    issues = pd.DataFrame({"issue_id": founded.index, "founded_on": founded.dt.strftime("%Y-%m-%d").to_numpy(),
                           "parent_id": rng.choice(founded.index, len(founded)),
                           "parent_similarity": rng.uniform(0, 0.3, len(founded))})
    v7 = BurstParams(parent_pair=False, workday_weekend_borrow=0.0)
    v6 = BurstParams(windows=(1, 2, 3), parent_share=False, old_family=False, long_history=None, parent_pair=False,
                     workday_weekend_borrow=0.0)
    out = {"command": f"benchmarks/appeals_bursts_speed.py --issues {args.issues} --days {args.days}",
           "issue_days": int(args.issues * args.days), "load_before": os.getloadavg(), "runs": []}
    for name, bp in (("v6", v6), ("v7", v7), ("v8 (default)", BurstParams())):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        flags = detect_bursts(daily, bp, issues=issues)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        out["runs"].append({"detector": name, "flags": len(flags),
                            "cpu_seconds": round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 1),
                            "wall_seconds": round(time.perf_counter() - t0, 1),
                            "peak_rss_gb": round(r1.ru_maxrss / 1024 / 1024, 2)})
        print(json.dumps(out["runs"][-1]), flush=True)
    out["load_after"] = os.getloadavg()
    (HERE / "results" / "appeals_bursts_speed.json").write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
