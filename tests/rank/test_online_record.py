"""OnlineRanker.recommend_record: one raw record (with the facts its enterprise just supplied) answered as the
batch answers a table holding that record — validation, profile, eligibility, ranking — or refused by name."""

from __future__ import annotations

import datetime as dt
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.eligibility import evaluate, with_facts
from quanhuiqi.policy import load_book
from quanhuiqi.profile import profile
from quanhuiqi.rank import RuleScorer
from quanhuiqi.rank.online import OnlineRanker, RecordRefused
from quanhuiqi.rank.train import build_training_data, read_history, train_ranker
from quanhuiqi.tables import read_enterprises, validate_enterprises
from quanhuiqi.tables.facts import facts_from_records, load_fact_tables
from quanhuiqi.tables.io import InputError

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
AS_OF = dt.date(2025, 7, 1)
FACT_POLICY = """
- id: JN-TEST-FACTS-001
  title: 高企营收增长奖励
  department: 市科技局
  mode: apply
  valid_from: 2025-01-01
  valid_to: 2025-12-31
  benefit: {kind: reward, max_amount: 30}
  eligibility:
    all:
      - {field: status, op: eq, value: active}
      - {field: certificate, op: held, item: high_tech}
      - {field: revenue, year: last, op: ge, value: 500}
      - {field: penalty, op: count_le, value: 0, window: {last_years: 3}}
"""


@cache
def _day(tmp: str):
    """The sample city with one more policy that reads the fact tables; its day's batch and ranker inputs."""
    book_dir = Path(tmp) / "policies"
    if not book_dir.exists():
        shutil.copytree(SAMPLES / "policies", book_dir)
        (book_dir / "facts_test.yaml").write_text(FACT_POLICY, encoding="utf-8")
    book = load_book(book_dir)
    assert book.compiled.derived_fields
    raw = read_enterprises(SAMPLES / "enterprises.csv")
    v = validate_enterprises(raw, AS_OF)
    facts, _ = load_fact_tables(SAMPLES, AS_OF, known_uscc=v.clean["uscc"])
    prof = with_facts(book, profile(v.clean, AS_OF), facts, AS_OF)
    pairs = evaluate(book, prof, AS_OF, near_misses=False, facts=facts).pairs
    records = {}
    for name in facts.supplied():
        t = getattr(facts, name)
        records[name] = {u: g.drop(columns=["uscc", "row"], errors="ignore").to_dict("records")
                         for u, g in t.groupby("uscc")}
    return book, raw, pairs, prof, read_history(SAMPLES), records


@cache
def _model():
    return train_ranker(build_training_data(SAMPLES), threads=1, num_boost_round=40).ranker


def _batch(online: OnlineRanker, scorer, record: dict, facts: dict | None) -> pd.DataFrame:
    """The batch on a one-row table holding the record (and its fact records), ranked against the day."""
    book = online.book
    prof = profile(validate_enterprises(pd.DataFrame([record]), AS_OF).clean, AS_OF)
    fb = None if facts is None else facts_from_records(facts, str(prof["uscc"].iloc[0]), AS_OF,
                                                       book.table_vocabularies())
    prof = with_facts(book, prof, fb, AS_OF)
    pairs = evaluate(book, prof, AS_OF, near_misses=False, facts=fb).pairs
    pairs = pairs[~((pairs["mode"] == "auto") & (pairs["verdict"] == "eligible"))].reset_index(drop=True)
    if pairs.empty:
        return pairs
    h = online.history_  # the enterprise's own pushes: the city-level figures come from the day's statistics
    feats = scorer.features(pairs, prof, book, AS_OF, h[h["uscc"] == prof["uscc"].iloc[0]].reset_index(drop=True),
                            city=online.city)
    return pairs.assign(score=scorer.score_features(feats),
                        reason=scorer.explain_features(feats, unknown=pairs["unknown"]).to_numpy())


@pytest.mark.parametrize("which", ["rule", "model"])
def test_raw_records_with_and_without_facts_are_answered_as_the_batch(which, tmp_path_factory):
    book, raw, pairs, prof, history, fact_records = _day(str(tmp_path_factory.getbasetemp() / "book"))
    scorer = RuleScorer() if which == "rule" else _model()
    online = OnlineRanker(scorer, book, pairs, prof, AS_OF, history)
    online.history_ = history
    few = 5 if which == "rule" else 3  # each is checked against a whole batch run of its own
    rows = raw.sample(few, random_state=7).to_dict("records")
    target = pairs[(pairs["policy_id"] == "JN-TEST-FACTS-001") & (pairs["verdict"] == "eligible")]["uscc"]
    held = raw[raw["uscc"].isin(set(target.astype(str)))].head(few).to_dict("records")
    compared = with_facts_seen = 0
    for record in rows + held:
        want_v = validate_enterprises(pd.DataFrame([record]), AS_OF)
        uscc = None if want_v.clean.empty else str(want_v.clean["uscc"].iloc[0])
        if uscc is None:
            with pytest.raises(RecordRefused):
                online.recommend_record(record)
            continue
        facts = {name: recs.get(uscc, []) for name, recs in fact_records.items()}
        for f in (None, facts):
            got = online.recommend_record(record, facts=f)
            want = _batch(online, scorer, record, f)
            g = got.recommendations.set_index("policy_id")
            assert set(g.index) == set(want["policy_id"])
            if want.empty:
                continue
            w = want.set_index("policy_id").loc[g.index]
            np.testing.assert_array_equal(g["score"].to_numpy(), w["score"].to_numpy())
            for col in ("verdict", "unknown", "evidence", "reason"):
                assert list(g[col].fillna("")) == list(w[col].astype("string").fillna("")), col
            compared += len(g)
            with_facts_seen += f is not None and "JN-TEST-FACTS-001" in g.index and \
                g.loc["JN-TEST-FACTS-001", "verdict"] == "eligible"
    assert compared > 8 * few and with_facts_seen > 0


def test_a_record_the_batch_would_refuse_is_refused_by_name_and_cleared_values_are_listed(tmp_path_factory):
    book, raw, pairs, prof, history, _ = _day(str(tmp_path_factory.getbasetemp() / "book"))
    online = OnlineRanker(RuleScorer(), book, pairs, prof, AS_OF, history)
    record = raw.iloc[3].to_dict()
    code = str(record["uscc"]).strip()
    bad = dict(record, uscc=code[:-1] + ("0" if code[-1] != "0" else "1"))  # the check character wrong
    with pytest.raises(RecordRefused, match=r"uscc: invalid uscc: check character .* wrong") as err:
        online.recommend_record(bad)
    pd.testing.assert_frame_equal(err.value.rejects, validate_enterprises(pd.DataFrame([bad]), AS_OF).rejects)
    with pytest.raises(RecordRefused, match="name: missing required value"):
        online.recommend_record(dict(record, name="  "))
    messy = dict(record, revenue="-12", established_on="2031-02-30", district_code="999999", certifications="foo")
    answer = online.recommend_record(messy)
    want = validate_enterprises(pd.DataFrame([messy]), AS_OF).rejects
    pd.testing.assert_frame_equal(answer.rejects, want)
    assert set(want["column"]) == {"revenue", "established_on", "district_code", "certifications"}
    assert answer.profile["revenue"] != answer.profile["revenue"]  # cleared: unknown, never 0
    # a fact record the batch would refuse: refused by name, with the batch's words (the first refusal)
    for facts, words in (({"certificates": [{"item": "high_tech", "awarded_on": "2031-01-01"}]},
                          r"certificates\[0\]: awarded_on: date after as_of 2025-07-01"),
                         ({"yearly": [{"year": 2024, "revenue": 10}, {"year": "2024.5", "revenue": 3}]},
                          r"yearly\[1\]: year: year is not a whole number"),
                         ({"penalties": [{"item": "no such penalty", "occurred_on": "2024-01-01"}]},
                          r"penalties\[0\]: item: unknown penalty item")):
        with pytest.raises(InputError) as want:
            facts_from_records(facts, code, AS_OF, book.table_vocabularies())
        with pytest.raises(InputError, match=words) as got:
            online.recommend_record(record, facts=facts)
        assert str(got.value) == str(want.value)
