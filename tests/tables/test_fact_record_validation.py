"""FactRecordValidator: one enterprise's fact records validated as the batch validates a table holding them —
the same clean rows, the same rejects (row, column, value, reason, action) in the same order, the same refusal."""

from __future__ import annotations

import datetime as dt
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanhuiqi.eligibility.derive import derive_one
from quanhuiqi.policy import load_book
from quanhuiqi.policy.derived import ComputedFact
from quanhuiqi.synth.enterprises import simulate_enterprises
from quanhuiqi.synth.facts import fact_tables
from quanhuiqi.tables.fact_record import FactRecordValidator
from quanhuiqi.tables.facts import FACT_FILES, facts_from_records, read_fact_table, validate_fact_table
from quanhuiqi.tables.io import InputError

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
AS_OF = dt.date(2025, 7, 1)
USCC = "91370100MA3C8TFK4W"


def _value(v):
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def batch(kind: str, rows: list[dict], uscc: str | None, vocab=None):
    """What the batch gives for a table holding these rows (built as ``facts_from_records`` builds it)."""
    raw = pd.DataFrame([{**r, "uscc": uscc} if uscc is not None else r for r in rows])
    raw = raw.astype({c: "string" for c in raw.columns if raw[c].dtype == object})
    v = validate_fact_table(kind, raw, AS_OF, None, kind, vocab)
    clean = [{k: _value(x) for k, x in r.items()} for r in v.clean.to_dict("records")]
    rej = [(int(r["row"]), r["column"], _value(r["value"]), r["reason"], r["action"])
           for r in v.rejects.to_dict("records")]
    return clean, rej


def assert_same(validator: FactRecordValidator, kind: str, rows: list[dict], uscc: str | None = USCC, vocab=None):
    want_clean, want_rej = batch(kind, rows, uscc, vocab)
    got = validator.validate(kind, rows, uscc)
    assert got.rejects == want_rej, (kind, rows)
    assert [{k: _value(x) for k, x in r.items()} for r in got.clean] == want_clean, (kind, rows)


@cache
def synth_records() -> dict[str, dict[str, list[dict]]]:
    """The synthetic city's observed (messy) fact tables, as each enterprise's lists of records."""
    as_of = pd.Timestamp(AS_OF)
    _, true = simulate_enterprises(300, 7, as_of)
    _, seen = fact_tables(true, 7, as_of)
    out = {}
    for kind, t in seen.items():
        out[kind] = {str(u): g.drop(columns=["uscc"]).to_dict("records") for u, g in t.groupby("uscc", dropna=True)}
    return out


@pytest.mark.parametrize("kind", list(FACT_FILES))
def test_synthetic_fact_tables_equal_the_batch(kind):
    v = FactRecordValidator(AS_OF)
    groups = synth_records()[kind]
    assert groups
    for uscc, rows in list(groups.items())[:120]:
        assert_same(v, kind, rows, uscc)


@pytest.mark.parametrize("kind", list(FACT_FILES))
def test_sample_csv_rows_equal_the_batch(kind):
    """data_samples' fact files as read (text), a few enterprises' rows at a time, and as the clean batch
    table gives them back (timestamps, numbers) — the online path's input."""
    raw = read_fact_table(kind, SAMPLES / FACT_FILES[kind])
    v = FactRecordValidator(AS_OF)
    for _, g in list(raw.groupby("uscc", dropna=True))[:60]:
        rows = [{k: x for k, x in r.items() if not (x is None or x is pd.NA)} for r in g.to_dict("records")]
        assert_same(v, kind, rows, None)
        clean = validate_fact_table(kind, g.reset_index(drop=True), AS_OF).clean
        typed = clean.drop(columns=["uscc", "row"]).to_dict("records")
        if typed:
            assert_same(v, kind, typed, str(g["uscc"].iloc[0]))


BAD = {
    "certificates": [
        {"item": "high_tech", "awarded_on": "2023-05-01", "level": "national"},
        {"item": "高新技术企业", "awarded_on": "2023/05/01", "level": " 国家级 "},  # duplicate key? raw level differs
        {"item": "high_tech", "awarded_on": "2023-05-01", "level": "national"},  # duplicate of row 1
        {"item": "no_such_thing", "awarded_on": "2022-01-01"},
        {"item": "", "awarded_on": "2022-01-01"},
        {"item": "high_tech", "awarded_on": ""},
        {"item": "high_tech", "awarded_on": "yesterday"},
        {"item": "high_tech", "awarded_on": "2030-01-01"},
        {"item": "high_tech", "awarded_on": "2021-01-01", "revoked_on": "2020-01-01"},
        {"item": "high_tech", "awarded_on": "2021-02-01", "revoked_on": "2026-01-01", "level": "galactic"},
        {"item": "high_tech", "awarded_on": "2021-03-01", "valid_from": "2021-03-01", "valid_to": "2020-12-31"},
        {"item": "high_tech", "awarded_on": "2021-04-01", "valid_to": "someday", "certificate_no": "  A-1 "},
    ],
    "milestones": [
        {"item": "moved_in", "occurred_on": "2024-01-01", "detail": "370102"},
        {"item": "nonsense", "occurred_on": "2024-01-01"},
        {"item": "moved_in", "occurred_on": "2024-01-01", "detail": "370103"},  # duplicate key
        {"item": "moved_in", "occurred_on": None},
    ],
    "penalties": [
        {"item": "tax_violation", "occurred_on": "2024-01-01", "amount": "-3", "severity": "major"},
        {"item": "tax_violation", "occurred_on": "2024-02-01", "amount": "lots", "severity": "apocalyptic"},
        {"item": "tax_violation", "occurred_on": "2024-03-01", "amount": "1,200.5", "severity": "重大"},
        {"item": "tax_violation", "occurred_on": "2024-03-01", "case_no": "X1"},
    ],
    "yearly": [
        {"year": 2023, "revenue": "1200", "employees": -5},
        {"year": "2023", "revenue": 3},  # duplicate key
        {"year": "2024.5", "revenue": 3},
        {"year": 1850},
        {"year": 2031},
        {"year": "abc", "revenue": "x"},
        {"year": None},
        {"year": 2022, "revenue": "1.5e3", "rd_expense": "n/a"},
    ],
    "declarations": [
        {"item": "no_major_accident", "declared_on": "2025-01-01", "value": "是"},
        {"item": "no_major_accident", "declared_on": "2025-02-01", "value": "maybe"},
        {"item": "bogus", "declared_on": "2025-02-01", "value": True},
        {"item": "no_major_accident", "declared_on": "2025-03-01", "value": 1, "valid_to": "2024-13-01"},
    ],
}


@pytest.mark.parametrize("kind", list(FACT_FILES))
def test_hand_made_bad_values_refused_and_cleared_as_in_the_batch(kind):
    v = FactRecordValidator(AS_OF)
    rows = BAD[kind]
    assert_same(v, kind, rows)
    for i in range(len(rows)):  # each row alone and each pair (duplicates, mixed column types)
        assert_same(v, kind, [rows[i]])
        assert_same(v, kind, [rows[i], rows[(i + 1) % len(rows)]])
    assert v.validate(kind, rows, USCC).rejects, "every table's bad rows give rejects"


def test_bad_uscc_and_missing_columns():
    v = FactRecordValidator(AS_OF)
    rows = [{"item": "high_tech", "awarded_on": "2023-05-01"}]
    assert_same(v, "certificates", rows, "91370100MA3C8TFK4X")  # check digit wrong
    assert_same(v, "certificates", rows, "")
    with pytest.raises(InputError, match="missing required column"):
        v.validate("certificates", [{"item": "high_tech"}], USCC)


def test_book_vocabularies_and_refusal_message_equal_facts_from_records():
    book = load_book(SAMPLES / "policies")
    vocab = book.table_vocabularies()
    v = FactRecordValidator(AS_OF, vocab)
    for kind, rows in BAD.items():
        assert_same(v, kind, rows, USCC, vocab)
        with pytest.raises(InputError) as batch_err:
            facts_from_records({kind: rows}, USCC, AS_OF, vocab)
        with pytest.raises(InputError) as one_err:
            v.facts({kind: rows}, USCC)
        assert str(one_err.value) == str(batch_err.value)


ATOMS = [  # every kind of derived fact the fact tables feed (as in tests/eligibility/test_derived_vs_reference.py)
    {"field": "certificate", "op": "held", "item": ["high_tech", "tech_sme"], "level": "provincial"},
    {"field": "certificate", "op": "first_in", "item": "high_tech", "window": {"last_years": 3}},
    {"field": "penalty", "op": "count_le", "value": 0, "window": {"last_years": 3}, "where": {"amount_ge": 5}},
    {"field": "penalty", "op": "occurred_in", "item": ["safety_accident"], "where": {"severity_ge": "serious"},
     "window": {"last_months": 18}},
    {"field": "milestone", "op": "occurred_in", "item": "moved_in", "window": {"last_years": 2},
     "where": {"detail_not_under": ["3701"]}},
    {"field": "revenue", "measure": "growth", "year": "last", "op": "ge", "value": 0.1},
    {"field": "rd_expense", "years": 3, "agg": "sum", "op": "ge", "value": 100},
    {"attest": "financial_system"},
]


def test_derived_facts_equal_from_records_and_from_tables(tmp_path):
    """derive_one reads the validator's plain records as it reads the batch's one-enterprise tables."""
    pols = [{"id": f"D-{i:02d}", "title": f"派生事实{i}", "department": "测试", "mode": "apply",
             "eligibility": {"all": [atom]}} for i, atom in enumerate(ATOMS)]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(pols, allow_unicode=True), encoding="utf-8")
    book = load_book(tmp_path)
    fields = [f for f in book.compiled.derived_fields if not isinstance(f.derived, ComputedFact)]
    assert len(fields) == len(ATOMS)
    vocab = book.table_vocabularies()
    v = FactRecordValidator(AS_OF, vocab)
    recs = synth_records()
    usccs = sorted(set().union(*[set(g) for g in recs.values()]))[:150]
    seen = set()
    for u in usccs:
        supplied = {k: recs[k].get(u, []) for k in recs}
        try:
            want = derive_one(fields, facts_from_records(supplied, u, AS_OF, vocab), {}, AS_OF)
        except InputError as e:
            with pytest.raises(InputError) as got_err:
                v.facts(supplied, u)
            assert str(got_err.value) == str(e)
            continue
        got = derive_one(fields, v.facts(supplied, u), {}, AS_OF)
        assert {k: _value(x) for k, x in got.items()} == {k: _value(x) for k, x in want.items()}, u
        seen.update((k, _value(x)) for k, x in got.items())
    assert len(seen) > len(fields)  # not all unknown: the facts decide some


CELL = st.one_of(
    st.none(), st.sampled_from(["", " ", "2024-01-05", "2024年3月1日", "20240102", "2026-01-01", "x", "national",
                                "市级", "1,000", "-1", "true", "否", "high_tech", "moved_in", "2023", "1e3"]),
    st.integers(-3, 2030), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.sampled_from([pd.Timestamp("2024-02-03"), pd.Timestamp("2027-01-01 10:00")]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(list(FACT_FILES)), data=st.data())
def test_generated_rows_equal_the_batch(kind, data):
    cols = {"certificates": ["item", "level", "awarded_on", "valid_from", "valid_to", "revoked_on"],
            "milestones": ["item", "occurred_on", "detail"],
            "penalties": ["item", "occurred_on", "amount", "severity", "case_no"],
            "yearly": ["year", "revenue", "employees"],
            "declarations": ["item", "declared_on", "value", "valid_to"]}[kind]
    n = data.draw(st.integers(1, 4))
    rows = [{c: data.draw(CELL) for c in cols} for _ in range(n)]
    assert_same(FactRecordValidator(AS_OF), kind, rows)
