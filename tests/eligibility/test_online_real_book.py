"""The online matcher on the shipped real book (records, yearly figures, declarations, review notes, amount
tiers, named lists) over the sample city with its fact tables: every column of every pair equal to the batch's,
whole (``match_columns``) and pair by pair in any order (``match_lazy``, what the online ranker asks for)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quanhuiqi as q
from quanhuiqi.eligibility import with_facts
from quanhuiqi.eligibility.batch import PAIR_COLUMNS
from quanhuiqi.policy import load_book

DATA = Path(__file__).resolve().parents[2] / "data_samples"
AS_OF = "2025-07-01"
N = 400  # enterprises called online (of 5,000): enough for hundreds of pairs with evidence and review notes


@pytest.fixture(scope="module")
def city():
    book = load_book(DATA / "policies_real")
    clean = q.validate_enterprises(q.read_enterprises(DATA / "enterprises.csv"), AS_OF).clean
    prof = q.profile(clean, AS_OF)
    facts, _ = q.load_fact_tables(DATA, AS_OF, known_uscc=clean["uscc"], vocabularies=book.table_vocabularies())
    rows = with_facts(book, prof, facts, AS_OF).head(N)
    batch = q.evaluate_eligibility(book, rows, AS_OF, near_misses=False).pairs
    return book, facts, rows, batch


def _frame(cols: dict[str, list]) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.array(cols[c], dtype="string") for c in PAIR_COLUMNS if not c.startswith("amount")})
    for c in ("amount", "amount_max"):
        out[c] = np.array(cols[c], dtype="float64").round(6)
    return out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["uscc", "policy_id"]).reset_index(drop=True)


def test_online_pairs_equal_the_batch_on_the_real_book(city):
    book, _, rows, batch = city
    m = book._online
    online = pd.concat([_frame(m.match_columns(r, AS_OF)) for r in rows.to_dict("records")], ignore_index=True)
    want = batch[PAIR_COLUMNS].astype({c: "string" for c in PAIR_COLUMNS if not c.startswith("amount")})
    want = want.assign(amount=want["amount"].astype("float64").round(6),
                       amount_max=want["amount_max"].astype("float64").round(6))
    pd.testing.assert_frame_equal(_sorted(online), _sorted(want))
    reviewed = want["evidence"].str.startswith("须经审定").fillna(False)
    assert reviewed.any() and (~reviewed & want["evidence"].str.len().gt(0)).any()
    assert want["unknown"].str.len().gt(0).any() and (want["verdict"] == "eligible").any()


def test_lazy_evidence_in_any_order_and_from_the_enterprises_own_records(city):
    book, facts, rows, _ = city
    m = book._online
    checked = reviewed = 0
    derived = {f.name for f in m.derived}
    for i, r in enumerate(rows.head(120).to_dict("records")):
        full = m.match_columns(r, AS_OF)
        n = len(full["policy_id"])
        cols, evidence = m.match_lazy(r, AS_OF)
        assert {c: cols[c] for c in cols if not c.startswith("amount")} == {
            c: full[c] for c in cols if not c.startswith("amount")}
        for some in (list(range(n))[::-2], list(range(n))[1::3], [n - 1, 0] if n > 1 else []):
            assert evidence(some) == [full["evidence"][k] for k in some]
            checked += len(some)
        reviewed += sum(t.startswith("须经审定") for t in full["evidence"])
        if i < 30:  # the enterprise's own records instead of the derived columns: the same answer
            own = m.match_columns({k: v for k, v in r.items() if k not in derived}, AS_OF,
                                  facts.for_usccs([r["uscc"]]))
            pd.testing.assert_frame_equal(_frame(own), _frame(full))
    assert checked > 300 and reviewed > 0


def test_the_remembered_texts_follow_each_call_and_stay_bounded(city, monkeypatch):
    """The matcher remembers texts across calls (each set of missing facts, each shown value): a later call with
    other values gets its own texts, and the memo is bounded — past its limit it starts again, same answers."""
    import quanhuiqi.tables.record as record
    from quanhuiqi.eligibility.online import OnlineMatcher

    book, _, rows, batch = city
    monkeypatch.setattr(record, "_MEMO_LIMIT", 3)
    m = OnlineMatcher(book.compiled)
    first = rows.head(60).to_dict("records")
    numbers = [n for n in m.cb.fields if m.cb.fields[n].type == "number" and n in rows.columns]
    # the same enterprises again with their numbers unknown, then doubled: other missing facts, other values
    blanked = [{**r, **{n: None for n in numbers}} for r in first]
    doubled = [{**r, **{n: (None if r[n] is None or r[n] != r[n] else 2 * r[n]) for n in numbers}} for r in first]
    cols = ["uscc", "policy_id", "verdict", "unknown", "evidence"]
    seen = []
    for group in (first, blanked, doubled):
        want = q.evaluate_eligibility(book, pd.DataFrame(group).astype(rows.dtypes.to_dict()), AS_OF,
                                      near_misses=False).pairs
        got = pd.concat([_frame(m.match_columns(r, AS_OF)) for r in group], ignore_index=True)
        pd.testing.assert_frame_equal(_sorted(got[cols]), _sorted(want[cols].astype("string")))
        assert 0 < len(m._memo["unknown"]) <= 3
        seen.append(got)
    # the calls really differ: more facts missing once the numbers are blanked, other values shown once doubled
    assert seen[1]["unknown"].str.len().sum() > seen[0]["unknown"].str.len().sum()
    assert not set(seen[2]["evidence"]) <= set(seen[0]["evidence"])
