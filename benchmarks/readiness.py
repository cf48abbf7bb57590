"""Benchmark: 免申即享 readiness (``quanhuiqi policy readiness``) on a synthetic city.

Target (issue 13): fast at 1,000,000 enterprises × 2,000 policies on the shared 2-core machine.

    .venv/bin/python benchmarks/readiness.py                       # 1M × 2,000
    .venv/bin/python benchmarks/readiness.py --enterprises 100000  # a quicker look

The city is the daily-job benchmark's (``benchmarks/daily_run.py``: ``generate_city(history=False)`` plus
``--policies`` variant policies): an existing ``/tmp/quanhuiqi_bench_city_N_P`` is read as it is (never
modified), else one is generated into ``--city``.  A city written before the synthetic book shipped its
``sources.csv`` gets the shipped one (``synth/data/policies/sources.csv``) through ``--sources``.  The run
happens in a child process so its wall time and peak RSS are its own; it times each stage: read → validate →
profile, the evaluation of each slice of ``--slice-rows`` enterprises and its reduction to additive counts,
the eligible estimate, the tables and the HTML page.  Numbers go to ``benchmarks/results/readiness*.json``
with the machine's load average (the machine is shared: timings under load are upper bounds).
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

DAY = "2025-07-01"
ROOT = Path(__file__).resolve().parents[1]


def run(city: Path, slice_rows: int, donors: int, sources: str | None) -> dict:
    import numpy as np
    import pandas as pd

    from quanhuiqi.eligibility import evaluate, with_facts
    from quanhuiqi.policy import load_book
    from quanhuiqi.policy.readiness import (
        ReadinessCounts,
        estimate_eligible,
        readiness_counts,
        readiness_tables,
        render_readiness_html,
        source_map,
    )
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import read_enterprises, validate_enterprises
    from quanhuiqi.tables.facts import load_fact_tables

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    book = load_book(city / "policies")
    t["load_book"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    clean = validate_enterprises(read_enterprises(city / "enterprises.csv"), DAY).clean
    t["read_validate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prof = profile(clean, DAY)
    del clean
    facts, _ = load_fact_tables(city, DAY, prof["uscc"], book.table_vocabularies())
    if book.compiled.derived_fields:
        prof = with_facts(book, prof, facts, DAY)
    t["profile"] = time.perf_counter() - t0
    smap = source_map(book, sources)
    parts, t_eval, t_count, pairs, undet = [], 0.0, 0.0, 0, 0
    for a in range(0, len(prof), slice_rows):
        part = prof.iloc[a:a + slice_rows].reset_index(drop=True)
        t0 = time.perf_counter()
        res = evaluate(book, part, DAY, near_misses=False, evidence=False, categorical=True)
        t_eval += time.perf_counter() - t0
        pairs += len(res.pairs)
        undet += int((res.pairs["verdict"] == "undetermined").sum())
        t0 = time.perf_counter()
        parts.append(readiness_counts(res.pairs, part, book, DAY, smap))
        t_count += time.perf_counter() - t0
        del res, part
        print(f"slice {a // slice_rows + 1}: eval {t_eval:.0f}s counts {t_count:.0f}s", flush=True)
    t["evaluate_slices"], t["readiness_counts"] = t_eval, t_count
    t0 = time.perf_counter()
    counts = ReadinessCounts.combine(parts)
    t["combine"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    est = estimate_eligible(book, prof, counts, smap, donor_pool=donors)
    t["estimate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = readiness_tables(counts, book, smap, est)
    t["tables"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    page = render_readiness_html(r)
    t["html"] = time.perf_counter() - t0
    top = r.actions.head(5)
    return {
        "enterprises": len(prof), "active_policies": int(r.summary["active_policies"]),
        "candidate_pairs": pairs, "undetermined_pairs": undet, "groups": len(counts.groups),
        "unknown_lists": int(counts.groups["unknown"].nunique()), "estimated_groups": len(est),
        "estimated_pairs": int(est["pairs"].sum() - est["unestimated"].sum()),
        "unestimated_pairs": int(est["unestimated"].sum()), "html_bytes": len(page.encode()),
        "stage_seconds": {k: round(v, 2) for k, v in t.items()},
        "readiness_seconds": round(t["readiness_counts"] + t["combine"] + t["estimate"] + t["tables"] + t["html"], 1),
        "decided_share": round(r.summary["decided_share"], 4),
        "top_actions": [{"action": x.action, "departments": x.departments, "decided_pairs": int(x.decided_pairs),
                         "eligible_est": None if np.isnan(x.eligible_est) else round(float(x.eligible_est)),
                         "score": float(x.score)} for x in top.itertuples()],
        "peak_rss_gb_child": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
        "pandas": pd.__version__,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=1_000_000)
    ap.add_argument("--policies", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--city", default=None, help="default: /tmp/quanhuiqi_bench_city_N_P when it exists (read only), "
                                                 "else /tmp/quanhuiqi_readiness_city_N_P (generated)")
    ap.add_argument("--slice-rows", type=int, default=100_000)
    ap.add_argument("--donors", type=int, default=8192)
    ap.add_argument("--sources", default=None)
    ap.add_argument("--result-name", default=None, help="write benchmarks/results/readiness_<name>.json instead")
    ap.add_argument("--run-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.run_only:
        print("RESULT " + json.dumps(run(Path(a.city), a.slice_rows, a.donors, a.sources), ensure_ascii=False))
        return 0
    shared = Path(f"/tmp/quanhuiqi_bench_city_{a.enterprises}_{a.policies}")
    city = Path(a.city) if a.city else shared if (shared / "benchmark_params.json").exists() else \
        Path(f"/tmp/quanhuiqi_readiness_city_{a.enterprises}_{a.policies}")
    built = None
    if not (city / "benchmark_params.json").exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from daily_run import build_city

        built = build_city(city, a.enterprises, a.policies, 90, 8.0, a.seed)
    sources = a.sources
    if sources is None and not (city / "policies" / "sources.csv").exists():
        sources = str(ROOT / "src" / "quanhuiqi" / "synth" / "data" / "policies" / "sources.csv")
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--run-only", "--city", str(city), "--slice-rows", str(a.slice_rows),
           "--donors", str(a.donors)] + (["--sources", sources] if sources else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        return proc.returncode
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = {
        **json.loads(line[len("RESULT "):]),
        "city": str(city), "city_params": json.loads((city / "benchmark_params.json").read_text()),
        "city_built_seconds": None if built is None else built.get("build_seconds"),
        "slice_rows": a.slice_rows, "donor_pool": a.donors, "sources": sources,
        "wall_seconds": round(wall, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2, 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()], "cpu_count": os.cpu_count(),
        "command": " ".join([".venv/bin/python", "benchmarks/readiness.py"] + sys.argv[1:]),
    }  # fmt: skip
    print(json.dumps(result, ensure_ascii=False, indent=2))
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    name = "readiness.json" if a.result_name is None else f"readiness_{a.result_name}.json"
    (res_dir / name).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
