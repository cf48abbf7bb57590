"""Benchmark: appeals at city scale — train on 100,000 appeals (< 60 s), route 100,000 (< 10 s), one appeal
online (p99 < 5 ms), the 2110 clock over 1,000,000 cases (< 10 s).

    .venv/bin/python benchmarks/appeals_speed.py [--n 100000] [--clock 1000000] [--online 2000] [--workers 2]
                                                 [--out FILE]

Appeals are generated for the data_samples enterprises (``generate_appeals``, seed 5); the clock runs over
the cases of ten such tables side by side (ids made unique).  Writes ``benchmarks/results/appeals_speed.json``
with the machine load beside the numbers (2 shared cores: compare against an idle machine).

Routing is timed twice: in one process, and with ``--workers`` processes (``route_appeals(workers=N)``);
CPU is reported for this process and for its worker processes (``RUSAGE_CHILDREN``) separately, and the
two route tables are checked equal.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--clock", type=int, default=1_000_000)
    ap.add_argument("--online", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "appeals_speed.json"))
    args = ap.parse_args()
    from quanhuiqi.appeals import (
        OnlineRouter,
        cases,
        response_clock,
        route_appeals,
        train_appeals,
        validate_appeals,
    )
    from quanhuiqi.synth.appeals import generate_appeals
    from quanhuiqi.tables import read_table

    res: dict = {"load_before": os.getloadavg(), "n": args.n}
    t = time.perf_counter()
    cache = Path(f"/tmp/quanhuiqi-appeals-speed-{args.n}.parquet")  # the generated table, reused between runs
    if cache.exists():
        raw = pd.read_parquet(cache)
    else:
        raw, _ = generate_appeals(read_table(HERE.parent / "data_samples" / "enterprises.csv"), seed=5, n=args.n,
                                  mess=False)
        raw.to_parquet(cache)
    res["generate_seconds"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    v = validate_appeals(raw, "2025-07-01")
    res["validate_seconds"] = round(time.perf_counter() - t, 2)
    clean = v.clean
    # the libraries training imports on first use (scikit-learn, scipy.optimize): a once-per-process
    # cost, recorded apart from training itself
    t, c = time.perf_counter(), time.process_time()
    import scipy.optimize  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.svm  # noqa: F401

    res["import_seconds"] = round(time.perf_counter() - t, 2)
    res["import_cpu_seconds"] = round(time.process_time() - c, 2)
    t, c = time.perf_counter(), time.process_time()
    model, report = train_appeals(clean)
    res["train_seconds"] = round(time.perf_counter() - t, 2)
    res["train_cpu_seconds"] = round(time.process_time() - c, 2)  # this process's CPU: what an idle machine would take
    res["train_selection_seconds"] = report.get("validation_selection_seconds")
    res["train_fit_seconds"] = report.get("validation_fit_seconds")
    res["n_features"] = report.get("validation_n_features")
    print("train", res["train_seconds"], flush=True)
    t, c = time.perf_counter(), time.process_time()
    out = route_appeals(model, clean, history=clean)
    res["route_seconds"] = round(time.perf_counter() - t, 2)
    res["route_cpu_seconds"] = round(time.process_time() - c, 2)
    res["routed"] = len(out)
    print("route", res["route_seconds"], flush=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    t, c = time.perf_counter(), time.process_time()
    par = route_appeals(model, clean, history=clean, workers=args.workers)
    res["route_workers"] = args.workers
    res["route_parallel_seconds"] = round(time.perf_counter() - t, 2)
    res["route_parallel_cpu_seconds_main"] = round(time.process_time() - c, 2)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    res["route_parallel_cpu_seconds_workers"] = round(done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime, 2)
    res["route_parallel_same_table"] = bool(par.equals(out))
    print("route parallel", res["route_parallel_seconds"], flush=True)
    del par
    # the parts of routing (wall and this process's CPU)
    from quanhuiqi.appeals.model import routed_departments
    from quanhuiqi.appeals.privacy import mask_personal_data
    from quanhuiqi.appeals.route import explain_suggestions

    def part(name, fn):
        t, c = time.perf_counter(), time.process_time()
        value = fn()
        res[f"route_part_{name}_seconds"] = round(time.perf_counter() - t, 2)
        res[f"route_part_{name}_cpu_seconds"] = round(time.process_time() - c, 2)
        return value

    mt, mb = part("mask", lambda: (mask_personal_data(clean["title"]), mask_personal_data(clean["body"])))
    X = part("features", lambda: model.features(mt, mb))
    d = part("predict", lambda: model.head.decision(X))
    _, _, top = routed_departments(model, model.head.proba(X, d), clean["district_code"].to_numpy(dtype=object), d)
    part("explain", lambda: explain_suggestions(model, X, top))
    online = OnlineRouter(model)
    rows = clean.sample(min(args.online, len(clean)), random_state=0)
    times, cpu = [], []
    for r in rows.itertuples(index=False):
        t, c = time.perf_counter(), time.thread_time()
        online.route(r.title, r.body, appeal_id=r.appeal_id, district_code=r.district_code, uscc=r.uscc,
                     received_at=r.received_at, channel=r.channel)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    res["online_ms"] = {"p50": round(float(np.percentile(times, 50)), 2), "p99": round(float(np.percentile(times, 99)), 2),
                        "cpu_p50": round(float(np.percentile(cpu, 50)), 2), "cpu_p99": round(float(np.percentile(cpu, 99)), 2),
                        "calls": len(times)}
    print("online", res["online_ms"], flush=True)
    c = cases(clean)
    reps = int(np.ceil(args.clock / len(c)))
    big = pd.concat([c.assign(case_id=c["case_id"] + f"-{i}") for i in range(reps)], ignore_index=True).head(args.clock)
    t, c = time.perf_counter(), time.process_time()
    clock = response_clock(big, "2025-07-01 09:00")
    res["clock_seconds"] = round(time.perf_counter() - t, 2)
    res["clock_cpu_seconds"] = round(time.process_time() - c, 2)
    res["clock_cases"] = len(big)
    res["clock_status_rows"] = len(clock.status)
    res["load_after"] = os.getloadavg()
    res["targets_wall"] = {"train_100k_lt_60s": res["train_seconds"] < 60, "route_100k_lt_10s": res["route_seconds"] < 10,
                           "route_100k_lt_10s_with_workers": res["route_parallel_seconds"] < 10,
                           "online_p99_lt_5ms": res["online_ms"]["p99"] < 5, "clock_1m_lt_10s": res["clock_seconds"] < 10}
    res["targets_cpu"] = {"train_100k_lt_60s": res["train_cpu_seconds"] < 60, "route_100k_lt_10s": res["route_cpu_seconds"] < 10,
                          "online_p99_lt_5ms": res["online_ms"]["cpu_p99"] < 5, "clock_1m_lt_10s": res["clock_cpu_seconds"] < 10}
    Path(args.out).write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(res, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
