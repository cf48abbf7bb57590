"""The fast paths of the city-scale read and validate give exactly the results of the general paths.

Each fast path (plain CSV through pyarrow, Parquet dates without text, USCCs that need no
normalising, integer USCC keys for duplicates, whitespace squashing only where needed) is checked
against a reference that is either the general path itself or a per-cell Python definition.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.tables import io as tio
from quanhuiqi.tables import parse, read_table, rejects, validate_enterprises, validate_push_history
from quanhuiqi.tables.parse import parse_dates, present, squash_whitespace, take_rows, to_arrow
from quanhuiqi.tables.rejects import first_of_key
from quanhuiqi.tables.uscc import (
    REASON_CHECK,
    USCC_REASONS,
    make_uscc,
    normalize_uscc,
    org_check_char,
    org_check_values,
    uscc_checked,
    uscc_key,
    uscc_reason,
)

AS_OF = "2025-06-30"


def code(org8: str, admin: str = "370102") -> str:
    return make_uscc("91" + admin + org8 + org_check_char(org8))


def same_frame(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return (
        a.equals(b)
        and list(a.columns) == list(b.columns)
        and list(a.dtypes.astype(str)) == list(b.dtypes.astype(str))
        and a.index.equals(b.index)
    )


# --- CSV: pyarrow for plain files, pandas for everything else -----------------------------------

CSV_CASES = {
    "plain": "a,b\n1,2\n3,\n,\n",
    "bom": "\ufeffa,b\n1,2\n",
    "crlf": "a,b\r\n1,2\r\n,x\r\n",
    "cr_only": "a,b\r1,2\r3,4",
    "no_final_newline": "a,b\n1,2",
    "blank_lines": "a,b\n\n1,2\n\n\n3,4\n",
    "whitespace_line": "a,b\n   \n1,2\n",
    "header_only": "a,b\n",
    "duplicate_names": "a,a\n1,2\n",
    "blank_name": "a,,c\n1,2,3\n",
    "short_row": "a,b,c\n1,2\n3,4,5\n",
    "index_column_inferred": "a,b\n0,1,2\n1,3,4\n",
    "quoted": 'a,b\n"x,y",2\n"multi\nline",3\n',
    "spaces_kept": "a , b\n 1 , 2 \n",
    "leading_blank_line": "\na,b\n1,2\n",
    "text_that_looks_missing": "名称,代码\n济南 公司,０１\nNaN,NA\nnull,None\n",
    "one_column": "a\n1\n  \n2\n",
    "leading_zeros": "uscc,n\n00123,0.50\n",
}


@pytest.mark.parametrize("name", list(CSV_CASES))
def test_csv_reads_as_pandas_does(tmp_path, name):
    p = tmp_path / f"{name}.csv"
    p.write_bytes(CSV_CASES[name].encode("utf-8"))
    try:
        want = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError):
        with pytest.raises(tio.InputError, match=name):
            read_table(p)
        return
    got = read_table(p)
    assert same_frame(got, want)
    assert got.columns.dtype == want.columns.dtype


def test_plain_csv_takes_the_fast_path_and_others_do_not(tmp_path):
    for name, fast in (("plain", True), ("quoted", False), ("short_row", False), ("duplicate_names", False)):
        p = tmp_path / f"{name}.csv"
        p.write_bytes(CSV_CASES[name].encode("utf-8"))
        assert (tio._read_plain_csv(p.read_bytes()) is not None) is fast, name


def test_csv_bad_utf8_still_names_the_file(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(tio.InputError, match="bad.csv: neither UTF-8 nor GB18030"):
        read_table(p)


# --- dates: Parquet date32 columns (object of datetime.date) without going through text ----------


def as_text(values: pd.Series) -> pd.Series:
    """The general path's input: each date written as YYYY-MM-DD (what str() of a date gives)."""
    return pd.Series([None if pd.isna(v) else str(v) for v in values], index=values.index, dtype="string")


DATE_OBJECTS = [
    dt.date(2020, 1, 1),
    None,
    np.nan,
    pd.NaT,
    dt.date(1600, 5, 5),  # outside datetime64[ns]: unparseable, as in the text path
    dt.date(1677, 12, 31),
    dt.date(1678, 1, 1),
    dt.date(2261, 12, 31),
    dt.date(2262, 1, 1),
    dt.date(1, 1, 1),
    dt.date(9999, 12, 31),
    dt.date(2024, 2, 29),
]


def test_date_objects_parse_as_their_text():
    values = pd.Series(DATE_OBJECTS, dtype=object, index=range(10, 10 + len(DATE_OBJECTS)))
    assert parse._holds_dates(values)  # the fast path is the one under test
    dates, bad = parse_dates(values)
    want, want_bad = parse_dates(as_text(values))
    assert dates.equals(want) and dates.dtype == want.dtype and dates.index.equals(want.index)
    assert bad.tolist() == want_bad.tolist()
    assert bad.tolist() == [False, False, False, False, True, True, False, False, True, True, True, False]
    assert present(values).tolist() == present(as_text(values)).tolist()


@pytest.mark.parametrize(
    "other",
    [
        dt.datetime(2020, 1, 1, 5, 30),
        dt.datetime(2020, 1, 1, 23, tzinfo=dt.timezone(dt.timedelta(hours=-8))),  # the text path refuses it
        pd.Timestamp("2021-03-04 05:06"),
    ],
)
def test_datetimes_among_dates_keep_the_text_path(other):
    values = pd.Series([dt.date(2020, 1, 1), other, None], dtype=object)
    assert not parse._holds_dates(values)
    want, want_bad = parse_dates(values.astype("string"))
    dates, bad = parse_dates(values)
    assert dates.equals(want) and bad.tolist() == want_bad.tolist()


def test_parquet_dates_validate_like_text_dates(tmp_path):
    u1, u2 = code("MA3C0001"), code("MA3C0002")
    frame = pd.DataFrame(
        {
            "date": [
                dt.date(2025, 6, 1),
                dt.date(2025, 6, 2),
                dt.date(2025, 7, 9),
                None,
                dt.date(2025, 6, 1),
            ],
            "uscc": [u1, u2, u1, u2, u1],
            "policy_id": ["P1", "P1", "P1", "P2", "P1"],
            "rank": [1, 2, 1, 3, 1],
        }
    )
    frame.to_parquet(tmp_path / "h.parquet", index=False)
    raw = read_table(tmp_path / "h.parquet")
    assert parse._holds_dates(raw["date"])  # what pandas makes of date32: the fast path's input
    v = validate_push_history(raw, AS_OF)
    ref = validate_push_history(raw.assign(date=as_text(raw["date"])), AS_OF)
    assert same_frame(v.clean, ref.clean) and same_frame(v.rejects, ref.rejects)
    assert v.rejects["reason"].tolist() == [
        "date after as_of 2025-06-30",
        "missing required value",
        "duplicate key (date, uscc, policy_id): row 1 kept",
    ]
    assert v.rejects["value"].tolist()[0] == "2025-07-09"


# --- USCC: normalising, reasons, integer keys ------------------------------------------------------


def normalize_one(s: str | None) -> str | None:
    if s is None:
        return None
    out = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", s)).upper()
    return out or None


@pytest.mark.parametrize(
    "messy", [None, " 9137", "9137-0102", "９１３７", "ab", "a\tb", "a\u3000b", "\x1cA", "A:@"]
)
def test_normalize_uscc_matches_the_per_cell_definition(messy):
    cells = [code("MA3C0001"), code("MA3C0002", "370105"), "", None, "123"] + ([messy] if messy else [])
    values = pd.Series(cells, dtype="string")
    got = normalize_uscc(values)
    assert got.dtype == "string"
    assert [None if pd.isna(x) else x for x in got] == [normalize_one(c) for c in cells]


def test_uscc_reason_column_equals_one_by_one():
    u = code("MA3C0001")
    wrong_check = u[:-1] + ("0" if u[-1] != "0" else "1")
    cells = [u, wrong_check, "123", "I" * 18, "91ABCDEF" + u[8:], "８１" + u[2:], None, "", u.lower()]
    values = pd.Series(cells, dtype="string")
    got = uscc_reason(values)
    assert got.dtype == "string"
    one_by_one = [uscc_reason(c).iloc[0] if c is not None else pd.NA for c in cells]
    assert [None if pd.isna(x) else x for x in got] == [None if pd.isna(x) else x for x in one_by_one]
    assert got.iloc[1] == REASON_CHECK
    assert set(got.dropna()) <= set(USCC_REASONS)


def test_org_check_values_as_matrix_product():
    rng = np.random.default_rng(0)
    body = rng.integers(0, 36, size=(500, 8))
    want = (11 - (body @ np.array([3, 7, 9, 10, 5, 8, 4, 2])) % 11) % 11
    assert org_check_values(body).tolist() == want.tolist()


def test_uscc_key_tells_codes_apart():
    codes = [code(f"MA3C{i:04d}", admin) for i in range(40) for admin in ("370102", "370105")]
    values = pd.Series(codes + codes[:7], dtype="string")
    hi, lo = uscc_key(values)
    pairs = list(zip(hi.tolist(), lo.tolist(), strict=True))
    assert len(set(pairs)) == len(codes)
    assert all(
        (pairs[i] == pairs[j]) == (values[i] == values[j]) for i in range(len(values)) for j in range(i)
    )
    for bad in ([code("MA3C0001"), None], ["123"], ["i" * 18]):
        with pytest.raises(ValueError, match="valid 18-character"):
            uscc_key(pd.Series(bad, dtype="string"))
    assert len(uscc_key(pd.Series([], dtype="string"))[0]) == 0


# --- duplicates: first row of each key --------------------------------------------------------------


def first_of_key_reference(keys: list, rows: np.ndarray) -> list[int]:
    seen: dict[tuple, int] = {}
    out = []
    for i, r in enumerate(rows):
        k = tuple("<NA>" if pd.isna(col[i]) else col[i] for col in keys)
        out.append(seen.setdefault(k, int(r)))
    return out


def test_first_of_key_matches_reference():
    rng = np.random.default_rng(3)
    n = 3000
    a = pd.Series(rng.choice(["x", "y", None], n), dtype="string")
    b = pd.Series(pd.to_datetime(rng.choice(["2025-01-01", "2025-01-02", None], n)))
    c = rng.integers(0, 5, n)
    rows = np.arange(7, 7 + n, dtype=np.int64)
    got = first_of_key([a, b, c], rows)
    assert got.tolist() == first_of_key_reference([a.tolist(), b.tolist(), c.tolist()], rows)
    assert first_of_key([a], rows[:0]).tolist() == []


def test_first_of_key_recodes_before_int64_overflows():
    n = 1 << 16  # four keys of 2**16 distinct values: the plain product would need 64 bits
    rng = np.random.default_rng(5)
    keys = [rng.permutation(n) for _ in range(4)]
    keys = [np.concatenate([k, k[:50]]) for k in keys]  # the last 50 rows repeat the first 50
    rows = np.arange(1, n + 51, dtype=np.int64)
    for got in (first_of_key(keys, rows), rejects._first_of_key_exact(keys, rows)):
        assert got[:n].tolist() == rows[:n].tolist()
        assert got[n:].tolist() == rows[:50].tolist()


@pytest.mark.parametrize("buckets", [1, 3])
def test_first_of_key_exact_when_hashes_collide(monkeypatch, buckets):
    """Colliding hashes only send rows down the exact path: the answer stays exact."""
    monkeypatch.setattr(rejects, "_mix64", lambda x: x % np.uint64(buckets))
    rng = np.random.default_rng(9)
    n = 2000
    a = pd.Series(rng.choice(["x", "y", "z", None], n), dtype="string")
    b = rng.integers(0, 40, n)
    flags = pd.array(rng.choice([True, False, None], n), dtype="boolean")
    rows = np.arange(1, n + 1, dtype=np.int64)
    got = first_of_key([a, b, pd.Series(flags)], rows)
    assert got.tolist() == first_of_key_reference([a.tolist(), b.tolist(), list(flags)], rows)


def test_duplicate_uscc_named_with_integer_keys():
    u1, u2 = code("MA3C0001"), code("MA3C0002")
    raw = pd.DataFrame({"uscc": [u1, u2, " " + u1.lower(), u2, u1], "name": ["甲", "乙", "丙", "丁", "戊"]})
    v = validate_enterprises(raw, AS_OF)
    assert v.clean["row"].tolist() == [1, 2]
    assert v.rejects["reason"].tolist() == [
        "duplicate uscc: row 1 kept",
        "duplicate uscc: row 2 kept",
        "duplicate uscc: row 1 kept",
    ]


# --- text helpers -------------------------------------------------------------------------------------


def test_squash_whitespace_matches_re_sub():
    rng = np.random.default_rng(0)
    alphabet = np.array(list("ab 中\t\u3000\xa0\n\x1c\u2028"))
    cells = ["".join(rng.choice(alphabet, rng.integers(0, 7))) for _ in range(3000)] + [None]
    for dtype in ("string", "str"):
        values = pd.Series(cells, dtype=dtype)
        got = squash_whitespace(values)
        want = [None if c is None else re.sub(r"\s+", " ", c).strip() for c in cells]
        assert [None if pd.isna(x) else x for x in got] == want
    untouched = pd.Series(["济南 公司", "abc", None], dtype="str")
    assert squash_whitespace(untouched).tolist()[:2] == ["济南 公司", "abc"]


def test_to_arrow_and_take_rows_keep_values():
    for dtype in ("str", "string", object):
        values = pd.Series(["a", None, "c"], dtype=dtype)
        assert to_arrow(values).to_pylist() == ["a", None, "c"]
    s = pd.Series([1.5, 2.5, 3.5], index=[7, 8, 9], name="x")
    got = take_rows(s, np.array([True, False, True]))
    assert got.tolist() == [1.5, 3.5] and got.index.tolist() == [0, 1] and got.dtype == "float64"


def test_strings_at_equals_the_object_array_it_replaces():
    """``strings_at`` (an Arrow gather of a few texts) gives what ``np.array(texts)[codes]`` as ``string``
    gave: a negative code or a ``None`` text is missing, the index is kept, the dtype is ``string``."""
    from quanhuiqi.text import strings_at

    texts = ["在营", None, "small", ""]
    codes = np.array([0, 2, -1, 1, 3, 0], dtype=np.int64)
    index = pd.Index([5, 4, 3, 2, 1, 0])
    want = pd.Series(np.array([*texts, None], dtype=object)[codes], index=index, dtype="string")
    pd.testing.assert_series_equal(strings_at(texts, codes, index), want)
    pd.testing.assert_series_equal(strings_at([], np.zeros(0, np.int64)), pd.Series([], dtype="string"))


@pytest.mark.parametrize(
    "cells",
    [
        ["12.5", "-3", "1e5", "", None, "abc", "2025-06-01"],  # printable ASCII only: the fast path
        ["12.5", " 3 ", "\t7", "1\x1f", "~", "\x7f"],  # ASCII with whitespace or control characters
        ["１２", "3\u3000", "ＡＢ", "  ", "中"],  # full-width and CJK
    ],
)
def test_clean_text_and_present_match_the_per_cell_definition(cells):
    values = pd.Series(cells, dtype="str")
    want = [None if c is None else (unicodedata.normalize("NFKC", c).strip() or None) for c in cells]
    got = parse.clean_text(values)
    assert got.dtype == "string"
    assert [None if pd.isna(x) else x for x in got] == want
    assert present(values).tolist() == [c is not None and c.strip() != "" for c in cells]


def test_uscc_checked_is_reason_plus_key():
    u = code("MA3C0001")
    cells = [u, "123", None, u[:-1] + ("0" if u[-1] != "0" else "1"), code("MA3C0002", "370105"), u]
    values = normalize_uscc(pd.Series(cells, dtype="string"))
    reason, hi, lo = uscc_checked(values)
    assert reason.equals(uscc_reason(values, normalized=True))
    valid = (values.notna() & reason.isna()).to_numpy()
    want_hi, want_lo = uscc_key(values[valid])
    assert hi[valid].tolist() == want_hi.tolist() and lo[valid].tolist() == want_lo.tolist()
    assert hi[[1, 2]].tolist() == [-1, -1] and lo[[1, 2]].tolist() == [-1, -1]  # not 18 characters


def test_whitespace_chars_are_exactly_what_str_isspace_holds():
    from quanhuiqi.text import whitespace_chars

    assert whitespace_chars() == "".join(chr(i) for i in range(0x110000) if chr(i).isspace())
