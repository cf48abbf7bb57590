"""中小企业划型标准规定 (工信部联企业〔2011〕300号): thresholds and their industry scope.

The 16 industry groups of Art. 4 are mapped to GB/T 4754-2017 codes by the NBS 2017 notes
(``sme_industry_scope_gbt4754_2017.csv``).  Codes outside every group (railways, finance,
education, health, S, T) fall back to 其他未列明行业 per Art. 6 ("参照本规定进行划型").
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from quanhuiqi.reference._files import read_reference_csv

SIZE_CLASSES = ["micro", "small", "medium", "large"]  # ordinal, smallest first
SIZE_LABELS = {"micro": "微型", "small": "小型", "medium": "中型", "large": "大型"}
FALLBACK_KEY = "other_unlisted"


@cache
def sme_thresholds() -> pd.DataFrame:
    """One row per (industry group, indicator): ``large_min``, ``medium_min``, ``small_min`` floats."""
    df = read_reference_csv("sme_size_thresholds_2011.csv")
    for col in ("large_min", "medium_min", "small_min", "micro_below"):
        df[col] = df[col].astype(float)
    return df


@cache
def sme_scope() -> pd.DataFrame:
    """One row per (industry group, include/exclude prefix), most specific prefix first."""
    raw = read_reference_csv("sme_industry_scope_gbt4754_2017.csv")
    rows = []
    for key, inc, exc in zip(raw["industry_key"], raw["include_codes_2017"], raw["exclude_codes_2017"], strict=True):
        for kind, codes in (("include", inc), ("exclude", exc)):
            for code in str(codes).split(";") if isinstance(codes, str) else []:
                rows.append({"industry_key": key, "prefix": code, "kind": kind})
    df = pd.DataFrame(rows)
    df["specificity"] = df["prefix"].map(lambda p: 0 if p.isalpha() else len(p))
    return df.sort_values("specificity", ascending=False, kind="stable").reset_index(drop=True)


def sme_industry_key(section: pd.Series, code: pd.Series) -> pd.Series:
    """Industry group of Art. 4 for each enterprise, missing where the code is too coarse to tell.

    ``section`` is the 门类 letter and ``code`` the most specific known digits (2–4) or missing.
    A group is decided when the most specific matching rule is at a level the code reaches; a
    code known only to a coarser level than a rule that could split it stays undecided
    (section F could be 批发 51 or 零售 52).  Resolved once per distinct code, then broadcast.
    """
    keys = section.astype("string").fillna("") + "|" + code.astype("string").fillna("")
    codes, uniques = pd.factorize(keys)
    resolved = np.array([_key_for(*u.split("|")) for u in uniques], dtype=object)
    out = resolved[codes] if len(uniques) else np.array([], dtype=object)
    return pd.Series(out, index=section.index, dtype="string")


@cache
def _scope_rules() -> tuple[tuple[str, str, str], ...]:
    """(prefix, group, include|exclude), most specific first: plain tuples, read once."""
    scope = sme_scope()
    return tuple(zip(scope["prefix"].tolist(), scope["industry_key"].tolist(), scope["kind"].tolist(), strict=True))


@cache
def _key_for(sec: str, dig: str) -> str | None:
    if not sec:
        return None
    for prefix, key, kind in _scope_rules():
        if prefix.isalpha():
            if sec != prefix:
                continue
        elif not dig.startswith(prefix):
            could = (prefix.startswith(dig) if dig else _division_sections().get(prefix[:2]) == sec)
            if could:
                return None  # a more specific rule might apply: undecided
            continue
        return key if kind == "include" else FALLBACK_KEY
    return FALLBACK_KEY


@cache
def _division_sections() -> dict[str, str]:
    from quanhuiqi.reference.industries import industry_table

    tab = industry_table()
    return dict(zip(tab["code"], tab["section"], strict=True))
