"""City-wide statistics: partitions' counts summed give exactly what one run over the whole city computes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.push.partition import partition_of
from quanhuiqi.rank import PairFeatureBuilder, RuleScorer, assemble_pairs
from quanhuiqi.rank.city import CityStatistics
from quanhuiqi.rank.counts import KeyedCounts
from quanhuiqi.rank.firm_effects import FirmEffects, offset_counts
from quanhuiqi.rank.population import PopulationStatistics, population_counts


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Bit-identical float frames (NaN equals NaN)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    same = (x == y) | (np.isnan(x) & np.isnan(y))
    bad = [c for c, ok in zip(a.columns, same.all(axis=0)) if not ok]
    assert not bad, f"differ: {bad}"


def _split(frame: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """Rows by their enterprise's partition (the daily job's hash)."""
    p = partition_of(frame["uscc"], parts)
    return [frame.loc[p == k].reset_index(drop=True) for k in range(parts)]


def test_keyed_counts_add_up_exactly_in_any_split_and_order():
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame({
        "policy_id": pd.array(rng.choice(["P1", "P2", "P3", None], n), dtype="string"),
        "seg": pd.array(rng.choice(["a", "b", "c", "d", None], n), dtype="string"),
        "n": rng.integers(0, 3, n).astype(float),
        "clicks": rng.integers(0, 2, n).astype(float),
    })
    whole = KeyedCounts.sum([KeyedCounts.from_frame(frame, ["policy_id", "seg"], ["n", "clicks"])]).frame(False)
    cut = rng.integers(0, 7, n)
    parts = [KeyedCounts.from_frame(frame.loc[cut == k], ["policy_id", "seg"], ["n", "clicks"]) for k in range(7)]
    for order in (parts, parts[::-1]):
        got = KeyedCounts.sum(order).frame(False)
        pd.testing.assert_frame_equal(got, whole)
    truth = frame.groupby(["policy_id", "seg"], dropna=False)[["n", "clicks"]].sum()
    assert int(whole["n"].sum()) == int(truth["n"].sum()) and len(whole) == len(truth)
    with pytest.raises(ValueError, match="different tables"):
        KeyedCounts.sum([parts[0], KeyedCounts.from_frame(frame, ["seg"], ["n"])])


@pytest.mark.parametrize("top", [64, 2])
def test_summed_population_counts_equal_the_whole_population(day_inputs, top):
    """Reach, lifts and overlaps (with the top tokens chosen from the summed counts) are bit-identical."""
    s, cand, d = day_inputs
    whole = PopulationStatistics.fit(cand, s.profile, d, top=top)
    parts = [population_counts(c, s.profile, d) for c in _split(cand, 5)]
    from quanhuiqi.rank.population import PopulationCounts

    summed = PopulationStatistics.from_counts(PopulationCounts.sum(parts), top=top)
    pairs = assemble_pairs(cand, s.profile, s.policies, d)
    date = pairs["date"].to_numpy()
    want, got = whole.specificity(pairs, date), summed.specificity(pairs, date)
    _same(pd.DataFrame(got), pd.DataFrame(want))
    assert summed.overlap["chain_overlap"][0] == whole.overlap["chain_overlap"][0]
    if top == 2:  # the city's two most frequent chains, which is not what every partition would pick
        own = [PopulationStatistics.from_counts(PopulationCounts.sum([p]), top=2).overlap["chain_overlap"][0]
               for p in parts]
        assert any(o != whole.overlap["chain_overlap"][0] for o in own)


@pytest.mark.parametrize("tau", [None, 0.5])
def test_each_partition_ranked_against_the_city_gets_the_whole_citys_features(day_inputs, tau):
    """Every feature of every pair — targeting, the history's city-level and enterprise-level rates, the
    firm effects — is the same whether the city is one partition or six whose counts were summed."""
    s, cand, d = day_inputs
    history = s.pushes.drop(columns=["utility"])
    policies = s.policies
    builder = PairFeatureBuilder(firm_effect_tau=tau)
    pairs = assemble_pairs(cand, s.profile, policies, d)
    whole = PairFeatureBuilder(**builder.get_params()).fit(
        cand, history=history, profile=s.profile, policies=policies, as_of=d).transform(pairs)
    k = 6
    cands, profs, hists = _split(cand, k), _split(s.profile, k), _split(history, k)
    city = CityStatistics.sum([CityStatistics.count(c, p, d, history=h, policies=policies)
                               for c, p, h in zip(cands, profs, hists)]).prepared()
    assert city.population.enterprises == cand["uscc"].nunique()
    got = []
    for c, p, h in zip(cands, profs, hists):
        b = PairFeatureBuilder(**builder.get_params()).fit(c, history=h, profile=p, policies=policies, city=city)
        got.append(b.transform(assemble_pairs(c, p, policies, d)).assign(uscc=c["uscc"].to_numpy(),
                                                                         policy_id=c["policy_id"].to_numpy()))
    got = pd.concat(got, ignore_index=True)
    key = pairs[["uscc", "policy_id"]].astype(str).agg("|".join, axis=1)
    order = pd.Index(got["uscc"].astype(str) + "|" + got["policy_id"].astype(str)).get_indexer(key)
    assert (order >= 0).all()
    _same(got.drop(columns=["uscc", "policy_id"]).iloc[order].reset_index(drop=True), whole)
    assert np.nanmax(whole["seg_click_rate_industry"]) > 0 and (whole["ent_pushes"] > 0).any()
    if tau is not None:
        assert (whole["firm_effect"] != 0).any()
    # the one-partition shortcut: the city is the partition itself
    one = CityStatistics.count(cand, s.profile, d, history=history, policies=policies)
    alone = PairFeatureBuilder(**builder.get_params()).fit(cand, history=history, profile=s.profile,
                                                            policies=policies, city=one).transform(pairs)
    _same(alone, whole)
    scorer = RuleScorer()
    np.testing.assert_array_equal(scorer.score(cand, s.profile, policies, d, history, city=one),
                                  scorer.score(cand, s.profile, policies, d, history))


def test_a_firms_effects_depend_on_its_own_pushes_and_the_citys_offsets(day_inputs):
    s, _, d = day_inputs
    history = s.pushes.drop(columns=["utility"])
    whole = FirmEffects(0.5).fit(history, s.policies, before=d)
    offsets = KeyedCounts.sum([offset_counts(h, d) for h in _split(history, 4)])
    for h in _split(history, 4):
        part = FirmEffects(0.5).fit(h, s.policies, before=d, offsets=offsets)
        firms = part.firms_
        at = whole.firms_.get_indexer(firms)
        for g in whole.groups:
            lv = whole.levels_[g].get_indexer(part.levels_[g])
            np.testing.assert_array_equal(part.effects_[g], whole.effects_[g][np.ix_(at, lv)])


def test_a_builder_on_city_statistics_refuses_other_dates(day_inputs):
    s, cand, d = day_inputs
    city = CityStatistics.count(cand, s.profile, d)
    b = PairFeatureBuilder().fit(cand, profile=s.profile, policies=s.policies, city=city)
    other = assemble_pairs(cand.head(5), s.profile, s.policies, pd.Timestamp(d) + pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="the day of the city statistics"):
        b.transform(other)
    with pytest.raises(ValueError, match="different dates"):
        CityStatistics.sum([city, CityStatistics.count(cand, s.profile, pd.Timestamp(d) + pd.Timedelta(days=1))])


def test_a_history_fitted_once_gives_the_same_counts_and_features(day_inputs):
    """The daily job fits a partition's history once: its city-level totals for the counts, its
    enterprise tables for the ranking — the same numbers as fitting the frame twice."""
    from quanhuiqi.rank.history import HistoryStatistics

    s, cand, d = day_inputs
    history = s.pushes.drop(columns=["utility"])
    cands, profs, hists = _split(cand, 3), _split(s.profile, 3), _split(history, 3)
    fitted = [HistoryStatistics.fit(h, p, s.policies) for h, p in zip(hists, profs)]
    by_frame = CityStatistics.sum([CityStatistics.count(c, p, d, history=h, policies=s.policies)
                                   for c, p, h in zip(cands, profs, hists)])
    by_fit = CityStatistics.sum([CityStatistics.count(c, p, d, history=f, policies=s.policies)
                                 for c, p, f in zip(cands, profs, fitted)])
    for name in by_frame.history:
        pd.testing.assert_frame_equal(by_fit.history[name].frame(), by_frame.history[name].frame())
    pd.testing.assert_frame_equal(by_fit.offsets.frame(), by_frame.offsets.frame())
    city = by_fit.prepared()
    for c, p, h, f in zip(cands, profs, hists, fitted):
        pairs = assemble_pairs(c, p, s.policies, d)
        a = PairFeatureBuilder(firm_effect_tau=0.5).fit(c, history=h, profile=p, policies=s.policies, city=city)
        b = PairFeatureBuilder(firm_effect_tau=0.5).fit(c, history=f, profile=p, policies=s.policies, city=city)
        _same(b.transform(pairs), a.transform(pairs))
