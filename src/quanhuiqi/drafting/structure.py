"""From recognised spans to a condition tree: ``all`` / ``any`` / ``not`` from the words of the text.

- Numbered items are conjoined; an item whose own text says 之一 (符合下列条件之一) takes ``any`` over
  its sub-items (or over the ;-separated parts after 之一 when it has none).
- Inside an item, hits joined by 或 form an ``any``; 且 / 并 / 同时 / a comma keep ``all``.
- Parametric rules — '若为工业企业，营业收入不超过4亿元；若为其他企业，不超过1亿元', '销售收入小于
  3000万元的企业，比例不低于5%，…' — become ``any`` of ``all(head, then)`` branches; an unconditional
  bound on the same figure just before them ('裁员率不高于5.5%，30人以下的参保企业裁员率不高于20%')
  is one more branch.
- Amount tiers (…的，奖励50万元；…的，奖励100万元): what all tiers share is a gate, a figure that
  differs between tiers gates at its loosest value, and the tiers go to ``benefit.tiers``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from quanhuiqi.drafting.recognize import Hit
from quanhuiqi.drafting.scope import NEGATIVE_HEAD
from quanhuiqi.drafting.segment import Item, sections

_AWARD = re.compile(
    r"(?:给予|奖励|补贴|资助|补助|扶持|贴息|返还|奖补)(?!标准|对象|范围|条件|办法)[^,;。:]{0,14}?(?P<n>\d+(?:\.\d+)?)(?P<u>万元|亿元|元)(?![的以])"
    r"|(?P<n2>\d+(?:\.\d+)?)(?P<u2>万元|亿元)(?:的)?(?:一次性)?(?:奖励|补贴|资助|补助|扶持|落户奖励|入统奖励)"
)
_OR = re.compile(r"或(?!以上|以下|者以上)|或者")
_AND_BREAK = re.compile(r"[,;。]\s*(?:且|并|同时|还须|还应|另须)|且|并且|同时")
_HEAD_END = re.compile(r"的(?:[\u4e00-\u9fff]{0,8}?)(?:企业|单位|机构)$")
_HEAD_START = re.compile(r"(?:若为|若是|如为|如果|如属)|^(?:[\d.、()]*)(?:申报单位|申报企业|企业|申请人)?(?:若|对于|属于)")
_OTHER = re.compile(r"其他(?:类型|类|行业)?(?:的)?(?:企业|单位)")
_CLASS = r"(?:中小微企业|小微企业|中小企业|小型微型企业|大型企业|中型企业|个体工商户|农民专业合作社|企业)"
_QUALIFIED_CLASSES = re.compile(rf"(?P<q1>[^,;。:\n的]{{2,30}})的(?P<c1>{_CLASS})(?:和|以及|及|与|或者?)(?P<q2>[^,;。:\n的]{{2,30}})的(?P<c2>{_CLASS})")
# what a '…的，' head may set instead of gating: the term or the cap of the benefit (a rate or an amount
# per head is a tier, read by TreeBuilder._tiers)
_SETS_TERMS = re.compile(r"(?:其)?(?:补贴|补助|奖励|贴息|支持|资助|扶持|享受)?(?:期限|年限|期)(?:可)?(?:最长|最多|延长|放宽|为)|"
                         r"(?:补贴|补助|奖励|贴息|支持|资助)?(?:上限|封顶)(?:可)?(?:提高|上浮|放宽|为)")


def _head_end(text: str, pos: int) -> int:
    """Past the '的，' (or '的企业，') that closes a head ending at or just after ``pos``; ``pos`` when none."""
    m = re.match(r"[^,;。\n]{0,8}?的(?:企业|单位)?[,]", text[pos : pos + 14])
    return pos + m.end() if m else pos


_ONE_OF = re.compile(r"(?:之一|任一|其中一项|其中之一)")


@dataclass
class Node:
    """``op`` all | any | not, or ``leaf`` holding one hit."""

    op: str
    children: list[Node] = field(default_factory=list)
    hit: Hit | None = None
    note: str = ""

    @staticmethod
    def leaf(h: Hit) -> Node:
        node = Node("leaf", hit=h)
        return Node("not", [node]) if h.extra.get("not") else node

    def leaves(self):
        if self.op == "leaf":
            yield self
        for c in self.children:
            yield from c.leaves()


_RATE_AWARD = re.compile(
    r"(?:返还|奖励|补贴|给予|奖补|补助|资助|扶持)[^;。,]{0,24}?\d+(?:\.\d+)?%|\d+(?:\.\d+)?%(?:的比例)?(?:予以|给予)?"
    r"(?:返还|奖励|补贴|奖补|补助|资助|扶持|贴息)|\d+(?:\.\d+)?%(?:的比例)?(?:予以|给予)支持|"
    r"(?:返还|补贴|奖励|资助|支持|补助)(?:比例|标准)(?:为|提高至|提高到|上浮至|上调至)\d+(?:\.\d+)?%"
)
# the words of a paying stretch that name no condition of its own (对符合条件的企业，给予…; 按研发投入的10%给予补助)
_UNCONDITIONAL_PAY = re.compile(r"符合(?:上述|以上|本办法|本政策|相关|申报)?(?:条件|要求)")
_OWN_CONDITION = re.compile(r"对[^,;。]*?的|[^,;。]的(?:[,，]|$)")
_CAP_ONLY = re.compile(r"^[^,;。]*(?:最高|不超过|上限|封顶|累计|最多)[^,;。]*[,;。\n]?$")


def _pays_everyone(unit: str) -> bool:
    """A paying stretch with no condition of its own: 对符合条件的企业给予…, 按研发投入的10%给予补助
    (not a bonus, and not a cap such as 每家企业最高不超过200万元)."""
    last = re.split(r"(?<=[,;。\n])", unit.rstrip(",;。\n"))[-1]
    if _BONUS.search(unit) or (_CAP_ONLY.match(last) and not re.search(r"给予|予以|按(?:照)?", last)):
        return False
    return bool(_UNCONDITIONAL_PAY.search(unit)) or not _OWN_CONDITION.search(unit)


_BONUS = re.compile(r"再(?:一次性)?给予|另(?:行)?给予|额外给予|追加|提高至|提高到|上浮|上调至|增加至|翻倍")


def is_award(sentence: str) -> bool:
    """The sentence pays something: an amount or a rate (…的30%返还, 返还比例为60%)."""
    return award_amount(sentence) is not None or _RATE_AWARD.search(sentence) is not None


def award_amount(sentence: str) -> float | None:
    m = _AWARD.search(sentence)
    if not m:
        return None
    n, u = (m.group("n"), m.group("u")) if m.group("n") else (m.group("n2"), m.group("u2"))
    v = float(n)
    return v * 10000 if u == "亿元" else (v / 10000 if u == "元" else v)


class TreeBuilder:
    """Builds the tree for one clause; ``tiers`` collects amount tiers found on the way."""

    def __init__(self, text: str, items: list[Item], hits: list[Hit]):
        self.text = text
        self.items = items
        hits = join_side_by_side(text, merge_lists(text, [h for h in hits if h.role == "cond"]))
        # the 奖励标准 section restates who gets what: a condition it repeats from the 申报条件 is no new gate
        benefit = [(s.start, s.end) for s in sections(text, items) if s.kind == "benefit"]
        if benefit:
            def in_benefit(h: Hit) -> bool:
                return any(a <= h.start < b for a, b in benefit)
            stated = {_repeat_key(h) for h in hits if not in_benefit(h)}
            for h in hits:  # a repeat says who is paid (everyone who qualifies); it is no new gate
                if in_benefit(h) and _repeat_key(h) in stated:
                    h.extra["repeat"] = True
        for h in hits:  # 职工人数在100人以上的，补贴期限最长3年: the figure sets a term of the benefit, no gate
            if h.atom.get("op") in ("ge", "gt", "le", "lt") and _SETS_TERMS.match(text, _head_end(text, h.end)):
                h.extra["sets_terms"] = True
        self.hits = hits
        self.benefit = benefit
        self.tiers: list[dict[str, Any]] = []
        self.notes: list[str] = []

    # ---- items -------------------------------------------------------------------------------
    def build(self) -> Node:
        roots = self._item_tree()
        node = Node("all", [self._item_node(it, kids) for it, kids in roots])
        return simplify(node)

    def _item_tree(self) -> list[tuple[Item, list]]:
        stack: list[tuple[Item, list]] = []
        roots: list[tuple[Item, list]] = []
        for it in self.items:
            entry: tuple[Item, list] = (it, [])
            while stack and stack[-1][0].depth >= it.depth:
                stack.pop()
            (stack[-1][1] if stack else roots).append(entry)
            stack.append(entry)
        return roots

    def _own_end(self, it: Item, kids: list) -> int:
        return kids[0][0].start if kids else it.end

    def _item_node(self, it: Item, kids: list) -> Node:
        own_end = it.end  # items are contiguous: an item's own text ends where the next marker starts
        own = [h for h in self.hits if it.start <= h.start < own_end]
        own_text = self.text[it.start : own_end]
        child_nodes = [self._item_node(k, kk) for k, kk in kids]
        one_of = _ONE_OF.search(own_text) if not NEGATIVE_HEAD.search(own_text) else None  # none of them
        if one_of and child_nodes:
            pre = [h for h in own if h.start < it.start + one_of.start()]
            rest = [h for h in own if h.start >= it.start + one_of.start()]
            branches = [c for c in child_nodes if list(c.leaves())]
            empty = len(child_nodes) - len(branches)
            anynode = Node("any", branches, note=f"{empty} alternative(s) left as todo" if empty else "")
            return Node("all", [self._sequence(pre, it.start, it.start + one_of.start()), anynode,
                                self._sequence(rest, it.start + one_of.start(), own_end)])
        if one_of and not child_nodes:
            a = it.start + one_of.end()
            pre = [h for h in own if h.start < a]
            parts = [(m.start() + a, m.end() + a) for m in re.finditer(r"[^;。]+", self.text[a:own_end])]
            branches = []
            empty = 0
            for pa, pb in parts:
                hs = [h for h in own if pa <= h.start < pb]
                if hs:
                    branches.append(self._sequence(hs, pa, pb))
                elif self.text[pa:pb].strip(" ,\n"):
                    empty += 1
            if len(branches) >= 2 or (branches and empty):
                anynode = Node("any", branches, note=f"{empty} alternative(s) left as todo" if empty else "")
                return Node("all", [self._sequence(pre, it.start, a), anynode])
        if len(kids) >= 2 and all(self._keyed_by_industry(k) for k, _ in kids):
            # 1.涉及…产业：…；2.其他先进制造业：…；3.建筑业：… — one rule per industry: alternatives
            return Node("all", [self._sequence(own, it.start, own_end), Node("any", child_nodes)])
        bands = self._band_items(kids) if len(kids) >= 2 else None
        if bands is not None:
            # (一)营业收入5亿元以下的企业，比例不低于3%；(二)5亿元(含)以上的企业，比例不低于2% — one
            # rule over bands of a figure, an item per band: alternatives with edges that do not overlap
            _exclusive_bands(bands, self.text)
            return Node("all", [self._sequence(own, it.start, own_end), Node("any", bands)])
        if len(kids) >= 2 and all(is_award(self.text[k.start : _subtree_end(k, kk)]) for k, kk in kids) and \
                not any(kk for _, kk in kids):
            # 1.…的批发企业，…予以奖励；2.…的零售企业，…予以奖励 — each numbered case pays on its own
            # conditions: they are tiers read together (what they share gates, the rest sets the amount)
            end = _subtree_end(it, kids)
            return self._sequence([h for h in self.hits if it.start <= h.start < end], it.start, end)
        return Node("all", [self._sequence(own, it.start, own_end), *child_nodes])

    def _band_items(self, kids: list) -> list[Node] | None:
        """Sibling items that each open with a head bounding one figure ('…5亿元以下的企业，…'):
        the branches (head, then) of a parametric rule, or None."""
        branches = []
        fields = set()
        for k, kk in kids:
            if kk:
                return None
            own = [h for h in self.hits if k.start <= h.start < k.end]
            segs = self._segments(own, k.start, k.end)
            if len(segs) < 2 or not segs[0]["head"]:
                return None
            head = [h for h in segs[0]["hits"] if h.atom.get("op") in ("ge", "gt", "le", "lt")]
            if not head:
                return None
            fields.add(frozenset(h.field for h in head))
            then = [h for sg in segs[1:] for h in sg["hits"]]
            if not then:
                return None
            branches.append(Node("all", [Node("all", [Node.leaf(h) for h in segs[0]["hits"]]), self._or_groups(then)]))
        return branches if len(fields) == 1 else None

    def _in_benefit(self, pos: int) -> bool:
        return any(a <= pos < b for a, b in self.benefit)

    def _keyed_by_industry(self, it: Item) -> bool:
        colon = self.text.find(":", it.start, min(it.end, it.start + 60))
        if colon < 0:
            return False
        return any(it.start <= h.start < colon and h.kind in ("industry_scope", "industry_list") for h in self.hits)

    # ---- inside an item -----------------------------------------------------------------------
    def _sequence(self, hits: list[Hit], a: int, b: int) -> Node:
        """Hits of one stretch of text: tiers, parametric branches, 或-groups, the rest conjoined."""
        if not hits:
            return Node("all")
        hits = sorted(hits, key=lambda h: h.start)
        hits, tier_node = self._tiers(hits, a, b)
        hits = [h for h in hits if not h.extra.get("repeat") and not h.extra.get("sets_terms")]
        pair = self._qualified_classes(hits, a, b)
        if pair is not None:
            (s1, e1), (s2, e2) = pair
            one = [h for h in hits if s1 <= h.start < e1]
            two = [h for h in hits if s2 <= h.start < e2]
            rest = [h for h in hits if not (s1 <= h.start < e1 or s2 <= h.start < e2)]
            node = Node("any", [self._or_groups(one), self._or_groups(two)])
            parts = [node] + ([self._sequence(rest, a, b)] if rest else [])
            return Node("all", parts + ([tier_node] if tier_node is not None else []))
        segs = self._segments(hits, a, b)
        nodes: list[Node] = []
        i = 0
        while i < len(segs):
            seg = segs[i]
            if seg["head"] and seg["hits"] is not None and i + 1 < len(segs) and not segs[i + 1]["head"] \
                    and segs[i + 1]["hits"]:
                branches = []
                prev_industry: list[Hit] = []
                while i < len(segs) and segs[i]["head"]:
                    head = segs[i]
                    then: list[Hit] = []
                    j = i + 1
                    while j < len(segs) and not segs[j]["head"]:
                        then += segs[j]["hits"]
                        j += 1
                        if segs[j - 1]["end_sentence"]:
                            break  # a branch's figures end with its sentence
                    head_hits = list(head["hits"])
                    if not head_hits and _OTHER.search(head["text"]) and prev_industry:
                        head_hits = [_negated(h) for h in prev_industry]
                    if not then:
                        nodes.append(self._or_groups(head_hits))
                        i = j
                        break
                    branches.append(Node("all", [self._or_groups(head_hits), self._or_groups(then)]))
                    prev_industry = [h for h in head_hits if h.field == "industry_code"] or prev_industry
                    i = j
                if len(branches) == 1:
                    fields = {lf.hit.field for lf in branches[0].children[1].leaves()
                              if lf.hit.atom.get("op") in ("ge", "gt", "le", "lt")}
                    prior = [n for n in nodes if any(lf.hit.field in fields for lf in n.leaves())]
                    if prior:
                        last = prior[-1]
                        nodes.remove(last)
                        nodes.append(Node("any", [last, branches[0]]))
                    else:
                        nodes.append(branches[0])
                elif branches:
                    _exclusive_bands(branches, self.text)
                    nodes.append(Node("any", branches))
                continue
            nodes.append(self._or_groups(seg["hits"]))
            i += 1
        if tier_node is not None:
            nodes.append(tier_node)
        return Node("all", nodes)

    def _qualified_classes(self, hits: list[Hit], a: int, b: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """'年营业收入2000万元以下的小微企业和年营业收入500万元以下的个体工商户': two classes of applicant,
        each with its own bound, joined by 和/及/或 — each class with its bound is one alternative (both at
        once holds for no one).  The two stretches, or None."""
        m = _QUALIFIED_CLASSES.search(self.text, a, b)
        if m is None:
            return None
        s1, e1, s2, e2 = m.start("q1"), m.end("c1"), m.start("q2"), m.end("c2")

        def bounded(x: int, y: int) -> bool:
            return any(x <= h.start < y and h.atom.get("op") in ("ge", "gt", "le", "lt") for h in hits)

        return ((s1, e1), (s2, e2)) if bounded(s1, m.start("c1")) and bounded(s2, m.start("c2")) else None

    def _segments(self, hits: list[Hit], a: int, b: int) -> list[dict[str, Any]]:
        """Cut the stretch at , ; 。 and after a '…的企业' head that a figure follows directly."""
        cuts = [a]
        for m in re.finditer(r"[,;。:\n]", self.text[a:b]):
            cuts.append(a + m.end())
        for m in re.finditer(r"的[\u4e00-\u9fff]{0,8}?(?:企业|单位)", self.text[a:b]):
            e = a + m.end()
            if e < b and self.text[e] not in ",;。:\n或和及与、" and any(
                    e <= h.start < e + 8 and h.atom.get("op") in ("ge", "gt", "le", "lt") for h in hits):
                cuts.append(e)
        cuts = sorted(set(cuts + [b]))
        segs = []
        for s, e in zip(cuts, cuts[1:]):
            txt = self.text[s:e]
            core = txt.rstrip(",;。:\n ")
            hs = [h for h in hits if s <= h.start < e]
            ends = txt.endswith(("。", ";", "\n"))
            head = not ends and bool(_HEAD_START.search(core) or (_HEAD_END.search(core) and (hs or _OTHER.search(core))))
            segs.append({"hits": hs, "head": head, "text": core, "end_sentence": txt.endswith(("。", ";", "\n"))})
        kept: list[dict[str, Any]] = []
        for sg in segs:
            if kept and sg["hits"] and not sg["head"] and not kept[-1]["head"] and not kept[-1]["end_sentence"] \
                    and re.match(r"\s*(?:或者?|或是)(?!以上|以下)", sg["text"]):
                # '研发投入不低于1000万元，或研发投入占比不低于5%': the alternative after the comma joins
                kept[-1] = {**kept[-1], "hits": kept[-1]["hits"] + sg["hits"], "end_sentence": sg["end_sentence"]}
                continue
            if sg["hits"] or sg["head"]:
                kept.append(sg)
            elif kept and sg["end_sentence"]:
                kept[-1]["end_sentence"] = True  # the sentence ends after a stretch without figures
        return kept

    def _or_groups(self, hits: list[Hit]) -> Node:
        """Consecutive hits with 或 between them (and no 且/并) form an any.  An event riding on a
        certification (新认定 … 瞪羚企业) travels with it as one unit."""
        if not hits:
            return Node("all")
        by_id = {id(h): h for h in hits}
        riders: dict[int, list[Hit]] = {}
        units: list[Hit] = []
        for h in hits:
            host = h.extra.get("with")
            if host in by_id:
                riders.setdefault(host, []).append(h)
            else:
                units.append(h)
        units.sort(key=lambda h: h.start)

        def node_of(h: Hit) -> Node:
            r = riders.get(id(h))
            return Node("all", [Node.leaf(h)] + [Node.leaf(x) for x in r]) if r else Node.leaf(h)

        if not units:
            return Node("all")
        groups: list[list[Hit]] = [[units[0]]]
        for prev, h in zip(units, units[1:]):
            between = self.text[prev.end : h.start]
            comparable = h.field == prev.field or h.kind == prev.kind or len(between.strip(" ()")) <= 8
            neither = prev.extra.get("excluded") and h.extra.get("excluded")  # 未列入A或B: neither A nor B
            # designations listed together (获得国家级小巨人、省级专精特新等称号): any of them qualifies
            listed = (prev.kind == h.kind == "certification_held" or {prev.kind, h.kind} == {"size_class", "entity_type"}) \
                and re.fullmatch(r"[、和及与/]|或者?", between.strip())
            if (_OR.search(between) or listed) and not _AND_BREAK.search(between) and len(between) <= 20 and comparable \
                    and not neither:
                groups[-1].append(h)
            else:
                groups.append([h])
        nodes = [Node("any", [node_of(h) for h in g]) if len(g) > 1 else node_of(g[0]) for g in groups]
        return Node("all", nodes)

    def _tiers(self, hits: list[Hit], a: int, b: int) -> tuple[list[Hit], Node | None]:
        """Stretches that pay an amount or a rate: their own conditions are tiers, not gates.

        A tier is the text up to and including a paying phrase (…的，奖励50万元；…的，奖励100万元;
        大型企业按…30%返还，中小微企业返还比例为60%)."""
        units: list[tuple[int, int]] = []
        start = a
        for m in re.finditer(r"[^,;。\n]+[,;。\n]?", self.text[a:b]):
            s, e = a + m.start(), a + m.end()
            if is_award(self.text[s:e]):
                units.append((start, e))
                start = e
            elif self.text[e - 1 : e] in ("。", "\n", ";"):
                start = e  # a tier is the sentence that pays
        tiers = []
        unconditional = False
        for s, e in units:
            amount = award_amount(self.text[s:e])
            said = [h for h in hits if s <= h.start < e]
            hs = [h for h in said if not h.extra.get("repeat")]
            if hs:
                tiers.append((amount, hs, (s, e)))
            elif said or _pays_everyone(self.text[s:e]):
                unconditional = True  # pays on the conditions already stated, or on none of its own
        if unconditional and tiers:
            # '对符合条件的企业，给予10万元；其中营业收入超过1亿元的，再给予…': someone is paid without the
            # conditions of the other paying stretches — they set the amount, they gate nothing
            self.notes.append("a paying stretch without conditions of its own: the others' conditions are tiers, "
                              "not gates")
            for amount, hs, _ in tiers:
                if amount is not None and len(hs) == 1 and isinstance(hs[0].atom.get("value"), int | float):
                    self.tiers.append({"amount": amount, "when": dict(hs[0].atom), "_hit": hs[0]})
            in_tier = {id(h) for _, hs, _ in tiers for h in hs}
            return [h for h in hits if id(h) not in in_tier], None
        if len(tiers) < 2:
            return hits, None
        # 首次突破 in tiers: each tier is its own first crossing, which no single gate says; the gate keeps
        # the bounds and the crossings are left to the officer (they come back as todos)
        crossing = [h for _, hs, _ in tiers for h in hs if h.atom.get("agg") == "max"]
        if crossing:
            tiers = [(a, [h for h in hs if h.atom.get("agg") != "max"], se) for a, hs, se in tiers]
            tiers = [t for t in tiers if t[1]]
            hits = [h for h in hits if h.atom.get("agg") != "max"]
            self.notes.append("首次突破 tiers: each tier is a first crossing of its own bound — encode it per tier")
        in_tier = {id(h) for _, hs, _ in tiers for h in hs}
        rest = [h for h in hits if id(h) not in in_tier]
        keys = [{_key(h) for h in hs} for _, hs, _ in tiers]
        common = set.intersection(*keys)
        gate: list[Hit] = []
        seen = set()
        for _, hs, _ in tiers:
            for h in hs:
                if _key(h) in common and _key(h) not in seen:
                    gate.append(h)
                    seen.add(_key(h))
        varying = [[h for h in hs if _key(h) not in common] for _, hs, _ in tiers]
        add_on = [_BONUS.search(self.text[s:e]) is not None for _, _, (s, e) in tiers]
        if any(add_on):  # '…的，再给予20万元': a bonus on top, its conditions gate nothing
            varying = [v for v, extra in zip(varying, add_on) if not extra] or [[]]
            self.notes.append("a bonus tier (再给予…) is left out of the gate")
        by_field = {(h.field, h.atom.get("op")) for v in varying for h in v}
        fields_only = {f for f, _ in by_field}
        if all(len(v) == 1 for v in varying) and len(fields_only) == 1 and varying[0] and not isinstance(
                varying[0][0].atom.get("value"), int | float):
            fld = next(iter(fields_only))
            self.notes.append(f"amount tiers differ by {fld}: each qualifies, the tier sets the amount")
            return rest, Node("all", [Node.leaf(h) for h in gate])
        band = _band_union(varying)
        if band is not None and len(by_field) > 1:
            # 1000万元(含)至3000万元的 …；3000万元以上的 …: bands that meet — the gate is their union
            gate += band
            return rest, Node("all", [Node.leaf(h) for h in gate])
        if all(len(v) == 1 for v in varying) and len(by_field) == 1:
            fld, op = next(iter(by_field))
            vals = [v[0] for v in varying]
            if op in ("ge", "gt") and all(isinstance(h.atom.get("value"), int | float) for h in vals):
                loosest = min(vals, key=lambda h: h.atom["value"])
                gate.append(loosest)
                for (amount, _, _), v in zip(tiers, vals):
                    if amount is not None:
                        self.tiers.append({"amount": amount, "when": dict(v.atom), "_hit": v})
            elif op in ("eq", "in", "ne", "not_in") and not isinstance(vals[0].atom.get("value"), int | float):
                self.notes.append(f"amount tiers differ by {fld}: each qualifies, the tier sets the amount")
            else:
                gate_any = Node("any", [Node.leaf(h) for h in vals])
                return rest, Node("all", [Node.leaf(h) for h in gate] + [gate_any])
        elif any(varying) and all(varying):
            branches = [Node("all", [Node.leaf(h) for h in v]) for v in varying]
            return rest, Node("all", [Node.leaf(h) for h in gate] + [Node("any", branches)])
        return rest, Node("all", [Node.leaf(h) for h in gate])


def _band_union(varying: list[list[Hit]]) -> list[Hit] | None:
    """Tiers that differ only by bounds on one figure and together cover one unbroken range: the
    hits that bound that range (the lowest lower bound, the highest upper bound, when bounded), else
    None."""
    sig = None
    bands: list[tuple[Hit | None, Hit | None]] = []
    for v in varying:
        if not v or len(v) > 2:
            return None
        lo = hi = None
        for h in v:
            a = h.atom
            if a.get("op") not in ("ge", "gt", "le", "lt") or not isinstance(a.get("value"), int | float):
                return None
            key = json.dumps({k: x for k, x in a.items() if k not in ("op", "value")}, sort_keys=True)
            if sig not in (None, key):
                return None
            sig = key
            if a["op"] in ("ge", "gt"):
                lo = h
            else:
                hi = h
        bands.append((lo, hi))
    bands.sort(key=lambda b: -float("inf") if b[0] is None else b[0].atom["value"])
    reach = bands[0][1]  # the highest upper bound reached so far (None: unbounded above)
    for lo, hi in bands[1:]:
        if reach is None:
            break
        if lo is not None and (lo.atom["value"] > reach.atom["value"] or (
                lo.atom["value"] == reach.atom["value"] and lo.atom["op"] == "gt" and reach.atom["op"] == "lt")):
            return None  # a gap between two bands
        if hi is None or hi.atom["value"] > reach.atom["value"]:
            reach = hi
    lows = [lo for lo, _ in bands]
    out = [] if any(lo is None for lo in lows) else [min(lows, key=lambda h: (h.atom["value"], h.atom["op"] == "gt"))]
    return out + ([reach] if reach is not None else [])


def _subtree_end(it: Item, kids: list) -> int:
    return max([it.end] + [_subtree_end(k, kk) for k, kk in kids])


_LIST_SEP = re.compile(r"^[、和及与/]?$|^(?:、|和|及|与|或)$")


def merge_lists(text: str, hits: list[Hit]) -> list[Hit]:
    """'制造业和建筑业企业', '批发业(51)和零售业(52)、住宿业(61)': industries named in one list are one
    atom over their union (so are certifications listed with 、 and 或)."""
    hits = sorted(hits, key=lambda h: (h.start, h.end))
    out: list[Hit] = []
    for h in hits:
        prev = out[-1] if out else None
        if prev is not None and prev.kind == h.kind and h.kind in ("industry_scope", "industry_exclusion") \
                and prev.atom.get("op") == h.atom.get("op") and h.start >= prev.end:
            between = text[prev.end : h.start].strip(" ()")
            if _LIST_SEP.match(between) or re.fullmatch(r"[)]?[、和及与或]", between):
                vals = list(dict.fromkeys(list(prev.atom["value"]) + list(h.atom["value"])))
                prev.atom = {**prev.atom, "value": vals}
                prev.end = h.end
                continue
        out.append(h)
    return out


def join_side_by_side(text: str, hits: list[Hit]) -> list[Hit]:
    """'规模以上工业企业和限额以上批发零售企业': two industries named side by side in one phrase, joined by
    和/及/与/、 with only a qualifier between, are the kinds of enterprise the text admits — one scope over
    their union (a conjunction of two industries holds for no enterprise)."""
    inds = [h for h in hits if h.kind == "industry_scope" and h.atom.get("op") == "under"
            and set(h.atom) == {"field", "op", "value"}]
    drop: set[int] = set()
    for a, b in zip(inds, inds[1:]):
        if id(a) in drop:
            continue
        between = text[a.end : b.start]
        if len(between) > 12 or re.search(r"[,;。:\n]", between) or not re.match(r"(?:以及|和|及|与|、)", between):
            continue
        va, vb = [str(x) for x in a.atom["value"]], [str(x) for x in b.atom["value"]]
        if any(_code_within(x, y) or _code_within(y, x) for x in va for y in vb):
            continue
        a.atom = {**a.atom, "value": list(dict.fromkeys(va + vb))}
        a.extra.setdefault("also", []).append((b.start, b.end))
        a.note = (a.note + "; " if a.note else "") + "industries named side by side: any of them"
        drop.add(id(b))
    return [h for h in hits if id(h) not in drop]


def _key(h: Hit) -> str:
    return json.dumps(h.atom, sort_keys=True, ensure_ascii=False)


def _repeat_key(h: Hit) -> str:
    """What a restatement repeats: a designation by its item whatever the level written (国家高新技术企业
    then 高新技术企业), everything else by its atom."""
    a = h.atom
    if a.get("field") == "certificate" and a.get("op") == "held":
        return f"designation {a.get('item')}"
    if a.get("field") == "certifications" and a.get("op") == "has":
        return f"designation {a.get('value')}"
    return _key(h)


def _negated(h: Hit) -> Hit:
    op = {"under": "not_under", "in": "not_in", "eq": "ne"}.get(str(h.atom.get("op")), "not_under")
    value = list(h.atom["value"]) if isinstance(h.atom.get("value"), list) else h.atom.get("value")
    return Hit(h.start, h.end, "industry_scope", {**h.atom, "op": op, "value": value}, h.confidence * 0.9,
               note="其他企业: read as not the industry of the branch before")


def _exclusive_bands(branches: list[Node], text: str = "") -> None:
    """Bands of one figure share no edge: a lower bound equal to the previous band's inclusive upper
    bound is exclusive ('≤3000万元(含)' then '3000万元至1亿元' → > 3000), and an upper bound the next
    band claims explicitly ('5亿元以下', then '5亿元(含)以上') is exclusive (< 5亿)."""
    def explicit(h: Hit) -> bool:
        return re.search(r"\(含[^)]{0,10}\)|含本数", text[h.start : h.end + 6]) is not None

    prev_upper: dict[str, Hit] = {}
    for br in branches:
        head = br.children[0]
        uppers: dict[str, Hit] = {}
        for lf in head.leaves():
            a = lf.hit.atom
            prev = prev_upper.get(a.get("field"))
            if a.get("op") == "ge" and prev is not None and prev.atom.get("value") == a.get("value"):
                if explicit(lf.hit) and not explicit(prev):
                    prev.atom = {**prev.atom, "op": "lt"}
                else:
                    lf.hit.atom = {**a, "op": "gt"}
            if a.get("op") == "le":
                uppers[a.get("field")] = lf.hit
        prev_upper = uppers


# ---- simplification ------------------------------------------------------------------------------

def simplify(node: Node) -> Node:
    """Flatten nested same-op groups, drop empty groups, merge what 或 joined on one figure, dedupe."""
    if node.op == "leaf":
        return node
    if node.op == "not":
        return Node("not", [simplify(node.children[0])])
    kids = [simplify(c) for c in node.children]
    kids = [k for k in kids if k.op == "leaf" or k.children]
    flat: list[Node] = []
    for k in kids:
        if k.op == node.op and k.op in ("all", "any") and not k.note:
            flat.extend(k.children)
        elif k.op in ("all", "any") and len(k.children) == 1 and not k.note:
            flat.append(k.children[0])
        else:
            flat.append(k)
    # dedupe identical atoms within one group (the first span is kept, the others recorded)
    out: list[Node] = []
    seen: dict[str, Node] = {}
    for k in flat:
        lf = k if k.op == "leaf" else (k.children[0] if k.op == "not" and k.children[0].op == "leaf" else None)
        if lf is not None:  # a leaf, or a negated leaf (非总部型企业 said twice)
            key = ("not " if k.op == "not" else "") + _key(lf.hit)
            if key in seen:
                seen[key].hit.extra.setdefault("also", []).append((lf.hit.start, lf.hit.end))
                continue
            seen[key] = lf
        out.append(k)
    if node.op == "any":
        out = _merge_any(out)
        out = _drop_subsumed(out)
    else:
        out = _drop_wider_scopes(out)
    node = Node(node.op, out, note=node.note)
    if node.op in ("all", "any") and len(node.children) == 1 and not node.note:
        return node.children[0]
    return node


def _code_within(code: str, scope: str) -> bool:
    """An industry or division code inside another (C13 in C, 3701 in 37, 51 in F)."""
    if code == scope or (code.isdigit() and scope.isdigit() and code.startswith(scope)):
        return True
    if scope.isalpha() and code.isdigit():
        from quanhuiqi.reference.industries import lookup_industry

        try:
            return lookup_industry(code[:2]).section == scope
        except (KeyError, AttributeError):
            return False
    return False


def _narrower_scope(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``a`` (under X) lies inside ``b`` (under Y) on the same code field, or ``a`` (not_under X) excludes
    all that ``b`` (not_under Y) does: b adds nothing in an all."""
    if a.get("field") != b.get("field") or a.get("op") != b.get("op") or set(a) != set(b):
        return False
    if a.get("op") == "not_under" and isinstance(a.get("value"), list) and isinstance(b.get("value"), list):
        return a["value"] != b["value"] and all(any(_code_within(str(y), str(x)) for x in a["value"]) for y in b["value"])
    if a.get("op") != "under":
        return False
    if a.get("field") not in ("industry_code", "district_code", "tax_district_code", "stats_district_code",
                              "office_district_code"):
        return False
    va, vb = a.get("value"), b.get("value")
    if not (isinstance(va, list) and isinstance(vb, list)) or va == vb:
        return False
    return all(any(_code_within(str(x), str(y)) for y in vb) for x in va)


def _drop_wider_scopes(kids: list[Node]) -> list[Node]:
    """all(under [C], under [C, E]): a scope restated in wider words (支持对象 制造业和建筑业, then
    制造业企业 in an item) is one condition — the narrower; the wider span is kept as read."""
    leaves = [k for k in kids if k.op == "leaf"]
    drop: set[int] = set()
    for b in leaves:
        for a in leaves:
            if a is b or id(a) in drop or id(b) in drop:
                continue
            if _narrower_scope(a.hit.atom, b.hit.atom):
                if a.hit.extra.get("subject"):
                    # 限额以上住宿和餐饮业企业 … 住宿企业须为三星级: the narrower kind is the subject of a
                    # further requirement, not a restriction of its own
                    drop.add(id(a))
                    b.hit.extra.setdefault("also", []).append((a.hit.start, a.hit.end))
                else:
                    drop.add(id(b))
                    a.hit.extra.setdefault("also", []).append((b.hit.start, b.hit.end))
                    break
            elif _same_designation(a.hit.atom, b.hit.atom):
                # 国家高新技术企业 … 高新技术企业资格在有效期内: one designation, the more specific words kept
                drop.add(id(b))
                a.hit.extra.setdefault("also", []).append((b.hit.start, b.hit.end))
                break
    return [k for k in kids if id(k) not in drop]


def _same_designation(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``a`` says at least what ``b`` says about one designation (held with a level vs held or has)."""
    def item(x: dict[str, Any]) -> str | None:
        if x.get("field") == "certificate" and x.get("op") == "held" and set(x) <= {"field", "op", "item", "level"}:
            return x.get("item")
        if x.get("field") == "certifications" and x.get("op") == "has" and isinstance(x.get("value"), str):
            return x.get("value")
        return None
    ia, ib = item(a), item(b)
    if ia is None or ia != ib or a == b:
        return False
    return "level" in a or ("level" not in b and a.get("field") == "certificate")


def _implies(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Atom ``a`` implies atom ``b`` (same test, or a tighter bound on the same figure)."""
    if a == b:
        return True
    if {k: v for k, v in a.items() if k != "value"} != {k: v for k, v in b.items() if k != "value"}:
        return False
    va, vb = a.get("value"), b.get("value")
    if not (isinstance(va, int | float) and isinstance(vb, int | float)):
        return False
    return (a["op"] in ("ge", "gt") and va >= vb) or (a["op"] in ("le", "lt") and va <= vb)


def _conjuncts(n: Node) -> list[dict[str, Any]] | None:
    if n.op == "leaf":
        return [n.hit.atom]
    if n.op == "all" and all(c.op == "leaf" for c in n.children):
        return [c.hit.atom for c in n.children]
    return None


def _drop_subsumed(kids: list[Node]) -> list[Node]:
    """any(A ∧ B, A' ∧ B) with A' ⇒ A: the stricter branch adds nothing (tiers of one rule)."""
    conj = [_conjuncts(k) for k in kids]
    keep = []
    for i, ci in enumerate(conj):
        drop = False
        if ci is not None:
            for j, cj in enumerate(conj):
                if i == j or cj is None:
                    continue
                if all(any(_implies(a, b) for a in ci) for b in cj) and (len(cj) < len(ci) or j < i or not all(
                        any(_implies(b, a) for b in cj) for a in ci)):
                    drop = True
                    break
        if not drop:
            keep.append(kids[i])
    return keep


def _merge_any(kids: list[Node]) -> list[Node]:
    """any(x ≤ a, x ≤ b) → x ≤ max(a, b); any(has A, has B) on certifications → has_any [A, B]."""
    leaves = [k for k in kids if k.op == "leaf"]
    others = [k for k in kids if k.op != "leaf"]
    by: dict[tuple[str, str], list[Node]] = {}
    for lf in leaves:
        a = lf.hit.atom
        if set(a) == {"field", "op", "value"}:
            by.setdefault((a["field"], a["op"]), []).append(lf)
        else:
            by.setdefault((id(lf), ""), []).append(lf)  # type: ignore[arg-type]
    merged: list[Node] = []
    for (fld, op), group in by.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        first = group[0]
        vals = [g.hit.atom["value"] for g in group]
        if op in ("le", "lt") and all(isinstance(v, int | float) for v in vals):
            first.hit.atom = {**first.hit.atom, "value": max(vals)}
        elif op in ("ge", "gt") and all(isinstance(v, int | float) for v in vals):
            first.hit.atom = {**first.hit.atom, "value": min(vals)}
        elif fld == "certifications" and op in ("has", "has_any"):
            items = []
            for v in vals:
                items += v if isinstance(v, list) else [v]
            first.hit.atom = {"field": "certifications", "op": "has_any", "value": sorted(set(items))}
        elif op == "under" and fld in ("industry_code", "district_code"):
            items = []
            for v in vals:
                items += v
            first.hit.atom = {**first.hit.atom, "value": sorted(set(items))}
        else:
            merged.extend(group)
            continue
        for g in group[1:]:
            first.hit.extra.setdefault("also", []).append((g.hit.start, g.hit.end))
        merged.append(first)
    return merged + others
