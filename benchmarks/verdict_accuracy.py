"""Verdicts against the truth: how often the engine, on the messy data, wrongly proves or wrongly rules out.

    .venv/bin/python benchmarks/verdict_accuracy.py [--city data_samples] [--as-of 2025-07-01]

A synthetic city's ``truth/eligible_true.parquet`` holds true eligibility on complete canonical facts;
the engine sees the registry export (missing values, coarse codes, old spellings). Writes
``benchmarks/results/verdict_accuracy.json`` (the counts and the wrongly decided pairs by policy).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--city", default=str(ROOT / "data_samples"))
    ap.add_argument("--as-of", default="2025-07-01")
    ap.add_argument("--policies", default=None, help="another book (e.g. data_samples/policies_real): truth is the "
                                                      "engine on the city's complete canonical facts")
    ap.add_argument("--result-name", default="verdict_accuracy")
    args = ap.parse_args()
    from quanhuiqi.synth.verdict_accuracy import verdict_accuracy

    t0 = time.perf_counter()
    counts, errors = verdict_accuracy(args.city, args.as_of, args.policies)
    out = {**counts, "errors_by_policy": errors.groupby(["error", "policy_id"]).size().rename("pairs")
           .reset_index().to_dict(orient="records"), "seconds": round(time.perf_counter() - t0, 1),
           "command": f"python benchmarks/verdict_accuracy.py --city {args.city} --as-of {args.as_of}"
           + (f" --policies {args.policies} --result-name {args.result_name}" if args.policies else "")}
    (ROOT / "benchmarks" / "results" / f"{args.result_name}.json").write_text(
        json.dumps(out, indent=2, ensure_ascii=False, default=float), encoding="utf-8")
    print(json.dumps(out, indent=2, ensure_ascii=False, default=float))


if __name__ == "__main__":
    main()
