"""The synthetic city's oracle through the matcher (what benchmarks/postings_match.py --city and
benchmarks/postings_ceiling.py rely on): a scorer that reads pair ids gets them from positions."""

from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.postings.match import match_postings
from quanhuiqi.postings.model import ALL_CANDIDATES, TruthScorer, time_split_data, time_split_evaluation
from quanhuiqi.postings.scoring import PostingRuleScorer
from quanhuiqi.synth import posting_utility
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
    rep = time_split_evaluation(clean, inter, ent, cut, {"rule": PostingRuleScorer(), "oracle": TruthScorer(
        CITY / DATA_FILES["truth"])}, truth_dir=CITY / DATA_FILES["truth"])
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
