"""The online ranker's numpy path: features and reasons bit-identical to the batch's."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanhuiqi.eligibility import evaluate
from quanhuiqi.policy import load_book
from quanhuiqi.profile import profile
from quanhuiqi.rank import PairFeatureBuilder, RuleScorer, assemble_pairs
from quanhuiqi.rank.city import CityStatistics
from quanhuiqi.rank.explain import reason_sentences, reason_texts, with_missing_facts
from quanhuiqi.rank.online_features import OnlineFeatures
from quanhuiqi.rank.pairs import policy_frame
from quanhuiqi.rank.train import build_training_data, read_history, train_ranker
from quanhuiqi.tables import read_enterprises, validate_enterprises

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
AS_OF = dt.date(2025, 7, 1)


@cache
def _day():
    book = load_book(SAMPLES / "policies")
    prof = profile(validate_enterprises(read_enterprises(SAMPLES / "enterprises.csv"), AS_OF).clean, AS_OF)
    pairs = evaluate(book, prof, AS_OF, near_misses=False).pairs
    return book, prof, pairs, read_history(SAMPLES), policy_frame(book)


@cache
def _fitted(tau: float | None):
    book, prof, pairs, history, pol = _day()
    city = CityStatistics.count(pairs, prof, AS_OF, history=history, policies=pol)
    builder = PairFeatureBuilder(firm_effect_tau=tau).fit(pairs, history=history, profile=prof, policies=pol,
                                                          city=city)
    return builder, OnlineFeatures(builder, pol, AS_OF)


def _bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


@pytest.mark.parametrize("tau", [None, 0.3])
def test_every_feature_of_every_pair_equals_the_batch(tau):
    book, prof, pairs, _, pol = _day()
    builder, fast = _fitted(tau)
    want = builder.transform(assemble_pairs(pairs, prof, pol, AS_OF, only_features=True)).to_numpy()
    at = {(u, p): i for i, (u, p) in enumerate(zip(pairs["uscc"].astype(str), pairs["policy_id"].astype(str)))}
    rows = prof.sample(1500, random_state=4)
    checked, bad = 0, {}
    for row in rows.to_dict("records"):
        m = book._online.match_columns(row, AS_OF)
        if not m["policy_id"]:
            continue
        got = fast.features(row, m["policy_id"], m["verdict"], m["unknown"], m["mode"])
        ref = want[[at[(row["uscc"], p)] for p in m["policy_id"]]]
        for j in np.flatnonzero(~_bits(got, ref).all(axis=0)):
            bad[fast.names[j]] = bad.get(fast.names[j], 0) + 1
        checked += len(m["policy_id"])
    assert checked > 10000 and not bad, bad


_ROW = st.fixed_dictionaries({}, optional={
    "revenue": st.one_of(st.none(), st.floats(-10, 1e6), st.sampled_from(["12.5", "abc", ""])),
    "employees": st.one_of(st.none(), st.integers(0, 5000), st.sampled_from(["300", "n/a"])),
    "size_class": st.sampled_from([None, "micro", "small", "medium", "large", "巨型"]),
    "industry_division": st.sampled_from([None, "39", "65", "99", "XX"]),
    "district_code": st.sampled_from([None, "370102", "370112", "370000", "110101"]),
    "industry_code": st.sampled_from([None, "3911", "C", "6513", "7"]),
    "chains": st.sampled_from([None, "", "electronic_info", "biomedicine;electronic_info", "unknown_chain"]),
    "tags": st.sampled_from([None, "", "制造业", "服务业;高新"]),
    "certifications": st.sampled_from([None, "", "high_tech", "high_tech;srdi_sme"]),
    "established_on": st.sampled_from([None, "2019-03-05", "2019-03-05T00:00:00.000", "not a date",
                                       pd.Timestamp("2010-01-01")]),
    "above_scale": st.sampled_from([None, True, False]),
    "tax_credit_rating": st.sampled_from([None, "A", "B", "Z"]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=_ROW, drop=st.sets(st.sampled_from(["chains", "tags", "industry_code", "district_code",
                                                  "established_on", "revenue"]), max_size=3),
       which=st.integers(0, 4000))
def test_a_changed_or_partial_row_gets_what_the_batch_would_compute_for_it(changes, drop, which):
    """Rows as the backend may hold them (JSON values, text numbers, missing or absent fields): the fast
    features equal the builder's transform of the same row assembled as a one-row profile."""
    book, prof, pairs, _, pol = _day()
    builder, fast = _fitted(0.3)
    row = {k: v for k, v in prof.iloc[which].to_dict().items() if k not in drop}
    row.update(changes)
    cand = pairs[pairs["uscc"] == row["uscc"]].reset_index(drop=True)
    if cand.empty:
        return
    cand = cand[cand["policy_id"].isin(builder.population_.policies)].reset_index(drop=True)
    want = builder.transform(assemble_pairs(cand, pd.DataFrame([row]), pol, AS_OF, only_features=True)).to_numpy()
    got = fast.features(row, list(cand["policy_id"].astype(str)), list(cand["verdict"]), list(cand["unknown"]),
                        list(cand["mode"]))
    bad = [fast.names[j] for j in np.flatnonzero(~_bits(got, want).all(axis=0))]
    assert not bad, bad


@cache
def _model():
    return train_ranker(build_training_data(SAMPLES), threads=1, num_boost_round=40).ranker


@pytest.mark.parametrize("which", ["rule", "model"])
def test_reasons_row_by_row_equal_the_batch_sentences(which):
    book, prof, pairs, history, pol = _day()
    builder, _ = _fitted(None)
    scorer = RuleScorer() if which == "rule" else _model()
    sub = pairs.sample(4000, random_state=1).reset_index(drop=True)
    feats = builder.transform(assemble_pairs(sub, prof, pol, AS_OF, only_features=True))
    want = with_missing_facts(reason_sentences(scorer.contributions(feats), feats), sub["unknown"])
    got = reason_texts(scorer.contribution_matrix(feats.to_numpy(), list(feats.columns)), feats.to_numpy(),
                       list(feats.columns), list(sub["unknown"]))
    assert list(want) == got
    np.testing.assert_array_equal(scorer.score_matrix(feats.to_numpy(), list(feats.columns)),
                                  scorer.score_features(feats))
