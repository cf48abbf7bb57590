"""Online calls (``PolicyBook.match``) with a profile row as the platform backend sends it: through JSON
(dates as ISO text), with booleans and numbers as text — the same answer as the typed row and the batch."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanhuiqi.eligibility import evaluate
from quanhuiqi.policy import load_book
from quanhuiqi.profile import profile
from quanhuiqi.tables import read_enterprises, validate_enterprises

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
AS_OF = dt.date(2025, 7, 1)
KEY = ["uscc", "policy_id", "verdict", "unknown", "evidence", "mode"]


@cache
def _city():
    book = load_book(SAMPLES / "policies")
    raw = read_enterprises(SAMPLES / "enterprises.csv").head(300)
    prof = profile(validate_enterprises(raw, AS_OF).clean, AS_OF)
    return book, prof


def _answer(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[KEY].astype("string").assign(amount=frame["amount"].astype("float64").round(6))
    return out.sort_values(["uscc", "policy_id"]).reset_index(drop=True)


def _as_text(row: dict, bools: dict[bool, str]) -> dict:
    """What a backend that stores everything as text would send."""
    out = {}
    for k, v in row.items():
        if isinstance(v, bool):
            out[k] = bools[v]
        elif isinstance(v, int | float) and not (isinstance(v, float) and np.isnan(v)):
            out[k] = repr(v)
        else:
            out[k] = v
    return out


@pytest.mark.parametrize("shape", ["typed", "json", "text_true_false", "text_shi_fou", "text_1_0"])
def test_online_answers_equal_the_batch_whatever_the_row_looks_like(shape: str) -> None:
    book, prof = _city()
    batch = _answer(evaluate(book, prof, AS_OF).pairs)
    records = json.loads(prof.to_json(orient="records", date_format="iso", force_ascii=False))
    parts = []
    for i, rec in enumerate(records):  # one online call per enterprise (a few hundred)
        if shape == "typed":
            row = prof.iloc[i]
        elif shape == "json":
            row = rec
        else:
            bools = {"text_true_false": {True: "true", False: "false"}, "text_shi_fou": {True: "是", False: "否"},
                     "text_1_0": {True: "1", False: "0"}}[shape]
            row = _as_text(rec, bools)
        parts.append(book.match(row, AS_OF))
    online = _answer(pd.concat(parts, ignore_index=True))
    assert len(online) > 100
    pd.testing.assert_frame_equal(online, batch)


def test_dates_in_any_form_and_unreadable_values_as_unknown() -> None:
    book, prof = _city()
    row = prof.iloc[0].to_dict()
    date_fields = [n for n, f in book.fields.items() if f.type == "date" and n in row]
    assert date_fields
    base = _answer(book.match(row, AS_OF))
    for form in (lambda d: pd.Timestamp(d).isoformat(), lambda d: pd.Timestamp(d).to_pydatetime(),
                 lambda d: np.datetime64(pd.Timestamp(d).date()), lambda d: pd.Timestamp(d).date()):
        alt = {**row, **{n: form(row[n]) for n in date_fields if pd.notna(row[n])}}
        pd.testing.assert_frame_equal(_answer(book.match(alt, AS_OF)), base)
    # an unreadable number or date is unknown, exactly like a missing one
    numbers = [n for n, f in book.fields.items() if f.type == "number" and n in row]
    garbled = {**row, **{n: "n/a" for n in numbers + date_fields}}
    missing = {**row, **{n: None for n in numbers + date_fields}}
    pd.testing.assert_frame_equal(_answer(book.match(garbled, AS_OF)), _answer(book.match(missing, AS_OF)))


def test_lazy_evidence_for_some_pairs_is_the_evidence_of_those_pairs() -> None:
    """``match_lazy`` (what the online ranker calls): the same columns, and evidence built only for the pairs
    asked for, in the order asked, equal to ``match_columns``' evidence of those pairs."""
    book, prof = _city()
    m = book._online
    checked = 0
    for row in prof.head(60).to_dict("records"):
        full = m.match_columns(row, AS_OF)
        cols, evidence = m.match_lazy(row, AS_OF)
        for c in cols:
            if c.startswith("amount"):
                np.testing.assert_array_equal(np.array(cols[c], dtype=float), np.array(full[c], dtype=float))
            else:
                assert cols[c] == full[c], c
        some = list(range(len(full["policy_id"])))[::-2]  # every other pair, backwards
        assert evidence(some) == [full["evidence"][i] for i in some]
        checked += len(some)
    assert checked > 50


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(min_value=5e-324, max_value=1e15, exclude_max=True),
                 st.integers(1, 10**9).map(lambda k: k / 20000.0)))  # halves at the 4th decimal too
def test_the_online_number_text_is_the_batchs(x: float) -> None:
    from quanhuiqi.eligibility.explain import number_text
    from quanhuiqi.eligibility.online import _number_text

    assert _number_text(x) == number_text(x)


def test_a_negative_zero_is_shown_as_the_batch_shows_it_after_a_zero() -> None:
    """The online matcher remembers shown values per field; 0.0 and -0.0 are one dictionary key, but the batch
    shows them apart — the online evidence must too, whichever came first."""
    book, prof = _city()
    numeric = [n for n, f in book.compiled.fields.items() if f.type == "number" and n in prof.columns]
    rows = prof.head(40).copy()
    for n in numeric:
        rows[n] = rows[n].astype("float64")
    rows.loc[rows.index[::2], numeric] = 0.0
    rows.loc[rows.index[1::2], numeric] = -0.0
    batch = _answer(evaluate(book, rows, AS_OF).pairs)
    online = _answer(pd.concat([book.match(r, AS_OF) for r in rows.to_dict("records")], ignore_index=True))
    pd.testing.assert_frame_equal(online, batch)
    shown = batch["evidence"].fillna("")
    assert shown.str.contains("（-0").any() and shown.str.contains("（0[^.0-9]", regex=True).any()  # both seen
