"""Run every benchmark in its own process, one after the other, and print the measured numbers.

Usage: .venv/bin/python benchmarks/run_all.py [name ...]   (names without .py; default: all)

Each benchmark writes its numbers to benchmarks/results/<name>.json; timings are only meaningful
on an otherwise idle machine (2 cores): the load average is recorded beside them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "synth_city",
    "validate_enterprises",
    "profile_city",
    "link_names",
    "eligibility_vs_duckdb",
    "eligibility_online",
    "validate_day",
    "verdict_accuracy",
    "rank_train_score",
    "rank_ceiling",
    "rank_online",
    "postings_match",
    "postings_city",
    "postings_ceiling",
    "postings_model_selection",
    "shortlist_recall",
    "appeals_privacy",
    "appeals_city",
    "appeals_real",
    "appeals_speed",
    "daily_run",
    "spark_driver",
]


def main(argv: list[str]) -> int:
    names = argv or [n for n in ORDER if (HERE / f"{n}.py").exists()]
    failed = []
    for name in names:
        load = os.getloadavg()[0]
        print(f"== {name} (load average {load:.2f})", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], cwd=HERE.parent).returncode
        print(f"== {name}: exit {rc} in {time.perf_counter() - t0:.1f} s", flush=True)
        if rc:
            failed.append(name)
        result = HERE / "results" / f"{name}.json"
        if result.exists():
            print(json.dumps(json.loads(result.read_text()), ensure_ascii=False, indent=1)[:4000])
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
