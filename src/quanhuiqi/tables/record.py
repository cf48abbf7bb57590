"""One enterprise record, validated exactly as the batch validates a table holding it — in microseconds.

The platform backend holds an enterprise as a dict (the registry's fields plus the facts it has just
supplied) and must answer at once; :func:`~quanhuiqi.tables.validate_enterprises` over a one-row frame
spends its time in pandas overhead.  :class:`RecordValidator` applies the same rules value by value:

- the value-level rules of the batch (code canonicalisation, status and type normalisation, certification
  tokens, ownership, tax rating, booleans) run on the value itself through the one-value functions next
  to their column versions (``canonical_industry_code_one``, ``certifications_one`` …: the same tables and
  patterns), each distinct value once, then remembered;
- numbers and dates, whose values rarely repeat, are parsed by scalar ports of
  :func:`~quanhuiqi.tables.parse.parse_numbers` / :func:`~quanhuiqi.tables.parse.parse_dates` (the same
  patterns, the same NFKC and whitespace rules);
- the rejects are the batch's rejects for a one-row table (``source, row, column, value, reason,
  action``, in its order): a refused row raises nothing here — ``clean`` is None and the rejects say
  why, so the caller can refuse the record by name.

"The batch on a table holding that record" is ``validate_enterprises(pd.DataFrame([record]), as_of)``:
each value keeps its Python type (a number, a date, a text), as a one-row frame's columns would.
``tests/tables/test_record_validation.py`` checks both agree on messy records (hypothesis) and on the sample city.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.reference.districts import canonical_district_code_one
from quanhuiqi.reference.industries import canonical_industry_code_one
from quanhuiqi.tables.columns import (
    ENTERPRISE_BOOLS,
    ENTERPRISE_COLUMNS,
    ENTERPRISE_COUNTS,
    ENTERPRISE_DATES,
    ENTERPRISE_FACT_CATEGORIES,
    ENTERPRISE_FACT_COUNTS,
    ENTERPRISE_FACT_MONEY,
    ENTERPRISE_FACT_RATES,
    ENTERPRISE_LOCATIONS,
    ENTERPRISE_MONEY,
    ENTERPRISE_RATES,
    NAME,
    TAX_CREDIT_RATINGS,
    USCC,
)
from quanhuiqi.tables.enterprises import (
    DATE_AFTER_AS_OF,
    MISSING_REQUIRED,
    NEGATIVE,
    NOT_A_BOOL,
    NOT_A_NUMBER,
    RATE_OUT_OF_RANGE,
    UNKNOWN_CERTIFICATION,
    UNKNOWN_DISTRICT,
    UNKNOWN_INDUSTRY,
    UNKNOWN_OWNERSHIP,
    UNKNOWN_RATING,
    UNPARSEABLE_DATE,
    certifications_one,
    ownership_one,
    rating_one,
)
from quanhuiqi.tables.parse import FALSE_WORDS, TRUE_WORDS, as_timestamp
from quanhuiqi.tables.rejects import REJECT_COLUMNS, ROW_REJECTED, VALUE_CLEARED, empty_rejects
from quanhuiqi.tables.uscc import normalize_uscc_one, uscc_reason_one
from quanhuiqi.text import normalize_text

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_DATE_YMD = re.compile(
    r"(?P<y>\d{4}) ?[-/.年] ?(?P<m>\d{1,2}) ?[-/.月] ?(?P<d>\d{1,2}) ?日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", re.ASCII)
_DATE_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})", re.ASCII)
_MEMO_LIMIT = 200_000  # distinct values remembered per function (codes, words): a few MB


def memo_once(memo: dict[str, dict[Any, Any]], name: str, fn: Callable[[Any], Any], key: Any) -> Any:
    """``fn(key)`` computed once per distinct key in ``memo[name]`` (cleared past ``_MEMO_LIMIT`` keys): the
    one-record paths see the same codes and words call after call, so each is worked out once."""
    table = memo.setdefault(name, {})
    if key in table:
        return table[key]
    if len(table) >= _MEMO_LIMIT:
        table.clear()
    table[key] = out = fn(key)
    return out


def is_missing(v: Any) -> bool:
    """One value is missing as the batch's columns see it (None, NA, NaT, NaN); text, bytes and bools never are.
    The one-record paths (tables, profile, the online ranker) share it so they agree on what is unknown."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    if isinstance(v, str | bytes | bool):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _as_text(v: Any) -> str | None:
    """``astype("string")`` of one value: None when missing."""
    if is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, dt.datetime | pd.Timestamp):
        return str(pd.Timestamp(v))
    return str(v)


def _cell(v: Any) -> str | None:
    """The rejects' ``value`` of one cell (dates of a date column as ``YYYY-MM-DD``)."""
    if isinstance(v, dt.datetime | pd.Timestamp | np.datetime64):
        ts = pd.Timestamp(v)
        return None if pd.isna(ts) else ts.strftime("%Y-%m-%d")
    return _as_text(v)


def _present(v: Any) -> bool:
    """:func:`~quanhuiqi.tables.parse.present` of one cell: holds something, not blank text."""
    if is_missing(v):
        return False
    if isinstance(v, str):
        return v.strip() != ""
    return True


def _clean(text: str) -> str | None:
    """:func:`~quanhuiqi.tables.parse.clean_text` of one text: NFKC, whitespace trimmed, blank → None."""
    s = unicodedata.normalize("NFKC", text).strip()
    return s or None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)


def parse_number(v: Any) -> tuple[float, bool]:
    """:func:`~quanhuiqi.tables.parse.parse_numbers` of one cell: (value or NaN, present but unreadable)."""
    if is_missing(v):
        return math.nan, False
    if _is_number(v):
        x = float(v)
        return (x, False) if math.isfinite(x) else (math.nan, True)
    s = _clean(_as_text(v))  # type: ignore[arg-type]
    if s is None:
        return math.nan, False
    s = s.replace(",", "")
    pct = s.endswith("%")
    if pct:
        s = s[:-1]
    if not _NUMBER.fullmatch(s):
        return math.nan, True
    x = float(s)
    if pct:
        x = x / 100.0
    return (x, False) if math.isfinite(x) else (math.nan, True)


def parse_date(v: Any) -> tuple[pd.Timestamp | None, bool]:
    """:func:`~quanhuiqi.tables.parse.parse_dates` of one cell: (midnight Timestamp or None, unreadable)."""
    if is_missing(v):
        return None, False
    if isinstance(v, dt.datetime | pd.Timestamp | np.datetime64):  # a datetime column
        ts = pd.Timestamp(v)
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)
        return ts.normalize().as_unit("ns"), False
    if isinstance(v, dt.date):  # a column of dates (Parquet date32)
        if not 1678 <= v.year <= 2261:
            return None, True
        return pd.Timestamp(v).as_unit("ns"), False
    s = _clean(_as_text(v))  # type: ignore[arg-type]
    if s is None:
        return None, False
    m = _DATE_YMD.fullmatch(s) or _DATE_COMPACT.fullmatch(s)
    if m is None:
        return None, True
    y, mo, d = int(m.group("y")), int(m.group("m")), int(m.group("d"))
    if not 1678 <= y <= 2261:
        return None, True
    try:
        return pd.Timestamp(dt.date(y, mo, d)).as_unit("ns"), False
    except ValueError:
        return None, True


@dataclass
class RecordResult:
    """A record validated: ``clean`` (the clean row as a dict, None when the row is refused) and its
    rejects as ``(column, value, reason, action)`` tuples in the batch's order; ``rejects`` is the
    batch's rejects table of a one-row table (built when asked for)."""

    clean: dict[str, Any] | None
    records: list[tuple[str, str | None, str, str]]
    source: str = "enterprises"
    row: int = 1

    @property
    def ok(self) -> bool:
        return self.clean is not None

    @property
    def refused(self) -> list[str]:
        """``column: reason`` of each check that refused the row (empty when it is kept)."""
        return [f"{c}: {r}" for c, _, r, a in self.records if a == ROW_REJECTED]

    @property
    def rejects(self) -> pd.DataFrame:
        rows = self.records
        if not rows:
            return empty_rejects()
        return pd.DataFrame({
            "source": pd.array([self.source] * len(rows), dtype="string"),
            "row": np.full(len(rows), self.row, dtype="int64"),
            "column": pd.array([r[0] for r in rows], dtype="string"),
            "value": pd.array([r[1] for r in rows], dtype="string"),
            "reason": pd.array([r[2] for r in rows], dtype="string"),
            "action": pd.array([r[3] for r in rows], dtype="string"),
        })[REJECT_COLUMNS]


class RecordValidator:
    """Validates enterprise records one by one with the rules of ``validate_enterprises`` (see the
    module docstring).  Keeps what it learnt about values between calls (one validator per process)."""

    def __init__(self, as_of: str | dt.date | pd.Timestamp, source: str = "enterprises") -> None:
        self.as_of = as_timestamp(as_of)
        self.source = source
        self._memo: dict[str, dict[Any, Any]] = {}

    def _once(self, name: str, fn: Callable[[Any], Any], key: Any) -> Any:
        return memo_once(self._memo, name, fn, key)

    def validate(self, record: dict[str, Any], row: int = 1) -> RecordResult:
        """The record as the batch's clean row (``row`` is its 1-based input row), with its rejects."""
        rej: list[tuple[str, str | None, str, str]] = []  # column, value, reason, action (insertion order)

        def clear(column: str, raw: Any, reason: str) -> None:
            rej.append((column, _cell(raw), reason, VALUE_CLEARED))

        get = record.get
        raw_uscc = get(USCC)
        uscc = self._uscc(_as_text(raw_uscc))
        if uscc[0] is None:
            rej.append((USCC, None, MISSING_REQUIRED, ROW_REJECTED))
        elif uscc[1] is not None:
            rej.append((USCC, _cell(raw_uscc), uscc[1], ROW_REJECTED))
        if not _present(get(NAME)):
            rej.append((NAME, None, MISSING_REQUIRED, ROW_REJECTED))
        if rej:
            return RecordResult(None, self._ordered(rej), self.source, row)

        out: dict[str, Any] = {"row": row, USCC: uscc[0], NAME: _as_text(get(NAME))}
        out["name_norm"] = normalize_text(out[NAME])
        for name, canon, reason in (
            ("industry_code", canonical_industry_code_one, UNKNOWN_INDUSTRY),
            ("district_code", canonical_district_code_one, UNKNOWN_DISTRICT),
            *((loc, canonical_district_code_one, UNKNOWN_DISTRICT) for loc in ENTERPRISE_LOCATIONS),
        ):
            raw = get(name)
            text = _as_text(raw)
            code = None if text is None else self._once(name, canon, text)
            if _present(text) and code is None:
                clear(name, text, reason)
            out[name] = code
        ind = _as_text(get("industry_name"))
        out["industry_name"] = ind if ind is not None and _clean(ind) is not None else None
        for name in ("status", "enterprise_type"):
            text = _as_text(get(name))
            out[name] = None if text is None else normalize_text(text)
        for name in ENTERPRISE_DATES:
            raw = get(name)
            date, bad = parse_date(raw)
            if bad:
                clear(name, raw, UNPARSEABLE_DATE)
            if date is not None and date > self.as_of:
                clear(name, raw, f"{DATE_AFTER_AS_OF} {self.as_of.date().isoformat()}")
                date = None
            out[name] = date
        rates = ENTERPRISE_RATES + ENTERPRISE_FACT_RATES
        for name in ENTERPRISE_MONEY + ENTERPRISE_COUNTS + rates + ENTERPRISE_FACT_MONEY + ENTERPRISE_FACT_COUNTS:
            raw = get(name)
            x, bad = parse_number(raw)
            if bad:
                clear(name, raw, NOT_A_NUMBER)
            if name in rates and (x < 0 or x > 1):
                clear(name, raw, RATE_OUT_OF_RANGE)
                x = math.nan
            elif name not in rates and x < 0:
                clear(name, raw, NEGATIVE)
                x = math.nan
            out[name] = x
        text = _as_text(get("tax_credit_rating"))
        rating = None if text is None else self._once("rating", rating_one, text)
        if _present(text) and rating not in TAX_CREDIT_RATINGS:
            clear("tax_credit_rating", text, UNKNOWN_RATING)
            rating = None
        out["tax_credit_rating"] = rating
        if "certifications" in record:
            joined, unknown = self._once("certifications", certifications_one, _as_text(get("certifications")))
            for token in unknown:
                rej.append(("certifications", token, UNKNOWN_CERTIFICATION, VALUE_CLEARED))
            out["certifications"] = joined
        else:
            out["certifications"] = None
        for name in ENTERPRISE_BOOLS:
            raw = get(name)
            flag, bad = self._once("bool", _bool, _bool_key(raw))
            if bad:
                clear(name, raw, NOT_A_BOOL)
            out[name] = flag
        for name in ENTERPRISE_FACT_CATEGORIES:
            text = _as_text(get(name))
            token = None if text is None else self._once(name, ownership_one, text)
            if _present(text) and token is None:
                clear(name, text, UNKNOWN_OWNERSHIP)
            out[name] = token
        clean = {c: out[c] for c in ["row", USCC, NAME, "name_norm"]
                 + [c for c in ENTERPRISE_COLUMNS if c not in (USCC, NAME)]}
        for k, v in record.items():  # undeclared columns pass through untouched
            if k not in clean:
                clean[k] = v
        return RecordResult(clean, self._ordered(rej), self.source, row)

    @staticmethod
    def _uscc(text: str | None) -> tuple[str | None, str | None]:
        code = normalize_uscc_one(text)
        return (None, None) if code is None else (code, uscc_reason_one(code))

    @staticmethod
    def _ordered(rej: list[tuple[str, str | None, str, str]]) -> list[tuple[str, str | None, str, str]]:
        """The batch's order: by column name, then as added."""
        return [rej[i] for i in sorted(range(len(rej)), key=lambda i: (rej[i][0], i))]


def _bool_key(v: Any) -> Any:
    """A hashable key for a boolean cell (the value with its kind: 1 and True read alike)."""
    if is_missing(v):
        return None
    if isinstance(v, bool | np.bool_):
        return ("bool", bool(v))
    if _is_number(v):
        return ("number", float(v))
    return ("text", _as_text(v))


def _bool(key: Any) -> tuple[bool | None, bool]:
    """:func:`~quanhuiqi.tables.parse.parse_bools` of one cell: (flag or None, present but unreadable)."""
    if key is None:
        return None, False
    kind, v = key
    if kind == "bool":
        return v, False
    if kind == "number":
        return (True, False) if v == 1 else (False, False) if v == 0 else (None, True)
    s = _clean(v)
    if s is None:
        return None, False
    s = s.lower()
    if s in TRUE_WORDS:
        return True, False
    if s in FALSE_WORDS:
        return False, False
    return None, v.strip() != ""


__all__ = ["RecordResult", "RecordValidator", "is_missing", "parse_date", "parse_number"]
