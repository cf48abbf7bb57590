"""Derived facts: the virtual fields of record, yearly, attest and computed atoms, computed for every
enterprise of a profile at ``as_of`` from the fact tables — vectorised over records, never per enterprise.

Three-valued throughout.  A table that was not supplied leaves its facts unknown for everyone.  The record
tables are registers (closed world): an enterprise without a matching record has none.  A record whose own
value is unknown (an unreadable level or amount) may or may not match, so it can make a result unknown but
never true.  Yearly figures need every year they read: a missing year is unknown (``each``/``some`` are
expanded into one-year tests by the loader, so one known failing year still decides them).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quanhuiqi.policy.derived import AttestFact, ComputedFact, RecordFact, YearlyFact, day_number
from quanhuiqi.profile.fields import Field
from quanhuiqi.reference.records import LEVELS, SEVERITIES
from quanhuiqi.tables.facts import FactTables

FALSE, UNKNOWN, TRUE = 0, 1, 2
LEVEL_RANK = {k: i for i, k in enumerate(LEVELS)}
SEVERITY_RANK = {k: i for i, k in enumerate(SEVERITIES)}
DATE_COLUMN = {"certificates": "awarded_on", "milestones": "occurred_on", "penalties": "occurred_on"}


def _arrow_strings(values: pd.Series) -> pa.Array:
    arr = pa.array(values.astype("string"), type=pa.large_string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _days(values: pd.Series) -> np.ndarray:
    d = pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[D]")
    out = d.astype("int64").astype("float64")
    out[np.isnat(d)] = np.nan
    return out


@dataclass
class _Records:
    """One record table as arrays, restricted to the profile's enterprises (``pos`` = profile row)."""

    pos: np.ndarray
    item: np.ndarray  # codes into ``items``
    items: list
    day: np.ndarray
    level: np.ndarray | None = None  # rank, −1 unknown
    valid_from: np.ndarray | None = None
    valid_to: np.ndarray | None = None
    revoked: np.ndarray | None = None
    amount: np.ndarray | None = None
    severity: np.ndarray | None = None
    detail: np.ndarray | None = None


@dataclass
class _Yearly:
    pos: np.ndarray
    year: np.ndarray
    frame: pd.DataFrame
    ymin: int = 0
    ymax: int = -1
    present: np.ndarray | None = None  # (n, years) bool
    cache: dict[str, np.ndarray] = field(default_factory=dict)


class FactIndex:
    """The fact tables of one profile, prepared once (row positions, day numbers) for every derivation."""

    def __init__(self, profile: pd.DataFrame, facts: FactTables | None):
        self.n = len(profile)
        self.facts = facts or FactTables()
        self._uscc = _arrow_strings(profile["uscc"]) if self.n else pa.array([], pa.large_string())
        self._row = (pd.Index(profile["row"].to_numpy(dtype=np.int64))
                     if "row" in profile.columns and self.n and profile["row"].notna().all() else None)
        self._records: dict[str, _Records | None] = {}
        self._yearly: _Yearly | None = None
        self._yearly_done = False

    def _pos(self, table: pd.DataFrame) -> np.ndarray:
        """Each row's profile row (−1: not in this profile).  Tables validated against the enterprise table carry
        ``enterprise_row`` (an integer join, checked against the usccs); else an Arrow hash lookup of the uscc."""
        if not len(table) or not self.n:
            return np.full(len(table), -1, dtype=np.int64)
        probe = _arrow_strings(table["uscc"])
        if self._row is not None and "enterprise_row" in table.columns and self._row.is_unique:
            pos = self._row.get_indexer(table["enterprise_row"].to_numpy(dtype=np.int64))
            hit = pos >= 0
            same = pc.equal(pc.take(self._uscc, pa.array(np.where(hit, pos, 0))), probe)
            if pc.all(pc.or_(pc.invert(pa.array(hit)), pc.fill_null(same, False))).as_py():
                return pos  # every joined row names the same enterprise: the integer join holds
        found = pc.index_in(probe, value_set=self._uscc)
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)

    def records(self, source: str) -> _Records | None:
        if source in self._records:
            return self._records[source]
        tab = getattr(self.facts, source)
        if tab is None:
            self._records[source] = None
            return None
        pos = self._pos(tab)
        keep = pos >= 0
        t = tab[keep] if not keep.all() else tab
        codes, uniq = pd.factorize(t["item"].astype("string"))
        rec = _Records(pos[keep], codes, list(uniq), _days(t[DATE_COLUMN[source]]))
        if source == "certificates":
            rec.level = t["level"].map(LEVEL_RANK).astype("float64").fillna(-1).to_numpy().astype(np.int64)
            rec.valid_from = _days(t["valid_from"]).copy()
            nan_from = np.isnan(rec.valid_from)
            rec.valid_from[nan_from] = rec.day[nan_from]
            rec.valid_to = _days(t["valid_to"])
            rec.revoked = _days(t["revoked_on"])
        elif source == "penalties":
            rec.amount = pd.to_numeric(t["amount"], errors="coerce").to_numpy(dtype="float64")
            rec.severity = t["severity"].map(SEVERITY_RANK).astype("float64").fillna(-1).to_numpy().astype(np.int64)
        elif source == "milestones":
            rec.detail = t["detail"].astype("string").reset_index(drop=True)
        self._records[source] = rec
        return rec

    def yearly(self) -> _Yearly | None:
        if self._yearly_done:
            return self._yearly
        self._yearly_done = True
        tab = self.facts.yearly
        if tab is None:
            return None
        pos = self._pos(tab)
        keep = pos >= 0
        t = tab[keep].reset_index(drop=True)
        y = _Yearly(pos[keep], t["year"].to_numpy(dtype=np.int64), t)
        if len(t):
            y.ymin, y.ymax = int(y.year.min()), int(y.year.max())
            y.present = np.zeros((self.n, y.ymax - y.ymin + 1), dtype=bool)
            y.present[y.pos, y.year - y.ymin] = True
        self._yearly = y
        return y


def derive_columns(
    fields: list[Field], profile: pd.DataFrame, facts: FactTables | None, as_of: dt.date,
    index: FactIndex | None = None,
) -> dict[str, pd.Series]:
    """Every derived field's column for ``profile`` at ``as_of`` (same index as the profile)."""
    idx = index or FactIndex(profile, facts)
    out: dict[str, pd.Series] = {}
    for f in fields:
        d = f.derived
        if isinstance(d, RecordFact):
            out[f.name] = _kleene_series(record_values(d, idx, as_of), profile.index)
        elif isinstance(d, AttestFact):
            out[f.name] = _kleene_series(attest_values(d, idx, as_of), profile.index)
        elif isinstance(d, YearlyFact):
            out[f.name] = pd.Series(yearly_values(d, idx, as_of), index=profile.index, dtype="float64")
        elif isinstance(d, ComputedFact):
            out[f.name] = pd.Series(computed_values(d, profile), index=profile.index, dtype="float64")
    return out


def _kleene_series(v: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.BooleanArray(v == TRUE, v == UNKNOWN), index=index)


# --- records -------------------------------------------------------------------------------------------


def _match(d: RecordFact, r: _Records, sel: np.ndarray) -> np.ndarray:
    """Kleene code of each selected record matching the test's level and ``where`` filters."""
    m = np.full(int(sel.sum()), TRUE, dtype=np.int8)
    if d.min_level is not None and r.level is not None:
        lv = r.level[sel]
        m = np.minimum(m, np.where(lv < 0, UNKNOWN, np.where(lv >= LEVEL_RANK[d.min_level], TRUE, FALSE)))
    for k, v in d.where:
        if k.startswith("amount"):
            a = r.amount[sel]
            ok = a >= v if k == "amount_ge" else a > v if k == "amount_gt" else a <= v
            m = np.minimum(m, np.where(np.isnan(a), UNKNOWN, np.where(ok, TRUE, FALSE)))
        elif k == "severity_ge":
            s = r.severity[sel]
            m = np.minimum(m, np.where(s < 0, UNKNOWN, np.where(s >= SEVERITY_RANK[str(v)], TRUE, FALSE)))
        else:
            det = r.detail[sel]
            known = det.notna().to_numpy() & (det.fillna("") != "").to_numpy()
            under = np.zeros(len(det), dtype=bool)
            for prefix in v:
                under |= det.str.startswith(prefix).fillna(False).to_numpy(dtype=bool)
            hit = under if k == "detail_under" else ~under
            m = np.minimum(m, np.where(~known, UNKNOWN, np.where(hit, TRUE, FALSE)))
    return m.astype(np.int8)


def _or_per_enterprise(n: int, pos: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=np.int8)
    if pos.size:
        np.maximum.at(out, pos, codes.astype(np.int8))
    return out


def record_values(d: RecordFact, idx: FactIndex, as_of: dt.date) -> np.ndarray:
    """Kleene codes (0 false, 1 unknown, 2 true) of one record test for every profile row."""
    r = idx.records(d.source)
    if r is None:
        return np.full(idx.n, UNKNOWN, dtype=np.int8)
    if d.items:
        want = [i for i, name in enumerate(r.items) if name in d.items]
        sel = np.isin(r.item, np.array(want, dtype=r.item.dtype))
    else:
        sel = np.ones(r.pos.size, dtype=bool)
    m = _match(d, r, sel)
    keep = m > FALSE
    pos, day = r.pos[sel][keep], r.day[sel][keep]
    m = m[keep]
    today = day_number(as_of)
    if d.test == "held":
        vf, vt, rv = r.valid_from[sel][keep], r.valid_to[sel][keep], r.revoked[sel][keep]
        started = vf <= today
        not_revoked = ~(rv <= today)
        valid = np.where(started & not_revoked & (vt >= today), TRUE,
                         np.where(started & not_revoked & np.isnan(vt), UNKNOWN, FALSE))
        return _or_per_enterprise(idx.n, pos, np.minimum(m, valid))
    lo, hi = d.window.bounds(as_of)
    inside = (day >= lo) & (day <= hi)
    if d.test == "occurred_in":
        return _or_per_enterprise(idx.n, pos, np.where(inside, m, FALSE))
    if d.test == "count_ge":
        sure = np.bincount(pos[inside & (m == TRUE)], minlength=idx.n)
        maybe = np.bincount(pos[inside], minlength=idx.n)
        return np.where(sure >= d.threshold, TRUE, np.where(maybe < d.threshold, FALSE, UNKNOWN)).astype(np.int8)
    # first_in: the earliest matching record lies in the window.  The records that surely match give the
    # earliest date dk; one that may match (unknown level or amount) and is earlier could be the first.  The
    # possible first dates are dk and every maybe-record before it: true when all lie in the window, false
    # when none does.
    dk = np.full(idx.n, np.inf)
    dp = np.full(idx.n, np.inf)
    if pos.size:
        np.minimum.at(dk, pos[m == TRUE], day[m == TRUE])
        np.minimum.at(dp, pos, day)
    dk_inside = (dk >= lo) & (dk <= hi)
    maybe = (m == UNKNOWN) & inside & (day < dk[pos])
    maybe_inside = np.bincount(pos[maybe], minlength=idx.n) > 0
    true = dk_inside & (dp >= lo)
    false = ~dk_inside & ~maybe_inside
    return np.where(true, TRUE, np.where(false, FALSE, UNKNOWN)).astype(np.int8)


def attest_values(d: AttestFact, idx: FactIndex, as_of: dt.date) -> np.ndarray:
    """The latest declaration in force on ``as_of`` (unknown without one)."""
    tab = idx.facts.declarations
    if tab is None:
        return np.full(idx.n, UNKNOWN, dtype=np.int8)
    t = tab[tab["item"].astype("string").eq(d.item).fillna(False).to_numpy()]
    pos = idx._pos(t)
    today = day_number(as_of)
    vt = _days(t["valid_to"])
    ok = (pos >= 0) & ~(vt < today)
    t, pos = t[ok], pos[ok]
    out = np.full(idx.n, UNKNOWN, dtype=np.int8)
    if len(t):
        order = np.lexsort((_days(t["declared_on"]), pos))
        last = np.r_[pos[order][1:] != pos[order][:-1], True]  # the latest declaration of each enterprise
        chosen = order[last]
        val = t["value"].astype("boolean").to_numpy(dtype=object, na_value=None)[chosen]
        out[pos[chosen]] = np.array([UNKNOWN if v is None else TRUE if v else FALSE for v in val], dtype=np.int8)
    return out


# --- yearly figures ----------------------------------------------------------------------------------------


def _metric_matrix(y: _Yearly, n: int, metric: str) -> np.ndarray:
    if metric not in y.cache:
        m = np.full((n, y.ymax - y.ymin + 1), np.nan)
        if metric in y.frame.columns and len(y.frame):
            vals = pd.to_numeric(y.frame[metric], errors="coerce").to_numpy(dtype="float64")
            m[y.pos, y.year - y.ymin] = vals
        y.cache[metric] = m
    return y.cache[metric]


def _year_column(y: _Yearly, n: int, d: YearlyFact, year: int, part: str | None = None) -> np.ndarray:
    """One year's value of the metric (of a ratio's numerator/denominator part), NaN outside the table."""
    if year < y.ymin or year > y.ymax:
        return np.full(n, np.nan)
    j = year - y.ymin
    f = d.formula
    if f is None:
        return _metric_matrix(y, n, d.metric)[:, j]
    if f[0] == "sum":
        total = np.zeros(n)
        for name, w in f[1]:
            total = total + w * _metric_matrix(y, n, name)[:, j]
        return total
    num, den = _metric_matrix(y, n, f[1][0])[:, j], _metric_matrix(y, n, f[1][1])[:, j]
    if part == "num":
        return num
    if part == "den":
        return den
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def yearly_values(d: YearlyFact, idx: FactIndex, as_of: dt.date) -> np.ndarray:
    """The figure for every profile row (NaN = unknown)."""
    y = idx.yearly()
    n = idx.n
    if y is None or y.present is None:
        return np.full(n, np.nan)
    end = d.end_year(as_of)
    with np.errstate(divide="ignore", invalid="ignore"):
        if d.measure == "cagr":
            first = _year_column(y, n, d, end - int(d.years))
            last = _year_column(y, n, d, end)
            return np.where(first > 0, (last / first) ** (1.0 / int(d.years)) - 1.0, np.nan)
        if d.years == "all":
            years = list(range(y.ymin, min(end, y.ymax) + 1))
            if not years:
                return np.full(n, np.nan)
            present = y.present[:, [yr - y.ymin for yr in years]]
        else:
            years = list(range(end - int(d.years) + 1, end + 1))
            present = None

        def series(yr: int, part: str | None = None) -> np.ndarray:
            if d.measure == "growth":
                cur, prev = _year_column(y, n, d, yr), _year_column(y, n, d, yr - 1)
                return np.where(prev > 0, cur / prev - 1.0, np.nan)
            return _year_column(y, n, d, yr, part)

        ratio = d.formula is not None and d.formula[0] == "ratio" and d.measure == "value"
        if d.agg == "value":
            return series(years[-1])
        if ratio and d.agg in ("sum", "mean"):  # a ratio over years is the ratio of the sums
            num = _aggregate([series(yr, "num") for yr in years], "sum", present)
            den = _aggregate([series(yr, "den") for yr in years], "sum", present)
            return np.where(den > 0, num / den, np.nan)
        return _aggregate([series(yr) for yr in years], d.agg, present)


def _aggregate(cols: list[np.ndarray], agg: str, present: np.ndarray | None) -> np.ndarray:
    m = np.column_stack(cols)
    if present is not None:  # years: all — over the years the enterprise reports; any of them unknown → unknown
        bad = (present & np.isnan(m)).any(axis=1) | ~present.any(axis=1)
        fill = {"sum": 0.0, "mean": 0.0, "min": np.inf, "max": -np.inf}[agg]
        mm = np.where(present, m, fill)
        if agg == "sum":
            out = mm.sum(axis=1)
        elif agg == "mean":
            out = mm.sum(axis=1) / np.maximum(present.sum(axis=1), 1)
        elif agg == "min":
            out = mm.min(axis=1)
        else:
            out = mm.max(axis=1)
        return np.where(bad, np.nan, out)
    if agg == "sum":
        return m.sum(axis=1)
    if agg == "mean":
        return m.mean(axis=1)
    if agg == "min":
        return m.min(axis=1)
    return m.max(axis=1)


# --- computed fields ---------------------------------------------------------------------------------------


def _number_column(profile: pd.DataFrame, name: str) -> np.ndarray:
    if name not in profile.columns:
        return np.full(len(profile), np.nan)
    col = profile[name]
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype="float64", na_value=np.nan)
    from quanhuiqi.tables.parse import parse_numbers

    return parse_numbers(col)[0].to_numpy(dtype="float64", na_value=np.nan)


def computed_values(d: ComputedFact, profile: pd.DataFrame) -> np.ndarray:
    kind, body = d.formula
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "ratio":
            num, den = _number_column(profile, body[0]), _number_column(profile, body[1])
            return np.where(den != 0, num / den, np.nan)
        total = np.zeros(len(profile))
        for name, w in body:
            total = total + w * _number_column(profile, name)
        return total


def computed_one(formula: tuple, row: dict) -> float:
    """The same formula for one enterprise (online)."""

    def num(name: str) -> float:
        v = row.get(name)
        try:
            x = float(v)
        except (TypeError, ValueError):
            return math.nan
        return x

    kind, body = formula
    if kind == "ratio":
        a, b = num(body[0]), num(body[1])
        return a / b if b != 0 and not math.isnan(b) else math.nan
    return float(sum(w * num(n) for n, w in body))


# --- one enterprise (online) ----------------------------------------------------------------------------------
# The same semantics in plain Python over one enterprise's few records: a call answers in microseconds where the
# column code pays pandas overhead per field.  tests/eligibility/test_derived_vs_reference.py checks both against
# the reference.


def _day_of(v) -> float:
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return math.nan
    if isinstance(v, pd.Timestamp):
        return float(v.value // 86_400_000_000_000)
    if isinstance(v, np.datetime64):
        return float(v.astype("datetime64[D]").astype(np.int64))
    if isinstance(v, dt.datetime):
        v = v.date()
    if isinstance(v, dt.date):
        return day_number(v)
    try:
        return day_number(dt.date.fromisoformat(str(v)[:10]))
    except ValueError:
        return math.nan


def _num(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def _records_of(facts: FactTables, table: str) -> list[dict] | None:
    t = getattr(facts, table)
    if t is None:
        return None
    return t.to_dict("records") if len(t) else []


class OneEnterprise:
    """One enterprise's fact tables as plain records, prepared once per call."""

    def __init__(self, facts):
        """``facts``: a :class:`FactTables` or the one-record validator's
        :class:`~quanhuiqi.tables.fact_record.FactRecords` (already plain records)."""
        names = ("certificates", "milestones", "penalties", "declarations")
        self.years: dict[int, dict] | None = None
        if isinstance(facts, FactTables):
            self.tables = {name: _records_of(facts, name) for name in names}
            y = facts.yearly
            if y is not None:
                self.years = {int(r["year"]): r for r in (y.to_dict("records") if len(y) else [])}
            return
        self.tables = {name: getattr(facts, name) for name in names}
        if facts.yearly is not None:
            self.years = {int(r["year"]): r for r in facts.yearly}


def _match_one(d: RecordFact, r: dict) -> int:
    if d.items and r.get("item") not in d.items:
        return FALSE
    m = TRUE
    if d.min_level is not None:
        lv = LEVEL_RANK.get(r.get("level"), -1) if isinstance(r.get("level"), str) else -1
        m = min(m, UNKNOWN if lv < 0 else (TRUE if lv >= LEVEL_RANK[d.min_level] else FALSE))
    for k, v in d.where:
        if k.startswith("amount"):
            a = _num(r.get("amount"))
            ok = a >= v if k == "amount_ge" else a > v if k == "amount_gt" else a <= v
            m = min(m, UNKNOWN if math.isnan(a) else (TRUE if ok else FALSE))
        elif k == "severity_ge":
            s = r.get("severity")
            sv = SEVERITY_RANK.get(s, -1) if isinstance(s, str) else -1
            m = min(m, UNKNOWN if sv < 0 else (TRUE if sv >= SEVERITY_RANK[str(v)] else FALSE))
        else:
            det = r.get("detail")
            if not isinstance(det, str) or not det:
                m = min(m, UNKNOWN)
            else:
                under = det.startswith(tuple(v))
                m = min(m, TRUE if (under if k == "detail_under" else not under) else FALSE)
        if m == FALSE:
            return FALSE
    return m


def record_one(d: RecordFact, one: OneEnterprise, as_of: dt.date) -> int:
    recs = one.tables[d.source]
    if recs is None:
        return UNKNOWN
    today = day_number(as_of)
    date_col = DATE_COLUMN[d.source]
    if d.test == "held":
        best = FALSE
        for r in recs:
            m = _match_one(d, r)
            if m == FALSE:
                continue
            vf = _day_of(r.get("valid_from"))
            vf = _day_of(r.get(date_col)) if math.isnan(vf) else vf
            vt, rv = _day_of(r.get("valid_to")), _day_of(r.get("revoked_on"))
            if vf <= today and not rv <= today:
                best = max(best, min(m, UNKNOWN if math.isnan(vt) else (TRUE if vt >= today else FALSE)))
        return best
    lo, hi = d.window.bounds(as_of)
    matched = [(m, _day_of(r.get(date_col))) for r in recs if (m := _match_one(d, r)) != FALSE]
    if d.test == "occurred_in":
        return max((m for m, day in matched if lo <= day <= hi), default=FALSE)
    if d.test == "count_ge":
        sure = sum(1 for m, day in matched if m == TRUE and lo <= day <= hi)
        maybe = sum(1 for _, day in matched if lo <= day <= hi)
        return TRUE if sure >= d.threshold else FALSE if maybe < d.threshold else UNKNOWN
    dk = min((day for m, day in matched if m == TRUE), default=math.inf)
    dp = min((day for _, day in matched), default=math.inf)
    dk_inside = lo <= dk <= hi
    maybe_inside = any(m == UNKNOWN and lo <= day <= hi and day < dk for m, day in matched)
    if dk_inside and dp >= lo:
        return TRUE
    if not dk_inside and not maybe_inside:
        return FALSE
    return UNKNOWN


def attest_one(d: AttestFact, one: OneEnterprise, as_of: dt.date) -> int:
    recs = one.tables["declarations"]
    if recs is None:
        return UNKNOWN
    today = day_number(as_of)
    live = [r for r in recs if r.get("item") == d.item and not _day_of(r.get("valid_to")) < today]
    if not live:
        return UNKNOWN
    v = max(live, key=lambda r: _day_of(r.get("declared_on"))).get("value")
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return UNKNOWN
    return TRUE if bool(v) else FALSE


def yearly_one(d: YearlyFact, one: OneEnterprise, as_of: dt.date) -> float:
    years = one.years
    if years is None:
        return math.nan
    end = d.end_year(as_of)

    def part(y: int, name: str) -> float:
        row = years.get(y)
        return math.nan if row is None else _num(row.get(name))

    def value(y: int, which: str | None = None) -> float:
        f = d.formula
        if f is None:
            return part(y, d.metric)
        if f[0] == "sum":
            return sum(w * part(y, n) for n, w in f[1])
        num, den = part(y, f[1][0]), part(y, f[1][1])
        if which == "num":
            return num
        if which == "den":
            return den
        return num / den if den > 0 else math.nan

    def measure(y: int, which: str | None = None) -> float:
        if d.measure == "growth":
            cur, prev = value(y), value(y - 1)
            return cur / prev - 1.0 if prev > 0 else math.nan
        return value(y, which)

    if d.measure == "cagr":
        first, last = value(end - int(d.years)), value(end)
        return (last / first) ** (1.0 / int(d.years)) - 1.0 if first > 0 else math.nan
    if d.years == "all":
        window = sorted(y for y in years if y <= end)
        if not window:
            return math.nan
    else:
        window = list(range(end - int(d.years) + 1, end + 1))
    if d.agg == "value":
        return measure(window[-1])
    if d.formula is not None and d.formula[0] == "ratio" and d.measure == "value" and d.agg in ("sum", "mean"):
        num = [measure(y, "num") for y in window]
        den = [measure(y, "den") for y in window]
        if any(math.isnan(x) for x in num + den):
            return math.nan
        return sum(num) / sum(den) if sum(den) > 0 else math.nan
    vals = [measure(y) for y in window]
    if any(math.isnan(v) for v in vals):
        return math.nan
    if d.agg == "sum":
        return float(sum(vals))
    if d.agg == "mean":
        return float(sum(vals) / len(vals))
    return float(min(vals) if d.agg == "min" else max(vals))


def derive_one(fields: list[Field], facts: FactTables, row: dict, as_of: dt.date) -> dict[str, object]:
    """The derived fields of one enterprise: True/False/None for record tests and declarations, numbers (NaN
    unknown) for yearly figures and computed fields."""
    one = OneEnterprise(facts)
    out: dict[str, object] = {}
    for f in fields:
        d = f.derived
        if isinstance(d, RecordFact):
            v = record_one(d, one, as_of)
            out[f.name] = None if v == UNKNOWN else v == TRUE
        elif isinstance(d, AttestFact):
            v = attest_one(d, one, as_of)
            out[f.name] = None if v == UNKNOWN else v == TRUE
        elif isinstance(d, YearlyFact):
            out[f.name] = yearly_one(d, one, as_of)
        elif isinstance(d, ComputedFact):
            out[f.name] = computed_one(d.formula, row)
    return out
