"""quanhuiqi.synth.truth: the synthetic city's oracle through the matcher (what benchmarks/postings_match.py
--city and benchmarks/postings_ceiling.py rely on: a scorer that reads pair ids gets them from positions),
the truth-graded evaluation, and the city's truth objects."""

from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.postings.match import match_postings
from quanhuiqi.postings.model import ALL_CANDIDATES, time_split_data, time_split_evaluation
from quanhuiqi.postings.scoring import PostingRuleScorer
from quanhuiqi.synth import posting_utility
from quanhuiqi.synth.truth import PolicyTruth, PostingTruth, TruthScorer
from quanhuiqi.tables.columns import DATA_FILES

CITY = Path(__file__).resolve().parents[2] / "data_samples"


def _city():
    split = time_split_data(CITY)
    return split.interactions, split.postings, split.enterprises


def test_the_oracle_is_given_the_pair_ids_and_ranks_by_the_truth() -> None:
    inter, clean, ent = _city()
    day = inter["date"].max()
    demands = inter.loc[inter["date"] == day, "demand_id"].astype(str).unique()[:20]
    truth = CITY / DATA_FILES["truth"]
    ranked = match_postings(clean, day, enterprises=ent, model=TruthScorer(truth), k=ALL_CANDIDATES,
                            demand_ids=demands)
    got = ranked.dropna(subset=["supply_id"])
    assert len(got) > len(demands)
    expected = posting_utility(got[["demand_id", "supply_id"]].reset_index(drop=True), truth)["expected_relevance"]
    np.testing.assert_allclose(got["score"].to_numpy(dtype=float), expected.to_numpy(dtype=float))
    # within each demand, ranks follow the true expected relevance
    for _, g in got.groupby("demand_id"):
        assert (np.diff(g.sort_values("rank")["score"].to_numpy(dtype=float)) <= 1e-12).all()


def test_the_truth_evaluation_runs_and_the_oracle_is_the_ceiling() -> None:
    inter, clean, ent = _city()
    days = np.sort(inter["date"].unique())
    cut = pd.Timestamp(days[-2])  # two test days keep this quick
    truth = PostingTruth.of_city(CITY)
    rep = time_split_evaluation(clean, inter, ent, cut, {"rule": PostingRuleScorer(), "oracle": truth.scorer()},
                                truth=truth)
    assert rep.loc["oracle", "truth_ndcg@10"] == 1.0
    assert rep.loc["rule", "truth_ndcg@10"] < 1.0
    assert rep.loc["oracle", "truth_deal_recall@10"] >= rep.loc["rule", "truth_deal_recall@10"]


def test_time_split_reads_the_directory_and_cuts_at_the_last_fifth_of_dates() -> None:
    split = time_split_data(CITY)
    dates = np.sort(split.interactions["date"].unique())
    assert split.cut == pd.Timestamp(dates[int(len(dates) * 0.8)]) and split.last == dates[-1]
    assert (split.train["date"] < split.cut).all() and len(split.train) < len(split.interactions)
    assert split.enterprises is not None and split.truth_dir.exists() and "row" in split.postings


def test_a_directory_without_interactions_is_refused_naming_the_file(tmp_path):
    import pytest

    from quanhuiqi.tables.io import InputError

    empty = pd.read_parquet(CITY / DATA_FILES["posting_interactions"]).head(0)
    empty.to_parquet(tmp_path / DATA_FILES["posting_interactions"], index=False)
    with pytest.raises(InputError, match="posting_interactions.parquet: no interactions to split"):
        time_split_data(tmp_path)


def test_a_city_without_truth_has_none(tmp_path):
    assert PolicyTruth.of_city(tmp_path) is None and PostingTruth.of_city(tmp_path) is None
    assert isinstance(PolicyTruth.of_city(CITY), PolicyTruth)


def test_policy_truth_grades_pairs_and_marks_exploration_pushes() -> None:
    from quanhuiqi.synth import policy_utility

    truth = PolicyTruth.of_city(CITY)
    pushes = pd.read_parquet(CITY / DATA_FILES["push_history"]).head(200)
    rel = truth.expected_relevance(pushes)
    expected = policy_utility(pushes[["uscc", "policy_id", "date"]].reset_index(drop=True), truth.truth_dir)
    np.testing.assert_allclose(rel, expected["expected_relevance"].to_numpy(dtype=float))
    mask = truth.exploration_mask(pushes)
    log = pd.read_parquet(truth.truth_dir / "push_logging.parquet")
    explored = log.loc[log["explored"].astype(bool)]
    keys = set(zip(explored["uscc"].astype(str), pd.to_datetime(explored["date"]).dt.normalize()))
    want = [(u, d) in keys for u, d in zip(pushes["uscc"].astype(str), pd.to_datetime(pushes["date"]).dt.normalize())]
    assert mask.tolist() == want and 0 < mask.sum() < len(mask)
