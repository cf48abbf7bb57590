"""Issue 5's quality target against what the city's history can support.

    .venv/bin/python benchmarks/rank_ceiling.py [--city data_samples]

The target asks the model for NDCG@5 ≥ 1.15 × the rule scorer on the test window, judged on every
candidate of each test (enterprise, day) graded by the latent truth.  This script puts beside the model,
the rule and the oracle (and the model without its per-enterprise effects, ``model_global``) a series of
*informed oracles*, each knowing every coefficient and true fact of
the city's utility and differing only in what they know of each firm's own tastes
(:mod:`ceilings.taste_posterior`, benchmarks/ceilings/):

- ``shared_only`` — section-level tastes only (the firm's own part at its prior mean);
- ``posterior_before_test`` — plus the posterior of each firm's own tastes from its pushes before the
  test window: what an ideal learner could know on the first test day (an upper bound for a model);
- ``bayes_before_each_day`` — the Bayes ranker of each test day: the posterior *expected* relevance
  (averaged over Laplace draws of the firm's tastes, not a plug-in of the mode) given every push before
  that day, the test window's earlier days included — the best ranking any learner could make each day,
  with every shared term handed to it;
- ``posterior_all_history`` — the mode from every push, the test window's own outcomes included (more
  than any ranker can know);
- ``oracle`` — the true tastes.

Writes ``benchmarks/results/rank_ceiling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default=str(ROOT / "data_samples"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--draws", type=int, default=128, help="Laplace draws per firm for the Bayes ranker")
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    from ceilings.taste_posterior import taste_posterior, with_tastes

    from quanhuiqi.rank import RuleScorer, build_training_data, evaluate, train_ranker
    from quanhuiqi.rank.train import with_firm_effects
    from quanhuiqi.synth.preference import load_truth, policy_pair_utility
    from quanhuiqi.synth.truth import PolicyTruth
    from quanhuiqi.tables.columns import DATA_FILES
    from quanhuiqi.tables.io import read_table

    city = Path(args.city)
    truth_dir = city / DATA_FILES["truth"]
    t0 = time.perf_counter()
    data = build_training_data(city)
    result = train_ranker(data, threads=args.threads, truth=PolicyTruth(truth_dir))
    feats, frame = data.candidate_lists("test")
    truth = load_truth(truth_dir)
    ent = truth["enterprises"]
    pol = truth["policies"]
    eligible = set(truth["eligible"]["uscc"].astype(str) + "\x1f" + truth["eligible"]["policy_id"].astype(str))
    pairs = pd.DataFrame({"uscc": frame["uscc"].astype(str).to_numpy(), "policy_id": frame["policy_id"].astype(str).to_numpy()})
    pairs["eligible_true"] = (pairs["uscc"] + "\x1f" + pairs["policy_id"]).isin(eligible).to_numpy()
    dates = pd.Series(pd.to_datetime(frame["date"]).to_numpy())

    def informed(tastes: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        table = with_tastes(ent, tastes.reindex(ent.index).to_numpy())
        sub = pairs if rows is None else pairs.iloc[rows].reset_index(drop=True)
        when = dates if rows is None else dates.iloc[rows].reset_index(drop=True)
        return policy_pair_utility(sub, table, pol, truth["dept_affinity"], when)["expected_relevance"].to_numpy()

    def bayes_each_day(draws: int) -> np.ndarray:
        """The Bayes ranker on each test day: posterior expected relevance over Laplace draws of each
        firm's tastes given every push before that day (the test window's earlier days included)."""
        out = np.empty(len(pairs))
        day = dates.dt.normalize().to_numpy()
        for d in np.unique(day):
            rows = np.flatnonzero(day == d)
            firms = pd.Index(pd.unique(pairs["uscc"].iloc[rows]))
            sample = taste_posterior_draws(truth, history, before=pd.Timestamp(d), draws=draws, seed=1, firms=firms)
            acc = np.zeros(len(rows))
            for k in range(draws):
                tastes = pd.DataFrame(prior_mean, index=ent.index, columns=TASTES)
                tastes.loc[firms] = sample[k]
                acc += informed(tastes, rows)
            out[rows] = acc / draws
        return out

    history = read_table(city / DATA_FILES["push_history"], text_columns=["uscc", "policy_id", "mode"])
    test_from = pd.Timestamp(data.window["test_from"])
    from ceilings.taste_posterior import TASTES, taste_posterior_draws, taste_prior

    prior_mean, _ = taste_prior(ent)
    t1 = time.perf_counter()
    before = taste_posterior(truth, history, before=test_from)
    everything = taste_posterior(truth, history, before=None)
    posterior_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    bayes = bayes_each_day(args.draws)
    bayes_s = time.perf_counter() - t2
    truth_rel = informed(ent[TASTES])
    frame = frame.assign(relevance=truth_rel)
    scores = {
        "model": result.ranker.predict(with_firm_effects(result.ranker, data, feats, frame)),
        "model_global": result.ranker.predict(feats),  # the booster alone, without the firm effects
        "rule": RuleScorer().score_features(feats),
        "shared_only": informed(pd.DataFrame(prior_mean, index=ent.index, columns=TASTES)),
        "posterior_before_test": informed(before),
        "bayes_before_each_day": bayes,
        "posterior_all_history": informed(everything),
        "oracle": truth_rel,
    }
    report = evaluate(frame, scores, ks=(1, 5, 10), catalogue=data.catalogue, relevant_from=1)
    cols = ["ndcg@1", "ndcg@5", "ndcg@10"]
    table = report[cols].round(4)
    over_rule = (report["ndcg@5"] / report.loc["rule", "ndcg@5"]).round(4)
    pushes_per_firm = history.loc[pd.to_datetime(history["date"]) < test_from].groupby("uscc").size()
    out = {
        "command": f"python benchmarks/rank_ceiling.py --city {args.city} --draws {args.draws}",
        "city": city.name,
        "window": {k: data.window[k] for k in ("train_from", "test_from", "test_to")},
        "test_groups": int(frame.groupby(["date", "uscc"]).ngroups),
        "candidates": len(frame),
        "pushes_per_firm_before_test": {"median": float(pushes_per_firm.median()),
                                        "mean": round(float(pushes_per_firm.mean()), 2)},
        "truth_full_lists": table.reset_index().to_dict(orient="records"),
        "ndcg5_over_rule": over_rule.to_dict(),
        "target_ndcg5_over_rule": 1.15,
        "firm_effects": result.firm_effects,
        "posterior_s": round(posterior_s, 2),
        "bayes_draws": args.draws,
        "bayes_s": round(bayes_s, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(table.assign(over_rule=over_rule).to_string())
    path = ROOT / "benchmarks" / "results" / "rank_ceiling.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"written {path}")


if __name__ == "__main__":
    main()
