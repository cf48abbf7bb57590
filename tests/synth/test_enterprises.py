"""The synthetic enterprises: determinism, documented distributions, mess at documented rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.reference.industries import industry_table
from quanhuiqi.synth import generate_enterprises, simulate_enterprises
from quanhuiqi.synth.enterprises import (
    DISTRICT_WEIGHTS,
    DIVISION_WEIGHTS,
    MESS_RATES,
    MISSING_RATES,
    STATUS_TEXTS,
)
from quanhuiqi.tables.columns import ENTERPRISE_COLUMNS
from quanhuiqi.tables.uscc import uscc_reason

N = 20_000
AS_OF = "2025-07-01"


@pytest.fixture(scope="module")
def city():
    return simulate_enterprises(N, 3, AS_OF)


def test_same_seed_same_table_other_seed_other_table():
    a = generate_enterprises(3000, 5, AS_OF)
    b = generate_enterprises(3000, 5, AS_OF)
    pd.testing.assert_frame_equal(a, b)
    c = generate_enterprises(3000, 6, AS_OF)
    assert not a["uscc"].equals(c["uscc"])
    assert not np.allclose(a["revenue"].fillna(0), c["revenue"].fillna(0))


def test_columns_are_the_enterprise_contract_plus_declared_extras(city):
    raw, true = city
    assert list(raw.columns[: len(ENTERPRISE_COLUMNS)]) == ENTERPRISE_COLUMNS
    assert {"ip_count", "rd_ratio_3y", "innovation_score"} <= set(raw.columns)
    assert len(raw) == N
    assert len(true) == N - round(MESS_RATES["duplicate_uscc"] * N)


def test_true_usccs_are_valid_and_unique(city):
    _, true = city
    assert true["uscc"].is_unique
    assert uscc_reason(true["uscc"]).isna().all()
    import stdnum.cn.uscc

    assert all(stdnum.cn.uscc.is_valid(u) for u in true["uscc"].head(500))


def test_missing_rates_are_documented_and_between_5_and_25_percent(city):
    raw, _ = city
    for col, rate in MISSING_RATES.items():
        assert 0.05 <= rate <= 0.25, col
        observed = raw[col].isna().mean()
        assert abs(observed - rate) < 0.02, (col, observed, rate)
    assert raw["certifications"].isna().sum() == 0  # closed world: never blanked
    assert raw["uscc"].notna().all() and raw["name"].notna().all()


def test_district_mix(city):
    _, true = city
    share = true["district_code"].value_counts(normalize=True)
    for code, w in DISTRICT_WEIGHTS.items():
        assert abs(share.get(code, 0) - w) < 0.015, code
    assert share.index[0] in ("370102", "370112")


def test_industry_section_mix(city):
    _, true = city
    tab = industry_table()
    section = tab.loc[true["industry_code"].to_numpy(), "section"]
    share = section.value_counts(normalize=True)
    div_sec = tab.loc[list(DIVISION_WEIGHTS), "section"]
    expected = pd.Series(DIVISION_WEIGHTS).groupby(div_sec.to_numpy()).sum()
    expected = expected / expected.sum()
    for sec, w in expected.items():
        assert abs(share.get(sec, 0) - w) < 0.015, sec
    assert share.index[0] == "F" and 0.25 < share["F"] < 0.35
    assert 0.10 < share["C"] < 0.18
    assert (true["industry_code"].str.len() == 4).all()


def test_revenue_log_normal_and_correlated_with_employees(city):
    _, true = city
    log_rev = np.log(true["revenue"].to_numpy(float))
    log_emp = np.log(true["employees"].to_numpy(float))
    skew_log = pd.Series(log_rev).skew()
    assert abs(skew_log) < 0.5  # log revenue is roughly symmetric …
    assert pd.Series(true["revenue"]).skew() > 5  # … revenue itself has a long right tail
    assert np.corrcoef(log_emp, log_rev)[0, 1] > 0.7
    assert (true["revenue"] > 0).all() and (true["employees"] >= 1).all()
    assert (true["insured_employees"] <= true["employees"]).all()


def test_status_text_variety(city):
    raw, true = city
    texts = set(raw["status"].dropna())
    assert len(texts) >= 15
    assert {"存续", "在业", "开业", "存续（在营、开业、在册）", "吊销，未注销", "注销", "迁出", "停业", "清算"} <= texts
    assert {"存續", "吊銷", "註銷"} & texts  # traditional variants
    all_texts = {t for ts, _ in STATUS_TEXTS.values() for t in ts}
    assert texts <= all_texts
    share_active = (true["status_true"] == "active").mean()
    assert 0.84 < share_active < 0.91


def test_mess_at_documented_rates(city):
    raw, true = city
    reasons = uscc_reason(raw["uscc"])
    bad = reasons.notna().mean()
    assert abs(bad - MESS_RATES["bad_check_char"]) < 0.0015
    dup = raw["uscc"].duplicated().mean()
    assert abs(dup - MESS_RATES["duplicate_uscc"]) < 0.0005
    codes = raw["industry_code"].dropna()
    assert codes.str.contains("[０-９]").mean() == pytest.approx(MESS_RATES["fullwidth_code"], abs=0.006)
    assert codes.str.startswith(" ").mean() == pytest.approx(MESS_RATES["padded_code"], abs=0.006)
    assert codes.str.strip().str.fullmatch(r"[A-T]?\d{2}").mean() == pytest.approx(MESS_RATES["coarse_division"], abs=0.01)
    assert raw["district_code"].isin(["370181", "371202", "370125", "371203"]).sum() > 0
    assert (raw["district_code"] == "370100").mean() == pytest.approx(MESS_RATES["coarse_district"], abs=0.006)
    assert (raw["name"] != true["name"].reindex(raw.index)).sum() > 0.01 * N  # traditional names
    future = pd.to_datetime(raw["established_on"], errors="coerce", format="%Y-%m-%d") > pd.Timestamp(AS_OF)
    assert future.mean() == pytest.approx(MESS_RATES["future_date"], abs=0.0015)
    assert (raw["revenue"] < 0).mean() == pytest.approx(MESS_RATES["negative_money"], abs=0.0015)
    assert (raw["layoff_rate"] > 1).sum() > 0
    assert raw["industry_name"].notna().sum() > 0.03 * N
    assert set(raw["abnormal_operation"].dropna()) >= {"true", "false", "是", "否", "1", "0"}


def test_validation_has_work(city):
    from quanhuiqi.tables import validate_enterprises

    raw, _ = city
    v = validate_enterprises(raw.head(5000), AS_OF)
    rej = v.rejects
    assert (rej["action"] == "row_rejected").sum() > 0
    assert (rej["action"] == "value_cleared").sum() > 0
    assert len(v.clean) + rej.loc[rej["action"] == "row_rejected", "row"].nunique() == 5000


def test_certifications_follow_rd_and_are_sorted_tokens(city):
    _, true = city
    certs = true["certifications"]
    ht = certs.str.contains("high_tech")
    assert 0.01 < ht.mean() < 0.12
    rd_ratio = true["rd_expense"] / true["revenue"]
    assert rd_ratio[ht].median() > 5 * max(rd_ratio[~ht].median(), 1e-4)
    nonempty = certs[certs != ""]
    assert (nonempty.str.split(";").map(lambda xs: xs == sorted(xs))).all()
