"""Cross-policy rules (once, exclusive) against the grants history, amount tiers, discretionary review and
named industry lists, through the batch engine and the online matcher alike."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.eligibility import evaluate
from quanhuiqi.policy import load_book
from quanhuiqi.tables import make_uscc, org_check_char

AS_OF = dt.date(2025, 7, 1)


def u(i: int) -> str:
    org = f"MA{i:06d}"
    return make_uscc("91370100" + org + org_check_char(org))


BOOK = """
- id: A-1
  title: 甲奖励
  department: 区科技局
  mode: apply
  once: lifetime
  exclusive: gx
  benefit: {kind: reward, max_amount: 30}
  eligibility: {all: [{field: revenue, op: ge, value: 100}]}
- id: A-2
  title: 乙奖励
  department: 区科技局
  mode: apply
  exclusive: {group: gx, per: year}
  once: year
  benefit:
    kind: reward
    tiers:
      - {amount: 50, when: {field: revenue, op: ge, value: 1000}}
      - {amount: 100, when: {field: revenue, op: ge, value: 10000}}
  eligibility: {all: [{field: revenue, op: ge, value: 100}]}
- id: A-3
  title: 丙补助（须审定）
  department: 区工信局
  mode: instant
  review: 经评审择优
  benefit: {kind: subsidy, max_amount: 10}
  eligibility: {all: [{field: industry_code, op: in_list, value: sei_2018}]}
"""


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    d = tmp_path_factory.mktemp("xbook")
    (d / "p.yaml").write_text(BOOK, encoding="utf-8")
    return load_book(d)


def profile(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["uscc"] = df["uscc"].astype("string")
    return df


def test_once_and_exclusive_block_pairs_and_name_the_grant(book):
    prof = profile([{"uscc": u(i), "revenue": r} for i, r in enumerate([200.0, 200.0, 200.0, 200.0, 5000.0])])
    grants = pd.DataFrame({
        "uscc": [u(0), u(1), u(2), u(3)],
        "policy_id": ["A-1", "A-2", "A-2", "A-1"],
        "granted_on": pd.to_datetime(["2019-05-01", "2025-02-01", "2024-02-01", "2024-12-31"]),
    })  # fmt: skip
    res = evaluate(book, prof, AS_OF, grants=grants)
    pairs = set(zip(res.pairs["uscc"], res.pairs["policy_id"], strict=True))
    blocked = res.blocked.set_index(["uscc", "policy_id"])
    # u0: A-1 granted in 2019 → once lifetime blocks A-1; A-2's exclusive is per year, 2019 is not this year
    assert (u(0), "A-1") in blocked.index and blocked.loc[(u(0), "A-1"), "rule"] == "once_lifetime"
    assert (u(0), "A-2") in pairs
    # u1: A-2 granted this year → once per year blocks A-2, exclusive (any year for A-1: per year) blocks A-1
    assert blocked.loc[(u(1), "A-2"), "rule"] == "once_year"
    assert blocked.loc[(u(1), "A-1"), "blocking_policy"] == "A-2"
    # u2: A-2 granted last year: nothing blocks A-2 this year; A-1 (exclusive per year) is free too
    assert {(u(2), "A-1"), (u(2), "A-2")} <= pairs
    # u3: A-1 granted last year (lifetime once) blocks A-1 only
    assert (u(3), "A-1") in blocked.index and (u(3), "A-2") in pairs
    assert blocked.loc[(u(3), "A-1"), "granted_on"] == pd.Timestamp("2024-12-31")
    assert not (set(zip(res.blocked["uscc"], res.blocked["policy_id"], strict=True)) & pairs)
    counts = res.counts.set_index("policy_id")
    assert counts.loc["A-1", "blocked"] == 3 and counts.loc["A-2", "blocked"] == 1


def test_tiers_give_the_proven_amount_and_the_range_when_facts_are_unknown(book):
    prof = profile([{"uscc": u(0), "revenue": 500.0}, {"uscc": u(1), "revenue": 5000.0},
                    {"uscc": u(2), "revenue": 20000.0}, {"uscc": u(3), "revenue": np.nan}])
    res = evaluate(book, prof, AS_OF)
    a2 = res.pairs[res.pairs["policy_id"] == "A-2"].set_index("uscc")
    assert np.isnan(a2.loc[u(0), "amount"]) and np.isnan(a2.loc[u(0), "amount_max"])  # no tier reached
    assert a2.loc[u(1), ["amount", "amount_max"]].tolist() == [50.0, 50.0]
    assert a2.loc[u(2), ["amount", "amount_max"]].tolist() == [100.0, 100.0]
    assert a2.loc[u(3), "verdict"] == "undetermined"
    assert np.isnan(a2.loc[u(3), "amount"]) and a2.loc[u(3), "amount_max"] == 100.0
    for i in range(4):  # online: the same amounts
        on = book.match(prof.iloc[i], AS_OF).set_index("policy_id").loc["A-2"]
        for c in ("amount", "amount_max"):
            assert (np.isnan(on[c]) and np.isnan(a2.loc[u(i), c])) or on[c] == a2.loc[u(i), c]
    a1 = res.pairs[res.pairs["policy_id"] == "A-1"]
    assert (a1["amount"] == 30.0).all() and (a1["amount_max"] == 30.0).all()


def test_review_is_said_in_the_evidence_and_named_lists_are_three_valued(book):
    # 3911 计算机整机制造 is a full SEI member, 3919 only partly (unknown), 39 could be either, 0111 is not in it
    codes = ["3911", "3919", "39", "0111", None]
    prof = profile([{"uscc": u(i), "industry_code": c} for i, c in enumerate(codes)])
    res = evaluate(book, prof, AS_OF)
    a3 = res.pairs[res.pairs["policy_id"] == "A-3"].set_index("uscc")
    assert a3.loc[u(0), "verdict"] == "eligible"
    assert a3.loc[u(1), "verdict"] == "undetermined" and a3.loc[u(2), "verdict"] == "undetermined"
    assert u(3) not in a3.index
    assert a3.loc[u(4), "verdict"] == "undetermined"
    assert a3.loc[u(0), "evidence"].startswith("须经审定（经评审择优）；行业属于战略性新兴产业（2018）（计算机整机制造）")
    online = book.match(prof.iloc[0], AS_OF).set_index("policy_id").loc["A-3", "evidence"]
    assert online == a3.loc[u(0), "evidence"]
