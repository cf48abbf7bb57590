"""Benchmark: how the supply–demand ranker's training setup was chosen — rolling-origin validation inside the
training window, observed outcomes only.

    .venv/bin/python benchmarks/postings_model_selection.py [--city /tmp/qc_bench20k] [--threads 1]

The training window (interactions before the test cut of ``time_split_data``) is cut at 50, 62.5, 75 and
87.5 % of its dates; each fold trains on the dates before its cut and replays the next eighth of the dates
(``time_split_evaluation`` without the truth), scoring the logged deals: demand recall@10 and NDCG@10, for
all demands. The variants: the current default (600 stumps on every date) and the previous one (15 leaves,
early stopping on the last 15 % of dates' lists), each over seeds 0…2 — the previous setup's early stopping
made it depend on the seed. The test window's truth metric is printed beside, for the record only (it chose
nothing). Writes ``benchmarks/results/postings_model_selection.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

PREVIOUS = {"num_leaves": 15, "min_data_in_leaf": 100, "lambda_l2": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--city", default="/tmp/qc_bench20k")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()

    from quanhuiqi.postings.model import time_split_data, time_split_evaluation, train_postings_model
    from quanhuiqi.postings.scoring import PostingRuleScorer
    from quanhuiqi.synth.truth import PostingTruth

    t0 = time.perf_counter()
    split = time_split_data(Path(args.city))
    train = split.train
    dates = np.sort(train["date"].unique())
    cuts = [pd.Timestamp(dates[int(len(dates) * q)]) for q in (0.5, 0.625, 0.75, 0.875)] + [split.cut]
    variants = {
        "current (600 stumps, every date)": {},
        "previous (15 leaves, early stopping)": {"params": PREVIOUS, "num_boost_round": 300,
                                                 "valid_fraction": 0.15, "early_stopping": 30},
    }
    rows = []
    for name, kw in variants.items():
        for seed in range(args.seeds):
            kwargs = dict(kw)
            kwargs["params"] = {**kw.get("params", {}), "seed": seed}
            folds = []
            for i in range(4):  # four folds inside the training window
                seen = train[train["date"] < cuts[i + 1]]
                model = train_postings_model(split.postings, seen[seen["date"] < cuts[i]], split.enterprises,
                                             threads=args.threads, **kwargs)
                rep = time_split_evaluation(split.postings, seen, split.enterprises, cuts[i],
                                            {"rule": PostingRuleScorer(), "model": model})
                folds.append(rep.loc["model", ["demand_recall@10", "demand_ndcg@10"]].astype(float)
                             / rep.loc["rule", ["demand_recall@10", "demand_ndcg@10"]].astype(float))
            valid = pd.concat(folds, axis=1).mean(axis=1)
            final = train_postings_model(split.postings, train, split.enterprises, threads=args.threads, **kwargs)
            test = time_split_evaluation(split.postings, split.interactions, split.enterprises, split.cut,
                                         {"rule": PostingRuleScorer(), "model": final},
                                         truth=PostingTruth(split.truth_dir) if split.truth_dir.exists() else None)
            truth = float(test.loc["model", "truth_deal_recall@10"] / test.loc["rule", "truth_deal_recall@10"])
            rows.append({"variant": name, "seed": seed, "trees": int(final.booster.num_trees()),
                         "valid_recall@10_over_rule": round(float(valid["demand_recall@10"]), 4),
                         "valid_ndcg@10_over_rule": round(float(valid["demand_ndcg@10"]), 4),
                         "test_truth_deal_recall@10_over_rule": round(truth, 4)})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("variant")[[c for c in table.columns if c.endswith("over_rule")]].agg(["mean", "min", "max"])
    print(summary.round(4).to_string())
    out = {"city": args.city, "folds": [str(c.date()) for c in cuts], "runs": rows,
           "seconds": round(time.perf_counter() - t0, 1), "load_average": [round(x, 2) for x in os.getloadavg()],
           "command": f"python benchmarks/postings_model_selection.py --city {args.city} --seeds {args.seeds}"}
    path = Path(__file__).resolve().parent / "results" / "postings_model_selection.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"written {path}")


if __name__ == "__main__":
    main()
