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
    ("section", re.compile(r"(?<![^\n])(?:(?:奖励|补贴|资助|支持|扶持|补助|奖补|贴息)(?:标准|方式|额度)|资金支持|支持措施)[:：]|"
                           r"(?<![^\n])(?:注意事项|申报材料|申请材料|申报程序|申报流程|申报时间|办理流程)[:：]?")),
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


# what a part of a policy text is for: conditions (申报条件, 支持对象 — the default), what is paid
# (奖励标准, 支持方式 …: its conditions are tiers or restate the conditions) or how to apply
# (申报材料, 申报程序 …: no conditions at all)
BENEFIT_HEADING = re.compile(
    r"(?:奖励|补贴|资助|支持|扶持|补助|奖补|贴息|兑现|扶持资金)(?:标准|方式|额度|金额|措施|办法|内容)|资金支持|支持措施")
PROCEDURE_HEADING = re.compile(
    r"申报材料|申请材料|提交材料|所需材料|报送材料|申报程序|申报流程|申请程序|办理程序|办理流程|受理程序|申报时间|受理时间|"
    r"申报方式|受理部门|受理地点|联系方式|咨询电话|联系人|工作要求")
CONDITION_HEADING = re.compile(r"申报条件|申请条件|支持对象|申报对象|扶持对象|奖励对象|补贴对象|支持范围|适用对象|奖励条件|支持条件")


@dataclass(frozen=True)
class Section:
    """A part of the text headed by 申报条件 / 奖励标准 / 申报材料 …: ``kind`` conditions | benefit |
    procedure.  A bare heading (奖励标准：) runs to the next heading; a numbered one (二、申报材料) to
    the next item at its depth or above."""

    start: int
    end: int
    kind: str
    heading: str


def heading_kind(text: str) -> str | None:
    """The kind of section a heading names (its first words, after the item marker), or None."""
    head = re.sub(r"^[\s:：]+", "", text)[:12]
    for kind, rx in (("procedure", PROCEDURE_HEADING), ("benefit", BENEFIT_HEADING), ("conditions", CONDITION_HEADING)):
        m = rx.match(head)
        if m and re.match(r"\s*(?:[:：]|$|\n|及|和|与)", head[m.end():] or ""):
            return kind
    return None


def sections(text: str, its: list[Item] | None = None) -> list[Section]:
    """The sections of a clause in reading order (text before any heading is conditions)."""
    its = items(text) if its is None else its
    heads: list[tuple[int, int, str, str, int]] = []  # start, own end, kind, heading, depth
    for it in its:
        own = text[it.start + len(it.marker) if it.depth >= 0 else it.start : it.end]
        kind = heading_kind(own if it.depth >= 0 else it.marker + own)
        if kind is None:
            continue
        line_end = text.find("\n", it.start)
        heads.append((it.start, it.end, kind, text[it.start : line_end if line_end >= 0 else it.end].strip()[:20],
                      it.depth))
    out: list[Section] = []
    for k, (a, _, kind, heading, depth) in enumerate(heads):
        if depth >= 0:  # a numbered heading: up to the next item at its depth or above, or a bare heading
            nxt = [i.start for i in its if i.start > a and i.depth <= depth]
        else:  # a bare heading: up to the next bare heading (numbered ones inside it are its parts)
            nxt = [h[0] for h in heads[k + 1 :] if h[4] < 0]
        out.append(Section(a, min(nxt) if nxt else len(text), kind, heading))
    return out


def section_at(secs: list[Section], pos: int) -> str:
    """The kind of the innermost section holding ``pos`` (conditions when none)."""
    kind = "conditions"
    for s in secs:
        if s.start <= pos < s.end:
            kind = s.kind
    return kind


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
