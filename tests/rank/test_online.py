"""OnlineRanker: one enterprise's ranking and reasons, online, equal the batch's for that enterprise."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.eligibility import evaluate
from quanhuiqi.policy import load_book
from quanhuiqi.profile import profile
from quanhuiqi.rank import RuleScorer
from quanhuiqi.rank.online import RECOMMENDATION_COLUMNS, OnlineRanker
from quanhuiqi.rank.train import build_training_data, read_history, train_ranker
from quanhuiqi.tables import read_enterprises, validate_enterprises

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
AS_OF = dt.date(2025, 7, 1)


@cache
def _day():
    book = load_book(SAMPLES / "policies")
    prof = profile(validate_enterprises(read_enterprises(SAMPLES / "enterprises.csv"), AS_OF).clean, AS_OF)
    pairs = evaluate(book, prof, AS_OF, near_misses=False).pairs
    return book, prof, pairs, read_history(SAMPLES)


@cache
def _model():
    return train_ranker(build_training_data(SAMPLES), threads=1, num_boost_round=40).ranker


@cache
def _model_with_firm_effects():
    """The same booster, its score plus each enterprise's own effect (fitted on the history before the day)."""
    from quanhuiqi.rank import LambdaRanker, PairFeatureBuilder

    m = _model()
    return LambdaRanker.from_booster(m.booster_, threads=1, firm_effect_weight=1.0,
                                     builder=PairFeatureBuilder(**dict(m.builder.config(), firm_effect_tau=0.3)))


@pytest.mark.parametrize("which", ["rule", "model", "model_firm_effects"])
def test_online_answers_equal_the_batch_for_each_enterprise(which):
    book, prof, pairs, history = _day()
    scorer = {"rule": RuleScorer, "model": _model, "model_firm_effects": _model_with_firm_effects}[which]()
    online = OnlineRanker(scorer, book, pairs, prof, AS_OF, history)
    rows = prof.sample(30, random_state=1)
    sub = pairs[pairs["uscc"].isin(rows["uscc"])].reset_index(drop=True)  # the batch, for these rows
    feats = scorer.features(sub, prof, book, AS_OF, history, population=pairs)
    # the daily job's reasons for the pairs it publishes: every pair's own contributions (TreeSHAP for a model)
    batch = sub.assign(score=scorer.score(sub, prof, book, AS_OF, history, population=pairs),
                       reason=scorer.explain_features(feats, unknown=sub["unknown"]).to_numpy())
    checked = 0
    for _, row in rows.iterrows():  # one online call per enterprise (tens)
        rec = online.recommend(row, include_auto=True)
        want = batch[batch["uscc"] == row["uscc"]].set_index("policy_id")
        assert set(rec["policy_id"]) == set(want.index)
        got = rec.set_index("policy_id")
        np.testing.assert_array_equal(got["score"].to_numpy(), want.loc[got.index, "score"].to_numpy())
        assert (got["reason"].to_numpy() == want.loc[got.index, "reason"].to_numpy()).all()
        assert (np.diff(rec["score"].to_numpy()) <= 0).all() and list(rec["rank"]) == list(range(1, len(rec) + 1))
        top = online.recommend(row, include_auto=True, top=3)  # evidence built for the returned pairs only
        matched = book.match(row, AS_OF).set_index("policy_id")
        assert list(top["evidence"]) == list(matched.loc[list(top["policy_id"]), "evidence"])
        assert list(got["evidence"]) == list(matched.loc[got.index, "evidence"])
        checked += len(rec)
    assert checked > 100


def test_auto_grants_are_left_out_and_json_rows_work():
    book, prof, pairs, history = _day()
    online = OnlineRanker(RuleScorer(), book, pairs, prof, AS_OF, history)
    auto_ids = set(book.policies.loc[book.policies["mode"] == "auto", "policy_id"])
    seen_auto = False
    for _, row in prof.head(40).iterrows():
        full = online.recommend(row, include_auto=True)
        rec = online.recommend(row)
        auto = full["policy_id"].isin(auto_ids) & (full["verdict"] == "eligible")
        seen_auto |= bool(auto.any())
        assert set(rec["policy_id"]) == set(full.loc[~auto, "policy_id"])
    assert seen_auto
    row = prof.iloc[7]
    as_json = json.loads(prof.iloc[[7]].to_json(orient="records", date_format="iso", force_ascii=False))[0]
    a, b = online.recommend(row, top=5), online.recommend(as_json, top=5)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == RECOMMENDATION_COLUMNS and len(a) <= 5


def test_an_enterprise_with_nothing_open_gets_an_empty_answer_with_the_columns():
    book, prof, pairs, history = _day()
    online = OnlineRanker(RuleScorer(), book, pairs, prof, AS_OF, history)
    row = prof.iloc[0].copy()
    row["status"] = "cancelled"  # an enterprise no longer active qualifies for nothing
    rec = online.recommend(row)
    assert rec.empty and list(rec.columns) == RECOMMENDATION_COLUMNS


def test_granted_and_suppressed_pairs_are_never_recommended():
    from quanhuiqi.tables.columns import DATA_FILES
    from quanhuiqi.tables.io import read_table

    book, prof, pairs, history = _day()
    grants = read_table(SAMPLES / DATA_FILES["grants"])
    sup = read_table(SAMPLES / DATA_FILES["suppressions"])
    # a pair open today that is under a suppression in force, and one already granted
    key = pairs["uscc"].astype(str) + "|" + pairs["policy_id"].astype(str)
    live = sup[(pd.to_datetime(sup["created_on"]) <= pd.Timestamp(AS_OF))
               & (pd.to_datetime(sup["expires_on"]) >= pd.Timestamp(AS_OF))]
    sup_pair = live[(live["uscc"] + "|" + live["policy_id"]).isin(set(key))].iloc[0]
    granted = grants[(grants["uscc"] + "|" + grants["policy_id"]).isin(set(key))
                     & (pd.to_datetime(grants["granted_on"]) <= pd.Timestamp(AS_OF))].iloc[0]
    plain = OnlineRanker(RuleScorer(), book, pairs, prof, AS_OF, history)
    held = OnlineRanker(RuleScorer(), book, pairs, prof, AS_OF, history, grants=grants, suppressions=sup)
    for firm, policy in ((sup_pair["uscc"], sup_pair["policy_id"]), (granted["uscc"], granted["policy_id"])):
        row = prof[prof["uscc"] == firm].iloc[0]
        before = plain.recommend(row, include_auto=True)
        after = held.recommend(row, include_auto=True)
        assert policy in set(before["policy_id"]) and policy not in set(after["policy_id"])
        rest = before[before["policy_id"] != policy].set_index("policy_id")["score"]
        kept = after.set_index("policy_id")["score"]
        assert set(kept.index) <= set(rest.index)
        np.testing.assert_allclose(kept.to_numpy(), rest.loc[kept.index].to_numpy())  # the others' scores unchanged
