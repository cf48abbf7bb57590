"""Personal data masked before an appeal is stored, logged, trained on or shown (§(二): 个人隐私保护).

What is masked, and how it is recognised (each kind gets its own placeholder, so a reader still sees
*that* a phone number was given):

=================  ================================================================================
``[手机号]``       mobile numbers: 11 digits 1[3-9]…, with or without +86, spaces or hyphens
``[固话]``         landlines with an area code (0531-88886666, (0531)8888 6666, 010xxxxxxxx), and 7–8 digit
                   local numbers after a phone cue (电话, 座机, 联系方式 …)
``[身份证号]``     ID-card numbers: 18 characters with a valid province code, birth date and GB 11643
                   check character (ISO 7064 MOD 11-2); 15-digit old numbers and any 18-digit number after
                   an ID cue (身份证, 证件号 …)
``[银行卡号]``     bank cards: 16–19 digits passing the Luhn check; any 12–25 digit number after a card cue
                   (银行卡, 卡号, 账号, 账户 …)
``[邮箱]``         e-mail addresses
``[姓名]``         a person's name after a cue (联系人, 经办人, 负责人, 法定代表人, 申请人, 本人, 我叫, 姓名 …):
                   a known surname followed by one or two characters (a bare surname — 王经理 — stays)
``[车牌号]``       plate numbers (鲁A12345, 鲁A·D12345, 挂/学/警 plates)
``[地址]``         the detailed part of an address: the house number after a road, village or estate name and
                   the building, unit and room that follow (经十路[地址]; the road stays for routing)
=================  ================================================================================

What is never masked: a valid 统一社会信用代码 (it names the enterprise, which is the point of the pool;
an 18-character number that is both a valid USCC and a valid ID number is masked only after an ID cue),
policy document numbers (济政办字〔2025〕23号, JN-RS-2025-001), amounts, dates and the 12345 hotline.
The recall and over-masking of these rules are measured on a generated set with planted personal data
(``benchmarks/appeals_privacy.py``; ``docs/appeals.md``).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from quanhuiqi.tables.parse import to_arrow

KINDS = ["mobile", "landline", "id_card", "bank_card", "email", "name", "plate", "address"]
PLACEHOLDER = {
    "mobile": "[手机号]",
    "landline": "[固话]",
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "email": "[邮箱]",
    "name": "[姓名]",
    "plate": "[车牌号]",
    "address": "[地址]",
}

# GB/T 2260 province-level codes (the first two digits of an ID number)
PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                       50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

ID_CUES = ("身份证", "证件号", "身份号", "公民身份号码", "身份证号码", "证号")
CARD_CUES = ("银行卡", "卡号", "账号", "帐号", "账户", "帐户", "开户行", "收款账", "银行账")
PHONE_CUES = ("电话", "座机", "联系方式", "手机", "固话", "tel", "Tel", "TEL", "致电", "来电", "号码")
NAME_CUES = ("法定代表人", "法人代表", "项目负责人", "财务负责人", "联系人员", "联系人", "联络人", "经办人",
             "负责人", "对接人", "申请人", "投诉人", "举报人", "反映人", "承办人", "代理人", "法人", "本人",
             "我叫", "姓名")
# words that end a name (a title, a verb, a connective) when they follow it
_NAME_STOPS = ("电话", "手机", "联系", "先生", "女士", "同志", "经理", "总经理", "主任", "老师", "师傅", "科长",
               "处长", "局长", "总监", "会计", "董事", "部长", "老板", "厂长", "律师", "等", "的", "和", "与",
               "及", "在", "说", "称", "反映", "表示", "已", "于", "向", "多次", "现", "负责", "为", "是", "同", "也",
               "都", "曾", "被", "将", "把", "对", "给", "从", "自", "因", "至", "今", "本", "该", "此", "姓")

_SURNAMES_1 = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练"
    "廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿"
    "鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
# surnames that are far more often a function word right after a cue (本人于…, 负责人向…, 法人代表和…)
# (于 and 曾 are common surnames and stay names; a person surnamed 向 or 和 right after a cue is missed)
_FUNCTION_CHARS = frozenset("和向以及与为在对将从由把被让给跟也都就才又还是有")
_SURNAMES_2 = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
               "令狐", "端木", "独孤", "南宫", "西门", "钟离", "澹台", "呼延", "轩辕")

_PROV = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLACE = (r"(?:大街|大道|胡同|小区|花园|家园|公寓|大厦|广场|园区|社区|新村|新城|产业园|工业园|号院|[路街巷弄村苑庄里])")
_UNIT = r"(?:[A-Za-z]?\d+(?:号楼|号院|栋|幢|座|单元|层|楼|室|户|号|门))"

_ALTERNATIVES = (
    "|".join(
        [
            r"(?P<email>[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})",
            rf"(?P<plate>(?<![A-Za-z0-9])[{_PROV}][A-HJ-NP-Z][·•\s]?(?=[A-HJ-NP-Z0-9]*\d)[A-HJ-NP-Z0-9]{{4,6}}[挂学警港澳]?(?![A-Za-z0-9]))",
            r"(?P<paren>[（(]0\d{2,3}[）)]\s?\d{3,4}[\-\s]?\d{4}(?!\d))",
            rf"(?P<place>{_PLACE})(?P<addr>\d+(?:-\d+)?号(?:院|楼)?{_UNIT}*)",
            r"(?P<addr2>(?<![\d〕）)\]号第])\d+(?:号楼|栋|幢|座)\d+(?:单元|层)(?:\d+(?:室|户|号)?)?"
            r"|(?<![\d〕）)\]号第])\d+单元\d+(?:室|户|号)?)",
            r"(?P<num>(?<![0-9A-Za-z])\+?[0-9A-Za-z](?:[0-9A-Za-z]|[ \-](?=[0-9A-Za-z])){4,40}(?![0-9A-Za-z]))",
            "(?P<cue>" + "|".join(sorted(NAME_CUES, key=len, reverse=True)) + r")(?P<sep>[:：\s]*(?:是|为|叫)?[:：\s]*)"
            r"(?P<name>[\u4e00-\u9fff·]{1,4})",
        ]
    )
)
# every character a match of one of the alternatives can start with: a look-ahead on it lets Python's re
# reject most positions of a Chinese text with one class test instead of trying seven alternatives (the
# same matches, four times faster; each alternative's first character is in the class)
_FIRST = ("[\\dA-Za-z._%+\\-" + _PROV + "（("
          + "".join(sorted({w[0] for w in _PLACE.strip("(?:)").split("|") if not w.startswith("[")}))
          + "路街巷弄村苑庄里" + "".join(sorted({c[0] for c in NAME_CUES})) + "]")
_PATTERN = re.compile(f"(?={_FIRST})(?:{_ALTERNATIVES})")
# full-width ASCII (０-９, Ａ-Ｚ, ＠, （, ：…) and the ideographic space read as their ASCII forms — one
# character for one, so spans found on the translated text are spans of the original
_HALFWIDTH = {**{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}, 0x3000: 0x20}
_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")

# rows worth the Python pass: a run of 5+ digits, an @, a name cue, a plate, an address detail
_CANDIDATE = (
    r"\d{5}|\d[ \-]\d{3}|@|[０-９＠]|[" + _PROV + r"][A-HJ-NP-Z]|\d(?:号|栋|幢|座|单元)|"
    + "|".join(NAME_CUES)
)


def luhn_valid(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def id_card_valid(code: str) -> bool:
    """An 18-character 居民身份证号码: province, birth date and the GB 11643 check character."""
    if len(code) != 18 or not code[:17].isdigit() or code[17] not in "0123456789Xx":
        return False
    if int(code[:2]) not in PROVINCES:
        return False
    try:
        born = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    if not (1900 <= born.year <= 2030):
        return False
    s = sum(int(c) * w for c, w in zip(code[:17], _ID_WEIGHTS))
    return _ID_CHECK[s % 11] == code[17].upper()


def _old_id_valid(code: str) -> bool:
    if len(code) != 15 or not code.isdigit() or int(code[:2]) not in PROVINCES:
        return False
    try:
        dt.date(1900 + int(code[6:8]), int(code[8:10]), int(code[10:12]))
    except ValueError:
        return False
    return True


@cache
def _uscc_valid(code: str) -> bool:
    """One code through the same checks as :func:`quanhuiqi.tables.uscc.uscc_reason` (without a column)."""
    from quanhuiqi.tables.uscc import _ORG_VALUE, _PAIRS, _VALUE, ORG_WEIGHTS, WEIGHTS

    if len(code) != 18 or not code.isascii():
        return False
    v = [int(_VALUE[ord(c)]) for c in code]
    if 255 in v or not _PAIRS[v[0], v[1]] or any(x > 9 for x in v[2:8]):
        return False
    org = (11 - sum(int(_ORG_VALUE[ord(c)]) * int(w) for c, w in zip(code[8:16], ORG_WEIGHTS)) % 11) % 11
    if (10 if code[16] == "X" else (v[16] if v[16] <= 9 else -1)) != org:
        return False
    return v[17] == (31 - sum(x * int(w) for x, w in zip(v[:17], WEIGHTS)) % 31) % 31


def _before(text: str, start: int, cues: tuple[str, ...], width: int = 14) -> bool:
    window = text[max(0, start - width):start]
    return any(c in window for c in cues)


def classify_number(token: str, text: str = "", start: int = 0) -> str | None:
    """The kind of personal data a digit/letter run is (None: not personal data), given its context."""
    s = re.sub(r"[\s\-·]", "", token)
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("+"):
        return None
    up = s.upper()
    if len(up) == 18 and _uscc_valid(up):
        return "id_card" if (_before(text, start, ID_CUES) and id_card_valid(up)) else None
    if not s[:-1].isdigit():
        return None
    if len(s) == 18 and id_card_valid(s):
        return "id_card"
    if not s.isdigit():
        return "id_card" if (len(s) == 18 and _before(text, start, ID_CUES)) else None
    if len(s) == 13 and s.startswith("86") and re.fullmatch(r"1[3-9]\d{9}", s[2:]):
        return "mobile"
    if re.fullmatch(r"1[3-9]\d{9}", s):
        return "mobile"
    if re.fullmatch(r"0(?:10|2\d|[3-9]\d{2})\d{7,8}", s) and (("-" in token or " " in token) or len(s) in (11, 12)):
        return "landline"
    if _before(text, start, ID_CUES) and len(s) in (15, 18):
        return "id_card"
    if len(s) == 15 and _old_id_valid(s) and _before(text, start, ID_CUES + ("号",)):
        return "id_card"
    if _before(text, start, CARD_CUES) and 12 <= len(s) <= 25:
        return "bank_card"
    if 16 <= len(s) <= 19 and luhn_valid(s):
        return "bank_card"
    if len(s) in (7, 8) and s[0] != "0" and _before(text, start, PHONE_CUES, width=10):
        return "landline"
    return None


@cache
def _common_words() -> frozenset[str]:
    """Frequent two-character words of jieba's dictionary that are not person or place names (强烈, 房屋, 相关,
    曾经 …, frequency ≥ 500): a cue followed by one of them (本人强烈要求) introduces no name.  Rarer words
    (吴国) are left to be masked: a missed name costs more than a masked word."""
    from quanhuiqi.appeals.lexicon import jieba_table

    d = jieba_table()
    keep = (d["word"].str.len() == 2) & ~d["tag"].fillna("").str.slice(0, 2).isin(["nr", "ns"]) & (d["freq"] >= 500)
    keep &= d["tag"].notna()
    return frozenset(d.loc[keep, "word"].tolist())


_STOP = re.compile("|".join(sorted(_NAME_STOPS, key=len, reverse=True)))


def _name_part(candidate: str) -> str:
    """The person's name at the start of ``candidate`` (after a cue), or '' when it is not one."""
    stop = _STOP.search(candidate, 1)  # the leftmost stop word after the first character
    name = candidate[:stop.start()] if stop else candidate
    if name[:2] in _SURNAMES_2:
        return name[:4] if len(name) >= 3 else ""
    if (name[:1] not in _SURNAMES_1 or name[:1] in _FUNCTION_CHARS or len(name) < 2
            or name[:2] in _common_words()):
        return ""
    return name[:3]


def find_personal_data(text: str) -> list[tuple[int, int, str]]:
    """Spans ``(start, end, kind)`` of the personal data in one text, in order (never their values)."""
    spans: list[tuple[int, int, str]] = []
    if _FULLWIDTH.search(text):
        text = text.translate(_HALFWIDTH)
    for m in _PATTERN.finditer(text):
        kind = m.lastgroup
        if kind == "email":
            spans.append((m.start(), m.end(), "email"))
        elif kind == "plate":
            spans.append((m.start(), m.end(), "plate"))
        elif kind == "paren":
            spans.append((m.start(), m.end(), "landline"))
        elif kind in ("addr", "addr2"):
            spans.append((m.start(kind), m.end(kind), "address"))
        elif kind == "num":
            tok = m.group("num")
            got = classify_number(tok, text, m.start())
            if got:
                spans.append((m.start(), m.end(), got))
                continue
            offset = m.start()
            for part in re.finditer(r"\S+", tok):  # two numbers written side by side
                sub = part.group()
                got = classify_number(sub, text, offset + part.start())
                if got:
                    spans.append((offset + part.start(), offset + part.end(), got))
        elif m.group("cue") is not None:
            name = _name_part(m.group("name"))
            if name:
                start = m.start("name")
                spans.append((start, start + len(name), "name"))
    return spans


def mask_text(text: str) -> str:
    """One text with its personal data replaced by placeholders."""
    spans = find_personal_data(text)
    if not spans:
        return text
    out, last = [], 0
    for start, end, kind in spans:
        out.append(text[last:start])
        out.append(PLACEHOLDER[kind])
        last = end
    out.append(text[last:])
    return "".join(out)


def mask_personal_data(texts: pd.Series | str | None) -> pd.Series | str | None:
    """Texts with personal data replaced by ``[手机号]``, ``[身份证号]``, ``[姓名]`` …; missing stays missing.

    A whole column at once: a fast scan (pyarrow) picks the cells that could hold personal data, and
    only those go through the rules above.  A plain string gives a plain string.
    """
    if texts is None or isinstance(texts, str):
        return None if texts is None else mask_text(texts)
    s = texts.astype("string")
    if len(s) == 0:
        return s.copy()
    if len(s) <= 4:  # one appeal online: no columnar scan
        return pd.Series([mask_text(v) if isinstance(v, str) else None for v in s.astype(object)], index=s.index,
                         dtype="string")
    need = pc.fill_null(pc.match_substring_regex(to_arrow(s), _CANDIDATE), False).to_numpy(zero_copy_only=False)
    out = s.copy()
    if need.any():
        idx = np.flatnonzero(need)
        codes, distinct = pd.factorize(s.iloc[idx])  # each distinct text once (titles repeat a lot)
        masked = np.array([mask_text(v) for v in distinct.tolist()], dtype=object)
        out.iloc[idx] = masked[codes]
    return out


def personal_data_counts(texts: pd.Series) -> pd.DataFrame:
    """Per text, how many spans of each kind were found (for reports: counts, never values)."""
    rows = [[k for _, _, k in find_personal_data(t)] if isinstance(t, str) else [] for t in texts.tolist()]
    return pd.DataFrame({k: [r.count(k) for r in rows] for k in KINDS}, index=texts.index)
