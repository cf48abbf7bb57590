"""The routing model: text → category (or department) with calibrated probabilities, and a triage head.

Linear SVMs (liblinear, one-vs-rest) over :class:`AppealTextVectorizer` features, calibrated by
temperature scaling (one parameter fitted on held-out decision values, so the top-3 probabilities mean
what they say and one threshold decides abstention).  Measured against logistic regression and LightGBM
on the real 问政 messages (``benchmarks/appeals_real.py``, ``docs/appeals.md``): the SVM is the most
accurate and the fastest of the three there.

Hyper-parameters are chosen on a held-out part of the training data only (``C`` on a grouped split:
copies of one text never sit on both sides), so cross-validated scores are honest (nested).  The fitted
model is plain arrays (vocabularies, idf, coefficients) and two small JSON documents — no pickle — so it
loads in a fresh process from MLflow without trusting serialised Python objects.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from quanhuiqi.appeals.departments import DepartmentMap
from quanhuiqi.appeals.features import AppealTextVectorizer
from quanhuiqi.appeals.triage import TriageRules

DEFAULT_C_GRID = (0.3, 0.7, 1.5)
FORMAT_VERSION = 1


# --- one linear head ---------------------------------------------------------------------------------


@dataclass
class LinearHead:
    """Classes, coefficients (classes × features), intercepts and the softmax temperature."""

    classes: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float = 1.0
    C: float = 1.0

    @classmethod
    def fit(cls, X: sp.csr_matrix, y: np.ndarray, C: float, seed: int = 0) -> LinearHead:
        from sklearn.svm import LinearSVC

        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"need at least two classes to train, got {list(classes)}")
        m = LinearSVC(C=C, random_state=seed, dual=True, max_iter=2000).fit(X, y)
        coef, icpt = m.coef_.astype(np.float32), m.intercept_.astype(np.float32)
        if len(classes) == 2:  # liblinear keeps one row for two classes: the decision for classes[1]
            coef, icpt = np.vstack([-coef, coef]), np.concatenate([-icpt, icpt])
        return cls(np.asarray(m.classes_, dtype=object), coef, icpt, 1.0, float(C))

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef.T) + self.intercept

    def proba(self, X: sp.csr_matrix, decision: np.ndarray | None = None) -> np.ndarray:
        d = self.decision(X) if decision is None else decision
        return softmax(d / self.temperature)

    def calibrate(self, decision: np.ndarray, y: np.ndarray) -> float:
        """Temperature minimising the log loss of softmax(decision / T) on held-out labels."""
        from scipy.optimize import minimize_scalar

        idx = pd.Index(self.classes).get_indexer(y)
        ok = idx >= 0
        if not ok.any():
            return self.temperature
        d, t_idx = decision[ok], idx[ok]

        def nll(log_t: float) -> float:
            p = softmax(d / np.exp(log_t))
            return float(-np.mean(np.log(np.clip(p[np.arange(len(t_idx)), t_idx], 1e-12, None))))

        res = minimize_scalar(nll, bounds=(-5.0, 3.0), method="bounded")
        self.temperature = float(np.exp(res.x))
        return self.temperature

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_coef": self.coef, f"{prefix}_intercept": self.intercept}

    def meta(self) -> dict:
        return {"classes": [str(c) for c in self.classes], "temperature": self.temperature, "C": self.C}

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict, prefix: str) -> LinearHead:
        return cls(np.asarray(meta["classes"], dtype=object), arrays[f"{prefix}_coef"],
                   arrays[f"{prefix}_intercept"], float(meta["temperature"]), float(meta["C"]))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", labels=np.unique(y_true)))


# --- selection on held-out data ----------------------------------------------------------------------


EXACT_SPLIT_GROUPS = 10_000  # above this many groups the held-out part is drawn by the vectorised split


def grouped_split(groups: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A held-out share of the groups, stratified by label (copies of one text stay together).

    Up to ``EXACT_SPLIT_GROUPS`` groups: scikit-learn's ``StratifiedGroupKFold`` (it balances the label
    shares fold by fold, group by group — a Python loop over groups × folds, 12 CPU-seconds for 30,000
    appeals).  Above: :func:`proportional_grouped_split`, the same guarantee (whole groups, label shares
    kept) in a few numpy passes; with that many groups the greedy balancing gains nothing measurable."""
    from sklearn.model_selection import StratifiedGroupKFold

    k = max(2, int(round(1 / fraction)))
    if len(np.unique(groups)) > EXACT_SPLIT_GROUPS:
        return proportional_grouped_split(groups, y, k, seed)
    _, counts = np.unique(y, return_counts=True)
    if counts.min() < k:  # a class too small to stratify: plain grouped split
        from sklearn.model_selection import GroupShuffleSplit

        tr, va = next(GroupShuffleSplit(1, test_size=fraction, random_state=seed).split(y, y, groups))
        return tr, va
    tr, va = next(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(y, y, groups))
    return tr, va


def proportional_grouped_split(groups: np.ndarray, y: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows): every ``k``-th group of each label, in a random order, is held out —
    a group's label is that of its first row, so each label keeps its share and groups stay whole."""
    codes, _ = pd.factorize(pd.Series(groups))
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n_groups, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    label = pd.factorize(pd.Series(y))[0][first]
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.permutation(n_groups), label))
    sorted_label = label[order]
    rank = np.arange(n_groups) - np.searchsorted(sorted_label, sorted_label, side="left")
    held = np.zeros(n_groups, dtype=bool)
    held[order] = rank % k == int(rng.integers(k))
    va = held[codes]
    return np.flatnonzero(~va), np.flatnonzero(va)


@dataclass
class Selection:
    """What the held-out split chose, and its evidence."""

    C: float
    temperature: float
    scores: dict[float, float]  # C → held-out macro-F1
    val_index: np.ndarray  # rows of the held-out part
    val_proba: np.ndarray
    val_classes: np.ndarray
    val_decision: np.ndarray


TRIAGE_ROWS = 15_000  # the triage head is fitted on at most this many appeals (a random sample; docs/appeals.md)
SELECTION_ROWS = 15_000  # C and the temperature are chosen on at most this many appeals (whole groups)


def select_head(X: sp.csr_matrix, y: np.ndarray, groups: np.ndarray, *, grid=DEFAULT_C_GRID, fraction: float = 0.2,
                seed: int = 0, refit_vectorizer=None, max_rows: int = SELECTION_ROWS) -> Selection:
    """Choose C by held-out macro-F1, then the temperature on the same held-out part.

    ``refit_vectorizer(train_rows, val_rows) -> (X_train, X_val)`` fits the features on the training
    part only (the honest way); without it ``X`` is split as given.  Above ``max_rows`` appeals the
    choice is made on a random share of the groups of that size (a city's 100,000 appeals train in
    under a minute; the final model is fitted on all of them)."""
    rows = np.arange(len(y))
    if len(y) > max_rows:
        rng = np.random.default_rng(seed)
        u = np.unique(groups)
        keep = rng.permutation(u)[: int(len(u) * max_rows / len(y))]
        rows = np.flatnonzero(np.isin(groups, keep))
    tr, va = grouped_split(groups[rows], y[rows], fraction, seed)
    tr, va = rows[tr], rows[va]
    if refit_vectorizer is not None:
        Xtr, Xva = refit_vectorizer(tr, va)
    else:
        Xtr, Xva = X[tr], X[va]
    scores, heads = {}, {}
    for C in grid:
        h = LinearHead.fit(Xtr, y[tr], C, seed)
        scores[float(C)] = macro_f1(y[va], h.classes[h.decision(Xva).argmax(axis=1)])
        heads[float(C)] = h
    best = max(scores, key=lambda c: (scores[c], -c))
    h = heads[best]
    d = h.decision(Xva)
    t = h.calibrate(d, y[va])
    return Selection(best, t, scores, va, h.proba(Xva, d), h.classes, d)


# --- the appeals model -------------------------------------------------------------------------------


@dataclass
class AppealsModel:
    """Vectoriser + category (or department) head + optional triage head + department map + thresholds."""

    target: str  # "category" or "department": what the head predicts
    vectorizer: AppealTextVectorizer
    head: LinearHead
    triage_head: LinearHead | None
    department_map: DepartmentMap
    triage_rules: TriageRules
    threshold: float  # top probability below which an appeal goes to 人工分拨
    second_topic_margin: float = float("inf")  # second class's SVM decision above which its department joins
    metadata: dict[str, Any] = field(default_factory=dict)

    # --- prediction ---------------------------------------------------------------------------------
    def features(self, titles: pd.Series, bodies: pd.Series) -> sp.csr_matrix:
        return self.vectorizer.transform(titles, bodies)

    def predict_proba(self, titles: pd.Series, bodies: pd.Series) -> pd.DataFrame:
        X = self.features(titles, bodies)
        return pd.DataFrame(self.head.proba(X), columns=[str(c) for c in self.head.classes])

    def decide(self, titles: pd.Series, bodies: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """(decision values, calibrated probabilities) of the class head."""
        d = self.head.decision(self.features(titles, bodies))
        return d, self.head.proba(None, d)

    # --- persistence --------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``arrays.npz`` and ``model.json`` (plain arrays and JSON: nothing executable)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {**self.vectorizer.to_arrays(), **self.head.to_arrays("head")}
        if self.triage_head is not None:
            arrays.update(self.triage_head.to_arrays("triage"))
        np.savez_compressed(folder / "arrays.npz", **arrays)
        doc = {
            "format": FORMAT_VERSION,
            "kind": "appeals",
            "target": self.target,
            "vectorizer": self.vectorizer.config(),
            "head": self.head.meta(),
            "triage_head": None if self.triage_head is None else self.triage_head.meta(),
            "department_map": json.loads(self.department_map.to_json()),
            "triage_rules": self.triage_rules.to_dict(),
            "threshold": self.threshold,
            "second_topic_margin": self.second_topic_margin,
            "metadata": self.metadata,
        }
        (folder / "model.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=_json_default),
                                           encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> AppealsModel:
        folder = Path(folder)
        doc = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        if doc.get("kind") != "appeals" or doc.get("format") != FORMAT_VERSION:
            raise ValueError(f"{folder}: not an appeals model of format {FORMAT_VERSION}")
        with np.load(folder / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        vec = AppealTextVectorizer.from_arrays(doc["vectorizer"], arrays)
        head = LinearHead.from_arrays(doc["head"], arrays, "head")
        tri = LinearHead.from_arrays(doc["triage_head"], arrays, "triage") if doc["triage_head"] else None
        dm = DepartmentMap.from_json(json.dumps(doc["department_map"]))
        return cls(doc["target"], vec, head, tri, dm, TriageRules.from_dict(doc["triage_rules"]),
                   float(doc["threshold"]), float(doc["second_topic_margin"]), doc.get("metadata", {}))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    raise TypeError(type(obj).__name__)


def routed_departments(model: AppealsModel, proba: np.ndarray, districts,
                       decision: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(the department(s) each appeal is routed to — the top suggestion's, plus the second suggestion's
    when that class's own one-vs-rest decision value exceeds ``second_topic_margin`` (the SVM says that
    topic is present too) and it is another department, ``;``-joined —, the departments of the top-3
    suggestions, the top-3 class indices)."""
    k = min(3, proba.shape[1])
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    classes = model.head.classes
    deps = [model.department_map.departments(classes[top[:, s]], districts) if model.target == "category"
            else classes[top[:, s]] for s in range(k)]
    routed = np.array(deps[0], dtype=object)
    if k >= 2 and decision is not None and np.isfinite(model.second_topic_margin):
        d2 = np.take_along_axis(decision, top[:, 1:2], axis=1)[:, 0]
        second = (d2 > model.second_topic_margin) & pd.notna(deps[1]) & pd.notna(deps[0]) & (deps[1] != deps[0])
        idx = np.flatnonzero(second)
        routed[idx] = [f"{a};{b}" for a, b in zip(deps[0][idx], deps[1][idx])]
    return routed, deps, top


def same_departments(a, b) -> np.ndarray:
    """Element-wise: do two ``;``-joined department lists name the same set?"""
    return np.array([isinstance(x, str) and isinstance(y, str) and set(x.split(";")) == set(y.split(";"))
                     for x, y in zip(a, b)], dtype=bool)


# --- training ----------------------------------------------------------------------------------------


def text_groups(titles: pd.Series, bodies: pd.Series, case_id: pd.Series | None = None) -> np.ndarray:
    """Groups that must not be split between training and evaluation: identical bodies (after
    normalisation) and the cases the validator linked."""
    from quanhuiqi.appeals.dedupe import duplicate_key_text

    key = duplicate_key_text(pd.Series(titles, dtype="string").fillna("").str.slice(0, 0), bodies)
    key = key.where(key.str.len() >= 20, duplicate_key_text(titles, bodies))  # short bodies: title + body
    codes, _ = pd.factorize(key)
    if case_id is not None:
        case_codes, _ = pd.factorize(case_id.astype("string"))
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n = len(codes)
        a = np.arange(n)
        g = coo_matrix((np.ones(2 * n), (np.r_[a, a], np.r_[codes + n, case_codes + 2 * n])), shape=(3 * n + 2, 3 * n + 2))
        _, comp = connected_components(g, directed=False)
        return comp[:n]
    return codes


def coverage_curve(correct: np.ndarray, confidence: np.ndarray, points=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)) -> pd.DataFrame:
    """Accuracy of the most confident share of appeals, for each coverage share (the rest: 人工分拨)."""
    order = np.argsort(-confidence, kind="stable")
    c = correct[order].astype(float)
    cum = np.cumsum(c) / np.arange(1, len(c) + 1)
    rows = []
    for p in points:
        k = max(1, int(round(p * len(c))))
        rows.append({"coverage": p, "accuracy": float(cum[k - 1]), "threshold": float(confidence[order][k - 1])})
    return pd.DataFrame(rows)


def threshold_for(correct: np.ndarray, confidence: np.ndarray, target_accuracy: float) -> float:
    """The lowest confidence threshold whose auto-routed share reaches ``target_accuracy`` on held-out data."""
    order = np.argsort(-confidence, kind="stable")
    c = correct[order].astype(float)
    acc = np.cumsum(c) / np.arange(1, len(c) + 1)
    ok = np.flatnonzero(acc >= target_accuracy)
    if not len(ok):
        return 1.0
    return float(confidence[order][ok[-1]])


@dataclass
class TrainingData:
    titles: pd.Series
    bodies: pd.Series
    y: np.ndarray
    target: str
    triage: np.ndarray | None
    departments: pd.Series
    districts: pd.Series
    groups: np.ndarray
    received: pd.Series


def training_data(clean: pd.DataFrame, department_map: DepartmentMap) -> TrainingData:
    """The labelled rows of validated appeals: ``category`` when any row has one, else ``department``."""
    from quanhuiqi.appeals.privacy import mask_personal_data

    if clean["category"].notna().any():
        target = "category"
    elif clean["department"].notna().any():
        target = "department"
    else:
        from quanhuiqi.tables.io import InputError

        raise InputError("appeals: no labels to train on (neither category nor department holds a value)")
    rows = clean[clean[target].notna()].reset_index(drop=True)
    titles = mask_personal_data(rows["title"].astype("string"))
    bodies = mask_personal_data(rows["body"].astype("string"))
    tri = rows["triage"].to_numpy(dtype=object) if rows["triage"].notna().sum() >= 20 else None
    return TrainingData(titles, bodies, rows[target].astype(str).to_numpy(dtype=object), target, tri,
                        rows["department"], rows["district_code"],
                        text_groups(titles, bodies, rows["case_id"] if "case_id" in rows.columns else None),
                        rows["received_at"])


def fit_model(data: TrainingData, department_map: DepartmentMap, triage_rules: TriageRules, *,
              grid=DEFAULT_C_GRID, target_accuracy: float = 0.95, vectorizer_config: dict | None = None,
              seed: int = 0) -> tuple[AppealsModel, dict[str, Any]]:
    """Choose C and the temperature on a held-out part, fit on everything, set the abstention threshold."""
    t0 = time.perf_counter()
    cfg = dict(vectorizer_config or {})
    vec_sel = AppealTextVectorizer(**cfg)
    titles, bodies, y = data.titles, data.bodies, data.y

    split: dict[str, Any] = {}

    def refit(tr, va):
        split.update(tr=tr, va=va, Xtr=vec_sel.fit_transform(titles.iloc[tr], bodies.iloc[tr]),
                     Xva=vec_sel.transform(titles.iloc[va], bodies.iloc[va]))
        return split["Xtr"], split["Xva"]

    sel = select_head(None, y, data.groups, grid=grid, seed=seed, refit_vectorizer=refit)
    dm = department_map
    if data.target == "category":
        dm = department_map.with_learned(pd.Series(y), data.departments)
    pred = sel.val_classes[sel.val_proba.argmax(axis=1)]
    conf = sel.val_proba.max(axis=1)
    second_at = _second_topic_margin(sel, data, dm)
    correct = _route_correct(pred, data, sel.val_index, dm, sel, second_at)
    threshold = threshold_for(correct, conf, target_accuracy)
    t_sel = time.perf_counter() - t0
    vec = AppealTextVectorizer(**cfg)
    X = vec.fit_transform(titles, bodies)
    head = LinearHead.fit(X, y, sel.C, seed)
    head.temperature = sel.temperature
    tri_head = None
    if data.triage is not None:
        ok = np.flatnonzero(pd.notna(data.triage))
        if len(ok) > TRIAGE_ROWS:  # the triage head is a second opinion beside the rules: a sample suffices
            ok = np.sort(np.random.default_rng(seed).choice(ok, TRIAGE_ROWS, replace=False))
        if len(set(data.triage[ok])) >= 2:
            tri_head = LinearHead.fit(X[ok], data.triage[ok].astype(str), sel.C, seed)
            held = _triage_val_decision(split, data.triage, sel.C, seed)
            if held is not None and list(held[0]) == list(tri_head.classes):
                tri_head.calibrate(held[1], held[2])
    model = AppealsModel(data.target, vec, head, tri_head, dm, triage_rules, threshold, second_at)
    info = {
        "C": sel.C,
        "C_scores": {str(k): round(v, 4) for k, v in sel.scores.items()},
        "temperature": sel.temperature,
        "threshold": threshold,
        "second_topic_margin": second_at,
        "target_accuracy": target_accuracy,
        "selection_seconds": round(t_sel, 2),
        "fit_seconds": round(time.perf_counter() - t0 - t_sel, 2),
        "n_train": len(y),
        "n_features": vec.n_features,
        "classes": [str(c) for c in head.classes],
        "validation_macro_f1": sel.scores[sel.C],
        "validation_coverage": coverage_curve(correct, conf).to_dict(orient="records"),
    }
    return model, info


def _triage_val_decision(split: dict, triage: np.ndarray, C: float, seed: int):
    """(classes, held-out decision values, held-out labels) of a triage head fitted on the selection's
    training part: the triage head's temperature is fitted on data it did not see."""
    tr = np.flatnonzero(pd.notna(triage[split["tr"]]))
    va = np.flatnonzero(pd.notna(triage[split["va"]]))
    y_tr, y_va = triage[split["tr"]][tr].astype(str), triage[split["va"]][va].astype(str)
    if len(set(y_tr)) < 2 or not len(va):
        return None
    h = LinearHead.fit(split["Xtr"][tr], y_tr, C, seed)
    return h.classes, h.decision(split["Xva"][va]), y_va


SECOND_TOPIC_GRID = (-1.0, -0.9, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3, -0.2, -0.1, 0.0, float("inf"))


def _probe(classes: np.ndarray, dm: DepartmentMap, margin: float) -> AppealsModel:
    return AppealsModel("category", None, LinearHead(classes, np.zeros((0, 0)), np.zeros(0)), None, dm, None, 0.0,
                        margin)


def _second_topic_margin(sel: Selection, data: TrainingData, dm: DepartmentMap) -> float:
    """The decision value above which the second class's department joins the routing (a second topic),
    chosen on the held-out part by department accuracy (inf = never) when the labels record departments."""
    dep_true = data.departments.iloc[sel.val_index].astype("string").to_numpy(dtype=object)
    has = pd.notna(dep_true)
    if data.target != "category" or has.mean() < 0.5 or sel.val_proba.shape[1] < 2:
        return float("inf")
    dist = data.districts.iloc[sel.val_index].to_numpy(dtype=object)
    best, best_acc = float("inf"), -1.0
    for t in SECOND_TOPIC_GRID:
        routed, _, _ = routed_departments(_probe(sel.val_classes, dm, t), sel.val_proba, dist, sel.val_decision)
        acc = float(same_departments(routed[has], dep_true[has]).mean())
        if acc > best_acc + 1e-9:
            best, best_acc = t, acc
    return best


def _route_correct(pred: np.ndarray, data: TrainingData, rows: np.ndarray, dm: DepartmentMap, sel: Selection,
                   margin: float) -> np.ndarray:
    """Is the routing right: the department(s) routed to (when the labels record departments and the map
    covers the prediction), else the predicted class itself."""
    truth = data.y[rows]
    if data.target == "department":
        return pred == truth
    dep_true = data.departments.iloc[rows].astype("string").to_numpy(dtype=object)
    dep_pred, _, _ = routed_departments(_probe(sel.val_classes, dm, margin), sel.val_proba,
                                        data.districts.iloc[rows].to_numpy(dtype=object), sel.val_decision)
    has = pd.notna(dep_true) & pd.notna(dep_pred)
    if has.mean() < 0.5:
        return pred == truth
    return np.where(has, same_departments(dep_pred, dep_true), pred == truth)
