"""``draft_policy(text) -> Draft``: one clause → a draft policy in the language of the book.

The pipeline: normalise (keeping each character's origin) → numbered items and sentences →
recognisers (places with roles, industries, certifications, thresholds, events, attestations,
exclusions, policy rules) → overlaps settled → the condition tree from the text's connectives →
todos for every condition-bearing span left unmapped → a policy mapping with ``status: draft``.
Every atom carries ``ref`` (clause label and character span of the original text) and a note with
its confidence and the words it came from.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from quanhuiqi.drafting.normalize import Normalized, normalize_clause
from quanhuiqi.drafting.recognize import (
    Hit,
    _data,
    _phrase_start,
    _sentence_text,
    context_metric_of,
    recognise,
    resolve_overlaps,
    thresholds,
)
from quanhuiqi.drafting.scope import (
    drop_explained,
    excluded_conditions,
    explanations,
    negate_in_spans,
    negative_spans,
)
from quanhuiqi.drafting.segment import Item, items, section_at, sections
from quanhuiqi.drafting.structure import Node, TreeBuilder, award_amount, is_award


@dataclass
class DraftAtom:
    """One atom of the draft: its YAML mapping, where it came from and how sure the drafter is."""

    id: str
    atom: dict[str, Any]
    kind: str
    start: int  # span in the original text (end exclusive)
    end: int
    clause: str
    confidence: float
    quote: str
    note: str = ""

    def to_yaml_node(self) -> dict[str, Any]:
        out = dict(self.atom)
        out["ref"] = f"{self.clause + ' ' if self.clause else ''}@{self.start}-{self.end}"
        note = f"{self.id} · confidence {self.confidence:.2f} · «{_short(self.quote)}»"
        out["note"] = note + (f" · {self.note}" if self.note else "")
        return out


@dataclass
class Todo:
    """A span the drafter could not map: quoted, with the kind of condition it guesses."""

    id: str
    text: str
    kind: str
    start: int
    end: int
    clause: str

    def to_yaml_node(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "text": self.text,
                "ref": f"{self.clause + ' ' if self.clause else ''}@{self.start}-{self.end}"}


@dataclass
class PolicyRule:
    """A policy-level key the text asks for (review, exclusive, once, valid_to), with its span."""

    key: str
    value: Any
    kind: str
    start: int
    end: int
    clause: str
    quote: str
    confidence: float


@dataclass
class Draft:
    """The draft of one clause.  ``tree`` mirrors ``eligibility``; ``to_yaml()`` is what is written."""

    source: str
    text: str
    tree: dict[str, Any] | None
    atoms: list[DraftAtom]
    todos: list[Todo]
    rules: list[PolicyRule]
    policy: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def empty(self) -> bool:
        return not self.atoms

    def to_yaml(self) -> str:
        return dump_policy_yaml(self.policy)

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for t in self.todos:
            kinds[t.kind] = kinds.get(t.kind, 0) + 1
        todo = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        return (f"{self.source}: {len(self.atoms)} atom(s), {len(self.rules)} policy rule(s), "
                f"{len(self.todos)} todo(s)" + (f" ({todo})" if todo else ""))


def _short(s: str, n: int = 60) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


# ---- the pipeline ---------------------------------------------------------------------------------

def draft_policy(
    text: str,
    *,
    source: str = "clause",
    policy_id: str | None = None,
    title: str | None = None,
    department: str = "",
    jurisdiction: str | None = None,
) -> Draft:
    """Draft the policy conditions of one clause (申报条件 and, when pasted too, 奖励标准).

    ``jurisdiction`` is the issuer's territory (GB/T 2260 code or prefix, e.g. ``"440115"`` or
    ``"3701"``): words such as 本市, 我区, 全省 resolve against it; without it they become todos.
    """
    norm = normalize_clause(text)
    t = norm.text
    its = items(t)
    explained = explanations(t)
    negative = negative_spans(t, its)
    hits = recognise(t, jurisdiction)
    hits += thresholds(t)
    hits += excluded_conditions(t, negative)
    for it in its:  # sub-items with bare figures (不低于6%) take the metric their parent announces
        ctx = context_metric_of(t[it.start : it.end])
        if ctx:
            for sub in its:
                if sub.start >= it.end and sub.depth > it.depth and _within_parent(its, it, sub):
                    hits += [h for h in thresholds(t[sub.start : sub.end], ctx) if _shift(h, sub.start)]
    hits = [h for h in hits if not _garbled(norm, h)]
    secs = sections(t, its)
    # 申报材料, 申报程序 …: documents and steps, no condition (上年度审计报告, 营业执照复印件); a review step
    # (组织专家评审) stays a policy rule
    hits = [h for h in hits if h.role == "policy" or section_at(secs, h.start) != "procedure"]
    hits = drop_explained(hits, explained)  # definitions, examples, notes in brackets, preferences
    hits = negate_in_spans(hits, negative)  # 有下列情形之一的，不予支持：…
    hits = resolve_overlaps(hits)
    hits, defined = apply_definitions(t, hits)
    builder = TreeBuilder(t, its, hits)
    root = builder.build()
    atoms: list[DraftAtom] = []
    tree = _to_yaml_tree(root, norm, its, atoms)
    rules = _rules(hits, norm, its)
    # every recognised span counts as read, and so does the lead-in of a figure (参保企业足额缴纳…12个月以上)
    covered = [(h.start, h.end) for h in hits] + [(a, b) for h in hits for (a, b) in h.extra.get("also", [])]
    covered += _lead_ins(t, hits)
    covered += defined
    covered += _rule_sentences(t, hits)
    covered += [(sc.start, sc.end) for sc in secs if sc.kind == "procedure"]
    covered += explained
    todos = _todos(norm, its, covered, jurisdiction)
    # conditions read but kept out of the gate (a stricter or bonus tier, each tier's first crossing): a
    # condition of some tier all the same, so the officer sees it
    said = {json.dumps(lf.hit.atom, sort_keys=True, ensure_ascii=False) for lf in root.leaves()}
    in_tree = {id(lf.hit) for lf in root.leaves()}
    # a hit merged into a list (零售 in 批发、零售、住宿、餐饮企业) lies inside the span of the tree's atom
    tree_spans = [(lf.hit.kind, a, b) for lf in root.leaves()
                  for a, b in [(lf.hit.start, lf.hit.end), *lf.hit.extra.get("also", [])]]
    for h in hits:
        if h.role != "cond" or id(h) in in_tree or h.extra.get("repeat") or \
                json.dumps(h.atom, sort_keys=True, ensure_ascii=False) in said or \
                any(k == h.kind and a <= h.start and h.end <= b for k, a, b in tree_spans):
            continue
        a, b = norm.original_span(h.start, h.end)
        todos.append(Todo(f"t{len(todos) + 1}", norm.original[a:b], h.kind, a, b, _label_at(its, h.start)))
    notes = list(builder.notes)
    for a, b in norm.garbled:
        notes.append(f"unreadable characters at @{norm.original_span(a, b)[0]}-{norm.original_span(a, b)[1]} "
                     f"(«{_short(norm.quote(a, b), 30)}»): check the source text")
    stem_id = policy_id or _policy_id(source, text)
    policy = _policy_mapping(stem_id, title or _title(norm, source), department, norm, tree, atoms, todos,
                             rules, builder.tiers, notes, source)
    return Draft(source, text, tree, atoms, todos, rules, policy, notes)


_DEFINES = re.compile(r"(?:^|(?<=[。;\n:]))(?:注:)?(?:本办法所称|本政策所称|所称)?(?P<term>[\u4e00-\u9fff“”\"]{2,12}?)(?:主要)?(?:包括|是指|指的是|范围包括|具体包括)[:]?")
_NOTE = re.compile(r"(?:^|(?<=[。\n]))(?:注|说明|备注)[:]")


def apply_definitions(t: str, hits: list[Hit]) -> tuple[list[Hit], list[tuple[int, int]]]:
    """'重点服务业包括:G交通运输…,I信息传输…': the term stands for the union of the industries
    listed; the list itself is a definition, not a condition.  Hits inside a note (注: …) explain,
    they are dropped.  Returns the hits and the spans of the definitions (read, no todo)."""
    out = list(hits)
    spans: list[tuple[int, int]] = []
    for m in _DEFINES.finditer(t):
        end = min([i for i in (t.find(c, m.end()) for c in "。\n") if i >= 0] or [len(t)])
        body = [h for h in out if m.end() <= h.start < end and h.kind in ("industry_scope", "industry_list")]
        if not body:
            continue
        spans.append((m.start(), end))
        out = [h for h in out if h not in body]
        term = m.group("term").strip("“”\"")
        codes: list[str] = []
        for h in body:
            v = h.atom["value"]
            codes += v if isinstance(v, list) else [v]
        if not all(h.atom.get("op") == "under" for h in body):
            continue
        for occ in re.finditer(re.escape(term), t):
            if m.start() <= occ.start() < end:
                continue
            if any(h.start < occ.end() and occ.start() < h.end for h in out if h.kind.startswith("industry")):
                continue
            out.append(Hit(occ.start(), occ.end(), "industry_scope",
                           {"field": "industry_code", "op": "under", "value": list(dict.fromkeys(codes))}, 0.8,
                           note=f"{term}: as the text defines it"))
    for m in _NOTE.finditer(t):
        end = min([i for i in (t.find("\n", m.end()),) if i >= 0] or [len(t)])
        out = [h for h in out if not (m.start() <= h.start < end) or h.note.endswith("as the text defines it")]
    return sorted(out, key=lambda h: (h.start, h.end)), spans


def _lead_ins(t: str, hits: list[Hit]) -> list[tuple[int, int]]:
    """From the phrase start to a figure's hit when no other hit lies between (上年度, 企业足额缴纳…)."""
    out = []
    starts = sorted(h.start for h in hits)
    for h in hits:
        if h.atom.get("op") not in ("ge", "gt", "le", "lt", "count_le", "count_ge"):
            continue
        a = _phrase_start(t, h.start)
        if h.start - a <= 24 and not any(a <= s < h.start for s in starts):
            out.append((a, h.start))
    return out


def _rule_sentences(t: str, hits: list[Hit]) -> list[tuple[int, int]]:
    """A sentence that states a policy rule (就高不重复, 经审定) or a commitment explains it: all read."""
    out = []
    for h in hits:
        if h.role == "policy" or h.kind == "commitment":
            a = max(t.rfind(c, 0, h.start) for c in "。;\n") + 1
            ends = [i for i in (t.find(c, h.end) for c in "。;\n") if i >= 0]
            out.append((a, min(ends) if ends else len(t)))
    return out


def _within_parent(its: list[Item], parent: Item, sub: Item) -> bool:
    nxt = [i.start for i in its if i.start > parent.start and i.depth <= parent.depth]
    return sub.start < (min(nxt) if nxt else 10**9)


def _shift(h: Hit, offset: int) -> bool:
    h.start += offset
    h.end += offset
    return True


def _garbled(norm: Normalized, h: Hit) -> bool:
    return any(a < h.end and h.start < b for a, b in norm.garbled)


def _label_at(its: list[Item], pos: int) -> str:
    label = ""
    for it in its:
        if it.start <= pos:
            label = it.label
    return label


def _to_yaml_tree(node: Node, norm: Normalized, its: list[Item], atoms: list[DraftAtom]) -> dict[str, Any] | None:
    if node.op == "leaf":
        h = node.hit
        a, b = norm.original_span(h.start, h.end)
        da = DraftAtom(f"a{len(atoms) + 1}", dict(h.atom), h.kind, a, b, _label_at(its, h.start),
                       round(h.confidence, 2), norm.original[a:b], h.note)
        atoms.append(da)
        return da.to_yaml_node()
    kids = [_to_yaml_tree(c, norm, its, atoms) for c in node.children]
    kids = [k for k in kids if k]
    if not kids:
        return None
    if node.op == "not":
        return {"not": kids[0]}
    out: dict[str, Any] = {node.op: kids}
    if node.note:
        out["note"] = node.note
    return out


def _rules(hits: list[Hit], norm: Normalized, its: list[Item]) -> list[PolicyRule]:
    """The policy keys the text asks for, each once: a key said again (经专家评审后择优; 经认定 in the
    conditions and again in the 奖励标准) is the same rule of the policy."""
    out = []
    said: set[tuple[str, str]] = set()
    for h in hits:
        if h.role != "policy":
            continue
        key = (str(h.atom["key"]), str(h.atom.get("value")))
        if key in said:
            continue
        said.add(key)
        a, b = norm.original_span(h.start, h.end)
        out.append(PolicyRule(h.atom["key"], h.atom.get("value"), h.kind, a, b, _label_at(its, h.start),
                              norm.original[a:b], h.confidence))
    return out


# ---- todos ------------------------------------------------------------------------------------------

@cache
def _kind_keywords() -> list[tuple[str, re.Pattern[str]]]:
    df = _data("todo_kinds.csv")
    return [(k, re.compile("|".join(re.escape(w) for w in kw.split(";")))) for k, kw in zip(df["kind"], df["keywords"], strict=True)]


_BOILERPLATE = re.compile(
    r"^(?:申报条件|申请条件|支持对象|适用对象|支持范围|补贴范围及标准|奖励标准|资助标准|注意事项|"
    r"具体申报要求详见附件|可以申请|均可申报|予以支持|给予支持|下同|以下简称|以下统称|"
    r"(?:根据|按照|依据)[^,;。]{0,6}《|请|若违反|如违反|违反承诺|应退回|退回)"
    r"|^[^,;。]*【[^】]*】\s*$"
)
_RELATIVE_PLACE = re.compile(r"本市|我市|本区|我区|本省|我省|全市|全区|区内|市内|省内|本县|我县")


def _todos(norm: Normalized, its: list[Item], covered: list[tuple[int, int]], jurisdiction: str | None) -> list[Todo]:
    """Condition-bearing stretches no atom covers: each phrase's uncovered runs of text, kept when a
    word of the kind vocabulary names what they are about."""
    t = norm.text
    mask = [False] * (len(t) + 1)
    for a, b in covered:
        for k in range(max(0, a), min(len(t), b)):
            mask[k] = True
    for a, b in norm.garbled:
        for k in range(a, b):
            mask[k] = True
    todos: list[Todo] = []
    for m in re.finditer(r"[^,;。\n:]+", t):
        a, b = m.start(), m.end()
        if is_award(_sentence_text(t, a)) and not re.search(r"的$", t[a:b]):
            # a sentence that pays: only its conditions (…的) may hold a todo
            continue
        # uncovered runs inside the phrase
        k = a
        while k < b:
            if mask[k]:
                k += 1
                continue
            s = k
            while k < b and not mask[k]:
                k += 1
            run = t[s:k]
            core = re.sub(r"^(?:第[一二三四五六七八九十百\d]+条|[(\[]?[一二三四五六七八九十\d]{1,3}[)\].、])\s*", "",
                          run.strip(" 、和及与或且并的,()"))
            if len(re.findall(r"[\u4e00-\u9fff]", core)) < 4 or _BOILERPLATE.match(core):
                continue
            if run.rstrip().endswith("的") and k < b and mask[k]:
                continue  # a modifier of the figure that follows (纳入我区统计核算的营业收入…)
            kinds = [kind for kind, rx in _kind_keywords() if rx.search(run)]
            if not kinds and jurisdiction is None and _RELATIVE_PLACE.search(run):
                kinds = ["registration_location"]
            if not kinds:
                continue
            # the whole phrase is quoted when most of it is uncovered
            qs, qe = (a, b) if (k - s) >= 0.6 * (b - a) else (s, k)
            qs, qe = _trim(t, qs, qe)
            oa, ob = norm.original_span(qs, qe)
            for kind in dict.fromkeys(kinds[:2]):
                todos.append(Todo(f"t{len(todos) + 1}", norm.original[oa:ob], kind, oa, ob, _label_at(its, qs)))
    return todos


def _trim(t: str, a: int, b: int) -> tuple[int, int]:
    while a < b and t[a] in " 、,()且并和及的":
        a += 1
    while b > a and t[b - 1] in " 、,(且并和及":
        b -= 1
    return a, b


# ---- the policy mapping ------------------------------------------------------------------------------

_BENEFIT_KIND = [("贴息", "interest_subsidy"), ("返还", "refund"), ("奖励", "reward"), ("奖补", "reward"),
                 ("补贴", "subsidy"), ("补助", "subsidy"), ("资助", "subsidy"), ("扶持", "subsidy")]


def _policy_mapping(pid, title, department, norm, tree, atoms, todos, rules, tiers, notes, source) -> dict[str, Any]:
    t = norm.text
    mode = "auto" if "免申即享" in t else ("instant" if "即申即享" in t else "apply")
    has_attest = any("attest" in a.atom for a in atoms)
    review = [r for r in rules if r.key == "review"]
    if mode == "auto" and (has_attest or review):
        notes.append("免申即享 in the text, but the draft holds a declaration or a review step: mode apply")
        mode = "apply"
    policy: dict[str, Any] = {"id": pid, "title": title, "department": department, "mode": mode,
                              "status": "draft"}
    for r in rules:
        if r.key == "valid_to":
            policy["valid_to"] = r.value
    if review:
        r = review[0]
        policy["review"] = {"text": r.quote, "ref": f"{r.clause + ' ' if r.clause else ''}@{r.start}-{r.end}"}
    excl = [r for r in rules if r.key == "exclusive"]
    if excl:
        policy["exclusive"] = {"group": f"{pid}-group", "per": "year"}
        notes.append(f"exclusive: «{excl[0].quote}» — name the group of policies this one excludes "
                     f"(placeholder {pid}-group)")
    once = [r for r in rules if r.key == "once"]
    if once:
        policy["once"] = "lifetime" if any(r.value == "lifetime" for r in once) else "year"
    benefit = _benefit(t, tiers)
    if benefit:
        policy["benefit"] = benefit
    policy["eligibility"] = tree if tree else {"all": []}
    if todos:
        policy["todo"] = [td.to_yaml_node() for td in todos]
    if notes:
        policy["notes"] = notes
    policy["source"] = source
    return policy


def _benefit(t: str, tiers: list[dict[str, Any]]) -> dict[str, Any] | None:
    amounts = []
    kind = None
    for sent in re.split(r"[;。\n]", t):
        a = award_amount(sent)
        if a is not None:
            amounts.append(a)
            for word, k in _BENEFIT_KIND:
                if word in sent:
                    kind = kind or k
                    break
    if not amounts:
        return None
    out: dict[str, Any] = {"kind": kind or "reward", "max_amount": _num(max(amounts))}
    if tiers:
        out["tiers"] = [{"amount": _num(td["amount"]), "when": dict(td["when"])} for td in
                        sorted(tiers, key=lambda x: x["amount"])]
    return out


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def _title(norm: Normalized, source: str) -> str:
    for line in norm.original.splitlines():
        s = line.strip()
        if 2 <= len(s) <= 40 and not re.search(r"[。;；]$", s) and not re.fullmatch(
                r"[\s\d一二三四五六七八九十、.．()（）第条]*(?:申报条件|申请条件|支持对象|适用对象|支持范围)[:：]?", s):
            return s
    return source


def _policy_id(source: str, text: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", source).strip("-").upper()
    if not stem:
        stem = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8].upper()
    return f"DRAFT-{stem}"


# ---- YAML ------------------------------------------------------------------------------------------

class _FlowMap(dict):
    """Atoms written on one line, like the book's hand-written policies."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # a draft is read by people: no &id001 anchors
        return True


_Dumper.add_representer(_FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(), flow_style=True))


def _flow(node: Any) -> Any:
    if isinstance(node, dict):
        if ("field" in node or "attest" in node) and not any(k in node for k in ("all", "any", "not")):
            return _FlowMap({k: _flow(v) for k, v in node.items()})
        return {k: _flow(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_flow(v) for v in node]
    return node


def dump_policy_yaml(policy: dict[str, Any]) -> str:
    """The draft as YAML: keys in the book's order, atoms in flow style, Chinese kept readable."""
    doc = dict(policy)
    doc["eligibility"] = _flow(doc.get("eligibility"))
    if "benefit" in doc and "tiers" in doc["benefit"]:
        doc["benefit"] = {**doc["benefit"], "tiers": [{**t, "when": _flow(t["when"])} for t in doc["benefit"]["tiers"]]}
    return yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110)
