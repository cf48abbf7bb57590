"""Benchmark: policy simulation speed and memory at city scale (issue 19).

Targets: one policy with a 10-value sweep over 1M enterprises in < 5 s; the whole book of 2,000 policies in
< 60 s; < 6 GB.

    .venv/bin/python benchmarks/simulate_city.py                        # 1,000,000 enterprises × 2,000 policies
    .venv/bin/python benchmarks/simulate_city.py --enterprises 100000   # a quicker look

The city is the one ``benchmarks/daily_run.py`` builds (``build_city``: enterprises and postings from the
synthetic generator without its history, 2,000 variant policies, a random push history and grants), reused when
it exists.  In a child process (so its peak RSS is its own): ``read_city`` (read, validate, profile — timed
apart: a policy office reads the city once and simulates many times), then ``simulate`` of the whole book, then
of one policy with a 10-value sweep of a numeric threshold (with the overlap against the in-force book, and
without).  Wall and CPU seconds of each (the machine is shared: CPU time is what the run itself used).  Prints the
numbers and writes ``benchmarks/results/simulate_city.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = "2025-07-01"


def _sweep_target(book, summary) -> tuple[str, str, list[float]]:
    """The broadest policy (most eligible + undetermined enterprises in the whole-book run) with a numeric ge/gt
    threshold, and ten values around it: the costliest sweep of one policy."""
    from quanhuiqi.policy.model import iter_atoms

    s = summary.assign(n=summary["eligible"] + summary["undetermined"]).sort_values("n", ascending=False)
    for pid in s["policy_id"].astype(str):
        p = book.by_id[pid]
        for a in iter_atoms(p.condition):
            if book.fields[a.field].type == "number" and a.op in ("ge", "gt") and isinstance(a.value, float) and a.value > 0:
                return p.id, a.path, [round(a.value * f, 4) for f in (0.25, 0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2, 3, 4)]
    raise SystemExit("no numeric threshold to sweep in the book")


def child(city: str) -> dict:
    from quanhuiqi.policy import load_book
    from quanhuiqi.simulate import read_city, simulate

    out: dict = {}
    t, c = time.perf_counter(), time.process_time()
    data = read_city(city, DAY)
    out["read_city_s"] = round(time.perf_counter() - t, 2)
    out["read_city_cpu_s"] = round(time.process_time() - c, 2)
    out["enterprises"] = data.n
    book = data.in_force if data.in_force is not None else load_book(Path(city) / "policies")
    out["policies"] = len(book)
    t, c = time.perf_counter(), time.process_time()
    res = simulate(book, data, DAY)
    out["whole_book_s"] = round(time.perf_counter() - t, 2)
    out["whole_book_cpu_s"] = round(time.process_time() - c, 2)
    out["whole_book_timings"] = res.meta["timings"]
    out["whole_book_rows"] = len(res.summary)
    out["peak_rss_gb_after_whole_book"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    pid, path, values = _sweep_target(book, res.summary)
    del res
    one = book.subset([pid])
    vary = [{"policy": pid, "path": path, "values": values}]
    for label, kw in (("sweep_with_overlap", {}), ("sweep_without_overlap", {"in_force": one})):
        t, c = time.perf_counter(), time.process_time()
        r = simulate(one, data, DAY, vary=vary, **kw)
        out[f"{label}_s"] = round(time.perf_counter() - t, 2)
        out[f"{label}_cpu_s"] = round(time.process_time() - c, 2)
        out[f"{label}_timings"] = r.meta["timings"]
    out["sweep"] = {"policy": pid, "path": path, "values": values, "rows": len(r.summary),
                    "eligible": r.summary["eligible"].tolist()}
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=1_000_000)
    ap.add_argument("--policies", type=int, default=2000)
    ap.add_argument("--city", default=None, help="default /tmp/quanhuiqi_bench_city_N_P (daily_run.py's)")
    ap.add_argument("--child", metavar="CITY")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child), ensure_ascii=False))
        return
    city = Path(a.city or f"/tmp/quanhuiqi_bench_city_{a.enterprises}_{a.policies}")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from daily_run import build_city

    t = time.perf_counter()
    build_city(city, a.enterprises, a.policies, 90, 8.0, 0)
    built = time.perf_counter() - t
    load = os.getloadavg()
    wall = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(city)], check=True, capture_output=True, text=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update({"wall_s": round(time.perf_counter() - wall, 2), "city": str(city), "city_build_s": round(built, 1),
                "load_average_at_start": [round(x, 2) for x in load], "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                "cpu_count": os.cpu_count(), "targets": {"sweep_s": 5, "whole_book_s": 60, "peak_rss_gb": 6},
                "command": "python benchmarks/simulate_city.py " + " ".join(sys.argv[1:])})
    print(json.dumps(res, ensure_ascii=False, indent=1))
    name = "simulate_city.json" if a.enterprises == 1_000_000 else f"simulate_city_{a.enterprises}.json"
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / name).write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
