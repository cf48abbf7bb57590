"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.rank import evaluate, exposure, gini, ranking_metrics
from quanhuiqi.rank.evaluation import ranks_within_groups


@pytest.fixture
def frame() -> pd.DataFrame:
    # group A: rel 3,0,1 scored so the ranking is (0, 1, 3); group B: rel 0,2 ranked (2, 0); group C: no relevant
    return pd.DataFrame(
        {
            "uscc": ["A", "A", "A", "B", "B", "C", "C"],
            "date": ["2025-03-01"] * 7,
            "policy_id": ["p1", "p2", "p3", "p1", "p2", "p1", "p4"],
            "relevance": [3, 0, 1, 0, 2, 0, 0],
            "district_code": ["370102"] * 3 + ["370103"] * 4,
        }
    )


SCORES = np.array([0.1, 0.9, 0.5, 0.2, 0.8, 0.3, 0.4])


def test_metrics_by_hand(frame):
    m = ranking_metrics(frame, SCORES, k=5)
    dcg_a = 0 + 1 / np.log2(3) + 7 / np.log2(4)
    idcg_a = 7 + 1 / np.log2(3)
    assert m["ndcg@5"] == pytest.approx((dcg_a / idcg_a + 1.0) / 2)
    assert m["map@5"] == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1.0) / 2)
    assert m["recall@5"] == pytest.approx(1.0)
    assert m["mrr"] == pytest.approx((1 / 2 + 1) / 2)
    assert m["groups"] == 3 and m["groups_with_relevant"] == 2


def test_metrics_at_one(frame):
    m = ranking_metrics(frame, SCORES, k=1)
    assert m["ndcg@1"] == pytest.approx(0.5)  # A: irrelevant first; B: perfect
    assert m["map@1"] == pytest.approx(0.5)
    assert m["recall@1"] == pytest.approx((0 + 1) / 2)


def test_perfect_and_reversed(frame):
    rel = frame["relevance"].to_numpy(dtype=float)
    assert ranking_metrics(frame, rel, k=5)["ndcg@5"] == pytest.approx(1.0)
    assert ranking_metrics(frame, -rel, k=5)["ndcg@5"] < 0.6


def test_ties_keep_input_order():
    groups = np.array([0, 0, 0, 1, 1])
    r = ranks_within_groups(groups, np.array([1.0, 1.0, 2.0, np.nan, 0.0]))
    assert r.tolist() == [2, 3, 1, 2, 1]


def test_gini():
    assert gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)
    assert gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([])) == 0.0


def test_exposure(frame):
    e = exposure(frame, SCORES, k=1, catalogue=["p1", "p2", "p3", "p4", "p5"])
    # top-1: A → p2, B → p2, C → p4: two of five policies shown
    assert e["coverage@1"] == pytest.approx(2 / 5)
    assert e["gini_policy@1"] == pytest.approx(gini(np.array([0, 2, 0, 1, 0])))
    assert set(e["gini_policy_by_district"]) == {"370102", "370103"}


def test_evaluate_report_with_oracle(frame):
    rel = frame["relevance"].to_numpy(dtype=float)
    report = evaluate(frame, {"model": SCORES, "oracle": rel}, ks=(1, 5))
    assert list(report.index) == ["model", "oracle"]
    assert report.loc["oracle", "ndcg@5_vs_oracle"] == pytest.approx(1.0)
    assert report.loc["model", "ndcg@5_vs_oracle"] == pytest.approx(report.loc["model", "ndcg@5"])
    assert {"map@5", "recall@1", "mrr", "coverage@5", "gini_policy@5", "gini_district@5"} <= set(report.columns)


def test_length_mismatch_is_refused(frame):
    with pytest.raises(ValueError, match="scores for"):
        ranking_metrics(frame, SCORES[:-1])
