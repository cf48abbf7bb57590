"""Benchmark of the synthetic city generator: time and peak memory.

    .venv/bin/python benchmarks/synth_city.py [--enterprises 1000000] [--skip-city]

Each case runs in its own child process so that its peak RSS (``ru_maxrss``) is its own:

- ``enterprises``: ``simulate_enterprises(N)`` (raw messy table + true table), N = 1,000,000;
- ``city_no_history``: ``generate_city(N, history=False)`` — enterprises, policies, ~0.6·N postings,
  posting interactions, truth, all files written;
- ``policies_2000``: ``generate_policies(2000)`` + ``write_policies``;
- ``sample_city``: ``generate_city(5000)`` with the 120-day push history through the real pipeline.

Prints the numbers and writes them to ``benchmarks/results/synth_city.json``.  Wall time depends on
what else runs on the machine; CPU time is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _case(name: str, n: int, out: str) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    extra: dict = {}
    if name == "enterprises":
        from quanhuiqi.synth import simulate_enterprises

        raw, true = simulate_enterprises(n, 0, "2025-07-01")
        extra = {"rows_raw": len(raw), "rows_true": len(true)}
    elif name == "city_no_history":
        from quanhuiqi.synth import generate_city

        extra = {"summary": generate_city(out, n_enterprises=n, seed=0, history=False)}
    elif name == "policies_2000":
        from quanhuiqi.synth import generate_policies, write_policies

        write_policies(generate_policies(2000, seed=0), out)
        extra = {"files": len(list(Path(out).glob("*.yaml")))}
    elif name == "sample_city":
        from quanhuiqi.synth import generate_city

        extra = {"summary": generate_city(out, n_enterprises=n, seed=0)}
    return {"case": name, "n": n, "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), **extra}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=1_000_000)
    ap.add_argument("--skip-city", action="store_true", help="skip the N-enterprise city without history")
    ap.add_argument("--child", nargs=3, metavar=("CASE", "N", "OUT"))
    args = ap.parse_args()
    if args.child:
        name, n, out = args.child
        print(json.dumps(_case(name, int(n), out), ensure_ascii=False))
        return
    cases = [("enterprises", args.enterprises)]
    if not args.skip_city:
        cases.append(("city_no_history", args.enterprises))
    cases += [("policies_2000", 2000), ("sample_city", 5000)]
    results = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for name, n in cases:
            out = str(Path(tmp) / name)
            proc = subprocess.run([sys.executable, __file__, "--child", name, str(n), out],
                                  check=True, capture_output=True, text=True)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(res)
            print(f"{name:>16}  n={n:>9,}  wall {res['wall_s']:7.1f} s  cpu {res['cpu_s']:7.1f} s  "
                  f"peak RSS {res['peak_rss_mb']:8.1f} MB", flush=True)
    report = {"load_avg_at_start": [round(x, 2) for x in load], "cpu_count": os.cpu_count(), "results": results}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "synth_city.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"load average at start {load}; written to benchmarks/results/synth_city.json")


if __name__ == "__main__":
    main()
