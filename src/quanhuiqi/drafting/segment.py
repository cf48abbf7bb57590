"""Splitting a normalised clause into numbered items and sentences.

Policy texts number their conditions with a few marker styles: 第一条, 一、, (一), 1. / 1、, (1),
1), and circled numbers (normalised to ``(1)``).  A style's depth is the order in which styles first
appear (the usual drafting convention), so ``第二条 (一) 1.`` is the label of the item a sentence
belongs to.  Sentences end at 。；; and at hard line breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CN_NUM = "一二三四五六七八九十百零〇两"
_MARKERS = [
    ("section", re.compile(r"(?<![^\n])(?:奖励|补贴|资助|支持|扶持|补助|奖补)(?:标准|方式|额度)[:：]|(?<![^\n])(?:注意事项|申报材料|申报程序|申报时间)[:：]?")),
    ("article", re.compile(rf"第[{CN_NUM}\d]+条")),
    ("cn_paren", re.compile(rf"[(\[〔【][{CN_NUM}]+[)\]〕】]")),
    ("cn_dun", re.compile(rf"(?<![{CN_NUM}\w])[{CN_NUM}]{{1,3}}、")),
    ("num_paren", re.compile(r"[(\[〔【]\d{1,2}[)\]〕】]")),
    ("num_dot", re.compile(r"(?<![\d.])\d{1,2}(?:\.(?!\d)|、|\.(?=\d+[^\d.%]))")),
    ("num_half", re.compile(r"(?<![\d(])\d{1,2}\)")),
]
# a marker counts only at a line start or after sentence punctuation / a colon
_BEFORE_OK = set("\n。;:!?；：！？") | {""}
_SENT_END = re.compile(r"[。;!?！？]|\n")


@dataclass(frozen=True)
class Item:
    """A numbered item: ``label`` is the chain of markers above and at it (``第二条(一)1``)."""

    start: int
    end: int
    label: str
    marker: str  # the marker text itself ('' for the text before any marker)
    depth: int


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    item: Item


def find_markers(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, style, marker text) of every item marker in reading order."""
    found: list[tuple[int, int, str, str]] = []
    taken = [False] * (len(text) + 1)
    for style, rx in _MARKERS:
        for m in rx.finditer(text):
            a, b = m.start(), m.end()
            prev = _prev_nonspace(text, a)
            if prev not in _BEFORE_OK and not (style == "article"):
                continue
            if style == "num_dot" and m.group().endswith(".") is False and not m.group().endswith("、"):
                # '1.2' style: only the leading number when followed by more digits (1.2 第一款)
                continue
            if any(taken[a:b]):
                continue
            for k in range(a, b):
                taken[k] = True
            found.append((a, b, style, m.group()))
    found.sort()
    return found


def _prev_nonspace(text: str, i: int) -> str:
    j = i - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    return text[j] if j >= 0 else ""


def items(text: str) -> list[Item]:
    """Numbered items covering the whole text (the text before the first marker is an item too)."""
    marks = find_markers(text)
    depth_of: dict[str, int] = {"section": -1}  # a section heading (奖励标准：) closes every item before it
    for _, _, style, _ in marks:
        depth_of.setdefault(style, len(depth_of) - 1)
    out: list[Item] = []
    chain: list[str] = []
    pos = 0
    if not marks or marks[0][0] > 0:
        out.append(Item(0, marks[0][0] if marks else len(text), "", "", -1))
    for k, (a, _b, style, mark) in enumerate(marks):
        d = depth_of[style]
        if d < 0:
            chain = []
            end = marks[k + 1][0] if k + 1 < len(marks) else len(text)
            out.append(Item(a, end, _short(mark).rstrip(":："), mark, -1))
            continue
        chain = chain[:d] + [""] * max(0, d - len(chain))
        chain.append(_short(mark))
        end = marks[k + 1][0] if k + 1 < len(marks) else len(text)
        out.append(Item(a, end, "".join(c for c in chain if c), mark, d))
        pos = end
    del pos
    return out


def _short(mark: str) -> str:
    m = mark.strip()
    if m.endswith("、") or (m.endswith(".") and not m.startswith("(")):
        m = m[:-1]
    return m.replace("[", "(").replace("]", ")").replace("〔", "(").replace("〕", ")").replace(
        "【", "(").replace("】", ")")


def sentences(text: str, its: list[Item] | None = None) -> list[Sentence]:
    """Sentences inside items (an item boundary always ends a sentence)."""
    its = items(text) if its is None else its
    out: list[Sentence] = []
    for it in its:
        a = it.start
        for m in _SENT_END.finditer(text, it.start, it.end):
            b = m.end()
            if text[a:b].strip(" \n。;；"):
                out.append(Sentence(a, b, it))
            a = b
        if a < it.end and text[a : it.end].strip(" \n。;；"):
            out.append(Sentence(a, it.end, it))
    return out


def children_of(its: list[Item], parent: Item) -> list[Item]:
    """The items directly below ``parent`` (the next depth inside its span)."""
    inside = [i for i in its if parent.start < i.start < _extent(its, parent) and i.depth > parent.depth]
    if not inside:
        return []
    top = min(i.depth for i in inside)
    return [i for i in inside if i.depth == top]


def _extent(its: list[Item], parent: Item) -> int:
    """Where ``parent``'s subtree ends: the next item at its depth or above."""
    after = [i.start for i in its if i.start > parent.start and i.depth <= parent.depth and i.depth >= 0]
    return min(after) if after else max(i.end for i in its)


def extent(its: list[Item], parent: Item) -> int:
    return _extent(its, parent)
