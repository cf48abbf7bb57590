"""Benchmark: one enterprise's policies ranked and explained online (``OnlineRanker.recommend``).

    .venv/bin/python benchmarks/rank_online.py [--calls 1000]

On data_samples (5,000 enterprises, 68 policies, the push history): the statistics are fitted once from
the day's eligibility pairs, then each call answers one enterprise (eligibility online + features + score +
reasons), with the rule scorer and with a LightGBM ranker trained on the same city (with the per-enterprise
effects its training chose). Writes
``benchmarks/results/rank_online.json``.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    from quanhuiqi.eligibility import evaluate
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile
    from quanhuiqi.rank import OnlineRanker, RuleScorer
    from quanhuiqi.rank.train import build_training_data, read_history, train_ranker
    from quanhuiqi.tables import read_enterprises, validate_enterprises

    city = ROOT / "data_samples"
    book = load_book(city / "policies")
    prof = profile(validate_enterprises(read_enterprises(city / "enterprises.csv"), AS_OF).clean, AS_OF)
    pairs = evaluate(book, prof, AS_OF, near_misses=False).pairs
    history = read_history(city)
    model = train_ranker(build_training_data(city), threads=args.threads).ranker
    rows = prof.sample(min(args.calls, len(prof)), random_state=0)
    out: dict[str, object] = {"enterprises": len(prof), "policies": len(book.items), "population_pairs": len(pairs),
                              "calls": len(rows), "threads": args.threads}
    for name, scorer in (("rule", RuleScorer()), ("model", model)):
        t = time.perf_counter()
        online = OnlineRanker(scorer, book, pairs, prof, AS_OF, history)
        fit_s = time.perf_counter() - t
        times, sizes = [], []
        for _, row in rows.iterrows():  # one call per enterprise: what is measured
            t = time.perf_counter()
            rec = online.recommend(row)
            times.append(time.perf_counter() - t)
            sizes.append(len(rec))
        ms = np.array(times) * 1e3
        out[name] = {"fit_s": round(fit_s, 3), "policies_per_call_mean": round(float(np.mean(sizes)), 1),
                     **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 99)},
                     "max_ms": round(float(ms.max()), 2)}
    out["model"]["firm_effects"] = {"tau": model.builder.firm_effect_tau, "weight": model.firm_effect_weight}
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    out["command"] = "python benchmarks/rank_online.py --calls " + str(args.calls)
    (ROOT / "benchmarks" / "results" / "rank_online.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
