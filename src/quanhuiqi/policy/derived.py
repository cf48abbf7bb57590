"""Facts the policy language derives from the fact tables: record tests, yearly figures, declarations and
computed fields, each a *virtual field* with a canonical name.

An atom over records or years (``{field: certificate, op: held, item: high_tech}``) is compiled at load time
into an ordinary atom over a virtual field (``certificate.held(high_tech)`` ``eq true``).  The engine sees one
more column; :mod:`quanhuiqi.eligibility.derive` computes it for every enterprise at ``as_of`` from the
tables, three-valued (unknown when a table is not supplied or a value is missing).  Two policies that test the
same fact share one column.  Relative windows (``this`` year, the last N years) are resolved at ``as_of``;
a policy's own ``year`` fixes them at load.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from quanhuiqi.reference.records import (
    ATTESTATIONS,
    LEVELS,
    RECORD_TABLE_LABELS,
    RECORD_TABLES,
    SEVERITIES,
    YEARLY_METRICS,
)

EPOCH = dt.date(1970, 1, 1)
RECORD_TESTS = ("held", "first_in", "occurred_in", "count_ge", "count_le")
YEARLY_MEASURES = ("value", "growth", "cagr")
YEARLY_AGGS = ("value", "sum", "mean", "min", "max", "each", "some")
WHERE_KEYS = {
    "amount_ge": "number", "amount_gt": "number", "amount_le": "number", "severity_ge": "severity",
    "detail_under": "districts", "detail_not_under": "districts",
}  # fmt: skip
# the department whose table holds a fact (readiness: which data sharing would decide more pairs)
SOURCES = {
    "certificates": "科技、工信等认定部门（认定与名单）",
    "milestones": "统计、市场监管、金融部门（企业大事）",
    "penalties": "市场监管、应急管理、生态环境部门（处罚与事故）",
    "yearly": "统计、税务部门（年度数据）",
    "declarations": "企业自主声明（承诺与声明）",
}


def day_number(d: dt.date) -> float:
    return float((d - EPOCH).days)


def _minus_years(d: dt.date, n: int) -> dt.date:
    try:
        return d.replace(year=d.year - n)
    except ValueError:  # 29 February
        return d.replace(year=d.year - n, day=28)


def _minus_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 - n
    y = d.year + m // 12
    m = m % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(y, m, day)
        except ValueError:
            continue
    raise ValueError(d)


@dataclass(frozen=True)
class Window:
    """Dates a record test looks at.  ``kind``: ever | year | last_years | last_months | range."""

    kind: str = "ever"
    year: int | None = None  # absolute year (kind year)
    rel: int | None = None  # relative year: 0 this, -1 last (kind year, resolved at as_of)
    n: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    def bounds(self, as_of: dt.date) -> tuple[float, float]:
        """Inclusive day numbers (−inf when open); never after ``as_of``."""
        hi = day_number(as_of)
        if self.kind == "ever":
            return -math.inf, hi
        if self.kind == "year":  # one calendar year, or the n calendar years ending with it
            y = self.year if self.year is not None else as_of.year + int(self.rel or 0)
            first = y - (int(self.n) - 1 if self.n else 0)
            return day_number(dt.date(first, 1, 1)), min(hi, day_number(dt.date(y, 12, 31)))
        if self.kind == "last_years":
            return day_number(_minus_years(as_of, int(self.n))) + 1, hi
        if self.kind == "last_months":
            return day_number(_minus_months(as_of, int(self.n))) + 1, hi
        lo = -math.inf if self.start is None else day_number(self.start)
        return lo, hi if self.end is None else min(hi, day_number(self.end))

    @property
    def key(self) -> str:
        if self.kind == "ever":
            return "ever"
        if self.kind == "year":
            span = f"x{self.n}" if self.n else ""
            return (f"year:{self.year}" if self.year is not None else f"year:{_rel_text(self.rel)}") + span
        if self.kind in ("last_years", "last_months"):
            return f"{self.kind}:{self.n}"
        return f"{self.start or ''}..{self.end or ''}"

    @property
    def text(self) -> str:
        if self.kind == "ever":
            return ""
        if self.kind == "year":
            end = f"{self.year}年" if self.year is not None else _year_word(self.rel)
            return f"{self.n}个年度内（截至{end}）" if self.n else end
        if self.kind == "last_years":
            return f"近{self.n}年"
        if self.kind == "last_months":
            return f"近{self.n}个月"
        a = self.start.isoformat() if self.start else ""
        b = self.end.isoformat() if self.end else ""
        return f"{a}至{b}" if a and b else (f"{a}以来" if a else f"{b}以前")


def _rel_text(rel: int | None) -> str:
    r = int(rel or 0)
    return "this" if r == 0 else "last" if r == -1 else f"this{r:+d}"


@dataclass(frozen=True)
class RecordFact:
    """A test over one record table; the value is a three-valued boolean."""

    table: str  # certificate | milestone | penalty
    test: str  # held | first_in | occurred_in | count_ge
    items: tuple[str, ...]
    min_level: str | None = None
    where: tuple[tuple[str, object], ...] = ()
    window: Window = Window()
    threshold: int = 1  # count_ge
    item_labels: tuple[str, ...] = field(default=(), compare=False)  # Chinese names (a city's own items too)

    type = "bool"

    @property
    def source(self) -> str:
        return {"certificate": "certificates", "milestone": "milestones", "penalty": "penalties"}[self.table]

    @property
    def name(self) -> str:
        """Canonical, and free of ``;`` (the separator of the ``unknown`` lists fields are named in)."""
        inside = (",".join(self.items) or "*") + (f">={self.min_level}" if self.min_level else "")
        if self.where:
            inside += "&" + "&".join(f"{k}={_where_text(v)}" for k, v in self.where)
        tail = "" if self.window.kind == "ever" else "@" + self.window.key
        test = f"count_ge{self.threshold}" if self.test == "count_ge" else self.test
        return f"{self.table}.{test}({inside}){tail}"

    def label(self, positive: bool = True) -> str:
        labels = self.item_labels or tuple(RECORD_TABLES[self.table].get(i, i) for i in self.items)
        names = "、".join(labels) or _ANY[self.table]
        level = f"（{LEVELS[self.min_level]}及以上）" if self.min_level else ""
        cond = _where_label(self.where)
        w = self.window.text
        if self.test == "held":
            return f"{names}{level}在有效期内" if positive else f"未持有有效的{names}{level}"
        if self.test == "first_in":
            return f"{w}首次{_verb(self.table)}{names}{level}" if positive else f"非{w}首次{_verb(self.table)}{names}{level}"
        if self.test == "occurred_in":
            return f"{w}有{names}{cond}" if positive else f"{w}无{names}{cond}"
        if positive:
            return f"{w}{names}{cond}不少于{self.threshold}次"
        return f"{w}无{names}{cond}" if self.threshold == 1 else f"{w}{names}{cond}不超过{self.threshold - 1}次"


_ANY = {"certificate": "认定", "milestone": "企业大事", "penalty": "处罚、事故或违法记录"}


def _year_word(rel: int | None) -> str:
    r = int(rel or 0)
    return {0: "当年", -1: "上年度", -2: "前年度"}.get(r, f"{-r}年前")


def _verb(table: str) -> str:
    return "认定" if table == "certificate" else ""


def _where_text(v: object) -> str:
    return "+".join(map(str, v)) if isinstance(v, tuple) else f"{v:g}" if isinstance(v, float) else str(v)


def _where_label(where: tuple[tuple[str, object], ...]) -> str:
    parts = []
    for k, v in where:
        if k == "amount_ge":
            parts.append(f"单笔{v:g}万元及以上")
        elif k == "amount_gt":
            parts.append(f"单笔超过{v:g}万元")
        elif k == "amount_le":
            parts.append(f"单笔{v:g}万元及以下")
        elif k == "severity_ge":
            parts.append(f"{SEVERITIES[str(v)]}及以上")
        elif k == "detail_under":
            parts.append("自" + "/".join(v) + "迁入")
        elif k == "detail_not_under":
            parts.append("自" + "/".join(v) + "以外迁入")
    return f"（{'，'.join(parts)}）" if parts else ""


@dataclass(frozen=True)
class YearlyFact:
    """A figure of the yearly table: one year's value, a growth, a CAGR or an aggregate over N years."""

    metric: str
    measure: str = "value"  # value | growth | cagr
    end_rel: int | None = -1  # relative last year of the window (0 this, -1 last), resolved at as_of
    end_abs: int | None = None  # or an absolute year
    years: int | str = 1  # N, or "all"
    agg: str = "value"  # value | sum | mean | min | max
    formula: tuple | None = None  # computed yearly metric: ("ratio", (num, den)) or ("sum", ((f, w), …))
    metric_label: str = ""
    unit: str | None = None

    type = "number"
    source = "yearly"

    def end_year(self, as_of: dt.date) -> int:
        return self.end_abs if self.end_abs is not None else as_of.year + int(self.end_rel or 0)

    @property
    def name(self) -> str:
        end = str(self.end_abs) if self.end_abs is not None else _rel_text(self.end_rel)
        m = "" if self.measure == "value" else f".{self.measure}"
        span = "" if self.years == 1 else f"x{self.years}"
        agg = "" if self.agg == "value" else f".{self.agg}"
        return f"{self.metric}{m}@{end}{span}{agg}"

    def label(self, positive: bool = True) -> str:
        lab = self.metric_label or YEARLY_METRICS.get(self.metric, (None, self.metric))[1]
        when = f"{self.end_abs}年" if self.end_abs is not None else _year_word(self.end_rel)
        if self.measure == "cagr":
            return f"{lab}近{self.years}年复合增长率（截至{when}）"
        what = lab + ("增长率" if self.measure == "growth" else "")
        agg = _AGG_WORD.get(self.agg, "")
        if self.formula is not None and self.formula[0] == "ratio" and self.agg in ("sum", "mean"):
            agg = "（按合计计算）"
        if self.years == "all":
            return f"{when}及以前各年{what}{agg}"
        if self.years == 1:
            return f"{when}{what}"
        return f"近{self.years}年{what}{agg}（截至{when}）"


_AGG_WORD = {"sum": "合计", "mean": "平均", "min": "最小值", "max": "最大值"}


@dataclass(frozen=True)
class AttestFact:
    """A declaration only the applicant can make; never proven from data (unknown until declared)."""

    item: str
    item_label: str = ""

    type = "bool"
    source = "declarations"

    @property
    def name(self) -> str:
        return f"attest.{self.item}"

    def label(self, positive: bool = True) -> str:
        lab = self.item_label or ATTESTATIONS.get(self.item, self.item)
        return f"声明：{lab}" if positive else f"声明：不满足{lab}"


@dataclass(frozen=True)
class ComputedFact:
    """A number computed from enterprise fields (``fields.yaml`` formula); unknown when an input is."""

    field: str
    formula: tuple

    type = "number"
    source = "enterprises"

    @property
    def name(self) -> str:
        return self.field


Derived = RecordFact | YearlyFact | AttestFact | ComputedFact


def record_table_label(table: str) -> str:
    return RECORD_TABLE_LABELS.get(table, table)
