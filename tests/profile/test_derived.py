"""Age at as_of, life-cycle stage, ratios; chains and tags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.profile import profile, tag_rules
from quanhuiqi.profile.builders import AgeFeatures, FinanceFeatures
from quanhuiqi.profile.chains import chain_mapping, chains_of_code
from quanhuiqi.profile.fields import CHAINS
from quanhuiqi.reference.industries import industry_table


@pytest.mark.parametrize(
    ("established", "as_of", "years"),
    [
        ("2020-07-01", "2025-07-01", 5),  # the anniversary itself completes the year
        ("2020-07-02", "2025-07-01", 4),
        ("2025-07-01", "2025-07-01", 0),
        ("2020-02-29", "2021-02-28", 0),  # leap-day founding: the year completes on 1 March
        ("2020-02-29", "2021-03-01", 1),
        ("2020-02-29", "2024-02-29", 4),
        ("1999-12-31", "2025-01-01", 25),
        ("2026-01-01", "2025-07-01", None),  # after as_of: unknown, never negative
        (None, "2025-07-01", None),
    ],
)
def test_age_in_completed_years(established, as_of, years):
    df = pd.DataFrame({"uscc": ["A"], "established_on": pd.to_datetime(pd.Series([established]))})
    got = AgeFeatures(as_of).fit_transform(df)["age_years"].iloc[0]
    assert (np.isnan(got) if years is None else got == years)


@pytest.mark.parametrize(("age", "stage"), [(0, "startup"), (2, "startup"), (3, "growth"), (9, "growth"),
                                            (10, "mature"), (19, "mature"), (20, "established"), (None, None)])
def test_lifecycle_boundaries(age, stage):
    as_of = pd.Timestamp("2025-07-01")
    est = None if age is None else as_of - pd.DateOffset(years=age)
    df = pd.DataFrame({"uscc": ["A"], "established_on": pd.to_datetime(pd.Series([est]))})
    got = AgeFeatures(as_of).fit_transform(df)["lifecycle_stage"].iloc[0]
    assert (pd.isna(got) if stage is None else got == stage)


def test_ratios_unknown_when_a_part_is_unknown_or_revenue_not_positive():
    df = pd.DataFrame({"uscc": list("ABCD"), "revenue": [100.0, 0.0, np.nan, 50.0],
                       "revenue_prev": [80.0, 10.0, 10.0, 0.0], "rd_expense": [5.0, 1.0, 1.0, np.nan],
                       "tax_paid": [3.0, np.nan, 1.0, 2.0]})
    got = FinanceFeatures().fit_transform(df)
    assert got["revenue_growth"].iloc[0] == pytest.approx(0.25)
    assert got["rd_ratio"].iloc[0] == pytest.approx(0.05) and got["tax_intensity"].iloc[0] == pytest.approx(0.03)
    assert got["revenue_growth"].iloc[1] == pytest.approx(-1.0)
    assert np.isnan(got["rd_ratio"].iloc[1]) and np.isnan(got["tax_intensity"].iloc[1])
    assert got.iloc[2][["revenue_growth", "rd_ratio", "tax_intensity"]].isna().all()
    assert np.isnan(got["revenue_growth"].iloc[3]) and np.isnan(got["rd_ratio"].iloc[3])


def test_chain_mapping_is_shipped_valid_and_covers_every_required_chain():
    m = chain_mapping()
    assert set(m["chain"]) == set(CHAINS)
    tab = industry_table()
    for prefix, name in zip(m["prefix"], m["name"], strict=True):
        assert prefix in tab.index and tab.at[prefix, "name"] == name
    assert m["basis"].str.len().gt(0).all()


@pytest.mark.parametrize(
    ("code", "chains"),
    [("6513", "ai;software_it"), ("6520", "electronic_info;software_it"), ("3911", "electronic_info"),
     ("2710", "biomedicine"), ("3491", "ai;high_end_equipment"), ("3841", "new_energy"), ("4416", "new_energy"),
     ("3985", "electronic_info;new_materials"), ("5920", "modern_logistics"), ("8730", "cultural_creative"),
     ("0111", ""), ("C", ""), ("39", "electronic_info"), ("3", ""), (None, "")],
)
def test_chains_of_code(code, chains):
    assert chains_of_code(code) == chains


def test_every_tag_has_a_rule_and_tags_follow_them():
    rules = tag_rules()
    assert rules["tag"].is_unique and rules["rule"].str.len().gt(0).all()
    for tag in ("高新技术企业", "专精特新", "小微企业", "初创期", "高成长", "规上企业", "经营异常"):
        assert tag in set(rules["tag"])
    df = pd.DataFrame({
        "uscc": list("ABC"), "name": list("abc"),
        "industry_code": ["3911", "3911", None],
        "status": ["存续", "存续", "存续"],
        "established_on": pd.to_datetime(["2024-01-01", "1990-01-01", None]),
        "employees": [5.0, 2000.0, np.nan], "revenue": [100.0, 50000.0, np.nan], "revenue_prev": [50.0, 50000.0, np.nan],
        "certifications": ["little_giant;specialized_sme", "", ""],
        "abnormal_operation": pd.array([False, True, None], dtype="boolean"),
    })
    tags = profile(df, "2025-07-01")["tags"].str.split(";")
    assert {"专精特新", "专精特新小巨人", "小微企业", "初创期", "高成长", "电子信息产业链"} <= set(tags[0])
    assert "规上企业" not in tags[0]
    assert {"大型企业", "规上企业", "经营异常", "电子信息产业链"} <= set(tags[1]) and "高成长" not in tags[1]
    assert tags[2] == [""] or tags[2] == []  # nothing known, nothing claimed
