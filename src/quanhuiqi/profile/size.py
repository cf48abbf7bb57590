"""SME size class (中小企业划型标准规定, 2011) and 规模以上 (above_scale), both three-valued.

Size rule (Art. 4 and the NBS 2017 note, see reference/data/PROVENANCE.md): large, medium and
small need the lower bounds of *all* the group's indicators ("否则下划一档"); micro needs only one
indicator below the micro line.  So the class is the minimum, over the group's indicators, of the
class each indicator supports.  With some indicators unknown the minimum is decided exactly when
every indicator is known, or a known indicator already supports only micro (it cannot go lower):
revenue 250 in 工业 is micro whatever the headcount; revenue 5000 with headcount unknown is not
decided (medium with ≥ 300 staff, small with 20–299, micro below 20).

Where the industry is known only coarsely (section F: 批发 or 零售?) or not at all, the class is
computed under every industry group the code could lie in, and decided when they all agree
(3 staff and revenue 20 is micro in every group).  ``size_industry_key`` is the group when the
code settles it.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from quanhuiqi.profile._base import column, number
from quanhuiqi.reference.industries import industry_table
from quanhuiqi.reference.sme import SIZE_CLASSES, sme_industry_key, sme_thresholds
from quanhuiqi.text import strings_at

UNKNOWN = np.int8(-1)
INDICATOR_COLUMNS = {"employees": "employees", "operating_revenue": "revenue", "total_assets": "total_assets"}

# 规模以上 / 限额以上 thresholds on annual (operating/main-business) revenue, 万元, by NBS rule:
# - 规模以上工业 (B, C, D): 年主营业务收入 2000 万元及以上 (国家统计局, 2011 起);
# - 限额以上批发业 2000, 零售业 500, 住宿和餐饮业 200 万元 (批发和零售业、住宿和餐饮业统计报表制度);
# - 房地产开发经营 (7010): 全部有开发经营活动的房地产开发经营业法人单位 (房地产开发统计报表制度);
# - 规模以上服务业 (服务业统计报表制度): 年营业收入 2000 万元及以上 for G 交通运输仓储邮政, I 信息传输软件
#   信息技术服务, N 水利环境公共设施管理, 84 卫生; 1000 万元 for L 租赁商务服务, M 科学研究技术服务,
#   P 教育, 7020 物业管理, 7030 房地产中介, 7040 房地产租赁经营, 7090 其他房地产; 500 万元 for
#   O 居民服务修理, R 文化体育娱乐, 85 社会工作.
# 建筑业's statistical scope is by 资质 (qualification), not revenue, and A, J, S, T have no such
# line: above_scale stays unknown there.
SCALE_RULES: tuple[tuple[str, float | str], ...] = (
    ("7010", "all"),
    ("7020", 1000.0), ("7030", 1000.0), ("7040", 1000.0), ("7090", 1000.0),
    ("84", 2000.0), ("85", 500.0),
    ("51", 2000.0), ("52", 500.0), ("61", 200.0), ("62", 200.0),
    ("B", 2000.0), ("C", 2000.0), ("D", 2000.0),
    ("G", 2000.0), ("I", 2000.0), ("N", 2000.0),
    ("L", 1000.0), ("M", 1000.0), ("P", 1000.0),
    ("O", 500.0), ("R", 500.0),
    ("A", "none"), ("E", "none"), ("J", "none"), ("K", "none"), ("S", "none"), ("T", "none"),
)


@cache
def _class_codes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    tab = industry_table()
    leaf = tab[tab["level"] == 4]
    return tuple(leaf["code"]), tuple(leaf["section"])


@cache
def _sme_key_of_class() -> dict[str, str]:
    codes, sections = _class_codes()
    keys = sme_industry_key(pd.Series(sections), pd.Series(codes))
    return dict(zip(codes, keys.tolist(), strict=True))


def _scale_rule_of(code: str, section: str) -> str:
    for prefix, _rule in SCALE_RULES:
        if (prefix.isalpha() and prefix == section) or (not prefix.isalpha() and code.startswith(prefix)):
            return prefix
    return "none"


@cache
def _scale_key_of_class() -> dict[str, str]:
    codes, sections = _class_codes()
    return {c: _scale_rule_of(c, s) for c, s in zip(codes, sections, strict=True)}


@cache
def _groups_by_code(kind: str) -> dict[str | None, frozenset[str]]:
    """Every code of the standard (section, division, group, class; ``None`` for unknown) → the groups of
    the classes under it: built once from the classes, so a code is one dictionary lookup."""
    of_class = _sme_key_of_class() if kind == "sme" else _scale_key_of_class()
    codes, sections = _class_codes()
    out: dict[str | None, set[str]] = {None: set(of_class.values())}
    for c, s in zip(codes, sections, strict=True):
        for key in (s, c[:2], c[:3], c):
            out.setdefault(key, set()).add(of_class[c])
    return {k: frozenset(v) for k, v in out.items()}


def _candidates(kind: str, code: str | None) -> frozenset[str]:
    """Groups a code known to any level (or unknown: None) could lie in."""
    return _groups_by_code(kind).get(code, frozenset())


def resolve_over_groups(
    code: pd.Series, kind: str, value_of_group: dict[str, np.ndarray]
) -> tuple[np.ndarray, pd.Series]:
    """Per row: the value all candidate groups agree on (else -1), and the group if only one.

    ``value_of_group[g]`` is an int8 vector over all rows (-1 = unknown under that group).
    """
    codes, uniques = pd.factorize(code.astype("string"), use_na_sentinel=True)
    sets = [_candidates(kind, u) for u in uniques] + [_candidates(kind, None)]
    set_ids, set_uniques = pd.factorize(pd.Series([tuple(sorted(s)) for s in sets], dtype=object))
    row_set = set_ids[np.where(codes < 0, len(uniques), codes)]
    out = np.full(len(code), UNKNOWN, dtype=np.int8)
    group = np.full(len(code), -1, dtype=np.int64)  # into ``names``; -1 where not one group
    names: list[str] = []
    for k, groups in enumerate(set_uniques):
        rows = np.flatnonzero(row_set == k)
        if not len(rows) or not groups:
            continue
        vals = np.stack([value_of_group[g][rows] for g in groups])
        agree = (vals == vals[0]).all(axis=0) & (vals[0] != UNKNOWN)
        out[rows] = np.where(agree, vals[0], UNKNOWN)
        if len(groups) == 1:
            group[rows] = len(names)
            names.append(groups[0])
    return out, strings_at(names, group, code.index)


def size_class_codes(indicators: dict[str, np.ndarray], key: str) -> np.ndarray:
    """Three-valued size class index (0 micro … 3 large, -1 unknown) of every row under group ``key``."""
    th = sme_thresholds()
    rows = th[th["industry_key"] == key]
    n = len(next(iter(indicators.values())))
    known_all = np.ones(n, dtype=bool)
    any_micro = np.zeros(n, dtype=bool)
    cls = np.full(n, 3, dtype=np.int8)
    for ind, small, medium, large in zip(rows["indicator"], rows["small_min"], rows["medium_min"], rows["large_min"],
                                         strict=True):
        v = indicators[INDICATOR_COLUMNS[ind]]
        known = ~np.isnan(v)
        with np.errstate(invalid="ignore"):
            c = (v >= small).astype(np.int8) + (v >= medium) + (v >= large)
        known_all &= known
        any_micro |= known & (c == 0)
        cls = np.where(known, np.minimum(cls, c), cls).astype(np.int8)
    return np.where(any_micro, 0, np.where(known_all, cls, UNKNOWN)).astype(np.int8)


def above_scale_codes(revenue: np.ndarray, rule: float | str) -> np.ndarray:
    """1 above scale, 0 not, -1 unknown, under one 规上 rule."""
    if rule == "all":
        return np.ones(len(revenue), dtype=np.int8)
    if rule == "none":
        return np.full(len(revenue), UNKNOWN, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(revenue), UNKNOWN, revenue >= float(rule)).astype(np.int8)


SIZE_COLUMNS = ("size_class", "size_industry_key", "above_scale")


def derive_size(X: pd.DataFrame) -> pd.DataFrame:
    """``size_class`` (micro/small/medium/large, NA = not decided), ``size_industry_key``, ``above_scale``.
    Needs ``industry_code`` canonical (run after the industry step)."""
    code = column(X, "industry_code", "string")
    ind = {col: number(X, col) for col in ("employees", "revenue", "total_assets")}
    keys = sorted(set(sme_thresholds()["industry_key"]))
    size_vals = {k: size_class_codes(ind, k) for k in keys}
    size, key = resolve_over_groups(code, "sme", size_vals)
    rules = dict(SCALE_RULES)
    rules["none"] = "none"
    scale_vals = {p: above_scale_codes(ind["revenue"], r) for p, r in rules.items()}
    scale, _ = resolve_over_groups(code, "scale", scale_vals)
    above = pd.array(np.where(scale == UNKNOWN, None, scale == 1), dtype="boolean")
    return pd.DataFrame(
        {
            "size_class": strings_at(SIZE_CLASSES, size, X.index),  # UNKNOWN (-1) → missing
            "size_industry_key": key,
            "above_scale": pd.Series(above, index=X.index),
        },
        index=X.index,
    )
