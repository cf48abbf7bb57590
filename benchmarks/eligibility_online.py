"""One enterprise × 2,000 policies online: latency of ``book.match`` (verdicts for every active
policy, evidence and missing facts for the eligible and undetermined pairs).

    .venv/bin/python benchmarks/eligibility_online.py [--policies 2000] [--calls 5000]

Reports p50 / p90 / p99 / max per call for: the bare verdict vector, the pairs as columns
(``OnlineMatcher.match_columns``: what a backend serialises to JSON), and the pairs as a pandas
DataFrame (``PolicyBook.match``); plus, per enterprise, the minimum of three identical calls (on a
shared machine single calls are sometimes preempted for milliseconds by other processes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from quanhuiqi.policy import load_book  # noqa: E402

AS_OF = dt.date(2025, 7, 1)


def percentiles(xs: list[float]) -> dict[str, float]:
    a = np.array(xs) * 1e6
    return {
        "p50_us": float(np.percentile(a, 50)),
        "p90_us": float(np.percentile(a, 90)),
        "p99_us": float(np.percentile(a, 99)),
        "max_us": float(a.max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policies", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    from quanhuiqi.profile import profile
    from quanhuiqi.synth.enterprises import generate_enterprises
    from quanhuiqi.synth.policies import generate_policies, write_policies
    from quanhuiqi.tables import validate_enterprises

    with tempfile.TemporaryDirectory() as d:
        book = load_book(
            write_policies(generate_policies(args.policies, seed=args.seed), Path(d) / "policies")
        )
    raw = generate_enterprises(args.calls, seed=args.seed + 1, as_of=AS_OF)
    prof = profile(validate_enterprises(raw, AS_OF).clean, AS_OF)
    rows = [r for _, r in prof.iterrows()]
    dict_rows = [r.to_dict() for r in rows]
    t = time.perf_counter()
    m = book._online
    build_s = time.perf_counter() - t
    for r in dict_rows[:500]:  # warm the per-value caches (industry and district codes, tags)
        m.match_columns(r, AS_OF)
    gc.disable()
    timings: dict[str, list[float]] = {
        "verdicts": [],
        "match_columns": [],
        "match_dataframe": [],
        "match_columns_min_of_3": [],
    }
    n_pairs = []
    for r, dr in zip(rows, dict_rows, strict=True):
        t = time.perf_counter()
        m.verdicts(dr, AS_OF)
        timings["verdicts"].append(time.perf_counter() - t)
        t = time.perf_counter()
        cols = m.match_columns(dr, AS_OF)
        timings["match_columns"].append(time.perf_counter() - t)
        t = time.perf_counter()
        book.match(r, AS_OF)
        timings["match_dataframe"].append(time.perf_counter() - t)
        n_pairs.append(len(cols["policy_id"]))
        # the same call twice more: the minimum of three strips the shared machine's preemptions
        best = timings["match_columns"][-1]
        for _ in range(2):
            t = time.perf_counter()
            m.match_columns(dr, AS_OF)
            best = min(best, time.perf_counter() - t)
        timings["match_columns_min_of_3"].append(best)
    gc.enable()
    result = {
        "policies": args.policies,
        "active_policies": int(m._active_mask(AS_OF).sum()),
        "calls": len(rows),
        "distinct_tests": book.compiled.n_atoms,
        "matcher_build_s": build_s,
        "pairs_per_call_mean": float(np.mean(n_pairs)),
        "pairs_per_call_max": int(np.max(n_pairs)),
        **{k: percentiles(v) for k, v in timings.items()},
        "machine_load_1min": os.getloadavg()[0],
    }
    out = ROOT / "benchmarks" / "results" / "eligibility_online.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
