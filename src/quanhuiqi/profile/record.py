"""The profile (企业画像) of one clean record, as :func:`~quanhuiqi.profile.profile` builds it for a table.

The online path (a record the backend holds, with the facts its enterprise just supplied) must be
profiled in well under a millisecond; the builders of :class:`~quanhuiqi.profile.EnterpriseProfiler`
spend tens of milliseconds on a one-row frame in pandas overhead.  :class:`RecordProfiler` runs the same
steps — industry → status → size → age → finance → chains → tags — on a dict, sharing the builders'
rules and tables:

- per-value functions are the builders' own (``canonical_industry_code``'s one-value form,
  ``match_industry_names``, ``canonical_status``, ``chains_of_code``, ``normalise_set``), each distinct value
  computed once and remembered; the hierarchy of every code is read once from ``_hierarchy_distinct``;
- the size class and 规上 rules read the same threshold rows and candidate groups
  (:mod:`quanhuiqi.profile.size`), the age the same birthday rule, the tags each rule's per-record test
  (:data:`~quanhuiqi.profile.tags.TAG_RULES`).

``tests/profile/test_profile_record.py`` checks every column against ``profile()`` of the same records.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.profile.chains import chains_of_code, normalise_set
from quanhuiqi.profile.derived import LIFECYCLE_BOUNDS, LIFECYCLE_LAST, as_date
from quanhuiqi.profile.fields import BUILTIN_FIELDS
from quanhuiqi.profile.industry import _hierarchy_distinct, match_industry_names
from quanhuiqi.profile.size import (
    INDICATOR_COLUMNS,
    SCALE_RULES,
    UNKNOWN,
    _candidates,
)
from quanhuiqi.profile.status import canonical_status
from quanhuiqi.profile.tags import tags_of
from quanhuiqi.reference.industries import HIERARCHY_COLUMNS, canonical_industry_code_one, industry_table
from quanhuiqi.reference.sme import SIZE_CLASSES, sme_thresholds
from quanhuiqi.tables.record import is_missing, memo_once


def _text(v: Any) -> str | None:
    if is_missing(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    return v if isinstance(v, str) else str(v)


def _number(v: Any) -> float:
    """``pd.to_numeric(errors="coerce")`` of one value, as ``profile._base.number`` reads a column."""
    if is_missing(v):
        return math.nan
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_):
        return float(v)
    x = pd.to_numeric(pd.Series([v], dtype=object), errors="coerce").iloc[0]
    return math.nan if is_missing(x) else float(x)


@cache
def _threshold_rows() -> dict[str, list[tuple[str, float, float, float]]]:
    """Per SME industry group: (indicator column, small, medium, large lower bounds), in file order."""
    th = sme_thresholds()
    out: dict[str, list[tuple[str, float, float, float]]] = {}
    for key, ind, small, medium, large in zip(th["industry_key"], th["indicator"], th["small_min"],
                                              th["medium_min"], th["large_min"], strict=True):
        out.setdefault(key, []).append((INDICATOR_COLUMNS[ind], small, medium, large))
    return out


def _size_code(ind: dict[str, float], key: str) -> int:
    """:func:`~quanhuiqi.profile.size.size_class_codes` of one enterprise under group ``key``."""
    known_all, any_micro, cls = True, False, 3
    for col, small, medium, large in _threshold_rows()[key]:
        v = ind[col]
        if math.isnan(v):
            known_all = False
            continue
        c = int(v >= small) + int(v >= medium) + int(v >= large)
        any_micro |= c == 0
        cls = min(cls, c)
    return 0 if any_micro else cls if known_all else int(UNKNOWN)


def _scale_code(revenue: float, rule: float | str) -> int:
    """:func:`~quanhuiqi.profile.size.above_scale_codes` of one enterprise under one rule."""
    if rule == "all":
        return 1
    if rule == "none" or math.isnan(revenue):
        return int(UNKNOWN)
    return int(revenue >= float(rule))


def _resolve(code: str | None, kind: str, value_of_group: Callable[[str], int]) -> tuple[int, str | None]:
    """:func:`~quanhuiqi.profile.size.resolve_over_groups` of one enterprise."""
    groups = tuple(sorted(_candidates(kind, code)))
    if not groups:
        return int(UNKNOWN), None
    vals = [value_of_group(g) for g in groups]
    agree = all(v == vals[0] for v in vals) and vals[0] != UNKNOWN
    return (vals[0] if agree else int(UNKNOWN)), (groups[0] if len(groups) == 1 else None)


_UNKNOWN_OF_TYPE = {"set": "", "number": math.nan, "date": None}


class RecordProfiler:
    """Profiles clean records one by one (see the module docstring); ``as_of`` and the industry
    name-matching parameters are :class:`~quanhuiqi.profile.EnterpriseProfiler`'s."""

    def __init__(self, as_of: dt.date | str | pd.Timestamp, industry_confidence_floor: float = 0.85,
                 industry_margin: float = 3.0) -> None:
        self.as_of = as_date(as_of)
        self.floor = industry_confidence_floor
        self.margin = industry_margin
        self._memo: dict[str, dict[Any, Any]] = {}
        self._rules = dict(SCALE_RULES)
        self._rules["none"] = "none"

    def _once(self, name: str, fn: Callable[[Any], Any], key: Any) -> Any:
        return memo_once(self._memo, name, fn, key)

    def profile(self, clean: dict[str, Any]) -> dict[str, Any]:
        """The profile row of one clean record (``validate_enterprises``' row as a dict, or
        :class:`~quanhuiqi.tables.record.RecordValidator`'s): every input key kept, the profile's
        columns added, missing values as None (NaN for numbers)."""
        out = dict(clean)
        self._industry(out)
        text = _text(out.get("status_text")) if "status_text" in out else _text(out.get("status"))
        canon = None if text is None else self._once("status", canonical_status, text)
        out["status"], out["status_text"] = canon, text
        out["status_unrecognised"] = text is not None and canon is None
        self._size(out)
        self._age(out)
        rev = _number(out.get("revenue"))
        out["revenue_growth"] = _ratio(rev, _number(out.get("revenue_prev"))) - 1.0
        out["rd_ratio"] = _ratio(_number(out.get("rd_expense")), rev)
        out["tax_intensity"] = _ratio(_number(out.get("tax_paid")), rev)
        code = _text(out.get("industry_code"))
        out["chains"] = "" if code is None else self._once("chains", chains_of_code, code)
        certs = _text(out.get("certifications"))
        out["certifications"] = "" if certs is None else self._once("certs", normalise_set, certs)
        out["tags"] = tags_of(out)
        for f in BUILTIN_FIELDS:  # every field a policy may test exists; absent facts are unknown
            if f.name not in out:
                out[f.name] = _UNKNOWN_OF_TYPE.get(f.type)
        return out

    def _industry(self, out: dict[str, Any]) -> None:
        raw = _text(out.get("industry_code"))
        code = None if raw is None else self._once("canonical", canonical_industry_code_one, raw)
        match, conf = ("code", 1.0) if code is not None else (None, math.nan)
        name = _text(out.get("industry_name"))
        if code is None and name is not None:
            found, score = self._once("names", self._match_name, name)
            if found is not None:
                code, match, conf = found, "name", score
        out["industry_code"] = code
        out.update(_hierarchy_of(code))
        out["industry_match"] = match
        out["industry_confidence"] = conf

    def _match_name(self, name: str) -> tuple[str | None, float]:
        got = match_industry_names(pd.Series([name], dtype="string"), confidence_floor=self.floor,
                                   margin=self.margin).iloc[0]
        return (None, math.nan) if is_missing(got["code"]) else (str(got["code"]), float(got["confidence"]))

    def _size(self, out: dict[str, Any]) -> None:
        code = _text(out.get("industry_code"))
        ind = {c: _number(out.get(c)) for c in ("employees", "revenue", "total_assets")}
        size, key = _resolve(code, "sme", lambda g: _size_code(ind, g))
        scale, _ = _resolve(code, "scale", lambda g: _scale_code(ind["revenue"], self._rules[g]))
        out["size_class"] = None if size == UNKNOWN else SIZE_CLASSES[size]
        out["size_industry_key"] = key
        out["above_scale"] = None if scale == UNKNOWN else scale == 1

    def _age(self, out: dict[str, Any]) -> None:
        if "established_on" not in out:
            age = math.nan
        else:
            d = pd.to_datetime(out.get("established_on"), errors="coerce")
            if is_missing(d):
                age = math.nan
            else:
                a = self.as_of
                years = a.year - d.year - ((a.month * 100 + a.day) < (d.month * 100 + d.day))
                age = float(years) if years >= 0 else math.nan
        out["age_years"] = age
        stage = None
        if not math.isnan(age):
            stage = next((s for bound, s in LIFECYCLE_BOUNDS if age < bound), LIFECYCLE_LAST)
        out["lifecycle_stage"] = stage


def _ratio(num: float, den: float) -> float:
    """:func:`~quanhuiqi.profile.derived.ratio` of one pair: unknown unless the denominator is positive."""
    if math.isnan(den) or not den > 0:
        return math.nan
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return float(np.float64(num) / np.float64(den))


@cache
def _hierarchies() -> dict[str | None, dict[str, Any]]:
    """The industry columns of every canonical code (and of no code), from ``_hierarchy_distinct`` once."""
    codes = [None, *industry_table()["code"]]
    h = _hierarchy_distinct(pd.Series(codes, dtype="string"))
    cols = (*HIERARCHY_COLUMNS, "industry_section_name", "industry_label")
    out = {}
    for i, code in enumerate(codes):
        row = {c: _text(h[c].iloc[i]) for c in cols}
        level = h["industry_level"].iloc[i]
        row["industry_level"] = None if is_missing(level) else int(level)
        out[code] = row
    return out


def _hierarchy_of(code: str | None) -> dict[str, Any]:
    """The industry columns of one canonical code."""
    return _hierarchies()[code]


__all__ = ["RecordProfiler"]
