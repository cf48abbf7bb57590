"""Shared machinery of the profile's steps: column helpers (no scikit-learn: the shells are in ``builders``).

Every builder reads named columns of the clean enterprise table and *adds* (or replaces) its own
columns; the rows, their order and their index never change.  Text work runs once per distinct
value (factorize → compute on the uniques → take), which is what makes a million rows cheap.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


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
    mapped = [func(u) for u in uniques]
    if dtype == "string" and all(m is None or isinstance(m, str) for m in mapped):
        from quanhuiqi.text import strings_at

        return strings_at(mapped, codes, values.index)
    out = np.array([*mapped, None], dtype=object)[codes]  # sentinel -1 picks the trailing None
    return pd.Series(out, index=values.index).astype(dtype)


def merge_columns(X: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """X with ``new``'s columns replacing same-named ones in place and the others appended."""
    out = X.copy(deep=False)
    for name in new.columns:
        out[name] = new[name]
    return out


def check_frame(X) -> pd.DataFrame:
    """The clean enterprise table, or a clear refusal (a profile is built over a DataFrame, never an array)."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"expected the clean enterprise table as a pandas DataFrame, got {type(X).__name__}")
    if not X.columns.is_unique:
        raise ValueError("duplicate column names in the enterprise table")
    return X
