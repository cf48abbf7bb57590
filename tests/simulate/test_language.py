"""The policy language's later parts in the simulation: fact tables (a record test), amount tiers, and the
cross-policy rules enforced against the grants — the counts and amounts the engine's own ``evaluate`` gives."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("quanhuiqi.tables.facts", reason="the policy language's fact tables, tiers and cross-policy "
                                                     "rules (issue 13) are not in this engine yet")

from quanhuiqi.eligibility import evaluate  # noqa: E402
from quanhuiqi.policy import load_book  # noqa: E402
from quanhuiqi.policy.book import PolicyBook  # noqa: E402
from quanhuiqi.simulate import CityData, read_city, simulate  # noqa: E402
from quanhuiqi.tables import make_uscc, org_check_char  # noqa: E402

AS_OF = dt.date(2025, 7, 1)
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
  benefit:
    kind: reward
    tiers:
      - {amount: 50, when: {field: revenue, op: ge, value: 1000}}
      - {amount: 100, when: {field: revenue, op: ge, value: 10000}}
  eligibility: {all: [{field: revenue, op: ge, value: 100}]}
- id: C-1
  title: 高企奖励
  department: 市科技局
  mode: apply
  benefit: {kind: subsidy, max_amount: 20}
  eligibility: {all: [{field: certificate, op: held, item: high_tech}]}
"""


def u(i: int) -> str:
    org = f"MA{i:06d}"
    return make_uscc("91370100" + org + org_check_char(org))


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    from quanhuiqi.tables.facts import FactTables, validate_fact_table

    d = tmp_path_factory.mktemp("lang")
    (d / "p.yaml").write_text(BOOK, encoding="utf-8")
    book = load_book(d)
    revenue = [200.0, 200.0, 5000.0, 20000.0, np.nan, 500.0, np.nan, 50.0]
    prof = pd.DataFrame({"uscc": pd.array([u(i) for i in range(len(revenue))], dtype="string"),
                         "name": pd.array([f"企业{i}" for i in range(len(revenue))], dtype="string"),
                         "revenue": revenue})
    grants = pd.DataFrame({"uscc": [u(0), u(1)], "policy_id": ["A-1", "A-2"],
                           "granted_on": pd.to_datetime(["2019-05-01", "2025-02-01"])})
    cert = pd.DataFrame({"uscc": [u(2), u(5)], "item": ["high_tech", "high_tech"], "level": ["national", "national"],
                         "awarded_on": ["2024-11-20", "2020-01-01"], "valid_from": ["2024-11-20", "2020-01-01"],
                         "valid_to": ["2027-11-19", "2022-12-31"]})
    facts = FactTables(certificates=validate_fact_table("certificates", cert, AS_OF, prof["uscc"]).clean)
    return book, prof, grants, facts


def _engine(book, prof, facts, grants):
    windowless = PolicyBook([dataclasses.replace(p, valid_from=None, valid_to=None) for p in book.items],
                            book.fields, book.version)
    return evaluate(windowless, prof, AS_OF, near_misses=False, evidence=False, facts=facts, grants=grants)


def test_counts_blocked_pairs_and_tier_amounts_are_the_engines(setting):
    book, prof, grants, facts = setting
    city = dataclasses.replace(CityData(AS_OF, prof), grants=grants, facts=facts)
    r = simulate(book, city, AS_OF, estimator="data")
    res = _engine(book, prof, facts, grants)
    s = r.summary.set_index("policy_id")
    c = res.counts.set_index("policy_id")
    for pid in ("A-1", "A-2", "C-1"):
        assert s.loc[pid, "eligible"] == c.loc[pid, "eligible"], pid
        assert s.loc[pid, "undetermined"] == c.loc[pid, "undetermined"], pid
    assert r.policies.set_index("policy_id").loc["A-1", "blocked"] == c.loc["A-1", "blocked"] == 2  # once, exclusive
    assert r.policies.set_index("policy_id").loc["A-2", "blocked"] == c.loc["A-2", "blocked"]  # its own grant: no once
    p = res.pairs
    a2 = p[p["policy_id"] == "A-2"]
    low = a2.loc[a2["verdict"] == "eligible", "amount"].fillna(0).sum()
    high = a2["amount_max"].fillna(0).sum()
    assert s.loc["A-2", "payout_low"] == pytest.approx(low)
    assert s.loc["A-2", "payout_high"] == pytest.approx(high)
    assert s.loc["A-2", "payout_low"] <= s.loc["A-2", "payout_central"] <= s.loc["A-2", "payout_high"]
    # the record test: the valid certificate proves it, the expired one and the rest do not
    assert s.loc["C-1", "eligible"] == 1 and s.loc["C-1", "undetermined"] == 0
    # without the certificates table its facts are unknown for everyone
    bare = simulate(book, CityData(AS_OF, prof), AS_OF, estimator="data").summary.set_index("policy_id")
    assert bare.loc["C-1", "eligible"] == 0 and bare.loc["C-1", "undetermined"] == len(prof)
    assert bare.loc["A-1", "eligible"] == s.loc["A-1", "eligible"] + c.loc["A-1", "blocked"]  # no grants, no blocks


def test_read_city_reads_the_fact_tables(setting, tmp_path):
    book, prof, grants, facts = setting
    from quanhuiqi.synth import generate_city

    generate_city(tmp_path, n_enterprises=300, seed=3, history=False)
    city = read_city(tmp_path, AS_OF)
    assert city.facts is not None
    assert set(city.facts.supplied()) >= {"certificates"} or not list(tmp_path.glob("certificates.*"))
    for name in city.facts.supplied():
        assert city.inputs[name]["clean"] == len(getattr(city.facts, name))
