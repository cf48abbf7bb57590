"""The pair feature builder: (enterprise, policy) candidates → the ranker's features, as of each push date.

The input of :class:`PairFeatureBuilder` is a *pair frame*: one row per candidate with ``uscc``,
``policy_id``, ``date`` (the push date), the eligibility verdict and missing facts, the enterprise's
profile columns and the policy's attributes (:func:`~quanhuiqi.rank.pairs.assemble_pairs` joins them).
Every feature is known on the push date: history statistics use pushes strictly before that date,
ages and deadlines are counted from that date, and the targeting statistics come from the candidate
population of the same date.  Nothing reads the wall clock.

Population and pairs: ``fit`` learns the targeting statistics from a candidate population (the whole day's
candidate set, up to tens of millions of rows, as bare ``uscc``/``policy_id`` columns — string or
categorical — with the profile and policies beside it), ``transform`` computes features for any rows of it
(e.g. each enterprise's shortlist): a row gets the same values as in the features of the whole set.
Speed: text columns are read through integer codes (categoricals pass their codes), every per-value
computation runs once per distinct value, and the features are written into one float64 block whose
column-major ``to_numpy()`` LightGBM reads without a copy.

Where each part lives: the feature names in :mod:`quanhuiqi.rank.columns`, pair assembly in
:mod:`quanhuiqi.rank.pairs`, the population statistics in :mod:`quanhuiqi.rank.population`, the push
history's statistics in :mod:`quanhuiqi.rank.history` (read through :mod:`quanhuiqi.rank.asof`), the
explicit-target matches in :mod:`quanhuiqi.rank.targeting`, the per-enterprise effects in
:mod:`quanhuiqi.rank.firm_effects`.  The names other modules import from here (``FEATURES``,
``assemble_pairs``, ``policy_frame``, ``specificity`` …) are re-exported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from quanhuiqi.numeric import (
    FeatureBlock,
    as_days,
    count_tokens,
    log1p_clipped,
    map_distinct,
    numbers,
    ordinal,
    value_codes,
)
from quanhuiqi.rank.city import CityStatistics
from quanhuiqi.rank.columns import (
    CATEGORICAL_FEATURES,
    ENGAGEMENT_FEATURES,
    FEATURES,
    FIRM_EFFECT,
    LIFECYCLE_ORDER,
    MODE_ORDER,
    PAIR_KEYS,
    POLICY_COLUMNS,
    POLICY_FEATURES,
    POLICY_GROUPS,
    PROFILE_COLUMNS,
    PROFILE_FEATURES,
    RATING_ORDER,
    REVEALED_FEATURES,
    SECTIONS,
    SEGMENTS,
    SIZE_ORDER,
    SPECIFICITY_FEATURES,
    TARGET_COLUMNS,
    TARGET_FEATURES,
    UPTAKE_FEATURES,
    VERDICT_FEATURES,
)
from quanhuiqi.rank.firm_effects import FirmEffects
from quanhuiqi.rank.history import ENTERPRISE_TABLES, HistoryStatistics
from quanhuiqi.rank.pairs import assemble_pairs, department_key, policy_frame, policy_targets
from quanhuiqi.rank.population import PopulationStatistics, specificity
from quanhuiqi.rank.targeting import long_tokens, target_match


class PairFeatureBuilder(TransformerMixin, BaseEstimator):
    """Pair frame → numeric feature frame (``FEATURES``), as of each row's date.

    ``fit`` learns the vocabularies of the categorical policy attributes (department, benefit kind), the
    population's targeting statistics per (date, policy) — reach, segment lifts, chain/tag overlap, as
    :func:`specificity` defines them — and keeps the push history (``history=``; with the enterprises'
    segments from ``profile=`` or from the pair frame) as daily cumulative counts; ``transform`` looks
    every statistic up (the history ones strictly before the row's date).  A pair frame that carries the
    :data:`SPECIFICITY_FEATURES` columns (precomputed on its population) uses those.  Without history, uptake and engagement features are missing (LightGBM treats them as
    unknown), never zero.

    Parameters: ``smoothing`` — pseudo-counts pulling a segment's rate towards its policy's rate and a
    policy's rate towards the global rate; ``departments``/``benefit_kinds`` — fixed vocabularies (a
    loaded model passes the ones it was trained with); ``firm_effect_tau`` — when set, ``fit`` also fits
    each enterprise's own effects (:class:`quanhuiqi.rank.firm_effects.FirmEffects`, prior sd ``tau``) on
    the history before ``as_of`` and ``transform`` appends their sum for each pair as a last column
    ``firm_effect`` — not a model input: :class:`~quanhuiqi.rank.LambdaRanker` adds it to its score.
    """

    def __init__(
        self,
        smoothing: float = 20.0,
        departments: Sequence[str] | None = None,
        benefit_kinds: Sequence[str] | None = None,
        firm_effect_tau: float | None = None,
    ) -> None:
        self.smoothing = smoothing
        self.departments = departments
        self.benefit_kinds = benefit_kinds
        self.firm_effect_tau = firm_effect_tau

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: object = None,
        *,
        history: pd.DataFrame | None = None,
        profile: pd.DataFrame | None = None,
        policies: pd.DataFrame | None = None,
        as_of: dt.date | str | None = None,
        city: CityStatistics | None = None,
    ) -> PairFeatureBuilder:
        """Learn the vocabularies, the population statistics and the history tables.

        ``X`` is the candidate population whose targeting statistics (reach, lifts, overlaps) the
        pairs to transform are measured against: an assembled pair frame, or the bare candidates
        (``uscc``, ``policy_id`` [, ``date``], string or categorical columns) with their enterprises'
        attributes from ``profile`` and their policies' from ``policies`` — the cheap form for a
        population of millions.  ``as_of`` dates a population without a ``date`` column.

        ``city``: the day's city-wide statistics (:class:`~quanhuiqi.rank.city.CityStatistics`, summed
        over the daily job's partitions).  The population statistics, the city-level history tables,
        the firm effects' offsets and the vocabularies then come from it, ``X`` is not read, and only
        the enterprise-level history tables are fitted on ``history`` (the partition's enterprises'
        pushes, or a :class:`~quanhuiqi.rank.history.HistoryStatistics` already fitted on them); only
        pairs dated ``city.as_of`` can be transformed.
        """
        if city is not None:
            return self._fit_city(city, history, profile, policies)
        for col in ("uscc", "policy_id"):
            if col not in X.columns:
                raise ValueError(f"pair frame: missing required column {col!r}")
        self.city_as_of_ = None
        codes: list[tuple[np.ndarray, pd.Index]] = []

        def policy_codes() -> tuple[np.ndarray, pd.Index]:  # the population's policy ids, hashed once
            if not codes:
                codes.append(value_codes(X["policy_id"]))
            return codes[0]

        self.departments_ = self._vocab(self.departments, X, "department", policies, policy_codes)
        self.benefit_kinds_ = self._vocab(self.benefit_kinds, X, "benefit_kind", policies, policy_codes)
        self.population_ = (None if all(c in X.columns for c in SPECIFICITY_FEATURES)
                            else PopulationStatistics.fit(X, profile, as_of, policy_codes=policy_codes()))
        self.history_ = (None if history is None else
                         HistoryStatistics.fit(history, X if profile is None else profile,
                                               X if policies is None else policies))
        self.firm_effects_ = None
        if self.firm_effect_tau is not None:
            effects = FirmEffects(self.firm_effect_tau)  # refuses a bad tau even without history
            if history is not None:
                self.firm_effects_ = effects.fit(history, X if policies is None else policies, before=as_of)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _fit_city(self, city: CityStatistics, history: pd.DataFrame | None, profile: pd.DataFrame | None,
                  policies: pd.DataFrame | None) -> PairFeatureBuilder:
        """``fit`` against the city's statistics: see ``fit``'s ``city``."""
        if profile is None or policies is None:
            raise ValueError("fitting on city statistics needs the profile and the policies frame")
        used = city.policies_with_candidates()
        pol = policies.loc[policies["policy_id"].astype("string").isin(used).to_numpy(dtype=bool)]
        for attr, given, col in (("departments_", self.departments, "department"),
                                 ("benefit_kinds_", self.benefit_kinds, "benefit_kind")):
            if given is not None:
                setattr(self, attr, list(given))
            elif col in pol.columns:
                codes, uniques = value_codes(pol[col])
                present = np.bincount(codes[codes >= 0], minlength=len(uniques)) > 0
                setattr(self, attr, sorted(str(v) for v in uniques[present]))
            else:
                setattr(self, attr, [])
        self.population_ = city.population_statistics()
        self.history_ = None
        tables = city.history_tables()
        if isinstance(history, HistoryStatistics):  # fitted already (the daily job's first pass)
            fitted, history = history, history.frame
        else:
            fitted = None
        if tables is not None:  # every partition reads the city's tables, even one without pushes
            if fitted is None:
                own = history if history is not None else pd.DataFrame(
                    {"date": pd.Series(dtype="datetime64[ns]"), "uscc": pd.Series(dtype="string"),
                     "policy_id": pd.Series(dtype="string"), "clicked": pd.Series(dtype="boolean"),
                     "applied": pd.Series(dtype="boolean")})
                fitted = HistoryStatistics.fit(own, profile, policies, only=ENTERPRISE_TABLES)
            self.history_ = HistoryStatistics({k: v for k, v in fitted.tables.items() if k in ENTERPRISE_TABLES},
                                              fitted.frame)
            self.history_.tables.update(tables)
        self.firm_effects_ = None
        if self.firm_effect_tau is not None:
            effects = FirmEffects(self.firm_effect_tau)
            if history is not None and city.offsets is not None:
                self.firm_effects_ = effects.fit(history, policies, before=city.as_of, offsets=city.offsets)
        self.city_as_of_ = city.as_of
        self.n_features_in_ = 2
        self.feature_names_in_ = np.asarray(["uscc", "policy_id"], dtype=object)
        return self

    @staticmethod
    def _vocab(given: Sequence[str] | None, X: pd.DataFrame, col: str, policies: pd.DataFrame | None,
               policy_codes: Callable[[], tuple[np.ndarray, pd.Index]]) -> list[str]:
        """The sorted distinct values of a policy attribute among the population's pairs (from the
        policies of its ``policy_id``s when the frame does not carry the attribute)."""
        if given is not None:
            return list(given)
        if col in X.columns:
            codes, uniques = value_codes(X[col])
        elif policies is not None and col in policies.columns and "policy_id" in policies.columns:
            p_codes, p_uniq = policy_codes()
            used = p_uniq[np.flatnonzero(np.bincount(p_codes[p_codes >= 0], minlength=len(p_uniq)))]
            pol = policies.loc[policies["policy_id"].astype("string").isin(used).to_numpy(dtype=bool)]
            codes, uniques = value_codes(pol[col])
        else:
            return []
        present = np.bincount(codes[codes >= 0], minlength=len(uniques)) > 0
        return sorted(str(v) for v in uniques[present])


    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(list(FEATURES) + self._extra(), dtype=object)

    def _extra(self) -> list[str]:
        """Columns after the model's features: ``firm_effect`` when the builder fits firm effects."""
        return [FIRM_EFFECT] if self.firm_effect_tau is not None else []

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if not hasattr(self, "departments_"):
            raise RuntimeError("PairFeatureBuilder is not fitted: call fit(pairs, history=…) first")
        for col in ("uscc", "policy_id", "date"):
            if col not in X.columns:
                raise ValueError(f"pair frame: missing required column {col!r}")
        X = X.reset_index(drop=True)
        date = as_days(X["date"])
        if date.isna().any():
            raise ValueError(f"pair frame: {int(date.isna().sum())} row(s) without a push date")
        day = getattr(self, "city_as_of_", None)
        if day is not None and len(X) and not (date == day).all():
            raise ValueError(f"pair frame: rows dated other than {day.date()}, the day of the city statistics "
                             "the builder was fitted on")
        f = FeatureBlock(list(FEATURES) + self._extra(), len(X))
        # profile
        if "industry_section" in X.columns:
            f["industry_section"] = map_distinct(X["industry_section"], {c: float(i) for i, c in enumerate(SECTIONS)})
        else:
            f["industry_section"] = np.nan
        f["size_class"] = ordinal(X, "size_class", SIZE_ORDER)
        if "established_on" in X.columns:
            est = as_days(X["established_on"])
            f["age_years"] = ((date - est).dt.days / 365.25).to_numpy(dtype=float, na_value=np.nan)
        else:
            f["age_years"] = numbers(X, "age_years")
        f["lifecycle_stage"] = ordinal(X, "lifecycle_stage", LIFECYCLE_ORDER)
        f["log_revenue"] = log1p_clipped(numbers(X, "revenue"))
        f["revenue_growth"] = np.clip(numbers(X, "revenue_growth"), -1, 10)
        f["rd_ratio"] = np.clip(numbers(X, "rd_ratio"), 0, 1)
        f["log_employees"] = log1p_clipped(numbers(X, "employees"))
        f["log_registered_capital"] = log1p_clipped(numbers(X, "registered_capital"))
        f["tax_credit_rating"] = ordinal(X, "tax_credit_rating", RATING_ORDER)
        f["above_scale"] = (
            X["above_scale"].astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            if "above_scale" in X.columns
            else np.nan
        )
        f["n_certifications"] = count_tokens(X, "certifications")
        f["n_chains"] = count_tokens(X, "chains")
        f["n_tags"] = count_tokens(X, "tags")
        # policy
        f["mode"] = ordinal(X, "mode", MODE_ORDER)
        f["department"] = self._codes(X, "department", self.departments_)
        f["benefit_kind"] = self._codes(X, "benefit_kind", self.benefit_kinds_)
        f["log_max_amount"] = log1p_clipped(numbers(X, "max_amount"))
        f["log_amount_est"] = log1p_clipped(self._amount_estimate(X))
        valid_to = as_days(X["valid_to"]) if "valid_to" in X.columns else pd.Series(pd.NaT, index=X.index)
        valid_from = as_days(X["valid_from"]) if "valid_from" in X.columns else pd.Series(pd.NaT, index=X.index)
        f["days_to_deadline"] = (valid_to - date).dt.days.to_numpy(dtype=float, na_value=np.nan)
        f["policy_age_days"] = (date - valid_from).dt.days.to_numpy(dtype=float, na_value=np.nan)
        f["valid_days"] = (valid_to - valid_from).dt.days.to_numpy(dtype=float, na_value=np.nan)
        # match specificity: precomputed on the whole candidate population when the caller has it, else
        # looked up in the population the builder was fitted on
        if all(c in X.columns for c in SPECIFICITY_FEATURES):
            for c in SPECIFICITY_FEATURES:
                f[c] = numbers(X, c)
        elif getattr(self, "population_", None) is not None:
            for c, v in self.population_.specificity(X, date.to_numpy()).items():
                f[c] = v
        else:
            spec = specificity(X.assign(date=date.to_numpy()))
            for c in SPECIFICITY_FEATURES:
                f[c] = spec[c].to_numpy(dtype=float)
        # explicit targets of the policy's eligibility tree
        code = X["industry_code"] if "industry_code" in X.columns else None
        f["industry_match"] = (target_match(X, "target_industries", code, prefix=True)
                               if code is not None else np.nan)
        for name, col, tcol in (("cert_match", "certifications", "target_certifications"),
                                ("chain_match", "chains", "target_chains")):
            f[name] = (target_match(X, tcol, X[col], prefix=False) if col in X.columns else np.nan)
        dis = X["district_code"] if "district_code" in X.columns else None
        if dis is not None and "target_districts" in X.columns:
            # only district-level policies target a district; a city-wide test ("3701") targets no one
            city_wide = tuple(t for t in pd.unique(long_tokens(X, "target_districts")["token"]) if len(t) <= 4)
            f["district_match"] = target_match(X, "target_districts", dis, prefix=True, ignore=city_wide)
        else:
            f["district_match"] = np.nan
        # verdict
        if "verdict" in X.columns:  # 1 eligible, 0 any other verdict, NaN unknown
            codes, verdicts = value_codes(X["verdict"])
            f["is_eligible"] = np.array([float(v == "eligible") for v in verdicts] + [np.nan])[codes]
        else:
            f["is_eligible"] = np.nan
        f["n_unknown"] = count_tokens(X, "unknown") if "unknown" in X.columns else np.nan
        f["n_unknown"] = np.where(np.isnan(f["n_unknown"]), 0.0, f["n_unknown"])
        # history
        if self.history_ is None:  # no history: unknown, never zero
            for c in UPTAKE_FEATURES + ENGAGEMENT_FEATURES + REVEALED_FEATURES:
                f[c] = np.nan
        else:
            self.history_.features(f, X.assign(date=date.to_numpy()), self.smoothing)
        if self.firm_effect_tau is not None:
            f[FIRM_EFFECT] = 0.0 if self.firm_effects_ is None else self.firm_effects_.effect(X)
        return f.frame()

    @staticmethod
    def _amount_estimate(X: pd.DataFrame) -> np.ndarray:
        """The benefit for this enterprise: rate × its base fact, capped by the maximum (else the maximum)."""
        cap = numbers(X, "max_amount")
        if "amount_rate" not in X.columns or "amount_base" not in X.columns:
            return cap
        est = cap.copy()
        rate = numbers(X, "amount_rate")
        codes, bases = value_codes(X["amount_base"])
        for i, b in enumerate(bases):  # one pass per distinct base fact (a handful), no row copies
            if b not in X.columns:
                continue
            m = codes == i
            fact = pd.to_numeric(X[b][m], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            v = np.minimum(cap[m], rate[m] * fact)
            est[m] = np.where(np.isfinite(v), v, cap[m])
        return est

    @staticmethod
    def _codes(X: pd.DataFrame, col: str, vocab: list[str]) -> np.ndarray:
        if col not in X.columns or not vocab:
            return np.full(len(X), np.nan)
        lookup = {v: float(i) for i, v in enumerate(vocab)}
        return map_distinct(X[col], lookup)

    def config(self) -> dict[str, object]:
        """What a registered model needs to rebuild this builder (JSON-serialisable)."""
        return {
            "smoothing": float(self.smoothing),
            "departments": list(getattr(self, "departments_", self.departments or [])),
            "benefit_kinds": list(getattr(self, "benefit_kinds_", self.benefit_kinds or [])),
            **({} if self.firm_effect_tau is None else {"firm_effect_tau": float(self.firm_effect_tau)}),
        }


__all__ = [
    "CATEGORICAL_FEATURES",
    "ENGAGEMENT_FEATURES",
    "FEATURES",
    "FIRM_EFFECT",
    "PAIR_KEYS",
    "POLICY_COLUMNS",
    "POLICY_FEATURES",
    "POLICY_GROUPS",
    "PROFILE_COLUMNS",
    "PROFILE_FEATURES",
    "REVEALED_FEATURES",
    "SEGMENTS",
    "SPECIFICITY_FEATURES",
    "TARGET_COLUMNS",
    "TARGET_FEATURES",
    "UPTAKE_FEATURES",
    "VERDICT_FEATURES",
    "PairFeatureBuilder",
    "assemble_pairs",
    "department_key",
    "policy_frame",
    "policy_targets",
    "specificity",
]
