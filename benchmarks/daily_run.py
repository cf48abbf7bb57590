"""Benchmark: the daily push job end to end (``run_daily``) on a synthetic city.

Target (issue 7): 1,000,000 enterprises × 2,000 policies with 90 days of history, end to end in
under 10 minutes on 2 cores, peak memory under 8 GB.

    .venv/bin/python benchmarks/daily_run.py                       # the target size
    .venv/bin/python benchmarks/daily_run.py --enterprises 100000  # a quicker look

The city is generated once into ``--city`` (reused when its parameters match): enterprises and
postings from ``quanhuiqi.synth.generate_city(history=False)``, ``--policies`` variant policies
from ``generate_policies``, and a push history of ``--pushes-per-enterprise`` pushes per enterprise
spread over ``--history-days`` days (with clicks, applications, approvals), grants and suppressions
drawn at random.  The job then runs in a child process, so its wall time and peak RSS are its own; with
``--workers N`` its worker processes are sampled with it (``tree_*``: the tree's summed PSS peak, the
CPU seconds of every process as last seen).
Prints the numbers and writes them to ``benchmarks/results/daily_run.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rss import TreeMemory  # benchmarks/rss.py (the script's own folder)

DAY = "2025-07-01"
ROOT = Path(__file__).resolve().parents[1]


def build_city(city: Path, n: int, n_policies: int, history_days: int, pushes_per_ent: float, seed: int) -> dict:
    import numpy as np
    import pandas as pd

    from quanhuiqi.synth import generate_city, generate_policies, write_policies
    from quanhuiqi.tables import read_table
    from quanhuiqi.tables.columns import DATA_FILES

    params = {"enterprises": n, "policies": n_policies, "history_days": history_days,
              "pushes_per_enterprise": pushes_per_ent, "seed": seed, "version": 1}
    stamp = city / "benchmark_params.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return params
    if city.exists():
        shutil.rmtree(city)
    t0 = time.perf_counter()
    generate_city(city, n_enterprises=n, seed=seed, as_of=DAY, history_days=history_days, history=False)
    pol = city / DATA_FILES["policies"]
    if n_policies > 0:  # else: the shipped hand-written book generate_city copied
        shutil.rmtree(pol)
        write_policies(generate_policies(n_policies, seed=seed), pol)
    from quanhuiqi.policy import load_book

    ids = load_book(pol).policies["policy_id"].astype(str).to_numpy()
    uscc = read_table(city / DATA_FILES["enterprises"])["uscc"].dropna().to_numpy()
    rng = np.random.default_rng(seed)
    m = int(n * pushes_per_ent)
    day = np.datetime64(DAY)
    clicked = rng.random(m) < 0.12
    applied = clicked & (rng.random(m) < 0.25)
    hist = pd.DataFrame({
        "date": pd.Series(day - rng.integers(1, history_days + 1, m).astype("timedelta64[D]")).dt.date,
        "uscc": pd.array(rng.choice(uscc, m), dtype="string"),
        "policy_id": pd.array(rng.choice(ids, m), dtype="string"),
        "rank": rng.integers(1, 4, m),
        "score": rng.random(m) * 3,
        "mode": pd.array(rng.choice(["auto", "instant", "apply"], m), dtype="string"),
        "clicked": clicked,
        "applied": applied,
        "approved": applied & (rng.random(m) < 0.6),
    }).drop_duplicates(["date", "uscc", "policy_id"])
    hist.to_parquet(city / DATA_FILES["push_history"], index=False)
    k = int(n * 0.3)
    pd.DataFrame({
        "uscc": rng.choice(uscc, k), "policy_id": rng.choice(ids, k),
        "granted_on": pd.Series(day - rng.integers(1, 365, k).astype("timedelta64[D]")).dt.strftime("%Y-%m-%d"),
        "amount": (rng.random(k) * 50).round(2),
    }).drop_duplicates(["uscc", "policy_id", "granted_on"]).to_csv(city / DATA_FILES["grants"], index=False)
    j = max(1, n // 200)
    pd.DataFrame({
        "uscc": rng.choice(uscc, j), "policy_id": rng.choice(ids, j), "reason": "企业反馈不需要",
        "created_on": "2025-05-01", "expires_on": rng.choice(["2025-12-31", "2025-06-01"], j),
    }).drop_duplicates(["uscc", "policy_id", "created_on"]).to_csv(city / DATA_FILES["suppressions"], index=False)
    stamp.write_text(json.dumps(params))
    params["build_seconds"] = round(time.perf_counter() - t0, 1)
    return params


def run_job(city: Path, out: Path, partition_size: int, model: str | None = None, partitions: int = 0,
            batch_size: int | None = None, workers: int = 1) -> None:
    from quanhuiqi.cli import batch_process_settings

    batch_process_settings("push")  # the process settings `quanhuiqi push` runs with (before Arrow loads)
    from quanhuiqi.push import run_daily

    run = {"partition_size": partition_size, "partitions": partitions, "workers": workers}
    if batch_size is not None:
        run["batch_size"] = batch_size
    r = run_daily(DAY, city, out, model=model, config={"run": run,
                                                       "model": {"fallback_to_rules": False}})
    print(r.summary(), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--enterprises", type=int, default=1_000_000)
    ap.add_argument("--policies", type=int, default=2000, help="variant policies; 0 = the shipped hand-written book")
    ap.add_argument("--history-days", type=int, default=90)
    ap.add_argument("--pushes-per-enterprise", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--city", default=None, help="where the city is generated (default /tmp/quanhuiqi_bench_city_N)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--partition-size", type=int, default=None, help="run.partition_size (default: the shipped one)")
    ap.add_argument("--partitions", type=int, default=0, help="run.partitions (default 0: rows / partition_size)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="run.batch_size: enterprises per batch inside a partition (default: the shipped one; 0 = whole)")
    ap.add_argument("--workers", type=int, default=1,
                    help="run.workers: processes for the partitions and the matching (default 1: the job's own process)")
    ap.add_argument("--result-name", default=None, help="write benchmarks/results/daily_run_<name>.json instead")
    ap.add_argument("--model", default=None, help="NAME@ALIAS of a registered ranker (MLFLOW_TRACKING_URI); default: rules")
    ap.add_argument("--run-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    city = Path(a.city or f"/tmp/quanhuiqi_bench_city_{a.enterprises}_{a.policies}")
    out = Path(a.out or f"/tmp/quanhuiqi_bench_out_{a.enterprises}_{a.policies}")
    if a.run_only:
        run_job(city, out, a.partition_size, a.model, a.partitions, a.batch_size, a.workers)
        return 0

    params = build_city(city, a.enterprises, a.policies, a.history_days, a.pushes_per_enterprise, a.seed)
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    load_start = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    from quanhuiqi.push import default_config

    psize = a.partition_size or default_config()["run"]["partition_size"]
    bsize = default_config()["run"]["batch_size"] if a.batch_size is None else a.batch_size
    proc = subprocess.Popen([sys.executable, __file__, "--run-only", "--city", str(city), "--out", str(out),
                             "--partition-size", str(psize), "--partitions", str(a.partitions), "--batch-size",
                             str(bsize), "--workers", str(a.workers)] + (["--model", a.model] if a.model else []),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeMemory(proc.pid) as tree:  # the job and its workers: their memory summed (PSS), their CPU
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(stderr[-4000:], file=sys.stderr)
        return proc.returncode
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_gb = usage.ru_maxrss / 1024**2  # KiB on Linux
    report = json.loads((out / DAY / "report.json").read_text())
    result = {
        **params,
        "partition_size": psize,
        "partitions": report["summary"]["partitions"],
        "batch_size": bsize,
        "outputs_sha256": {k: v for k, v in json.loads((out / DAY / "manifest.json").read_text())["outputs"].items()
                           if k.startswith(("push_list", "auto_grant"))},
        "model": a.model or "rules",
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),  # the job's own (the machine is shared)
        "system_cpu_seconds": round(usage.ru_stime, 1),
        "peak_rss_gb": round(peak_gb, 2),  # the largest single process's
        "workers": a.workers,
        **tree.result(),
        "stage_seconds": report["timings_s"],
        "stage_cpu_s": report.get("cpu_s", {}),
        "summary": report["summary"],
        "history_rows": report["inputs"]["push_history"].get("rows"),
        "load_average_1min_start": load_start,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "targets": {"wall_seconds": 600, "peak_rss_gb": 8},
        "command": " ".join([".venv/bin/python", "benchmarks/daily_run.py"] + sys.argv[1:]),
    }
    print(stdout)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    name = "daily_run.json" if a.result_name is None else f"daily_run_{a.result_name}.json"
    (res_dir / name).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
