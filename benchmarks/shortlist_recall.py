"""Benchmark: what the daily job's pre-score shortlist costs in push-list quality, and what it saves.

The job ranks only each enterprise's ``rank.shortlist`` best open pairs by a cheap pre-score
(``quanhuiqi.push.prescore``).  This runs the per-partition function on a slice of a city twice —
every open pair ranked (``shortlist=0``) and shortlisted — and reports the share of the full
ranking's pushed pairs that the shortlisted run pushes too (1.0 = identical lists), per shortlist size,
with the time of each run.

    .venv/bin/python benchmarks/shortlist_recall.py --city /tmp/quanhuiqi_bench_city_100000_2000 --enterprises 10000

The city is one made by ``benchmarks/daily_run.py`` (2,000 variant policies by default).  Writes
``benchmarks/results/shortlist_recall.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = "2025-07-01"


def main() -> int:

    from quanhuiqi.push.job import prepare
    from quanhuiqi.push.partition import process_partition
    from quanhuiqi.tables import read_enterprises, read_table, validate_enterprises, validate_history

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="/tmp/quanhuiqi_bench_city_100000_2000")
    ap.add_argument("--enterprises", type=int, default=10000)
    ap.add_argument("--sizes", default="5,10,20,40")
    a = ap.parse_args()
    city = Path(a.city)
    prep = prepare(DAY, city, "/tmp/quanhuiqi_shortlist_out", None, None)
    day = prep.day
    clean = validate_enterprises(read_enterprises(city / "enterprises.csv").iloc[: a.enterprises], day, "e").clean
    keep = set(clean["uscc"])
    state = {}
    for name, file in (("push_history", "push_history.parquet"), ("grants", "grants.csv"),
                       ("suppressions", "suppressions.csv")):
        v = validate_history(name, read_table(city / file), day, name).clean
        state[name] = v[v["uscc"].isin(keep)].reset_index(drop=True)

    def run(n: int):
        ctx = dataclasses.replace(prep.ctx, shortlist=n)
        t = time.perf_counter()
        r = process_partition(clean, ctx, history=state["push_history"], grants=state["grants"],
                              suppressions=state["suppressions"])
        return r, time.perf_counter() - t

    full, t_full = run(0)
    pushed = set(zip(full.push_list["uscc"], full.push_list["policy_id"]))
    candidates = sum(full.stats["candidates_per_verdict"].values())
    rows = [{"shortlist": 0, "seconds": round(t_full, 2), "rank_seconds": round(full.stats["timings"]["rank"], 2),
             "pushed": len(pushed), "agreement": 1.0}]
    for n in [int(x) for x in a.sizes.split(",")]:
        r, sec = run(n)
        got = set(zip(r.push_list["uscc"], r.push_list["policy_id"]))
        rows.append({"shortlist": n, "seconds": round(sec, 2), "rank_seconds": round(r.stats["timings"]["rank"], 2),
                     "pushed": len(got), "agreement": round(len(got & pushed) / max(1, len(pushed)), 4)})
    result = {"city": str(city), "enterprises": len(clean), "candidates": candidates,
              "scorer": type(prep.ctx.scorer).__name__, "runs": rows,
              "load_average_1min": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count(),
              "command": " ".join([".venv/bin/python", "benchmarks/shortlist_recall.py"] + sys.argv[1:])}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "shortlist_recall.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
