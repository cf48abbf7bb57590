"""The synthetic city's oracle through the matcher (what benchmarks/postings_match.py --city and
benchmarks/postings_ceiling.py rely on): a scorer that reads pair ids gets them from positions."""

from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.postings.match import _read_enterprises, match_postings
from quanhuiqi.postings.model import ALL_CANDIDATES, TruthScorer, time_split_evaluation
from quanhuiqi.postings.scoring import PostingRuleScorer
from quanhuiqi.postings.validate import validate_postings
from quanhuiqi.synth import posting_utility
from quanhuiqi.tables.columns import DATA_FILES
from quanhuiqi.tables.io import read_table

CITY = Path(__file__).resolve().parents[2] / "data_samples"


def _city():
    inter = read_table(CITY / DATA_FILES["posting_interactions"], text_columns=["demand_id", "supply_id"])
    inter["date"] = pd.to_datetime(inter["date"])
    last = inter["date"].max()
    clean = validate_postings(read_table(CITY / DATA_FILES["postings"]), last).clean
    return inter, clean, _read_enterprises(CITY / DATA_FILES["enterprises"], last)


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
