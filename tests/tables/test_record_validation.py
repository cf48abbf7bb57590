"""One record validated by RecordValidator equals validate_enterprises on a table holding it: clean values
and rejects (column, value, reason, action, order), on the sample city and on messy records."""

from __future__ import annotations

import datetime as dt
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanhuiqi.reference.districts import canonical_district_code, canonical_district_code_one
from quanhuiqi.reference.industries import canonical_industry_code, canonical_industry_code_one
from quanhuiqi.tables import read_enterprises, validate_enterprises
from quanhuiqi.tables.enterprises import (
    RejectLog,
    _certifications,
    _ownership,
    certifications_one,
    ownership_one,
)
from quanhuiqi.tables.record import RecordValidator
from quanhuiqi.tables.uscc import normalize_uscc, normalize_uscc_one, uscc_reason, uscc_reason_one

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
AS_OF = dt.date(2025, 7, 1)


def norm(v: object) -> object:
    """A value for comparison: every missing form is None, numpy scalars are Python's, dates Timestamps."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp | np.datetime64 | dt.datetime):
        return pd.Timestamp(v)
    return v


def same_row(frame_row: dict, record_row: dict) -> list[str]:
    """Columns (and order) that differ between the batch's clean row and the record path's."""
    if list(frame_row) != list(record_row):
        return ["<columns>"]
    return [k for k in frame_row if norm(frame_row[k]) != norm(record_row[k])]


def rejects_as_records(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(norm(v) for v in r) for r in frame.itertuples(index=False)]


@cache
def _raw() -> pd.DataFrame:
    return read_enterprises(SAMPLES / "enterprises.csv")


def test_every_sample_row_validates_as_in_the_batch():
    raw = _raw()
    batch = validate_enterprises(raw, AS_OF)
    clean = {r["row"]: r for r in batch.clean.to_dict("records")}
    rej = batch.rejects
    by_row: dict[int, list[tuple]] = {}
    for r in rejects_as_records(rej):
        by_row.setdefault(r[1], []).append(r)
    dup_rows = set(rej.loc[rej["reason"].str.startswith("duplicate uscc"), "row"])
    v = RecordValidator(AS_OF)
    checked = refused = 0
    for i, record in enumerate(raw.to_dict("records")):
        row = i + 1
        if row in dup_rows:  # a duplicate is refused by the rest of the table, not by its own values
            continue
        got = v.validate(record, row=row)
        assert [(v.source, row, *r) for r in got.records] == by_row.get(row, []), row
        if row in clean:
            assert got.ok and not same_row(clean[row], got.clean), (row, same_row(clean[row], got.clean))
            checked += 1
        else:
            assert not got.ok and got.refused
            refused += 1
    assert checked > 4900 and refused > 5 and len(rej) > 50


_TEXT = st.one_of(st.text(alphabet=st.sampled_from(list("0123456789０１２ ，,.%-年月日/ABCabcXx级是否\t　")), max_size=12),
                  st.sampled_from(["true", " 1,234.5 ", "12%", "１２３", "-3", "1e3", "inf", "nan", "."]))
_VALUE = st.one_of(st.none(), _TEXT, st.integers(-5, 30_000_000), st.floats(-10, 1e9), st.just(float("nan")), st.just(float("inf")),
                   st.booleans())
_DATE = st.one_of(st.none(), _TEXT, st.sampled_from(["2019-03-05", "2019年3月5日", "20190305", "2031-01-01",
                                                     "2019-02-30", "1600-01-01", "2019/3/5 12:30"]),
                  st.dates(dt.date(1500, 1, 1), dt.date(2040, 1, 1)),
                  st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2040, 1, 1)), st.integers(19000101, 20301231))
_CODES = st.sampled_from(["3911", " 39.11 ", "C3911", "c39", "３９", "9999", "370102", "370 102", "370181", "3701",
                          "110101", "12", None, "", "abc"])


@st.composite
def records(draw: st.DrawFn) -> dict:
    raw = _raw()
    base = raw.iloc[draw(st.integers(0, len(raw) - 1))].to_dict()
    for col in ("industry_code", "district_code", "tax_district_code"):
        if draw(st.booleans()):
            base[col] = draw(_CODES)
    for col in ("revenue", "employees", "layoff_rate", "registered_capital", "invention_patents"):
        if draw(st.booleans()):
            base[col] = draw(_VALUE)
    if draw(st.booleans()):
        base["established_on"] = draw(_DATE)
    for col in ("abnormal_operation", "serious_dishonest"):
        if draw(st.booleans()):
            base[col] = draw(st.one_of(_VALUE, st.sampled_from(["是", "否", "yes", "2", " TRUE "])))
    if draw(st.booleans()):
        base["certifications"] = draw(st.sampled_from(["高新技术企业；专精特新", "high_tech,foo", "“科技型中小企业”",
                                                       "", None, "bar|baz", "HIGH_TECH"]))
    if draw(st.booleans()):
        base["tax_credit_rating"] = draw(st.sampled_from(["A", "a级", " B ", "Z", "", None, "Ａ"]))
    if draw(st.booleans()):
        base["ownership"] = draw(st.sampled_from(["民营", "private", "国有", "外资企业", "other", "", None]))
    if draw(st.booleans()):
        base["uscc"] = draw(st.sampled_from([None, "", "91370102MA3C4XYZ1K", " 913701026135614443 ",
                                             "91370102-6135614443", "９１３７０１０２６１３５６１４４４３", "123"]))
    if draw(st.booleans()):
        base["name"] = draw(st.sampled_from([None, "", "   ", "济南测试企业", "濟南測試有限公司"]))
    if draw(st.booleans()):
        base["status"] = draw(st.sampled_from(["存续（在营、开业、在册）", "吊销，未注销", "", None, "註銷"]))
    base["extra_fact"] = draw(st.one_of(st.none(), st.integers(0, 9)))
    return base


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records())
def test_a_messy_record_validates_as_a_one_row_table(record):
    want = validate_enterprises(pd.DataFrame([record]), AS_OF)
    got = RecordValidator(AS_OF).validate(record)
    assert rejects_as_records(got.rejects) == rejects_as_records(want.rejects)
    assert got.ok == (len(want.clean) == 1)
    if got.ok:
        diff = same_row(want.clean.iloc[0].to_dict(), got.clean)
        assert not diff, diff


_CODE_TEXT = st.one_of(st.text(alphabet=st.sampled_from(list("0123456789ABCcXYZ-_. ０１\t　")), max_size=10),
                       st.sampled_from(["3701", "C39", "370102", "91370102MA3C4XYZ1K", "913701026135614443"]))


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(_CODE_TEXT, min_size=1, max_size=20))
def test_one_value_functions_equal_their_column_versions(texts):
    s = pd.Series(texts, dtype="string")
    for one, column in ((canonical_industry_code_one, canonical_industry_code),
                        (canonical_district_code_one, canonical_district_code)):
        want = column(s)
        assert [one(t) for t in texts] == [None if pd.isna(x) else x for x in want]
    codes = normalize_uscc(s)
    assert [normalize_uscc_one(t) for t in texts] == [None if pd.isna(x) else x for x in codes]
    reasons = uscc_reason(codes.dropna(), normalized=True)
    assert [uscc_reason_one(c) for c in codes.dropna()] == [None if pd.isna(x) else x for x in reasons]


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(st.sampled_from(["高新技术企业；专精特新、瞪羚", "high_tech, ,tech_sme|foo", "“小巨人”/unicorn",
                                       "  ", "民营", "外资", "State", "国有 企业"]),
                      st.text(alphabet=st.sampled_from(list("高新技术企业专精特新;,、|/ x民营国有")), max_size=12)))
def test_certifications_and_ownership_of_one_value_equal_the_column_rules(text):
    log = RejectLog("t")
    joined = _certifications(pd.Series([text], dtype="string"), np.array([1]), np.array([True]), log).iloc[0]
    assert certifications_one(text) == (joined, [str(v) for v in log.table()["value"]])
    own = _ownership(pd.Series([text], dtype="string")).iloc[0]
    assert ownership_one(text) == (None if pd.isna(own) else own)
