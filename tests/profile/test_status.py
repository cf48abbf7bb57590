"""Registry status text → canonical status, against real-world variants; unknown text stays unknown."""

from __future__ import annotations

import pandas as pd
import pytest

from quanhuiqi.profile import profile
from quanhuiqi.profile.builders import StatusFeatures
from quanhuiqi.profile.status import canonical_status

# As registries and data vendors write them: simplified and traditional, full-width, padded,
# with brackets and 企业/状态 suffixes.
VARIANTS = {
    "active": [
        "存续", "在业", "开业", "在营", "存续（在营、开业、在册）", "存续(在营、开业、在册)", " 存续 ", "存續",
        "在營", "開業", "在业企业", "存续企业", "存续状态", "正常", "登记成立", "在册", "营业", "ａｃｔｉｖｅ", "active",
        "存 续", "\u3000在业\u3000", "續存",
    ],
    "revoked": [
        "吊销", "吊销，未注销", "吊销,未注销", "吊销未注销", "已吊销", "吊銷，未註銷", "吊销企业", "撤销", "撤銷登記",
        "责令关闭", " 吊销 ", "revoked",
    ],
    "cancelled": ["注销", "已注销", "註銷", "注销企业", "吊销后注销", "吊销，已注销", "注 销", "cancelled"],
    "moved_out": ["迁出", "已迁出", "遷出", "迁出（省外）", "迁往外地", "moved_out"],
    "liquidating": ["清算", "清算中", "正在清算", "破产清算", "破產", "liquidating"],
    "suspended": ["停业", "歇业", "停業", "停业中", "歇业备案", "suspended"],
}
UNRECOGNISED = ["其他", "未知", "待核实", "—", "N/A", "xyz", "迁入", "1", "开"]

CASES = [(text, status) for status, texts in VARIANTS.items() for text in texts]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_real_world_variants(text, expected):
    assert canonical_status(text) == expected


@pytest.mark.parametrize("text", UNRECOGNISED)
def test_text_it_does_not_know_is_unknown_not_active(text):
    assert canonical_status(text) is None


def test_builder_keeps_text_counts_unrecognised_and_is_idempotent():
    texts = ["存续", None, "其他", "吊銷，未註銷", "  "]
    df = pd.DataFrame({"uscc": list("ABCDE"), "status": pd.Series(texts, dtype="string")})
    got = StatusFeatures().fit_transform(df)
    assert got["status"].tolist()[0] == "active"
    assert got["status"].tolist()[3] == "revoked"
    assert got["status"].isna().tolist() == [False, True, True, False, True]
    assert got["status_text"].tolist()[2] == "其他"
    assert got["status_unrecognised"].tolist() == [False, False, True, False, True]
    # profiling a profile keeps the canonical status and the original text
    again = StatusFeatures().fit_transform(got)
    assert again["status"].equals(got["status"])
    assert again["status_text"].equals(got["status_text"])


def test_profile_unknown_status_never_tagged():
    df = pd.DataFrame({"uscc": ["A"], "name": ["a"], "status": ["奇怪的状态"]})
    got = profile(df, "2025-07-01")
    assert pd.isna(got["status"].iloc[0])
    assert got["tags"].iloc[0] == ""
