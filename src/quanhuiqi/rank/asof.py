"""As-of joins on integer keys: a daily cumulative table's values strictly before each row's date.

The history features read every statistic as of the day before the pair's push date, for millions of
pairs against tables of millions of (key, date) rows.  :func:`asof` searches a table laid out by
:class:`quanhuiqi.rank.history.HistoryStatistics` (categorical keys, sorted by key then date) as it is;
:func:`asof_generic` handles any table.  Both give 0 where there is no earlier row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.numeric import NA_KEY


def _key_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Factorised keys (missing → the ``"<NA>"`` key): (code per row, the distinct keys).

    A categorical column is read from its codes (no per-row hashing)."""
    values = pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        uniq = pd.Index(values.cat.categories.astype("string"), dtype="string")
    else:
        raw, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
        codes, uniq = np.asarray(raw, dtype=np.int64), pd.Index(uniques, dtype="string")
    if (codes < 0).any():
        na = uniq.get_indexer(pd.Index([NA_KEY], dtype="string"))[0]
        if na < 0:
            na = len(uniq)
            uniq = uniq.append(pd.Index([NA_KEY], dtype="string"))
        codes = np.where(codes < 0, na, codes)
    return codes, uniq


def _right_codes(values: pd.Series, uniq: pd.Index) -> np.ndarray:
    """Codes of ``values`` in the key space of ``uniq`` (left's distinct keys); keys left lacks get codes
    past the end, so they match nothing."""
    r_codes, r_uniq = _key_codes(values)
    mapped = uniq.get_indexer(r_uniq).astype(np.int64)
    unseen = mapped < 0
    mapped[unseen] = len(uniq) + np.arange(int(unseen.sum()))
    return mapped[r_codes] if len(r_codes) else r_codes


def asof(left: pd.DataFrame, right: pd.DataFrame, by: list[str], values: list[str],
          cache: dict[str, object] | None = None) -> dict[str, np.ndarray]:
    """Cumulative ``values`` of ``right`` (daily, per ``by``) as of strictly before each left row's date;
    no earlier push → 0.

    ``right`` is a history table of :meth:`~quanhuiqi.rank.history.HistoryStatistics.fit`: categorical keys,
    rows sorted by (key codes, missing last; date).  Left's keys are mapped into right's codes once
    per distinct value (``cache``, one dict per ``left`` frame, keeps them between calls), so the
    table is searched as it is, without re-sorting or re-hashing it.  Any other table goes through
    :func:`asof_generic`."""
    if right.empty:
        return {v: np.zeros(len(left)) for v in values}
    if not all(isinstance(right[c].dtype, pd.CategoricalDtype) for c in by):
        return asof_generic(left, right, by, values, cache)
    cache = {} if cache is None else cache
    l_day, r_day, span = _day_codes(left, right, cache)
    l_key = np.zeros(len(left), dtype=np.int64)
    r_key = np.zeros(len(right), dtype=np.int64)
    valid = np.ones(len(left), dtype=bool)
    size = 1
    for c in by:
        cats = right[c].cat.categories
        m = len(cats) + 1  # code len(cats): missing
        if size * m * span >= 2**62:
            return asof_generic(left, right, by, values, cache)
        ck = f"__in__{c}__{id(cats)}__{len(cats)}"
        if ck not in cache:
            if c not in cache:
                cache[c] = _key_codes(left[c])
            l_codes, uniq = cache[c]
            at = pd.Index(cats.astype("string"), dtype="string").get_indexer(uniq)
            na = uniq.get_indexer(pd.Index([NA_KEY], dtype="string"))[0]
            if na >= 0 and at[na] < 0:
                at[na] = len(cats)  # a missing key matches a missing key
            cache[ck] = at[l_codes] if len(at) else np.zeros(0, dtype=np.int64)
        l_codes = cache[ck]
        r_codes = np.asarray(right[c].cat.codes, dtype=np.int64)
        r_codes = np.where(r_codes < 0, len(cats), r_codes)
        valid &= l_codes >= 0
        l_key, r_key, size = l_key * m + np.maximum(l_codes, 0), r_key * m + r_codes, size * m
    r_val = r_key * span + r_day
    if len(r_val) > 1 and not (r_val[1:] > r_val[:-1]).all():
        return asof_generic(left, right, by, values, cache)
    if size * span <= _dense_limit(len(left)):
        # dense (key × day) grid of right's row, carried forward over the days
        grid = np.full(size * span, -1, dtype=np.int64)
        grid[r_val] = np.arange(len(r_val))
        grid = np.maximum.accumulate(grid.reshape(size, span), axis=1).ravel()
        pos = np.where(valid & (l_day > 0), grid[l_key * span + np.maximum(l_day - 1, 0)], -1)
    else:
        pos = np.searchsorted(r_val, l_key * span + l_day, side="left") - 1  # the last (key, date) below
        hit = valid & (pos >= 0)
        hit[hit] = r_key[pos[hit]] == l_key[hit]
        pos[~hit] = -1
    out = {}
    for v in values:  # one trailing zero: position -1 (no earlier push) reads 0
        col = right[v].to_numpy(dtype=float, na_value=np.nan)
        out[v] = np.append(np.where(np.isnan(col), 0.0, col), 0.0)[pos]
    return out


def _dense_limit(n_left: int) -> int:
    """Largest (key × day) grid worth filling for ``n_left`` look-ups: a few cells per look-up (a
    partition's million pairs: millions of cells), else the binary search — an online call asks
    for tens of rows and must not fill a grid of millions."""
    return 4 * n_left + (1 << 16)


def _day_codes(left: pd.DataFrame, right: pd.DataFrame, cache: dict[str, object]) -> tuple[np.ndarray, np.ndarray, int]:
    """Right's distinct dates as codes: for each left row the number of right dates strictly before its
    date, for each right row its own date's code, and the span (distinct dates + 1).  Left's codes are
    kept in ``cache`` (the tables of one transform share their dates)."""
    if "__date__" not in cache:
        cache["__date__"] = left["date"].to_numpy(dtype="datetime64[ns]")
    # right's own codes depend on right alone: a builder passes a store (``__right_days__``) that keeps
    # them between transforms (an online call transforms a few rows against the same history tables)
    store = cache.get("__right_days__")
    entry = store.get(id(right)) if isinstance(store, dict) else None
    if entry is None or entry[0] is not right:
        r_date = right["date"].to_numpy(dtype="datetime64[ns]")
        days = np.unique(r_date)
        entry = (right, days, np.searchsorted(days, r_date, side="left").astype(np.int64), days.tobytes().hex())
        if isinstance(store, dict):
            store[id(right)] = entry  # holds right itself: its id cannot be reused while stored
    _, days, r_codes, days_hex = entry
    day_key = "__days__" + days_hex
    if day_key not in cache:
        cache[day_key] = np.searchsorted(days, cache["__date__"], side="left").astype(np.int64)
    return cache[day_key], r_codes, len(days) + 1


def asof_generic(left: pd.DataFrame, right: pd.DataFrame, by: list[str], values: list[str],
                  cache: dict[str, object] | None = None) -> dict[str, np.ndarray]:
    """Cumulative ``values`` of ``right`` (daily, per ``by``) as of strictly before each left row's date.

    An as-of join on integer keys: each row's (key, date) becomes one sortable integer (key × days +
    the number of ``right``'s dates before the row's date), and a binary search finds the last right
    row below it; it is a match when that row has the same key.  ``cache`` (one dict per ``left``
    frame) keeps left's key codes between calls, so the string keys of a million pairs are hashed once
    per transform, not once per statistic.  No match (no earlier push) → 0."""
    if right.empty:
        return {v: np.zeros(len(left)) for v in values}
    cache = {} if cache is None else cache
    l_day, r_day, span = _day_codes(left, right, cache)
    l_key = np.zeros(len(left), dtype=np.int64)
    r_key = np.zeros(len(right), dtype=np.int64)
    size = 1
    for c in by:  # shared integer codes for the keys
        if c not in cache:
            cache[c] = _key_codes(left[c])
        l_codes, uniq = cache[c]
        r_codes = _right_codes(right[c].reset_index(drop=True), uniq)
        m = max(len(uniq), int(r_codes.max(initial=-1)) + 1, 1)
        if size * m * span >= 2**62:  # renumber the keys so far densely before they could overflow
            joint = np.asarray(pd.factorize(np.concatenate([l_key, r_key]))[0], dtype=np.int64)
            l_key, r_key, size = joint[: len(left)], joint[len(left):], int(joint.max(initial=0)) + 1
        l_key, r_key, size = l_key * m + l_codes, r_key * m + r_codes, size * m
    if size * span > _dense_limit(len(left)):  # renumber densely: only keys present count
        joint = np.asarray(pd.factorize(np.concatenate([l_key, r_key]))[0], dtype=np.int64)
        l_key, r_key, size = joint[: len(left)], joint[len(left):], int(joint.max(initial=0)) + 1
    r_val = r_key * span + r_day
    order = np.argsort(r_val, kind="stable")
    if size * span <= _dense_limit(len(left)):
        # dense (key × day) grid of right's row (in sorted order), carried forward over the days
        grid = np.full(size * span, -1, dtype=np.int64)
        grid[r_val[order]] = np.arange(len(order))
        grid = np.maximum.accumulate(grid.reshape(size, span), axis=1).ravel()
        pos = np.where(l_day > 0, grid[l_key * span + np.maximum(l_day - 1, 0)], -1)
    else:
        l_val = l_key * span + l_day
        pos = np.searchsorted(r_val[order], l_val, side="left") - 1  # the last (key, date) below the row's
        hit = pos >= 0
        hit[hit] = r_key[order[pos[hit]]] == l_key[hit]
        pos[~hit] = -1
    out = {}
    for v in values:  # one trailing zero: position -1 (no earlier push) reads 0
        col = right[v].to_numpy(dtype=float, na_value=np.nan)[order]
        out[v] = np.append(np.where(np.isnan(col), 0.0, col), 0.0)[pos]
    return out


