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


def to_simplified(text: str) -> str:
    return text.translate(_t2s_table())


def normalize_text(text: str | None) -> str | None:
    """One value: NFKC, traditional → simplified, whitespace collapsed and trimmed."""
    if text is None or (isinstance(text, float) and text != text):
        return None
    s = unicodedata.normalize("NFKC", str(text)).translate(_t2s_table())
    s = " ".join(s.split())
    return s or None


def normalize_text_series(values: pd.Series) -> pd.Series:
    """Whole column: NFKC, traditional → simplified, whitespace collapsed and trimmed; '' → missing."""
    s = values.astype("string").str.normalize("NFKC").str.translate(_t2s_table())
    s = s.str.replace(r"\s+", " ", regex=True).str.strip()
    return s.mask(s == "")
