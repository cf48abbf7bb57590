"""Benchmark: routing on the synthetic city — department accuracy of the top suggestion and of the top 3,
accuracy at 90 % coverage, the coverage/accuracy curve — by nested, grouped cross-validation on
data_samples/appeals.csv (``quanhuiqi train appeals --data data_samples --cv 5``), and against the
generator's truth on a second city's appeals it never saw (another seed; labels there are not noisy).

    .venv/bin/python benchmarks/appeals_city.py [--folds 5]

Writes ``benchmarks/results/appeals_city.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    from quanhuiqi.appeals import route_appeals, train_appeals, validate_appeals
    from quanhuiqi.appeals.model import same_departments
    from quanhuiqi.synth.appeals import generate_appeals
    from quanhuiqi.tables import read_table

    samples = HERE.parent / "data_samples"
    clean = validate_appeals(read_table(samples / "appeals.csv"), require_received=False).clean
    t0 = time.perf_counter()
    model, report = train_appeals(clean, cv=args.folds)
    seconds = time.perf_counter() - t0
    keys = [k for k in report if k.startswith("cv_") and not isinstance(report[k], list | dict)]
    result = {"command": f"train_appeals(data_samples/appeals.csv, cv={args.folds}) = quanhuiqi train appeals "
                         f"--data data_samples --cv {args.folds}",
              **{k: report[k] for k in keys}, "cv_department_coverage_curve": report.get("cv_department_coverage_curve"),
              "cv_coverage_curve": report.get("cv_coverage_curve"), "seconds": round(seconds, 1),
              "threshold": model.threshold, "second_topic_margin": model.second_topic_margin}
    # a city it never saw: another seed's appeals of the same enterprises, scored against the generator's truth
    raw, truth = generate_appeals(read_table(samples / "enterprises.csv"), seed=11, n=3000, mess=False)
    v = validate_appeals(raw)
    out = route_appeals(model, v.clean, history=v.clean)
    t = truth.set_index("appeal_id").reindex(out["appeal_id"])
    routed = out["suggestion_1_department"].to_numpy(dtype=object)
    dep = out["department"].to_numpy(dtype=object)
    auto = (out["dispatch"] == "auto").to_numpy()
    truth_dep = t["department_true"].to_numpy(dtype=object)
    top3 = np.array([set(td.split(";")) <= {x for x in (a, b, c) if isinstance(x, str)}
                     for td, a, b, c in zip(truth_dep, out["suggestion_1_department"], out["suggestion_2_department"],
                                            out["suggestion_3_department"])])
    full = dep.copy()
    full[~auto] = routed[~auto]
    result["unseen_city"] = {
        "appeals": len(out),
        "category_accuracy": round(float((out["category"].to_numpy() == t["category_true"].to_numpy()).mean()), 4),
        "department_accuracy_top1": round(float(same_departments(full, truth_dep).mean()), 4),
        "department_accuracy_top3": round(float(top3.mean()), 4),
        "auto_dispatched": round(float(auto.mean()), 4),
        "department_accuracy_auto": round(float(same_departments(dep[auto], truth_dep[auto]).mean()), 4),
        "triage_accuracy": round(float((out["triage"].to_numpy() == t["triage_true"].to_numpy()).mean()), 4),
        "triage_confusion": pd.crosstab(out["triage"].to_numpy(), t["triage_true"].to_numpy()).to_dict(),
    }
    conf = out["category_probability"].to_numpy()
    order = np.argsort(-conf, kind="stable")
    ok = same_departments(full, truth_dep)[order]
    k = int(0.9 * len(ok))
    result["unseen_city"]["department_accuracy_at_90_coverage"] = round(float(ok[:k].mean()), 4)
    result["load"] = os.getloadavg()
    (HERE / "results" / "appeals_city.json").write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str),
                                                      encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
