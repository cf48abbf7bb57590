"""Benchmark: where the daily job's peak memory goes, per stage (issue 15: 1M in < 8 GB with 5 partitions).

Runs ``run_daily`` in this process on a city ``benchmarks/daily_run.py`` generated, with the job's stages
wrapped: each wrapped call resets the kernel's peak-RSS mark (``/proc/self/clear_refs``) and reads it when
it returns, so every stage gets its own peak (a caller's peak includes its callees').  Linux only.

    .venv/bin/python benchmarks/daily_run.py --enterprises 100000                 # generates the city once
    .venv/bin/python benchmarks/daily_run_memory.py --partitions 10               # 10 partitions of 10,000
    .venv/bin/python benchmarks/daily_run_memory.py --partitions 1 --batch-size 10000   # one, in batches

Writes ``benchmarks/results/daily_run_memory_<name>.json`` (per stage: calls, RSS on entry, peak, peak −
entry, in GB).  The peak of the whole run is ``run_daily``'s; a run of the city in one unbatched partition
at 100k needs the shared memory lock (``flock /tmp/qhq_bigmem.lock``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = "2025-07-01"


def _status() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) / 1024**2  # kB → GB
    return out


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


class StagePeaks:
    """Wraps functions; records per label the calls, the largest RSS on entry and the largest peak."""

    def __init__(self) -> None:
        self.peaks: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
        self.stack: list[float] = []  # per open call: the highest peak seen inside it so far

    def wrap(self, owner, name: str, label: str) -> None:
        f = getattr(owner, name)

        @functools.wraps(f)
        def wrapped(*a, **k):
            now = _status()
            if self.stack:  # the caller's peak so far, before the mark is reset
                self.stack[-1] = max(self.stack[-1], now["VmHWM"])
            _reset_peak()
            self.stack.append(0.0)
            try:
                return f(*a, **k)
            finally:
                mine = max(self.stack.pop(), _status()["VmHWM"])
                if self.stack:
                    self.stack[-1] = max(self.stack[-1], mine)
                p = self.peaks[label]
                p[0] += 1
                p[1], p[2], p[3] = max(p[1], now["VmRSS"]), max(p[2], mine), max(p[3], mine - now["VmRSS"])

        setattr(owner, name, wrapped)

    def table(self) -> dict[str, dict[str, float]]:
        return {k: {"calls": int(v[0]), "entry_gb": round(v[1], 2), "peak_gb": round(v[2], 2), "growth_gb": round(v[3], 2)}
                for k, v in self.peaks.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=100_000)
    ap.add_argument("--policies", type=int, default=2000)
    ap.add_argument("--city", default=None, help="default /tmp/quanhuiqi_bench_city_N_P (benchmarks/daily_run.py)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=None, help="run.batch_size (default: the shipped one)")
    ap.add_argument("--result-name", default=None)
    a = ap.parse_args()
    city = Path(a.city or f"/tmp/quanhuiqi_bench_city_{a.enterprises}_{a.policies}")
    if not (city / "benchmark_params.json").exists():
        raise SystemExit(f"{city}: no generated city (run benchmarks/daily_run.py --enterprises {a.enterprises} first)")
    out = Path(a.out or f"/tmp/quanhuiqi_bench_memory_out_{a.enterprises}_{a.policies}")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    import quanhuiqi.eligibility as eligibility
    import quanhuiqi.policy.readiness as readiness
    import quanhuiqi.push.job as job
    import quanhuiqi.push.partition as partition
    import quanhuiqi.push.prescore as prescore
    import quanhuiqi.push.rules as rules
    import quanhuiqi.push.sink as sink
    from quanhuiqi.rank import RuleScorer

    w = StagePeaks()
    for owner, name, label in [
        (job, "_postings_pairs", "postings"),
        (eligibility, "evaluate", "pass 1: eligibility.evaluate"),
        (readiness, "readiness_counts", "pass 1: readiness_counts"),
        (job, "stage_state", "pass 1: stage_state"),
        (job, "load_state", "pass 2: load_state"),
        (rules, "hold_before_ranking", "pass 2: hold_before_ranking"),
        (prescore, "prescore", "pass 2: prescore"),
        (rules, "shortlist", "pass 2: shortlist"),
        (RuleScorer, "features", "pass 2: scorer.features"),
        (partition, "apply_push_rules", "pass 2: apply_push_rules"),
        (RuleScorer, "explain_features", "pass 2: scorer.explain_features"),
        (eligibility, "evidence_for", "pass 2: evidence_for"),
        (sink.PartitionSink, "add", "pass 2: sink.add"),
        (partition, "count_partition", "pass 1: count_partition (all)"),
        (partition, "rank_partition", "pass 2: rank_partition (all)"),
        (job, "finish", "finish (report, write)"),
        (job, "run_daily", "run_daily (all)"),
    ]:
        w.wrap(owner, name, label)
    job.count_partition, job.rank_partition = partition.count_partition, partition.rank_partition

    run = {"partitions": a.partitions}
    if a.batch_size is not None:
        run["batch_size"] = a.batch_size
    load_start = round(os.getloadavg()[0], 2)
    t = time.perf_counter()
    r = job.run_daily(DAY, city, out, config={"run": run, "model": {"fallback_to_rules": False}})
    wall = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    from quanhuiqi.push import default_config

    result = {
        "enterprises": a.enterprises, "policies": a.policies, "partitions": a.partitions,
        "batch_size": default_config()["run"]["batch_size"] if a.batch_size is None else a.batch_size,
        "wall_seconds": round(wall, 1), "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 1),
        "peak_rss_gb": w.table()["run_daily (all)"]["peak_gb"],
        "stages": w.table(),
        "stage_seconds": r.report["timings_s"],
        "outputs_sha256": {k: v for k, v in json.loads((r.out_dir / "manifest.json").read_text())["outputs"].items()
                           if k.startswith(("push_list", "auto_grant"))},
        "load_average_1min_start": load_start, "load_average_1min": round(os.getloadavg()[0], 2),
        "command": " ".join([".venv/bin/python", "benchmarks/daily_run_memory.py"] + sys.argv[1:]),
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if a.result_name:
        (ROOT / "benchmarks" / "results" / f"daily_run_memory_{a.result_name}.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
