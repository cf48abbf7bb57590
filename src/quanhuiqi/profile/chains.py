"""Industry-chain membership (``chains``) and certifications, both closed-world set fields.

The mapping of GB/T 4754-2017 codes to chains ships as ``data/industry_chains_gbt4754_2017.csv``
(columns ``chain, chain_zh, prefix, name, coverage, basis``): each row puts every code under
``prefix`` into ``chain``.  ``basis`` names the statistical classification the row follows —
战略性新兴产业分类(2018), 数字经济及其核心产业统计分类(2021), 文化及相关产业分类(2018), or the
standard's own division for 软件和信息技术服务 and 电子信息制造业; ``coverage = partial`` marks the
codes those classifications flag with * (only part of the code's activity is in the chain — the
code alone cannot split it, so membership is granted to the whole code).  An enterprise whose
code is coarser than a chain prefix (section C only) is not put in the chain: set fields are
closed world, and membership is only asserted when the code proves it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from quanhuiqi.profile._base import column, map_distinct
from quanhuiqi.profile.fields import CERTIFICATIONS, CHAINS
from quanhuiqi.reference.vocabularies import CHAIN_LABELS

CHAIN_NAMES_ZH = CHAIN_LABELS  # the chains' Chinese names (reference data)


@cache
def chain_mapping() -> pd.DataFrame:
    """The shipped chain mapping (one row per chain × code prefix)."""
    path = resources.files("quanhuiqi.profile").joinpath("data").joinpath("industry_chains_gbt4754_2017.csv")
    with path.open("rb") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    unknown = set(df["chain"]) - set(CHAINS)
    if unknown:
        raise ValueError(f"industry_chains_gbt4754_2017.csv: chains not in fields.CHAINS: {sorted(unknown)}")
    return df


@cache
def _chains_by_prefix() -> dict[str, frozenset[str]]:
    m = chain_mapping()
    out: dict[str, set[str]] = {}
    for chain, prefix in zip(m["chain"], m["prefix"], strict=True):
        out.setdefault(prefix, set()).add(chain)
    return {p: frozenset(c) for p, c in out.items()}


@cache
def chains_of_code(code: str | None) -> str:
    """``;``-joined sorted chains a canonical code lies in ('' when none or unknown code): the chains of
    each of its prefixes, looked up (never a scan of the mapping)."""
    if code is None or code.isalpha():
        return ""
    by_prefix = _chains_by_prefix()
    hits = set().union(*(by_prefix.get(code[:k], ()) for k in range(1, len(code) + 1)))
    return ";".join(sorted(hits))


def normalise_set(text: str | None, allowed: set[str] | None = None) -> str:
    """A ``;``/``,``/space-separated token list → sorted ``;``-joined distinct tokens (closed world: NA → '')."""
    if text is None:
        return ""
    tokens = {t.strip() for t in str(text).replace(",", ";").replace("，", ";").replace("；", ";").split(";")}
    tokens.discard("")
    if allowed is not None:
        tokens &= allowed
    return ";".join(sorted(tokens))


CHAIN_COLUMNS = ("certifications", "chains")


def derive_chains(X: pd.DataFrame) -> pd.DataFrame:
    """``chains`` from the industry code and ``certifications`` as a canonical set (absent = not held)."""
    code = column(X, "industry_code", "string")
    chains = map_distinct(code, chains_of_code).fillna("")
    certs = map_distinct(column(X, "certifications", "string"), normalise_set).fillna("")
    return pd.DataFrame({"certifications": certs, "chains": chains}, index=X.index)


def set_contains(values: pd.Series, token: str) -> np.ndarray:
    """Boolean per row: the ``;``-joined set holds ``token`` (computed on distinct values)."""
    codes, uniques = pd.factorize(values.astype("string").fillna(""))
    hit = np.array([token in str(u).split(";") for u in uniques] + [False], dtype=bool)
    return hit[codes]


__all__ = ["CERTIFICATIONS", "CHAINS", "CHAIN_NAMES_ZH", "CHAIN_COLUMNS", "chain_mapping", "chains_of_code", "derive_chains"]
