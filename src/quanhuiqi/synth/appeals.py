"""Synthetic enterprise appeals (涉企诉求) of the synthetic city, tied to its real enterprises.

``generate_appeals(enterprises, seed, as_of, days)`` reads the enterprise table *as written* (the CSV a
city exports), so the same enterprises file always gives the same appeals.  Each appeal:

* comes from one enterprise of the table (USCC and district as its registry row has them; the mix of
  categories follows its industry section: factories write about 环保, 用地, 水电; logistics firms
  about 物流; software firms about 知识产权 and 科技);
* is written from the category's phrases (``synth/appeals_text.py``) with amounts, counts and places;
  8 % raise two topics (two departments: a coordinated case);
* carries planted personal data in 35 % of bodies (contact names, mobiles, landlines, e-mail, ID-card
  and bank-card numbers, plates, detailed addresses — their spans are in the truth) and, in 10 % each,
  a USCC or a policy document number that must *not* be masked;
* is received on a day drawn with the weekly and holiday rhythm of real appeal volume (:func:`day_rhythm`,
  shared with the planted issues), through a channel at a time of day, and moves through the workflow (转办, 联系, 办结,
  回访, 归档) in working time drawn per department; stages after ``as_of`` are not yet done, and the
  last day's appeals are new (no labels yet);
* is labelled as a dispatcher would (category, department from the shipped map, triage from the
  rules' situations plus urgent cases no rule names), with 2 % of labels wrong;
* is re-filed in 3 % of cases (same enterprise, 0.1–4 days later, exact or lightly edited text);
* and with ``mess=True`` a few rows are broken on purpose: no text, an unknown channel, an unreadable
  date, 办结 before 受理, a USCC with a wrong check character.

Returns the raw table (``APPEAL_COLUMNS``, CSV-ready text) and the truth (true category, departments and
triage, the copy links, the planted spans and the broken rows).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from quanhuiqi.appeals.columns import APPEAL_COLUMNS
from quanhuiqi.synth import appeals_text as T
from quanhuiqi.synth.enterprises import _T2S_SAMPLE, _district_names, _fullwidth

CHANNEL_P = {"平台": 0.5, "12345": 0.25, "窗口": 0.1, "走访": 0.08, "座谈": 0.05, "来信": 0.02}
# category mix by industry section (others: the base mix)
BASE_MIX = {"融资信贷": 9, "用工招工": 10, "政策兑现": 12, "审批办证": 10, "水电气暖": 6, "用地厂房": 5, "拖欠账款": 7,
            "知识产权": 4, "市场监管": 6, "税费": 8, "物流运输": 3, "环境保护": 4, "科技创新": 5, "外贸外资": 3,
            "涉企执法": 4}
SECTION_BOOST = {
    "C": {"环境保护": 3, "用地厂房": 2, "水电气暖": 2, "用工招工": 1.5},
    "G": {"物流运输": 6},
    "I": {"知识产权": 3, "科技创新": 3},
    "M": {"科技创新": 3, "知识产权": 2},
    "E": {"拖欠账款": 3, "审批办证": 1.5},
    "F": {"外贸外资": 3, "市场监管": 1.5},
    "H": {"市场监管": 2.5},
}
# median working days to resolve, per category (how hard the class of problem is)
RESOLVE_DAYS = {"融资信贷": 6, "用工招工": 4, "政策兑现": 7, "审批办证": 3, "水电气暖": 3, "用地厂房": 9, "拖欠账款": 11,
                "知识产权": 6, "市场监管": 4, "税费": 4, "物流运输": 3, "环境保护": 6, "科技创新": 4, "外贸外资": 5,
                "涉企执法": 4}
# Appeal volume of a kind of day (``quanhuiqi.appeals.trends.day_kinds``) relative to an ordinary working day
# (the mean of Monday … Friday is 1).  Measured, not assumed: 4,525 real 问政 messages of 2017-01 … 2020-01 (2020
# 泰迪杯 problem C, real posting times; ``benchmarks/appeals_day_rhythm.py``, results/appeals_day_rhythm.json),
# standardised by calendar month, 95 % intervals by a bootstrap over months: Mon 0.96 (0.88-1.04), Tue 1.13
# (1.05-1.20), Wed 1.08 (1.02-1.15), Thu 0.98 (0.92-1.05), Fri 0.85 (0.80-0.89), a weekend 0.54 (0.49-0.59, 271
# days), an official holiday on a working day 0.31 (0.24-0.37, 52 days), a 调休 working weekend 0.72 (0.56-0.95,
# 18 days; chinese-calendar's official calendar).  Weekend days inside a holiday period measured 0.44
# (0.27-0.66, 26 days), within the weekend's interval: they count as weekends, as ``day_kinds`` has them.
DAY_RHYTHM = {"mon": 0.96, "tue": 1.13, "wed": 1.08, "thu": 0.98, "fri": 0.85, "weekend": 0.54, "holiday": 0.31,
              "workday_weekend": 0.72}
LABEL_NOISE = 0.02
PII_SHARE = 0.35
DUPLICATE_SHARE = 0.03
MULTI_TOPIC = 0.08
GENERIC_TITLE = 0.12  # a title that names no problem (企业诉求反映)
VAGUE = 0.04  # a body that names none either


def _name(rng) -> str:
    return T.SURNAMES[rng.integers(len(T.SURNAMES))] + "".join(
        T.GIVEN[i] for i in rng.integers(len(T.GIVEN), size=int(rng.integers(1, 3))))


def _mobile(rng) -> str:
    digits = "1" + str(rng.choice([3, 5, 7, 8, 9])) + "".join(str(x) for x in rng.integers(10, size=9))
    style = rng.random()
    if style < 0.15:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if style < 0.25:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style < 0.32:
        return "+86" + digits
    return digits


def _landline(rng) -> str:
    local = str(rng.integers(2, 10)) + "".join(str(x) for x in rng.integers(10, size=7))
    style = rng.random()
    if style < 0.6:
        return f"0531-{local}"
    if style < 0.8:
        return f"(0531){local[:4]} {local[4:]}"
    return f"0531{local}"


def _id_card(rng) -> str:
    region = str(rng.choice(["370102", "370103", "370104", "370105", "370112", "370124", "110105", "320102"]))
    born = pd.Timestamp("1960-01-01") + pd.Timedelta(days=int(rng.integers(0, 16000)))
    body = region + born.strftime("%Y%m%d") + "".join(str(x) for x in rng.integers(10, size=3))
    s = sum(int(c) * w for c, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)))
    return body + "10X98765432"[s % 11]


def _bank_card(rng) -> str:
    n = int(rng.choice([16, 19]))
    body = "62" + "".join(str(x) for x in rng.integers(10, size=n - 3))
    for check in range(10):
        from quanhuiqi.appeals.privacy import luhn_valid

        if luhn_valid(body + str(check)):
            card = body + str(check)
            break
    if rng.random() < 0.3:
        return " ".join(card[i:i + 4] for i in range(0, len(card), 4))
    return card


def _plate(rng) -> str:
    tail = "".join(rng.choice(list("0123456789" + T.PLATE_LETTERS[:8]), size=4)) + str(rng.integers(10))
    return "鲁" + T.PLATE_LETTERS[rng.integers(16)] + tail


class _Text:
    """A text built from pieces, remembering where the planted spans are."""

    def __init__(self):
        self.parts: list[str] = []
        self.spans: list[list] = []
        self.length = 0

    def add(self, text: str, kind: str | None = None) -> None:
        if kind:
            self.spans.append([self.length, self.length + len(text), kind])
        self.parts.append(text)
        self.length += len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _plant_pii(rng, b: _Text, dist: str) -> None:
    k = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    kinds = rng.choice(["contact", "landline", "email", "id", "card", "plate", "address"], size=k, replace=False,
                       p=[0.34, 0.12, 0.1, 0.12, 0.1, 0.1, 0.12])
    for kind in kinds:
        if kind == "contact":
            cue = str(rng.choice(["联系人：", "联系人", "经办人：", "负责人", "联系人为"]))
            b.add(cue)
            b.add(_name(rng), "name")
            b.add(str(rng.choice(["，电话：", "，手机", "，联系电话", "，电话 "])))
            b.add(_mobile(rng), "mobile")
            b.add("。")
        elif kind == "landline":
            b.add(str(rng.choice(["公司座机：", "办公电话", "联系电话："])))
            b.add(_landline(rng), "landline")
            b.add("。")
        elif kind == "email":
            user = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=int(rng.integers(4, 9))))
            b.add(str(rng.choice(["邮箱：", "电子邮箱", "材料可发至"])))
            b.add(f"{user}{rng.integers(10, 99)}@{rng.choice(T.EMAIL_DOMAINS)}", "email")
            b.add("。")
        elif kind == "id":
            b.add(str(rng.choice(["法定代表人", "申请人"])))
            b.add(_name(rng), "name")
            b.add(str(rng.choice(["，身份证号", "，身份证号码：", "（", "，证件号码"])))
            b.add(_id_card(rng), "id_card")
            b.add("。")
        elif kind == "card":
            b.add(str(rng.choice(["收款账号：", "银行卡号", "工资卡号", "对公账户"])))
            b.add(_bank_card(rng), "bank_card")
            b.add("。")
        elif kind == "plate":
            b.add("车牌号为")
            b.add(_plate(rng), "plate")
            b.add("的货车被扣留。")
        else:
            b.add(f"公司地址：{dist}{rng.choice(T.ROADS)}")
            num = f"{rng.integers(1, 3000)}号"
            if rng.random() < 0.5:
                num += f"{rng.integers(1, 30)}号楼{rng.integers(1, 6)}单元{rng.integers(101, 2601)}室"
            b.add(num, "address")
            b.add("。")


def day_rhythm(days: pd.DatetimeIndex) -> np.ndarray:
    """Expected appeal volume of each day relative to an ordinary working day (:data:`DAY_RHYTHM`): the city's
    background appeals and its planted issues share it, so the rhythm a detector can estimate from the city's
    totals is the one every issue follows."""
    from quanhuiqi.appeals.trends import day_kinds

    return np.array([DAY_RHYTHM[k] for k in day_kinds(pd.DatetimeIndex(days))], dtype=float)


def _department(dm, category: str, district: str | None) -> str:
    return dm.districts.get(district or "", {}).get(category) or dm.city[category]


def _fill(rng, template: str, dist: str, large: bool) -> str:
    amt = float(np.round(np.exp(rng.normal(np.log(80), 1.0)), 0)) if not large else float(rng.integers(1000, 20000))
    return template.format(
        amt=f"{amt:g}", n=int(rng.integers(3, 200)), m=int(rng.integers(2, 13)), d=int(rng.integers(5, 90)),
        prod=str(rng.choice(T.PRODUCTS)), road=str(rng.choice(T.ROADS)), bank=str(rng.choice(T.BANKS)),
        dist=dist, year=int(rng.integers(2010, 2024)), kind=str(rng.choice(T.KINDS)),
    )


def generate_appeals(enterprises: pd.DataFrame, seed: int = 0, as_of: str = "2025-07-01", days: int = 120,
                     n: int | None = None, *, mess: bool = True, issues: int = 0,
                     bursts: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw appeals table, truth) for the enterprises of ``enterprises`` (the table as read from its CSV).

    ``n`` appeals over the ``days`` before ``as_of`` (default: 0.6 per enterprise row).  ``issues`` > 0 adds
    that many planted issues (``synth/appeals_issues.py``; ``bursts=False``: all steady) from their own
    random stream: the background rows are the same with or without them; the truth then has
    ``issue_true`` and ``truth.attrs["planted_issues"]`` the planted issues (records)."""
    from quanhuiqi.appeals.clock import WorkingCalendar, load_clock_config
    from quanhuiqi.appeals.departments import department_map
    from quanhuiqi.reference.industries import industry_hierarchy
    from quanhuiqi.tables import validate_enterprises

    rng = np.random.default_rng([seed, 41])
    as_of_ts = pd.Timestamp(as_of)
    clean = validate_enterprises(enterprises, as_of_ts.date(), source="enterprises").clean
    clean = clean.drop_duplicates("uscc").reset_index(drop=True)
    n = int(round(0.6 * len(enterprises))) if n is None else int(n)
    section = industry_hierarchy(clean["industry_code"].astype("string"))["industry_section"].astype("string")
    section = section.fillna("").to_numpy(dtype=object)
    dist_code = clean["district_code"].astype("string").to_numpy(dtype=object)
    usccs = clean["uscc"].astype(str).to_numpy(dtype=object)
    dnames = _district_names()
    # who writes: enterprises with more staff write more; some write often
    size = np.log1p(pd.to_numeric(clean["employees"], errors="coerce").fillna(10).to_numpy())
    activity = np.exp(rng.normal(0, 0.8, len(clean))) * (1 + size)
    who = rng.choice(len(clean), size=n, p=activity / activity.sum())
    cats = list(T.CATEGORIES)
    base = np.array([BASE_MIX[c] for c in cats], dtype=float)
    dm = department_map()
    # the handling times run up to 400 days on: a year the holiday package does not know yet counts
    # Monday-Friday (synthetic times, no deadline anyone reads; any as_of works, not only those 400 days
    # before the package's last year)
    cfg = {**load_clock_config(), "outside_known_years": "weekdays"}
    cal = WorkingCalendar.build(as_of_ts - pd.Timedelta(days=days + 2), as_of_ts + pd.Timedelta(days=400), cfg)

    # received times: a day (k = 1 … days before as_of, weighted by the day's rhythm), then a working-hours
    # time (70 %) or any time
    back = np.arange(days, 0, -1)
    weight = day_rhythm((as_of_ts - pd.to_timedelta(back, unit="D")).normalize())
    day = as_of_ts - pd.to_timedelta(back[rng.choice(days, size=n, p=weight / weight.sum())], unit="D")
    office = rng.random(n) < 0.7
    minute = np.where(office, rng.integers(9 * 60, 17 * 60, size=n), rng.integers(0, 24 * 60, size=n))
    received = (day + pd.to_timedelta(minute, unit="min") + pd.to_timedelta(rng.integers(0, 60, size=n), unit="s"))
    channels = rng.choice(list(CHANNEL_P), size=n, p=list(CHANNEL_P.values()))

    rows, truth = [], []
    for i in range(n):
        e = who[i]
        sec = section[e]
        w = base.copy()
        for c, f in SECTION_BOOST.get(sec, {}).items():
            w[cats.index(c)] *= f
        cat = cats[rng.choice(len(cats), p=w / w.sum())]
        second = None
        if rng.random() < MULTI_TOPIC:
            others = [c for c in cats if c != cat]
            second = others[rng.integers(len(others))]
        dcode = dist_code[e] if pd.notna(dist_code[e]) else None
        dname = dnames.get(dcode, "济南市") if dcode else "济南市"
        scen = rng.random()
        escalate = None
        if scen < 0.012:
            escalate = "停产停工"
        elif scen < 0.02:
            escalate = "欠薪涉及群体"
            cat = "用工招工"
        elif scen < 0.026:
            escalate = "安全事故"
        elif scen < 0.034:
            escalate = "多次反映"
        elif scen < 0.044 and cat in ("拖欠账款", "融资信贷", "政策兑现", "税费"):
            escalate = "大额"
        elif scen < 0.06:
            escalate = "hidden"
        coordinate = (not escalate) and rng.random() < 0.02
        spec = T.CATEGORIES[cat]
        title = dname[:2] * (rng.random() < 0.2) + str(rng.choice(spec["title"]))
        style = rng.random()
        if style < GENERIC_TITLE + VAGUE:
            title = str(rng.choice(T.GENERIC_TITLES))
        b = _Text()
        b.add(_fill(rng, str(rng.choice(T.OPENINGS)), dname, False))
        if rng.random() < 0.3:
            b.add(_fill(rng, str(rng.choice(T.CONTEXT)), dname, False))
        if style < VAGUE and not escalate:  # says nothing of its category: only a person can route it
            b.add(str(rng.choice(T.VAGUE_BODIES)) + "。")
        else:
            sentences = rng.choice(spec["body"], size=int(rng.integers(1, 3)), replace=False)
            for s in sentences:
                b.add(_fill(rng, str(s), dname, escalate == "大额") + "。")
        if second:
            b.add("另外，" + _fill(rng, str(rng.choice(T.CATEGORIES[second]["body"])), dname, False) + "。")
        if escalate in T.ESCALATE_TEXT:
            b.add(_fill(rng, str(rng.choice(T.ESCALATE_TEXT[escalate])), dname, False) + "。")
        elif escalate == "hidden":
            b.add(str(rng.choice(T.HIDDEN_URGENT)) + "。")
        if coordinate:
            b.add(str(rng.choice(T.COORDINATE_TEXT)) + "。")
        if rng.random() < 0.1:
            b.add(str(rng.choice(["我公司统一社会信用代码：", "（统一社会信用代码", "企业信用代码"])))
            b.add(usccs[e], "uscc")
            b.add("。")
        if rng.random() < 0.1:
            b.add("根据")
            b.add(str(rng.choice(T.POLICY_NUMBERS)), "policy_number")
            b.add("文件规定，")
        if rng.random() < PII_SHARE:
            _plant_pii(rng, b, dname)
        b.add(str(rng.choice(T.REQUESTS)))
        body = b.text()
        if rng.random() < 0.03:  # traditional characters (character by character: spans keep their place)
            title, body = title.translate(_T2S_SAMPLE), body.translate(_T2S_SAMPLE)
        if rng.random() < 0.02:
            body = _fullwidth(pd.Series([body])).iloc[0]
        dep1 = _department(dm, cat, dcode)
        deps = [dep1]
        if second:
            dep2 = _department(dm, second, dcode)
            if dep2 != dep1:
                deps.append(dep2)
        triage = "escalated" if escalate else ("coordinated" if (len(deps) > 1 or coordinate) else "direct")
        rows.append({"title": title, "body": body, "uscc": usccs[e], "district_code": dcode})
        truth.append({"category_true": cat, "second_category_true": second, "department_true": ";".join(deps),
                      "triage_true": triage, "escalation": escalate,
                      "pii": json.dumps([["body", *s] for s in b.spans if s[2] not in ("uscc", "policy_number")]),
                      "protected": json.dumps([["body", *s] for s in b.spans if s[2] in ("uscc", "policy_number")])})
    raw = pd.DataFrame(rows)
    tr = pd.DataFrame(truth)
    raw.insert(0, "received_at", received)
    raw.insert(1, "channel", channels)
    raw, tr = _copies(raw, tr, rng, as_of_ts)
    order = np.lexsort((np.arange(len(raw)), raw["received_at"].to_numpy()))
    raw, tr = raw.iloc[order].reset_index(drop=True), tr.iloc[order].reset_index(drop=True)
    ids = np.array([f"SQ{seed:02d}{i + 1:07d}" for i in range(len(raw))], dtype=object)
    raw.insert(0, "appeal_id", ids)
    tr.insert(0, "appeal_id", ids)
    new_pos = np.empty(len(order), dtype=np.int64)
    new_pos[order] = np.arange(len(order))
    src = raw["_src"].to_numpy()
    tr["duplicate_of_true"] = pd.array(np.where(src >= 0, ids[new_pos[np.maximum(src, 0)]], None), dtype="string")
    _repeats(raw, tr)
    _workflow(raw, tr, rng, cal, as_of_ts)
    _labels(raw, tr, rng, cats, dm)
    for c in ("received_at", "assigned_at", "first_contact_at", "resolved_at", "revisited_at", "closed_at"):
        raw[c] = raw[c].dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")
    tr["planted_error"] = pd.Series(pd.NA, index=tr.index, dtype="string")
    if mess:
        _mess(raw, tr, rng)
    raw = raw.assign(**{c: raw[c] if c in raw else pd.NA for c in APPEAL_COLUMNS})[APPEAL_COLUMNS]
    if issues:
        return _with_planted(raw.astype("string"), tr, clean, seed, as_of_ts, days, issues, bursts, cal, cats, dm)
    return raw.astype("string"), tr


def _with_planted(raw, tr, clean, seed, as_of_ts, days, issues, bursts, cal, cats, dm):
    """The background plus planted issues (own random streams), merged in time order; background order kept."""
    from quanhuiqi.profile import profile
    from quanhuiqi.synth.appeals_issues import plant_issues

    prof = profile(clean, as_of_ts.date())
    import sys

    prow, ptr, planted = plant_issues(prof, seed, as_of_ts, days, issues, bursts, writer=sys.modules[__name__])
    rng_p = np.random.default_rng([seed, 44])
    ptr["department_true"] = [_department(dm, c, d) for c, d in zip(ptr["category_true"], prow["district_code"])]
    ptr["triage_true"] = "direct"
    order = np.lexsort((np.arange(len(prow)), prow["received_at"].to_numpy()))
    prow, ptr = prow.iloc[order].reset_index(drop=True), ptr.iloc[order].reset_index(drop=True)
    ids = np.array([f"SQ{seed:02d}P{i + 1:06d}" for i in range(len(prow))], dtype=object)
    prow.insert(0, "appeal_id", ids)
    ptr.insert(0, "appeal_id", ids)
    prow["_src"] = -1
    _workflow(prow, ptr, rng_p, cal, as_of_ts)
    _labels(prow, ptr, rng_p, cats, dm)
    for c in ("received_at", "assigned_at", "first_contact_at", "resolved_at", "revisited_at", "closed_at"):
        prow[c] = prow[c].dt.strftime("%Y-%m-%d %H:%M:%S").astype("string")
    ptr["duplicate_of_true"] = pd.array([None] * len(ptr), dtype="string")
    ptr["planted_error"] = pd.array([None] * len(ptr), dtype="string")
    prow = prow.assign(**{c: prow[c] if c in prow else pd.NA for c in APPEAL_COLUMNS})[APPEAL_COLUMNS]
    tr = tr.assign(issue_true=pd.array([None] * len(tr), dtype="string"))
    ptr = ptr.reindex(columns=tr.columns)
    # merge by time: the background's own times (an unreadable one takes its predecessor's), planted after ties
    t_bg = pd.to_datetime(raw["received_at"], errors="coerce", format="%Y-%m-%d %H:%M:%S").ffill().bfill()
    t_pl = pd.to_datetime(prow["received_at"], format="%Y-%m-%d %H:%M:%S")
    times = np.concatenate([t_bg.to_numpy(dtype="datetime64[ns]"), t_pl.to_numpy(dtype="datetime64[ns]")])
    src = np.r_[np.zeros(len(raw), dtype=int), np.ones(len(prow), dtype=int)]
    pos = np.arange(len(times))
    merged_order = np.lexsort((pos, src, times))
    both = pd.concat([raw, prow.astype("string")], ignore_index=True).iloc[merged_order].reset_index(drop=True)
    truth = pd.concat([tr, ptr], ignore_index=True).iloc[merged_order].reset_index(drop=True)
    truth["issue_true"] = truth["issue_true"].astype("string")
    truth.attrs["planted_issues"] = planted.to_dict("records")  # plain records: the truth still writes to Parquet
    return both.astype("string"), truth


def _copies(raw: pd.DataFrame, tr: pd.DataFrame, rng, as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Re-filed appeals: the same enterprise again 0.1-4 days later (before as_of), exact (40 %) or edited."""
    n = len(raw)
    pick = np.flatnonzero(rng.random(n) < DUPLICATE_SHARE)
    raw = raw.assign(_src=-1)
    copies = raw.iloc[pick].copy()
    copies["_src"] = pick
    copies["received_at"] = copies["received_at"] + pd.to_timedelta(rng.uniform(0.1, 4, len(pick)), unit="D")
    copies["channel"] = rng.choice(list(CHANNEL_P), size=len(pick), p=list(CHANNEL_P.values()))
    edit = rng.random(len(pick)) >= 0.4
    prefix = [str(rng.choice(["再次反映：", "补充说明：", "重复提交，"])) if e else "" for e in edit]
    copies["body"] = [p + b for p, b in zip(prefix, copies["body"])]
    tr_c = tr.iloc[pick].copy()
    before = (copies["received_at"] < as_of).to_numpy()
    copies, tr_c, prefix = copies[before], tr_c[before], [p for p, b in zip(prefix, before) if b]
    for col in ("pii", "protected"):  # the planted spans of an edited copy move by its prefix
        tr_c[col] = [json.dumps([[f, a + len(p), b + len(p), k] for f, a, b, k in json.loads(spans)])
                     for spans, p in zip(tr_c[col], prefix)]
    return pd.concat([raw, copies], ignore_index=True), pd.concat([tr, tr_c], ignore_index=True)


def _repeats(raw: pd.DataFrame, tr: pd.DataFrame) -> None:
    """The same enterprise raising the same problem a third time within 90 days is escalated (a copy
    follows its first appeal)."""
    from quanhuiqi.appeals.triage import repeat_counts

    first = (raw["_src"] < 0).to_numpy()
    rc = repeat_counts(raw["uscc"][first], raw["received_at"][first], raw["appeal_id"][first], None, 90,
                       tr["category_true"][first])
    idx = np.flatnonzero(first)[rc >= 3]
    tr.loc[idx, "escalation"] = tr.loc[idx, "escalation"].fillna("重复诉求")
    tr.loc[idx, "triage_true"] = "escalated"
    dup = tr["duplicate_of_true"].notna().to_numpy()
    by_id = tr.set_index("appeal_id")["triage_true"]
    tr.loc[dup, "triage_true"] = by_id.reindex(tr.loc[dup, "duplicate_of_true"]).to_numpy()


def _workflow(raw: pd.DataFrame, tr: pd.DataFrame, rng, cal, as_of: pd.Timestamp) -> None:
    """Workflow times in working time, per category and triage; anything after as_of not done yet."""
    n = len(raw)
    w0 = cal.working_seconds(raw["received_at"].to_numpy(dtype="datetime64[ns]"))
    day = cal.day_seconds
    slow = np.where(tr["triage_true"] == "escalated", 1.6, np.where(tr["triage_true"] == "coordinated", 1.4, 1.0))
    med_resolve = tr["category_true"].map(RESOLVE_DAYS).to_numpy(dtype=float) * slow
    steps = {
        "assigned_at": np.exp(rng.normal(np.log(0.8 * 3600), 0.8, n)),
        "first_contact_at": np.exp(rng.normal(np.log(3 * 3600), 0.7, n)),
        "resolved_at": np.exp(rng.normal(np.log(med_resolve * day), 0.5, n)),
        "revisited_at": rng.uniform(0.5, 3, n) * day,
        "closed_at": rng.uniform(0.05, 1.5, n) * day,
    }
    t = w0.copy()
    for col, step in steps.items():
        t = t + step if col != "first_contact_at" else w0 + steps["assigned_at"] + step
        if col == "resolved_at":
            t = w0 + steps["assigned_at"] + steps["first_contact_at"] + step
        when = pd.Series(cal.instant_at(t)).dt.floor("min")
        raw[col] = when.where(when <= as_of)
    for col in ["first_contact_at", "resolved_at", "revisited_at", "closed_at"]:  # a stage needs the one before
        prev = ["assigned_at", "first_contact_at", "resolved_at", "revisited_at", "closed_at"]
        raw[col] = raw[col].where(raw[prev[prev.index(col) - 1]].notna())
    # copies are handled as their first appeal (the dispatcher merges them): no workflow of their own
    copy = raw["_src"].to_numpy() >= 0
    for col in steps:
        raw.loc[copy, col] = pd.NaT
    done = raw["closed_at"].notna()
    sat = rng.choice(["满意", "基本满意", "不满意"], size=n, p=[0.8, 0.15, 0.05])
    raw["satisfaction"] = pd.Series(sat).where(done)
    replies = [f"您好，关于您反映的问题，经{d.split(';')[0]}核实已协调处理，承办人{_name(rng)}，电话{_landline(rng)}。"
               for d in tr["department_true"]]
    raw["reply"] = pd.Series(replies).where(raw["resolved_at"].notna())


def _labels(raw: pd.DataFrame, tr: pd.DataFrame, rng, cats: list[str], dm) -> None:
    """What the dispatcher recorded once the appeal was assigned: category, department, triage (2 % wrong)."""
    assigned = raw["assigned_at"].notna().to_numpy()
    cat = tr["category_true"].to_numpy(dtype=object).copy()
    dep = tr["department_true"].to_numpy(dtype=object).copy()
    wrong = np.flatnonzero(assigned & (rng.random(len(raw)) < LABEL_NOISE))
    for i in wrong:
        others = [c for c in cats if c != cat[i]]
        cat[i] = others[rng.integers(len(others))]
        dep[i] = _department(dm, cat[i], raw["district_code"].iloc[i])
    raw["category"] = pd.Series(cat).where(assigned)
    raw["department"] = pd.Series(dep).where(assigned)
    raw["triage"] = tr["triage_true"].where(assigned)
    tr["label_wrong"] = False
    tr.loc[wrong, "label_wrong"] = True


def _mess(raw: pd.DataFrame, tr: pd.DataFrame, rng) -> None:
    """A few broken rows, each of a kind the validator must reject or clear by name."""
    n = len(raw)
    idx = rng.choice(n, size=min(n, 18), replace=False)
    kinds = ["no_text", "unknown_channel", "unreadable_received_at", "resolved_before_received", "bad_uscc",
             "unreadable_resolved_at"]
    for j, i in enumerate(idx):
        kind = kinds[j % len(kinds)]
        tr.loc[i, "planted_error"] = kind
        if kind == "no_text":
            raw.loc[i, ["title", "body"]] = None
        elif kind == "unknown_channel":
            raw.loc[i, "channel"] = "微信群"
        elif kind == "unreadable_received_at":
            raw.loc[i, "received_at"] = "上周三下午"
        elif kind == "resolved_before_received":
            when = pd.Timestamp(raw.loc[i, "received_at"]) - pd.Timedelta(days=3)
            raw.loc[i, "resolved_at"] = when.strftime("%Y-%m-%d %H:%M:%S")
        elif kind == "bad_uscc":
            u = str(raw.loc[i, "uscc"])
            raw.loc[i, "uscc"] = u[:-1] + ("0" if u[-1] != "0" else "1")
        else:
            raw.loc[i, "resolved_at"] = "2025-02-30 10:00"


def write_appeals(data_dir, seed: int = 0, as_of: str = "2025-07-01", days: int = 120, *,
                  truth: bool = True, issues: int = 0, bursts: bool = True) -> str:
    """Write ``DATA_DIR/appeals.csv`` from ``DATA_DIR/enterprises.csv`` (and ``truth/appeals_true.parquet``;
    with ``issues`` > 0 also ``truth/appeal_issues_true.parquet``, the planted issues)."""
    from pathlib import Path

    from quanhuiqi.tables.io import read_table, write_table

    d = Path(data_dir)
    raw, tr = generate_appeals(read_table(d / "enterprises.csv"), seed=seed, as_of=as_of, days=days, issues=issues,
                               bursts=bursts)
    write_table(raw, d / "appeals.csv")
    if truth:
        (d / "truth").mkdir(parents=True, exist_ok=True)
        planted = tr.attrs.pop("planted_issues", None)
        write_table(tr, d / "truth" / "appeals_true.parquet")
        if planted is not None:
            write_table(pd.DataFrame(planted), d / "truth" / "appeal_issues_true.parquet")
    return f"{len(raw)} appeals ({int(tr['duplicate_of_true'].notna().sum())} re-filed copies)"
