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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


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
    s = nfkc(values)
    need = pc.fill_null(pc.match_substring_regex(to_arrow(s), _traditional_class()), False)
    need_np = need.to_numpy(zero_copy_only=False)
    if need_np.any():
        s = s.copy()
        s[need_np] = s[need_np].str.translate(_t2s_table())
    s = squash_whitespace(s)
    return s.mask(s == "")


# --- text through pyarrow compute: pandas falls back to a Python loop for NFKC and for ``\s``.


# What ``str.isspace`` holds for in Unicode (tests check it against every code point): scanning all of
# Unicode here cost a quarter of a second at every start of the command line.
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def whitespace_chars() -> str:
    """Exactly the characters Python's ``str.isspace`` (``\\s``, ``str.strip()``) treats as whitespace."""
    return _WHITESPACE


@cache
def whitespace_class() -> str:
    """:func:`whitespace_chars` as an RE2 character class."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in whitespace_chars()) + "]"


def to_arrow(values: pd.Series) -> pa.Array:
    """The column as one pyarrow string array (missing → null)."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        arr = pa.array(values.array)  # already Arrow (``str`` or ``string``): no conversion pass
    else:
        arr = pa.array(values.astype("string"))
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def string_bytes(arr: pa.Array) -> np.ndarray:
    """The character bytes of a (large_)string array, straight from its buffer (no copy)."""
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    if bufs[2] is None or len(offsets) == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(bufs[2], dtype=np.uint8)[offsets[0] : offsets[-1]]


def printable_ascii(arr: pa.Array) -> bool:
    """Every character is printable ASCII other than space (``!`` … ``~``): NFKC changes nothing and
    there is no whitespace to trim (numbers, codes and ISO dates, usually).  Two fast reductions."""
    data = string_bytes(arr)
    return len(data) == 0 or bool(data.min() > 0x20 and data.max() < 0x7F)


def from_arrow(arr: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def strings_at(texts, codes: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """``texts[codes]`` as a ``string`` column (a negative code, or a ``None`` text, is missing), gathered in
    Arrow: a few distinct texts and an integer per row, never a Python object per row (an object array of a
    city's rows converted to ``string`` costs milliseconds a column)."""
    codes = np.asarray(codes, dtype=np.int64)
    table = pa.array(list(texts), type=pa.large_string())
    arr = table.take(pa.array(codes, mask=codes < 0)) if (codes < 0).any() else table.take(pa.array(codes))
    return from_arrow(arr, pd.RangeIndex(len(codes)) if index is None else index)


def nfkc(values: pd.Series) -> pd.Series:
    """NFKC over the whole column (full-width digits and letters → ASCII, ideographic space → space)."""
    return from_arrow(pc.utf8_normalize(to_arrow(values), form="NFKC"), values.index)


def squash_whitespace(values: pd.Series) -> pd.Series:
    """Runs of whitespace → one space, trimmed: ``re.sub(r"\\s+", " ", s).strip()`` for every cell."""
    ws = whitespace_class()
    arr = to_arrow(values)
    # cells that would change: whitespace at an end, two in a row, or any but the plain space;
    # names and titles mostly have none, so only those cells go through replace and trim
    other = "[" + whitespace_class()[1:].replace("\\x{20}", "", 1)
    need = pc.fill_null(pc.match_substring_regex(arr, f"^{ws}|{ws}$|{ws}{ws}|{other}"), False)
    n_need = pc.sum(need).as_py() or 0
    if n_need == 0:
        return from_arrow(arr, values.index)
    if n_need < len(arr):
        fixed = pc.utf8_trim(
            pc.replace_substring_regex(arr.filter(need), pattern=ws + "+", replacement=" "), characters=" "
        )
        return from_arrow(pc.replace_with_mask(arr, need, fixed), values.index)
    arr = pc.replace_substring_regex(arr, pattern=ws + "+", replacement=" ")
    return from_arrow(pc.utf8_trim(arr, characters=" "), values.index)
