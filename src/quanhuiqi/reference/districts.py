"""GB/T 2260 administrative divisions, with Jinan's districts and their history.

Registries keep codes that have since been renamed or merged (章丘市 370181 → 章丘区 370114,
莱城区 371202 → 莱芜区 370116) and NBS statistical zones that are not GB/T 2260 codes at all
(370176 济南高新技术产业开发区).  Every code that existed at any time since 1981 is accepted and
resolved to its current successor; a code split into several successors resolves to the
coarsest division that contains them all, so a later ``under`` test is *unknown* rather than
wrong.  A code that never existed is rejected.
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd

from quanhuiqi.reference._files import read_reference_csv
from quanhuiqi.reference.industries import clean_code_one, clean_code_text

# 国函〔2019〕4号: 莱芜市 abolished, its whole territory placed under 济南市 (the history file has
# no successor for the prefecture itself, only for its districts).
_MANUAL_SUCCESSORS = {"371200": "370100"}


@cache
def division_table() -> pd.DataFrame:
    """Current (2024) county-level-and-above divisions plus NBS statistical zones."""
    cur = read_reference_csv("gbt2260_divisions_2024.csv")[["code", "name", "level"]]
    stats = read_reference_csv("stats_divisions_county_2023.csv")
    zones = stats.loc[~stats["code"].isin(cur["code"]), ["code", "name"]].assign(level="county_stats_zone")
    return pd.concat([cur, zones], ignore_index=True).set_index("code", drop=False)


@cache
def division_history() -> pd.DataFrame:
    """Every code in use since 1981, with status and successor codes."""
    return read_reference_csv("gbt2260_history_1981_2024.csv").set_index("code", drop=False)


@cache
def jinan_districts() -> pd.DataFrame:
    """Jinan's current districts and counties (3701xx), the high-tech zone included."""
    tab = read_reference_csv("jinan_divisions.csv")
    cur = tab[(tab["status"] == "active") & (tab["level"] != "prefecture")]
    return cur[["code", "name", "level"]].reset_index(drop=True)


def _plain_successors(new_codes: str | float) -> list[str]:
    """Successors without the ``[YYYY]`` area-transfer entries (those are partial moves)."""
    if not isinstance(new_codes, str) or not new_codes:
        return []
    return [c for c in new_codes.split(";") if c and "[" not in c]


def _common_division(codes: list[str]) -> str:
    """The coarsest GB/T 2260 code containing all ``codes`` (province 370000, prefecture 370100)."""
    if all(c[:4] == codes[0][:4] for c in codes):
        return codes[0][:4] + "00"
    if all(c[:2] == codes[0][:2] for c in codes):
        return codes[0][:2] + "0000"
    return ""


@cache
def _successor_map() -> dict[str, str]:
    """Any historical or current code → its current code ('' when it has none)."""
    hist = division_history()
    current = set(division_table()["code"])
    status = dict(zip(hist["code"], hist["status"], strict=True))
    succ = {c: _plain_successors(n) for c, n in zip(hist["code"], hist["new_codes"], strict=True)}

    def resolve(code: str, seen: frozenset[str]) -> str:
        if code in current and status.get(code, "active") == "active":
            return code
        nxt = [n for n in succ.get(code, []) if n != code and n not in seen]
        if not nxt:
            return code  # existed, no recorded successor: keep it
        finals = sorted({resolve(n, seen | {code}) for n in nxt} - {""})
        if not finals:
            return ""
        return finals[0] if len(finals) == 1 else _common_division(finals)

    succ.update({c: [n] for c, n in _MANUAL_SUCCESSORS.items()})
    out = {c: resolve(c, frozenset()) for c in hist["code"]}
    out.update({c: c for c in current})
    return out


def canonical_district_code(values: pd.Series) -> pd.Series:
    """Current 6-digit code per value; missing where absent or where the code never existed."""
    succ = _successor_map()
    codes, uniques = pd.factorize(clean_code_text(values), use_na_sentinel=True)  # each distinct code once
    mapped = pd.array([succ.get(u) or None for u in uniques], dtype="string")
    return pd.Series(mapped.take(codes, allow_fill=True), index=values.index)  # gathered in Arrow


def canonical_district_code_one(text: str | None) -> str | None:
    """:func:`canonical_district_code` of one value (the online path)."""
    s = clean_code_one(text)
    return (_successor_map().get(s) or None) if s is not None else None


def is_district_code(value: str) -> bool:
    return bool(re.fullmatch(r"\d{6}", str(value))) and str(value) in _successor_map()


def district_prefix(codes: pd.Series) -> pd.Series:
    """The significant prefix of a code: ``37`` for a province, ``3701`` for a prefecture,
    ``370102`` for a county. ``under`` tests compare prefixes, so a code known only to the
    prefecture is unknown under any of its counties."""
    s = codes.astype("string")
    prov = s.str.endswith("0000")
    pref = s.str.endswith("00") & ~prov
    out = s.where(~pref, s.str[:4])
    return out.where(~prov, s.str[:2])


def district_name(code: str) -> str:
    tab = division_table()
    if code in tab.index:
        return str(tab.loc[code, "name"])
    hist = division_history()
    if code in hist.index:
        return str(hist.loc[code, "name"])
    raise KeyError(f"district code {code!r} does not exist in GB/T 2260")
