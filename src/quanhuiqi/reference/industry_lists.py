"""Named industry lists (战略性新兴产业, 高技术产业, 数字经济, 知识产权密集型产业) as sets of GB/T 4754-2017 codes.

Policies name these lists instead of codes ("属于战略性新兴产业的企业").  The NBS correspondences mark some
classes as only partly inside a list (``partial``): an enterprise in such a class may or may not belong, so
the policy language keeps it *unknown*, never true.  A city declares its own lists (十大千亿产业) in a book's
fields file; they resolve through the same :class:`IndustryList`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd

from quanhuiqi.reference._files import read_reference_csv

# name → (file, Chinese title)
SHIPPED_LISTS: dict[str, tuple[str, str]] = {
    "sei_2018": ("sei_2018_gbt4754.csv", "战略性新兴产业（2018）"),
    "hightech_manufacturing_2017": ("hightech_manufacturing_2017_gbt4754.csv", "高技术产业（制造业）（2017）"),
    "hightech_services_2018": ("hightech_services_2018_gbt4754.csv", "高技术产业（服务业）（2018）"),
    "digital_economy_2021": ("digital_economy_2021_gbt4754.csv", "数字经济及其核心产业（2021）"),
    "ip_intensive_2019": ("ip_intensive_2019_gbt4754.csv", "知识产权（专利）密集型产业（2019）"),
}


@dataclass(frozen=True)
class IndustryList:
    """A resolved list: canonical GB/T codes wholly inside it, and codes only partly inside it."""

    ref: str  # as a policy names it: ``sei_2018`` or ``sei_2018/1.1``
    title: str
    full: tuple[str, ...]
    partial: tuple[str, ...]


@cache
def list_table(name: str) -> pd.DataFrame:
    """The (item, GB/T code) pairs of a shipped list; structure rows dropped."""
    if name not in SHIPPED_LISTS:
        raise KeyError(name)
    df = read_reference_csv(SHIPPED_LISTS[name][0])
    df = df[df["gbt4754_code"].notna()].copy()
    df["partial"] = df["partial"].fillna("false").str.lower().eq("true")
    return df.reset_index(drop=True)


@cache
def item_names(name: str) -> dict[str, str]:
    """Every item code of a shipped list (structure rows included) → its name."""
    df = read_reference_csv(SHIPPED_LISTS[name][0])
    return dict(zip(df["list_code"].astype(str), df["list_name"].astype(str), strict=True))


def _item_matches(codes: pd.Series, prefix: str) -> pd.Series:
    """Items at or below ``prefix``: dotted codes (``1.1`` → ``1.1.3``) respect the dots, others are plain
    prefixes (``01`` → ``0101``)."""
    dotted = codes.str.contains(".", regex=False).any() or "." in prefix
    if dotted:
        return (codes == prefix) | codes.str.startswith(prefix + ".")
    return codes.str.startswith(prefix)


def resolve_list(ref: str, city_lists: dict[str, dict] | None = None) -> IndustryList:
    """``name`` or ``name/item``; ``KeyError`` with a readable message when it names nothing."""
    from quanhuiqi.reference.industries import lookup_industry

    name, _, item = ref.partition("/")
    city_lists = city_lists or {}
    if name in city_lists:
        if item:
            raise KeyError(f"list {name!r} is a city list: it has no items (write {name!r} alone)")
        spec = city_lists[name]
        full = tuple(sorted({lookup_industry(c).code for c in spec.get("codes", ())}))
        partial = tuple(sorted({lookup_industry(c).code for c in spec.get("partial", ())} - set(full)))
        return IndustryList(ref, str(spec.get("title") or name), full, partial)
    if name not in SHIPPED_LISTS:
        known = ", ".join(sorted(set(SHIPPED_LISTS) | set(city_lists)))
        raise KeyError(f"no industry list named {name!r} (known: {known})")
    tab = list_table(name)
    title = SHIPPED_LISTS[name][1]
    if item:
        sel = _item_matches(tab["list_code"].astype(str), item)
        if not sel.any():
            raise KeyError(f"list {name!r} has no item {item!r}")
        tab = tab[sel]
        names = item_names(name)
        title = f"{title}·{names.get(item, item)}"
    codes = tab["gbt4754_code"].map(lambda c: lookup_industry(c).code)
    full = set(codes[~tab["partial"]])
    partial = set(codes[tab["partial"]]) - full
    return IndustryList(ref, title, tuple(sorted(full)), tuple(sorted(partial)))


def shipped_list_names() -> list[str]:
    return sorted(SHIPPED_LISTS)
