"""Recognisers: spans of a normalised clause → condition atoms of the policy language.

Each recogniser is a set of phrase patterns over the normalised text; every hit keeps its span,
the kind of condition (the vocabulary of the benchmark's gold), the atom it proposes and a
confidence.  They are written for the language of 申报条件 in general — thresholds with units and
comparators, places with their roles (registered, tax, statistics, premises), industries by name,
letter or named list, certifications with levels, events with windows, attestations, exclusions —
never for one document.  Overlaps are settled later (longest, then most confident, wins).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

from quanhuiqi.drafting.numbers import (
    INCL,
    NUM,
    PRE_CMP,
    THRESHOLD,
    UNIT,
    comparator,
    parse_number,
    unit_value,
)
from quanhuiqi.drafting.places import Place, find_places

LEGAL_PERSON_EXCLUDED = ["个人独资企业", "合伙企业", "个体工商户"]
INDUSTRIAL = ["B", "C", "D"]


@dataclass
class Hit:
    """One recognised condition: ``atom`` is the YAML mapping (or a policy key for role 'policy')."""

    start: int
    end: int
    kind: str
    atom: dict[str, Any]
    confidence: float
    note: str = ""
    role: str = "cond"  # cond | policy (review / exclusive / once / valid_to) | benefit
    group: int = 0  # hits of one phrase that belong together (the roles of one place)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def field(self) -> str:
        return str(self.atom.get("field") or self.atom.get("attest") or self.atom.get("key") or "")


def _data(name: str) -> pd.DataFrame:
    path = resources.files("quanhuiqi.drafting").joinpath("data").joinpath(name)
    with path.open("rb") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def _fuzzy(word: str) -> str:
    """A regex for a vocabulary word that tolerates quotes inserted anywhere (专精特新“小巨人”)."""
    q = "[“”\"'「」『』《》]*"
    return q.join(re.escape(c) for c in word)


# ---- certifications -------------------------------------------------------------------------------

LEVEL_WORDS = [
    ("national", r"国家级|国家|全国"), ("provincial", r"省级|省"), ("city", r"市级|市"),
    ("district", r"区级|县级|区|县"),
]  # fmt: skip
_LEVEL_RX = "|".join(w for _, w in LEVEL_WORDS)


@cache
def certification_vocabulary() -> pd.DataFrame:
    """item, standard (in today's ``certifications`` set), synonyms, label — shipped CSV."""
    return _data("certifications.csv")


@cache
def _cert_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    voc = certification_vocabulary()
    by_syn: dict[str, str] = {}
    for item, syns in zip(voc["item"], voc["synonyms"], strict=True):
        for s in syns.split(";"):
            by_syn[s] = item
    alts = sorted(by_syn, key=len, reverse=True)
    rx = re.compile(
        rf"(?P<level>(?<![本我全该辖])(?:{_LEVEL_RX})(?:及以上|以上)?(?:[、和及或]?(?:{_LEVEL_RX}))*(?:及以上|以上)?)?(?:认定的|的)?"
        rf"[“\"「『]?(?P<name>{'|'.join(_fuzzy(a) for a in alts)})"
    )
    return rx, {re.sub("[“”\"'「」『』《》]", "", k): v for k, v in by_syn.items()}


def known_record_items(table: str) -> set[str] | None:
    """The items the policy language knows for a record table (None when this version of the package
    has no record vocabulary): a designation outside it is drafted as a todo, not as an atom the
    loader would refuse."""
    try:
        from quanhuiqi.reference import records  # the language's vocabularies (issue 13)
    except ImportError:
        return None
    return set(getattr(records, "RECORD_TABLES", {}).get(table, {})) or None


@cache
def _cert_standard() -> dict[str, str]:
    voc = certification_vocabulary()
    return dict(zip(voc["item"].tolist(), voc["standard"].tolist(), strict=True))


def _level_of(text: str | None) -> str | None:
    """The lowest level named (省级及以上 → provincial; 国家、省、市 → city)."""
    if not text:
        return None
    found = [lvl for lvl, w in LEVEL_WORDS if re.search(w, text)]
    order = ["district", "city", "provincial", "national"]
    return min(found, key=order.index) if found else None


_FIRST_TIME = re.compile(r"((?<!重)新认定|首次认定|首次获得|首次被认定|(?<!重)新获批|(?<!重)新获|新晋|首次入选|(?<!重)新入选|"
                         r"(?<!重)新被认定|首次通过|首次入库|新入库|首次纳入)[^,;。]{0,10}$")
_YEAR_NEAR = re.compile(r"(?P<y>(?:19|20)\d{2})年(?:度)?|(?P<rel>上一?年度|上一?年|本年度|当年|今年)")


def certifications(text: str) -> list[Hit]:
    rx, by_syn = _cert_pattern()
    standard = _cert_standard()
    hits: list[Hit] = []
    for m in rx.finditer(text):
        name = re.sub("[“”\"'「」『』《》]", "", m.group("name"))
        item = by_syn[name]
        after = text[m.end() : m.end() + 8]
        if re.match(r"(?:申报|认定|评定|评价|培育|梯度培育|遴选|入库)(?:条件|标准|办法|管理|工作|程序|计划|工程|体系|行动|通知)"
                    r"|的?(?:相关)?(?:政策|规定|办法)|(?:培育|发展|提升)(?:计划|工程|行动|体系)", after):
            continue  # the programme itself (高新技术企业认定条件, 专精特新企业培育计划), not a status held
        if re.match(r"[^,;。]{0,6}(?:培育库|培育入库|后备库|研发中心|申报条件)|(?:企业)?(?:库|名录库|储备库)", after) \
                and item != "hightech_cultivation":
            continue  # a pool of candidates (小巨人企业库, 后备库), not the designation
        level = _level_of(m.group("level"))
        before = text[max(0, m.start("name") - 14) : m.start("name")]
        known = known_record_items("certificate")
        if known is not None and item not in known and standard[item] != "true":
            continue  # not in the language's vocabulary: the span stays a todo (kind certification_held)
        start = m.start("level") if m.group("level") else m.start("name")
        atom: dict[str, Any]
        conf = 0.9 if standard[item] == "true" else 0.75
        if standard[item] == "true" and level is None:
            atom = {"field": "certifications", "op": "has", "value": item}
        else:
            atom = {"field": "certificate", "op": "held", "item": item}
            if level:
                atom["level"] = level
        held = Hit(start, m.end(), "certification_held", atom, conf)
        hits.append(held)
        first = _FIRST_TIME.search(before)
        if first:
            window = _window_before(text, m.start(), default={"year": "this"})
            ev = {"field": "certificate", "op": "first_in", "item": item, "window": window}
            if level:
                ev["level"] = level
            a = m.start("name") - len(before) + first.start()
            hits.append(Hit(a, a + len(first.group(1)), "event_first_time", ev, 0.7,
                            note="新认定: the window is the policy year unless the text names one",
                            extra={"with": id(held)}))
    return hits


def _window_before(text: str, pos: int, default: dict[str, Any] | None) -> dict[str, Any] | None:
    """A year written shortly before ``pos`` in the same phrase (2024年度新认定, 上年度新认定)."""
    seg_start = max(text.rfind(c, 0, pos) for c in ",;。\n")
    seg = text[seg_start + 1 : pos]
    found = list(_YEAR_NEAR.finditer(seg))
    m = found[-1] if found else None
    if m is None:
        return default
    if m.group("y"):
        return {"year": int(m.group("y"))}
    return {"year": "last"} if m.group("rel").startswith("上") else {"year": "this"}


# ---- attestations, review, exclusivity -------------------------------------------------------------

ATTESTATIONS = [
    ("financial_system", "financial_system", r"(?:健全|完善|规范)的?(?:财务|会计)(?:管理|核算)?(?:制度|体系)|(?:财务|会计)(?:管理|核算)?(?:制度|体系)(?:健全|完善|规范)|财务管理规范"),
    ("independent_accounting", "independent_accounting", r"实行独立核算|独立核算"),
    ("rd_bookkeeping", "rd_bookkeeping", r"研(?:发|究开发)(?:费用|经费|投入|支出)(?:实行)?(?:单独|专门)?(?:建账|建立辅助账|设立辅助账|归集|核算)|研发(?:费用)?辅助账"),
    ("related_party", "no_related_party", r"(?:无|不存在|没有)(?:任何)?关联关系"),
    ("premises", "fixed_premises", r"(?:有|具有|具备)(?:固定的?|独立的?)(?:经营|营业|办公|生产经营)?场所"),
    ("commitment", "stay_commitment", r"承诺[^。;]{0,30}?(?:不迁出|不迁离|不减少注册资本|不改变[^。;]{0,12}纳税)"),
]  # fmt: skip


def attestations(text: str) -> list[Hit]:
    out = []
    for kind, item, rx in ATTESTATIONS:
        for m in re.finditer(rx, text):
            out.append(Hit(m.start(), m.end(), kind, {"attest": item}, 0.85))
    return out


_REVIEW = re.compile(r"经(?:审定|审核认定|评审|专家评审|综合评审|综合评价|研究确定)|组织专家评审|组织(?:专家)?评审|择优|(?<![的])经认定(?=[,，后]|给予|予以)|遴选|竞争性评审")
_EXCLUSIVE = re.compile(r"就高不重复|不重复(?:享受|支持|扶持|奖励|补贴|资助)|不得重复(?:享受|申报|申请|支持)|(?:已|曾)享受[^。;]{0,20}(?:不再|不得)|只能(?:选择|享受)其中"
                        r"|未(?:曾)?(?:享受|获得)(?:过)?[^。;,]{0,12}(?:同类|相关|类似)(?:政策|奖励|补助|补贴|资助|扶持|支持)")
_ONCE_LIFETIME = re.compile(r"(?:每家|同一)企业(?:只能|只|仅|限)?(?:享受|申请|奖励|支持)一次|限(?:享受|申请)一次|只奖励一次|不重复奖励")
_ONCE_YEAR = re.compile(r"每(?:家|个)?(?:企业|单位)?每?年(?:度)?(?:只能|仅|限|最多|可)?(?:申请|享受|支持)(?:一|1)(?:次|笔|项)")


def policy_rules(text: str) -> list[Hit]:
    out = []
    for m in _REVIEW.finditer(text):
        out.append(Hit(m.start(), m.end(), "discretionary_review", {"key": "review"}, 0.85, role="policy"))
    for m in _EXCLUSIVE.finditer(text):
        out.append(Hit(m.start(), m.end(), "prior_grant_exclusion", {"key": "exclusive"}, 0.8, role="policy"))
    for m in _ONCE_LIFETIME.finditer(text):
        out.append(Hit(m.start(), m.end(), "once", {"key": "once", "value": "lifetime"}, 0.8, role="policy"))
    for m in _ONCE_YEAR.finditer(text):
        out.append(Hit(m.start(), m.end(), "once", {"key": "once", "value": "year"}, 0.8, role="policy"))
    for m in re.finditer(r"(?:执行期限|有效期|实施期限)(?:至|到|截至)(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日", text):
        date = f"{int(m['y']):04d}-{int(m['m']):02d}-{int(m['d']):02d}"
        out.append(Hit(m.start(), m.end(), "validity", {"key": "valid_to", "value": date}, 0.9, role="policy"))
    return out


# ---- credit, penalties, legal form, size, ownership ---------------------------------------------------

_CREDIT = re.compile(
    r"(?:无|没有|未有)(?:不良)?(?:信用|诚信)(?:不良)?记录|(?:无|没有|未有|不存在)(?:严重)?(?:违法)?失信(?:行为|记录|情形)|信用(?:状况|记录)?良好|未被列入[^,;。]{0,12}(?:严重失信|失信)[^,;。]{0,8}|"
    r"(?:不属于|非)(?:严重)?失信(?:主体|被执行人|企业)|未(?:违反|列入)[^,;。]{0,12}联合惩戒[^,;。]{0,10}"
)
_ABNORMAL = re.compile(r"(?:未被?|没有被?|不在)(?:列入)?[^,;。]{0,6}经营异常名录")
_TAX_RATING = re.compile(r"纳税信用(?:等级|评价|级别)?(?:为|在|达到)?(?P<r>[ABMCD])(?:级)?"
                         r"(?P<more>(?:(?:或|、|和|及)[ABMCD](?:级)?)*)(?P<post>及?以上)?")
_LEGAL_PERSON = re.compile(r"(?:具有|具备|是)?独立(?:的)?法人资格|独立法人|企业法人(?!营业)|法人企业")
_SIZE = [
    (re.compile(r"中小微企业|中小企业|中、小、微企业"), {"op": "in", "value": ["medium", "small", "micro"]}),
    (re.compile(r"小微企业|小型微型企业|小型、微型企业"), {"op": "in", "value": ["small", "micro"]}),
    (re.compile(r"大型企业|大企业"), {"op": "eq", "value": "large"}),
    (re.compile(r"中型企业"), {"op": "eq", "value": "medium"}),
]
_OWNERSHIP = [
    (re.compile(r"民营(?=(?:小微|中小微|中小|科技型|工业)?企业)|民营企业|非公有制企业"), "private"), (re.compile(r"国有企业|国有控股企业"), "state"),
    (re.compile(r"外商投资企业|外资企业"), "foreign"), (re.compile(r"港澳台(?:资|商投资)?企业"), "hmt"),
]  # fmt: skip
def _ranking_context(text: str, m: re.Match[str]) -> bool:
    """中国民营企业500强, 中央大型企业, 全国中小企业股份转让系统: a ranking, an owner or an institution,
    not the applicant's class."""
    return (bool(re.match(r"(?:[\u4e00-\u9fff]{0,3}企业)?\d*(?:强|百强|千强)|股份转让|板|发展(?:专项|基金)|服务(?:中心|机构|平台)|局|促进",
                          text[m.end() : m.end() + 9]))
            or text[max(0, m.start() - 2) : m.start()] in ("中央", "央属", "全国"))


_ENTITY_FORMS = ["企业", "个体工商户", "民办非企业单位", "农民专业合作社", "家庭农场", "社会组织", "事业单位"]
_ABOVE_SCALE = re.compile(r"(?P<neg>规模以下|规下|限额以下)|规模以上|规上|限额以上")
_NEW_ABOVE_SCALE = re.compile(r"(?:首次|新)(?:纳入|进入|列入)[^,;。]{0,12}?(?:规模以上|规上|限额以上)|新增(?:规模以上|规上)|小升规|统计纳新")


def conditions_misc(text: str) -> list[Hit]:
    out: list[Hit] = []
    for m in _CREDIT.finditer(text):
        if re.search(r"项目|计划|申报|承担|科研", text[_phrase_start(text, m.start()) : m.start()]):
            continue  # a programme's own credit record (科技计划项目中无不良信用记录): left as a todo
        out.append(Hit(m.start(), m.end(), "credit_clean", {"field": "serious_dishonest", "op": "eq", "value": False},
                       0.7, note="approximation: 严重失信主体 is narrower than the text"))
    for m in re.finditer(r"(?:未|没有|无)裁员", text):
        out.append(Hit(m.start(), m.end(), "social_insurance", {"field": "layoff_rate", "op": "le", "value": 0}, 0.8))
    for m in re.finditer(r"(?:营业收入|营收|销售收入|主营业务收入)[^,;。]{0,6}?(?:同比)?(?:实现)?正增长", text):
        out.append(Hit(m.start(), m.end(), "revenue_growth", {"field": "revenue_growth", "op": "gt", "value": 0}, 0.85))
    for m in _ABNORMAL.finditer(text):
        out.append(Hit(m.start(), m.end(), "credit_clean", {"field": "abnormal_operation", "op": "eq", "value": False}, 0.9))
    for m in _TAX_RATING.finditer(text):
        more = re.findall(r"[ABMCD]", m.group("more") or "")
        if more:  # A级或B级: one of the grades named
            atom = {"field": "tax_credit_rating", "op": "in", "value": [m.group("r"), *more]}
        else:
            atom = {"field": "tax_credit_rating", "op": "ge" if m.group("post") else "eq", "value": m.group("r")}
        out.append(Hit(m.start(), m.end(), "tax_credit", atom, 0.9))
    for m in _LEGAL_PERSON.finditer(text):
        if re.search(r"视同|可视同", text[max(0, m.start() - 6) : m.start()]):
            continue
        out.append(Hit(m.start(), m.end(), "legal_person",
                       {"field": "enterprise_type", "op": "not_in", "value": list(LEGAL_PERSON_EXCLUDED)}, 0.75,
                       note="具有独立法人资格 ≈ not a sole proprietorship, partnership or individual business"))
    taken: list[tuple[int, int]] = []
    for rx, spec in _SIZE:
        for m in rx.finditer(text):
            if any(a <= m.start() < b for a, b in taken) or _ranking_context(text, m):
                continue
            taken.append((m.start(), m.end()))
            out.append(Hit(m.start(), m.end(), "size_class", {"field": "size_class", **spec}, 0.85))
    for m in re.finditer(r"(?:小微企业|中小微企业|中小企业|小型微型企业)[、和及与或]+(?:[^,;。\n的]{2,24}的)?(?P<f>个体工商户)", text):
        # 小微企业、个体工商户: the other kind of market entity the clause admits
        out.append(Hit(m.start("f"), m.end("f"), "entity_type",
                       {"field": "enterprise_type", "op": "in", "value": ["个体工商户"]}, 0.75))
    for rx, value in _OWNERSHIP:
        for m in rx.finditer(text):
            if _ranking_context(text, m):
                continue
            neg = text[max(0, m.start() - 1) : m.start()] == "非"
            out.append(Hit(m.start() - neg, m.end(), "ownership",
                           {"field": "ownership", "op": "ne" if neg else "eq", "value": value}, 0.8))
    for m in _ABOVE_SCALE.finditer(text):
        if re.match(r"[\u4e00-\u9fff]{0,4}?(?:标准|门槛|条件)", text[m.end() : m.end() + 8]) and \
                re.search(r"(?:达到|符合|满足|接近)$", text[max(0, m.start() - 4) : m.start()]):
            continue  # 营业收入达到规模以上企业标准: a standard to reach, not the enterprise's class (a todo)
        out.append(Hit(m.start(), m.end(), "above_scale", {"field": "above_scale", "op": "eq", "value": not m.group("neg")}, 0.85))
    for m in _NEW_ABOVE_SCALE.finditer(text):
        window = _window_before(text, m.start() + 1, default={"year": "this"})
        out.append(Hit(m.start(), m.end(), "event_first_time",
                       {"field": "milestone", "op": "first_in", "item": "above_scale_entry", "window": window}, 0.75,
                       note="首次纳入规上: the window is the policy year unless the text names one"))
        if not re.search(r"规模以上|规上|限额以上", m.group()):
            out.append(Hit(m.start(), m.end(), "above_scale", {"field": "above_scale", "op": "eq", "value": True}, 0.8))
    # entity forms listed together (企业、个体工商户、民办非企业单位…)
    forms_rx = "|".join(sorted(_ENTITY_FORMS, key=len, reverse=True))
    others_rx = "|".join(sorted((f for f in _ENTITY_FORMS if f != "企业"), key=len, reverse=True))
    pairs = rf"(?:{others_rx})(?:[、,和及或与](?:{others_rx}))+"
    for m in re.finditer(rf"(?:{forms_rx})(?:[、,和及或与](?:{forms_rx})){{2,}}|{pairs}", text):
        vals = [v for v in re.findall(forms_rx, m.group())]
        out.append(Hit(m.start(), m.end(), "entity_type", {"field": "enterprise_type", "op": "in", "value": vals}, 0.6,
                       note="legal forms as listed; check the registry's wording"))
    return out


_PENALTY = re.compile(
    r"(?P<win>近(?P<n>[一二两三四五\d])年(?:内|来)?|(?:成立|创办|设立)以来|过去(?P<n2>[一二两三四五\d])年内?)?[^,;。]{0,6}?"
    r"(?:未发生|无|没有|未出现|未受到|未曾发生)(?P<body>[^;。]{0,40}(?:事故|行政处罚|违法(?:违规)?行为|处罚|环境违法|失信行为))"
)


def penalties(text: str) -> list[Hit]:
    out = []
    for m in _PENALTY.finditer(text):
        win = re.search(r"(?:近|最近|过去)(?P<n>[一二两三四五\d])(?:个)?年", m.group())  # also after an item marker
        atom = penalty_atom(m.group("body"), m.group("n") or m.group("n2") or (win.group("n") if win else None))
        if atom is None:
            continue
        out.append(Hit(m.start(), m.end(), "no_major_accident_or_violation", atom, 0.7,
                       note="violations beyond penalties and accidents are not in the records: check"))
    return out


def penalty_atom(body: str, n: str | None) -> dict[str, Any] | None:
    """'重大安全生产事故', '单笔5万元以上行政处罚' within the last ``n`` years → none of them on record
    (``penalty count_le 0`` with its items, severity and window); None when no item is named."""
    items = []
    if "安全" in body:
        items.append("safety_accident")
    if "质量" in body:
        items.append("quality_accident")
    if "处罚" in body or "罚款" in body:
        items.append("administrative_penalty")
    if "环境" in body:
        items.append("environmental_violation")
    if "科研失信" in body or "科研诚信" in body:
        items.append("research_misconduct")
    if "税收违法" in body or "偷税" in body:
        items.append("tax_violation")
    if not items:
        return None
    atom: dict[str, Any] = {"field": "penalty", "op": "count_le", "value": 0, "item": items}
    where: dict[str, Any] = {}
    if re.search(r"特别重大", body):
        where["severity_ge"] = "extraordinary"
    elif re.search(r"重大|严重", body):
        where["severity_ge"] = "serious"
    elif "较大" in body:
        where["severity_ge"] = "major"
    amt = re.search(rf"(?:单笔)?(?P<n>{NUM})(?P<u>万元|元)(?:以上)?(?:{INCL})?(?:以上)?", body)
    if amt:
        v = parse_number(amt.group("n"))
        if v is not None:
            where["amount_ge"] = unit_value(v, amt.group("u"))[0]
    if where:
        atom["where"] = where
    if n:
        atom["window"] = {"last_years": int(parse_number(n) or 3)}
    return atom


# ---- industries -------------------------------------------------------------------------------------

SECTION_WORDS = [
    (r"工业(?!总产值|产值|增加值|投资|用电|用地|设计|互联网|园区|集中区|和信息化|信息化|旅游|遗产|机器人|软件|大数据|"
     r"技改|技术改造|经济|强市|强区|强县|发展|转型)(?:类)?(?:企业)?|工业领域", INDUSTRIAL, 0.85),
    (r"(?<!先进)(?<!高技术)制造业|制造类企业|制造企业", ["C"], 0.9),
    (r"先进制造业", ["C"], 0.6),
    (r"建筑业|建筑企业|建筑类企业", ["E"], 0.9),
    (r"批发(?:和|、|及)?零售(?:业|企业)|批零(?:企业)?", ["F"], 0.9),
    (r"批发业|批发企业", ["51"], 0.9),
    (r"零售业|零售企业", ["52"], 0.9),
    (r"住宿(?:和|、|及)?餐饮(?:业|企业)|住餐(?:企业)?", ["H"], 0.9),
    (r"住宿业|住宿企业", ["61"], 0.9),
    (r"餐饮业|餐饮企业", ["62"], 0.9),
    (r"房地产(?:企业|开发企业|业|项目)", ["70"], 0.9),
    (r"(?<!银行业)金融业|金融类企业", ["J"], 0.85),
    (r"采矿业|采矿企业", ["B"], 0.85),
    (r"软件(?:和信息技术服务)?企业|软件业", ["65"], 0.8),
    (r"知识产权服务机构|知识产权服务业|知识产权服务企业", ["7520"], 0.75),
    (r"交通运输(?:企业|业)|物流企业", ["G"], 0.75),
    (r"农业企业|农业生产经营", ["A"], 0.7),
]
NAMED_LISTS = [
    (r"战略性新兴产业", "sei_2018"),
    (r"高技术制造业|高技术产业\(制造业\)", "hightech_manufacturing_2017"),
    (r"高技术服务业|高技术产业\(服务业\)", "hightech_services_2018"),
    (r"数字经济核心产业", "digital_economy_2021/core"),
    (r"数字经济(?:及其核心)?产业", "digital_economy_2021"),
    (r"知识产权\(?专利\)?密集型产业", "ip_intensive_2019"),
]
UNCODED_LISTS = r"先进制造业|现代服务业|生产性服务业|重点服务业|现代物流|重点产业|主导产业|标志性产业链|千亿产业|优势产业|传统优势产业|新兴产业|特色产业|未来产业"


@cache
def _section_names() -> dict[str, str]:
    from quanhuiqi.reference.industries import industry_table

    tab = industry_table()
    return {str(c): str(n) for c, n, lvl in zip(tab["code"], tab["name"], tab["level"], strict=True) if lvl == 1}


@cache
def _sei_items() -> dict[str, str]:
    """战略性新兴产业 item names (its 9 大类) → item code, for 'X、Y等战略性新兴产业'."""
    try:
        from quanhuiqi.reference._files import read_reference_csv

        df = read_reference_csv("sei_2018_gbt4754.csv")
    except (FileNotFoundError, OSError):
        return {}
    top = df[df["level"].astype(str) == "1"]
    out = {}
    for code, name in zip(top["list_code"], top["list_name"], strict=True):
        out[str(name).replace("产业", "")] = str(code)
    return out


def industries(text: str) -> list[Hit]:
    out: list[Hit] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return not any(x < b and a < y for x, y in taken)

    # a section letter written with its name: G交通运输、仓储和邮政业
    secs = _section_names()
    names_rx = "|".join(re.escape(n) for n in sorted(secs.values(), key=len, reverse=True))
    for m in re.finditer(rf"(?P<l>[A-T])(?:\s|门类|:)?(?P<n>{names_rx})", text):
        if secs.get(m.group("l")) == m.group("n"):
            out.append(Hit(m.start(), m.end(), "industry_scope",
                           {"field": "industry_code", "op": "under", "value": [m.group("l")]}, 0.95))
            taken.append((m.start(), m.end()))
    # a code written out: 行业代码51, 大类代码〔以下简称行业代码〕51
    for m in re.finditer(r"(?:行业|国民经济行业)?(?:大类|中类|小类|门类)?代码[^\d]{0,12}?(?P<c>\d{2,4})", text):
        from quanhuiqi.reference.industries import lookup_industry

        try:
            code = lookup_industry(m.group("c")).code
        except KeyError:
            continue
        a = m.start()
        name_before = re.search(r"([\u4e00-\u9fff]{2,8}业)\s*\(?$", text[max(0, a - 12) : a])
        if name_before:
            a = a - len(text[max(0, a - 12) : a]) + name_before.start()
        out.append(Hit(a, m.end(), "industry_scope", {"field": "industry_code", "op": "under", "value": [code]}, 0.95))
        taken.append((a, m.end()))
    for rx, codes, conf in SECTION_WORDS:
        for m in re.finditer(rx, text):
            if not free(m.start(), m.end()):
                continue
            out.append(Hit(m.start(), m.end(), "industry_scope",
                           {"field": "industry_code", "op": "under", "value": list(codes)}, conf))
            taken.append((m.start(), m.end()))
    for rx, name in NAMED_LISTS:
        for m in re.finditer(rx, text):
            if not free(m.start(), m.end()):
                continue
            value: Any = name
            if name == "digital_economy_2021/core":
                value = [f"digital_economy_2021/{k:02d}" for k in range(1, 5)]
            elif name == "sei_2018":
                items = _sei_subitems(text, m.start())
                if items:
                    value = items
            out.append(Hit(m.start(), m.end(), "industry_list",
                           {"field": "industry_code", "op": "in_list", "value": value}, 0.75,
                           note="named NBS list; partial classes stay unknown"))
            taken.append((m.start(), m.end()))
    out.extend(_industry_names(text, taken))
    out.extend(_bare_list_items(text, out))
    for h in out:
        if re.match(r"(?:还|另|则)?(?:须|应|需|必须|应当)(?:为|是|具备|具有|取得|达到|获得|通过)", text[h.end : h.end + 4]):
            h.extra["subject"] = True
    return out


def _bare_list_items(text: str, found: list[Hit]) -> list[Hit]:
    """'房地产、金融类企业', '批发、零售企业': the words listed before an industry that carries the
    suffix (企业, 类企业, 业, 行业) share it — each is an industry of its own when it reads as one."""
    out: list[Hit] = []
    for h in found:
        if h.atom.get("op") != "under":
            continue
        suffix = re.search(r"(类企业|企业|行业|业)$", text[h.start : h.end])
        if not suffix:
            continue
        pos = h.start
        while True:
            m = re.search(r"(?:^|(?<=[、和及与或,;:\s非除含括于的]))(?P<tok>[\u4e00-\u9fff]{2,8})(?P<sep>[、和及与或])类?$", text[:pos])
            if not m or pos - m.start("tok") > 12:
                break
            tok = m.group("tok")
            codes = _word_codes(tok)
            if codes is None:
                break
            out.append(Hit(m.start("tok"), m.end("tok"), "industry_scope",
                           {"field": "industry_code", "op": "under", "value": codes}, 0.75,
                           note=f"{tok}: takes the suffix of the list it is in"))
            pos = m.start("tok")
    return out


def _word_codes(tok: str) -> list[str] | None:
    """An industry named by a bare word (房地产, 金融, 建筑) — read with the suffixes of a list."""
    for rx, codes, _ in SECTION_WORDS:
        for suf in ("企业", "业"):
            if re.fullmatch(rx, tok + suf):
                return list(codes)
    from quanhuiqi.profile.industry import _deepest_if_one_path, _exact_index, name_key

    key = name_key(tok + "业")
    codes = _exact_index().get(key) if key else None
    code = _deepest_if_one_path(codes) if codes else None
    return [str(code)] if code is not None else None


def _sei_subitems(text: str, pos: int) -> list[str]:
    """'新一代信息技术、高端装备、新材料…等战略性新兴产业' → the list's items named before it."""
    seg_start = max(text.rfind(c, 0, pos) for c in ";。\n:")
    seg = text[seg_start + 1 : pos]
    found = []
    for name, code in _sei_items().items():
        if name and name in seg:
            found.append(f"sei_2018/{code}")
    return sorted(set(found))


@cache
def _industry_name_rx() -> re.Pattern[str]:
    from quanhuiqi.profile.industry import _exact_index

    keys = [k for k in _exact_index() if len(k) >= 3]
    return re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))


@cache
def _key_last_chars() -> frozenset[str]:
    from quanhuiqi.profile.industry import _exact_index

    return frozenset(k[-1] for k in _exact_index() if k)


def _light_key(name: str) -> str:
    """:func:`quanhuiqi.profile.industry.name_key` of ``name + "业"`` for a run of Chinese characters of
    normalised text (no punctuation to drop), without its overhead."""
    s = re.sub(r"[和及与、]", "", name + "业")
    changed = True
    while changed:
        changed = False
        for suffix in ("企业", "行业", "公司", "单位", "类", "业"):
            if s.endswith(suffix) and len(s) > len(suffix):
                s = s[: -len(suffix)]
                changed = True
    return s


def _industry_names(text: str, taken: list[tuple[int, int]]) -> list[Hit]:
    """Standard GB/T 4754 names followed by 业/企业/行业: exact normalised names only (the profile's
    name key and its 2017/2011 index), precision first — no fuzzy guess inside running prose."""
    from quanhuiqi.profile.industry import _deepest_if_one_path, _exact_index

    exact = _exact_index()
    out = []
    # names of the standard may hold 、 (电力、热力生产和供应业); a run that is not one is retried shorter
    rx = re.compile(r"(?P<n>[\u4e00-\u9fff][\u4e00-\u9fff、]{2,18}?)(?:业|行业|企业|类企业)(?=[,、;。和及或与等的\)(]|$)")
    pos = 0
    last = _key_last_chars()
    while (m := rx.search(text, pos)) is not None:
        n = m.group("n")
        # the clause is normalised already: the name key without its overhead, and only for a run that
        # can end like a name of the standard
        key = _light_key(n) if (n[-1] in last or n[-1] in "业类企行司位") else None
        codes = exact.get(key) if key else None
        if not codes:
            pos = m.start() + 1  # the name may start later (在…纳税的软件和信息技术服务业企业)
            continue
        pos = m.end()
        code = _deepest_if_one_path(codes)
        if code is None or any(x < m.end() and m.start() < y for x, y in taken):
            continue
        out.append(Hit(m.start(), m.end(), "industry_scope",
                       {"field": "industry_code", "op": "under", "value": [str(code)]}, 0.8))
    return out


# ---- places -----------------------------------------------------------------------------------------

ROLES = [
    ("tax_location", "tax_district_code", r"税务征管关系|税收征管关系|税务登记|税收户管地|税收户管|税收关系|纳税关系|纳税地|纳税(?![总额人金比])"),
    ("stats_location", "stats_district_code", r"统计关系|统计核算关系|纳入[^,;。]{0,6}统计(?:范围|核算)?|统计(?:范围|在地)|(?<![的])统计(?![局核部])"),
    ("premises", "office_district_code", r"主要办公场所|办公场所|办公地址|经营场所|实际经营地"),
    ("registration_location", "district_code", r"工商注册地址|工商注册地|注册地址|注册地|工商登记注册|工商注册|登记注册|注册登记|注册经营|注册成立|依法注册|注册|登记|设立|落户|成立"),
]
_ROLE_RX = re.compile("|".join(f"(?P<{k}>{rx})" for k, _, rx in ROLES))
_ROLE_FIELD = {k: f for k, f, _ in ROLES}


def places(text: str, jurisdiction: str | None) -> list[Hit]:
    """A place with its roles: '工商注册地、税务征管关系及统计关系在南沙区' → three atoms.

    The roles are looked for in the phrase around the place (up to the nearest ',;。'); a place
    whose phrase names no role but reads as the enterprise's home (本区企业, 在本市) is its
    registration, with lower confidence; a place that only qualifies a figure (在我区纳税总额,
    纳入我区统计核算的营业收入) is no location condition.
    """
    out: list[Hit] = []
    found = find_places(text, jurisdiction)
    for g, p in enumerate(found):
        a = max(text.rfind(c, 0, p.start) for c in ",;。\n:") + 1
        ends = [i for i in (text.find(c, p.end) for c in ",;。\n") if i >= 0]
        b = min(ends) if ends else len(text)
        # another place in the same phrase splits it: each takes the roles on its own side
        others = [q for q in found if q is not p and a <= q.start < b]
        for q in others:
            if q.end <= p.start and q.end > a and not _only_context(text, q, p):
                a = q.end
            elif q.start >= p.end and not _only_context(text, p, q):
                b = min(b, q.start)
        phrase = text[a:b]
        sent = text[max(text.rfind(c, 0, p.start) for c in ";。\n") + 1 : p.end + 8]
        if re.search(r"承诺|不迁出|不迁离|迁出|退回", sent) and not re.search(r"迁入|落户", sent):
            continue  # a commitment to stay is an attestation, not a location condition
        if re.match(r"(?:以外|之外|外)", text[p.end : p.end + 2]) or text[max(0, p.start - 1) : p.start] in ("由", "从"):
            continue  # the origin of a move (由广州市以外地区迁入): see relocations()
        if re.search(r"(?:含|包括)$", text[max(0, p.start - 3) : p.start].replace("(", "")) or \
                text[max(0, p.start - 1) : p.start] == "(":
            continue  # (含深汕特别合作区): a clarification, not a condition of its own
        if re.search(r"(?:纳税|税收|统计核算|经济贡献|财政贡献|营业收入|采购|购买|生产的|范围内的?(?:营业|销售))", text[p.end : p.end + 8]) \
                and not re.search(r"范围内$|行政区域内$|内$", text[p.end : p.end + 6].split(",")[0][:6]):
            if re.search(r"^(?:的)?(?:纳税总额|纳税额|经济贡献|财政贡献|统计核算的|营业收入)|^内?制造业企业(?:生产|购买)", text[p.end : p.end + 8]):
                continue
        roles = []
        for m in _ROLE_RX.finditer(phrase):
            kind = m.lastgroup
            tail = phrase[m.end() : m.end() + 3]
            if kind == "tax_location" and re.match(r"(?:总额|额|金额|信用)", tail):
                continue
            if kind == "stats_location" and re.match(r"(?:核算的|的营业|局)", tail):
                continue
            roles.append((kind, a + m.start(), a + m.end()))
        kinds = list(dict.fromkeys(k for k, _, _ in roles))
        if not kinds:
            pre = text[max(0, p.start - 2) : p.start]
            post = text[p.end : p.end + 10]
            home = re.search(r"在$|对$", pre) is not None or re.match(
                r"(?:的)?[^,;。]{0,14}企业|(?:范围|行政区域|辖区)内|内", post) is not None
            if not (re.search(r"在$|对$", pre) or re.match(r"(?:新认定|内|的|范围|行政区域|辖区)", post)) or not home:
                continue
            kinds = ["registration_location"]
            conf = 0.6
        else:
            conf = min(0.9, p.confidence)
        lo = min([p.start] + [s for _, s, _ in roles])
        hi = max([p.end] + [e for _, _, e in roles])
        hi = _extend_within(text, hi)
        for kind in kinds:
            atom = {"field": _ROLE_FIELD[kind], "op": "under", "value": [p.prefix]}
            note = "" if kind == "registration_location" or _ROLE_FIELD[kind] == "district_code" else ""
            out.append(Hit(lo, hi, kind, atom, conf, note=note, group=g + 1, extra={"place": p.name}))
    return out


_MOVE = re.compile(r"(?:新)?(?:迁入|落户|迁至|变更至|整体迁移至|搬迁至|新引进)(?![奖补])"
                   r"(?![^,;。]{0,6}(?:人才|博士|硕士|研究生|毕业生|团队|专家|人员|院士|高层次|技能))")  # 引进人才: people


def relocations(text: str, jurisdiction: str | None) -> list[Hit]:
    """迁入/落户 in a sentence → one moved_in milestone: window from the dates of the sentence, the
    origin (由广州市以外地区) as ``detail_not_under``."""
    out = []
    for sent in re.finditer(r"[^。;\n]+", text):
        s = sent.group()
        m = _MOVE.search(s)
        if not m or re.search(r"不迁|承诺", s[max(0, m.start() - 12) : m.end()]):
            continue
        if re.search(r"迁入时|落户时", s[m.start() : m.end() + 1]) and not _MOVE.search(s, m.end()):
            continue
        a = sent.start() + m.start()
        window = _dates_window(s) or {"year": "this"}
        atom: dict[str, Any] = {"field": "milestone", "op": "first_in", "item": "moved_in", "window": window}
        origin = re.search(r"(?:由|从)(?P<p>[^,;。]{2,12}?)(?:以外|之外|外)(?:地区)?", s)
        end = sent.start() + m.end()
        if origin:
            ps = find_places(origin.group("p"), jurisdiction)
            if ps:
                atom["where"] = {"detail_not_under": [ps[0].prefix]}
            a = min(a, sent.start() + origin.start())
        dm = _RANGE.search(s) or re.search(r"(?:19|20)\d{2}年(?:度)?", s)
        if dm:
            end = max(end, sent.start() + dm.end())
        out.append(Hit(a, end, "event_relocation", atom, 0.65,
                       note="迁入/落户: the window is the policy year unless the text names dates"))
    return out


def _only_context(text: str, first: Place, second: Place) -> bool:
    """广州市南沙区: the first place only locates the second (adjacent, parent code)."""
    return second.start - first.end <= 1 and second.prefix.startswith(first.prefix)


def _extend_within(text: str, pos: int) -> int:
    m = re.match(r"(?:的)?(?:范围内|行政区域内|辖区内|区域内|境内|内)", text[pos:])
    return pos + m.end() if m else pos


_DATE = r"(?P<{p}y>(?:19|20)\d{{2}})年(?:(?P<{p}m>\d{{1,2}})月(?:(?P<{p}d>\d{{1,2}})日)?)?"
_RANGE = re.compile(_DATE.format(p="a") + r"(?:至|到|-|—|~|起至)" + _DATE.format(p="b"))


def _dates_window(text: str) -> dict[str, Any] | None:
    import calendar

    m = _RANGE.search(text)
    if m:
        ay, am, ad = int(m["ay"]), int(m["am"] or 1), int(m["ad"] or 1)
        by, bm = int(m["by"]), int(m["bm"] or 12)
        bd = int(m["bd"] or calendar.monthrange(by, bm)[1])
        return {"from": f"{ay:04d}-{am:02d}-{ad:02d}", "to": f"{by:04d}-{bm:02d}-{bd:02d}"}
    y = re.search(r"((?:19|20)\d{2})年(?:度)?", text)
    if y:
        return {"year": int(y.group(1))}
    return None


def events(text: str) -> list[Hit]:
    """Dated events that are not a certification or a place: 个转企, listing, first crossing."""
    out = []
    for m in re.finditer(r"个转企|个体工商户(?:转型|转为|升级)(?:为)?企业", text):
        seg_start = max(text.rfind(c, 0, m.start()) for c in ",;。\n") + 1
        window = _dates_window(text[seg_start : m.end()]) or _year_span(text[seg_start : m.end()])
        atom: dict[str, Any] = {"field": "milestone", "op": "occurred_in", "item": "individual_to_enterprise"}
        if window:
            atom["window"] = window
        out.append(Hit(seg_start, m.end(), "event_conversion", atom, 0.7))
    return out


# 2024年1月1日以后在南昌市新注册设立的企业, 2020年1月1日(含)之后成立: a bound on the date of establishment
_FOUNDED = re.compile(_DATE.format(p="") + r"(?P<incl>\((?:含|不含)\))?(?P<dir>以后|之后|后|起|以来|以前|之前|前)"
                      r"(?:[^,;。\n]{0,12}?)(?:新)?(?:注册成立|注册设立|注册登记|登记注册|成立|设立|注册)(?![地资址号])")


def founding_dates(text: str) -> list[Hit]:
    """A date with 以后/之前 before 注册/成立/设立 bounds ``established_on`` — the day itself counts
    unless (不含) says otherwise; a month or year alone bounds at its first (or last) day."""
    import calendar

    out = []
    for m in _FOUNDED.finditer(text):
        rest = text[m.end() : m.end() + 16]
        if re.match(r"[^,;。\n]{0,4}?(?:或|及|和|、)[^,;。\n]{0,8}?(?:迁入|落户|迁移|引进|转入)", rest):
            continue  # 2024年1月1日以后新注册或从市外迁入的企业: the date bounds an arrival, not the founding
        y, mo = int(m["y"]), int(m["m"] or 0)
        after = m["dir"] in ("以后", "之后", "后", "起", "以来")
        try:
            if after:
                d = dt.date(y, mo or 1, int(m["d"] or 1))
            else:
                mo2 = mo or 12
                d = dt.date(y, mo2, int(m["d"] or calendar.monthrange(y, mo2)[1]))
        except ValueError:
            continue  # 2月30日: no such day, left to the officer
        strict = (m["incl"] or "") == "(不含)"
        op = ("gt" if strict else "ge") if after else ("lt" if strict else "le")
        out.append(Hit(m.start(), m.end(), "age", {"field": "established_on", "op": op, "value": d.isoformat()}, 0.8))
    return out


_LISTINGS = [
    (re.compile(r"(?:于|在)?(?:国内|境内|境外|海外)?(?:主板|创业板|中小板|科创板|北交所|北京证券交易所|境外|香港|纽约|纳斯达克|"
                r"(?:沪深北?|上海|深圳|北京|上交所|深交所)?(?:证券)?交易所)[^,;。]{0,6}?(?:首发)?上市"), "listed"),
    (re.compile(r"(?:于|在)?全国中小企业股份转让系统(?:挂牌|成功挂牌)|新三板(?:挂牌|成功挂牌)|在新三板挂牌"), "neeq_listed"),
    (re.compile(r"(?:于|在)?区域(?:性)?股权(?:交易)?(?:市场|中心)(?:挂牌|成功挂牌)"), "regional_equity_listed"),
]


def listings(text: str) -> list[Hit]:
    """上市 / 新三板挂牌 / 区域股权市场挂牌 → a milestone that occurred (window from the sentence's dates)."""
    out = []
    for rx, item in _LISTINGS:
        for m in rx.finditer(text):
            seg = _sentence_text(text, m.start())
            atom: dict[str, Any] = {"field": "milestone", "op": "occurred_in", "item": item}
            window = _dates_window(seg)
            if window:
                atom["window"] = window
            out.append(Hit(m.start(), m.end(), "listing_event", atom, 0.7))
    return out


def _sentence_text(text: str, pos: int) -> str:
    a = max(text.rfind(c, 0, pos) for c in ";。\n") + 1
    ends = [i for i in (text.find(c, pos) for c in ";。\n") if i >= 0]
    return text[a : min(ends) if ends else len(text)]


def _year_span(text: str) -> dict[str, Any] | None:
    m = re.search(r"((?:19|20)\d{2})\s*(?:—|-|~|至|到)\s*((?:19|20)\d{2})年", text)
    if m:
        return {"from": f"{m.group(1)}-01-01", "to": f"{m.group(2)}-12-31"}
    return None


# ---- thresholds ---------------------------------------------------------------------------------------

# metric words → (field, kind, approx note, yearly metric name)
METRICS = [
    (r"主营业务收入|主营收入", "revenue", "revenue_threshold", "主营业务收入 read as 营业收入", "main_revenue"),
    (r"营业总收入|营业收入|营收|经营收入", "revenue", "revenue_threshold", "", "revenue"),
    (r"销售总收入|销售收入|年销售额|销售额|销售总额|零售额|批发额|营业额", "revenue", "revenue_threshold",
     "销售收入/销售额 read as 营业收入", "revenue"),
    (r"工业总产值|总产值|工业产值|产值", "output_value", "output_value", "", "output_value"),
    (r"(?:研究开发|研发)(?:费用|投入|经费|支出)(?:总额)?|R&D(?:经费|投入)", "rd_expense", "rd_expense", "", "rd_expense"),
    (r"(?:地方|区级|市级|县级|本区)?(?:财政|经济)贡献(?:额)?|综合贡献", "tax_local", "local_economic_contribution", "", "tax_local"),
    (r"纳税总额|纳税额|缴纳税(?:收|金)|上缴税(?:收|金)|实缴税金|税收贡献|税收总额|纳税", "tax_paid", "tax_paid", "", "tax_total"),
    (r"注册资本|注册资金", "registered_capital", "registered_capital", "", None),
    (r"实缴资本|实收资本", "paid_in_capital", "paid_in_capital", "", None),
    (r"资产总额|总资产", "total_assets", "total_assets", "", "total_assets"),
    (r"采购额|采购总额|采购金额", "local_purchases", "procurement_volume", "", "local_purchases"),
    (r"股权融资", "equity_financing", "loan_or_financing", "", "equity_financing"),
    (r"出口额|出口总额|出口", "exports", "exports", "", "exports"),
    (r"裁员率", "layoff_rate", "social_insurance", "", None),
    (r"参保(?:人数|职工|员工|人员)|缴纳社(?:会)?保(?:险)?(?:的)?(?:人数|职工|员工)", "insured_employees", "social_insurance", "", None),
    (r"从业人员|从业人数|职工人数|员工人数|职工总数|吸纳就业|带动就业|用工人数|员工|职工|就业", "employees", "employees", "", "employees"),
    (r"发明专利", "invention_patents", "ip_count", "", None),
    (r"实用新型(?:专利)?", "utility_patents", "ip_count", "", None),
    (r"外观设计(?:专利)?", "design_patents", "ip_count", "", None),
    (r"软件著作权|软件著作", "software_copyrights", "ip_count", "", None),
]
YEARLY_ONLY = {"output_value", "tax_local", "local_purchases", "equity_financing", "exports"}
_METRIC_RX = re.compile("|".join(f"(?:{m[0]})" for m in METRICS))
_RATIO_RX = re.compile(
    r"(?P<num>(?:研究开发|研发)(?:费用|投入|经费|支出)(?:总额)?)[^,;。]{0,4}?占[^,;。]{0,12}?"
    r"(?:销售|营业|主营业务)(?:总)?收入(?:总额)?(?:的)?(?:比例|比重|比率)?"
)
_RATIO_OF_RX = re.compile(
    rf"(?:研究开发|研发)(?:费用|投入|经费|支出)(?:总额)?(?P<cmp>{PRE_CMP})[^,;。]{{0,8}}?(?:销售|营业|主营业务)(?:总)?收入(?:总额)?的$")
_AGE_RX = re.compile(r"(?:成立|注册成立|注册时间|注册(?![地资址号])|创办|设立|登记注册|创立|经营)(?:时间|年限)?")
_HIRES = re.compile(r"招用|招聘|录用|聘用|吸纳|新招|新增就业|接收")


def kind_of_metric(word: str) -> str | None:
    """The field a metric word names (营业收入 → revenue, 从业人员 → employees)."""
    spec = next((s for s in METRICS if re.fullmatch(s[0], word)), None)
    return spec[1] if spec else None


def _age_before(before: str) -> re.Match[str] | None:
    """The enterprise's age words just before a number of years (成立时间不超过5年, 注册成立满3年,
    正常经营6个月以上) — not a window (近两年内获得…) nor an age word far back in the phrase."""
    if re.search(r"(?:近|最近|过去|前|后|连续)$", before):
        return None
    found = list(_AGE_RX.finditer(before))
    m = found[-1] if found else None
    if m is None or len(before) - m.end() > 8:
        return None
    return m


def _sentence_start(text: str, pos: int) -> int:
    return max(text.rfind(c, 0, pos) for c in ";。\n") + 1
_GROWTH_RX = re.compile(r"(?:同比)?(?:增长率|增长|增速|增幅)")
_MULTI_YEAR = re.compile(r"(?:近|最近|连续|过去)(?P<n>[一二两三四五\d])(?:个)?(?:会计)?年(?:度)?")


def thresholds(text: str, context_metric: str | None = None) -> list[Hit]:
    """Every number with a unit and a comparator, tied to the metric written before it; a bare
    '比例不低于4%' takes the ratio named last (the bands of one rule)."""
    out: list[Hit] = []
    last_ratio = context_metric
    last_money: tuple[str, int] | None = None  # the metric word of the last sum of money, and where it ended
    for m in THRESHOLD.finditer(text):
        ctx = context_metric
        if ctx is None and last_ratio and re.search(r"(?:比例|比重|占比|比率)[^,;。]{0,4}$", text[_phrase_start(text, m.start()) : m.start()]):
            ctx = last_ratio
        # 营业收入5亿元以上的，奖励30万元；2亿元以上不足5亿元的，奖励20万元: a bare band in the same run of
        # tiers is a band of the figure named before
        money = None
        if last_money and re.fullmatch(r"\s*(?:对|其中)?(?:上一?年度|年度|年)?", text[_phrase_start(text, m.start()) : m.start()]) \
                and not re.search(r"[。\n]", text[last_money[1] : m.start()]):
            money = last_money[0]
        hit = _threshold(text, m, ctx, money)
        if hit is not None:
            out.extend(hit)
            for h in hit:
                if h.field in ("rd_ratio", "layoff_rate", "revenue_growth"):
                    last_ratio = h.field
                if h.field in _MONEY_CONTEXT and "measure" not in h.atom and "agg" not in h.atom:
                    words = list(_METRIC_RX.finditer(text, _phrase_start(text, h.start), m.start()))
                    if words:
                        last_money = (words[-1].group(), m.end())
                    elif last_money:
                        last_money = (last_money[0], m.end())
    return out


_MONEY_CONTEXT = ("revenue", "tax_paid", "rd_expense", "total_assets")


def _phrase_start(text: str, pos: int) -> int:
    return max(text.rfind(c, 0, pos) for c in ",;。\n:") + 1


def _threshold(text: str, m: re.Match[str], context_metric: str | None,
               money_metric: str | None = None) -> list[Hit] | None:
    pre, num, unit = m.group("pre"), m.group("num"), m.group("unit")
    post, incl = m.group("post"), m.group("incl1") or m.group("incl2") or m.group("incl3")
    v = parse_number(num)
    if v is None:
        return None
    if re.match(r"(?:美元|美金|欧元|港元|港币|日元|英镑|澳元)", text[m.start("unit") + len(unit or "") :]) \
            or re.match(r"(?:美元|美金|欧元|港元|港币|日元|英镑)", text[m.end() : m.end() + 2]):
        return None  # 500万美元: a foreign currency, not 万元 (no conversion is guessed)
    value, ukind = unit_value(v, unit)
    if ukind in ("count",) and unit not in ("项", "件"):
        return None
    if unit in ("年", "年度") and re.fullmatch(r"(?:19|20)\d{2}", num):
        return None  # a calendar year
    if unit == "月" and not pre and not post:
        return None
    ps = _phrase_start(text, m.start())
    before = text[ps : m.start()]
    after = text[m.end() : m.end() + 10]
    # a list of tier values (增长达到10%、16%、22%、28%以上): the loosest bound is the gate
    lst = re.search(rf"(?P<pre>{PRE_CMP})?(?P<list>(?:{NUM}(?:{UNIT})?、)+)$", before)
    if lst and not pre:
        vals = [parse_number(x) for x in re.findall(NUM, lst.group("list"))]
        vals = [x for x in vals if x is not None]
        if vals:
            pre = lst.group("pre")
            v = min(vals + [v]) if (comparator(pre, post, incl) or "ge") in ("ge", "gt") else max(vals + [v])
            value, ukind = unit_value(v, unit)
            before = before[: lst.start()]
    # the metric: a ratio phrase, else the nearest metric word before the number
    ratio = None
    for r in _RATIO_RX.finditer(before):
        ratio = r
    share = _RATIO_OF_RX.search(before)
    if share is not None and ukind == "ratio" and not pre:
        ratio, pre = share, share.group("cmp")  # 研发费用不低于营业收入的3%: the same ratio, said the other way
    metric = None
    for mm in _METRIC_RX.finditer(before):
        metric = mm
    if metric is not None and ukind == "ratio" and re.match(r"(?:总数|总额|人数)?的$", before[metric.end():]):
        rate = [r for r in _METRIC_RX.finditer(before[: metric.start()]) if r.group().endswith("率")]
        if rate:
            metric = rate[-1]  # 裁员率不高于职工总数的20%: the rate named first, the count is its base
    growth = _GROWTH_RX.search(before[metric.end():]) if metric else None
    if metric is not None and ratio is None and (
            re.search(r"(?:新增|增量|增加|净增|新招用?)(?:的)?$", before[: metric.start()])
            or (kind_of_metric(metric.group()) == "employees"
                and re.search(r"(?:新增|净增|新招用?)[^,;。]{0,12}$", before[: metric.start()]))):
        return None  # 新增吸纳就业人数5人以上, 新增营业收入: an increment, not the level of the figure (a todo)
    growth_at = None
    relaxed = re.search(r"(?:可|可以|则)?(?:放宽|降低|下调|调整|降)(?:至|到|为)$", before)
    if relaxed and metric is None and ratio is None and not pre:
        # '营业收入不低于3000万元，对…的企业，可放宽至1000万元': the bound of the figure named before, relaxed
        sent_start = _sentence_start(text, m.start())
        prior = list(THRESHOLD.finditer(text, sent_start, ps))
        for pm in reversed(prior):
            hs = _threshold(text, pm, context_metric)
            if hs and len(hs) == 1 and hs[0].atom.get("op") in ("ge", "gt", "le", "lt"):
                base = hs[0]
                atom = dict(base.atom)
                if ukind != _unit_kind_of(base.atom.get("field")):
                    return None
                atom["value"] = _num(value)
                return [Hit(ps + relaxed.start(), m.end(), base.kind, atom, base.confidence - 0.05,
                            note="放宽至: the bound said before, relaxed for the enterprises named")]
        return None
    if metric is None and ratio is None:
        # the subject after the number: 30人(含)以下的参保企业
        if ukind == "people" and re.match(r"(?:的)?参保(?:企业|单位)", after):
            field, kind, note = "insured_employees", "social_insurance", ""
        elif ukind == "months" and re.search(r"失业保险|社会保险|社保|参保", before):
            if _HIRES.search(_sentence_text(text, m.start())[: max(0, m.start() - _sentence_start(text, m.start()))]):
                return None  # 新招用…缴纳社会保险费满6个月: a condition on each hire (a todo), not the enterprise's
            field, kind, note = "insured_months", "social_insurance", ""
        elif ukind in ("years", "months") and _age_before(before):
            field, kind, note = "age_years", "age", ""
            if ukind == "months":
                value = round(value / 12, 4)  # 正常经营6个月以上: age in years
        elif ukind == "ratio" and context_metric:
            field, kind, note = context_metric, _kind_of(context_metric), ""
        elif ukind == "money" and money_metric and kind_of_metric(money_metric) in _MONEY_CONTEXT:
            _, field, kind, note, _yearly = next(sp for sp in METRICS if re.fullmatch(sp[0], money_metric))
        elif ukind == "ratio" and re.fullmatch(r"(?:且|并且|并|同时)?(?:同比|较上年|比上年)?(?:增长率?|增速|增幅)(?:需|须|应)?"
                                               r"(?:达到|不低于|超过|高于|在)?", before.strip()) \
                and (prior := list(_METRIC_RX.finditer(text, _sentence_start(text, m.start()), ps))) \
                and next(s for s in METRICS if re.fullmatch(s[0], prior[-1].group()))[1] == "revenue":
            # 营业收入达到5000万元以上，且同比增长不低于10%: the growth of the figure named just before
            field, kind, note = "revenue_growth", "revenue_growth", ""
            growth_at = ps + re.search(r"同比|较上年|比上年|增长|增速|增幅", before).start()
        elif ukind == "people" and re.search(r"吸纳|招用|带动|用工", before):
            field, kind, note = "employees", "employees", ""
        else:
            return None
        yearly = None
    elif ratio is not None and (metric is None or ratio.end() >= metric.end() or metric.start() >= ratio.start()):
        if ukind == "money":
            field, kind, note, yearly = "rd_expense", "rd_expense", "", "rd_expense"
        else:
            field, kind, note, yearly = "rd_ratio", "rd_ratio", "", None
    else:
        spec = next(s for s in METRICS if re.fullmatch(s[0], metric.group()))
        _, field, kind, note, yearly = spec
        between = before[metric.end():]
        if growth is None and ukind == "ratio" and field in ("revenue", "output_value") and \
                re.search(r"率|占比|比重|比例|占|的$", between):
            return None  # 营业收入利润率不低于5%: another ratio named after the figure, not its growth
        if growth is not None and re.search(r"(?:年均|平均|复合)(?:增长|增速|增幅)|年复合", between):
            return None  # 近三年营业收入年均增长15%: a mean over years whose window the text leaves open (a todo)
        if growth is not None or (ukind == "ratio" and field in ("revenue", "output_value")):
            if field == "revenue":
                field, kind, yearly = "revenue_growth", "revenue_growth", None
            elif yearly:
                kind = kind if kind != "revenue_threshold" else "revenue_growth"
            else:
                return None
            growth = True
        if field in ("invention_patents", "utility_patents", "design_patents", "software_copyrights") and ukind not in ("count",):
            return None
    if field in ("revenue", "rd_expense", "tax_paid", "registered_capital", "paid_in_capital", "total_assets",
                 "output_value", "tax_local", "local_purchases", "equity_financing", "exports") and ukind != "money":
        if not (growth and ukind == "ratio"):
            return None
    if field in ("employees", "insured_employees") and ukind != "people":
        return None
    if field in ("rd_ratio", "layoff_rate", "revenue_growth") and ukind != "ratio":
        return None
    if field == "age_years" and ukind not in ("years", "months"):
        return None
    if field == "insured_months" and ukind != "months":
        return None
    # the comparator; 'N年以内' with 成立: le; a bare number is 'at least' only after 达到/在…以上
    ops = []
    if m.group("num2"):
        v2 = parse_number(m.group("num2"))
        if v2 is None:
            return None
        hi, _ = unit_value(v2, m.group("unit2") or unit)
        lo_op = "gt" if (m.group("incl1") or "").startswith("(不含") else "ge"
        hi_op = "lt" if (m.group("incl2") or m.group("incl3") or "").startswith("(不含") else "le"
        if post in ("以上",):
            hi_op = None
        ops = [(lo_op, value)] + ([(hi_op, hi)] if hi_op else [])
    else:
        op = comparator(pre, post, incl)
        if op is None:
            tail = re.match(r"(?:或|及)?(?:以上|以下)", after)
            if field == "age_years" and re.match(r"内", after):
                op = "le"
            elif tail:
                op = "ge" if "上" in tail.group() else "le"
            elif re.search(r"(?:达到|超过|不低于|突破)$", before):
                op = "ge"
            elif text[m.start() - 1 : m.start()] == "(" and re.search(PRE_CMP, before):
                # 不高于上年度全国城镇调查失业率控制目标(5.5%): the figure in brackets after the words
                word = re.findall(PRE_CMP, before)[-1]
                op = comparator(word, None, incl)
                if op is None:
                    return None
            elif ukind == "ratio" and (cmp_base := re.search(rf"(?P<w>{PRE_CMP})[\u4e00-\u9fff]{{2,12}}的$", before)):
                # 裁员率不高于职工总数的20%: the comparator is said before the base of the ratio
                op = comparator(cmp_base.group("w"), None, incl)
                if op is None:
                    return None
            else:
                return None
        ops = [(op, value)]
    span_start = ratio.start() + ps if ratio is not None and (metric is None or ratio.start() <= metric.start()) else (
        metric.start() + ps if metric is not None else m.start())
    if growth_at is not None:
        span_start = growth_at
    elif metric is not None and ratio is None and THRESHOLD.search(before, metric.end()):
        span_start = m.start()  # 营业收入在1000万元以上、2000万元以下: the second bound spans itself only

    if field == "age_years":
        age = _age_before(before)
        span_start = ps + age.start() if age else m.start()
    if field == "insured_employees" and metric is None:
        span_start = m.start()
    span_end = m.end()
    if field == "insured_employees" and metric is None:
        span_end = m.end() + (re.match(r"(?:的)?参保(?:企业|单位)", after).end())
    # years: 2021年度营业收入, 近三年研发投入合计, 连续两年增速
    ystart = max(ps - 12, 0) if text[ps - 1 : ps] == "(" else ps
    year_text = text[ystart : span_start if span_start > ps else m.start()] + text[span_start : m.start()]
    yr = re.search(r"((?:19|20)\d{2})年(?:度)?", year_text)
    multi = _MULTI_YEAR.search(year_text)
    hits = []
    for op, val in ops:
        atom: dict[str, Any] = {"field": field, "op": op, "value": _num(val)}
        conf = 0.85 if not note else 0.75
        extra_note = note
        if field == "revenue_growth" and multi and multi.group().startswith("连续"):
            atom = {"field": "revenue", "measure": "growth", "years": int(parse_number(multi.group("n")) or 2),
                    "agg": "each", "op": op, "value": _num(val)}
        elif growth and yearly and field != "revenue_growth":
            atom = {"field": yearly, "measure": "growth", "year": int(yr.group(1)) if yr else "last", "op": op,
                    "value": _num(val)}
        elif multi and yearly and re.search(r"总额|合计|累计|共计|支出额|总和", text[ps:m.start()]) and not multi.group().startswith("连续"):
            atom = {"field": yearly, "years": int(parse_number(multi.group("n")) or 3), "agg": "sum", "op": op,
                    "value": _num(val)}
            kind = "multi_year_rd" if field == "rd_expense" else kind
        elif field in YEARLY_ONLY:
            atom = {"field": yearly, "year": int(yr.group(1)) if yr else "last", "op": op, "value": _num(val)}
        elif yr and yearly and field in ("revenue", "rd_expense", "total_assets", "employees"):
            atom = {"field": yearly if yearly != "main_revenue" else "revenue", "year": int(yr.group(1)), "op": op,
                    "value": _num(val)}
        first = re.search(r"首次(?:实现)?[^,;。]{0,8}?(?:突破|超过|达到|迈上|跨越)", text[ps : m.end()])
        if first and field in YEARLY_ONLY and yearly and op in ("ge", "gt") and not growth:
            # 总产值首次突破10亿元: the figure's year at or above, every earlier year below
            hits.append(Hit(span_start, span_end, "event_first_time",
                            {"field": yearly, "year": "last-1", "years": "all", "agg": "max",
                             "op": "lt" if op == "ge" else "le", "value": _num(val)}, conf - 0.1,
                            note="首次突破: every earlier year below the bound"))
        if first and field == "revenue" and op in ("ge", "gt") and not yr:
            # 首次突破1亿元: this year at or above, every earlier year below (the language's first crossing)
            metric_field = "main_revenue" if metric is not None and "主营" in metric.group() else "revenue"
            atom = {"field": metric_field, "year": "last", "op": op, "value": _num(val)}
            hits.append(Hit(span_start, span_end, "event_first_time",
                            {"field": metric_field, "year": "last-1", "years": "all", "agg": "max",
                             "op": "lt" if op == "ge" else "le", "value": _num(val)}, conf - 0.1,
                            note="首次突破: every earlier year below the bound"))
            extra_note = ""
        if re.search(r"原则上", text[ps:m.start()]):
            conf -= 0.1
            extra_note = (extra_note + "; " if extra_note else "") + "原则上: soft in the text"
        if kind in ("revenue_threshold",) and op in ("le", "lt"):
            kind = "revenue_cap"
        hits.append(Hit(span_start, span_end, kind, atom, conf, note=extra_note))
    return hits


def _unit_kind_of(field: str | None) -> str | None:
    """The unit kind a field's figures are written in (万元 → money, % → ratio, 人 → people)."""
    if field in ("rd_ratio", "layoff_rate", "revenue_growth"):
        return "ratio"
    if field in ("employees", "insured_employees"):
        return "people"
    if field == "age_years":
        return "years"
    if field == "insured_months":
        return "months"
    return "money"


def _kind_of(field: str) -> str:
    return {"rd_ratio": "rd_ratio", "layoff_rate": "social_insurance", "revenue_growth": "revenue_growth"}.get(field, field)


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 10)


def context_metric_of(text: str) -> str | None:
    """An item that announces a rule for its sub-items (研发费用占销售收入的比例符合如下要求) names
    the metric its children's bare figures (不低于6%) refer to."""
    if not re.search(r"(?:如下|下列|以下)(?:要求|标准|条件)?[:]?\s*$", text.strip()):
        return None
    if _RATIO_RX.search(text):
        return "rd_ratio"
    if re.search(r"裁员率", text):
        return "layoff_rate"
    if re.search(r"增长|增速", text):
        return "revenue_growth"
    return None


# ---- everything -----------------------------------------------------------------------------------

_NEG_BEFORE = re.compile(r"(?:不含|不包括|不包含|除|非|不属于|不得为|不是)$")
_NEG_AFTER = re.compile(r"^(?:等)?(?:除外|不在此列|不属于支持范围|不予支持)")
# an industry with its noun: 属于房地产业、金融业的企业除外 (not for other kinds: 派遣到小微企业的除外 speaks of the hires)
_NEG_AFTER_INDUSTRY = re.compile(r"^(?:等)?(?:的)?(?:类)?(?:企业|行业|单位)?(?:等)?(?:除外|不在此列|不属于支持范围|不予支持)")
# the negation of a list reaches every item: 非房地产、金融类企业; 不含批发、零售企业; 房地产、金融企业除外
_NEG_LIST_BEFORE = re.compile(r"(?:不含|不包括|不包含|除|非|不属于|不得为|不是)(?:[\u4e00-\u9fff]{1,10}?[、和及与或])+类?$")
_NEG_LIST_AFTER = re.compile(r"^(?:[、和及与或][\u4e00-\u9fff]{1,10}?)+?(?:等)?(?:类)?(?:企业|行业|业)?(?:等)?(?:除外|不在此列|不属于支持范围|不予支持)")
_NEGATE_OP = {"under": "not_under", "in_list": "not_in_list", "in": "not_in", "eq": "ne", "has": None,
              "not_under": "under", "ne": "eq"}


def negated_atom(atom: dict[str, Any]) -> dict[str, Any] | None:
    """The atom that says the opposite (under → not_under, ge → lt, eq true → eq false), or None when
    only a ``not`` around it can (a designation held)."""
    op, v = atom.get("op"), atom.get("value")
    if op == "eq" and isinstance(v, bool):
        return {**atom, "value": not v}
    flip = {**_NEGATE_OP, "ge": "lt", "gt": "le", "le": "gt", "lt": "ge", "not_in": "in"}.get(str(op))
    return {**atom, "op": flip} if flip else None


def negate_exclusions(text: str, hits: list[Hit]) -> list[Hit]:
    """房地产企业除外, 不含劳务派遣, 非国有: the atom is negated (not_under, ne …)."""
    for h in hits:
        if h.role != "cond" or "op" not in h.atom or h.field in ("penalty",) or h.kind == "event_first_time":
            continue
        before = text[max(0, h.start - 4) : h.start]
        after = text[h.end : h.end + 8].lstrip(")")
        neg_after = (_NEG_AFTER_INDUSTRY if h.kind.startswith("industry") else _NEG_AFTER).match(after)
        neg = _NEG_BEFORE.search(before) is not None or neg_after is not None
        in_list = False
        if not neg and h.kind.startswith("industry"):
            in_list = bool(_NEG_LIST_BEFORE.search(text[_phrase_start(text, h.start) : h.start])
                           or _NEG_LIST_AFTER.match(text[h.end : h.end + 40]))
        if not neg and not in_list:
            continue
        op = h.atom["op"]
        new = _NEGATE_OP.get(op)
        if new is None:
            if h.field in ("certificate", "certifications", "milestone"):
                h.extra["not"] = True  # 非总部型企业: not (held headquarters)
            else:
                continue
        else:
            h.atom = {**h.atom, "op": new}
        h.kind = "industry_exclusion" if h.kind.startswith("industry") else h.kind
        if in_list:
            continue  # the negation word is another item's neighbour: the span stays the item's
        m = neg_after
        if m:
            h.end = h.end + (len(text[h.end : h.end + 8]) - len(after)) + m.end()
        else:
            h.start -= len(_NEG_BEFORE.search(before).group())
    return hits


def in_headings(text: str) -> list[tuple[int, int]]:
    """【落户奖】-style headings name a reward and 《…》 names a document (《天津市总部企业认定办法》,
    《高新技术企业认定管理办法》): the words inside are names, they hold no condition."""
    return [(m.start(), m.end()) for m in re.finditer(r"【[^】]{1,20}】|《[^》]{1,60}》", text)]


def recognise(text: str, jurisdiction: str | None = None) -> list[Hit]:
    """Every recogniser over one normalised text; overlaps are settled by :func:`resolve_overlaps`."""
    hits: list[Hit] = []
    hits += certifications(text)
    hits += attestations(text)
    hits += policy_rules(text)
    hits += conditions_misc(text)
    hits += penalties(text)
    hits += industries(text)
    hits += places(text, jurisdiction)
    hits += relocations(text, jurisdiction)
    hits += events(text)
    hits += founding_dates(text)
    hits += listings(text)
    heads = in_headings(text)
    hits = [h for h in hits if not any(a <= h.start < b for a, b in heads)]
    return negate_exclusions(text, hits)


def resolve_overlaps(hits: list[Hit]) -> list[Hit]:
    """Two hits over the same characters with different meanings: the longer (then surer) wins.

    Hits of one place (its roles) and an event that rides on another hit (新认定 beside the
    certification) are kept together; identical atoms keep the first.
    """
    keep: list[Hit] = []
    order = sorted(hits, key=lambda h: (-(h.end - h.start), -h.confidence, h.start))
    companion = {"event_first_time", "event_relocation", "above_scale"}
    for h in order:
        clash = False
        for k in keep:
            if k.start < h.end and h.start < k.end:
                if ("item" in h.atom and "item" in k.atom and h.atom["item"] != k.atom["item"]) or (
                        (h.start, h.end) == (k.start, k.end) and h.field == k.field and h.atom != k.atom):
                    continue  # events of two items named together; two bounds of one band
                if h.group and h.group == k.group:
                    continue
                if h.role != "cond" or k.role != "cond":
                    continue
                if h.kind in companion or k.kind in companion:
                    if h.kind != k.kind:
                        continue
                inside = k.start <= h.start and h.end <= k.end
                if _same_field_family(h, k) or (inside and k.kind == "certification_held"):
                    clash = True
                    break
        if not clash:
            keep.append(h)
    keep.sort(key=lambda h: (h.start, h.end))
    return keep


def _same_field_family(a: Hit, b: Hit) -> bool:
    return a.field == b.field or {a.kind, b.kind} <= {"industry_scope", "industry_list", "size_class", "certification_held"}
