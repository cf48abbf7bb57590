"""RecordProfiler: the profile of one record equals profile() of a table holding it, column by column."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanhuiqi.profile import profile
from quanhuiqi.profile.chains import chains_of_code
from quanhuiqi.profile.record import RecordProfiler
from quanhuiqi.profile.tags import build_tags, tags_of
from quanhuiqi.reference.industries import industry_table
from quanhuiqi.tables import read_enterprises, validate_enterprises

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
AS_OF = dt.date(2025, 7, 1)


def norm(v: object) -> object:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp | np.datetime64 | dt.datetime):
        return pd.Timestamp(v)
    return v


def test_every_sample_enterprise_profiles_as_in_the_batch():
    clean = validate_enterprises(read_enterprises(SAMPLES / "enterprises.csv"), AS_OF).clean
    want = profile(clean, AS_OF)
    p = RecordProfiler(AS_OF)
    bad: dict[str, int] = {}
    for rec, ref in zip(clean.to_dict("records"), want.to_dict("records"), strict=True):
        got = p.profile(rec)
        assert set(got) == set(ref)
        for k in ref:
            if norm(ref[k]) != norm(got[k]):
                bad[k] = bad.get(k, 0) + 1
    assert not bad, bad
    assert (want["industry_match"] == "name").sum() > 20 and want["tags"].str.len().gt(0).sum() > 1000


def test_tag_rules_per_record_equal_the_column_rules():
    clean = validate_enterprises(read_enterprises(SAMPLES / "enterprises.csv"), AS_OF).clean
    prof = profile(clean, AS_OF)
    assert list(build_tags(prof)) == [tags_of(r) for r in prof.to_dict("records")]


def test_chains_of_every_code_are_precomputable():
    codes = list(industry_table()["code"])
    assert sum(bool(chains_of_code(c)) for c in codes) > 50


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    code=st.sampled_from([None, "3911", "39", "C", "F", "51", "7010", "8410", "6513"]),
    name=st.sampled_from([None, "软件开发", "批发业", "酒店", "化学原料及化学制品制造业", "不知道"]),
    employees=st.one_of(st.none(), st.floats(0, 5000)),
    revenue=st.one_of(st.none(), st.floats(0, 5e5)),
    assets=st.one_of(st.none(), st.floats(0, 5e5)),
    est=st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2025, 7, 1))),
    status=st.sampled_from([None, "存续", "吊销，未注销", "迁出", "不明"]),
    certs=st.sampled_from(["", "high_tech", "high_tech;little_giant", "gazelle;tech_sme"]),
)
def test_constructed_records_profile_as_in_the_batch(code, name, employees, revenue, assets, est, status, certs):
    rec = {"row": 1, "uscc": "913701026135614443", "name": "x", "industry_code": code, "industry_name": name,
           "employees": employees, "revenue": revenue, "total_assets": assets, "revenue_prev": 100.0,
           "established_on": None if est is None else pd.Timestamp(est), "status": status,
           "certifications": certs, "above_scale": None}
    want = profile(pd.DataFrame([rec]), AS_OF).iloc[0].to_dict()
    got = RecordProfiler(AS_OF).profile(rec)
    assert {k for k in want if norm(want[k]) != norm(got.get(k))} == set()
