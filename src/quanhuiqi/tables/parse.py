"""Column parsers shared by the validators: dates, numbers, booleans, text — whole columns at once.

Each parser returns the parsed column and a mask of cells that were present but could not be
parsed, so the caller can clear them (missing = unknown) and write a reject naming the cell.
Registry columns repeat a few values over millions of rows (dates, codes, flags), so the costlier
parsers run over the distinct values and map back with ``take``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quanhuiqi.text import (  # noqa: F401 - re-exported: the readers and tables.uscc import them from here
    from_arrow,
    nfkc,
    printable_ascii,
    squash_whitespace,
    string_bytes,
    to_arrow,
    whitespace_chars,
    whitespace_class,
)

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
    if values.dtype == object and _holds_dates(values):  # a date is never blank: skip str() of every cell
        return values.notna().to_numpy(dtype=bool)
    if _is_texty(values):
        arr = to_arrow(values)
        if not printable_ascii(arr):
            arr = pc.utf8_trim(arr, characters=whitespace_chars())
        return pc.fill_null(pc.not_equal(arr, ""), False).to_numpy(zero_copy_only=False)
    return values.notna().to_numpy(dtype=bool)


def _is_texty(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values.dtype) or values.dtype == object


def _holds_dates(values: pd.Series) -> bool:
    """An object column of ``datetime.date`` only (and missing): what pandas makes of a Parquet date32.

    Only pure dates: a ``datetime`` (maybe with a time zone) keeps the text path, whose result
    for it is the reference.
    """
    if len(values) == 0 or pd.api.types.infer_dtype(values, skipna=True) != "date":
        return False
    # infer_dtype also says "date" for datetimes (a subclass): look at the exact types, in C (map)
    kinds = set(map(type, values.to_numpy(dtype=object))) - {type(pd.NaT)}  # NaT is missing, not a datetime
    return not any(issubclass(k, dt.date) and k is not dt.date for k in kinds)


# the years the text path accepts (the span of datetime64[ns]), as day numbers since 1970-01-01
_FIRST_DAY = int(np.datetime64("1678-01-01", "D").astype(np.int64))
_LAST_DAY = int(np.datetime64("2261-12-31", "D").astype(np.int64))


def _parse_date_objects(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """:func:`parse_dates` for :func:`_holds_dates` columns, through Arrow's date32 instead of text.

    Same result as formatting each date as ``YYYY-MM-DD`` and parsing it: missing stays missing,
    a year outside 1678–2261 is unparseable.
    """
    arr = pa.array(values.to_numpy(dtype=object), type=pa.date32(), from_pandas=True)
    valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    days = pc.fill_null(arr.cast(pa.int32()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    ok = valid & (days >= _FIRST_DAY) & (days <= _LAST_DAY)
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = days[ok].astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(out, index=values.index), valid & ~ok


# text through pyarrow compute lives in quanhuiqi.text (below tables); re-exported here for the readers


def take_rows(values: pd.Series, keep: np.ndarray) -> pd.Series:
    """``values[keep]`` (a boolean mask) re-indexed 0..k-1, selecting the values only: masking the
    Series also takes and rebuilds its index, which costs as much again on millions of rows."""
    return pd.Series(values.array[np.asarray(keep, dtype=bool)], name=values.name)


def by_unique(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``func`` applied to the distinct non-missing values only, mapped back to every row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return func(values)
    out_u = func(pd.Series(uniques))
    return pd.Series(out_u.array.take(codes, allow_fill=True), index=values.index)


def clean_text(values: pd.Series) -> pd.Series:
    """NFKC, whitespace trimmed, as ``string``; blank → missing.  No 繁→简 (use for codes and words)."""
    arr = to_arrow(values)
    if not printable_ascii(arr):
        arr = pc.utf8_normalize(arr, form="NFKC")
        arr = pc.utf8_trim(arr, characters=whitespace_chars())
    if pc.any(pc.equal(pc.binary_length(arr), 0)).as_py():
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    return from_arrow(arr, values.index)


def parse_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``datetime64[ns]`` from ISO and common registry forms; returns (dates, unparseable mask)."""
    if values.dtype == object and _holds_dates(values):
        return _parse_date_objects(values)
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
