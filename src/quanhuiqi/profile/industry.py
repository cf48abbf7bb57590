"""Industry (GB/T 4754-2017): the hierarchy from a code, or a code from the industry as written.

Registries without a code write the industry by name: a 门类 (``制造业``), a 小类 (``应用软件开发``),
abbreviated (``软件开发``), padded, traditional, full-width, with ``企业``/``行业`` appended, or in the
2011 wording (``化学原料及化学制品制造业``).  Names are compared in a normalised key form (NFKC, 繁→简,
no punctuation, spaces or 和/及/与, 其它 → 其他, no trailing 业/企业/行业/类).  An exact key of a 2017
name (or of a 2011 name, read through the standard's 附录B crosswalk) is confidence 1.  Otherwise a
name is matched against the standard's names of every level with rapidfuzz (WRatio on normalised text: on
Chinese without spaces that is plain ratio, or 0.9 × partial ratio when one string is much shorter).
Every standard name within ``margin`` points of the best score is a plausible reading; the answer
is their deepest common ancestor, so an abbreviation shared by several classes resolves to the
group or division they share (the level reached), and plausible readings in different sections
resolve to nothing.  Below ``confidence_floor`` the industry stays unknown: never a guess dressed
as a fact.  Matching runs once per distinct name.

Before fuzzy matching, a short shipped list of colloquial names that are not names of the standard
(``data/industry_name_aliases.csv``: 酒店, 超市, 商贸, 物流, 咨询 …) maps each to the coarsest code
it certainly lies under, with confidence 0.95: fuzzy matching alone would read ``酒店`` as 6121
经济型连锁酒店, a guess deeper than the text supports.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from quanhuiqi.profile._base import column
from quanhuiqi.reference.industries import HIERARCHY_COLUMNS, _forms, industry_hierarchy, industry_table
from quanhuiqi.text import normalize_text

INDUSTRY_COLUMNS = (
    "industry_code",
    *HIERARCHY_COLUMNS,
    "industry_level",
    "industry_match",
    "industry_confidence",
    "industry_section_name",
    "industry_label",
)

_PUNCT = re.compile(r"[\s、，,。.（）()\[\]【】《》<>“”\"'‘’·\-—_/:：;；]+")
_CONJUNCTIONS = re.compile(r"[和及与]")
_SUFFIXES = ("企业", "行业", "公司", "单位", "类", "业")
_CODE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])([A-Ta-t]?\d{2,4}|[A-Ta-t])(?![0-9A-Za-z])")


def name_key(text: str | None) -> str | None:
    """Matching form of an industry name: normalised, no punctuation or spaces, no 业/企业/行业 suffix."""
    s = normalize_text(text)
    if s is None:
        return None
    s = _PUNCT.sub("", s).replace("其它", "其他")
    s = _CONJUNCTIONS.sub("", s)  # 2002/2011 wording 及, 2017 和, vendors 与 or nothing
    changed = True
    while changed and s:
        changed = False
        for suffix in _SUFFIXES:
            if s.endswith(suffix) and len(s) > len(suffix):
                s = s[: -len(suffix)]
                changed = True
    return s or None


@cache
def _standard_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(keys, codes): one entry per code of the standard (names repeat across levels)."""
    tab = industry_table()
    keys, codes = [], []
    for code, name in zip(tab["code"], tab["name"], strict=True):
        k = name_key(name)
        if k:
            keys.append(k)
            codes.append(code)
    return tuple(keys), tuple(codes)


ALIAS_CONFIDENCE = 0.95


@cache
def _aliases() -> dict[str, str]:
    from importlib import resources

    path = resources.files("quanhuiqi.profile").joinpath("data").joinpath("industry_name_aliases.csv")
    with path.open("rb") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False)
    tab = industry_table()
    bad = sorted(set(df["code"]) - set(tab.index))
    if bad:
        raise ValueError(f"industry_name_aliases.csv: codes not in GB/T 4754-2017: {bad}")
    return {name_key(a): c for a, c in zip(df["alias"], df["code"], strict=True)}


@cache
def _exact_index() -> dict[str, tuple[str, ...]]:
    """Normalised name → codes: the 2017 names, then GB/T 4754-2011 names the 2017 text dropped or
    reworded (registries still write them), each read as the 2017 codes its 2011 code became."""
    index: dict[str, list[str]] = {}
    for k, c in zip(*_standard_names(), strict=True):
        index.setdefault(k, []).append(c)
    legacy: dict[str, list[str]] = {}
    for k, c in _legacy_names():
        if k not in index:
            legacy.setdefault(k, []).append(c)
    index.update(legacy)
    return {k: tuple(v) for k, v in index.items()}


@cache
def _legacy_names() -> tuple[tuple[str, str], ...]:
    """(name key, 2017 code) for every 2011 code: the deepest 2017 code covering all 2017 codes its
    2011 classes map to in the standard's 附录B crosswalk."""
    from quanhuiqi.reference._files import read_reference_csv

    old = read_reference_csv("gbt4754_2011.csv")
    cw = read_reference_csv("gbt4754_2017_2011_crosswalk.csv").dropna(subset=["code_2011"])
    known = set(industry_table().index)
    by_prefix: dict[str, set[str]] = {}  # every 2011 prefix (division, group, class) → 2017 codes
    for c11, c17 in zip(cw["code_2011"], cw["code_2017"], strict=True):
        if c17 in known:
            for n in range(2, len(c11) + 1):
                by_prefix.setdefault(c11[:n], set()).add(c17)
    section_of = _section_of()  # a dictionary: no DataFrame lookup per 2011 code
    out = []
    for code, name, section in zip(old["code"], old["name"], old["section"], strict=True):
        if code.isalpha():
            continue
        mapped = by_prefix.get(code, set())
        key = name_key(name)
        if key and mapped:
            anc = common_ancestor(sorted(mapped))
            if anc is not None and section_of[anc] == section:
                out.append((key, anc))
    return tuple(out)


@cache
def _section_of() -> dict[str, str]:
    """Every code of the standard → its section letter (a dictionary: no DataFrame lookup per name)."""
    tab = industry_table()
    return dict(zip(tab["code"], tab["section"], strict=True))


def common_ancestor(codes: list[str] | tuple[str, ...]) -> str | None:
    """Deepest code that is an ancestor-or-self of every code given (None across sections)."""
    section_of = _section_of()
    sections = {section_of[c] for c in codes}
    if len(sections) != 1:
        return None
    section = sections.pop()
    digits = [c for c in codes if not c.isalpha()]
    if len(digits) < len(codes):
        return section
    prefix = digits[0]
    for c in digits[1:]:
        n = 0
        while n < min(len(prefix), len(c)) and prefix[n] == c[n]:
            n += 1
        prefix = prefix[:n]
    while len(prefix) >= 2 and prefix not in section_of:
        prefix = prefix[:-1]
    return prefix if len(prefix) >= 2 else section


def _deepest_if_one_path(codes: tuple[str, ...]) -> str | None:
    """One name on a single path (a 中类 not subdivided repeats its name as the 小类: 019 / 0190)
    names one category: its deepest code.  Otherwise the codes' common ancestor."""
    anc = common_ancestor(list(codes))
    deepest = max(codes, key=lambda c: (not c.isalpha(), len(c)))
    if anc is not None and all(is_on_path(c, deepest) for c in codes):
        return deepest
    return anc


def match_industry_names(
    names: pd.Series | list[str], *, confidence_floor: float = 0.85, margin: float = 3.0
) -> pd.DataFrame:
    """Each distinct name → ``code`` (canonical, any level), ``confidence`` (0–1), or missing.

    Returned frame is indexed like ``names``.  A code written inside the text (``6513 应用软件开发``,
    ``C39``) is taken as written (confidence 1).  An exact normalised name is confidence 1; a fuzzy
    match has its WRatio score / 100.  A reading below the floor, or whose plausible readings span
    sections, is missing.
    """
    s = pd.Series(names, dtype="string") if not isinstance(names, pd.Series) else names.astype("string")
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    res_code: list[str | None] = []
    res_conf: list[float] = []
    keys = [name_key(u) for u in uniques]
    fuzzy_idx: list[int] = []
    exact = _exact_index()
    aliases = _aliases()
    forms = _forms()
    for i, (raw, key) in enumerate(zip(uniques, keys, strict=True)):
        code, conf = None, np.nan
        written = _code_in_text(raw, forms)
        if written is not None:
            code, conf = written, 1.0
        elif key is not None and key in exact:
            code, conf = _deepest_if_one_path(exact[key]), 1.0
        elif key is not None and key in aliases:
            code, conf = aliases[key], ALIAS_CONFIDENCE
        elif key is not None:
            fuzzy_idx.append(i)
        res_code.append(code)
        res_conf.append(conf)
    if fuzzy_idx:
        std_keys, std_codes = _standard_names()
        queries = [keys[i] for i in fuzzy_idx]
        scores = process.cdist(queries, std_keys, scorer=fuzz.WRatio, processor=None, dtype=np.float32, workers=1)
        std_codes_arr = np.array(std_codes, dtype=object)
        for row, i in enumerate(fuzzy_idx):
            sc = scores[row]
            best = float(sc.max())
            if best < confidence_floor * 100:
                continue
            plausible = std_codes_arr[sc >= best - margin]
            code = common_ancestor(list(plausible))
            if code is not None:
                res_code[i], res_conf[i] = code, best / 100.0
    code_arr = np.array(res_code + [None], dtype=object)[codes]
    conf_arr = np.array(res_conf + [np.nan], dtype="float64")[codes]
    conf_arr = np.where(pd.isna(code_arr), np.nan, conf_arr)
    return pd.DataFrame(
        {"code": pd.Series(code_arr, index=s.index, dtype="string"), "confidence": conf_arr}, index=s.index
    )


def _code_in_text(raw: str, forms: dict[str, str]) -> str | None:
    """A single valid code written in the text (``[6513]``, ``C39 …``); None if none or several differ."""
    import unicodedata

    text = unicodedata.normalize("NFKC", raw)
    found = {forms.get(m.upper()) for m in _CODE_IN_TEXT.findall(text) if m.upper() in forms and len(m) > 1}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def derive_industry(X: pd.DataFrame, confidence_floor: float = 0.85, margin: float = 3.0) -> pd.DataFrame:
    """Industry hierarchy and names from ``industry_code`` or, without a code, from ``industry_name``.

    Adds ``industry_section/division/group/class`` (codes down to the level known), ``industry_level``
    (1–4), ``industry_match`` (``code`` | ``name`` | NA), ``industry_confidence`` (1 for a code,
    the match score for a name), ``industry_section_name`` and ``industry_label`` (the standard's
    name of the most specific code).  ``industry_code`` becomes the canonical code actually known.
    """
    raw_code = column(X, "industry_code", "string")
    codes, uniques = pd.factorize(raw_code, use_na_sentinel=True)
    canon_u = _canonical(pd.Series(uniques, dtype="string")).to_numpy(dtype=object, na_value=None)
    code_arr = np.append(canon_u, None)[codes]
    known = pd.notna(code_arr)
    match_arr = np.where(known, "code", None).astype(object)
    conf = np.where(known, 1.0, np.nan)

    names = column(X, "industry_name", "string").to_numpy(dtype=object, na_value=None)
    need = np.flatnonzero(~known & pd.notna(names))
    if len(need):  # positions, not labels: an index with repeated labels is kept as it is
        named = match_industry_names(
            pd.Series(names[need], dtype="string"), confidence_floor=confidence_floor, margin=margin
        )
        hit = named["code"].notna().to_numpy()
        code_arr[need[hit]] = named["code"].to_numpy(dtype=object)[hit]
        match_arr[need[hit]] = "name"
        conf[need[hit]] = named["confidence"].to_numpy()[hit]
    code = pd.Series(code_arr, index=X.index, dtype="string")
    match = pd.Series(match_arr, index=X.index, dtype="string")

    hier = _hierarchy_distinct(code)
    out = pd.DataFrame({"industry_code": code}, index=X.index)
    for col in (*HIERARCHY_COLUMNS, "industry_level", "industry_section_name", "industry_label"):
        out[col] = hier[col]
    out["industry_match"] = match
    out["industry_confidence"] = conf
    return out


def _canonical(values: pd.Series) -> pd.Series:
    from quanhuiqi.reference.industries import canonical_industry_code

    return canonical_industry_code(values)


@cache
def _names_by_code() -> dict[str, str]:
    tab = industry_table()
    return dict(zip(tab["code"], tab["name"], strict=True))


def _hierarchy_distinct(code: pd.Series) -> pd.DataFrame:
    """industry_hierarchy plus names, computed on the distinct codes and broadcast."""
    codes, uniques = pd.factorize(code, use_na_sentinel=True)
    u = pd.Series(list(uniques) + [pd.NA], dtype="string")
    hier = industry_hierarchy(u).reset_index(drop=True)
    names = _names_by_code()
    hier["industry_section_name"] = hier["industry_section"].map(names).astype("string")
    hier["industry_label"] = u.map(names).astype("string")
    take = np.where(codes < 0, len(uniques), codes)
    out = hier.iloc[take].reset_index(drop=True)
    out.index = code.index
    return out


def is_on_path(found: str, truth: str) -> bool:
    """True when ``found`` is ``truth`` or one of its ancestors (a correct answer, maybe coarser)."""
    section_of = _section_of()
    if section_of[found] != section_of[truth]:
        return False
    return found.isalpha() or (not truth.isalpha() and truth.startswith(found))


def evaluate_name_matching(names: list[str], truth: list[str | None], **params) -> dict[str, float]:
    """Precision of name → code on a labelled table: an answer is correct when it lies on the true
    code's path (the code or a coarser ancestor); ``truth`` None means the name must stay unknown."""
    got = match_industry_names(pd.Series(names, dtype="string"), **params)["code"]
    decided = correct = exact_level = should_be_unknown_but_decided = labelled = 0
    for found, t in zip(got, truth, strict=True):
        found = None if pd.isna(found) else found
        if t is None:
            should_be_unknown_but_decided += found is not None
            decided += found is not None
            continue
        labelled += 1
        if found is not None:
            decided += 1
            if is_on_path(found, t):
                correct += 1
                exact_level += found == t
    return {
        "names": len(names),
        "decided": decided,
        "correct": correct,
        "precision": correct / decided if decided else float("nan"),
        "coverage": (correct / labelled) if labelled else float("nan"),
        "exact_level_share": exact_level / labelled if labelled else float("nan"),
        "decided_but_should_be_unknown": should_be_unknown_but_decided,
    }
