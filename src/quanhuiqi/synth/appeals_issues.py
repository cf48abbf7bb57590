"""Planted issues (类问题) and bursts in the synthetic appeals: the truth the issue mining is measured on.

Each planted issue is one concrete problem of one segment of the city — ``拖欠分包工程款`` of small
building firms in one district, ``全电发票开票额度被下调`` of wholesalers — written in its own words
(titles and body sentences that paraphrase one another), by enterprises drawn mostly from its segment
(section, district, size classes), over time with one of three shapes:

* ``steady``: a low constant rate over the whole period (no burst);
* ``emerging``: nothing before an onset day, then a burst (several appeals a day for days), then a tail;
* ``flare``: a low rate, then a burst at the onset, then the low rate again.

Rates follow the city's day rhythm (``synth.appeals.day_rhythm``, measured on real appeals: fewer at
weekends and on official holidays), the same rhythm as the background appeals.  The themes are problems
the background generator (``appeals_text.py``) never writes, so the truth is unambiguous: an appeal is of
a planted issue or of the background.  Drawn from their own random stream: the background appeals are the
same with or without planted issues.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# theme → category, sections it hits, preferred size classes, titles, body sentences
THEMES: dict[str, dict] = {
    "分包工程款": {
        "category": "拖欠账款", "sections": ["E"], "sizes": ["small", "micro"],
        "title": ["安置房项目分包工程款被拖欠", "总包单位拖欠分包款", "{dist}安置房工程分包款讨要无果", "安置房项目分包款结算"],
        "body": ["我公司作为{dist}安置房项目的分包单位，总包方以建设单位未拨款为由拖欠分包工程款{amt}万元",
                 "安置房项目主体已封顶{m}个月，总包单位迟迟不与我们办理分包结算",
                 "{dist}安置房项目总包单位拖欠我司分包款，导致我们无法支付材料款",
                 "分包合同约定按进度付款，但安置房项目总包方已{m}个月未付分包进度款"],
    },
    "全电发票额度": {
        "category": "税费", "sections": ["F", "C"], "sizes": ["micro", "small"],
        "title": ["全电发票开票额度被下调", "数电票授信额度不够用", "开票额度调整申请", "全电发票额度问题"],
        "body": ["全面数字化电子发票上线后，系统自动下调了我公司的开票额度，每月只能开{amt}万元",
                 "数电票授信总额度不够用，客户催着要发票，申请调增额度一直没有结果",
                 "切换全电发票后开票额度被系统下调，影响正常经营和回款",
                 "我们是商贸企业，全电发票额度每月月中就用完了，临时调增额度审核太慢"],
    },
    "园区封路施工": {
        "category": "物流运输", "sections": ["G", "C"], "sizes": ["small", "medium", "micro"],
        "title": ["{park}道路封闭施工货车进不来", "园区道路施工影响货运", "{park}封路绕行问题", "道路封闭影响企业发货"],
        "body": ["{park}主干道封闭施工已经{d}天，货车只能绕行十几公里，运输成本大增",
                 "园区道路封路施工期间没有设置货车临时通道，原材料和成品运不进运不出",
                 "{park}道路施工封闭后，大货车无法进入厂区，订单发货严重延误",
                 "道路封闭施工没有提前通知园区企业，货车绕行还被限行处罚"],
    },
    "社保增减员": {
        "category": "用工招工", "sections": ["C", "F", "L", "M", "I", "E", "G", "H"], "sizes": ["micro", "small"],
        "title": ["社保系统切换后无法增减员", "新社保系统办理增员报错", "员工参保增员办不了", "社保增减员业务受阻"],
        "body": ["社保经办系统切换新平台后，我公司新入职的{n}名员工一直无法办理参保增员",
                 "新社保系统办理减员时提示数据校验失败，离职员工的社保停不掉",
                 "系统切换以后单位增减员业务报错，窗口说要等系统修复",
                 "员工已经入职{d}天社保还增员不上，员工担心断缴影响医保报销"],
    },
    "园区污水停运": {
        "category": "环境保护", "sections": ["C"], "sizes": ["small", "medium"],
        "title": ["园区污水处理厂停运要求企业限排", "{park}污水处理厂检修限排", "污水管网不通企业被迫减产", "限排影响生产"],
        "body": ["{park}污水处理厂检修停运，管委会要求园区企业限排一半，我们只能减产",
                 "园区污水处理厂停运期间企业废水无处排放，只能暂停部分生产线",
                 "污水处理厂停运后，环保部门要求企业停止排放生产废水，已经影响订单交付",
                 "限排通知没有明确期限，园区污水处理厂何时恢复运行没有答复"],
    },
    "非居民气价": {
        "category": "水电气暖", "sections": ["C", "H"], "sizes": ["micro", "small", "medium"],
        "title": ["非居民用气价格上调过快", "工业天然气价格上涨", "燃气价格联动咨询", "用气成本大幅增加"],
        "body": ["非居民用气价格一年内上调了两次，每立方米涨了近一元，企业用气成本大幅增加",
                 "燃气公司通知工商业用气价格再次上调，我们的锅炉和生产线用气成本承受不了",
                 "想了解非居民天然气价格联动机制，这次气价上调的依据是什么",
                 "工业用气价格上涨后企业利润被压缩，希望对用气大户给予价格优惠"],
    },
    "扩岗补助": {
        "category": "政策兑现", "sections": ["C", "F", "I", "L", "M", "H"], "sizes": ["micro", "small", "medium"],
        "title": ["一次性扩岗补助申请提交不了", "扩岗补助系统无法申报", "一次性扩岗补助未到账", "扩岗补助申领问题"],
        "body": ["我公司招用了{n}名高校毕业生并缴纳了社保，申请一次性扩岗补助时系统一直提示不符合条件",
                 "一次性扩岗补助申报系统无法上传劳动合同，提交按钮点击没有反应",
                 "扩岗补助审核通过已经{m}个月，补助资金还没有发放到企业账户",
                 "想咨询一次性扩岗补助的申领条件，招用的毕业生离职后还能不能申请"],
    },
    "餐饮纾困补贴": {
        "category": "政策兑现", "sections": ["H"], "sizes": ["micro", "small"],
        "title": ["餐饮纾困补贴迟迟未拨付", "住宿餐饮业纾困资金申请", "纾困补贴到账问题", "餐饮企业纾困补贴"],
        "body": ["我们是一家餐饮企业，申报的餐饮住宿业纾困补贴公示结束{m}个月了还没有拨付",
                 "餐饮纾困补贴要求提供的水电费凭证我们是房东代缴，无法提供原件",
                 "纾困补贴名单里有我们店，但商务部门说资金还在走流程",
                 "住宿餐饮业纾困补贴申请后一直没有审核结果，也联系不上经办人"],
    },
    "集装箱海运费": {
        "category": "外贸外资", "sections": ["F", "C"], "sizes": ["small", "medium"],
        "title": ["海运费暴涨集装箱一箱难求", "出口订不到舱位", "海运费上涨影响出口", "集装箱短缺问题"],
        "body": ["近期海运费上涨了三倍多，集装箱一箱难求，我公司出口订单无法按期出运",
                 "货代说订不到舱位，出口货物已经在仓库积压{d}天",
                 "集装箱短缺导致出口成本大幅上升，希望政府协调港口和船公司增加运力",
                 "海运费暴涨吃掉了出口订单的全部利润，想了解有没有物流费用补贴"],
    },
    "门头牌匾拆除": {
        "category": "涉企执法", "sections": ["F", "H", "O"], "sizes": ["micro"],
        "title": ["门头牌匾被强制拆除", "店招整治一刀切", "{dist}集中整治拆除店铺招牌", "牌匾整治问题"],
        "body": ["{dist}开展集中整治，城管执法人员没有书面通知就拆除了我店的门头牌匾",
                 "街道要求沿街商铺统一更换门头招牌，费用由商户自己承担，新招牌要按统一样式",
                 "门头牌匾整治一刀切，我们店的招牌去年刚刚审批安装就被要求拆除",
                 "店铺招牌拆除后顾客找不到门店，营业额下降了一半"],
    },
    "应收账款确权": {
        "category": "融资信贷", "sections": ["C", "E", "F"], "sizes": ["small", "medium"],
        "title": ["供应链金融平台应收账款确权慢", "应收账款融资核心企业不确权", "供应链融资确权问题", "应收账款确权难"],
        "body": ["我们通过供应链金融平台申请应收账款融资，核心企业迟迟不在平台上确权",
                 "应收账款确权需要核心企业盖章，对方财务推脱，融资一直放不下来",
                 "供应链金融平台上的应收账款确权流程太长，{d}天了还没走完",
                 "核心企业不配合应收账款确权，我们只能找高成本的民间借贷"],
    },
    "有序用电错峰": {
        "category": "水电气暖", "sections": ["C"], "sizes": ["medium", "small", "large"],
        "title": ["有序用电错峰生产影响订单", "错峰用电安排不合理", "有序用电方案咨询", "限电错峰问题"],
        "body": ["供电公司下发有序用电方案，要求我公司每周错峰停产两天，订单无法按时交付",
                 "错峰用电安排在白天生产高峰，企业只能让工人夜里加班",
                 "有序用电方案对高耗能和一般企业一刀切，希望按用电性质区别对待",
                 "接到错峰生产通知后企业临时调整排产，员工工资和违约损失很大"],
    },
    "标准厂房漏水": {
        "category": "用地厂房", "sections": ["C", "M", "I"], "sizes": ["micro", "small"],
        "title": ["标准厂房屋顶漏水没人修", "{park}标准厂房质量问题", "厂房漏水维修推诿", "标准厂房维修问题"],
        "body": ["{park}标准厂房屋顶漏水严重，雨天车间积水，设备被泡",
                 "租用的标准厂房漏水，园区运营公司和施工方互相推诿，没人维修",
                 "标准厂房交付不到两年就出现墙体开裂和屋顶漏水，影响正常生产",
                 "厂房漏水报修{d}天了，园区物业一直说在走维修审批"],
    },
    "跨境商标下架": {
        "category": "知识产权", "sections": ["F", "C"], "sizes": ["micro", "small"],
        "title": ["跨境电商店铺被恶意投诉下架", "海外商标投诉导致产品下架", "跨境平台知识产权投诉", "店铺链接被下架"],
        "body": ["我公司在跨境电商平台的店铺被海外公司以商标侵权为由恶意投诉，{n}个产品链接被下架",
                 "海外商标权人批量投诉跨境卖家，平台直接冻结了店铺资金",
                 "产品被跨境平台以知识产权投诉下架，希望了解海外维权援助渠道",
                 "跨境电商遭遇海外商标恶意投诉，企业不懂应诉程序，损失很大"],
    },
    "预付卡备案": {
        "category": "市场监管", "sections": ["H", "O", "R", "P"], "sizes": ["micro", "small"],
        "title": ["单用途预付卡备案系统办不了", "预付卡资金存管问题", "预付卡备案咨询", "商业预付卡监管"],
        "body": ["按要求要办理单用途预付卡备案，但备案系统一直登录不上",
                 "预付卡资金存管要求存入监管账户的比例太高，小店资金周转不开",
                 "想咨询单用途预付卡备案需要哪些材料，健身房和培训机构是否都要备案",
                 "预付卡备案后又被要求办理资金存管，两个部门要求不一致"],
    },
    "人才公寓配租": {
        "category": "用工招工", "sections": ["I", "M", "C"], "sizes": ["small", "medium"],
        "title": ["人才公寓配租申请没有结果", "企业人才公寓申请", "人才公寓房源不足", "人才公寓配租问题"],
        "body": ["我公司为引进的{n}名技术人员申请人才公寓配租，提交材料后一直没有结果",
                 "人才公寓房源太少，企业申请的配租名额被大幅压缩",
                 "人才公寓配租要求员工在本市无房且缴纳社保满一年，新引进的人才都不符合",
                 "想了解人才公寓的配租条件和租金标准，企业能否整体承租"],
    },
}
PARKS = ["高新区齐鲁软件园", "章锦综合保税区", "临港经济开发区", "明水经济开发区", "新材料产业园", "济北经济开发区",
         "绣惠工业园", "国际医学科学中心园区", "平阴工业园", "莱芜高新区"]
SHAPES = {"steady": 0.3, "emerging": 0.4, "flare": 0.3}
IN_SEGMENT = 0.8


def planted_rates(rng, shape: str, days: int, onset: int | None) -> np.ndarray:
    """Expected appeals per ordinary working day (before the day rhythm), index 0 = the first day."""
    base = rng.uniform(0.12, 0.35)
    rate = np.full(days, base) if shape != "emerging" else np.zeros(days)
    if shape == "steady" or onset is None:
        return rate
    length = int(rng.integers(4, 11))
    peak = rng.uniform(2.0, 5.0)
    ramp = np.array([0.6, 1.0] + [1.0] * (length - 2))
    end = min(days, onset + length)
    rate[onset:end] = np.maximum(rate[onset:end], peak * ramp[: end - onset])
    if shape == "emerging":
        rate[end:] = base
    return rate


def plant_issues(enterprises: pd.DataFrame, seed: int, as_of: pd.Timestamp, days: int, issues: int,
                 bursts: bool = True, *, writer) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(raw rows: received_at, channel, title, body, uscc, district_code; their truth; the planted issues).

    ``enterprises`` is the validated, profiled enterprise table (``uscc``, ``district_code``,
    ``industry_section``, ``size_class``); ``writer`` the background generator's text helpers
    (``CHANNEL_P, PII_SHARE, _fill, _plant_pii, _Text``, ``day_rhythm`` — passed in by ``synth.appeals``, which calls
    this)."""
    from quanhuiqi.synth import appeals_text as T
    from quanhuiqi.synth.enterprises import _district_names

    CHANNEL_P, PII_SHARE, _fill, _plant_pii, _Text = (writer.CHANNEL_P, writer.PII_SHARE, writer._fill,  # noqa: N806
                                                      writer._plant_pii, writer._Text)

    rng = np.random.default_rng([seed, 43])
    keys = list(THEMES)
    if issues > len(keys):
        raise ValueError(f"at most {len(keys)} planted issues (themes), got {issues}")
    chosen = [keys[i] for i in rng.choice(len(keys), size=issues, replace=False)]
    dnames = _district_names()
    first_day = (as_of - pd.Timedelta(days=days)).normalize()
    calendar = pd.date_range(first_day, periods=days, freq="D")
    factor = writer.day_rhythm(calendar)
    sec = enterprises["industry_section"].astype("string").fillna("").to_numpy(dtype=object)
    dist = enterprises["district_code"].astype("string").fillna("").to_numpy(dtype=object)
    size = enterprises["size_class"].astype("string").fillna("").to_numpy(dtype=object)
    usccs = enterprises["uscc"].astype(str).to_numpy(dtype=object)
    districts = pd.Series(dist[dist != ""]).value_counts()
    raw_rows, truth_rows, planted = [], [], []
    for k, theme in enumerate(chosen):
        spec = THEMES[theme]
        in_sec = np.isin(sec, spec["sections"])
        by_d = pd.Series(dist[in_sec & (dist != "")]).value_counts()
        by_d = by_d[by_d >= 8] if (by_d >= 8).any() else districts
        dcode = str(rng.choice(by_d.index.to_numpy(), p=(by_d / by_d.sum()).to_numpy()))
        pool = np.flatnonzero(in_sec & (dist == dcode) & np.isin(size, spec["sizes"]))
        if len(pool) < 5:
            pool = np.flatnonzero(in_sec & (dist == dcode))
        if len(pool) < 5:
            pool = np.flatnonzero(in_sec)
        shape = str(rng.choice(list(SHAPES), p=list(SHAPES.values()))) if bursts else "steady"
        onset = int(rng.integers(int(days * 0.35), days - 6)) if shape != "steady" else None
        rate = planted_rates(rng, shape, days, onset) * factor
        counts = rng.poisson(rate)
        dname = dnames.get(dcode, "济南市")
        park = str(rng.choice(PARKS))
        issue_id = f"P{k:02d}:{theme}"
        planted.append({"issue_true": issue_id, "theme": theme, "category": spec["category"], "shape": shape,
                        "onset": None if onset is None else str((calendar[onset]).date()),
                        "section": ";".join(spec["sections"]), "district_code": dcode,
                        "size_classes": ";".join(spec["sizes"]), "segment_enterprises": len(pool),
                        "appeals": int(counts.sum())})
        for day_i in np.repeat(np.arange(days), counts):
            e = int(rng.choice(pool)) if rng.random() < IN_SEGMENT else int(rng.integers(len(usccs)))
            edist = dist[e] or None
            ename = dnames.get(edist, "济南市") if edist else "济南市"
            minute = int(rng.integers(8 * 60, 18 * 60)) if rng.random() < 0.8 else int(rng.integers(0, 24 * 60))
            received = calendar[day_i] + pd.Timedelta(minutes=minute, seconds=int(rng.integers(0, 60)))
            title = str(rng.choice(spec["title"])).format(dist=dname[:3], park=park)
            b = _Text()
            b.add(_fill(rng, str(rng.choice(T.OPENINGS)), ename, False))
            sentences = rng.choice(spec["body"], size=int(rng.integers(1, 3)), replace=False)
            for s in sentences:
                b.add(_fill(rng, str(s).replace("{park}", park).replace("{dist}", dname), ename, False) + "。")
            if rng.random() < PII_SHARE:
                _plant_pii(rng, b, ename)
            b.add(str(rng.choice(T.REQUESTS)))
            raw_rows.append({"received_at": received, "channel": str(rng.choice(list(CHANNEL_P), p=list(CHANNEL_P.values()))),
                             "title": title, "body": b.text(), "uscc": usccs[e], "district_code": edist})
            truth_rows.append({"category_true": spec["category"], "second_category_true": None,
                               "issue_true": issue_id, "escalation": None,
                               "pii": _spans(b, pii=True), "protected": _spans(b, pii=False)})
    raw = pd.DataFrame(raw_rows, columns=["received_at", "channel", "title", "body", "uscc", "district_code"])
    tr = pd.DataFrame(truth_rows, columns=["category_true", "second_category_true", "issue_true", "escalation",
                                           "pii", "protected"])
    return raw, tr, pd.DataFrame(planted)


def _spans(b, pii: bool) -> str:
    import json

    keep = [["body", *s] for s in b.spans if (s[2] not in ("uscc", "policy_number")) == pii]
    return json.dumps(keep)


__all__ = ["THEMES", "plant_issues", "planted_rates"]
