"""The profile's scikit-learn shells: each builder is one step of :mod:`quanhuiqi.profile.profiler` (a plain
function over the enterprise table) as a stateless transformer, and :class:`EnterpriseProfiler` all of them
composed.  Kept apart so that building a profile never imports scikit-learn (≈ 1.5 s of a command's start);
the shells give the same frames as ``profile`` (tested).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from quanhuiqi.profile._base import check_frame, merge_columns
from quanhuiqi.profile.chains import CHAIN_COLUMNS, derive_chains
from quanhuiqi.profile.derived import AGE_COLUMNS, FINANCE_COLUMNS, as_date, derive_age, derive_finance
from quanhuiqi.profile.industry import INDUSTRY_COLUMNS, derive_industry
from quanhuiqi.profile.profiler import columns_out, profile_steps, run_steps
from quanhuiqi.profile.size import SIZE_COLUMNS, derive_size
from quanhuiqi.profile.status import STATUS_COLUMNS, derive_status
from quanhuiqi.profile.tags import TAG_COLUMNS, derive_tags


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Base of the profile's builders: stateless (fit only records the input columns).

    Subclasses set ``produces`` and implement ``derive(X) -> DataFrame`` of those columns.
    ``transform`` returns the input with them added, so builders chain in a pipeline and
    ``get_feature_names_out`` is the input names plus the produced ones.
    """

    produces: tuple[str, ...] = ()

    def fit(self, X: pd.DataFrame, y=None):
        X = check_frame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_in_")
        X = check_frame(X)
        if list(X.columns) != list(self.feature_names_in_):
            raise ValueError(
                f"{type(self).__name__}: columns differ from those seen in fit "
                f"(fit {len(self.feature_names_in_)}, transform {X.shape[1]})"
            )
        new = self.derive(X)
        return merge_columns(X, new[[c for c in self.produces if c in new.columns]])

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "feature_names_in_")
        names = list(self.feature_names_in_ if input_features is None else input_features)
        return np.asarray(names + [c for c in self.produces if c not in names], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags


class IndustryFeatures(FeatureBuilder):
    """Industry hierarchy and names from ``industry_code`` or, without a code, from ``industry_name``
    (:func:`quanhuiqi.profile.industry.derive_industry`)."""

    produces = INDUSTRY_COLUMNS

    def __init__(self, confidence_floor: float = 0.85, margin: float = 3.0):
        self.confidence_floor = confidence_floor
        self.margin = margin

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:
        return derive_industry(X, self.confidence_floor, self.margin)


class StatusFeatures(FeatureBuilder):
    """``status`` → canonical, the registry's text kept as ``status_text`` (:func:`~quanhuiqi.profile.status.derive_status`)."""

    produces = STATUS_COLUMNS

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:
        return derive_status(X)


class SizeFeatures(FeatureBuilder):
    """``size_class``, ``size_industry_key``, ``above_scale`` (:func:`quanhuiqi.profile.size.derive_size`).

    Needs ``industry_code`` canonical (run after :class:`IndustryFeatures`).
    """

    produces = SIZE_COLUMNS

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:
        return derive_size(X)


class AgeFeatures(FeatureBuilder):
    """``age_years`` (completed years at ``as_of``) and ``lifecycle_stage``."""

    produces = AGE_COLUMNS

    def __init__(self, as_of: dt.date | str | None = None):
        self.as_of = as_of

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:
        return derive_age(X, self.as_of)


class FinanceFeatures(FeatureBuilder):
    """``revenue_growth`` (revenue / revenue_prev − 1), ``rd_ratio`` and ``tax_intensity`` (per revenue)."""

    produces = FINANCE_COLUMNS

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:
        return derive_finance(X)


class ChainFeatures(FeatureBuilder):
    """``chains`` from the industry code and ``certifications`` as a canonical set (absent = not held)."""

    produces = CHAIN_COLUMNS

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:
        return derive_chains(X)


class TagFeatures(FeatureBuilder):
    """``tags``: readable Chinese tags (run last: it reads status, size, age, finance, chains)."""

    produces = TAG_COLUMNS

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:
        return derive_tags(X)


class EnterpriseProfiler(TransformerMixin, BaseEstimator):
    """All profile builders composed: industry → status → size → age → finance → chains → tags.

    Parameters are those of the builders: ``as_of`` (required: nothing reads the clock),
    ``industry_confidence_floor`` and ``industry_margin`` for name → code matching.
    """

    def __init__(self, as_of: dt.date | str | None = None, industry_confidence_floor: float = 0.85,
                 industry_margin: float = 3.0):
        self.as_of = as_of
        self.industry_confidence_floor = industry_confidence_floor
        self.industry_margin = industry_margin

    def fit(self, X: pd.DataFrame, y=None):
        X = check_frame(X)
        if self.as_of is None:
            raise ValueError("EnterpriseProfiler needs as_of (nothing reads the wall clock)")
        as_date(self.as_of)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.steps_ = profile_steps(self.as_of, self.industry_confidence_floor, self.industry_margin)
        cols, self.missing_fields_ = columns_out(list(X.columns), self.steps_)
        self.feature_names_out_ = np.asarray(cols + self.missing_fields_, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "steps_")
        X = check_frame(X)
        if list(X.columns) != list(self.feature_names_in_):
            raise ValueError("EnterpriseProfiler: columns differ from those seen in fit")
        return run_steps(X, self.steps_, self.missing_fields_)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "steps_")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


__all__ = ["AgeFeatures", "ChainFeatures", "EnterpriseProfiler", "FeatureBuilder", "FinanceFeatures",
           "IndustryFeatures", "SizeFeatures", "StatusFeatures", "TagFeatures"]
