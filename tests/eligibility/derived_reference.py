"""A slow, obviously-correct evaluator of the derived facts (record tests, yearly figures, declarations) for
one enterprise, straight from docs/policy_language.md: plain Python over the enterprise's own records.

Where a record's own value is unknown (its level, amount or detail), the reference enumerates every way the
unknown records could turn out (each either matches or not) and answers true only if all of them give true,
false only if all give false.  Kleene values: 2 true, 1 unknown, 0 false.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math

from quanhuiqi.policy.derived import AttestFact, RecordFact, YearlyFact
from quanhuiqi.reference.records import LEVELS, SEVERITIES

T, U, F = 2, 1, 0
LEVEL_RANK = {k: i for i, k in enumerate(LEVELS)}
SEVERITY_RANK = {k: i for i, k in enumerate(SEVERITIES)}


def _d(x) -> dt.date | None:
    if x is None:
        return None
    return x if isinstance(x, dt.date) else dt.date.fromisoformat(str(x))


def _match(d: RecordFact, r: dict) -> int:
    v = T
    if d.items and r["item"] not in d.items:
        return F
    if d.min_level is not None:
        lv = r.get("level")
        v = min(v, U if lv is None else (T if LEVEL_RANK[lv] >= LEVEL_RANK[d.min_level] else F))
    for k, want in d.where:
        if k.startswith("amount"):
            a = r.get("amount")
            if a is None:
                v = min(v, U)
            else:
                ok = a >= want if k == "amount_ge" else a > want if k == "amount_gt" else a <= want
                v = min(v, T if ok else F)
        elif k == "severity_ge":
            s = r.get("severity")
            v = min(v, U if s is None else (T if SEVERITY_RANK[s] >= SEVERITY_RANK[want] else F))
        else:
            det = r.get("detail")
            if not det:
                v = min(v, U)
            else:
                under = any(det.startswith(p) for p in want)
                v = min(v, T if (under if k == "detail_under" else not under) else F)
    return v


def _date_of(table: str, r: dict) -> dt.date:
    return _d(r["awarded_on"] if table == "certificate" else r["occurred_on"])


def record_value(d: RecordFact, records: list[dict] | None, as_of: dt.date) -> int:
    if records is None:
        return U
    lo, hi = d.window.bounds(as_of)
    base = dt.date(1970, 1, 1)

    def inside(day: dt.date) -> bool:
        n = (day - base).days
        return lo <= n <= hi

    cands = [(r, _match(d, r)) for r in records]
    cands = [(r, m) for r, m in cands if m != F]
    sure = [r for r, m in cands if m == T]
    maybe = [r for r, m in cands if m == U]

    def truth(chosen: list[dict]) -> bool:
        if d.test == "held":
            return any(_held(r, as_of) for r in chosen)
        dates = [_date_of(d.table, r) for r in chosen]
        if d.test == "occurred_in":
            return any(inside(x) for x in dates)
        if d.test == "count_ge":
            return sum(inside(x) for x in dates) >= d.threshold
        return bool(dates) and inside(min(dates))  # first_in

    if d.test == "held":  # validity itself can be unknown (no valid_to): Kleene OR over records
        best = F
        for r, m in cands:
            best = max(best, min(m, _held3(r, as_of)))
        return best
    outcomes = {truth(sure + list(extra)) for k in range(len(maybe) + 1) for extra in itertools.combinations(maybe, k)}
    return T if outcomes == {True} else F if outcomes == {False} else U


def _held3(r: dict, as_of: dt.date) -> int:
    vf = _d(r.get("valid_from")) or _d(r["awarded_on"])
    vt = _d(r.get("valid_to"))
    rv = _d(r.get("revoked_on"))
    if vf > as_of or (rv is not None and rv <= as_of):
        return F
    if vt is None:
        return U
    return T if as_of <= vt else F


def _held(r: dict, as_of: dt.date) -> bool:
    return _held3(r, as_of) == T


def yearly_value(d: YearlyFact, years: dict[int, dict] | None, as_of: dt.date) -> float:
    """NaN = unknown; ``years`` maps year → {metric: value or None}; None = table not supplied."""
    nan = math.nan
    if years is None:
        return nan
    end = d.end_year(as_of)

    def part(y: int, which: str) -> float:
        row = years.get(y)
        if row is None:
            return nan
        v = row.get(which)
        return nan if v is None else float(v)

    def value(y: int) -> float:
        f = d.formula
        if f is None:
            return part(y, d.metric)
        if f[0] == "ratio":
            a, b = part(y, f[1][0]), part(y, f[1][1])
            return a / b if b > 0 else nan
        return sum(w * part(y, m) for m, w in f[1])

    def measure(y: int) -> float:
        if d.measure == "growth":
            cur, prev = value(y), value(y - 1)
            return cur / prev - 1 if prev > 0 else nan
        return value(y)

    if d.measure == "cagr":
        first, last = value(end - int(d.years)), value(end)
        return (last / first) ** (1 / int(d.years)) - 1 if first > 0 else nan
    if d.years == "all":
        window = sorted(y for y in years if y <= end)
        if not window:
            return nan
    else:
        window = list(range(end - int(d.years) + 1, end + 1))
    if d.agg == "value":
        return measure(window[-1])
    ratio = d.formula is not None and d.formula[0] == "ratio"
    if ratio and d.agg in ("sum", "mean"):
        num = [part(y, d.formula[1][0]) for y in window]
        den = [part(y, d.formula[1][1]) for y in window]
        if any(math.isnan(x) for x in num + den):
            return nan
        return sum(num) / sum(den) if sum(den) > 0 else nan
    vals = [measure(y) for y in window]
    if any(math.isnan(v) for v in vals):
        return nan
    return {"sum": sum, "min": min, "max": max, "mean": lambda v: sum(v) / len(v)}[d.agg](vals)


def attest_value(d: AttestFact, declarations: list[dict] | None, as_of: dt.date) -> int:
    if declarations is None:
        return U
    live = [r for r in declarations if r["item"] == d.item and _d(r["declared_on"]) <= as_of
            and (r.get("valid_to") is None or _d(r["valid_to"]) >= as_of)]
    if not live:
        return U
    latest = max(live, key=lambda r: _d(r["declared_on"]))
    v = latest.get("value")
    return U if v is None else (T if v else F)
