"""Benchmark: where ``quanhuiqi eligibility``'s wall time goes, stage by stage, and the Parquet writer's own thread.

Issue 15 asks the command to run in a third of the DuckDB reference's time. pyarrow's Parquet writer encodes and
compresses a row group's columns one after another on the calling thread, and the command calls it once the city
is read, validated, profiled and evaluated; so "before the first pair" plus "the writer's thread" is a floor under
the command's wall time, whatever explaining the pairs costs. This script measures both, on the inputs
``benchmarks/eligibility_end_to_end.py`` makes (taken again when ``--work`` holds them):

    .venv/bin/python benchmarks/eligibility_stages.py --n 100000 --policies 500 --repeat 3 --work /tmp/qhq_e2e_100k
    flock /tmp/qhq_bigmem.lock .venv/bin/python benchmarks/eligibility_stages.py --n 1000000 --policies 2000 \\
        --work /tmp/qhq_e2e_1m

Each round is a child process running the command itself (``quanhuiqi.cli.main``, so its process settings and
its steps are the command's), with timers wrapped around the functions ``eligibility_file`` calls and around the
Parquet writer's ``write_batch``. Numbers go to ``benchmarks/results/eligibility_stages_<n>_<policies>.json``
with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from eligibility_end_to_end import AS_OF, ROOT, _commit, make_inputs  # the script's own folder

# The child: the command with a timer on each step it calls (its ``from … import`` runs at call time, so the
# wrapped functions are the ones it gets) and on the writer's calls (thread time: the writer's own thread).
CHILD = r"""
import json, sys, time
wall0 = time.perf_counter()
from quanhuiqi.process import batch_settings
batch_settings()  # before Arrow loads, as the command's process does
import pyarrow.parquet as pq
import quanhuiqi.eligibility.stream as stream
import quanhuiqi.policy as policy
import quanhuiqi.profile as profile
import quanhuiqi.tables as tables
from quanhuiqi.cli import main
stages = {"imports": {"cpu_s": round(time.process_time(), 3), "wall_s": round(time.perf_counter() - wall0, 3)}}
writer = {"thread_cpu_s": 0.0, "wall_s": 0.0}
written = {}

def step(module, name):
    call = getattr(module, name)
    def run(*args, **kwargs):
        c, w = time.process_time(), time.perf_counter()
        result = call(*args, **kwargs)
        stages[name] = {"cpu_s": round(time.process_time() - c, 3), "wall_s": round(time.perf_counter() - w, 3)}
        written.update(getattr(result, "timings", {}))  # write_pairs's own split: encode + evaluate, write
        return result
    setattr(module, name, run)

def write_batch(self, *args, **kwargs):
    c, w = time.thread_time(), time.perf_counter()
    try:
        return parquet_write_batch(self, *args, **kwargs)
    finally:
        writer["thread_cpu_s"] += time.thread_time() - c
        writer["wall_s"] += time.perf_counter() - w

for module, name in ((policy, "load_book"), (tables, "read_enterprises"), (tables, "validate_enterprises"),
                     (profile, "profile"), (stream, "write_pairs")):
    step(module, name)
parquet_write_batch, pq.ParquetWriter.write_batch = pq.ParquetWriter.write_batch, write_batch
main(["eligibility", "--enterprises", sys.argv[1], "--policies", sys.argv[2], "--as-of", sys.argv[4],
      "--out", sys.argv[3]])
print(json.dumps({"stages": stages, "writer": {k: round(v, 3) for k, v in writer.items()},
                  "encode_evaluate_wall_s": round(written["evaluate_s"], 3)}))
"""
BEFORE_FIRST_PAIR = ("imports", "load_book", "read_enterprises", "validate_enterprises", "profile")


def one_round(enterprises: Path, book: Path, work: Path) -> dict:
    """One child process: the stages' times, the writer's thread, and the floor they make together."""
    out = work / "pairs_stages.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(enterprises), str(book), str(out), AS_OF],
                              env=env, check=True, capture_output=True, text=True)
    finally:
        out.unlink(missing_ok=True)
        (work / "pairs_stages.rejects.parquet").unlink(missing_ok=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    wall = {name: s["wall_s"] for name, s in got["stages"].items()}
    before = sum(wall[k] for k in BEFORE_FIRST_PAIR) + got["encode_evaluate_wall_s"]
    got["before_first_pair_wall_s"] = round(before, 3)
    got["floor_wall_s"] = round(before + got["writer"]["thread_cpu_s"], 3)
    got["steps_cpu_s"] = round(sum(s["cpu_s"] for s in got["stages"].values()), 3)
    got["steps_wall_s"] = round(sum(wall.values()), 3)
    got["load_1min"] = os.getloadavg()[0]
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--work", type=Path, required=True,
                    help="folder of the inputs (eligibility_end_to_end.py's; made there when missing)")
    ap.add_argument("--peer-wall", type=float, default=None,
                    help="the DuckDB reference's wall seconds on these inputs (to report the 3× bar beside the floor)")
    ap.add_argument("--name", default=None, help="result file name (default: eligibility_stages_<n>_<policies>.json)")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    enterprises, book = make_inputs(a.work, a.n, a.policies, a.seed, reuse=True)
    rounds = []
    for k in range(a.repeat):
        r = one_round(enterprises, book, a.work)
        rounds.append(r)
        print(f"round {k + 1}: before the first pair {r['before_first_pair_wall_s']:.2f} s, the writer's thread "
              f"{r['writer']['thread_cpu_s']:.2f} s, floor {r['floor_wall_s']:.2f} s; the steps {r['steps_wall_s']:.2f} s "
              f"wall, {r['steps_cpu_s']:.2f} CPU s (load {r['load_1min']:.2f})", flush=True)
    result = {"enterprises": a.n, "policies": a.policies, "as_of": AS_OF, "rounds": rounds,
              "command": "benchmarks/eligibility_stages.py " + " ".join(sys.argv[1:]), "code": _commit()}
    if a.peer_wall:
        result["bar_3x_wall_s"] = round(a.peer_wall / 3, 3)
        result["floor_above_bar"] = all(r["floor_wall_s"] > a.peer_wall / 3 for r in rounds)
    name = a.name or f"eligibility_stages_{a.n}_{a.policies}.json"
    (ROOT / "benchmarks" / "results" / name).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n",
                                                         encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
