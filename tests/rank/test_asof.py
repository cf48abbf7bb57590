"""The as-of join behind every history feature: the fast path (categorical history tables), the
generic path and both of their branches (dense grid, binary search) agree with a brute-force join."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.rank.asof import asof as _asof
from quanhuiqi.rank.asof import asof_generic as _asof_generic


def _tables(rng: np.random.Generator, n_keys: int, n_days: int, n_right: int, n_left: int, two_keys: bool):
    """A history table as ``HistoryStatistics.fit`` lays it out (one row per key and date, cumulative values,
    sorted by key codes with missing last, then date) and left rows asking about it."""
    keys = np.array([f"k{i}" for i in range(n_keys)], dtype=object)
    days = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n_days), unit="D")
    a = keys[rng.integers(0, n_keys, n_right)].astype(object)
    a[rng.random(n_right) < 0.05] = None  # a missing key is a key of its own
    b = np.array(["x", "y"], dtype=object)[rng.integers(0, 2, n_right)]
    right = pd.DataFrame({"a": a, "b": b if two_keys else "x", "date": days[rng.integers(0, n_days, n_right)],
                          "n": 1.0, "clicks": rng.integers(0, 2, n_right).astype(float)})
    by = ["a", "b"] if two_keys else ["a"]
    daily = right.groupby(by + ["date"], dropna=False, sort=False)[["n", "clicks"]].sum().reset_index()
    for c in by:
        daily[c] = pd.Categorical(daily[c], categories=sorted(set(daily[c].dropna())))
    code_cols = [daily[c].cat.codes.replace(-1, 10**9) for c in by]
    daily = daily.assign(**{f"_c{i}": c for i, c in enumerate(code_cols)})
    daily = daily.sort_values([f"_c{i}" for i in range(len(by))] + ["date"], kind="stable")
    daily = daily.drop(columns=[f"_c{i}" for i in range(len(by))]).reset_index(drop=True)
    daily[["n", "clicks"]] = daily.groupby(by, dropna=False, observed=True)[["n", "clicks"]].cumsum()
    la = np.concatenate([keys, ["unseen"]])[rng.integers(0, n_keys + 1, n_left)].astype(object)
    la[rng.random(n_left) < 0.05] = None
    left = pd.DataFrame({"a": pd.array(la, dtype="string"),
                         "b": pd.array(np.array(["x", "y"], dtype=object)[rng.integers(0, 2, n_left)] if two_keys
                                       else ["x"] * n_left, dtype="string"),
                         "date": days[rng.integers(0, n_days, n_left)] + pd.Timedelta(days=1) * rng.integers(0, 2, n_left)})
    return left, daily, by


def _brute(left: pd.DataFrame, right: pd.DataFrame, by: list[str]) -> dict[str, np.ndarray]:
    """Per left row: the last right row of the same key (missing = missing) dated strictly before."""
    r = right.assign(**{c: right[c].astype("string").fillna("<NA>") for c in by})
    lk = left.assign(**{c: left[c].astype("string").fillna("<NA>") for c in by})
    out = {"n": np.zeros(len(left)), "clicks": np.zeros(len(left))}
    groups = {k: g for k, g in r.groupby(by)}
    for i, row in enumerate(lk.itertuples(index=False)):  # small tables: the reference, not the code under test
        key = tuple(getattr(row, c) for c in by)
        g = groups.get(key)
        if g is None:
            continue
        before = g[g["date"] < row.date]
        if len(before):
            last = before.sort_values("date").iloc[-1]
            out["n"][i], out["clicks"][i] = last["n"], last["clicks"]
    return out


@pytest.mark.parametrize("two_keys", [False, True])
@pytest.mark.parametrize("n_keys,n_days", [(30, 40), (6000, 2400)])  # dense grid, then binary search
def test_every_path_agrees_with_a_brute_force_join(two_keys: bool, n_keys: int, n_days: int) -> None:
    rng = np.random.default_rng(n_keys + two_keys)
    left, right, by = _tables(rng, n_keys, n_days, n_right=8000, n_left=600, two_keys=two_keys)
    expected = _brute(left, right, by)
    assert (expected["n"] > 0).mean() > 0.05  # the case exercises matches, not only misses
    fast = _asof(left, right, by, ["n", "clicks"], cache={})
    plain = right.assign(**{c: right[c].astype("string") for c in by})  # not categorical → generic path
    generic = _asof(left, plain, by, ["n", "clicks"], cache={})
    direct = _asof_generic(left, right, by, ["n", "clicks"], cache={})
    for got in (fast, generic, direct):
        np.testing.assert_array_equal(got["n"], expected["n"])
        np.testing.assert_array_equal(got["clicks"], expected["clicks"])


def test_an_unsorted_history_table_is_still_joined_right() -> None:
    rng = np.random.default_rng(7)
    left, right, by = _tables(rng, 50, 60, n_right=800, n_left=300, two_keys=False)
    shuffled = right.sample(frac=1.0, random_state=1).reset_index(drop=True)
    expected = _brute(left, right, by)
    got = _asof(left, shuffled, by, ["n", "clicks"], cache={})
    np.testing.assert_array_equal(got["n"], expected["n"])
