"""The push rules over hand-built candidates: each rule holds back exactly what it should."""

from __future__ import annotations

import pandas as pd
import pytest

from quanhuiqi.push.rules import HELD_BACK_COLUMNS, PUSH_LIST_COLUMNS, PushRules, apply_push_rules

DAY = "2025-07-01"


def cand(rows):
    """rows: (uscc, policy_id, verdict, score, mode, valid_from, valid_to)"""
    df = pd.DataFrame(rows, columns=["uscc", "policy_id", "verdict", "score", "mode", "valid_from", "valid_to"])
    df["evidence"] = "证据 " + df["policy_id"]
    df["reason"] = "符合 " + df["policy_id"]
    return df


def many(uscc, n, mode="apply", verdict="eligible"):
    return [(uscc, f"P{i:02d}", verdict, float(n - i), mode, "2025-01-01", "2025-12-31") for i in range(n)]


def check_accounting(c, d):
    assert len(d.push_list) + len(d.held_back) == len(c)
    pushed = set(zip(d.push_list["uscc"], d.push_list["policy_id"]))
    held = set(zip(d.held_back["uscc"], d.held_back["policy_id"]))
    assert not pushed & held
    assert pushed | held == set(zip(c["uscc"], c["policy_id"]))
    assert list(d.push_list.columns) == PUSH_LIST_COLUMNS
    assert list(d.held_back.columns) == HELD_BACK_COLUMNS
    assert d.held_back["rule"].ne("").all()


def test_cap_keeps_top_k_by_score_and_ranks_them():
    c = cand(many("A", 5) + many("B", 2))
    d = apply_push_rules(c, as_of=DAY, rules=PushRules(max_per_enterprise=3))
    check_accounting(c, d)
    a = d.push_list[d.push_list["uscc"] == "A"]
    assert list(a["policy_id"]) == ["P00", "P01", "P02"]
    assert list(a["rank"]) == [1, 2, 3]
    assert (d.push_list["uscc"] == "B").sum() == 2
    assert set(d.held_back["rule"]) == {"cap"}
    assert set(d.held_back["policy_id"]) == {"P03", "P04"}


def test_k_is_configurable():
    c = cand(many("A", 5))
    assert len(apply_push_rules(c, as_of=DAY, rules=PushRules(max_per_enterprise=1)).push_list) == 1
    assert len(apply_push_rules(c, as_of=DAY, rules=PushRules(max_per_enterprise=5)).push_list) == 5


def test_cooldown_holds_recent_pairs_unless_verdict_changed():
    c = cand(many("A", 3))
    c.loc[c["policy_id"] == "P02", "verdict"] = "undetermined"
    hist = pd.DataFrame(
        {
            "date": ["2025-06-20", "2025-06-25", "2025-05-01", "2025-06-30"],
            "uscc": ["A", "A", "A", "A"],
            "policy_id": ["P00", "P02", "P01", "P02"],
            "verdict": ["eligible", "eligible", "eligible", "eligible"],
        }
    )
    d = apply_push_rules(c, as_of=DAY, history=hist)
    check_accounting(c, d)
    held = d.held_back.set_index("policy_id")
    assert held.loc["P00", "rule"] == "cooldown"  # 11 days ago, same verdict
    assert "11 days" in held.loc["P00", "detail"]
    pushed = set(d.push_list["policy_id"])
    assert "P01" in pushed  # 61 days ago: outside the cool-down
    assert "P02" in pushed  # verdict changed eligible → undetermined
    d2 = apply_push_rules(c, as_of=DAY, history=hist, rules=PushRules(repeat_if_verdict_changed=False))
    assert "P02" in set(d2.held_back["policy_id"])


def test_history_on_or_after_the_date_is_ignored_so_reruns_do_not_double_count():
    c = cand(many("A", 2))
    hist = pd.DataFrame({"date": [DAY, "2025-07-02"], "uscc": ["A", "A"], "policy_id": ["P00", "P01"]})
    d = apply_push_rules(c, as_of=DAY, history=hist)
    assert len(d.push_list) == 2


def test_granted_and_suppressed_and_inactive():
    c = cand(many("A", 3) + many("B", 2) + many("C", 1) + many("D", 1))
    grants = pd.DataFrame({"uscc": ["A", "A"], "policy_id": ["P00", "P01"], "granted_on": ["2025-03-01", "2025-08-01"]})
    sup = pd.DataFrame(
        {
            "uscc": ["A", "B", "D", "B"],
            "policy_id": ["P02", "P01", "P00", "P00"],
            "reason": ["企业反馈不需要", "officer dispute", "expired", "not yet"],
            "created_on": ["2025-06-01", "2025-06-01", "2025-01-01", "2025-07-05"],
            "expires_on": ["2025-12-31", None, "2025-06-30", None],
        }
    )
    status = pd.DataFrame({"uscc": ["A", "B", "C", "D"], "status": ["active", "active", "revoked", pd.NA]})
    d = apply_push_rules(c, as_of=DAY, grants=grants, suppressions=sup, status=status)
    check_accounting(c, d)
    h = d.held_back.set_index(["uscc", "policy_id"])
    assert h.loc[("A", "P00"), "rule"] == "granted"
    assert ("A", "P01") not in h.index  # granted only in the future
    assert h.loc[("A", "P02"), "rule"] == "suppressed"
    assert "企业反馈不需要" in h.loc[("A", "P02"), "detail"]
    assert h.loc[("B", "P01"), "rule"] == "suppressed"  # no expiry: in force
    assert ("B", "P00") not in h.index  # created after the date
    assert h.loc[("C", "P00"), "rule"] == "inactive"
    assert "revoked" in h.loc[("C", "P00"), "detail"]
    assert ("D", "P00") not in h.index  # unknown status is not skipped by default; suppression expired
    d2 = apply_push_rules(c, as_of=DAY, status=status, rules=PushRules(skip_unknown_status=True))
    assert ("D", "P00") in set(zip(d2.held_back["uscc"], d2.held_back["policy_id"]))


def test_first_rule_wins():
    c = cand(many("C", 1))
    grants = pd.DataFrame({"uscc": ["C"], "policy_id": ["P00"], "granted_on": ["2025-01-01"]})
    status = pd.DataFrame({"uscc": ["C"], "status": ["cancelled"]})
    d = apply_push_rules(c, as_of=DAY, grants=grants, status=status)
    assert list(d.held_back["rule"]) == ["inactive"]


def test_auto_grants_go_to_the_auto_list_not_the_push_list():
    c = cand(many("A", 2, mode="auto") + many("B", 1, mode="auto", verdict="undetermined"))
    names = pd.DataFrame({"uscc": ["A", "B"], "name": ["甲公司", "乙公司"]})
    grants = pd.DataFrame({"uscc": ["A"], "policy_id": ["P01"], "granted_on": ["2025-02-01"]})
    d = apply_push_rules(c, as_of=DAY, names=names, grants=grants)
    check_accounting(c, d)
    assert list(d.auto_grant.columns) == ["policy_id", "uscc", "name", "evidence"]
    assert list(zip(d.auto_grant["policy_id"], d.auto_grant["uscc"])) == [("P00", "A")]  # P01 already granted
    assert d.auto_grant["name"].tolist() == ["甲公司"]
    assert d.auto_grant["evidence"].tolist() == ["证据 P00"]
    assert list(d.push_list["uscc"]) == ["B"]  # undetermined auto: recommend applying


def test_undetermined_can_be_excluded():
    c = cand(many("A", 2, verdict="undetermined"))
    d = apply_push_rules(c, as_of=DAY, rules=PushRules(include_undetermined=False))
    assert d.push_list.empty and set(d.held_back["rule"]) == {"undetermined"}


def test_closing_soon_boost_reorders_and_explains():
    c = cand(
        [
            ("A", "LATE", "eligible", 0.9, "apply", "2025-01-01", "2025-12-31"),
            ("A", "SOON", "eligible", 0.6, "apply", "2025-01-01", "2025-07-10"),
        ]
    )
    d = apply_push_rules(c, as_of=DAY, rules=PushRules(max_per_enterprise=1))
    assert list(d.push_list["policy_id"]) == ["SOON"]
    assert d.push_list["score"].iloc[0] == pytest.approx(1.1)
    assert d.push_list["reason"].iloc[0].startswith("【即将截止·剩9天】符合 SOON")
    d0 = apply_push_rules(c, as_of=DAY, rules=PushRules(max_per_enterprise=1, closing_soon_boost=0.0))
    assert list(d0.push_list["policy_id"]) == ["LATE"]


def test_new_policies_are_announced_beyond_the_cap_once():
    c = cand(many("A", 3) + [("A", "NEW", "eligible", 0.0, "apply", "2025-06-28", "2025-12-31")])
    d = apply_push_rules(c, as_of=DAY, rules=PushRules(max_per_enterprise=3, new_policy_boost=0.0))
    check_accounting(c, d)
    assert set(d.push_list["policy_id"]) == {"P00", "P01", "P02", "NEW"}
    assert "新发布政策" in d.push_list.set_index("policy_id").loc["NEW", "reason"]
    hist = pd.DataFrame({"date": ["2025-06-30"], "uscc": ["A"], "policy_id": ["NEW"], "verdict": ["eligible"]})
    d2 = apply_push_rules(c, as_of=DAY, history=hist)
    assert d2.held_back.set_index("policy_id").loc["NEW", "rule"] == "cooldown"
    old = apply_push_rules(c, as_of="2025-07-20")
    assert "NEW" not in set(old.push_list["policy_id"])  # no longer new: competes for the cap


def test_deterministic_under_row_order():
    c = cand(many("A", 6) + many("B", 4) + many("C", 5))
    c["score"] = 1.0  # all ties: broken by policy_id
    d1 = apply_push_rules(c, as_of=DAY)
    d2 = apply_push_rules(c.sample(frac=1.0, random_state=3), as_of=DAY)
    pd.testing.assert_frame_equal(d1.push_list, d2.push_list)
    pd.testing.assert_frame_equal(d1.held_back, d2.held_back)


def test_duplicate_pairs_are_refused():
    c = cand(many("A", 2) + many("A", 1))
    with pytest.raises(ValueError, match="more than once"):
        apply_push_rules(c, as_of=DAY)
