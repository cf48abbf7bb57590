"""Column helpers shared by the ranker and the supply–demand matcher: integer codes instead of strings.

Every helper reads a text column through integer codes (a categorical's own codes, else one
factorisation), computes once per distinct value and gathers back per row, so a million pairs cost a
few array passes, never a Python loop over rows.  Missing values get code -1, or the ``"<NA>"`` key
where missing must match missing (:func:`na_as_key`).  Count tables over integer keys are dense
``bincount`` arrays when small and sorted keys when not (:func:`count_table`, :func:`count_lookup`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

ArrayLike = pd.Series | np.ndarray | ExtensionArray  # a column: Series, numpy array or pandas array


def numbers(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def ordinal(frame: pd.DataFrame, col: str, order: dict[str, float]) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return map_distinct(frame[col], order)


def map_distinct(values: pd.Series, lookup: dict[str, float]) -> np.ndarray:
    """``lookup`` of each value as a string (NaN when absent or missing), looked up once per distinct value."""
    codes, uniques = value_codes(values)
    mapped = np.array([lookup.get(str(u), np.nan) for u in uniques] + [np.nan], dtype=float)
    return mapped[codes]  # code -1 (missing) picks the trailing NaN


def count_tokens(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    codes, uniques = value_codes(frame[col])
    counts = np.array([float(len([t for t in str(u).split(";") if t])) for u in uniques] + [np.nan])
    return counts[codes]  # code -1 (missing) picks the trailing NaN


def distinct_sets(values: ArrayLike) -> tuple[np.ndarray, list[frozenset[str]]]:
    """Factorised ``;``-sets: (code per row, the set of each distinct value); missing = empty set."""
    codes, uniques = value_codes(values)
    sets = [frozenset(t for t in str(u).split(";") if t) for u in uniques] + [frozenset()]
    return np.where(codes < 0, len(uniques), codes), sets


def as_days(values: pd.Series | np.ndarray) -> pd.Series:
    return pd.to_datetime(pd.Series(values), errors="coerce").dt.normalize().astype("datetime64[ns]")


def log1p_clipped(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(x, 0, None))

def combine_codes(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct combinations of several integer code arrays: (inverse per row, one row per combination).

    Hash-based (``pd.factorize`` of a mixed-radix key; re-factorised at each step when it could overflow
    or a code is negative); combinations are numbered in order of first appearance.
    """
    cols = [np.asarray(c, dtype=np.int64) for c in codes]
    sizes = [int(c.max(initial=0)) + 1 for c in cols]
    if all(c.min(initial=0) >= 0 for c in cols) and float(np.prod(sizes, dtype=float)) < 2.0**62:
        key = cols[0]  # non-negative codes whose radix key cannot overflow: one hash pass
        for c, size in zip(cols[1:], sizes[1:]):
            key = key * size + c
    else:
        key = cols[0]
        for c in cols[1:]:
            key = pd.factorize(key * (int(c.max(initial=0)) + 1) + c)[0].astype(np.int64)
    inverse, uniq = pd.factorize(key)
    first = np.empty(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
    return inverse.astype(np.int64), np.stack(cols, axis=1)[first]

def positions(keys: pd.Series, table_keys: pd.Series) -> np.ndarray:
    """Row position of each key in ``table_keys`` (unique), -1 when absent or missing; hashed once per
    distinct key."""
    codes, uniques = value_codes(keys)
    found = pd.Index(table_keys.astype("string")).get_indexer(pd.Index(uniques, dtype="string"))
    return np.where(codes < 0, -1, found[np.maximum(codes, 0)] if len(found) else -1)


def value_codes(values: ArrayLike) -> tuple[np.ndarray, pd.Index]:
    """(code per row, -1 when missing; the distinct values as strings).  A categorical column is read
    from its codes (no hashing of the rows); anything else is factorised as strings."""
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pd.Index(values.cat.categories.astype("string"), dtype="string")
        codes = np.asarray(values.cat.codes)
        if not cats.is_unique:  # distinct categories that print alike: merge them, as strings would
            merged, cats = pd.factorize(cats)
            codes = np.where(codes < 0, -1, merged[np.maximum(codes, 0)])
            cats = pd.Index(cats, dtype="string")
        return codes, cats
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    return np.asarray(codes), pd.Index(uniques, dtype="string")

NA_KEY = "<NA>"  # a missing key matches a missing key (as the string "<NA>" would)


DENSE_CELLS = 1 << 26  # count tables up to this many cells are dense arrays, larger ones sorted keys


def na_as_key(codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Missing values as the ``"<NA>"`` key (so they count as one group, as ``fillna("<NA>")`` does)."""
    if (codes < 0).any():
        na = uniques.get_indexer(pd.Index([NA_KEY], dtype="string"))[0]
        if na < 0:
            na, uniques = len(uniques), uniques.append(pd.Index([NA_KEY], dtype="string"))
        codes = np.where(codes < 0, na, codes)
    return codes, uniques


def count_table(key: np.ndarray, cells: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Rows per integer key in ``[0, cells)``: a dense array when small, else (sorted keys, counts)."""
    if cells <= DENSE_CELLS:
        return np.bincount(key, minlength=cells).astype(float), np.zeros(0, np.int64), np.zeros(0)
    keys, counts = np.unique(key, return_counts=True)
    return None, keys, counts.astype(float)


def count_lookup(table: tuple[np.ndarray | None, np.ndarray, np.ndarray], key: np.ndarray) -> np.ndarray:
    """The counts of ``count_table`` at ``key`` (0 where absent or ``key`` < 0)."""
    dense, keys, counts = table
    ok = key >= 0
    if dense is not None:
        ok &= key < len(dense)
        return np.where(ok, dense[np.where(ok, key, 0)], 0.0)
    pos = np.minimum(np.searchsorted(keys, np.maximum(key, 0)), max(len(keys) - 1, 0))
    hit = ok & (keys[pos] == key) if len(keys) else np.zeros(len(key), dtype=bool)
    return np.where(hit, counts[pos] if len(keys) else 0.0, 0.0)


def small_int(codes: np.ndarray, missing: int) -> np.ndarray:
    """Codes as int32 (the population's arrays stay small), missing (-1) → ``missing``."""
    codes = np.asarray(codes)
    if codes.dtype != np.int32:
        codes = codes.astype(np.int32)
    return np.where(codes < 0, np.int32(missing), codes) if (codes < 0).any() else codes

def per_distinct(values: pd.Series, fn: Callable[[pd.Series], pd.Series] | None = None) -> pd.Categorical:
    """``values`` as strings (``fn`` applied to each distinct value, not to every row), categorical so
    that later key look-ups hash the distinct values only."""
    codes, uniques = value_codes(values)
    uniq = pd.Series(uniques, dtype="string")
    if fn is not None:
        uniq = fn(uniq)
    mapped_codes, cat_values = pd.factorize(uniq, use_na_sentinel=True)
    row_codes = np.where(np.asarray(codes) < 0, -1, np.asarray(mapped_codes, dtype=np.int64)[np.maximum(codes, 0)]
                         if len(mapped_codes) else -1)
    return pd.Categorical.from_codes(row_codes, categories=pd.Index(cat_values, dtype="string"))

def attach(keys: pd.Categorical, table: pd.DataFrame, key: str, col: str) -> pd.Categorical:
    """``table[col]`` for each row's key (a many-to-one left join; unknown or missing key → missing),
    looked up once per distinct key and returned categorical (as strings)."""
    pos = pd.Index(table[key].astype("string")).get_indexer(keys.categories.astype("string"))
    per_key = pd.Categorical(table[col].astype("string").reset_index(drop=True).reindex(pos))
    codes = np.asarray(keys.codes, dtype=np.int64)
    per_code = np.asarray(per_key.codes, dtype=np.int64)
    row_codes = np.where(codes < 0, -1, per_code[np.maximum(codes, 0)] if len(per_code) else -1)
    return pd.Categorical.from_codes(row_codes, dtype=per_key.dtype)


def smooth(num: np.ndarray, den: np.ndarray, prior: np.ndarray | float, strength: float) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    prior = np.broadcast_to(np.asarray(prior, dtype=float), num.shape)
    total = den + strength
    return np.divide(num + strength * prior, total, out=prior.copy(), where=total > 0)



class FeatureBlock:
    """A feature matrix under construction: one float64 row per feature in a (features × rows)
    buffer, so the finished frame is one block (no copy) whose ``to_numpy()`` is a column-major view
    LightGBM reads without converting."""

    def __init__(self, names: Sequence[str], n: int) -> None:
        self.names = list(names)
        self.index = {c: i for i, c in enumerate(self.names)}
        self.buf = np.empty((len(self.names), n))  # every column is written once (frame() checks)
        self.written: set[str] = set()

    def __setitem__(self, name: str, value: ArrayLike | float) -> None:
        self.buf[self.index[name]] = value
        self.written.add(name)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.buf[self.index[name]]

    def frame(self) -> pd.DataFrame:
        for name in set(self.names) - self.written:  # pragma: no cover - every feature is computed
            self.buf[self.index[name]] = np.nan
        return pd.DataFrame(self.buf.T, columns=self.names, copy=False)
