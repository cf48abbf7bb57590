"""One enterprise's fact records (the few rows it has just supplied), validated exactly as
:func:`~quanhuiqi.tables.facts.validate_fact_table` validates a table holding them — without pandas.

The online path (``OnlineRanker.recommend_record(record, facts=…)``) receives an enterprise's certificates,
milestones, penalties, yearly figures and declarations as lists of dicts.  Pushing three rows through the
batch's column validators costs ≈ 55 ms of pandas overhead; :class:`FactRecordValidator` applies the same
rules cell by cell with the one-value parsers of :mod:`quanhuiqi.tables.record`:

- each table's :class:`~quanhuiqi.tables.history.TableSpec` (uscc, ids, event date, other dates, the duplicate
  key, texts, money, booleans) and then the fact rules of :mod:`quanhuiqi.tables.facts` (item vocabularies,
  levels, severities, revocations, validity, years), in the batch's order;
- a column's values are read as ``pd.DataFrame(rows)`` would type them (all numbers → numbers, all
  timestamps → dates, all booleans → booleans, anything else → text), so refusals quote the same values;
- the rejects are the batch's: ``(row, column, value, reason, action)`` ordered by row, then column name;
- vocabularies (shipped items plus the book's own) are built once per validator, not per call.

``tests/tables/test_fact_record_validation.py`` checks the clean rows and the rejects against the batch on the
synthetic city's fact tables, on hand-made bad values for every rule and on generated rows (hypothesis).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.reference.records import (
    ATTESTATIONS,
    LEVEL_SYNONYMS,
    LEVELS,
    RECORD_SYNONYMS,
    RECORD_TABLES,
    SEVERITIES,
    SEVERITY_SYNONYMS,
    YEARLY_METRICS,
)
from quanhuiqi.tables.enterprises import (
    DATE_AFTER_AS_OF,
    MISSING_REQUIRED,
    NEGATIVE,
    NOT_A_BOOL,
    NOT_A_NUMBER,
    UNPARSEABLE_DATE,
)
from quanhuiqi.tables.facts import (
    FACT_FILES,
    NOT_A_YEAR,
    REVOKED_BEFORE_AWARD,
    SPECS,
    UNKNOWN_ITEM,
    UNKNOWN_LEVEL,
    UNKNOWN_SEVERITY,
    VALID_TO_BEFORE_FROM,
    YEARLY,
)
from quanhuiqi.tables.history import DUPLICATE_KEY, TableSpec
from quanhuiqi.tables.io import InputError
from quanhuiqi.tables.parse import as_timestamp
from quanhuiqi.tables.record import _bool, _bool_key, _clean, _present, is_missing, parse_date, parse_number
from quanhuiqi.tables.rejects import ROW_REJECTED, VALUE_CLEARED
from quanhuiqi.tables.uscc import normalize_uscc_one, uscc_reason_one
from quanhuiqi.text import normalize_text

_VOCAB_STRIP = re.compile(r"[\s\"'“”《》「」]")
Reject = tuple[int, str, str | None, str, str]  # row, column, value, reason, action


@dataclass
class FactRecords:
    """One enterprise's clean fact tables as lists of clean rows (dicts with the batch's columns and values;
    missing values are None); ``None`` = the table was not supplied (its facts unknown).  What
    :func:`quanhuiqi.eligibility.derive.derive_one` reads, like :class:`~quanhuiqi.tables.facts.FactTables`."""

    certificates: list[dict] | None = None
    milestones: list[dict] | None = None
    penalties: list[dict] | None = None
    yearly: list[dict] | None = None
    declarations: list[dict] | None = None

    def supplied(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]


@dataclass
class FactRecordResult:
    """One fact table validated: its clean rows and the batch's rejects ``(row, column, value, reason,
    action)`` in the batch's order (rows are 1-based, as in the batch)."""

    kind: str
    clean: list[dict]
    rejects: list[Reject] = field(default_factory=list)

    @property
    def refused(self) -> list[Reject]:
        return [r for r in self.rejects if r[4] == ROW_REJECTED]


def _kind_of(values: list[Any]) -> str:
    """How ``pd.DataFrame(rows)`` (then ``astype("string")`` of object columns) types one column."""
    present = [v for v in values if not is_missing(v)]
    if not present:
        return "missing"
    if all(isinstance(v, bool | np.bool_) for v in present):
        return "bool" if len(present) == len(values) else "text"
    if all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
           for v in present):
        exact = len(present) == len(values) and all(isinstance(v, int | np.integer) for v in present)
        return "int" if exact else "float"
    if all(isinstance(v, pd.Timestamp | dt.datetime | np.datetime64) for v in present):
        return "datetime"
    return "text"


def _typed(v: Any, kind: str) -> Any:
    """One cell as its column holds it (None when missing)."""
    if is_missing(v):
        return None
    if kind == "text":
        if isinstance(v, str):
            return v
        if isinstance(v, bool | np.bool_):
            return str(bool(v))
        if isinstance(v, np.generic):
            v = v.item()
        return str(v)
    if kind == "float":
        return float(v)
    if kind == "int":
        return int(v)
    if kind == "datetime":
        ts = pd.Timestamp(v)
        return ts.tz_localize(None) if ts.tzinfo is not None else ts
    return v


def _text(v: Any) -> str | None:
    """A typed cell as the rejects' ``value`` (``astype("string")``; dates as ``YYYY-MM-DD``)."""
    if v is None:
        return None
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return str(v)


def _day(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.strftime("%Y-%m-%d")


class _Vocabulary:
    """The canonical tokens of one vocabulary, and each text's token once computed (``_vocabulary`` of
    :mod:`quanhuiqi.tables.facts`: the token itself in any case, or a Chinese synonym)."""

    def __init__(self, tokens: dict[str, str] | list[str], synonyms: dict[str, str]) -> None:
        self.known = {t.lower(): t for t in tokens}
        self.synonyms = dict(synonyms)
        self.listing = ", ".join(list(tokens)[:12]) + (" …" if len(tokens) > 12 else "")
        self._memo: dict[str, str | None] = {}

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        if text in self._memo:
            return self._memo[text]
        norm = normalize_text(text)
        out = None
        if norm is not None:
            norm = _VOCAB_STRIP.sub("", norm)
            out = self.known.get(norm.lower())
            if out is None:
                out = self.synonyms.get(norm)
        if len(self._memo) < 100_000:
            self._memo[text] = out
        return out


class FactRecordValidator:
    """Validates one enterprise's fact records table by table with the batch's rules (module docstring).
    Build it once (per day and book): it keeps its vocabularies and what it learnt about item texts."""

    def __init__(self, as_of: str | dt.date | pd.Timestamp,
                 vocabularies: dict[str, dict[str, str] | list[str]] | None = None) -> None:
        self.as_of = as_timestamp(as_of)
        self.after_reason = f"{DATE_AFTER_AS_OF} {self.as_of.date().isoformat()}"
        self.vocabularies = dict(vocabularies or {})
        extra = self.vocabularies.get("yearly")
        self.specs: dict[str, TableSpec] = dict(SPECS)
        if extra:
            more = [m for m in extra if m not in YEARLY_METRICS]
            self.specs["yearly"] = dataclasses.replace(YEARLY, columns=YEARLY.columns + more,
                                                       money=YEARLY.money + more)
        own = self.vocabularies
        self.items = {
            "certificates": _Vocabulary(own.get("certificates") or RECORD_TABLES["certificate"],
                                        RECORD_SYNONYMS["certificate"]),
            "milestones": _Vocabulary(own.get("milestones") or RECORD_TABLES["milestone"],
                                      RECORD_SYNONYMS["milestone"]),
            "penalties": _Vocabulary(own.get("penalties") or RECORD_TABLES["penalty"], RECORD_SYNONYMS["penalty"]),
            "declarations": _Vocabulary(own.get("declarations") or ATTESTATIONS,
                                        {v: k for k, v in ATTESTATIONS.items()}),
        }
        self.item_table = {"certificates": "certificate", "milestones": "milestone", "penalties": "penalty",
                           "declarations": "declaration"}
        self.levels = _Vocabulary(list(LEVELS), LEVEL_SYNONYMS)
        self.severities = _Vocabulary(list(SEVERITIES), SEVERITY_SYNONYMS)

    # --- one table
    def validate(self, kind: str, rows: list[dict], uscc: str | None = None) -> FactRecordResult:
        """The rows of one fact table (``uscc``, when given, is set on every row, as the online path does)."""
        if kind not in self.specs:
            raise ValueError(f"unknown fact table {kind!r} (expected one of {', '.join(FACT_FILES)})")
        spec = self.specs[kind]
        recs = [{**r, "uscc": uscc} for r in rows] if uscc is not None else [dict(r) for r in rows]
        names: dict[str, None] = {}
        for r in recs:
            names.update(dict.fromkeys(r))
        missing = [c for c in spec.required if c not in names]
        if recs and missing:  # the batch's ``require_columns``
            raise InputError(f"{kind}: missing required column(s) {', '.join(missing)}")
        kinds = {c: _kind_of([r.get(c) for r in recs]) for c in names}
        raw = [{c: _typed(r.get(c), kinds[c]) for c in names} for r in recs]
        n = len(raw)
        rej: list[Reject] = []
        ok = [True] * n
        out: list[dict[str, Any]] = [{} for _ in range(n)]

        def add(i: int, column: str, value: Any, reason: str, action: str) -> None:
            rej.append((i + 1, column, value, reason, action))

        # --- whole-row checks (each over every row, as the batch's column checks)
        for name in spec.uscc:
            for i, r in enumerate(raw):
                v = r.get(name)
                code = normalize_uscc_one(None if v is None else str(v))
                if code is None:
                    add(i, name, None, MISSING_REQUIRED, ROW_REJECTED)
                    ok[i] = False
                else:
                    why = uscc_reason_one(code)
                    if why is not None:
                        add(i, name, _text(v), why, ROW_REJECTED)
                        ok[i] = False
                out[i][name] = code
        for name in spec.ids:
            for i, r in enumerate(raw):
                v = r.get(name)
                ids = None if v is None else _clean(_text(v))
                if ids is None:
                    add(i, name, None, MISSING_REQUIRED, ROW_REJECTED)
                    ok[i] = False
                out[i][name] = ids
        if spec.event_date:
            name = spec.event_date
            for i, r in enumerate(raw):
                v = r.get(name)
                date, bad = parse_date(v)
                after = date is not None and date > self.as_of
                if date is None and not bad and not _present(v):
                    add(i, name, None, MISSING_REQUIRED, ROW_REJECTED)
                    ok[i] = False
                if bad:
                    add(i, name, _text(v), UNPARSEABLE_DATE, ROW_REJECTED)
                    ok[i] = False
                if after:
                    add(i, name, _text(v), self.after_reason, ROW_REJECTED)
                    ok[i] = False
                out[i][name] = date
        for name in spec.dates:
            for i, r in enumerate(raw):
                v = r.get(name)
                date, bad = parse_date(v)
                if bad and ok[i]:
                    add(i, name, _text(v), UNPARSEABLE_DATE, VALUE_CLEARED)
                out[i][name] = date
        seen: dict[tuple, int] = {}
        for i in range(n):
            if not ok[i]:
                continue
            key = tuple(out[i][c] if c in out[i] else raw[i].get(c) for c in spec.key)
            first = seen.setdefault(key, i + 1)
            if first != i + 1:
                add(i, ",".join(spec.key), None, DUPLICATE_KEY.format(key=", ".join(spec.key), kept=first),
                    ROW_REJECTED)
                ok[i] = False
        # --- value checks (kept rows only report)
        for name in spec.texts:
            for i, r in enumerate(raw):
                v = r.get(name)
                out[i][name] = None if v is None else _clean(_text(v))
        for name in spec.numbers + spec.money:
            for i, r in enumerate(raw):
                v = r.get(name)
                x, bad = parse_number(v)
                if bad and ok[i]:
                    add(i, name, _text(v), NOT_A_NUMBER, VALUE_CLEARED)
                if name in spec.money and x < 0:
                    if ok[i]:
                        add(i, name, _text(v), NEGATIVE, VALUE_CLEARED)
                    x = math.nan
                out[i][name] = x
        for name in spec.bools:
            for i, r in enumerate(raw):
                v = r.get(name)
                flag, bad = _bool(_bool_key(v))
                if bad and ok[i]:
                    add(i, name, _text(v), NOT_A_BOOL, VALUE_CLEARED)
                out[i][name] = flag

        order = list(spec.columns) + [c for c in (out[0] if out else {}) if c not in spec.columns]
        clean: list[dict] = []
        for i in range(n):
            if not ok[i]:
                continue
            row: dict[str, Any] = {"row": i + 1}
            for c in order:
                row[c] = out[i].get(c)
            for c in names:  # undeclared columns pass through
                if c not in row:
                    row[c] = raw[i][c]
            clean.append(row)
        clean = self._facts(kind, clean, rej)
        rej.sort(key=lambda r: (r[0], r[1]))  # stable: the batch's order (row, then column, then as added)
        return FactRecordResult(kind, clean, rej)

    def _facts(self, kind: str, clean: list[dict], rej: list[Reject]) -> list[dict]:
        """The rules of :mod:`quanhuiqi.tables.facts` past the table spec, in its order."""

        def drop(rows: list[dict], bad: list[bool], column: str, values: list, reason: str) -> list[dict]:
            for r, b, v in zip(rows, bad, values, strict=True):
                if b:
                    rej.append((r["row"], column, v, reason, ROW_REJECTED))
            return [r for r, b in zip(rows, bad, strict=True) if not b]

        if kind == "yearly":
            years = [parse_number(r["year"])[0] for r in clean]
            bad = [math.isnan(y) or y != math.floor(y) or y < 1900 or y > self.as_of.year for y in years]
            kept = drop(clean, bad, "year", [r["year"] for r in clean], NOT_A_YEAR)
            for r, y in zip(kept, [y for y, b in zip(years, bad, strict=True) if not b], strict=True):
                r["year"] = int(y)
            return kept
        vocab = self.items[kind]
        canon = [vocab(r["item"]) for r in clean]
        reason = UNKNOWN_ITEM.format(table=self.item_table[kind], known=vocab.listing)
        kept = drop(clean, [c is None for c in canon], "item", [r["item"] for r in clean], reason)
        for r, c in zip(kept, [c for c in canon if c is not None], strict=True):
            r["item"] = c
        if kind == "penalties":
            for r in kept:
                raw = r["severity"]
                r["severity"] = self.severities(raw)
                if r["severity"] is None and raw is not None:
                    rej.append((r["row"], "severity", raw, UNKNOWN_SEVERITY, VALUE_CLEARED))
        if kind != "certificates":
            return kept
        for r in kept:
            raw = r["level"]
            r["level"] = self.levels(raw)
            if r["level"] is None and raw is not None:
                rej.append((r["row"], "level", raw, UNKNOWN_LEVEL, VALUE_CLEARED))
        for r in kept:
            if r["valid_from"] is None:
                r["valid_from"] = r["awarded_on"]
        for r in kept:
            if r["revoked_on"] is not None and r["revoked_on"] > self.as_of:
                rej.append((r["row"], "revoked_on", _day(r["revoked_on"]), self.after_reason, VALUE_CLEARED))
                r["revoked_on"] = None
        kept = drop(kept, [r["revoked_on"] is not None and r["revoked_on"] < r["awarded_on"] for r in kept],
                    "revoked_on", [_day(r["revoked_on"]) for r in kept], REVOKED_BEFORE_AWARD)
        return drop(kept, [r["valid_to"] is not None and r["valid_to"] < r["valid_from"] for r in kept],
                    "valid_to", [_day(r["valid_to"]) for r in kept], VALID_TO_BEFORE_FROM)

    # --- one enterprise
    def facts(self, records: dict[str, list[dict]], uscc: str) -> FactRecords:
        """One enterprise's fact tables from its records, as :func:`~quanhuiqi.tables.facts.facts_from_records`
        gives them (tables not named stay unsupplied); a refused row raises ``InputError`` naming the table, the
        row (0-based in its list), the column and the reason — the batch's first refusal."""
        out = FactRecords()
        for kind, rows in records.items():
            if kind not in FACT_FILES:
                continue
            v = self.validate(kind, list(rows), uscc)
            bad = v.refused
            if bad:
                row, column, _, reason, _ = bad[0]
                raise InputError(f"{kind}[{row - 1}]: {column}: {reason}")
            setattr(out, kind, v.clean)
        return out


__all__ = ["FactRecordResult", "FactRecordValidator", "FactRecords"]
