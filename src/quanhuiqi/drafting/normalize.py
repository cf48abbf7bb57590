"""Reading clause files and normalising their text while keeping every character's origin.

Copied policy text carries full-width digits (``１２个月``), traditional characters, stray spaces
(``经营 2 年以上``), ``〔〕``/``（）``, circled numbers (``①``), pinyin glosses left by converters
(``專(zhuān)精``) and mojibake runs.  Recognisers run on one normalised string; each of its
characters remembers the index of the original character it came from, so a span found in the
normalised text is shown and quoted from the original (:meth:`Normalized.original_span`).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from quanhuiqi.tables.io import InputError, decode_bytes
from quanhuiqi.text import _t2s_table

_CIRCLED = {**{0x2460 + i: f"({i + 1})" for i in range(20)},      # ①..⑳
            **{0x2474 + i: f"({i + 1})" for i in range(20)},      # ⑴..⒇
            **{0x2488 + i: f"{i + 1}." for i in range(20)},       # ⒈..⒛
            **{0x3251 + i: f"({i + 21})" for i in range(15)},     # ㉑..㉟
            **{0x2776 + i: f"({i + 1})" for i in range(10)},      # ❶..❿
            **{0x2780 + i: f"({i + 1})" for i in range(10)},      # ➀..➉
            **{0x278A + i: f"({i + 1})" for i in range(10)}}      # ➊..➓  # fmt: skip
_DROP = {0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD}
# characters that do not occur in policy prose but do in decoding accidents: bopomofo, box drawing,
# private use, the replacement character, Latin letters with tone marks
_ODD = re.compile(r"[\u3100-\u312f\u2500-\u257f\ue000-\uf8ff\ufffd\u01cd-\u01dc\u0100-\u017f]")
_PINYIN_GLOSS = re.compile(r"\((?:[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,6})\)")
_ASCII_WORD = re.compile(r"[0-9A-Za-z]")
_MD_MARKUP = re.compile(r"(?m)^(?P<mark>[ \t]*(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+))|(?P<mark2>\*{1,3}|`+)")
_MD_LINK = re.compile(r"\[[^\]\n]{1,80}(?P<tail>\]\([^)\s]{1,300}\))")


@dataclass(frozen=True)
class Normalized:
    """``text``: the normalised string; ``origin[i]``: index in ``original`` of ``text[i]``."""

    original: str
    text: str
    origin: tuple[int, ...]
    garbled: tuple[tuple[int, int], ...] = ()  # spans of ``text`` that look like mojibake

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original characters behind ``text[start:end]`` (end exclusive)."""
        if end <= start:
            o = self.origin[start] if start < len(self.origin) else len(self.original)
            return o, o
        return self.origin[start], self.origin[end - 1] + 1

    def quote(self, start: int, end: int) -> str:
        a, b = self.original_span(start, end)
        return self.original[a:b]


def normalize_clause(original: str) -> Normalized:
    """NFKC, 繁→简, circled numbers → ``(n)``, pinyin glosses and spaces between words dropped."""
    t2s = _t2s_table()
    chars: list[str] = []
    origin: list[int] = []
    src = original.replace("\r\n", "\n").replace("\r", "\n") if "\r" in original else original
    # indices must refer to ``original``: rebuild a map when CRLF was folded
    idx_map = _crlf_index_map(original) if src is not original else None
    for i, c in enumerate(src):
        oi = idx_map[i] if idx_map is not None else i
        cp = ord(c)
        if cp in _DROP:
            continue
        rep = _CIRCLED.get(cp)
        if rep is None:
            rep = unicodedata.normalize("NFKC", c) if cp > 0x7F else c
            if len(rep) == 1:
                rep = t2s.get(ord(rep), rep)
            else:
                rep = "".join(t2s.get(ord(r), r) for r in rep)
        for r in rep:
            chars.append(r)
            origin.append(oi)
    text = "".join(chars)
    # pinyin glosses after a character (專(zhuān)精 → 专精)
    keep = [True] * len(text)
    for m in _PINYIN_GLOSS.finditer(text):
        if m.start() > 0 and _is_cjk(text[m.start() - 1]):
            for k in range(m.start(), m.end()):
                keep[k] = False
    # Markdown markup: headings (#), emphasis (* _ `), quotes (>) and bullets (- ) at a line start, links
    for m in _MD_MARKUP.finditer(text):
        g = "mark" if m.group("mark") is not None else "mark2"
        for k in range(m.start(g), m.end(g)):
            keep[k] = False
    for m in _MD_LINK.finditer(text):  # [text](url) → text
        keep[m.start()] = False
        for k in range(m.start("tail"), m.end()):
            keep[k] = False
    # spaces and tabs: kept only between two ASCII letters/digits (``ISO 9001``)
    for k, ch in enumerate(text):
        if ch in " \t\u3000\xa0":
            prev = text[k - 1] if k > 0 else ""
            nxt = text[k + 1] if k + 1 < len(text) else ""
            if not (_ASCII_WORD.match(prev or " ") and _ASCII_WORD.match(nxt or " ")):
                keep[k] = False
    text2 = "".join(ch for ch, k in zip(text, keep) if k)
    origin2 = tuple(o for o, k in zip(origin, keep) if k)
    return Normalized(original, text2, origin2, tuple(_garbled_runs(text2)))


def _crlf_index_map(original: str) -> list[int]:
    out = []
    i = 0
    while i < len(original):
        out.append(i)
        if original[i] == "\r" and i + 1 < len(original) and original[i + 1] == "\n":
            i += 2
        else:
            i += 1
    return out


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _garbled_runs(text: str) -> list[tuple[int, int]]:
    """Runs around characters that only decoding accidents produce (two odd characters within 6)."""
    hits = [m.start() for m in _ODD.finditer(text)]
    runs: list[tuple[int, int]] = []
    for h in hits:
        if runs and h - runs[-1][1] <= 6:
            runs[-1] = (runs[-1][0], h + 1)
        else:
            runs.append((h, h + 1))
    out = []
    for a, b in runs:
        n_odd = sum(1 for h in hits if a <= h < b)
        if n_odd >= 2 or text[a] == "\ufffd":
            q = max(text.rfind("?", max(0, a - 3), a), text.rfind("？", max(0, a - 3), a))
            if q >= 0:
                a = q
            out.append((a, b))
    return out


# ---- reading files ------------------------------------------------------------------------------

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text", "")


def decode_clause_bytes(data: bytes, source: str) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 — the tables'
    detection (:func:`quanhuiqi.tables.io.decode_bytes`).  A file with NUL bytes, or one that decodes as
    neither or not as Chinese text, is refused with the reason: a binary file is never read as text."""
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{source}: a binary file (NUL bytes), not a text clause")
    return decode_bytes(data, source)


def read_clause_file(path: str | Path) -> tuple[str, str]:
    """(text, encoding) of one clause file; InputError naming the file when it cannot be read."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    if not p.is_file():
        raise InputError(f"{p}: not a file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: unreadable ({exc.strerror})") from exc
    text, enc = decode_clause_bytes(data, str(p))
    return text, enc
