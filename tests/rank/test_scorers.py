"""Rankers: the rule scorer without a model, the baselines, LightGBM lambdarank, reasons, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.rank import (
    FEATURES,
    LambdaRanker,
    PopularityScorer,
    RuleScorer,
    build_pair_dataset,
    evaluate,
    explain,
    relevance,
    time_split,
)


@pytest.fixture
def day(simulated_pushes):
    s = simulated_pushes
    d = s.pushes["date"].max()
    cand = s.population.drop(columns=["utility", "date"]).reset_index(drop=True)
    return s, cand, d


def test_rule_scorer_needs_no_model_and_prefers_eligible(day):
    s, cand, d = day
    r = RuleScorer()
    scores = r.score(cand, s.profile, s.policies, d)
    assert scores.shape == (len(cand),) and np.isfinite(scores).all()
    # same policy, same enterprise features, only the verdict differs: eligible ranks higher
    f = r.features(cand, s.profile, s.policies, d)
    g = f.copy()
    g["is_eligible"], g["n_unknown"] = 0.0, 2.0
    assert (r.score_features(f.assign(is_eligible=1.0, n_unknown=0.0)) > r.score_features(g)).all()
    reasons = r.reasons(cand, s.profile, s.policies, d)
    assert len(reasons) == len(cand)
    assert reasons.str.startswith("推荐理由：").mean() > 0.9
    und = (cand["verdict"] == "undetermined").to_numpy()
    assert reasons[und].str.contains("需补充：").all()
    assert not reasons[~und].str.contains("需补充").any()


def test_rule_weights_are_checked():
    with pytest.raises(ValueError, match="unknown feature"):
        RuleScorer({"no_such_feature": 1.0})


def test_relevance_grades_and_time_split():
    h = pd.DataFrame({"clicked": [False, True, True, True], "applied": [False, False, True, True],
                      "approved": [False, False, False, True]})
    assert relevance(h).tolist() == [0, 1, 2, 3]
    dates = pd.Series(pd.to_datetime(["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05",
                                      "2025-03-06", "2025-03-07", "2025-03-08", "2025-03-09", "2025-03-10"]))
    split = time_split(dates)
    assert split.tolist() == ["train"] * 6 + ["valid"] * 2 + ["test"] * 2  # ordered blocks by date
    with pytest.raises(ValueError, match="at least 3"):
        time_split(dates[:2])


def test_dataset_windows_do_not_overlap(ranker_data):
    w = ranker_data.window
    assert w["train_to"] < w["valid_from"] <= w["valid_to"] < w["test_from"]
    assert w["unmatched_pushes"] == 0
    X, y, g, fr = ranker_data.part("train")
    assert g.sum() == len(X) == len(y) and list(X.columns) == FEATURES
    # groups are contiguous (lambdarank needs rows sorted by group)
    key = fr["date"].astype(str) + fr["uscc"].astype(str)
    assert (key != key.shift()).sum() == len(g)


def test_model_beats_baselines_and_nears_oracle(trained_ranker, simulated_pushes):
    res = trained_ranker
    _, _, _, ft = res.data.part("test")
    truth = ft.merge(simulated_pushes.pushes[["date", "uscc", "policy_id", "utility"]],
                     on=["date", "uscc", "policy_id"], how="left", validate="one_to_one")["utility"]
    report = evaluate(ft, dict(res.test_scores, oracle=truth.to_numpy()), ks=(5,))
    ndcg = report["ndcg@5"]
    assert ndcg["model"] > ndcg["popularity"] * 1.05
    assert ndcg["model"] > ndcg["rule"]
    assert ndcg["model"] >= 0.85 * ndcg["oracle"]
    assert {"model", "rule", "popularity"} <= set(res.report.index)


def test_same_data_same_seed_byte_identical_model(ranker_data, tmp_path):
    X, y, g, _ = ranker_data.part("train")
    Xv, yv, gv, _ = ranker_data.part("valid")
    files = []
    for i in range(2):
        r = LambdaRanker(num_boost_round=25, early_stopping_rounds=10, threads=1).fit(X, y, g, Xv, yv, gv)
        path = tmp_path / f"m{i}.txt"
        path.write_text(r.model_string())
        files.append(path.read_bytes())
    assert files[0] == files[1]
    other = LambdaRanker(params={"seed": 1, "feature_fraction": 0.7}, num_boost_round=25, threads=1).fit(X, y, g)
    assert other.model_string().encode() != files[0]


def test_predict_refuses_mismatched_features(trained_ranker):
    r = trained_ranker.ranker
    X, _, _, _ = trained_ranker.data.part("test")
    with pytest.raises(ValueError, match="missing"):
        r.predict(X.drop(columns=["is_eligible"]))
    with pytest.raises(ValueError, match="different order"):
        r.predict(X[list(reversed(X.columns))])
    with pytest.raises(ValueError, match="unexpected"):
        r.predict(X.assign(extra=1.0))


def test_model_reasons_are_chinese_sentences_from_contributions(trained_ranker):
    r = trained_ranker.ranker
    X, _, _, fr = trained_ranker.data.part("test")
    contrib = r.contributions(X)
    assert contrib.shape == (len(X), len(FEATURES) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), r.predict(X), rtol=1e-6, atol=1e-6)
    sentences = explain(r, X, unknown=fr["unknown"])
    assert len(sentences) == len(X)
    assert sentences.str.contains("[\u4e00-\u9fff]", regex=True).all()
    assert sentences.str.endswith("。").all()


def test_popularity_follows_past_uptake(day):
    s, cand, d = day
    p = PopularityScorer()
    past = s.pushes.loc[s.pushes["date"] < d]
    scores = p.score(cand, s.profile, s.policies, d, history=past)
    rates = past.groupby("policy_id")["applied"].mean()
    top = cand.assign(score=scores).groupby("policy_id")["score"].first().sort_values().index[-5:]
    assert rates.reindex(top).mean() > rates.mean()


def test_build_pair_dataset_rejects_missing_columns(simulated_pushes):
    s = simulated_pushes
    with pytest.raises(Exception, match="missing column"):
        build_pair_dataset(s.pushes.drop(columns=["policy_id"]), s.population, s.profile, s.policies, s.pushes,
                           snapshot_of=s.snapshot_of)


def test_missing_facts_are_named_in_chinese():
    import pandas as pd

    from quanhuiqi.rank.explain import with_missing_facts

    out = with_missing_facts(pd.Series(["推荐理由：甲。", "推荐理由：乙。"]), pd.Series(["insured_months;revenue", None]))
    assert out.tolist() == ["推荐理由：甲。需补充：连续参保月数、营业收入。", "推荐理由：乙。"]
