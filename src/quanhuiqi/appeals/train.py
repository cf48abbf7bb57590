"""Training and evaluating the routing model: ``train_appeals`` (library) and ``quanhuiqi train appeals``.

Labels: ``category`` when the table holds any (departments then come from the map, or from the
training labels for categories the map lacks), else ``department``; ``triage`` labels, when there are
enough, train the triage head.  Evaluation:

* always: the held-out validation part used to choose ``C`` and the temperature (its numbers are
  therefore slightly optimistic and are named ``validation_*``);
* ``cv=K``: nested K-fold cross-validation — each fold's model chooses its own ``C`` and temperature on
  its training part only; folds never split copies of one text (grouped) — reported as ``cv_*``:
  macro-F1 and accuracy of the class, department accuracy of the top suggestion and of the top 3,
  accuracy at 90 % coverage, the coverage/accuracy curve and the calibration error.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.appeals.departments import DepartmentMap
from quanhuiqi.appeals.model import (
    DEFAULT_C_GRID,
    AppealsModel,
    TrainingData,
    coverage_curve,
    fit_model,
    macro_f1,
    routed_departments,
    same_departments,
    training_data,
)
from quanhuiqi.appeals.triage import TriageRules
from quanhuiqi.tables.io import InputError


def calibration_error(correct: np.ndarray, confidence: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top probability (equal-width bins)."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.mean() * abs(correct[m].mean() - confidence[m].mean())
    return float(err)


def evaluate_on(model: AppealsModel, data: TrainingData, rows: np.ndarray) -> dict[str, Any]:
    """Scores of ``model`` on ``rows`` of ``data`` (never seen by it)."""
    decision, proba = model.decide(data.titles.iloc[rows], data.bodies.iloc[rows])
    pred = model.head.classes[proba.argmax(axis=1)]
    truth = data.y[rows]
    conf = proba.max(axis=1)
    out: dict[str, Any] = {"pred": pred, "truth": truth, "confidence": conf, "correct": pred == truth}
    dep_true = data.departments.iloc[rows].astype("string").to_numpy(dtype=object)
    has = pd.notna(dep_true)
    if has.any():
        routed, deps, _ = routed_departments(model, proba, data.districts.iloc[rows].to_numpy(dtype=object), decision)
        top1 = same_departments(routed, dep_true)
        offered = [set(x for d in deps for x in ([d[i]] if isinstance(d[i], str) else [])) for i in range(len(rows))]
        top3 = np.array([isinstance(t, str) and set(t.split(";")) <= o for t, o in zip(dep_true, offered)])
        out["department_top1"] = top1[has]
        out["department_top3"] = top3[has]
        out["department_confidence"] = conf[has]
    return out


def _summary(parts: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    pred = np.concatenate([p["pred"] for p in parts])
    truth = np.concatenate([p["truth"] for p in parts])
    conf = np.concatenate([p["confidence"] for p in parts])
    correct = pred == truth
    m = {
        f"{prefix}macro_f1": macro_f1(truth, pred),
        f"{prefix}accuracy": float(correct.mean()),
        f"{prefix}calibration_error": calibration_error(correct, conf),
        f"{prefix}macro_f1_folds": [macro_f1(p["truth"], p["pred"]) for p in parts],
    }
    curve = coverage_curve(correct, conf)
    m[f"{prefix}accuracy_at_90_coverage"] = float(curve.loc[curve["coverage"] == 0.9, "accuracy"].iloc[0])
    m[f"{prefix}coverage_curve"] = curve.to_dict(orient="records")
    if all("department_top1" in p for p in parts):
        d1 = np.concatenate([p["department_top1"] for p in parts])
        d3 = np.concatenate([p["department_top3"] for p in parts])
        dc = np.concatenate([p["department_confidence"] for p in parts])
        m[f"{prefix}department_accuracy_top1"] = float(d1.mean())
        m[f"{prefix}department_accuracy_top3"] = float(d3.mean())
        dcurve = coverage_curve(d1, dc)
        m[f"{prefix}department_accuracy_at_90_coverage"] = float(dcurve.loc[dcurve["coverage"] == 0.9, "accuracy"].iloc[0])
        m[f"{prefix}department_coverage_curve"] = dcurve.to_dict(orient="records")
    from sklearn.metrics import f1_score

    labels = np.unique(truth)
    m[f"{prefix}per_class_f1"] = dict(zip(map(str, labels), np.round(f1_score(truth, pred, labels=labels, average=None), 4).tolist()))
    return m


def train_appeals(clean: pd.DataFrame, *, department_map: DepartmentMap | None = None,
                  triage_rules: TriageRules | None = None, cv: int = 0, grid=DEFAULT_C_GRID,
                  target_accuracy: float = 0.95, vectorizer_config: dict | None = None,
                  seed: int = 0) -> tuple[AppealsModel, dict[str, Any]]:
    """Fit the routing model on validated appeals; returns (model, report: validation and cv metrics)."""
    from sklearn.model_selection import StratifiedGroupKFold

    t0 = time.perf_counter()
    dm = department_map or DepartmentMap.load()
    rules = triage_rules or TriageRules.load()
    data = training_data(clean, dm)
    if len(np.unique(data.y)) < 2:
        raise InputError(f"appeals: need at least two {data.target} labels to train, got {sorted(set(data.y))}")
    report: dict[str, Any] = {"target": data.target, "n_labelled": len(data.y), "n_classes": int(len(np.unique(data.y))),
                              "triage_labels": data.triage is not None}
    if cv and cv > 1:
        parts = []
        folds = StratifiedGroupKFold(cv, shuffle=True, random_state=seed).split(data.y, data.y, data.groups)
        for k, (tr, te) in enumerate(folds):
            sub = _subset(data, tr)
            m, _ = fit_model(sub, dm, rules, grid=grid, target_accuracy=target_accuracy,
                             vectorizer_config=vectorizer_config, seed=seed + k)
            parts.append(evaluate_on(m, data, te))
        report.update(_summary(parts, "cv_"))
        report["cv_folds"] = cv
    t_cv = time.perf_counter() - t0
    model, info = fit_model(data, dm, rules, grid=grid, target_accuracy=target_accuracy,
                            vectorizer_config=vectorizer_config, seed=seed)
    report.update({f"validation_{k}" if not k.startswith("validation_") else k: v for k, v in info.items()})
    report["cv_seconds"] = round(t_cv, 2)
    report["train_seconds"] = round(time.perf_counter() - t0 - t_cv, 2)
    model.metadata = {"report": {k: v for k, v in report.items() if not isinstance(v, list | dict)}}
    return model, report


def _subset(data: TrainingData, rows: np.ndarray) -> TrainingData:
    return TrainingData(
        data.titles.iloc[rows].reset_index(drop=True), data.bodies.iloc[rows].reset_index(drop=True), data.y[rows],
        data.target, None if data.triage is None else data.triage[rows],
        data.departments.iloc[rows].reset_index(drop=True), data.districts.iloc[rows].reset_index(drop=True),
        data.groups[rows], data.received.iloc[rows].reset_index(drop=True))


def find_appeals_file(data_dir: str | os.PathLike) -> Path:
    d = Path(data_dir)
    for name in ("appeals.csv", "appeals.parquet"):
        if (d / name).exists():
            return d / name
    raise InputError(f"{d}: no appeals.csv or appeals.parquet to train on")


def report_text(report: dict[str, Any]) -> str:
    """The report as Markdown (logged with the model)."""
    lines = [f"# Appeals routing model ({report['target']})", ""]
    for k, v in report.items():
        if isinstance(v, float):
            lines.append(f"- {k}: {v:.4f}")
        elif isinstance(v, int | str | bool):
            lines.append(f"- {k}: {v}")
    for key in ("cv_coverage_curve", "cv_department_coverage_curve", "validation_validation_coverage", "validation_coverage"):
        if key in report:
            lines += ["", f"## {key}", "", pd.DataFrame(report[key]).to_markdown(index=False) if _has_tabulate()
                      else pd.DataFrame(report[key]).to_string(index=False)]
    if "cv_per_class_f1" in report:
        lines += ["", "## per-class F1 (cv)", ""] + [f"- {k}: {v}" for k, v in report["cv_per_class_f1"].items()]
    return "\n".join(lines) + "\n"


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def train_appeals_cli(data_dir, register: str | None = None, alias: str | None = None, *, cv: int = 0,
                      department_map: str | None = None, triage_rules: str | None = None,
                      params: dict | None = None, seed: int = 0, encoding: str | None = None) -> str:
    """``quanhuiqi train appeals``: train on DIR/appeals.csv (or .parquet; ``encoding`` or detected), log to
    MLflow, register, alias."""
    from quanhuiqi import registry
    from quanhuiqi.appeals.registered import log_appeals_model
    from quanhuiqi.appeals.validate import appeals_file_clean

    path = find_appeals_file(data_dir)
    read_as: dict = {}
    v = appeals_file_clean(path, require_received=False, encoding=encoding, report=read_as)
    params = dict(params or {})
    grid = tuple(float(x) for x in str(params.pop("C", "")).split(",") if x) or DEFAULT_C_GRID
    target_accuracy = float(params.pop("target_accuracy", 0.95))
    vec_keys = {"min_df", "max_chars", "max_title_chars", "words", "title"}
    vec_cfg = {k: params.pop(k) for k in list(params) if k in vec_keys}
    if params:
        raise InputError(f"--param: unknown appeals parameter(s) {sorted(params)} (known: C, target_accuracy, "
                         f"{', '.join(sorted(vec_keys))})")
    model, report = train_appeals(
        v.clean, department_map=DepartmentMap.load(department_map) if department_map else None,
        triage_rules=TriageRules.load(triage_rules) if triage_rules else None, cv=cv, grid=grid,
        target_accuracy=target_accuracy, vectorizer_config=vec_cfg, seed=seed)
    window = {"file": path.name, "encoding": read_as["encoding"], "rows": v.rows_in, "rows_rejected": v.rows_rejected, "labelled": report["n_labelled"]}
    rec = v.clean["received_at"].dropna()
    if len(rec):
        window.update(received_from=rec.min(), received_to=rec.max())
    metrics = {k: v_ for k, v_ in report.items() if isinstance(v_, int | float) and not isinstance(v_, bool)}
    run = log_appeals_model(model, params={"C_grid": list(grid), "cv": cv, "seed": seed, **vec_cfg,
                                                    "target_accuracy": target_accuracy},
                                     metrics=metrics, report=report_text(report), data_window=window)
    lines = [f"trained appeals model ({report['target']}, {report['n_classes']} classes) on {report['n_labelled']} "
             f"labelled appeals of {path} in {report['train_seconds']} s: run {run.run_id}"]
    for key in ("cv_macro_f1", "cv_accuracy", "cv_department_accuracy_top1", "cv_department_accuracy_top3",
                "cv_accuracy_at_90_coverage", "cv_calibration_error", "validation_macro_f1", "validation_threshold"):
        if key in report:
            lines.append(f"  {key}: {report[key]:.4f}")
    if v.rows_rejected:
        lines.append(f"  {v.rows_rejected} rows rejected (no text, no id, unreadable date, …)")
    if register:
        version = registry.register(run.model_uri, register, tags={"quanhuiqi.kind": "appeals"})
        lines.append(f"registered {register} version {version}")
        if alias:
            registry.set_alias(register, alias, version)
            lines.append(f"alias {register}@{alias} → version {version}")
    return "\n".join(lines)
