"""Place names in policy text → GB/T 2260 codes (with history, NBS zones and the issuer's own words).

Names come from the shipped divisions: current provinces, prefectures and counties, every code in
use since 1981 (章丘市 → 370114 through its successor), and the NBS statistical zones that are not
GB/T 2260 codes (370176 济南高新技术产业开发区).  Province and prefecture names are also matched
without their suffix (济南, 山东) when a place word follows; county names only in full, because
short county names are ordinary words (市中, 城区).  A name held by several divisions is resolved
by the issuer's territory or a parent place written just before it; otherwise it stays unmapped.
Words relative to the issuer (本市, 我区, 全省 …) resolve against ``jurisdiction`` when it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from quanhuiqi.reference.districts import _successor_map, division_history, division_table

_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "省", "市", "地区", "盟")
RELATIVE = {
    "province": ("本省", "我省", "全省", "省内", "省域"),
    "prefecture": ("本市", "我市", "全市", "市内", "市域", "市级行政区域"),
    "county": ("本区", "我区", "全区", "区内", "本县", "我县", "全县", "县内", "本园区", "园区内", "辖区内", "本开发区"),
}
ZONE_WORDS = {"高新区": "高新技术产业开发区", "经开区": "经济技术开发区", "开发区": "开发区"}


@dataclass(frozen=True)
class Place:
    start: int
    end: int
    prefix: str  # the under-prefix: 2, 4 or 6 digits
    name: str
    confidence: float


def _level_prefix(code: str) -> str:
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


@cache
def _name_index() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(full names → current codes, short names of provinces/prefectures → codes)."""
    full: dict[str, set[str]] = {}
    short: dict[str, set[str]] = {}
    succ = _successor_map()
    tab = division_table()
    for code, name, level in zip(tab["code"], tab["name"], tab["level"], strict=True):
        if level == "county" and len(name) <= 2:
            continue  # 城区, 郊区, 新区, 和县: ordinary words in policy prose
        full.setdefault(name, set()).add(code)
        if level in ("province", "prefecture"):
            base = _strip_suffix(name)
            if len(base) >= 2:
                short.setdefault(base, set()).add(code)
        if level == "county_stats_zone":
            for word, long in ZONE_WORDS.items():  # 济南高新技术产业开发区 → 济南高新区
                if long in name:
                    short.setdefault(name.replace(long, word), set()).add(code)
    hist = division_history()
    for code, name in zip(hist["code"], hist["name"], strict=True):
        cur = succ.get(code, "")
        if cur and name not in full and len(name) > 2:
            full.setdefault(name, set()).add(cur)
    return ({k: tuple(sorted(v)) for k, v in full.items()}, {k: tuple(sorted(v)) for k, v in short.items()})


def _strip_suffix(name: str) -> str:
    for s in _SUFFIXES:
        if name.endswith(s) and len(name) > len(s) + 1:
            return name[: -len(s)]
    return name


@cache
def _pattern() -> re.Pattern[str]:
    full, short = _name_index()
    names = sorted(set(full) | set(short), key=len, reverse=True)
    names = [n for n in names if len(n) >= 2]
    return re.compile("|".join(map(re.escape, names)))


_AFTER_SHORT = re.compile(r"(?:本市|市|省|区|县|行政区域|范围|辖区|境内|地区|本地|区域|注册|登记|纳税|高新|经济|开发区)")


def find_places(text: str, jurisdiction: str | None = None) -> list[Place]:
    """Every place written in ``text`` that resolves to one division (or one relative word)."""
    full, short = _name_index()
    out: list[Place] = []
    prev_prefix = ""
    prev_end = -10
    for m in _pattern().finditer(text):
        name = m.group()
        codes = full.get(name)
        conf = 0.95
        if codes is None:
            if not _AFTER_SHORT.match(text, m.end()) and not text[max(0, m.start() - 1) : m.start()] == "在":
                continue
            codes = short[name]
            conf = 0.85
        context = prev_prefix if m.start() - prev_end <= 2 else ""
        code = _resolve(codes, jurisdiction, context)
        if code is None:
            continue
        prefix = _level_prefix(code)
        out.append(Place(m.start(), m.end(), prefix, name, conf))
        prev_prefix, prev_end = prefix, m.end()
    # relative words and bare zone words (高新区) against the issuer's territory
    if jurisdiction:
        j = jurisdiction.strip()
        levels = {"province": j[:2], "prefecture": j[:4], "county": j}
        for level, words in RELATIVE.items():
            for w in words:
                for m in re.finditer(re.escape(w), text):
                    if any(p.start <= m.start() < p.end for p in out):
                        continue
                    pre = levels[level] if len(j) >= len(levels[level]) else j
                    out.append(Place(m.start(), m.end(), pre, w, 0.8))
        for word, long in ZONE_WORDS.items():
            for m in re.finditer(re.escape(word), text):
                if any(p.start <= m.start() < p.end or p.start < m.end() <= p.end for p in out):
                    continue
                code = _zone_in(j[:4], long)
                if code:
                    out.append(Place(m.start(), m.end(), code, word, 0.8))
    out.sort(key=lambda p: p.start)
    return out


def _resolve(codes: tuple[str, ...], jurisdiction: str | None, context: str) -> str | None:
    if len(codes) == 1:
        return codes[0]
    for ctx in (context, (jurisdiction or "")[:4], (jurisdiction or "")[:2]):
        if ctx:
            inside = [c for c in codes if c.startswith(ctx)]
            if len(inside) == 1:
                return inside[0]
    return None


@cache
def _zone_in(prefecture: str, long: str) -> str | None:
    tab = division_table()
    z = tab[(tab["level"] == "county_stats_zone") & tab["code"].str.startswith(prefecture)
            & tab["name"].str.contains(long, regex=False)]
    return str(z["code"].iloc[0]) if len(z) == 1 else None
