"""Who is affected (lift with a confidence interval), which policy speaks to an issue, reply completeness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def test_wilson_interval():
    from quanhuiqi.appeals.insight import wilson

    lo, hi = wilson(np.array([5, 0]), np.array([10, 20]))
    assert lo[0] == pytest.approx(0.2366, abs=1e-3) and hi[0] == pytest.approx(0.7634, abs=1e-3)
    assert lo[1] == 0.0 and 0.1 < hi[1] < 0.2


def test_affected_segments_find_the_over_represented_segment():
    from quanhuiqi.appeals.insight import affected_segments, affected_summary

    rng = np.random.default_rng(0)
    n = 400
    prof = pd.DataFrame({"uscc": [f"U{i:04d}" for i in range(n)],
                         "industry_section": np.where(np.arange(n) < 40, "E", rng.choice(["C", "F", "I"], n)),
                         "district_code": rng.choice(["370102", "370112", "370100"], n),
                         "size_class": rng.choice(["micro", "small", "medium"], n), "chains": ""})
    builders = [f"U{i:04d}" for i in range(0, 8)]
    others = [f"U{i:04d}" for i in rng.choice(np.arange(40, n), 10, replace=False)]
    grouped = pd.DataFrame({"issue_id": ["arrears"] * 9 + ["mixed"] * 10 + ["tiny"] * 2,
                            "uscc": builders + [others[0]] + others + builders[:2]})
    seg = affected_segments(grouped, prof)
    top = seg[seg["issue_id"] == "arrears"].iloc[0]
    assert (top["dimension"], top["segment"]) == ("industry_section", "E")
    assert top["lift"] == pytest.approx((8 / 9) / 0.1, rel=1e-2) and top["lift_low"] > 3
    assert "tiny" not in set(seg["issue_id"])  # fewer than 3 enterprises: not read
    assert not (seg["segment"] == "370100").any()  # the city code is not a district
    assert not ((seg["issue_id"] == "mixed") & (seg["dimension"] == "industry_section")).any()
    text = affected_summary(seg, {"industry_section": {"E": "建筑业"}})
    assert text["arrears"].startswith("建筑业") and "倍" in text["arrears"]


@pytest.fixture(scope="module")
def with_wage_issue(planted_city):
    """The planted city plus 12 appeals about 稳岗返还 not paid, grouped.  The base keeps none of the city's own
    稳岗返还 appeals (the background writes some): the 12 are that problem's only voices, one issue."""
    from quanhuiqi.appeals.issues import group_appeals

    clean, _ = planted_city
    own = (clean["title"].astype("string") + clean["body"].astype("string")).str.contains("稳岗", na=False)
    base = clean[~own.to_numpy()].iloc[:150].copy()
    t0 = pd.Timestamp("2025-06-20 10:00")
    extra = pd.DataFrame({
        "appeal_id": [f"WG{i:03d}" for i in range(12)],
        "received_at": [t0 + pd.Timedelta(hours=5 * i) for i in range(12)],
        "title": ["稳岗返还资金迟迟未到账", "失业保险稳岗返还没有发放", "稳岗返还申领问题"] * 4,
        "body": ["我公司符合失业保险稳岗返还条件，公示已经结束两个月，稳岗返还资金还没有到账。",
                 "今年的稳岗返还名单里有我们企业，但人社部门一直没有拨付稳岗返还资金。",
                 "失业保险稳岗返还申请提交后没有审核结果，想了解稳岗返还什么时候发放。"] * 4,
        "uscc": [f"U{i}" for i in range(12)], "department": "市人力资源社会保障局",
    })
    both = pd.concat([base, extra], ignore_index=True)
    g, st = group_appeals(both)
    return both, g, st


def test_policy_links_find_the_policy_and_its_department(with_wage_issue):
    from quanhuiqi.appeals.insight import policy_appeal_counts, policy_links, policy_table
    from quanhuiqi.appeals.privacy import mask_personal_data
    from quanhuiqi.policy import load_book

    both, g, st = with_wage_issue
    wage_issue = g.set_index("appeal_id").loc["WG000", "issue_id"]
    assert (g.set_index("appeal_id").loc[[f"WG{i:03d}" for i in range(12)], "issue_id"] == wage_issue).mean() > 0.8
    pol = policy_table(load_book(SAMPLES / "policies"))
    text = mask_personal_data(both["title"].astype("string") + "。" + both["body"].astype("string"))
    grouped = g.assign(department=both["department"].to_numpy())
    links = policy_links(st, grouped, pol, texts=text)
    best = links[links["issue_id"] == wage_issue].iloc[0]
    assert "稳岗返还" in best["title"] and best["department"] == "市人力资源社会保障局"
    assert best["named"] > 0.5 and best["department_match"] == 1.0
    counts = policy_appeal_counts(links, g.assign(received_at=both["received_at"].to_numpy()), as_of="2025-06-30")
    row = counts[counts["policy_id"] == best["policy_id"]].iloc[0]
    assert row["appeals"] >= 10 and row["appeals_recent"] == 0


def test_a_reply_that_takes_up_the_points_is_more_complete(with_wage_issue):
    from quanhuiqi.appeals.insight import reply_completeness

    _, _, st = with_wage_issue
    appeal = pd.Series(["稳岗返还资金迟迟未到账。我公司符合失业保险稳岗返还条件，公示结束两个月，资金还没有到账。"] * 3,
                       dtype="string")
    replies = pd.Series(["经核实，贵公司失业保险稳岗返还资金已于6月25日拨付到账，请查收。",
                         "您好，关于您反映的问题，经核实已协调处理。", None], dtype="string")
    c = reply_completeness(st, appeal, replies)
    assert c[0] > 0.4 and c[1] < 0.1 and np.isnan(c[2])
