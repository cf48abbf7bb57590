"""Size class at every threshold boundary of every industry group, with partial data; above_scale.

The thresholds below are typed in from 工信部联企业〔2011〕300号 Art. 4 independently of the shipped
CSV, so a wrong number in either place fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.profile import profile
from quanhuiqi.profile.builders import SizeFeatures

CLASSES = ["micro", "small", "medium", "large"]

# group → (a class-level code in it, {indicator column: (small_min, medium_min, large_min)})
GROUPS = {
    "agriculture": ("0111", {"revenue": (50, 500, 20000)}),
    "industry": ("3911", {"employees": (20, 300, 1000), "revenue": (300, 2000, 40000)}),
    "construction": ("4710", {"revenue": (300, 6000, 80000), "total_assets": (300, 5000, 80000)}),
    "wholesale": ("5111", {"employees": (5, 20, 200), "revenue": (1000, 5000, 40000)}),
    "retail": ("5211", {"employees": (10, 50, 300), "revenue": (100, 500, 20000)}),
    "transport": ("5411", {"employees": (20, 300, 1000), "revenue": (200, 3000, 30000)}),
    "warehousing": ("5920", {"employees": (20, 100, 200), "revenue": (100, 1000, 30000)}),
    "postal": ("6010", {"employees": (20, 300, 1000), "revenue": (100, 2000, 30000)}),
    "accommodation": ("6110", {"employees": (10, 100, 300), "revenue": (100, 2000, 10000)}),
    "catering": ("6210", {"employees": (10, 100, 300), "revenue": (100, 2000, 10000)}),
    "info_transmission": ("6311", {"employees": (10, 100, 2000), "revenue": (100, 1000, 100000)}),
    "software_it": ("6513", {"employees": (10, 100, 300), "revenue": (50, 1000, 10000)}),
    "real_estate_development": ("7010", {"revenue": (100, 1000, 200000), "total_assets": (2000, 5000, 10000)}),
    "property_management": ("7020", {"employees": (100, 300, 1000), "revenue": (500, 1000, 5000)}),
    "leasing_business_services": ("7111", {"employees": (10, 100, 300), "total_assets": (100, 8000, 120000)}),
    "other_unlisted": ("7310", {"employees": (10, 100, 300)}),
}
INDICATORS = ("employees", "revenue", "total_assets")


def _cases():
    """(group, code, facts, expected) at both sides of every threshold, the other indicator big,
    unknown or below the micro line."""
    cases = []
    for group, (code, ths) in GROUPS.items():
        for ind, bounds in ths.items():
            others = [o for o in ths if o != ind]
            for t in bounds:
                below = t - 1 if ind == "employees" else t - 0.01
                for value in (below, t):
                    supported = sum(value >= b for b in bounds)
                    if not others:
                        cases.append((group, code, {ind: value}, CLASSES[supported]))
                        continue
                    (other,) = others
                    big = ths[other][2] * 10
                    tiny = ths[other][0] - 1 if ths[other][0] > 1 else 0
                    cases.append((group, code, {ind: value, other: big}, CLASSES[supported]))
                    cases.append((group, code, {ind: value}, "micro" if supported == 0 else None))
                    cases.append((group, code, {ind: value, other: tiny}, "micro"))
    return cases


CASES = _cases()


def _frame(rows: list[dict], codes: list[str | None]) -> pd.DataFrame:
    df = pd.DataFrame({c: [r.get(c, np.nan) for r in rows] for c in INDICATORS}, dtype="float64")
    df.insert(0, "industry_code", pd.Series(codes, dtype="string"))
    df.insert(0, "uscc", pd.Series([f"U{i}" for i in range(len(rows))], dtype="string"))
    return df


def test_every_boundary_of_every_group():
    assert len(CASES) > 250
    df = _frame([c[2] for c in CASES], [c[1] for c in CASES])
    got = SizeFeatures().fit_transform(df)
    for (group, _code, facts, expected), size, key in zip(CASES, got["size_class"], got["size_industry_key"],
                                                         strict=True):
        assert key == group
        assert (None if pd.isna(size) else size) == expected, (group, facts)


@pytest.mark.parametrize(
    ("code", "facts", "expected"),
    [
        ("3911", {"revenue": 250}, "micro"),  # below the micro line: headcount irrelevant
        ("3911", {"revenue": 5000}, None),  # medium with ≥ 300 staff, small with fewer, micro under 20
        ("3911", {"revenue": 5000, "employees": 19}, "micro"),
        ("3911", {"revenue": 5000, "employees": 20}, "small"),
        ("3911", {"revenue": 5000, "employees": 300}, "medium"),
        ("3911", {"revenue": 40000, "employees": 1000}, "large"),
        ("3911", {"revenue": 39999.99, "employees": 1000}, "medium"),
        ("3911", {"employees": 19}, "micro"),
        ("3911", {}, None),
        ("7310", {"employees": 99}, "small"),  # single-indicator group: headcount alone decides
        ("0111", {"employees": 5000}, None),  # agriculture is by revenue only
        ("0111", {"revenue": 20000}, "large"),
        # the industry known coarsely: decided when every possible group agrees
        ("F", {"employees": 3}, "micro"),  # wholesale < 5, retail < 10
        ("F", {"employees": 7, "revenue": 50}, "micro"),
        ("F", {"employees": 100, "revenue": 30000}, "medium"),  # medium as wholesale and as retail
        ("F", {"employees": 250, "revenue": 50000}, None),  # large as wholesale, medium as retail
        ("F", {"employees": 7}, None),  # wholesale small or micro by revenue, retail micro
        ("59", {"employees": 5}, "micro"),  # 591 transport or 592–599 warehousing
        (None, {"employees": 3, "revenue": 20, "total_assets": 50}, "micro"),
        (None, {"employees": 3}, None),  # agriculture needs revenue
        (None, {"employees": 5000, "revenue": 1e7, "total_assets": 1e7}, "large"),
        (None, {"employees": 500}, None),
    ],
)
def test_partial_data_and_coarse_industry(code, facts, expected):
    got = SizeFeatures().fit_transform(_frame([facts], [code]))["size_class"].iloc[0]
    assert (None if pd.isna(got) else got) == expected


def test_size_industry_key_only_when_code_settles_it():
    got = SizeFeatures().fit_transform(_frame([{}, {}, {}, {}], ["F", "51", "K", "7010"]))
    assert got["size_industry_key"].tolist()[1] == "wholesale"
    assert got["size_industry_key"].tolist()[3] == "real_estate_development"
    assert got["size_industry_key"].isna().tolist() == [True, False, True, False]


@pytest.mark.parametrize(
    ("code", "revenue", "expected"),
    [
        ("3911", 2000, True), ("3911", 1999.99, False), ("3911", math.nan, None),
        ("4411", 2000, True),  # D 电力
        ("5111", 2000, True), ("5111", 1999.99, False),
        ("5211", 500, True), ("5211", 499.99, False),
        ("6110", 200, True), ("6210", 199.99, False),
        ("7010", math.nan, True),  # every licensed developer is in the statistical scope
        ("7020", 1000, True), ("7020", 999.99, False),
        ("5411", 2000, True), ("6513", 1999, False), ("7310", 1000, True), ("7310", 999, False),
        ("8010", 500, True), ("8010", 499, False), ("8810", 500, True),
        ("4710", 1e6, None),  # 建筑业: by qualification, not revenue
        ("6611", 1e6, None),  # finance: no such line
        ("F", 3000, True), ("F", 1000, None), ("F", 100, False),
        ("K", 5000, True), ("K", 10, None),  # 7010 always in scope, 7020 not at 10
        (None, 100, None),
    ],
)
def test_above_scale(code, revenue, expected):
    got = SizeFeatures().fit_transform(_frame([{"revenue": revenue}], [code]))["above_scale"].iloc[0]
    assert (None if pd.isna(got) else bool(got)) == expected


def test_profile_size_uses_industry_from_name():
    df = pd.DataFrame({"uscc": ["A", "B"], "name": ["a", "b"], "industry_name": ["批发业", "零售业"],
                       "employees": [50.0, 50.0], "revenue": [2000.0, 2000.0]})
    got = profile(df, "2025-07-01")
    assert got["size_class"].tolist() == ["small", "medium"]
