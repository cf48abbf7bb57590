"""Numbers, units and comparators as policy texts write them.

Units are normalised to the book's: money in 万元 (亿元 × 10,000, 元 ÷ 10,000), ratios 0–1 (5% →
0.05), people, years, months, counts.  Comparators follow the legal reading of Chinese statutes
(以上、以下、以内 include the number; 超过、不满、不足、低于 exclude it); ``(含)`` makes a bound
inclusive and ``(不含)`` exclusive.
"""

from __future__ import annotations

import re

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMERAL = "[零〇一二两三四五六七八九十百千]+"
NUM = rf"(?:\d+(?:,\d{{3}})*(?:\.\d+)?|{CN_NUMERAL})"
UNIT = r"(?:亿元|亿|千万元|千万|百万元|百万|万元|万|千元|元|%|‰|个百分点|人次|人|名|个月|月|年度|年|周岁|项|件|个|家|分|倍|平方米|亩)"
INCL = r"(?:\((?:不)?含[^)]{0,10}\))"
PRE_CMP = (
    r"(?:不低于|不少于|不小于|不超过|不高于|不多于|不大于|不足|不满|未满|未达到|未超过|低于|少于|小于|"
    r"高于|多于|大于|超过|达到|达|突破|满|在|≥|≤|>|<|＞|＜|=|为)"
)
POST_CMP = r"(?:及以上|或以上|以上|及以下|或以下|以下|以内|之内|内|以外|及其以上|或者以上)"

_PRE_OP = {
    "不低于": "ge", "不少于": "ge", "不小于": "ge", "达到": "ge", "达": "ge", "突破": "ge", "满": "ge", "≥": "ge",
    "不超过": "le", "不高于": "le", "不多于": "le", "不大于": "le", "≤": "le", "未超过": "le",
    "高于": "gt", "多于": "gt", "大于": "gt", "超过": "gt", ">": "gt", "＞": "gt",
    "低于": "lt", "少于": "lt", "小于": "lt", "不足": "lt", "不满": "lt", "未满": "lt", "未达到": "lt", "<": "lt", "＜": "lt",
    "=": "eq", "为": None, "在": None,
}  # fmt: skip
_POST_OP = {"以上": "ge", "及以上": "ge", "或以上": "ge", "及其以上": "ge", "或者以上": "ge",
            "以下": "le", "及以下": "le", "或以下": "le", "以内": "le", "之内": "le", "内": "le", "以外": "gt"}  # fmt: skip

THRESHOLD = re.compile(
    rf"(?P<pre>{PRE_CMP})?(?P<num>{NUM})(?P<unit>{UNIT})(?:人民币)?(?P<incl1>{INCL})?"
    rf"(?:(?:至|到|-|—|~|～)(?P<num2>{NUM})(?P<unit2>{UNIT})?(?:人民币)?(?P<incl2>{INCL})?)?"
    rf"(?P<post>{POST_CMP})?(?P<incl3>{INCL})?"
)


def parse_number(text: str) -> float | None:
    """Arabic (``1,000``, ``5.5``) or Chinese (``三``, ``十二``, ``两百``) numerals."""
    t = text.replace(",", "")
    try:
        return float(t)
    except ValueError:
        pass
    if not re.fullmatch(CN_NUMERAL, t):
        return None
    total, cur = 0, 0
    for ch in t:
        if ch in _CN_DIGITS:
            cur = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (cur or 1) * _CN_UNITS[ch]
            cur = 0
    return float(total + cur)


def unit_value(value: float, unit: str | None) -> tuple[float, str]:
    """(value in the book's unit, unit kind): money → 万元, % → ratio, people, years, months, count."""
    u = unit or ""
    if u in ("亿元", "亿"):
        return value * 10000, "money"
    if u in ("千万元", "千万"):
        return value * 1000, "money"
    if u in ("百万元", "百万"):
        return value * 100, "money"
    if u in ("万元", "万"):
        return value, "money"
    if u == "千元":
        return value / 10, "money"
    if u == "元":
        return value / 10000, "money"
    if u in ("%", "个百分点"):
        return round(value / 100, 10), "ratio"
    if u == "‰":
        return round(value / 1000, 10), "ratio"
    if u in ("人", "名", "人次"):
        return value, "people"
    if u in ("年", "年度", "周岁"):
        return value, "years"
    if u in ("个月", "月"):
        return value, "months"
    if u == "倍":
        return value, "times"
    if u == "分":
        return value, "score"
    return value, "count"


def comparator(pre: str | None, post: str | None, incl: str | None) -> str | None:
    """The operator of one bound: the word before the number, the word after, then (含)/(不含)."""
    op = _PRE_OP.get(pre or "") if pre else None
    post_op = _POST_OP.get(post or "") if post else None
    if op is None:
        op = post_op
    elif post_op is not None and op in ("ge", "gt") and post_op == "ge":
        pass  # 超过…以上: keep the word before
    if op is None:
        return None
    if incl:
        if incl.startswith("(不含"):
            op = {"ge": "gt", "le": "lt"}.get(op, op)
        else:
            op = {"gt": "ge", "lt": "le"}.get(op, op)
    return op
