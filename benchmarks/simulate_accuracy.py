"""Benchmark: does the simulated payout hold against the truth? (issue 19)

On a synthetic city the true eligibility and amounts are known (``quanhuiqi.synth.payout_truth``: the policy
evaluated on the complete, canonical facts of ``truth/``, its amount rule applied to them).  For every policy —
and for sweep variants of ten policies with a numeric threshold, five values each — this checks that the payout
range covers the true payout, and measures the central estimate's relative error, for each estimator
(``calibrated``, the default; ``data``; ``history``).  Two reference numbers put the errors in context:

- ``ruled_out_share``: the true payout of pairs the data rules out (ineligible on the data, eligible in truth —
  the closed-world ``chains`` of coarse industry codes, docs/eligibility_truth.md): no estimator of undetermined
  pairs can recover it;
- ``real_book`` (data_samples): the 34 hand-encoded real clauses of ``policies_real/`` — records, yearly figures,
  declarations, tiers, cross-policy rules — judged on the city's true fact tables: the range must cover their
  true payout too;
- ``within10_expected_at_exact_rates``: the share of policies an estimator that knew every undetermined pair's
  exact probability would bring within 10 %, from the spread of which pairs turn out eligible (``payout_sd``,
  pairs independent): the ceiling the randomness of a city of this size leaves.

    .venv/bin/python benchmarks/simulate_accuracy.py                       # data_samples
    .venv/bin/python benchmarks/simulate_accuracy.py --city /tmp/city50k   # a larger city (quanhuiqi synth)

Writes ``benchmarks/results/simulate_accuracy[_NAME].json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DAY = "2025-07-01"


def sweeps_for(book, n_policies: int = 10) -> list[dict]:
    """Five values around the first numeric ge/gt threshold of the first ``n_policies`` policies that have one."""
    from quanhuiqi.policy.model import iter_atoms

    out = []
    for p in book.items:
        for a in iter_atoms(p.condition):
            if book.fields[a.field].type == "number" and a.op in ("ge", "gt") and a.value and a.value > 0:
                out.append({"policy": p.id, "path": a.path,
                            "values": [round(a.value * f, 4) for f in (0.5, 0.8, 1.25, 1.5, 2.0)]})
                break
        if len(out) >= n_policies:
            break
    return out


def quantiles(x: pd.Series) -> dict[str, float]:
    a = x.abs()
    return {"median_abs": round(float(a.median()), 4), "p75_abs": round(float(a.quantile(0.75)), 4),
            "p90_abs": round(float(a.quantile(0.9)), 4), "max_abs": round(float(a.max()), 4),
            "mean_signed": round(float(x.mean()), 4)}


def run(city: Path) -> dict:
    from quanhuiqi.policy import load_book
    from quanhuiqi.simulate import read_city, read_sweeps, simulate
    from quanhuiqi.synth.payout_truth import true_payout

    t = time.perf_counter()
    data = read_city(city, DAY)
    book = load_book(city / "policies")
    sweeps = read_sweeps(sweeps_for(book), book)
    policies = list(book.items) + [v.policy for s in sweeps for v in s.variants]
    labels = ["base"] * len(book.items) + [v.label for s in sweeps for v in s.variants]
    truth = true_payout(policies, book.fields, city, DAY, usccs=data.profile["uscc"])
    truth["variant"] = labels
    truth = truth.rename(columns={"payout": "true_payout", "eligible": "true_eligible"})
    out: dict = {"city": str(city), "enterprises": data.n, "policies": len(book),
                 "variants": len(labels) - len(book.items), "read_s": round(time.perf_counter() - t, 1)}
    per_policy = None
    for est in ("calibrated", "data", "history"):
        t = time.perf_counter()
        r = simulate(book, data, DAY, vary=sweeps, estimator=est)
        s = r.summary.merge(truth[["policy_id", "variant", "true_payout", "true_eligible"]], on=["policy_id", "variant"])
        s = s.merge(r.policies[["policy_id", "variant", "payout_sd"]], on=["policy_id", "variant"])
        paying = s[s["true_payout"] > 0].copy()
        covered = (paying["payout_low"] <= paying["true_payout"] + 1e-6) & (paying["true_payout"] <= paying["payout_high"] + 1e-6)
        err = (paying["payout_central"] - paying["true_payout"]) / paying["true_payout"]
        base = paying["variant"] == "base"
        res = {"seconds": round(time.perf_counter() - t, 2)}
        for name, m in (("policies", base), ("variants", ~base)):
            res[name] = {"rows": int(m.sum()), "covered": round(float(covered[m].mean()), 4),
                         "not_covered": paying.loc[m & ~covered, ["policy_id", "variant"]].astype(str).values.tolist(),
                         "within10": round(float((err[m].abs() <= 0.10).mean()), 4),
                         "within5": round(float((err[m].abs() <= 0.05).mean()), 4),
                         "errors": quantiles(err[m])}
        if est == "calibrated":
            z = 0.1 * paying["true_payout"] / paying["payout_sd"].replace(0, np.nan)
            p_in = z.map(lambda v: 1.0 if pd.isna(v) else math.erf(v / math.sqrt(2)))
            res["within10_expected_at_exact_rates"] = {"policies": round(float(p_in[base].mean()), 4),
                                                       "variants": round(float(p_in[~base].mean()), 4)}
            per_policy = paying.assign(error=err.round(4))[["policy_id", "variant", "eligible", "undetermined",
                                                             "true_eligible", "payout_low", "payout_central",
                                                             "payout_high", "true_payout", "payout_sd", "error"]]
            out["calibration"] = {"pooled": r.meta["calibration_pooled"], "kappa": r.meta["calibration_kappa"],
                                  "history_applications": r.meta["history_applications"],
                                  "approval_rate_eligible": r.meta["approval_rate_eligible"]}
        out[est] = res
    out["ruled_out_share"] = ruled_out(city, data, book)
    if (city / "policies_real").is_dir():
        out["real_book"] = real_book(city, data)
    out["per_policy"] = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                         for row in per_policy.to_dict(orient="records")]
    return out


def real_book(city: Path, data) -> dict:
    """The hand-encoded real clauses (records, yearly figures, declarations, tiers, cross-policy rules) against the
    truth of the city's true fact tables: does the range cover the true payout of every policy with an amount?"""
    from quanhuiqi.simulate import simulate
    from quanhuiqi.simulate.core import load_drafts
    from quanhuiqi.synth.payout_truth import true_payout

    book = load_drafts(city / "policies_real")
    tp = true_payout(book.items, book.fields, city, DAY, usccs=data.profile["uscc"], book=book)
    s = simulate(book, data, DAY).summary.merge(tp[["policy_id", "payout"]], on="policy_id")
    paid = s[s["payout"].notna()]
    covered = (paid["payout_low"] <= paid["payout"] + 1e-6) & (paid["payout"] <= paid["payout_high"] + 1e-6)
    return {"policies": len(s), "with_an_amount_rule": len(paid), "covered": int(covered.sum()),
            "not_covered": paid.loc[~covered, "policy_id"].tolist(),
            "truly_paying": int((paid["payout"] > 0).sum())}


def ruled_out(city: Path, data, book) -> dict:
    """True payout of pairs the data rules ineligible, as a share of each policy's true payout (max, mean)."""
    from quanhuiqi.eligibility import verdict_matrix
    from quanhuiqi.synth.payout_truth import true_payout

    tp = true_payout(book.items, book.fields, city, DAY, usccs=data.profile["uscc"])
    codes = verdict_matrix(book.compiled, data.profile)
    et = pd.read_parquet(city / "truth" / "eligible_true.parquet")
    row = pd.Index(data.profile["uscc"].astype(str)).get_indexer(et["uscc"].astype(str))
    col = pd.Index([p.id for p in book.items]).get_indexer(et["policy_id"].astype(str))
    ok = (row >= 0) & (col >= 0)
    out_pairs = et[ok][codes[row[ok], col[ok]] == 0]
    caps = {p.id: p.max_amount for p in book.items}
    lost = out_pairs.groupby("policy_id").size() * pd.Series(caps).reindex(out_pairs["policy_id"].unique())
    share = (lost / tp.set_index("policy_id")["payout"]).dropna()
    return {"pairs": int(len(out_pairs)), "policies": int(share.size),
            "max_share_of_true_payout_at_cap": round(float(share.max()), 4) if share.size else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default=str(ROOT / "data_samples"))
    ap.add_argument("--name", default=None, help="suffix of the results file (default: data_samples → none)")
    a = ap.parse_args()
    load = os.getloadavg()
    res = run(Path(a.city))
    res.update({"load_average_at_start": [round(x, 2) for x in load], "cpu_count": os.cpu_count(),
                "command": "python benchmarks/simulate_accuracy.py" + (f" --city {a.city}" if a.name else "")})
    name = "simulate_accuracy.json" if a.name is None else f"simulate_accuracy_{a.name}.json"
    (ROOT / "benchmarks" / "results" / name).write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    show = {k: v for k, v in res.items() if k != "per_policy"}
    print(json.dumps(show, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
