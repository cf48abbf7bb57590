"""Benchmark: one enterprise's policies ranked and explained online, from a profile row or from a raw record.

    .venv/bin/python benchmarks/rank_online.py [--calls 1000] [--city /tmp/quanhuiqi_bench_city_100000_2000]

Targets (issue 15): ``OnlineRanker.recommend`` p99 < 10 ms with reasons, rule scorer and a registered
LightGBM ranker, on data_samples and on a 100,000-enterprise city; the whole path from one raw record
(``recommend_record``: validation, profile, eligibility, ranking) p99 < 20 ms, with and without the
enterprise's fact records.

The statistics are fitted once (``OnlineRanker(...)``: the day's eligibility pairs, profile and push history
counted into ``CityStatistics``), then each call answers one enterprise.  The LightGBM ranker is trained on
data_samples with its per-enterprise effects by ``quanhuiqi train ranker``'s code, registered in a fresh SQLite
MLflow store and loaded back by ``NAME@ALIAS``.  Per city
and scorer: ``recommend`` with reasons for every pair (``top=None``) and for the first ten (``top=10``, what
a page shows); ``recommend_record`` from the raw CSV rows (text values, as the registry exports them),
without and with the fact records of that enterprise (data_samples: its certificates, milestones,
penalties, yearly figures and declarations).  Percentiles are over one pass of ``--calls`` enterprises
drawn at random, after a warm-up of 50 calls.  Writes ``benchmarks/results/rank_online.json`` (``--result-name``);
``--model-param num_leaves=15 --model-param max_depth=5`` trains the shallow ranker docs/push.md recommends.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2025, 7, 1)


def percentiles(times: list[float], cpu: list[float]) -> dict[str, float]:
    ms, cpu_ms = np.array(times) * 1e3, np.array(cpu) * 1e3
    return {**{f"p{q}_ms": round(float(np.percentile(ms, q)), 3) for q in (50, 90, 99)},
            "max_ms": round(float(ms.max()), 3),
            **{f"cpu_p{q}_ms": round(float(np.percentile(cpu_ms, q)), 3) for q in (50, 99)},
            "calls": len(ms)}


def timed(fn, items) -> dict[str, float]:
    """Wall and CPU time per call (the machine is shared: CPU time is what the call itself costs)."""
    for x in items[:50]:  # warm-up: first-use caches (segment rates, code forms)
        fn(x)
    times, cpu = [], []
    for x in items:
        c, t = time.process_time(), time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return percentiles(times, cpu)


def load_city(city: Path, extra: Path | None = None):
    from quanhuiqi.eligibility import evaluate, with_facts
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile
    from quanhuiqi.rank.train import read_history
    from quanhuiqi.tables import read_enterprises, validate_enterprises
    from quanhuiqi.tables.facts import load_fact_tables

    book_dir = city / "policies"
    if extra is not None:  # the city's book plus policies reading the fact tables
        import shutil
        import tempfile

        book_dir = Path(tempfile.mkdtemp(prefix="rank-online-book-")) / "policies"
        shutil.copytree(city / "policies", book_dir)
        shutil.copy(extra, book_dir / extra.name)
    book = load_book(book_dir)
    raw = read_enterprises(city / "enterprises.csv")
    v = validate_enterprises(raw, AS_OF)
    facts, _ = load_fact_tables(city, AS_OF, known_uscc=v.clean["uscc"])
    prof = profile(v.clean, AS_OF)
    if book.compiled.derived_fields:
        prof = with_facts(book, prof, facts, AS_OF)
    pairs = evaluate(book, prof, AS_OF, near_misses=False, facts=facts, categorical=True).pairs
    records = {}
    for name in facts.supplied():
        t = getattr(facts, name)
        records[name] = {u: g.drop(columns=["uscc", "row"], errors="ignore").to_dict("records")
                         for u, g in t.groupby("uscc")}
    return book, raw, prof, pairs, read_history(city), records


def bench_city(name: str, city: Path, scorers: dict, calls: int, extra: Path | None = None) -> dict:
    from quanhuiqi.rank import OnlineRanker

    t = time.perf_counter()
    book, raw, prof, pairs, history, fact_records = load_city(city, extra)
    out: dict = {"enterprises": len(prof), "policies": len(book.items), "population_pairs": len(pairs),
                 "derived_fields": len(book.compiled.derived_fields),
                 "load_s": round(time.perf_counter() - t, 1)}
    rng = np.random.default_rng(0)
    rows = prof.iloc[rng.choice(len(prof), min(calls, len(prof)), replace=False)].to_dict("records")
    raw_rows = raw.iloc[rng.choice(len(raw), min(calls, len(raw)), replace=False)].to_dict("records")
    for sname, scorer in scorers.items():
        t = time.perf_counter()
        online = OnlineRanker(scorer, book, pairs, prof, AS_OF, history)
        res = {"fit_s": round(time.perf_counter() - t, 2), **bench_ranker(online, rows, raw_rows, fact_records)}
        out[sname] = res
        print(name, sname, json.dumps(res, ensure_ascii=False), flush=True)
    return out


def bench_ranker(online, rows: list[dict], raw_rows: list[dict], fact_records: dict) -> dict:
    from quanhuiqi.rank.online import RecordRefused

    res: dict = {}
    sizes = [len(online.recommend(r, reasons=False)) for r in rows[:200]]
    res["pairs_per_call_mean"] = round(float(np.mean(sizes)), 1)
    res["recommend_all_reasons"] = timed(lambda r: online.recommend(r), rows)
    res["recommend_top10_reasons"] = timed(lambda r: online.recommend(r, top=10), rows)
    refused = [0]

    def record_call(r, with_facts=False):
        facts = None
        if with_facts:
            uscc = str(r["uscc"]).strip().upper()
            facts = {k: v.get(uscc, []) for k, v in fact_records.items()}
        try:
            return online.recommend_record(r, top=10, facts=facts)
        except RecordRefused:  # a record the batch would refuse: refused by name, timed all the same
            refused[0] += 1
            return None

    res["recommend_record_top10"] = timed(record_call, raw_rows)
    res["records_refused"] = refused[0]
    if fact_records:
        res["recommend_record_top10_with_facts"] = timed(lambda r: record_call(r, True), raw_rows)
        res["fact_tables"] = sorted(fact_records)
    return res


def registered_model(threads: int, params: dict | None = None):
    """The LightGBM ranker as the backend gets it: trained on data_samples (``quanhuiqi train ranker``,
    per-enterprise effects kept when they help), logged and registered in a fresh SQLite MLflow store,
    then loaded by ``NAME@ALIAS``."""
    import tempfile

    from quanhuiqi.rank import load_ranker
    from quanhuiqi.rank.train import train_ranker_cli

    tmp = tempfile.mkdtemp(prefix="rank-online-mlflow-")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    here = os.getcwd()
    os.chdir(tmp)  # anything MLflow writes next to the cwd stays in the temporary folder
    try:
        train_ranker_cli(ROOT / "data_samples", register="policy-ranker", alias="bench", threads=threads,
                         params=params or None)
        return load_ranker("policy-ranker@bench")
    finally:
        os.chdir(here)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--city", action="append", default=[],
                    help="more city folders (e.g. /tmp/quanhuiqi_bench_city_100000_2000 from daily_run.py)")
    ap.add_argument("--model-param", action="append", default=[], metavar="KEY=VALUE",
                    help="a LightGBM parameter of the ranker trained (e.g. num_leaves=15, max_depth=5: the shallow "
                         "model docs/push.md recommends for a city-wide day)")
    ap.add_argument("--result-name", default="rank_online")
    ap.add_argument("--extra-policies", type=Path, default=None,
                    help="a policy file added to each city's book (benchmarks/fact_policies.yaml: policies reading "
                         "the fact tables, so the fact records supplied online feed derived facts)")
    args = ap.parse_args()
    params = {k: _number(v) for k, v in (p.split("=", 1) for p in args.model_param)}
    model = registered_model(args.threads, params)
    from quanhuiqi.rank import RuleScorer

    scorers = {"rule": RuleScorer(), "model": model}
    out: dict = {"calls": args.calls, "threads": args.threads,
                 "model": {"trees": int(model.best_iteration_), "firm_effect_tau": model.builder.firm_effect_tau,
                           "firm_effect_weight": model.firm_effect_weight},
                 "load_average_1min_start": round(os.getloadavg()[0], 2), "cities": {}}
    out["targets_ms"] = {"recommend_p99": 10, "recommend_record_p99": 20}
    out["command"] = "python benchmarks/rank_online.py --calls " + str(args.calls) + "".join(
        f" --city {c}" for c in args.city) + "".join(f" --model-param {p}" for p in args.model_param) + (
        f" --extra-policies {args.extra_policies}" if args.extra_policies else "")
    out["model"]["params"] = params
    out["cpu_count"] = os.cpu_count()
    for city in [ROOT / "data_samples", *map(Path, args.city)]:
        name = "data_samples" if city == ROOT / "data_samples" else city.name
        out["cities"][name] = bench_city(name, city, scorers, args.calls, args.extra_policies)
        out["load_average_1min_end"] = round(os.getloadavg()[0], 2)
        (ROOT / "benchmarks" / "results" / f"{args.result_name}.json").write_text(  # after each city: nothing lost
            json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out, indent=2, ensure_ascii=False))


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


if __name__ == "__main__":
    main()
