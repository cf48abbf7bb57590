"""Column parsers shared by the validators: dates, numbers, booleans, text — whole columns at once.

Each parser returns the parsed column and a mask of cells that were present but could not be
parsed, so the caller can clear them (missing = unknown) and write a reject naming the cell.
Registry columns repeat a few values over millions of rows (dates, codes, flags), so the costlier
parsers run over the distinct values and map back with ``take``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TRUE_WORDS = ("true", "1", "是", "1.0", "yes", "y", "t")
FALSE_WORDS = ("false", "0", "否", "0.0", "no", "n", "f")

# 2019-03-05, 2019/3/5, 2019.3.5, 2019年3月5日, optionally followed by a time of day
_DATE_YMD = (
    r"^(?P<y>\d{4}) ?[-/.年] ?(?P<m>\d{1,2}) ?[-/.月] ?(?P<d>\d{1,2}) ?日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_DATE_COMPACT = r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"  # 20190305
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def as_timestamp(as_of: str | dt.date | pd.Timestamp) -> pd.Timestamp:
    """``as_of`` as a midnight Timestamp; a clear error when it is not a date."""
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"as_of {as_of!r} is not a date (expected YYYY-MM-DD)") from exc
    if pd.isna(ts):
        raise ValueError("as_of is missing")
    return ts.tz_localize(None).normalize() if ts.tzinfo else ts.normalize()


def present(values: pd.Series) -> np.ndarray:
    """Cells that hold something: not missing and not blank text."""
    if _is_texty(values):
        arr = pc.utf8_trim(to_arrow(values), characters=whitespace_chars())
        return pc.fill_null(pc.not_equal(arr, ""), False).to_numpy(zero_copy_only=False)
    return values.notna().to_numpy(dtype=bool)


def _is_texty(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype) or values.dtype == object


# --- text through pyarrow compute: pandas falls back to a Python loop for NFKC and for ``\s``.


@cache
def whitespace_chars() -> str:
    """Exactly the characters Python's ``str.isspace`` (``\\s``, ``str.strip()``) treats as whitespace."""
    return "".join(chr(i) for i in range(0x110000) if chr(i).isspace())


@cache
def whitespace_class() -> str:
    """:func:`whitespace_chars` as an RE2 character class."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in whitespace_chars()) + "]"


def to_arrow(values: pd.Series) -> pa.Array:
    """The column as one pyarrow string array (missing → null)."""
    arr = pa.array(values.astype("string"))
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def from_arrow(arr: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def nfkc(values: pd.Series) -> pd.Series:
    """NFKC over the whole column (full-width digits and letters → ASCII, ideographic space → space)."""
    return from_arrow(pc.utf8_normalize(to_arrow(values), form="NFKC"), values.index)


def squash_whitespace(values: pd.Series) -> pd.Series:
    """Runs of whitespace → one space, trimmed: ``re.sub(r"\\s+", " ", s).strip()`` for every cell."""
    ws = whitespace_class()
    arr = pc.replace_substring_regex(to_arrow(values), pattern=ws + "+", replacement=" ")
    return from_arrow(pc.utf8_trim(arr, characters=" "), values.index)


def by_unique(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``func`` applied to the distinct non-missing values only, mapped back to every row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return func(values)
    out_u = func(pd.Series(uniques))
    return pd.Series(out_u.array.take(codes, allow_fill=True), index=values.index)


def clean_text(values: pd.Series) -> pd.Series:
    """NFKC, whitespace trimmed, as ``string``; blank → missing.  No 繁→简 (use for codes and words)."""
    arr = pc.utf8_normalize(to_arrow(values), form="NFKC")
    arr = pc.utf8_trim(arr, characters=whitespace_chars())
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    return from_arrow(arr, values.index)


def parse_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``datetime64[ns]`` from ISO and common registry forms; returns (dates, unparseable mask)."""
    has = present(values)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        return out.astype("datetime64[ns]").dt.normalize(), np.zeros(len(values), dtype=bool)
    if not _is_texty(values):
        values = values.astype("string")

    def parse(u: pd.Series) -> pd.Series:
        s = to_arrow(clean_text(u))
        parts = {}
        for pattern in (_DATE_YMD, _DATE_COMPACT):
            m = pc.extract_regex(s, pattern)  # RE2: \d is ASCII only, which is what NFKC leaves
            for f in ("y", "m", "d"):
                got = pc.struct_field(m, f)  # null where the struct is (no match)
                parts[f] = got if f not in parts else pc.coalesce(parts[f], got)
        nums = pd.DataFrame(
            {k: pc.cast(v, pa.int64()).to_numpy(zero_copy_only=False) for k, v in parts.items()},
            index=u.index,
        ).astype("float64")
        nums.columns = ["year", "month", "day"]
        # to_datetime checks the calendar (no 2月30日); years outside datetime64[ns] are unparseable
        ok = nums.notna().all(axis=1) & nums["year"].between(1678, 2261)
        out = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns]")
        if ok.any():
            d = pd.to_datetime(nums[ok].astype("int64"), errors="coerce")
            out[ok] = d.astype("datetime64[ns]")
        return out

    dates = by_unique(values, parse).astype("datetime64[ns]")
    bad = has & dates.isna().to_numpy()
    return dates, bad


def parse_numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """float64 from numbers or text (full-width digits, thousands separators, trailing %)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("string")
    if pd.api.types.is_numeric_dtype(values.dtype):
        out = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)
        bad = values.notna().to_numpy(dtype=bool) & ~np.isfinite(out.to_numpy())
        return out.mask(bad), bad
    s = to_arrow(clean_text(values))
    has = pc.is_valid(s).to_numpy(zero_copy_only=False)
    if pc.any(pc.match_substring(s, ",")).as_py():
        s = pc.replace_substring(s, pattern=",", replacement="")
    pct = pc.fill_null(pc.ends_with(s, "%"), False)
    if pc.any(pct).as_py():
        s = pc.if_else(pct, pc.utf8_slice_codeunits(s, 0, -1), s)
    ok = pc.fill_null(pc.match_substring_regex(s, _NUMBER), False)
    arr = np.full(len(values), np.nan)
    okn = ok.to_numpy(zero_copy_only=False)
    arr[okn] = pc.cast(s.filter(ok), pa.float64()).to_numpy(zero_copy_only=False)
    pctn = pct.to_numpy(zero_copy_only=False)
    arr[pctn] = arr[pctn] / 100.0
    arr[~np.isfinite(arr)] = np.nan
    bad = has & np.isnan(arr)
    return pd.Series(arr, index=values.index, dtype="float64"), bad


def parse_bools(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """pandas ``boolean`` from true/false, True/False, 1/0, 是/否 (and yes/no); else unparseable."""
    has = present(values)
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean"), np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        f = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan), index=values.index)
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[f == 1] = True
        out[f == 0] = False
        return out, has & out.isna().to_numpy()

    def parse(u: pd.Series) -> pd.Series:
        s = clean_text(u).str.lower()
        out = pd.Series(pd.NA, index=u.index, dtype="boolean")
        out[s.isin(TRUE_WORDS).fillna(False)] = True
        out[s.isin(FALSE_WORDS).fillna(False)] = False
        return out

    out = by_unique(values.astype("string"), parse).astype("boolean")
    return out, has & out.isna().to_numpy()


def cell_text(values: pd.Series) -> pd.Series:
    """Cells as text for the ``value`` column of rejects (the offending cell only)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y-%m-%d").astype("string")
    return values.astype("string")
