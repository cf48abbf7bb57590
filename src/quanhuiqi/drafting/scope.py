"""Where the words of a clause are not conditions, and where they are conditions turned around.

Policy texts explain as much as they require.  A bracket that defines a term (中小企业按照《划型标准》
执行，其中工业企业从业人员1000人以下…), gives examples (如新材料、生物医药等) or a note (注：纳税总额是指…),
a sentence that defines (本办法所称新认定，是指…) and a preference (同等条件下优先支持高新技术企业) hold
figures and designations that gate nothing.  A negative list (有下列情形之一的，不予支持：(一)被列入经营
异常名录的…) holds conditions that must *not* hold: its items are exclusions, all of them, written in the
positive (列入, 发生, 受到) where a requirement would be written in the negative (未列入, 未发生).
"""

from __future__ import annotations

import re
from typing import Any

from quanhuiqi.drafting.recognize import Hit, negated_atom, penalty_atom
from quanhuiqi.drafting.segment import Item

# ---- explanations ---------------------------------------------------------------------------------

_DEFINING_BRACKET = re.compile(
    r"^(?:注|说明|备注)[:]|是指|指的是|^即|按照|依据|参照|以[^)]{0,30}为准|^(?:具体)?[\u4e00-\u9fff]{0,4}?(?:如|例如|比如|诸如)"
    r"|包括|^[^)]{0,12}等$|下同$")
# a bracket right after a size class gives its 划型 (小微企业(工业企业年营业收入2000万元以下，…)): the class is
# the condition, the figures define it
_SIZE_BEFORE = re.compile(r"(?:中小微|小微|中小|小型|微型|中型|大型|小型微型)企业$")
_NOT_DEFINING = re.compile(r"^(?:不含|含|除|不包括|不包含|不属于|以下简称|以下统称|下称|简称)")
_DEFINING_SENTENCE = re.compile(
    r"(?:本办法|本政策|本细则|本通知|本措施|本方案|本条|本款|上述|前款|以上|文中)?所称[^。;\n]{1,30}?(?:是指|指|包括|为)")
_APPLICANT = re.compile(r"所称(?:的)?(?:企业|申报企业|申请企业|申报单位|申请单位|申请人|支持对象|扶持对象|奖励对象|市场主体|用人单位|单位|机构)[,，]?(?:是指|指|为)")
_EXAMPLES = re.compile(r"(?:例如|比如|诸如)[:]?")
_PREFERENCE = re.compile(r"(?:同等条件下[,]?)?优先(?:支持|考虑|推荐|安排|扶持|给予|保障|纳入)")


# a purpose clause (为推动…，) states a goal; when the text lists its own conditions after it, the goal's
# words (规模以上工业企业…全覆盖) gate nothing
_PURPOSE = re.compile(r"(?:^|(?<=[。;\n:]))(?:为了?|为进一步)(?:进一步)?(?:推动|促进|加快|鼓励|支持|引导|推进|实现|落实|提升|"
                      r"加强|培育|扶持|优化|激发|深入|贯彻|助力|发挥|提高|营造|打造|做大|做强)[^,;。\n]{2,60}?,")
_OWN_CONDITIONS = re.compile(r"符合(?:下列|以下|如下)(?:条件|要求)|(?:申报|申请|支持|认定)(?:条件|对象)")


def explanations(t: str) -> list[tuple[int, int]]:
    """Spans that explain rather than require: defining or exemplifying brackets, 所称…是指 sentences,
    examples after 例如/比如, and preferences (优先支持 …) to the end of their sentence."""
    out: list[tuple[int, int]] = []
    for m in re.finditer(r"\(([^()]{1,200})\)", t):
        body = m.group(1)
        if _NOT_DEFINING.match(body):
            continue
        if not _DEFINING_BRACKET.search(body) and not _SIZE_BEFORE.search(t, max(0, m.start() - 8), m.start()):
            continue
        out.append((m.start(), m.end()))
    for m in _PURPOSE.finditer(t):
        if _OWN_CONDITIONS.search(t, m.end()):
            out.append((m.start(), m.end()))  # 为推动规模以上工业企业研发机构全覆盖，对符合下列条件的…
    for rx in (_DEFINING_SENTENCE, _EXAMPLES, _PREFERENCE):
        for m in rx.finditer(t):
            if rx is _DEFINING_SENTENCE and _APPLICANT.search(m.group()):
                continue  # 本办法所称企业，是指在本区注册…的企业: the applicant defined — its conditions
            out.append((m.start(), _sentence_end(t, m.end())))
    return out


def _sentence_end(t: str, pos: int) -> int:
    ends = [i for i in (t.find(c, pos) for c in "。;\n") if i >= 0]
    return min(ends) if ends else len(t)


def drop_explained(hits: list[Hit], spans: list[tuple[int, int]]) -> list[Hit]:
    """Hits inside an explanation are read, not conditions (a definition that names an industry list
    is kept: :func:`apply_definitions` makes the term stand for it)."""
    return [h for h in hits if h.role != "cond" or not any(a <= h.start < b for a, b in spans)]


# ---- negative lists ---------------------------------------------------------------------------------

_REFUSE = r"(?:不予|不得|不能|不再|一律不|取消|不纳入|不属于)(?:支持|申报|申请|享受|受理|奖励|扶持|补贴|资助|补助|列入|兑现|[^,;。\n]{0,6}范围)"
# 有下列情形之一的，不予支持：  /  以下情形不予支持：  /  下列企业不得申报：
NEGATIVE_HEAD = re.compile(
    rf"(?:有|存在|属于|具有)?(?:下列|以下|如下)(?:情形|情况|行为|企业|单位|项目)(?:之一|中任何一项|中的任一种|任一)?(?:的)?"
    rf"(?:企业|单位|项目)?[,]?{_REFUSE}")
_REFUSED_PHRASE = re.compile(rf"的(?:企业|单位|项目)?[,]?{_REFUSE}")


def negative_spans(t: str, its: list[Item]) -> list[tuple[int, int]]:
    """The stretches whose conditions are exclusions: the items (or the rest of the paragraph) after a
    negative heading, and the '…的，不予支持' part of a sentence that refuses."""
    out: list[tuple[int, int]] = []
    for m in NEGATIVE_HEAD.finditer(t):
        head_item = None
        for it in its:
            if it.start <= m.start() < it.end:
                head_item = it
        subs = [i for i in its if i.start >= m.end() and head_item is not None and i.depth > head_item.depth]
        if subs and head_item is not None:
            nxt = [i.start for i in its if i.start > head_item.start and i.depth <= head_item.depth]
            out.append((m.end(), min(nxt) if nxt else len(t)))
        else:  # 以下情形不予支持：A的；B的。  — to the end of the paragraph
            end = t.find("\n", m.end())
            out.append((m.end(), end if end >= 0 else len(t)))
    for m in _REFUSED_PHRASE.finditer(t):
        a = max(t.rfind(c, 0, m.start()) for c in "。;\n:") + 1
        if not any(x <= a < y for x, y in out):
            out.append((a, m.start() + 1))
    return out


_LISTED_ABNORMAL = re.compile(r"(?<![未不没])(?:被)?(?:列入|纳入|列为)[^,;。]{0,8}?经营异常名录")
_LISTED_DISHONEST = re.compile(r"(?<![未不没])(?:被)?(?:列入|纳入|列为|认定为)[^,;。]{0,12}?(?:严重)?(?:违法)?失信[^,;。]{0,8}?(?:名单|主体|对象|被执行人)")
_HAS_DISHONEST = re.compile(r"(?<![未不没无])(?:存在|有)(?P<serious>严重)?(?:违法)?失信(?:行为|记录|情形|问题)")
_HAPPENED = re.compile(
    r"(?P<win>近(?P<n>[一二两三四五\d])年(?:内|来)?|(?:成立|创办|设立)以来)?[^,;。]{0,10}?(?<![未没无])(?:发生(?:过)?|受到(?:过)?|存在|出现|因[^,;。]{0,12}?受到)"
    r"(?P<body>[^;。]{0,40}?(?:事故|行政处罚|刑事处罚|处罚|违法(?:违规)?行为|环境违法|失信行为))")


_MARKER = re.compile(r"\s*(?:[(\[][一二三四五六七八九十\d]{1,3}[)\]]|[一二三四五六七八九十\d]{1,3}[.、])?")
_WINDOW = re.compile(r"(?:近|最近|过去)(?P<n>[一二两三四五\d])(?:个)?年")


def excluded_conditions(t: str, spans: list[tuple[int, int]]) -> list[Hit]:
    """Conditions written in the positive inside a negative list, read as what must not hold."""
    out: list[Hit] = []
    for a, b in spans:
        seg = t[a:b]
        for m in _LISTED_ABNORMAL.finditer(seg):
            out.append(Hit(a + m.start(), a + m.end(), "credit_clean",
                           {"field": "abnormal_operation", "op": "eq", "value": False}, 0.85,
                           note="listed as an exclusion: must not be on the list", extra={"excluded": True}))
        for m in _LISTED_DISHONEST.finditer(seg):
            out.append(Hit(a + m.start(), a + m.end(), "credit_clean",
                           {"field": "serious_dishonest", "op": "eq", "value": False}, 0.8,
                           note="listed as an exclusion: must not be on the list", extra={"excluded": True}))
        for m in _HAS_DISHONEST.finditer(seg):
            serious = m.group("serious") is not None
            out.append(Hit(a + m.start(), a + m.end(), "credit_clean",
                           {"field": "serious_dishonest", "op": "eq", "value": False}, 0.8 if serious else 0.7,
                           note="listed as an exclusion: no serious dishonesty" + (
                               "" if serious else "; approximation: 失信行为 is wider than 严重失信主体"),
                           extra={"excluded": True}))
        for m in _HAPPENED.finditer(seg):
            win = _WINDOW.search(m.group())  # the window, wherever the match began ((二)近两年发生…)
            atom = penalty_atom(m.group("body"), win.group("n") if win else None)
            if atom is not None:
                lead = _MARKER.match(m.group())
                start = a + m.start() + (win.start() if win else lead.end())
                out.append(Hit(start, a + m.end(), "no_major_accident_or_violation", atom, 0.7,
                               note="listed as an exclusion; violations beyond penalties and accidents are not in "
                                    "the records: check", extra={"excluded": True}))
    return out


def negate_in_spans(hits: list[Hit], spans: list[tuple[int, int]]) -> list[Hit]:
    """Hits a negative list holds (房地产企业, 高耗能行业) are exclusions: negated once.  The hits read
    in the positive by :func:`excluded_conditions` already say what must not hold."""
    for h in hits:
        if h.role != "cond" or h.extra.get("excluded") or not any(a <= h.start < b for a, b in spans):
            continue
        if h.field.endswith("district_code") or h.kind in ("credit_clean", "no_major_accident_or_violation"):
            continue  # places and clean records in a refusal are read by their own words
        new: dict[str, Any] | None = negated_atom(h.atom)
        if new is None:
            h.extra["not"] = True
        else:
            h.atom = new
        if h.kind.startswith("industry"):
            h.kind = "industry_exclusion"
        h.extra["excluded"] = True
    return hits
