"""Training data from the push history, time-split training, the comparison report, the CLI entry point.

History rows are pushes (``date, uscc, policy_id, rank, score, mode, clicked, applied, approved``); the
graded relevance of a push is 3 approved, 2 applied, 1 clicked, 0 otherwise, and a *group* is one
(enterprise, push date).  The split is by time over the distinct push dates: the earliest dates train,
the next ones validate (early stopping), the last ones test — no group straddles two windows and every
feature of a row is computed as of its own push date.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from quanhuiqi.boosting import check_params
from quanhuiqi.rank.columns import FEATURES, FIRM_EFFECT, SPECIFICITY_FEATURES
from quanhuiqi.rank.evaluation import evaluate
from quanhuiqi.rank.features import PairFeatureBuilder
from quanhuiqi.rank.firm_effects import FirmEffects
from quanhuiqi.rank.pairs import assemble_pairs, policy_frame
from quanhuiqi.rank.population import specificity
from quanhuiqi.rank.scorers import DEFAULT_PARAMS, LambdaRanker, PopularityScorer, RuleScorer
from quanhuiqi.tables.columns import DATA_FILES, PUSH_HISTORY_COLUMNS
from quanhuiqi.tables.io import InputError, read_table

SPLITS = ("train", "valid", "test")


class RelevanceOracle(Protocol):
    """What :func:`train_ranker` asks of a ground truth beyond the observed outcomes (a synthetic city's
    is :class:`quanhuiqi.synth.truth.PolicyTruth`; real data has none)."""

    def expected_relevance(self, frame: pd.DataFrame) -> np.ndarray:
        """The true expected relevance of each (``uscc, policy_id, date``) row."""

    def exploration_mask(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Rows pushed at random by the old platform (None: unknown)."""


def relevance(history: pd.DataFrame) -> np.ndarray:
    """Graded relevance of each push: 3 approved, 2 applied, 1 clicked, 0 none (the highest step reached)."""

    def flag(col: str) -> np.ndarray:
        if col not in history.columns:
            return np.zeros(len(history), dtype=bool)
        return history[col].astype("boolean").fillna(False).to_numpy(dtype=bool)

    return np.select([flag("approved"), flag("applied"), flag("clicked")], [3, 2, 1], 0).astype(np.int64)


def time_split(dates: pd.Series, fractions: Sequence[float] = (0.7, 0.15, 0.15)) -> pd.Series:
    """Label every row train/valid/test by its date: consecutive blocks of the distinct dates, in order."""
    d = pd.to_datetime(dates).dt.normalize()
    distinct = np.sort(d.dropna().unique())
    n = len(distinct)
    if n < 3:
        raise ValueError(f"need at least 3 distinct push dates for a train/valid/test split, found {n}")
    f = np.asarray(fractions, dtype=float) / np.sum(fractions)
    n_test = max(1, round(n * f[2]))
    n_valid = max(1, round(n * f[1]))
    n_train = n - n_test - n_valid
    if n_train < 1:
        raise ValueError(f"{n} push dates are too few for the split {tuple(fractions)}")
    label = np.empty(n, dtype=object)
    label[:n_train], label[n_train : n_train + n_valid], label[n_train + n_valid :] = SPLITS
    return pd.Series(pd.Categorical(d.map(dict(zip(distinct, label))), categories=list(SPLITS)), index=dates.index)


@dataclass
class TrainingData:
    """Feature rows sorted by (split, date, uscc), with labels, keys and provenance."""

    features: pd.DataFrame
    frame: pd.DataFrame  # uscc, policy_id, date, split, relevance, verdict, unknown, district_code, …
    window: dict[str, Any]
    book_version: str | None = None
    catalogue: list[str] = field(default_factory=list)
    builder: PairFeatureBuilder | None = None
    population: pd.DataFrame | None = None  # _snap, uscc, policy_id, verdict, unknown, specificity columns
    profile: pd.DataFrame | None = None
    policies: pd.DataFrame | None = None
    snapshots: pd.DataFrame | None = None  # date, uscc, _snap of every push group

    def candidate_lists(self, split: str = "test") -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every candidate of every (enterprise, push date) group of ``split``, not only the pushed ones.

        What the daily job would rank: the population of the group's snapshot for that enterprise, minus
        免申即享 pairs (mode auto and eligible: granted, never pushed).  Returns (features, frame) sorted
        by (date, uscc); no outcome is observed for unpushed pairs, so these lists are evaluated against
        the synthetic city's latent truth.
        """
        if self.population is None or self.snapshots is None or self.builder is None:
            raise ValueError("this TrainingData keeps no candidate population")
        groups = self.snapshots.loc[self.snapshots["split"] == split, ["date", "uscc", "_snap"]].drop_duplicates()
        rows = groups.merge(self.population, on=["_snap", "uscc"], how="inner").drop(columns="_snap")
        rows = rows.sort_values(["date", "uscc", "policy_id"], kind="stable").reset_index(drop=True)
        pairs = assemble_pairs(rows, self.profile, self.policies)
        auto = (pairs["mode"].astype("string") == "auto") & (pairs["verdict"].astype("string") == "eligible")
        pairs = pairs.loc[~auto.fillna(False).to_numpy()].reset_index(drop=True)
        feats = self.builder.transform(pairs)
        keep = ["uscc", "policy_id", "date", "verdict", "unknown", "district_code", "mode"]
        return feats, pairs[[c for c in keep if c in pairs.columns]].copy()

    def part(self, split: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
        """(features, labels, group sizes, frame) of one split; rows contiguous per group."""
        mask = (self.frame["split"] == split).to_numpy()
        fr = self.frame.loc[mask].reset_index(drop=True)
        groups = fr.groupby(["date", "uscc"], sort=False).size().to_numpy()
        return (self.features.loc[mask].reset_index(drop=True), fr["relevance"].to_numpy(), groups, fr)


def _windows(frame: pd.DataFrame) -> dict[str, Any]:
    w: dict[str, Any] = {}
    for s in SPLITS:
        d = frame.loc[frame["split"] == s, "date"]
        w[f"{s}_from"] = d.min().date().isoformat() if len(d) else None
        w[f"{s}_to"] = d.max().date().isoformat() if len(d) else None
        w[f"{s}_rows"] = int(len(d))
    return w


def build_pair_dataset(
    pushes: pd.DataFrame,
    population: pd.DataFrame,
    profile: pd.DataFrame,
    policies: pd.DataFrame,
    history: pd.DataFrame,
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    book_version: str | None = None,
    snapshot_of: Mapping[pd.Timestamp, pd.Timestamp] | None = None,
) -> TrainingData:
    """Training rows from pushes, with targeting statistics from the whole candidate population.

    ``pushes``: the pushed pairs (``date, uscc, policy_id`` + outcome flags) — the rows to learn from.
    ``population``: every candidate pair per date (``date, uscc, policy_id, verdict, unknown``), as the
    eligibility engine saw it; its specificity statistics and verdicts are joined onto the pushes (a push
    with no candidate row keeps an unknown verdict).  ``history``: the push history the as-of features
    read (normally ``pushes`` itself).  ``snapshot_of`` maps a push date to the date of the population it
    belongs to when the population is stored once per snapshot (identical days collapsed) rather than
    per day.  Pure function of its inputs: same inputs → same rows and features.
    """
    need = [c for c in ("date", "uscc", "policy_id") if c not in pushes.columns]
    if need:
        raise InputError(f"push history: missing column(s) {', '.join(need)}")
    p = pushes.copy()
    p["date"] = pd.to_datetime(p["date"]).dt.normalize().astype("datetime64[ns]")
    p["uscc"] = p["uscc"].astype("string")
    p["policy_id"] = p["policy_id"].astype("string")
    p["relevance"] = relevance(p)
    p["split"] = time_split(p["date"], fractions)
    keys = ["date", "uscc", "policy_id"]
    dup = p.duplicated(keys, keep="first")
    if dup.any():
        # the same policy pushed twice to the same enterprise on one day: keep the best outcome
        p = p.sort_values("relevance", ascending=False, kind="stable").drop_duplicates(keys).sort_index()
    pop = population.copy()
    pop["date"] = pd.to_datetime(pop["date"]).dt.normalize().astype("datetime64[ns]")
    pop["uscc"] = pop["uscc"].astype("string")
    pop["policy_id"] = pop["policy_id"].astype("string")
    pop = pop.drop_duplicates(keys).reset_index(drop=True)
    pop_pairs = assemble_pairs(pop, profile, policies)
    spec = specificity(pop_pairs)
    pop_small = pd.concat([pop[keys + [c for c in ("verdict", "unknown") if c in pop.columns]],
                           spec], axis=1)
    drop = [c for c in ("verdict", "unknown", "mode") if c in p.columns]
    p["_snap"] = p["date"].map(snapshot_of).astype("datetime64[ns]") if snapshot_of is not None else p["date"]
    pop_small = pop_small.rename(columns={"date": "_snap"})
    rows = p.drop(columns=drop).merge(pop_small, on=["_snap", "uscc", "policy_id"], how="left",
                                      validate="many_to_one", indicator=True)
    unmatched = int((rows["_merge"] == "left_only").sum())
    rows = rows.drop(columns=["_merge", "_snap"])
    rows = rows.sort_values(["split", "date", "uscc", "policy_id"], kind="stable").reset_index(drop=True)
    pairs = assemble_pairs(rows, profile, policies)
    builder = PairFeatureBuilder().fit(pairs, history=history, profile=profile, policies=policies)
    feats = builder.transform(pairs)
    frame_cols = ["uscc", "policy_id", "date", "split", "relevance"] + [
        c for c in ("verdict", "unknown", "district_code", "industry_division", "size_class", "mode", "rank")
        if c in pairs.columns
    ]
    frame = pairs[frame_cols].copy()
    window = _windows(frame)
    window.update(unmatched_pushes=unmatched, duplicate_pushes_merged=int(dup.sum()), pushes=int(len(p)),
                  population_pairs=int(len(pop)))
    frame_snap = rows[["date", "uscc", "split"]].assign(_snap=p.set_index(keys).loc[
        pd.MultiIndex.from_frame(rows[keys]), "_snap"].to_numpy())
    return TrainingData(feats, frame, window, book_version, sorted(policies["policy_id"].astype(str).unique()),
                        builder, population=pop_small, profile=profile, policies=policies,
                        snapshots=frame_snap.drop_duplicates(["date", "uscc"]).reset_index(drop=True))


def _active_sets(dates: np.ndarray, policies: pd.DataFrame) -> dict[pd.Timestamp, list[pd.Timestamp]]:
    """Group push dates by the set of policies in force, so eligibility runs once per distinct set."""
    vf = pd.to_datetime(policies["valid_from"]).to_numpy() if "valid_from" in policies else None
    vt = pd.to_datetime(policies["valid_to"]).to_numpy() if "valid_to" in policies else None
    sets: dict[bytes, list[pd.Timestamp]] = {}
    for d in np.sort(np.unique(dates)):
        active = np.ones(len(policies), dtype=bool)
        if vf is not None:
            active &= ~(vf > d)
        if vt is not None:
            active &= ~(vt < d)
        sets.setdefault(np.packbits(active).tobytes(), []).append(pd.Timestamp(d))
    return {ds[0]: ds for ds in sets.values()}


def read_history(data_dir: str | os.PathLike, encoding: str | None = None) -> pd.DataFrame:
    path = Path(data_dir) / DATA_FILES["push_history"]
    if not path.exists():
        raise InputError(f"{path}: no push history — a ranker learns from past pushes (use RuleScorer until then)")
    h = read_table(path, text_columns=["uscc", "policy_id", "mode"], encoding=encoding)
    missing = [c for c in PUSH_HISTORY_COLUMNS if c not in h.columns and c not in ("rank", "score")]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    bad = pd.to_datetime(h["date"], errors="coerce").isna()
    if bad.any():
        raise InputError(f"{path}: row {int(np.flatnonzero(bad.to_numpy())[0]) + 1}: unreadable date")
    return h


def build_training_data(
    data_dir: str | os.PathLike,
    *,
    as_of: dt.date | str | None = None,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    encoding: str | None = None,
) -> TrainingData:
    """Everything a ranker learns from, built from a data directory (``enterprises.csv``, ``policies/``,
    ``push_history.parquet``).

    The enterprise table is a snapshot: it is profiled once at ``as_of`` (default: the last push date)
    and date-dependent fields (age, days to deadline, policy age) are recomputed per push date.  The
    candidate population of each push date is the eligibility engine's output over the whole profile with
    the policies in force that day (computed once per distinct set of policies in force).  ``encoding``: the
    CSV tables' (default: UTF-8 or GB18030/GBK detected per file).
    """
    from quanhuiqi.eligibility import evaluate as eligibility
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile as build_profile
    from quanhuiqi.tables import read_enterprises, validate_enterprises

    data_dir = Path(data_dir)
    history = read_history(data_dir, encoding)
    dates = pd.to_datetime(history["date"]).dt.normalize()
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else dates.max()
    future = dates > as_of_ts
    if future.any():
        history = history.loc[~future.to_numpy()].reset_index(drop=True)
        dates = dates.loc[~future].reset_index(drop=True)
    book = load_book(data_dir / DATA_FILES["policies"])
    raw = read_enterprises(data_dir / DATA_FILES["enterprises"], encoding)
    clean = validate_enterprises(raw, as_of_ts.date(), source=DATA_FILES["enterprises"]).clean
    prof = build_profile(clean, as_of_ts.date())
    policies = policy_frame(book)
    parts, snapshot_of = [], {}
    for rep, ds in _active_sets(dates.to_numpy(), policies).items():
        pairs = eligibility(book, prof, rep.date(), near_misses=False, evidence=False).pairs
        base = pairs[["uscc", "policy_id"] + [c for c in ("verdict", "unknown") if c in pairs.columns]]
        parts.append(base.assign(date=rep))
        snapshot_of.update(dict.fromkeys(ds, rep))
    population = pd.concat(parts, ignore_index=True)
    data = build_pair_dataset(history, population, prof, policies, history, fractions=fractions,
                              book_version=getattr(book, "version", None), snapshot_of=snapshot_of)
    data.window["as_of"] = as_of_ts.date().isoformat()
    data.window["data_dir"] = data_dir.name
    return data


@dataclass
class TrainResult:
    ranker: LambdaRanker
    report: pd.DataFrame
    test_scores: dict[str, np.ndarray]
    data: TrainingData
    oracle: bool
    truth_report: pd.DataFrame | None = None  # full candidate lists vs latent expected relevance
    exploration_report: pd.DataFrame | None = None  # pushed lists chosen at random by the old platform
    firm_effects: dict[str, Any] | None = None  # the tuning of tune_firm_effects (None: not tried)

    @property
    def full_report(self) -> pd.DataFrame:
        """Both views in one table (index: view, ranker) — what is logged as the evaluation report."""
        views = {"observed_pushed_lists": self.report}
        if self.exploration_report is not None:
            views["observed_exploration_lists"] = self.exploration_report
        if self.truth_report is not None:
            views["truth_full_lists"] = self.truth_report
        return pd.concat(views, names=["view", "ranker"])

    @property
    def metrics(self) -> dict[str, float]:
        """Flat metrics for MLflow: ``test.<ranker>.<metric>`` plus the headline ratios."""
        out: dict[str, float] = {}
        for name, row in self.report.iterrows():
            for k, v in row.items():
                if isinstance(v, int | float | np.floating) and np.isfinite(v):
                    out[f"test.{name}.{k}"] = float(v)
        for prefix, rep in (("truth", self.truth_report), ("explore", self.exploration_report)):
            if rep is None:
                continue
            for name, row in rep.iterrows():
                for k, v in row.items():
                    if isinstance(v, int | float | np.floating) and np.isfinite(v):
                        out[f"{prefix}.{name}.{k}"] = float(v)
        out.update(self.targets)
        out["best_iteration"] = float(self.ranker.best_iteration_)
        for k, v in (self.firm_effects or {}).items():
            if isinstance(v, int | float) and np.isfinite(v):
                out[f"firm_effects.{k}"] = float(v)
        return out

    @property
    def targets(self) -> dict[str, float]:
        r = self.report
        t = {"ndcg5_model_over_rule": float(r.loc["model", "ndcg@5"] / r.loc["rule", "ndcg@5"]),
             "ndcg5_model_over_popularity": float(r.loc["model", "ndcg@5"] / r.loc["popularity", "ndcg@5"])}
        if "oracle" in r.index:
            t["ndcg5_model_over_oracle"] = float(r.loc["model", "ndcg@5"] / r.loc["oracle", "ndcg@5"])
        if self.truth_report is not None:
            tr = self.truth_report
            t["truth_ndcg5_model_over_rule"] = float(tr.loc["model", "ndcg@5"] / tr.loc["rule", "ndcg@5"])
            t["truth_ndcg5_model_over_popularity"] = float(tr.loc["model", "ndcg@5"] / tr.loc["popularity", "ndcg@5"])
            t["truth_ndcg5_model_over_oracle"] = float(tr.loc["model", "ndcg@5"] / tr.loc["oracle", "ndcg@5"])
        if self.exploration_report is not None:
            er = self.exploration_report
            t["explore_ndcg5_model_over_rule"] = float(er.loc["model", "ndcg@5"] / er.loc["rule", "ndcg@5"])
            if "oracle" in er.index:
                t["explore_ndcg5_model_over_oracle"] = float(er.loc["model", "ndcg@5"] / er.loc["oracle", "ndcg@5"])
        return t


FIRM_EFFECT_TAUS = (0.2, 0.3, 0.5, 0.8)
FIRM_EFFECT_WEIGHTS = (0.25, 0.5, 1.0, 1.5)


def tune_firm_effects(
    ranker: LambdaRanker,
    data: TrainingData,
    *,
    taus: Sequence[float] = FIRM_EFFECT_TAUS,
    weights: Sequence[float] = FIRM_EFFECT_WEIGHTS,
    k: int = 5,
) -> dict[str, Any]:
    """Choose the firm effects' prior sd ``tau`` and their ``weight`` in the ranker's score on the
    validation window: effects fitted on the pushes before it, NDCG@k of its pushed lists (observed
    outcomes).  Weight 0 (no effects) wins unless an effect does strictly better.  Returns
    ``tau, weight, valid_ndcg, valid_ndcg_without``; a grid of 16 cheap fits (a fit is one Newton solve
    over the history, no retraining)."""
    Xv, _, _, fv = data.part("valid")
    if len(Xv) == 0:
        return {"tau": float("nan"), "weight": 0.0, "valid_ndcg": float("nan"), "valid_ndcg_without": float("nan")}
    base = ranker.predict(Xv)  # the booster alone: the frame carries no firm_effect column
    metric = f"ndcg@{k}"
    without = float(evaluate(fv, {"m": base}, ks=(k,)).loc["m", metric])
    best = {"tau": float("nan"), "weight": 0.0, "valid_ndcg": without, "valid_ndcg_without": without}
    valid_from = pd.Timestamp(fv["date"].min())
    for tau in taus:
        eta = FirmEffects(tau).fit(data.frame, data.policies, before=valid_from).effect(fv, data.policies)
        scores = {str(w): base + w * eta for w in weights}
        rep = evaluate(fv, scores, ks=(k,))
        for w in weights:
            v = float(rep.loc[str(w), metric])
            if v > best["valid_ndcg"] + 1e-12:
                best.update(tau=float(tau), weight=float(w), valid_ndcg=v)
    return best


def firm_effects_before(ranker: LambdaRanker, data: TrainingData, before: pd.Timestamp) -> FirmEffects | None:
    """The effects the ranker's builder would fit on a day ``before`` (the pushes before it); None when
    the ranker uses no effects."""
    tau = None if ranker.builder is None else ranker.builder.firm_effect_tau
    if tau is None or not ranker.firm_effect_weight:
        return None
    return FirmEffects(tau).fit(data.frame, data.policies, before=before)


def with_firm_effects(ranker: LambdaRanker, data: TrainingData, features: pd.DataFrame, frame: pd.DataFrame,
                      effects: FirmEffects | None = None) -> pd.DataFrame:
    """``features`` with the ``firm_effect`` column the ranker's builder would add on the first day of
    ``frame`` (``effects``, else fitted on the pushes before that day); unchanged when the ranker uses no
    effects."""
    if len(frame) == 0:
        return features
    if effects is None:
        effects = firm_effects_before(ranker, data, pd.Timestamp(pd.to_datetime(frame["date"]).min()))
        if effects is None:
            return features
    return features.assign(**{FIRM_EFFECT: effects.effect(frame, data.policies)})


def train_ranker(
    data: TrainingData,
    *,
    threads: int | None = None,
    params: Mapping[str, Any] | None = None,
    num_boost_round: int = 300,
    early_stopping_rounds: int = 50,
    truth: RelevanceOracle | None = None,
    ks: Sequence[int] = (1, 3, 5, 10),
    firm_effects: bool = True,
) -> TrainResult:
    """Fit lambdarank on the train window (early stopping on the valid window) and compare on the test
    window with the rule scorer, the popularity baseline and — when a ``truth`` is given (a synthetic
    city's :class:`quanhuiqi.synth.truth.PolicyTruth`) — the oracle, on the pushed lists, on the whole
    candidate lists graded by the truth, and on the exploration pushes.

    ``firm_effects``: also tune per-enterprise effects on the validation window
    (:func:`tune_firm_effects`); when they help, the ranker adds them to its score (its builder gets the
    chosen ``firm_effect_tau``) and the reports carry the model without them as ``model_global``."""
    X, y, g, _ = data.part("train")
    Xv, yv, gv, _ = data.part("valid")
    Xt, _, _, ft = data.part("test")
    if len(X) == 0 or len(Xt) == 0:
        raise ValueError("empty train or test window")
    ranker = LambdaRanker(params=params, num_boost_round=num_boost_round,
                          early_stopping_rounds=early_stopping_rounds, threads=threads, builder=data.builder)
    ranker.fit(X, y, g, Xv, yv, gv)
    tuning = tune_firm_effects(ranker, data) if firm_effects else None
    global_scores = {}
    if tuning is not None and tuning["weight"] > 0:
        global_scores["model_global"] = ranker.predict(Xt)
        ranker.builder = PairFeatureBuilder(**dict(data.builder.config() if data.builder is not None else {},
                                                   firm_effect_tau=tuning["tau"]))
        ranker.firm_effect_weight = tuning["weight"]
    # one fit of the effects for the test window (its pushed lists and its full candidate lists alike)
    test_effects = firm_effects_before(ranker, data, pd.Timestamp(ft["date"].min()))
    scores = {
        "model": ranker.predict(with_firm_effects(ranker, data, Xt, ft, test_effects)),
        **global_scores,
        "rule": RuleScorer().score_features(Xt),
        "popularity": PopularityScorer().score_features(Xt),
    }
    has_oracle = truth is not None
    truth_report = None
    if truth is not None:
        scores["oracle"] = truth.expected_relevance(ft)
        # the whole candidate list of each test group, graded by the latent expected relevance
        fl, fr = data.candidate_lists("test")
        fr["relevance"] = truth.expected_relevance(fr)
        full = {"model": ranker.predict(with_firm_effects(ranker, data, fl, fr, test_effects))}
        if global_scores:
            full["model_global"] = ranker.predict(fl)
        full.update({"rule": RuleScorer().score_features(fl), "popularity": PopularityScorer().score_features(fl),
                     "oracle": fr["relevance"].to_numpy()})
        truth_report = evaluate(fr, full, ks=ks, catalogue=data.catalogue, relevant_from=1)
    report = evaluate(ft, scores, ks=ks, catalogue=data.catalogue)
    explore = truth.exploration_mask(ft) if truth is not None else None
    exploration_report = None
    if explore is not None and explore.any():
        sub = ft.loc[explore].reset_index(drop=True)
        exploration_report = evaluate(sub, {k: np.asarray(v)[explore] for k, v in scores.items()}, ks=ks,
                                      catalogue=data.catalogue)
    return TrainResult(ranker, report, scores, data, has_oracle, truth_report, exploration_report, tuning)


def explain(ranker: Any, features: pd.DataFrame, unknown: pd.Series | None = None, top: int = 3) -> pd.Series:
    """Chinese reason sentences for scored rows (top feature contributions, plus the facts to supply)."""
    return ranker.explain_features(features, unknown=unknown, top=top)


def summary_text(result: TrainResult, logged: Mapping[str, str] | None = None) -> str:
    cols = [c for c in ("ndcg@5", "map@5", "recall@5", "mrr", "coverage@10", "gini_policy@10") if c in result.report]
    lines = [
        "ranker trained: " + json.dumps(result.data.window, ensure_ascii=False),
        f"best iteration {result.ranker.best_iteration_}, {len(FEATURES)} features",
        *([] if not result.firm_effects else [
            "firm effects (chosen on the validation window): "
            + ", ".join(f"{k}={v:.4g}" for k, v in result.firm_effects.items())]),
        "test window, pushed lists, observed outcomes:",
        result.report[cols].round(4).to_string(),
        *([] if result.exploration_report is None else [
            "test window, exploration pushes only (lists the old rule did not choose), observed outcomes:",
            result.exploration_report[cols].round(4).to_string()]),
        *([] if result.truth_report is None else [
            "test window, full candidate lists, latent expected relevance (synthetic truth) — the issue's target:",
            result.truth_report[cols].round(4).to_string()]),
        "targets: " + ", ".join(f"{k}={v:.3f}" for k, v in result.targets.items()),
    ]
    for k, v in (logged or {}).items():
        lines.append(f"{k}: {v}")
    return "\n".join(lines)


def train_ranker_cli(
    data_dir: str | os.PathLike,
    register: str | None = None,
    alias: str | None = None,
    threads: int | None = None,
    params: Mapping[str, Any] | None = None,
    firm_effects: bool = True,
    truth: RelevanceOracle | None = None,
    encoding: str | None = None,
) -> str:
    """``quanhuiqi train ranker``: build, train, compare, log to MLflow, optionally register and alias.
    ``params`` override the LightGBM defaults (only their keys: a typo is refused, not ignored);
    ``firm_effects=False`` keeps the booster alone (no per-enterprise effects tuned); ``truth`` (a
    synthetic city's :class:`~quanhuiqi.synth.truth.PolicyTruth`, which the CLI passes when the
    directory has ``truth/``) adds the oracle and the truth-graded reports."""
    from quanhuiqi import registry

    if alias and not register:
        raise InputError("--alias needs --register NAME (an alias points at a registered version)")
    check_params(params, DEFAULT_PARAMS)
    data = build_training_data(data_dir, encoding=encoding)
    result = train_ranker(data, threads=threads, params=params, truth=truth, firm_effects=firm_effects)
    run = registry.log_ranker(
        result.ranker,
        metrics=result.metrics,
        report=result.full_report,
        data_window=data.window,
        book_version=data.book_version,
        run_name="ranker",
    )
    logged = {"run_id": run.run_id, "model_uri": run.model_uri, "tracking_uri": run.tracking_uri}
    if register:
        version = registry.register(run.model_uri, register)
        logged["registered"] = f"{register} v{version}"
        if alias:
            registry.set_alias(register, alias, version)
            logged["alias"] = f"{register}@{alias} -> v{version}"
    return summary_text(result, logged)


__all__ = [
    "SPECIFICITY_FEATURES",
    "RelevanceOracle",
    "TrainResult",
    "TrainingData",
    "build_pair_dataset",
    "build_training_data",
    "explain",
    "relevance",
    "time_split",
    "train_ranker",
    "train_ranker_cli",
    "tune_firm_effects",
    "with_firm_effects",
]
