"""Text normalisation for matching: NFKC, traditional → simplified, trimmed whitespace.

Registries mix full-width digits (``３７０１０２``), traditional characters (``濟南``) and padding.
Matching always runs on the normalised form; the original is kept for display.  Conversion is
character by character (OpenCC's TSCharacters table through ``str.translate``), which is what
matching needs and is fast over whole columns.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

import pandas as pd


@cache
def _t2s_table() -> dict[int, str]:
    path = resources.files("opencc").joinpath("dictionary").joinpath("TSCharacters.txt")
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        trad, simp = line.split("\t", 1)
        simp = simp.split(" ")[0]
        if len(trad) == 1 and simp and simp != trad:
            table[ord(trad)] = simp
    return table


def normalize_text(text: str | None) -> str | None:
    """One value: NFKC, traditional → simplified, whitespace collapsed and trimmed."""
    if text is None or (isinstance(text, float) and text != text):
        return None
    s = unicodedata.normalize("NFKC", str(text)).translate(_t2s_table())
    s = " ".join(s.split())
    return s or None


@cache
def _traditional_class() -> str:
    """An RE2 character class of every character the 繁→简 table changes."""
    return "[" + "".join(f"\\x{{{k:x}}}" for k in sorted(_t2s_table())) + "]"


def normalize_text_series(values: pd.Series) -> pd.Series:
    """Whole column: NFKC, traditional → simplified, whitespace collapsed and trimmed; '' → missing.

    The same result as :func:`normalize_text` per cell.  pandas runs NFKC, ``\\s`` and ``translate``
    as Python loops, so NFKC and whitespace run in pyarrow compute and the 繁→简 ``translate`` only
    on the cells that hold a traditional character.
    """
    import pyarrow.compute as pc

    from quanhuiqi.tables.parse import nfkc, squash_whitespace, to_arrow

    s = nfkc(values)
    need = pc.fill_null(pc.match_substring_regex(to_arrow(s), _traditional_class()), False)
    need_np = need.to_numpy(zero_copy_only=False)
    if need_np.any():
        s = s.copy()
        s[need_np] = s[need_np].str.translate(_t2s_table())
    s = squash_whitespace(s)
    return s.mask(s == "")
