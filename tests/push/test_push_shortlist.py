"""The pre-score shortlist and the integer-keyed rules: same decisions, every pair accounted for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.push.prescore import policy_terms, prescore
from quanhuiqi.push.rules import PushRules, apply_push_rules, hold_before_ranking, shortlist
from quanhuiqi.rank import RuleScorer

DAY = "2025-07-01"


def candidates(n_ent=40, n_pol=25, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"U{u:04d}", f"P{p:03d}") for u in range(n_ent) for p in range(n_pol) if rng.random() < 0.7]
    c = pd.DataFrame(rows, columns=["uscc", "policy_id"])
    n = len(c)
    c["verdict"] = rng.choice(["eligible", "undetermined"], n)
    c["unknown"] = np.where(c["verdict"] == "undetermined", rng.choice(["revenue", "revenue;employees"], n), "")
    c["mode"] = rng.choice(["apply", "instant", "auto"], n)
    c["amount"] = rng.choice([np.nan, 5.0, 50.0, 300.0], n)
    c["valid_from"] = rng.choice(["2025-01-01", "2025-06-28"], n)
    c["valid_to"] = rng.choice(["2025-07-10", "2025-12-31"], n)
    c["score"] = rng.random(n)
    c["evidence"] = "证据"
    return c


def policies(c: pd.DataFrame) -> pd.DataFrame:
    p = c.drop_duplicates("policy_id")[["policy_id", "mode", "valid_from", "valid_to"]].reset_index(drop=True)
    p["target_industries"] = np.where(np.arange(len(p)) % 3 == 0, "C39", "")
    p["target_districts"] = np.where(np.arange(len(p)) % 2 == 0, "3701", "370102")
    return p


def as_strings(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype({c: "string" for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)})


def test_categorical_and_string_candidates_give_identical_decisions():
    c = candidates()
    history = pd.DataFrame({"date": ["2025-06-20", "2025-06-25"], "uscc": c["uscc"].iloc[[0, 5]].tolist(),
                            "policy_id": c["policy_id"].iloc[[0, 5]].tolist(), "verdict": ["eligible", "x"]})
    grants = pd.DataFrame({"uscc": [c["uscc"].iloc[7]], "policy_id": [c["policy_id"].iloc[7]], "granted_on": ["2025-01-02"]})
    kw = dict(as_of=DAY, history=history, grants=grants)
    plain = apply_push_rules(c, **kw)
    cat = c.astype({"uscc": "category", "policy_id": "category", "verdict": "category", "mode": "category"})
    coded = apply_push_rules(cat, **kw)
    pd.testing.assert_frame_equal(plain.push_list, coded.push_list)
    pd.testing.assert_frame_equal(as_strings(plain.held_back), as_strings(coded.held_back))
    pd.testing.assert_frame_equal(plain.auto_grant, coded.auto_grant)


def test_lookup_takes_the_first_row_of_the_other_table():
    c = candidates(n_ent=3, n_pol=3)
    first, second = "第一次", "第二次"
    u, p = c["uscc"].iloc[0], c["policy_id"].iloc[0]
    sup = pd.DataFrame({"uscc": [u, u, "NOT-A-CANDIDATE"], "policy_id": [p, p, p], "reason": [first, second, "x"]})
    h = hold_before_ranking(c, as_of=DAY, suppressions=sup)
    assert h.texts[h.detail[0]] == f"suppressed: {first}"
    assert (h.rule > 0).sum() >= 1


def test_shortlist_as_long_as_the_lists_changes_nothing():
    c = candidates()
    rules = PushRules()
    full = apply_push_rules(c, as_of=DAY, rules=rules)
    h = hold_before_ranking(c, as_of=DAY, rules=rules)
    shortlist(h, c["score"].to_numpy(), per_enterprise=len(c), rules=rules)
    again = apply_push_rules(c, as_of=DAY, rules=rules, holds=h)
    pd.testing.assert_frame_equal(full.push_list, again.push_list)
    assert "shortlist" not in set(again.held_back["rule"])


@pytest.mark.parametrize("n", [1, 2, 4])
def test_a_short_shortlist_holds_back_the_rest_and_the_accounting_closes(n):
    c = candidates()
    rules = PushRules(max_per_enterprise=3)
    h = hold_before_ranking(c, as_of=DAY, rules=rules)
    open_before = h.open.copy()
    pre = c["score"].to_numpy()  # the pre-score equals the score here: the shortlist keeps the best
    ranked = shortlist(h, pre, per_enterprise=n, rules=rules)
    # announced new policies are never shortlisted away
    new_eligible = (pd.to_datetime(c["valid_from"]) == "2025-06-28") & (c["verdict"] == "eligible")
    assert not ((h.rule == 7) & new_eligible.to_numpy()).any()  # RULES[6] == "shortlist"
    kept_per_ent = pd.Series(ranked & ~(open_before & new_eligible.to_numpy())).groupby(c["uscc"]).sum()
    assert kept_per_ent.max() <= n
    d = apply_push_rules(c, as_of=DAY, rules=rules, holds=h)
    assert len(d.push_list) + len(d.held_back) == len(c)
    capped = d.push_list.merge(c[["uscc", "policy_id", "valid_from"]], on=["uscc", "policy_id"])
    per = capped[capped["valid_from"] != "2025-06-28"].groupby("uscc").size()
    assert per.max() <= min(n, 3)
    if n < 3:
        assert "shortlist" in set(d.held_back["rule"])


def test_prescore_follows_the_rule_scorer_weights():
    c = candidates()
    w = dict(RuleScorer.DEFAULT_WEIGHTS)
    terms = policy_terms(policies(c), pd.Timestamp(DAY), w)
    s = prescore(c, terms, w)
    assert s.shape == (len(c),) and np.isfinite(s).all()
    # same policy, same enterprise count: eligible beats undetermined, fewer missing facts beat more
    base = c.iloc[[0]].copy()
    variants = pd.concat([base.assign(uscc=f"X{i}", verdict=v, unknown=u, amount=50.0)
                          for i, (v, u) in enumerate([("eligible", ""), ("undetermined", "revenue"),
                                                      ("undetermined", "revenue;employees")])])
    sv = prescore(variants, terms, w)
    assert sv[0] > sv[1] > sv[2]
    assert sv[0] - sv[1] == pytest.approx(w["is_eligible"] - w["n_unknown"])
    # a larger benefit scores higher
    money = prescore(pd.concat([base.assign(amount=a, uscc=f"Y{a}") for a in (5.0, 300.0)]), terms, w)
    assert money[1] > money[0]
    cat = c.astype({"uscc": "category", "policy_id": "category", "verdict": "category", "unknown": "category"})
    np.testing.assert_allclose(prescore(cat, terms, w), s)
    # a city-wide district test targets no one; a district-level one does
    by_policy = terms.set_index("policy_id")["term"]
    p = policies(c)
    city_wide = p.loc[p["target_districts"] == "3701", "policy_id"]
    local = p.loc[p["target_districts"] == "370102", "policy_id"]
    same = p.set_index("policy_id").loc[list(city_wide) + list(local), ["mode", "valid_to", "target_industries"]]
    pair = same.reset_index().groupby(["mode", "valid_to", "target_industries"])["policy_id"].apply(list)
    for ids in pair:
        wide = [i for i in ids if i in set(city_wide)]
        loc = [i for i in ids if i in set(local)]
        if wide and loc:
            assert by_policy[loc[0]] - by_policy[wide[0]] == pytest.approx(w["district_match"])
            break
    else:
        pytest.fail("no comparable pair of policies in the fixture")


def test_prescore_lifts_equal_the_rule_scorers_lift_terms():
    from pathlib import Path

    from quanhuiqi.eligibility import evaluate
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile
    from quanhuiqi.push.prescore import SEGMENT_LIFTS, _lift_terms
    from quanhuiqi.push.rules import sorted_codes
    from quanhuiqi.tables import read_enterprises, validate_enterprises

    samples = Path(__file__).resolve().parents[2] / "data_samples"
    book = load_book(samples / "policies")
    clean = validate_enterprises(read_enterprises(samples / "enterprises.csv").iloc[:1200], DAY, "e").clean
    prof = profile(clean, DAY)
    cand = evaluate(book, prof, DAY, categorical=True, evidence=False, near_misses=False).pairs
    scorer = RuleScorer()
    feats = scorer.features(cand, prof, book, DAY, population=cand)
    terms = scorer.terms(feats)
    expected = sum(scorer.weights[f] * terms[f].to_numpy() for f in SEGMENT_LIFTS)
    pcode, pids = sorted_codes(cand["policy_id"])
    ucode, usccs = sorted_codes(cand["uscc"])
    got = _lift_terms(ucode, usccs, pcode, len(pids), prof, scorer.weights)
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert np.abs(got).max() > 0.1  # the lifts do move the score
