"""Population statistics: fit on the whole candidate set, transform a shortlist — same feature values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.rank import (
    FEATURES,
    PairFeatureBuilder,
    PopularityScorer,
    RuleScorer,
    assemble_pairs,
    specificity,
)
from quanhuiqi.rank.features import SPECIFICITY_FEATURES


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Bit-identical float frames (NaN equals NaN)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    bad = [c for c, ok in zip(a.columns, same.all(axis=0)) if not ok]
    assert not bad, f"differ: {bad}"


def _shortlist(cand: pd.DataFrame, score: np.ndarray, k: int) -> np.ndarray:
    """Rows of each enterprise's ``k`` best candidates by ``score`` (the daily job's shortlist)."""
    order = pd.DataFrame({"uscc": cand["uscc"].to_numpy(), "s": score, "i": np.arange(len(cand))})
    top = order.sort_values(["uscc", "s", "i"], ascending=[True, False, True]).groupby("uscc").head(k)
    return np.sort(top["i"].to_numpy())


@pytest.fixture(scope="module")
def multi_day(simulated_pushes):
    """Pairs over three dates with different candidate sets (so the per-date statistics differ)."""
    s = simulated_pushes
    pop = s.population.drop(columns=["utility"]).reset_index(drop=True)
    day = pd.Timestamp(pop["date"].iloc[0])
    parts = [pop.iloc[i::k].assign(date=day + pd.Timedelta(days=i)) for i, k in ((0, 1), (1, 2), (2, 3))]
    return assemble_pairs(pd.concat(parts, ignore_index=True), s.profile, s.policies)


def test_fitted_population_statistics_equal_specificity(multi_day):
    """fit(pairs).transform(pairs) reproduces specificity(pairs) bit for bit, date by date."""
    spec = specificity(multi_day)
    feats = PairFeatureBuilder().fit(multi_day).transform(multi_day)
    _same(feats[SPECIFICITY_FEATURES], spec[SPECIFICITY_FEATURES])
    assert feats["lift_industry"].nunique() > 10 and (feats["chain_overlap"] > 0).any()


def test_subset_of_population_gets_the_population_values(multi_day, simulated_pushes):
    s = simulated_pushes
    full = PairFeatureBuilder().fit(multi_day, history=s.pushes, profile=s.profile,
                                    policies=s.policies).transform(multi_day)
    rows = np.flatnonzero(np.arange(len(multi_day)) % 7 == 3)
    sub = multi_day.iloc[rows].reset_index(drop=True)
    # the population as bare candidates (categorical keys): segments/chains/tags come from the profile
    lean = multi_day[["uscc", "policy_id", "date", "verdict", "unknown"]].astype(
        {"uscc": "category", "policy_id": "category", "verdict": "category", "unknown": "category"})
    for population in (multi_day, lean):
        got = PairFeatureBuilder().fit(population, history=s.pushes, profile=s.profile,
                                       policies=s.policies).transform(sub)
        _same(got, full.iloc[rows].reset_index(drop=True))
    # transformed alone, the subset is its own population: its targeting statistics differ
    alone = PairFeatureBuilder().fit(sub, history=s.pushes, profile=s.profile, policies=s.policies).transform(sub)
    assert not np.allclose(alone["policy_reach"], full["policy_reach"].to_numpy()[rows])


def test_rows_outside_the_population_are_refused(day_inputs):
    s, cand, d = day_inputs
    pairs = assemble_pairs(cand, s.profile, s.policies, d)
    b = PairFeatureBuilder().fit(pairs.iloc[:100])
    with pytest.raises(ValueError, match="not in the population"):
        b.transform(pairs.iloc[100:])
    # and a pair frame that carries its specificity columns needs no population
    pre = pairs.iloc[100:].reset_index(drop=True)
    pre = pd.concat([pre, specificity(pre)], axis=1)
    assert len(b.transform(pre)) == len(pre)


@pytest.mark.parametrize("make", [RuleScorer, PopularityScorer, "model"])
def test_scorers_score_a_shortlist_as_rows_of_the_whole_set(make, day_inputs, trained_ranker):
    s, cand, d = day_inputs
    scorer = trained_ranker.ranker if make == "model" else make()
    past = s.pushes.loc[s.pushes["date"] < d]
    full = scorer.features(cand, s.profile, s.policies, d, history=past)
    full_scores = scorer.score(cand, s.profile, s.policies, d, history=past)
    rows = _shortlist(cand, RuleScorer().score_features(full), 3)
    sub = cand.iloc[rows].reset_index(drop=True)
    as_categories = cand.astype({"uscc": "category", "policy_id": "category", "verdict": "category",
                                 "unknown": "category"})
    for population in (cand, as_categories):
        feats = scorer.features(sub, s.profile, s.policies, d, history=past, population=population)
        _same(feats, full.iloc[rows].reset_index(drop=True))
        np.testing.assert_array_equal(
            scorer.score(sub, s.profile, s.policies, d, history=past, population=population), full_scores[rows])
    # reasons: the same sentences as those rows get in the whole set (the model explains its top pairs)
    if make == "model":
        rows = _shortlist(cand, full_scores, 3)
        sub = cand.iloc[rows].reset_index(drop=True)
    want = scorer.reasons(cand, s.profile, s.policies, d, history=past).to_numpy()[rows]
    got = scorer.reasons(sub, s.profile, s.policies, d, history=past, population=cand)
    assert got.tolist() == want.tolist()
    # without a population the shortlist is its own population: different statistics
    own = scorer.features(sub, s.profile, s.policies, d, history=past)
    assert not np.array_equal(own["policy_reach"].to_numpy(), full["policy_reach"].to_numpy()[rows])


def test_features_cache_keys_on_the_population(day_inputs):
    s, cand, d = day_inputs
    r = RuleScorer()
    sub = cand.iloc[::5].reset_index(drop=True)
    a = r.features(sub, s.profile, s.policies, d, population=cand)
    assert r.features(sub, s.profile, s.policies, d, population=cand) is a  # score() then reasons(): built once
    b = r.features(sub, s.profile, s.policies, d)  # another population: rebuilt
    assert b is not a and not np.array_equal(a["policy_reach"].to_numpy(), b["policy_reach"].to_numpy())
    other = cand.copy()
    assert r.features(sub, s.profile, s.policies, d, population=other) is not a
    assert list(a.columns) == FEATURES


def test_population_dated_by_as_of_or_its_own_column(day_inputs):
    s, cand, d = day_inputs
    pairs = assemble_pairs(cand, s.profile, s.policies, d)
    by_column = PairFeatureBuilder().fit(cand.assign(date=d), profile=s.profile).transform(pairs)
    by_as_of = PairFeatureBuilder().fit(cand, profile=s.profile, as_of=d).transform(pairs)
    _same(by_column, by_as_of)
    # no date at all: the statistics cannot be dated, so they come from the transformed pairs themselves
    undated = PairFeatureBuilder().fit(cand, profile=s.profile).transform(pairs)
    _same(undated, by_as_of)


@pytest.fixture(scope="module")
def sample_city_day():
    """The sample city's day: its full profile (~50 columns), book and eligibility pairs (first 1,500 firms)."""
    from pathlib import Path

    import quanhuiqi
    from quanhuiqi.eligibility import evaluate
    from quanhuiqi.policy import load_book
    from quanhuiqi.tables import read_enterprises, validate_enterprises

    city = Path(__file__).resolve().parents[2] / "data_samples"
    if not (city / "enterprises.csv").exists():
        pytest.skip("no sample city")
    as_of = "2025-07-01"
    book = load_book(city / "policies")
    raw = read_enterprises(city / "enterprises.csv").iloc[:1500]
    prof = quanhuiqi.profile(validate_enterprises(raw, as_of).clean, as_of)
    pairs = evaluate(book, prof, as_of, near_misses=False, evidence=False).pairs
    return book, prof, pairs.reset_index(drop=True), as_of


def test_scorer_joins_only_the_columns_features_read(sample_city_day):
    """The scorer's narrow join gives the features of the full join (a real, wide profile and book)."""
    from quanhuiqi.rank.features import policy_frame

    book, prof, cand, as_of = sample_city_day
    pol = policy_frame(book)
    full = assemble_pairs(cand, prof, pol, as_of)
    narrow = assemble_pairs(cand, prof, pol, as_of, only_features=True)
    assert narrow.shape[1] < full.shape[1] and len(narrow) == len(full)
    want = PairFeatureBuilder().fit(full, profile=prof, policies=pol).transform(full)
    _same(RuleScorer().features(cand, prof, book, as_of), want)
    assert want["log_amount_est"].notna().any() and want["district_match"].notna().any()
    # and a shortlist of it, with the day's candidates as population (strings or categories)
    rows = _shortlist(cand, RuleScorer().score_features(want), 5)
    sub = cand.iloc[rows].reset_index(drop=True)
    lean = cand[["uscc", "policy_id", "verdict", "unknown"]].astype("category")
    _same(RuleScorer().features(sub, prof, book, as_of, population=lean), want.iloc[rows].reset_index(drop=True))
