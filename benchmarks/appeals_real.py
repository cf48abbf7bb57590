"""Benchmark: the appeals routing model on real 问政 messages (../shared/data/appeals/, never shipped).

    .venv/bin/python benchmarks/appeals_real.py [--data ../shared/data/appeals] [--folds 5] [--compare]

1. Converts ``labeled_messages_full.csv`` (6,393 messages, 7 categories) into the appeals table
   (``appeal_id``, ``received_at`` where known, ``title``, ``body``, ``category``) and runs
   ``quanhuiqi train appeals --data DIR --cv K`` on it in a fresh process with a temporary MLflow store:
   nested, grouped K-fold cross-validation (each fold chooses ``C`` and the temperature on its own
   training part; copies of one text never straddle folds).  Reports the cross-validated macro-F1.
2. The label-noise bound: messages whose normalised text is the same (copies, re-posts) but whose labels
   differ; whatever the model, at least the minority labels of such a group are wrong, which bounds the
   reachable accuracy.
3. ``--compare``: the same grouped folds for the linear SVM (the model), logistic regression (and with
   ``--lightgbm`` LightGBM) on the same features, and the SVM without words or without the title block
   (fixed hyper-parameters): what chose the model.  A run of it is kept in
   ``benchmarks/results/appeals_real_comparison.json``.

Writes ``benchmarks/results/appeals_real.json``.  Says so and exits 0 when the data is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def to_appeals(src: Path) -> pd.DataFrame:
    d = pd.read_csv(src / "labeled_messages_full.csv", dtype=str)
    return pd.DataFrame({
        "appeal_id": d["message_id"], "received_at": d["received_at"], "title": d["title"],
        "body": d["body"], "category": d["label"],
    })


def label_noise_bound(table: pd.DataFrame) -> dict:
    from quanhuiqi.appeals.model import text_groups

    groups = text_groups(table["title"].astype("string"), table["body"].astype("string"))
    t = table.assign(g=groups)
    sizes = t.groupby("g")["category"].agg(["size", "nunique"])
    conflict = sizes[sizes["nunique"] > 1]
    # in each group at least size - (count of its most common label) rows are wrong for any classifier
    top = t.groupby(["g", "category"]).size().groupby("g").max()
    forced_wrong = int((sizes["size"] - top).sum())
    return {"groups_with_copies": int((sizes["size"] > 1).sum()), "rows_in_copy_groups": int(sizes.loc[sizes["size"] > 1, "size"].sum()),
            "conflicting_groups": len(conflict), "rows_in_conflicting_groups": int(conflict["size"].sum()),
            "forced_errors": forced_wrong, "accuracy_bound": 1 - forced_wrong / len(t)}


def compare(table: pd.DataFrame, folds: int, lightgbm: bool = False) -> dict:
    """Fixed hyper-parameters, the same grouped folds: SVM (as trained), LR, LightGBM, SVM variants."""
    from sklearn.model_selection import StratifiedGroupKFold

    from quanhuiqi.appeals.features import AppealTextVectorizer
    from quanhuiqi.appeals.model import LinearHead, macro_f1, text_groups
    from quanhuiqi.appeals.privacy import mask_personal_data

    titles = mask_personal_data(table["title"].astype("string"))
    bodies = mask_personal_data(table["body"].astype("string"))
    y = table["category"].to_numpy(dtype=object)
    groups = text_groups(titles, bodies)
    out: dict = {}
    variants = {
        "svm": ({}, "svm"), "svm_no_words": ({"words": False}, "svm"), "svm_no_title": ({"title": False}, "svm"),
        "logistic_regression": ({}, "lr"),
    }
    if lightgbm:
        variants["lightgbm"] = ({}, "lgbm")
    for name, (cfg, kind) in variants.items():
        preds = np.empty(len(y), dtype=object)
        t0 = time.perf_counter()
        for tr, te in StratifiedGroupKFold(folds, shuffle=True, random_state=0).split(y, y, groups):
            v = AppealTextVectorizer(**cfg)
            Xtr = v.fit_transform(titles.iloc[tr], bodies.iloc[tr])
            Xte = v.transform(titles.iloc[te], bodies.iloc[te])
            if kind == "svm":
                h = LinearHead.fit(Xtr, y[tr], 0.7)
                preds[te] = h.classes[h.decision(Xte).argmax(axis=1)]
            elif kind == "lr":
                from sklearn.linear_model import LogisticRegression

                m = LogisticRegression(C=20, max_iter=300).fit(Xtr, y[tr])
                preds[te] = m.predict(Xte)
            else:
                import lightgbm as lgb

                keep = np.flatnonzero(np.asarray((Xtr > 0).sum(axis=0)).ravel() >= 5)
                m = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.1, num_leaves=31, min_child_samples=10,
                                       colsample_bytree=0.3, verbose=-1, n_jobs=2, deterministic=True,
                                       force_row_wise=True, random_state=0)
                m.fit(Xtr[:, keep].astype(np.float32), y[tr])
                preds[te] = m.predict(Xte[:, keep].astype(np.float32))
        out[name] = {"macro_f1": round(macro_f1(y, preds), 4), "accuracy": round(float((preds == y).mean()), 4),
                     "seconds": round(time.perf_counter() - t0, 1)}
        print(name, out[name], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data" / "appeals"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--lightgbm", action="store_true", help="with --compare: LightGBM too (slow: tens of minutes)")
    args = ap.parse_args()
    src = Path(args.data)
    if not (src / "labeled_messages_full.csv").exists():
        print(f"real appeals data not found at {src}: nothing measured (pass --data DIR)")
        return
    table = to_appeals(src)
    result: dict = {"data": "labeled_messages_full.csv", "rows": len(table), "classes": int(table["category"].nunique()),
                    "load_before": os.getloadavg()}
    result["label_noise"] = label_noise_bound(table)
    print("label noise:", result["label_noise"], flush=True)
    with tempfile.TemporaryDirectory(prefix="appeals-real-") as tmp:
        d = Path(tmp) / "data"
        d.mkdir()
        table.to_csv(d / "appeals.csv", index=False)
        cmd = [sys.executable, "-m", "quanhuiqi.cli", "train", "appeals", "--data", str(d), "--cv", str(args.folds)]
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "MLFLOW_DISABLE_TELEMETRY": "true"}
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        result["train_cli_seconds"] = round(time.perf_counter() - t0, 1)
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        print(p.stdout)
        result["command"] = f"quanhuiqi train appeals --data DIR --cv {args.folds}"
        result["cli_output"] = p.stdout.strip().splitlines()
        for line in p.stdout.splitlines():
            m = re.match(r"\s+(\w+): ([0-9.]+)$", line)
            if m:
                result[m.group(1)] = float(m.group(2))
        from mlflow import MlflowClient

        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        run = client.search_runs([client.get_experiment_by_name("quanhuiqi").experiment_id])[0]
        result["logged_metrics"] = {k: round(v, 4) for k, v in run.data.metrics.items()}
    if args.compare:
        result["comparison"] = compare(table, args.folds, args.lightgbm)
    result["load_after"] = os.getloadavg()
    out = HERE / "results" / "appeals_real.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({k: result[k] for k in result if k.startswith("cv_") or k == "label_noise"}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
