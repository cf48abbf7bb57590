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


@pytest.fixture(scope="module")
def real():
    from pathlib import Path

    from quanhuiqi.simulate.core import load_drafts

    root = Path(__file__).resolve().parents[2] / "data_samples"
    return load_drafts(root / "policies_real"), read_city(root, AS_OF)


def test_sweeps_over_a_real_policy_with_yearly_figures_records_and_tiers(real):
    """成都 上规贡献奖 (CD-02): its 2021 revenue gate moved together with the tier that states the same clause, its
    penalty count, a tier's amount — each variant counted as the engine counts the varied policy itself."""
    from quanhuiqi.simulate import VariationError, read_sweeps

    book, city = real
    sweeps = read_sweeps([
        {"policy": "CD-02", "path": ["eligibility.all[3]", "benefit.tiers[0].when"], "values": [3000, "8000万元"]},
        {"policy": "CD-02", "path": "eligibility.all[4].all[1]", "values": [1, 3]},
        {"policy": "CD-02", "path": "benefit.tiers[1].amount", "values": [30]},
    ], book)
    assert [s.current_x for s in sweeps] == [5000.0, 0.0, 20.0]
    assert sweeps[1].variants[0].fields  # a count of 1 is a new derived field: count_ge2
    r = simulate(book.subset(["CD-02"]), city, AS_OF, vary=sweeps)
    rows = r.summary.set_index("variant")
    for s in sweeps:
        for v in s.variants:
            fields = {**book.fields, **v.fields}
            one = PolicyBook([dataclasses.replace(v.policy, valid_from=None, valid_to=None)], fields, "v")
            res = evaluate(one, city.profile, AS_OF, near_misses=False, evidence=False, facts=city.facts,
                           grants=city.grants)
            c = res.counts.iloc[0]
            assert (rows.loc[v.label, "eligible"], rows.loc[v.label, "undetermined"]) == (c["eligible"], c["undetermined"])
            p = res.pairs
            assert rows.loc[v.label, "payout_high"] == pytest.approx(p["amount_max"].fillna(0).sum())
    base = rows.loc["base"]
    assert rows.loc["benefit.tiers[1].amount=30", "eligible"] == base["eligible"]
    assert rows.loc["benefit.tiers[1].amount=30", "payout_low"] > base["payout_low"]
    lower = rows.loc["eligibility.all[3]&benefit.tiers[0].when=3000"]
    assert lower["eligible"] > base["eligible"] and lower["payout_low"] > base["payout_low"]
    with pytest.raises(VariationError, match=r"eligibility.all\[2\]: .* is a record test \(milestone first_in\) without "
                                             r"a number to vary"):
        read_sweeps([{"policy": "CD-02", "path": "eligibility.all[2]", "values": [1]}], book)
    with pytest.raises(VariationError, match=r"benefit.tiers\[5\].amount: the policy has 2 amount tier\(s\)"):
        read_sweeps([{"policy": "CD-02", "path": "benefit.tiers[5].amount", "values": [1]}], book)
    with pytest.raises(VariationError, match=r"benefit.max_amount: the policy pays by tiers"):
        read_sweeps([{"policy": "CD-02", "path": "benefit.max_amount", "values": [1]}], book)
    with pytest.raises(VariationError, match="must name the same kind of value"):
        read_sweeps([{"policy": "CD-02", "path": ["eligibility.all[3]", "benefit.tiers[0].amount"], "values": [1]}], book)
