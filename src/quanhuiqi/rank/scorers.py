"""The rankers the daily job can call: a transparent rule score, a popularity baseline, LightGBM lambdarank.

All three share one interface::

    scorer.score(candidates, profile, book, as_of, history=None, population=None) -> np.ndarray
    scorer.reasons(candidates, profile, book, as_of, history=None, population=None) -> pd.Series  # Chinese

``candidates`` are the day's eligibility pairs to rank — the whole set, or some of its rows with the whole
set as ``population`` (targeting statistics are computed from the population, features only for the
candidates),
``book`` a policy book (its ``.policies`` frame) or that frame itself, ``history`` the push history up to
``as_of`` (used strictly before ``as_of``; without it, uptake and engagement features are unknown).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.boosting import threads
from quanhuiqi.rank.columns import CATEGORICAL_FEATURES, FEATURES, FIRM_EFFECT
from quanhuiqi.rank.evaluation import ranks_within_groups
from quanhuiqi.rank.explain import reason_sentences, reason_texts, with_missing_facts
from quanhuiqi.rank.features import PairFeatureBuilder
from quanhuiqi.rank.pairs import assemble_pairs, policy_frame


class PairScorer:
    """Shared plumbing: candidates → pair frame → features → scores and reasons."""

    name = "scorer"
    builder: PairFeatureBuilder | None = None

    def features(
        self,
        candidates: pd.DataFrame,
        profile: pd.DataFrame,
        book: Any,
        as_of: dt.date | str,
        history: pd.DataFrame | None = None,
        population: pd.DataFrame | None = None,
        city: Any = None,
    ) -> pd.DataFrame:
        """Feature rows of ``candidates``, in order.

        ``population``: the whole candidate set of the day (``uscc``, ``policy_id`` [, ``date``],
        string or categorical columns; ``candidates`` are some of its rows) — the targeting statistics
        (reach, lifts, overlaps) and vocabularies are fitted on it, only ``candidates`` are
        transformed, so a shortlist gets exactly the feature values it would have as rows of the
        whole set.  None: ``candidates`` are the population (the whole set).  ``city``: the day's
        :class:`~quanhuiqi.rank.city.CityStatistics` instead (``population`` is then not read, and
        ``history`` need only hold the candidates' enterprises' pushes)."""
        # score() then reasons() on the same inputs (the daily job's pattern) build the features once
        # (the inputs themselves are held, so an identity match cannot be a recycled id)
        key = (candidates, profile, book, history, population, city)
        meta = (str(as_of), len(candidates), None if population is None else len(population))
        cached = getattr(self, "_last_features", None)
        if (
            cached is not None
            and len(cached[0]) == len(key)
            and all(a is b for a, b in zip(cached[0], key))
            and cached[1] == meta
        ):
            return cached[2]
        policies = policy_frame(book)
        pairs = assemble_pairs(candidates, profile, policies, as_of, only_features=True)
        fitted = self.fit_builder(pairs if population is None else population, profile, policies, as_of, history,
                                  city=city)
        feats = fitted.transform(pairs)
        self._last_features = (key, meta, feats)
        return feats

    def fit_builder(self, population: pd.DataFrame | None, profile: pd.DataFrame, policies: pd.DataFrame,
                    as_of: dt.date | str, history: pd.DataFrame | None = None,
                    city: Any = None) -> PairFeatureBuilder:
        """A fresh feature builder with this scorer's parameters, its statistics fitted on ``population``
        (or read from the city's statistics ``city``)."""
        template = self.builder if self.builder is not None else PairFeatureBuilder()
        return PairFeatureBuilder(**template.get_params()).fit(population, history=history, profile=profile,
                                                               policies=policies, as_of=as_of, city=city)

    def score_features(self, features: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def contributions(self, features: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(
        self,
        candidates: pd.DataFrame,
        profile: pd.DataFrame,
        book: Any,
        as_of: dt.date | str,
        history: pd.DataFrame | None = None,
        population: pd.DataFrame | None = None,
        city: Any = None,
    ) -> np.ndarray:
        return self.score_features(self.features(candidates, profile, book, as_of, history, population=population,
                                                 city=city))

    def reasons(
        self,
        candidates: pd.DataFrame,
        profile: pd.DataFrame,
        book: Any,
        as_of: dt.date | str,
        history: pd.DataFrame | None = None,
        top: int = 3,
        population: pd.DataFrame | None = None,
        city: Any = None,
    ) -> pd.Series:
        feats = self.features(candidates, profile, book, as_of, history, population=population, city=city)
        return self.explain_features(feats, unknown=candidates.get("unknown"), top=top)

    def explain_features(self, features: pd.DataFrame, unknown: pd.Series | None = None, top: int = 3) -> pd.Series:
        """Chinese reason sentences for feature rows (top positive contributions, plus missing facts)."""
        return with_missing_facts(reason_sentences(self.contributions(features), features, top=top), unknown)

    # -- the same on a bare matrix: an online call scores a handful of rows ----------------------
    def score_matrix(self, values: np.ndarray, names: list[str]) -> np.ndarray:
        """:meth:`score_features` of a (rows × ``names``) float matrix."""
        return np.asarray(self.score_features(pd.DataFrame(values, columns=names, copy=False)), dtype="float64")

    def contribution_matrix(self, values: np.ndarray, names: list[str]) -> np.ndarray:
        """:meth:`contributions` of a (rows × ``names``) float matrix."""
        return self.contributions(pd.DataFrame(values, columns=names, copy=False))

    def explain_matrix(self, values: np.ndarray, names: list[str], unknown: list | None = None,
                       top: int = 3) -> list[str]:
        """:meth:`explain_features` of a matrix: the same sentences, built row by row."""
        if len(values) == 0:
            return []
        return reason_texts(self.contribution_matrix(values, names), values, names, unknown, top=top)


class RuleScorer(PairScorer):
    """Day one, no model: a weighted sum of readable terms, each one a reason.

    score = Σ weight × term, with terms (missing = 0): eligible (1/0), missing facts (count), benefit for
    this enterprise (log 万元), the policy explicitly targeting its industry / certification / chain /
    district, deadline urgency (1 at the deadline, 0 from 60 days out), instant mode, targeting lift of the
    enterprise's industry / district / size (log, clipped), chain and tag overlap, and the policy's reach
    (broad policies rank lower).  The weights are parameters, so a city can tune them without training.
    """

    name = "rule"
    DEFAULT_WEIGHTS: Mapping[str, float] = {
        "is_eligible": 2.0,
        "n_unknown": -0.5,
        "log_amount_est": 0.3,
        "days_to_deadline": 1.0,
        "mode": 0.3,
        "lift_industry": 0.8,
        "lift_district": 0.4,
        "lift_size": 0.4,
        "chain_overlap": 1.0,
        "tag_overlap": 0.5,
        "industry_match": 0.8,
        "cert_match": 0.8,
        "chain_match": 0.6,
        "district_match": 0.4,
        "policy_reach": -0.5,
    }

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = dict(self.DEFAULT_WEIGHTS if weights is None else weights)
        unknown = set(self.weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"RuleScorer: unknown feature(s) in weights: {', '.join(sorted(unknown))}")

    @staticmethod
    def terms(features: pd.DataFrame) -> pd.DataFrame:
        """Each feature as the rule's term (0 where unknown)."""
        return pd.DataFrame(RuleScorer._term_matrix(features), index=features.index, columns=features.columns)

    @staticmethod
    def _term_matrix(features: pd.DataFrame | np.ndarray, names: list[str] | None = None) -> np.ndarray:
        """:meth:`terms` as one float matrix, built in numpy (an online call scores a handful of rows,
        where a column-by-column frame costs more than the arithmetic); a bare matrix with its ``names``."""
        if isinstance(features, pd.DataFrame):
            names = list(features.columns)
            t = np.array([features[c].to_numpy(dtype=float) for c in names]).T.reshape(len(features), -1)
        else:
            t = np.array(features, dtype=float, copy=True).reshape(len(features), -1)
        at = {c: i for i, c in enumerate(names)}
        days = t[:, at["days_to_deadline"]].copy()
        with np.errstate(invalid="ignore"):
            t[:, at["days_to_deadline"]] = np.where(days >= 0, np.clip(1.0 - days / 60.0, 0.0, 1.0), 0.0)
            t[:, at["mode"]] = (t[:, at["mode"]] == 1.0).astype(float)
        for col in ("lift_industry", "lift_district", "lift_size"):
            with np.errstate(divide="ignore", invalid="ignore"):
                t[:, at[col]] = np.clip(np.log(t[:, at[col]]), -1.0, 2.0)
        t[~np.isfinite(t)] = 0.0
        return t

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        w = np.array([self.weights.get(c, 0.0) for c in features.columns])
        return self._term_matrix(features) * w

    def score_features(self, features: pd.DataFrame) -> np.ndarray:
        return self.contributions(features).sum(axis=1)

    def contribution_matrix(self, values: np.ndarray, names: list[str]) -> np.ndarray:
        return self._term_matrix(values, names) * np.array([self.weights.get(c, 0.0) for c in names])

    def score_matrix(self, values: np.ndarray, names: list[str]) -> np.ndarray:
        return self.contribution_matrix(values, names).sum(axis=1)


class PopularityScorer(PairScorer):
    """Baseline: the policy's smoothed application rate (and click rate) before the push date."""

    name = "popularity"

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        c = np.zeros(features.shape)
        cols = list(features.columns)
        c[:, cols.index("policy_apply_rate")] = np.nan_to_num(features["policy_apply_rate"].to_numpy(dtype=float))
        c[:, cols.index("policy_click_rate")] = 0.1 * np.nan_to_num(
            features["policy_click_rate"].to_numpy(dtype=float)
        )
        return c

    def score_features(self, features: pd.DataFrame) -> np.ndarray:
        return self.contributions(features).sum(axis=1)


DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [5],
    "learning_rate": 0.03,
    "num_leaves": 31,
    "max_depth": 7,  # shallow trees keep pred_contrib (the reasons) cheap
    "min_data_in_leaf": 50,
    "feature_fraction": 0.7,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "max_bin": 255,
    "lambdarank_truncation_level": 10,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 0,
    "verbose": -1,
}


class LambdaRanker(PairScorer):
    """LightGBM lambdarank over the pair features, deterministic for a fixed seed and thread count.

    ``fit`` takes feature frames, graded labels and group sizes (rows sorted by group), stops early on
    the validation window's NDCG@5, and keeps the booster (``booster_``).  ``predict`` refuses a frame
    whose columns are not exactly the trained feature list, in order.
    """

    name = "model"

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        num_boost_round: int = 300,
        early_stopping_rounds: int = 50,
        threads: int | None = None,
        builder: PairFeatureBuilder | None = None,
        firm_effect_weight: float = 0.0,
    ) -> None:
        self.params = dict(DEFAULT_PARAMS, **(params or {}))
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.threads = threads
        self.builder = builder
        self.firm_effect_weight = float(firm_effect_weight)

    def lgb_params(self) -> dict[str, Any]:
        return dict(self.params, num_threads=threads(self.threads))

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        group: Sequence[int],
        X_valid: pd.DataFrame | None = None,
        y_valid: np.ndarray | None = None,
        group_valid: Sequence[int] | None = None,
    ) -> LambdaRanker:
        import lightgbm as lgb

        if int(np.sum(group)) != len(X):
            raise ValueError(f"group sizes sum to {int(np.sum(group))}, but there are {len(X)} rows")
        cats = [c for c in CATEGORICAL_FEATURES if c in X.columns]
        params = self.lgb_params()
        train = lgb.Dataset(X, label=np.asarray(y, dtype=float), group=group, categorical_feature=cats,
                            free_raw_data=True, params={"max_bin": params["max_bin"]})
        callbacks = []
        valid_sets = []
        if X_valid is not None and len(X_valid):
            valid = lgb.Dataset(X_valid, label=np.asarray(y_valid, dtype=float), group=group_valid, reference=train,
                                categorical_feature=cats)
            valid_sets = [valid]
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False))
        self.__dict__.pop("_tables", None)  # reason tables of an earlier booster
        self.booster_ = lgb.train(params, train, num_boost_round=self.num_boost_round, valid_sets=valid_sets,
                                  valid_names=["valid"] * len(valid_sets), callbacks=callbacks)
        best = int(self.booster_.best_iteration or 0)
        self.best_iteration_ = best if best > 0 else int(self.booster_.current_iteration())
        self.feature_names_ = list(X.columns)
        self.best_score_ = {k: dict(v) for k, v in (self.booster_.best_score or {}).items()}
        return self

    @classmethod
    def from_booster(cls, booster: Any, builder: PairFeatureBuilder | None = None, threads: int | None = None,
                     firm_effect_weight: float = 0.0) -> LambdaRanker:
        """A ranker around an existing booster (e.g. loaded from the registry)."""
        r = cls(threads=threads, builder=builder, firm_effect_weight=firm_effect_weight)
        r.booster_ = booster
        r.feature_names_ = list(booster.feature_name())
        best = int(booster.best_iteration or 0)
        r.best_iteration_ = best if best > 0 else int(booster.current_iteration())
        return r

    def _split(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None]:
        """(the model's features, the per-enterprise effect) of a builder's frame.

        A frame with a trailing ``firm_effect`` column (a builder with ``firm_effect_tau``) gives it back
        separately; the rest must be the trained feature list, in order."""
        if list(X.columns[-1:]) == [FIRM_EFFECT] and FIRM_EFFECT not in self.feature_names_:
            eta = X[FIRM_EFFECT].to_numpy(dtype=float)
            X = X.iloc[:, :-1]
        else:
            eta = None
        self.check_features(X)
        return X, eta

    def check_features(self, X: pd.DataFrame) -> None:
        names = list(X.columns)
        if names != self.feature_names_:
            missing = [c for c in self.feature_names_ if c not in names]
            extra = [c for c in names if c not in self.feature_names_]
            detail = (f"missing {missing}" if missing else "") + (f" unexpected {extra}" if extra else "")
            raise ValueError(
                "features do not match the model's signature: " + (detail.strip() or "same names, different order")
            )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's score, plus ``firm_effect_weight`` × the pair's ``firm_effect`` when ``X`` has one."""
        X, eta = self._split(X)
        score = self.booster_.predict(X, num_iteration=self.best_iteration_, num_threads=threads(self.threads))
        if eta is not None and self.firm_effect_weight:
            score = score + self.firm_effect_weight * np.nan_to_num(eta)
        return score

    score_features = predict

    def _split_matrix(self, values: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`_split` of a bare matrix: (the model's columns, the firm effect or None)."""
        eta = None
        if names[-1:] == [FIRM_EFFECT] and FIRM_EFFECT not in self.feature_names_:
            eta, values, names = values[:, -1], values[:, :-1], names[:-1]
        if list(names) != self.feature_names_:
            self.check_features(pd.DataFrame(columns=names))
        return np.ascontiguousarray(values, dtype=np.float64), eta

    def score_matrix(self, values: np.ndarray, names: list[str]) -> np.ndarray:
        X, eta = self._split_matrix(values, names)
        score = self.booster_.predict(X, num_iteration=self.best_iteration_, num_threads=threads(self.threads))
        if eta is not None and self.firm_effect_weight:
            score = score + self.firm_effect_weight * np.nan_to_num(eta)
        return score

    def contribution_matrix(self, values: np.ndarray, names: list[str]) -> np.ndarray:
        X, eta = self._split_matrix(values, names)
        c = self.booster_.predict(X, num_iteration=self.best_iteration_, pred_contrib=True,
                                  num_threads=threads(self.threads))
        if eta is None:
            return c
        return np.column_stack([c[:, :-1], self.firm_effect_weight * np.nan_to_num(eta), c[:, -1]])

    def online_tables(self) -> Any:
        """The booster as :class:`~quanhuiqi.rank.trees.TreeTables` (built once, on first use; None for trees
        too deep to tabulate): an online call's reasons from tables instead of ``pred_contrib`` per row."""
        if not hasattr(self, "_tables"):
            from quanhuiqi.rank.trees import TreeTables

            try:
                self._tables = TreeTables(self.booster_, self.best_iteration_, max_depth=8)
            except ValueError:
                self._tables = None
        return self._tables

    def explain_matrix(self, values: np.ndarray, names: list[str], unknown: list | None = None,
                       top: int = 3) -> list[str]:
        """:meth:`explain_features` of a matrix, as the batch gives it: TreeSHAP from the booster's tables,
        and ``pred_contrib`` for any row whose reason the tables' rounding bound leaves open."""
        from quanhuiqi.rank.trees import decided

        tables = self.online_tables()
        if tables is None or len(values) == 0:
            return super().explain_matrix(values, names, unknown, top=top)
        X, eta = self._split_matrix(values, names)
        c, bound = tables.contributions(X)
        if eta is not None:
            c = np.column_stack([c[:, :-1], self.firm_effect_weight * np.nan_to_num(eta), c[:, -1]])
            bound = np.column_stack([bound, np.zeros(len(bound))])
        open_rows = ~decided(c[:, : len(names)], bound, top)
        if open_rows.any():
            c[open_rows] = self.contribution_matrix(values[open_rows], names)
        return reason_texts(c, values, names, unknown, top=top)

    def reasons(
        self,
        candidates: pd.DataFrame,
        profile: pd.DataFrame,
        book: Any,
        as_of: dt.date | str,
        history: pd.DataFrame | None = None,
        top: int = 3,
        explain_top: int = 10,
        population: pd.DataFrame | None = None,
        city: Any = None,
    ) -> pd.Series:
        """Reasons from the model's feature contributions for each enterprise's ``explain_top`` best pairs.

        Exact contributions (TreeSHAP) cost far more than a prediction, and only the first few pairs of a
        list are ever read; the rest get the rule scorer's reason (its terms are exact for itself).
        """
        feats = self.features(candidates, profile, book, as_of, history, population=population, city=city)
        unknown = candidates.get("unknown")
        codes = pd.factorize(candidates["uscc"].to_numpy())[0]
        rank = ranks_within_groups(codes, self.predict(feats))
        shown = rank <= explain_top
        out = pd.Series([""] * len(feats), dtype="string")
        if (~shown).any():
            rest = feats.loc[~shown]
            out.loc[~shown] = RuleScorer().explain_features(rest, top=top).to_numpy()
        if shown.any():
            head = feats.loc[shown]
            out.loc[shown] = reason_sentences(self.contributions(head), head, top=top).to_numpy()
        return with_missing_facts(out, unknown)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """TreeSHAP per feature (+ bias last); a ``firm_effect`` column of ``X`` gets its weighted value
        as its own contribution, so the reasons can name the enterprise's own history."""
        Xm, eta = self._split(X)
        c = self.booster_.predict(Xm, num_iteration=self.best_iteration_, pred_contrib=True,
                                  num_threads=threads(self.threads))
        if eta is None:
            return c
        return np.column_stack([c[:, :-1], self.firm_effect_weight * np.nan_to_num(eta), c[:, -1]])

    def model_string(self) -> str:
        """The booster as text: the byte-identical artefact for the same data, seed and threads."""
        return self.booster_.model_to_string(num_iteration=self.best_iteration_)
