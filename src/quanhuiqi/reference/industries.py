"""GB/T 4754-2017 国民经济行业分类: code lookup in every form registries write.

A code is accepted as ``C3911``, ``3911``, ``391``, ``39`` or ``C`` (any case, full-width
digits, padding whitespace).  Everything resolves to one canonical code (section letter
for 门类, 2–4 digits below) plus its ancestors; a code that does not exist in the standard
resolves to nothing, never to a guess.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import pandas as pd

from quanhuiqi.reference._files import read_reference_csv

LEVEL_NAMES = {1: "section", 2: "division", 3: "group", 4: "class"}
HIERARCHY_COLUMNS = ["industry_section", "industry_division", "industry_group", "industry_class"]


@cache
def industry_table() -> pd.DataFrame:
    """The 1,971 codes of GB/T 4754-2017 (20 sections, 97 divisions, 473 groups, 1,381 classes)."""
    df = read_reference_csv("gbt4754_2017.csv")
    df["level"] = df["level"].astype(int)
    return df.set_index("code", drop=False)


@cache
def _forms() -> dict[str, str]:
    """Every accepted spelling → canonical code."""
    tab = industry_table()
    forms: dict[str, str] = {}
    for code, section in zip(tab["code"], tab["section"], strict=True):
        forms[code] = code
        if code != section:
            forms[section + code] = code
    return forms


@cache
def _ancestors() -> pd.DataFrame:
    """canonical code → section, division, group, class (None below the code's own level)."""
    tab = industry_table()
    rows = []
    for code, level, section in zip(tab["code"], tab["level"], tab["section"], strict=True):
        rows.append(
            {
                "code": code,
                "industry_level": level,
                "industry_section": section,
                "industry_division": code[:2] if level >= 2 else None,
                "industry_group": code[:3] if level >= 3 else None,
                "industry_class": code[:4] if level >= 4 else None,
            }
        )
    return pd.DataFrame(rows).set_index("code")


def clean_code_text(values: pd.Series) -> pd.Series:
    """NFKC (full-width → ASCII), strip, upper-case; empty → missing."""
    s = values.astype("string").str.normalize("NFKC").str.strip().str.upper()
    s = s.str.replace(r"[\s\-\._]", "", regex=True)
    return s.mask(s == "")


def canonical_industry_code(values: pd.Series) -> pd.Series:
    """Canonical GB/T 4754-2017 code per value (missing where absent or non-existent)."""
    return clean_code_text(values).map(_forms()).astype("string")


_CODE_SEPARATORS = re.compile(r"[\s\-\._]")


def clean_code_one(text: str | None) -> str | None:
    """:func:`clean_code_text` of one value (the online path)."""
    if text is None:
        return None
    s = _CODE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text).strip().upper())
    return s or None


def canonical_industry_code_one(text: str | None) -> str | None:
    """:func:`canonical_industry_code` of one value."""
    s = clean_code_one(text)
    return None if s is None else _forms().get(s)


def industry_hierarchy(codes: pd.Series) -> pd.DataFrame:
    """Section / division / group / class and the level reached, for canonical codes."""
    anc = _ancestors()
    out = anc.reindex(codes.astype("string").fillna("").to_numpy())
    out.index = codes.index
    for col in HIERARCHY_COLUMNS:
        out[col] = out[col].astype("string")
    out["industry_level"] = out["industry_level"].astype("Int8")
    return out


@dataclass(frozen=True)
class IndustryCode:
    code: str
    level: int
    section: str
    name: str


@cache  # a book looks up the same few hundred codes over and over (lists, trees, tests)
def lookup_industry(value: str) -> IndustryCode:
    """One code → :class:`IndustryCode`; ``KeyError`` naming the value if it does not exist."""
    canon = _forms().get(unicodedata.normalize("NFKC", str(value)).strip().upper())
    if canon is None:
        raise KeyError(f"industry code {value!r} does not exist in GB/T 4754-2017")
    row = industry_table().loc[canon]
    return IndustryCode(code=canon, level=int(row["level"]), section=row["section"], name=row["name"])


def could_lie_under(known: str, prefix: str) -> bool | None:
    """Three-valued ``known under prefix`` for canonical codes: True, False, or None (unknown).

    A code known only to a coarser level than the prefix is unknown when it could lie under
    it and false when it cannot (``39`` under ``3911``: unknown; ``39`` under ``40``: false).
    """
    k, p = lookup_industry(known), lookup_industry(prefix)
    if k.section != p.section:
        return False
    kc = "" if k.level == 1 else k.code
    pc = "" if p.level == 1 else p.code
    if kc.startswith(pc):
        return True
    if pc.startswith(kc):
        return None
    return False


def level_counts() -> dict[str, int]:
    tab = industry_table()
    return {LEVEL_NAMES[k]: int(v) for k, v in tab["level"].value_counts().sort_index().items()}
