"""Benchmark: the daily job's ``read`` and ``validate`` stages on a synthetic city, table by table.

Reproduces exactly what ``quanhuiqi.push.job.run_daily`` does between ``prepare`` and the
``postings`` stage, with the same functions (``read_enterprises`` / ``read_table``,
``validate_enterprises``, ``validate_history``, ``validate_postings``, ``merge_previous``) and the
default configuration's table list, and prints the wall time per table and function.

    .venv/bin/python benchmarks/validate_day.py                                   # the 1M city
    .venv/bin/python benchmarks/validate_day.py --save /tmp/validate_day_before   # keep the outputs
    .venv/bin/python benchmarks/validate_day.py --compare /tmp/validate_day_before  # must be identical
    .venv/bin/python benchmarks/validate_day.py --profile /tmp/validate_day.prof  # cProfile both stages

To time the code before a change, run the same script with an older copy of the package first
on ``PYTHONPATH`` (``PYTHONPATH=/tmp/before_src .venv/bin/python benchmarks/validate_day.py --save …``).
The machine is shared: the wall times move with the load, the CPU seconds (all threads) less so.

``--save`` pickles every clean table and rejects table (dtypes included); ``--compare`` checks the
new ones against them with ``DataFrame.equals`` plus dtype and column equality, so a speed-up that
changes a row, a reason or the order fails loudly.  Writes ``benchmarks/results/validate_day.json``.
The city is built by ``benchmarks/daily_run.py`` (default ``/tmp/quanhuiqi_bench_city_1000000_0``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pickle
import resource
import sys
import time
from pathlib import Path

import pandas as pd

DAY = "2025-07-01"
ROOT = Path(__file__).resolve().parents[1]
CITY = Path("/tmp/quanhuiqi_bench_city_1000000_0")


def run(city: Path, day: str) -> tuple[dict[str, float], dict[str, pd.DataFrame], dict[str, int]]:
    """The two stages as run_daily runs them; returns timings, outputs and row counts."""
    from quanhuiqi.push.config import load_config
    from quanhuiqi.push.job import STATE_TABLES, _locate, merge_previous
    from quanhuiqi.tables import read_enterprises, read_table, validate_enterprises, validate_history

    cfg = load_config(None)
    ts = pd.Timestamp(day).normalize()
    paths = _locate(city, cfg)
    t: dict[str, float] = {}
    out: dict[str, pd.DataFrame] = {}
    counts: dict[str, int] = {}

    t0, c0 = time.perf_counter(), time.process_time()
    raw: dict[str, pd.DataFrame] = {}
    for name, p in paths.items():
        if p is None or name == "policies":
            continue
        s = time.perf_counter()
        raw[name] = read_enterprises(p) if name == "enterprises" else read_table(p)
        t[f"read.{name}"] = time.perf_counter() - s
        counts[f"{name}.rows"] = len(raw[name])
    t["read"] = time.perf_counter() - t0
    t["read_cpu"] = time.process_time() - c0

    t0, c0 = time.perf_counter(), time.process_time()
    s = time.perf_counter()
    v = validate_enterprises(raw.pop("enterprises"), ts, "enterprises")
    t["validate.enterprises"] = time.perf_counter() - s
    out["enterprises.clean"], out["enterprises.rejects"] = v.clean, v.rejects
    state: dict[str, pd.DataFrame | None] = {}
    for name in STATE_TABLES:
        if name not in raw:
            state[name] = None
            continue
        s = time.perf_counter()
        sv = validate_history(name, raw.pop(name), ts, name)
        t[f"validate.{name}"] = time.perf_counter() - s
        state[name] = sv.clean
        out[f"{name}.clean"], out[f"{name}.rejects"] = sv.clean, sv.rejects
    if "posting_interactions" in raw:
        s = time.perf_counter()
        iv = validate_history(
            "posting_interactions", raw.pop("posting_interactions"), ts, "posting_interactions"
        )
        t["validate.posting_interactions"] = time.perf_counter() - s
        out["posting_interactions.clean"], out["posting_interactions.rejects"] = iv.clean, iv.rejects
    if "postings" in raw:
        s = time.perf_counter()
        from quanhuiqi.postings import validate_postings  # as run_daily: imported inside the stage

        t["validate.postings_import"] = time.perf_counter() - s
        s = time.perf_counter()
        pv = validate_postings(raw.pop("postings"), ts, "postings")
        t["validate.postings"] = time.perf_counter() - s
        out["postings.clean"], out["postings.rejects"] = pv.clean, pv.rejects
    s = time.perf_counter()
    state["push_history"] = merge_previous(
        state["push_history"], None
    )  # no earlier outputs in a fresh out dir
    t["validate.merge_previous"] = time.perf_counter() - s
    t["validate"] = time.perf_counter() - t0
    t["validate_cpu"] = time.process_time() - c0
    for k, df in out.items():
        counts[k] = len(df)
    return t, out, counts


def compare(out: dict[str, pd.DataFrame], ref_dir: Path) -> list[str]:
    """Names of the tables that differ from the saved ones (values, dtypes, columns, order or attrs)."""
    diffs = []
    for name, df in out.items():
        ref = pickle.loads((ref_dir / f"{name}.pkl").read_bytes())
        same = (
            list(df.columns) == list(ref.columns)
            and list(df.dtypes.astype(str)) == list(ref.dtypes.astype(str))
            and df.index.equals(ref.index)
            and df.equals(ref)
            and df.attrs.keys() == ref.attrs.keys()
        )
        if not same:
            diffs.append(name)
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", type=Path, default=CITY)
    ap.add_argument("--date", default=DAY)
    ap.add_argument("--save", type=Path, help="pickle every clean/rejects table into this folder")
    ap.add_argument("--compare", type=Path, help="check every table against a --save folder")
    ap.add_argument("--profile", type=Path, help="write a cProfile of both stages here and print the top")
    ap.add_argument("--label", default="", help="a note stored in the JSON (e.g. before/after)")
    args = ap.parse_args()

    load0 = os.getloadavg()[0]
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    t, out, counts = run(args.city, args.date)
    if prof:
        prof.disable()
        prof.dump_stats(args.profile)
        import pstats

        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"city {args.city}  as_of {args.date}")
    for k, v in t.items():
        if "." in k:
            print(f"  {k:<36} {v:7.2f} s")
    print(f"  {'read (stage)':<36} {t['read']:7.2f} s")
    print(f"  {'validate (stage)':<36} {t['validate']:7.2f} s")
    print(f"  {'read + validate':<36} {t['read'] + t['validate']:7.2f} s")
    print(f"  {'CPU time read / validate':<36} {t['read_cpu']:7.2f} s / {t['validate_cpu']:.2f} s (all threads)")
    print(f"  peak RSS {peak:.0f} MB, load average at start {load0:.2f}")

    result = {
        "label": args.label,
        "city": str(args.city),
        "as_of": args.date,
        "seconds": {k: round(v, 2) for k, v in t.items()},
        "read_plus_validate_seconds": round(t["read"] + t["validate"], 2),
        "read_plus_validate_cpu_seconds": round(t["read_cpu"] + t["validate_cpu"], 2),
        "rows": counts,
        "peak_rss_mb": round(peak),
        "load_average_1min_at_start": round(load0, 2),
        "profiled": bool(prof),
    }
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for name, df in out.items():
            (args.save / f"{name}.pkl").write_bytes(pickle.dumps(df, protocol=5))
        print(f"saved {len(out)} tables to {args.save}")
    rc = 0
    if args.compare:
        diffs = compare(out, args.compare)
        result["identical_to"] = str(args.compare)
        result["differs"] = diffs
        print("identical to saved outputs" if not diffs else f"DIFFERENT from saved outputs: {diffs}")
        rc = 1 if diffs else 0
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / "validate_day.json").write_text(json.dumps(result, indent=2) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
