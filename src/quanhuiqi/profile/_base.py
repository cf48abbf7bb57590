"""Shared machinery of the feature builders: the scikit-learn shell and column helpers.

Every builder reads named columns of the clean enterprise table and *adds* (or replaces) its own
columns; the rows, their order and their index never change.  Text work runs once per distinct
value (factorize → compute on the uniques → take), which is what makes a million rows cheap.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted


def column(X: pd.DataFrame, name: str, dtype: str | None = None) -> pd.Series:
    """The column ``name`` or an all-missing one when the table does not have it (missing = unknown)."""
    if name in X.columns:
        s = X[name]
        return s.astype(dtype) if dtype is not None and str(s.dtype) != dtype else s
    return pd.Series(pd.NA, index=X.index, dtype=dtype or "object")


def number(X: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float64 with NaN for unknown (absent column → all NaN)."""
    if name not in X.columns:
        return np.full(len(X), np.nan)
    return pd.to_numeric(X[name], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def map_distinct(values: pd.Series, func: Callable[[object], object], dtype: str = "string") -> pd.Series:
    """``func`` applied once per distinct non-missing value, broadcast back (missing stays missing)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    out = mapped[codes]  # sentinel -1 picks the trailing None
    return pd.Series(out, index=values.index).astype(dtype)


def merge_columns(X: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """X with ``new``'s columns replacing same-named ones in place and the others appended."""
    out = X.copy(deep=False)
    for name in new.columns:
        out[name] = new[name]
    return out


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Base of the profile's builders: stateless (fit only records the input columns).

    Subclasses set ``produces`` and implement ``derive(X) -> DataFrame`` of those columns.
    ``transform`` returns the input with them added, so builders chain in a pipeline and
    ``get_feature_names_out`` is the input names plus the produced ones.
    """

    produces: tuple[str, ...] = ()

    def fit(self, X: pd.DataFrame, y=None):
        X = self._check_frame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_in_")
        X = self._check_frame(X)
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

    @staticmethod
    def _check_frame(X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"expected the clean enterprise table as a pandas DataFrame, got {type(X).__name__}")
        if not X.columns.is_unique:
            raise ValueError("duplicate column names in the enterprise table")
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
