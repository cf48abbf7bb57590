"""Benchmark: where ``quanhuiqi eligibility``'s wall time goes, stage by stage, and the Parquet writer's own thread.

Issue 15 asks the command to run in a third of the DuckDB reference's time. pyarrow's Parquet writer encodes and
compresses a row group's columns one after another on the calling thread, and the command calls it once the city
is read, validated, profiled and evaluated; so "before the first pair" plus "the writer's thread" is a floor under
the command's wall time, whatever explaining the pairs costs. This script measures both, on the inputs
``benchmarks/eligibility_end_to_end.py`` made in ``--work``:

    .venv/bin/python benchmarks/eligibility_stages.py --n 100000 --policies 500 --repeat 3 --work /tmp/qhq_e2e_100k
    flock /tmp/qhq_bigmem.lock .venv/bin/python benchmarks/eligibility_stages.py --n 1000000 --policies 2000 \\
        --work /tmp/qhq_e2e_1m

The steps are called as :func:`quanhuiqi.eligibility.eligibility_file` calls them, in a child process per round
with the command's process settings (:func:`quanhuiqi.process.batch_settings`, applied before Arrow loads).
Numbers go to ``benchmarks/results/eligibility_stages_<n>_<policies>.json`` with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAY = "2025-07-01"

CHILD = r"""
import json, sys, time
from quanhuiqi.process import batch_settings
batch_settings()
clock = [(time.process_time(), time.perf_counter())]
stages = {}
def mark(name):
    c, w = time.process_time(), time.perf_counter()
    stages[name] = {"cpu_s": round(c - clock[0][0], 3), "wall_s": round(w - clock[0][1], 3)}
    clock[0] = (c, w)
import datetime
import pyarrow.parquet as pq
from quanhuiqi.eligibility.stream import write_pairs
from quanhuiqi.policy import load_book
from quanhuiqi.profile import profile
from quanhuiqi.tables import read_enterprises, validate_enterprises
mark("imports")
writer = {"thread_cpu_s": 0.0, "wall_s": 0.0}
write_batch = pq.ParquetWriter.write_batch
def timed_write_batch(self, *args, **kwargs):
    c, w = time.thread_time(), time.perf_counter()
    try:
        return write_batch(self, *args, **kwargs)
    finally:
        writer["thread_cpu_s"] += time.thread_time() - c
        writer["wall_s"] += time.perf_counter() - w
pq.ParquetWriter.write_batch = timed_write_batch
enterprises, policies, out, day = sys.argv[1:5]
as_of = datetime.date.fromisoformat(day)
book = load_book(policies); mark("book")
raw = read_enterprises(enterprises, report={}); mark("read")
val = validate_enterprises(raw, as_of, source=enterprises); del raw; mark("validate")
prof = profile(val.clean, as_of); del val; mark("profile")
done = write_pairs(book.compiled, prof, as_of, out)
mark("write_pairs")
stages["encode_evaluate"] = {"wall_s": round(done.timings["evaluate_s"], 3)}
print(json.dumps({"stages": stages, "writer": {k: round(v, 3) for k, v in writer.items()}, "pairs": done.pairs}))
"""


def one_round(work: Path, n: int, policies: int) -> dict:
    """One child process: the stages' times, the writer's thread, and the floor they make together."""
    out = work / "pairs_stages.parquet"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    args = [str(work / f"enterprises_{n}.parquet"), str(work / f"policies_{policies}"), str(out), DAY]
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, check=True, capture_output=True, text=True)
    finally:
        out.unlink(missing_ok=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    wall = {name: s["wall_s"] for name, s in got["stages"].items()}
    before = sum(wall[k] for k in ("imports", "book", "read", "validate", "profile", "encode_evaluate"))
    got["before_first_pair_wall_s"] = round(before, 3)
    got["floor_wall_s"] = round(before + got["writer"]["thread_cpu_s"], 3)
    got["total_cpu_s"] = round(sum(s.get("cpu_s", 0.0) for s in got["stages"].values()), 3)
    got["total_wall_s"] = round(sum(s["wall_s"] for k, s in got["stages"].items() if k != "encode_evaluate"), 3)
    got["load_1min"] = os.getloadavg()[0]
    return got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", type=Path, required=True, help="the folder eligibility_end_to_end.py made its inputs in")
    ap.add_argument("--peer-wall", type=float, default=None,
                    help="the DuckDB reference's wall seconds on these inputs (to report the 3× bar beside the floor)")
    ap.add_argument("--name", default=None, help="result file name (default: eligibility_stages_<n>_<policies>.json)")
    a = ap.parse_args(argv)
    for need in (a.work / f"enterprises_{a.n}.parquet", a.work / f"policies_{a.policies}"):
        if not need.exists():
            ap.error(f"{need} is missing: run benchmarks/eligibility_end_to_end.py --n {a.n} --policies {a.policies} "
                     f"--work {a.work} first")
    rounds = []
    for k in range(a.repeat):
        r = one_round(a.work, a.n, a.policies)
        rounds.append(r)
        print(f"round {k + 1}: before the first pair {r['before_first_pair_wall_s']:.2f} s, the writer's thread "
              f"{r['writer']['thread_cpu_s']:.2f} s, floor {r['floor_wall_s']:.2f} s; whole {r['total_wall_s']:.2f} s "
              f"wall, {r['total_cpu_s']:.2f} CPU s (load {r['load_1min']:.2f})", flush=True)
    result = {"enterprises": a.n, "policies": a.policies, "as_of": DAY, "rounds": rounds,
              "command": "benchmarks/eligibility_stages.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    if a.peer_wall:
        result["bar_3x_wall_s"] = round(a.peer_wall / 3, 3)
        result["floor_above_bar"] = all(r["floor_wall_s"] > a.peer_wall / 3 for r in rounds)
    name = a.name or f"eligibility_stages_{a.n}_{a.policies}.json"
    (HERE / "results" / name).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
