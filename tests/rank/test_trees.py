"""The booster's trees in numpy (online reasons): scores exactly LightGBM's, contributions LightGBM's
TreeSHAP within their stated rounding bound, and a reason only taken from the tables when that bound
cannot change it."""

from __future__ import annotations

from functools import cache

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanhuiqi.rank.explain import reason_texts
from quanhuiqi.rank.trees import TreeTables, decided


@cache
def _booster(zero_as_missing: bool = False):
    """A lambdarank booster on messy data: NaN, exact zeros (a ``Zero`` missing type), a categorical
    feature with NaN and unseen codes, depth up to 6."""
    rng = np.random.default_rng(0)
    n = 4000
    X = rng.normal(size=(n, 8))
    X[rng.random(X.shape) < 0.25] = np.nan
    X[:, 2] = np.where(rng.random(n) < 0.4, 0.0, X[:, 2])
    X[:, 3] = rng.integers(0, 9, n).astype(float)
    X[rng.random(n) < 0.2, 3] = np.nan
    X[:, 4] = rng.normal(size=n)  # never missing: splits with missing type None
    y = (np.nan_to_num(X[:, 0]) + X[:, 4] + (X[:, 3] % 3 == 0) + rng.normal(size=n) > 0.5).astype(int) + (rng.random(n) < 0.1)
    params = dict(objective="lambdarank", num_leaves=20, max_depth=6, min_data_in_leaf=20, verbose=-1,
                  num_threads=1, deterministic=True, force_row_wise=True, seed=0, zero_as_missing=zero_as_missing)
    data = lgb.Dataset(X, y, group=[20] * (n // 20), categorical_feature=[3])
    return lgb.train(params, data, num_boost_round=40)


def _rows(seed: int, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)) * rng.choice([1.0, 10.0], size=(n, 8))
    X[rng.random(X.shape) < 0.3] = np.nan
    X[rng.random(X.shape) < 0.1] = 0.0
    X[:, 3] = rng.choice([np.nan, -3.0, -0.5, 0.0, 1.0, 2.7, 4.0, 8.0, 12.0, 3e10], size=n)
    X[:5, 2] = [1e-40, -1e-40, 0.0, -0.0, np.nan]
    return X


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_scores_are_lightgbms_bit_for_bit(zero_as_missing):
    b = _booster(zero_as_missing)
    tables = TreeTables(b)
    X = _rows(1)
    np.testing.assert_array_equal(tables.predict(X), b.predict(X, num_threads=1))


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_contributions_are_treeshap_within_their_bound(zero_as_missing):
    b = _booster(zero_as_missing)
    tables = TreeTables(b, num_iteration=30)
    X = _rows(2)
    want = b.predict(X, num_iteration=30, pred_contrib=True, num_threads=1)
    got, bound = tables.contributions(X)
    assert got.shape == want.shape
    diff = np.abs(got[:, :-1] - want[:, :-1])
    assert (diff <= bound).all()
    assert bound.max() < 1e-9 * max(np.abs(want).max(), 1.0)
    np.testing.assert_allclose(got[:, -1], want[:, -1], rtol=1e-12)
    assert (got[:, :-1][:, tables.n_terms == 0] == 0).all()  # features no tree splits on: exactly 0


def test_reasons_from_the_tables_equal_reasons_from_pred_contrib():
    b = _booster()
    tables = TreeTables(b)
    X = _rows(3)
    names = [f"f{i}" for i in range(8)]
    got, bound = tables.contributions(X)
    ok = decided(got[:, :-1], bound)
    assert ok.mean() > 0.9
    want = b.predict(X, pred_contrib=True, num_threads=1)
    assert reason_texts(got[ok], X[ok], names) == reason_texts(want[ok], X[ok], names)


def test_a_tie_within_the_bound_is_left_open():
    c = np.array([[0.5, 0.5, 0.1, 0.0], [0.5, 0.4, 0.1, 0.0], [0.3, 1e-14, 0.0, 0.0], [0.0, 0.0, 0.0, -1.0]])
    e = np.array([[1e-12] * 3 + [0.0], [1e-12] * 3 + [0.0], [1e-12] * 2 + [0.0, 0.0], [0.0] * 4])
    assert decided(c, e).tolist() == [False, True, False, True]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=5, max_size=5), st.lists(st.floats(0, 0.05), min_size=5, max_size=5),
       st.lists(st.floats(-1, 1), min_size=5, max_size=5))
def test_a_decided_reason_survives_any_change_within_the_bound(values, bounds, move):
    c, e = np.array([values]), np.array([bounds])
    if not decided(c, e)[0]:
        return
    moved = c + np.array([move]) * e
    names = [f"f{i}" for i in range(5)]
    assert reason_texts(moved, c, names) == reason_texts(c, c, names)


def test_the_test_boosters_hold_every_kind_of_split():
    kinds = set()

    def walk(node):
        if "split_index" in node:
            kinds.add((node["decision_type"], node["missing_type"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for zero in (False, True):
        for t in _booster(zero).dump_model()["tree_info"]:
            walk(t["tree_structure"])
    assert {("<=", "NaN"), ("<=", "Zero"), ("<=", "None")} <= kinds
    assert any(k[0] == "==" for k in kinds)


def test_the_rankers_online_reasons_equal_pred_contribs_including_rows_left_open(monkeypatch):
    """``LambdaRanker.explain_matrix``: the tables for decided rows, ``pred_contrib`` for the others (every
    other row forced open here), with a per-enterprise effect column — the sentences of ``pred_contrib``."""
    import quanhuiqi.rank.trees as trees
    from quanhuiqi.rank.columns import FIRM_EFFECT
    from quanhuiqi.rank.scorers import LambdaRanker

    b = _booster()
    ranker = LambdaRanker.from_booster(b, threads=1, firm_effect_weight=0.5)
    names = list(b.feature_name()) + [FIRM_EFFECT]
    X = _rows(4, 40)
    eta = np.linspace(-0.2, 0.2, len(X))
    V = np.column_stack([X, eta])
    unknown = ["revenue;employees" if i % 3 == 0 else "" for i in range(len(X))]
    c = b.predict(X, pred_contrib=True, num_threads=1)
    want = reason_texts(np.column_stack([c[:, :-1], 0.5 * eta, c[:, -1]]), V, names, unknown)
    assert ranker.explain_matrix(V, names, unknown) == want
    real = trees.decided
    monkeypatch.setattr(trees, "decided", lambda c, b, top=3: real(c, b, top) & (np.arange(len(c)) % 2 == 0))
    assert ranker.explain_matrix(V, names, unknown) == want
