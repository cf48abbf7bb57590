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
