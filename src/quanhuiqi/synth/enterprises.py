"""Synthetic enterprises for a city like Jinan: realistic mixes, correlated log-normal finances, mess.

Two tables come out of one draw: the *true* table (complete, canonical facts: what the enterprise
really is, used to decide true eligibility and stored under ``truth/``) and the *raw* table (what a
registry export looks like: missing values, full-width digits, traditional characters, padded and
coarse codes, a few outright errors).  Everything is vectorised over whole columns; a seed fixes
every number.

Documented distributions (tests check them):

- district: weights ``DISTRICT_WEIGHTS`` (历下/历城/高新 largest); in the raw table 1.5 % carry an
  old code (370181 章丘市, 371202 莱城区, 370125 济阳县, 371203 钢城区) and 2 % only the prefecture 370100.
- industry: division weights ``DIVISION_WEIGHTS`` (F 批发零售 ≈ 30 %, L ≈ 12 %, C 制造业 ≈ 14 %, I ≈ 8 %,
  M ≈ 8 %, E ≈ 7 %, …), a 4-digit class uniform inside its division; raw codes: 45 % with the section
  letter (``C3911``), 5 % coarsened to the division, 3 % to the group, 1 % to the section letter.
- employees log-normal by section (σ = 1.25); revenue = employees × productivity(section) ×
  log-normal(σ = 0.6), so log revenue and log employees correlate (r ≈ 0.8); assets, tax and
  registered capital follow revenue/employees with log-normal noise.
- each optional column is missing in ``MISSING_RATES[col]`` of rows, all within 5–25 %
  (``certifications`` is closed-world and never blanked; ``industry_name`` is filled only where the
  code is missing, as a second source would).
- mess and errors at ``MESS_RATES`` (see that dict).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from quanhuiqi.reference.industries import industry_table
from quanhuiqi.synth.facts import enterprise_facts, mess_enterprise_facts
from quanhuiqi.synth.uscc import make_uscc_codes
from quanhuiqi.tables.columns import ENTERPRISE_COLUMNS

# --- districts ------------------------------------------------------------------------------------
DISTRICT_WEIGHTS = {
    "370102": 0.15,  # 历下区
    "370103": 0.09,  # 市中区
    "370104": 0.07,  # 槐荫区
    "370105": 0.07,  # 天桥区
    "370112": 0.15,  # 历城区
    "370113": 0.05,  # 长清区
    "370114": 0.08,  # 章丘区
    "370115": 0.04,  # 济阳区
    "370116": 0.05,  # 莱芜区
    "370117": 0.03,  # 钢城区
    "370124": 0.025,  # 平阴县
    "370126": 0.025,  # 商河县
    "370176": 0.12,  # 济南高新技术产业开发区
}
OLD_DISTRICT_CODES = {"370114": "370181", "370116": "371202", "370115": "370125", "370117": "371203"}
# Approximate centroids (km east, km north of 泉城广场) for supply-demand distance.
DISTRICT_XY = {
    "370102": (6, 0), "370103": (-2, -4), "370104": (-8, 1), "370105": (-2, 6), "370112": (15, 3),
    "370113": (-30, -20), "370114": (45, 5), "370115": (10, 35), "370116": (85, -25), "370117": (100, -45),
    "370124": (-60, -45), "370126": (25, 70), "370176": (18, -2),
}

# --- industries: share of enterprises by GB/T 4754-2017 division (a Jinan-like mix) ---------------
DIVISION_WEIGHTS = {
    # A 农林牧渔 2 %
    "01": 0.9, "03": 0.6, "05": 0.5,
    # B 采矿 0.2 %
    "10": 0.2,
    # C 制造业 14 %
    "13": 0.6, "14": 0.5, "15": 0.2, "17": 0.2, "18": 0.3, "21": 0.3, "22": 0.2, "23": 0.3, "24": 0.2,
    "26": 0.8, "27": 0.6, "29": 0.6, "30": 0.8, "31": 0.3, "32": 0.2, "33": 1.1, "34": 1.5, "35": 1.4,
    "36": 0.7, "37": 0.3, "38": 1.0, "39": 0.9, "40": 0.5, "41": 0.2, "42": 0.2, "43": 0.3,
    # D 电力燃气水 0.5 %
    "44": 0.3, "45": 0.1, "46": 0.1,
    # E 建筑 7 %
    "47": 1.8, "48": 1.7, "49": 1.3, "50": 2.2,
    # F 批发零售 30 %
    "51": 17.0, "52": 13.0,
    # G 交通运输仓储 4 %
    "54": 2.4, "58": 0.8, "59": 0.6, "60": 0.2,
    # H 住宿餐饮 4 %
    "61": 0.6, "62": 3.4,
    # I 信息软件 8 %
    "63": 0.5, "64": 2.0, "65": 5.5,
    # J 金融 1 %
    "66": 0.2, "67": 0.3, "69": 0.5,
    # K 房地产 3 %
    "70": 3.0,
    # L 租赁商务 12 %
    "71": 1.5, "72": 10.5,
    # M 科研技术 8 %
    "73": 1.5, "74": 3.5, "75": 3.0,
    # N 1 %
    "77": 0.6, "78": 0.4,
    # O 居民服务修理 4 %
    "80": 1.5, "81": 1.0, "82": 1.5,
    # P Q R 3 %
    "83": 1.0, "84": 0.7, "85": 0.1, "86": 0.2, "87": 0.3, "88": 0.4, "89": 0.2, "90": 0.1,
}

# log-median employees and revenue per employee (万元) by section
SECTION_EMPLOYEES = {"A": 6, "B": 30, "C": 28, "D": 25, "E": 18, "F": 5, "G": 10, "H": 7, "I": 12, "J": 10,
                     "K": 12, "L": 6, "M": 9, "N": 12, "O": 4, "P": 10, "Q": 12, "R": 6}
SECTION_PRODUCTIVITY = {"A": 18, "B": 70, "C": 55, "D": 120, "E": 45, "F": 70, "G": 35, "H": 12, "I": 35,
                        "J": 90, "K": 110, "L": 30, "M": 28, "N": 25, "O": 10, "P": 12, "Q": 18, "R": 15}
TECH_DIVISIONS = {"26", "27", "34", "35", "36", "37", "38", "39", "40", "63", "64", "65", "73", "74", "75"}

# --- status as registries write it ---------------------------------------------------------------
TRUE_STATUS_SHARES = {"active": 0.875, "revoked": 0.04, "cancelled": 0.055, "moved_out": 0.01,
                      "suspended": 0.008, "liquidating": 0.007, "unknown": 0.005}
STATUS_TEXTS = {
    "active": (["存续", "在业", "开业", "存续（在营、开业、在册）", "在营（开业）企业", "存續", "在業", "開業"],
               [0.45, 0.2, 0.12, 0.1, 0.05, 0.04, 0.02, 0.02]),
    "revoked": (["吊销", "吊销，未注销", "吊销未注销", "吊銷"], [0.4, 0.35, 0.2, 0.05]),
    "cancelled": (["注销", "已注销", "撤销", "註銷"], [0.7, 0.15, 0.1, 0.05]),
    "moved_out": (["迁出", "已迁出", "遷出"], [0.75, 0.2, 0.05]),
    "suspended": (["停业", "歇业", "停業"], [0.7, 0.25, 0.05]),
    "liquidating": (["清算", "清算中", "正在清算"], [0.6, 0.3, 0.1]),
    "unknown": (["其他", "待核实", "不明"], [0.4, 0.4, 0.2]),  # texts no mapping knows: unknown
}
TRUE_STATUS_TEXT = {"active": "存续", "revoked": "吊销", "cancelled": "注销", "moved_out": "迁出",
                    "suspended": "停业", "liquidating": "清算", "unknown": "其他"}

ENTERPRISE_TYPES = (["有限责任公司(自然人投资或控股)", "有限责任公司(自然人独资)", "有限责任公司", "股份有限公司",
                     "个人独资企业", "合伙企业", "有限责任公司(外商投资、非独资)", "外商投资企业", "分公司",
                     "个体工商户", "农民专业合作社"],
                    [0.46, 0.12, 0.08, 0.03, 0.07, 0.03, 0.01, 0.01, 0.06, 0.11, 0.02])

CERTIFICATION_ORDER = ["gazelle", "high_tech", "innovative_sme", "little_giant", "single_champion",
                       "specialized_sme", "tech_sme", "unicorn"]  # sorted tokens

# Extra facts (declared in policies/fields.yaml)
EXTRA_COLUMNS = ["ip_count", "rd_ratio_3y", "innovation_score", "graduates_hired", "guaranteed_loan",
                 "export_revenue", "digital_investment"]

OPTIONAL_RAW = ["industry_code", "district_code", "status", "established_on", "enterprise_type",
                "registered_capital", "employees", "insured_employees", "insured_months", "layoff_rate",
                "revenue", "revenue_prev", "total_assets", "rd_expense", "tax_paid", "tax_credit_rating",
                "abnormal_operation", "serious_dishonest", *EXTRA_COLUMNS]
# Share of rows missing per optional column (every one within 5–25 %).
MISSING_RATES = {
    "industry_code": 0.08, "district_code": 0.05, "status": 0.05, "established_on": 0.06,
    "enterprise_type": 0.07, "registered_capital": 0.09, "employees": 0.12, "insured_employees": 0.15,
    "insured_months": 0.18, "layoff_rate": 0.22, "revenue": 0.14, "revenue_prev": 0.2, "total_assets": 0.16,
    "rd_expense": 0.24, "tax_paid": 0.13, "tax_credit_rating": 0.17, "abnormal_operation": 0.06,
    "serious_dishonest": 0.06, "ip_count": 0.2, "rd_ratio_3y": 0.25, "innovation_score": 0.22,
    "graduates_hired": 0.2, "guaranteed_loan": 0.21, "export_revenue": 0.23, "digital_investment": 0.19,
}
MESS_RATES = {
    "traditional_name": 0.03,  # name rewritten in traditional characters
    "fullwidth_code": 0.02,  # district / industry code in full-width digits
    "padded_code": 0.03,  # codes padded with spaces
    "section_letter": 0.45,  # industry code written with its section letter (C3911)
    "coarse_division": 0.05, "coarse_group": 0.03, "coarse_section": 0.01,  # industry known only coarsely
    "old_district": 0.015,  # pre-merger district codes (370181, 371202, …)
    "coarse_district": 0.02,  # prefecture 370100 only
    "slash_date": 0.01,  # 2015/03/02
    "bool_variants": 0.1,  # 是/否 or 1/0 instead of true/false
    # errors that validation must catch
    "bad_check_char": 0.003, "duplicate_uscc": 0.002, "bad_industry_code": 0.003, "bad_district_code": 0.002,
    "future_date": 0.002, "negative_money": 0.002, "rate_out_of_range": 0.001,
}

_T2S_SAMPLE = str.maketrans("济南华东技术发电机械设备贸易营业务实业环保电子药业饮热",
                            "濟南華東技術發電機械設備貿易營業務實業環保電子藥業飲熱")
_BRAND = np.array(list("华瑞鑫泰恒源宏达正兴祥和信诚凯盛新明东方舜泉鲁润博远金海天利中科智联创立德嘉峰力广盛安康"
                       "宇辉晟恒锐志昊晨颐景隆丰通益众汇嘉齐岳山水云峰"))
_DIVISION_WORDS = {
    "01": "农业科技", "03": "畜牧", "05": "农业服务", "10": "矿业", "13": "食品", "14": "食品", "15": "饮品",
    "17": "纺织", "18": "服饰", "21": "家具", "22": "纸业", "23": "印务", "24": "文体用品", "26": "化工",
    "27": "药业", "29": "塑胶", "30": "建材", "31": "钢铁", "32": "铝业", "33": "金属制品", "34": "机械",
    "35": "装备", "36": "汽车部件", "37": "轨道装备", "38": "电气", "39": "电子", "40": "仪器", "41": "制品",
    "42": "再生资源", "43": "设备维修", "44": "能源", "45": "燃气", "46": "水务", "47": "建设", "48": "路桥工程",
    "49": "安装工程", "50": "装饰工程", "51": "商贸", "52": "商店", "54": "物流", "58": "货运代理",
    "59": "仓储", "60": "快递", "61": "酒店", "62": "餐饮", "63": "通信", "64": "网络科技", "65": "信息技术",
    "66": "金融服务", "67": "投资", "69": "融资租赁", "70": "置业", "71": "租赁", "72": "企业管理咨询",
    "73": "科技研究院", "74": "检测技术", "75": "科技", "77": "环保科技", "78": "市政", "80": "家政服务",
    "81": "汽车维修", "82": "服务", "83": "教育科技", "84": "医疗", "85": "养老服务", "86": "文化传媒",
    "87": "影视", "88": "文化艺术", "89": "体育", "90": "娱乐",
}
_SUFFIX = {
    "有限责任公司(自然人投资或控股)": "有限公司", "有限责任公司(自然人独资)": "有限公司", "有限责任公司": "有限公司",
    "股份有限公司": "股份有限公司", "个人独资企业": "经营部", "合伙企业": "(有限合伙)",
    "有限责任公司(外商投资、非独资)": "有限公司", "外商投资企业": "有限公司", "分公司": "有限公司济南分公司",
    "个体工商户": "店", "农民专业合作社": "专业合作社",
}


def _classes_and_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every 4-digit class of the weighted divisions, its section, and its probability."""
    tab = industry_table()
    cls = tab[tab["level"] == 4]
    div = cls["code"].str[:2]
    keep = div.isin(list(DIVISION_WEIGHTS))
    cls, div = cls[keep], div[keep]
    per_div = div.map(div.value_counts())
    w = div.map(DIVISION_WEIGHTS).astype(float) / per_div.astype(float)
    return cls["code"].to_numpy(str), cls["section"].to_numpy(str), (w / w.sum()).to_numpy(float)


def _choice(rng: np.random.Generator, values: list | np.ndarray, p: list | np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(p, float)
    return np.asarray(values)[rng.choice(len(p), size=n, p=p / p.sum())]


def simulate_enterprises(n: int, seed: int, as_of: dt.date | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(raw, true)``: the messy registry export and the complete canonical facts behind it.

    ``true`` has one row per real enterprise (rows that the raw table duplicates are not real
    enterprises) with the columns of the enterprise table in canonical form plus ``status_true``,
    ``chain_true`` and ``engagement`` (the latent model's observable propensity inputs).
    """
    as_of = pd.Timestamp(as_of)
    rng = np.random.default_rng([seed, 1])
    idx = np.arange(n)

    district = _choice(rng, list(DISTRICT_WEIGHTS), list(DISTRICT_WEIGHTS.values()), n)
    codes, sections, probs = _classes_and_weights()
    pick = rng.choice(len(codes), size=n, p=probs)
    ind_class = codes[pick]
    section = sections[pick]
    division = ind_class.astype("<U2")
    tech = np.isin(division, list(TECH_DIVISIONS))

    # age: many young firms, a long tail
    age_years = np.minimum(rng.exponential(6.5, n) + rng.uniform(0.05, 0.6, n), 42.0)
    established = as_of - pd.to_timedelta(np.round(age_years * 365.25).astype(np.int64), unit="D")
    etype = _choice(rng, ENTERPRISE_TYPES[0], ENTERPRISE_TYPES[1], n)
    # agricultural cooperatives only in A; individuals are small
    etype = np.where((etype == "农民专业合作社") & (section != "A"), "有限责任公司(自然人投资或控股)", etype)
    indiv = np.isin(etype, ["个体工商户", "个人独资企业"])

    # size and finance: correlated log-normals
    size_latent = rng.normal(0, 1, n)
    emp_med = pd.Series(section).map(SECTION_EMPLOYEES).to_numpy(float)
    log_emp = np.log(emp_med) + 1.25 * size_latent + 0.25 * np.log1p(age_years) - 1.1 * indiv
    employees = np.maximum(1, np.round(np.exp(log_emp))).astype(float)
    employees = np.minimum(employees, 60000)
    prod = pd.Series(section).map(SECTION_PRODUCTIVITY).to_numpy(float)
    revenue = employees * prod * np.exp(rng.normal(0, 0.6, n))
    growth = np.clip(rng.normal(0.06 + 0.15 * (age_years < 5) + 0.05 * tech, 0.22, n), -0.7, 3.0)
    revenue_prev = revenue / (1 + growth)
    total_assets = revenue * np.exp(rng.normal(np.log(0.9), 0.5, n))
    cap_raw = np.exp(np.log(30) + 0.55 * np.log(employees) + rng.normal(0, 0.9, n))
    mag = 10 ** np.floor(np.log10(cap_raw))
    registered_capital = np.maximum(1.0, np.round(cap_raw / mag) * mag)
    rd_share = np.where(tech, 0.75, 0.15)
    has_rd = rng.random(n) < rd_share * (1 - 0.6 * indiv)
    rd_ratio = np.where(has_rd, np.exp(rng.normal(np.log(0.035) + 0.6 * tech, 0.7, n)), 0.0)
    rd_ratio = np.minimum(rd_ratio, 0.6)
    rd_expense = revenue * rd_ratio
    tax_paid = revenue * rng.uniform(0.008, 0.06, n)
    insured_employees = np.round(employees * rng.beta(8, 2, n) * (1 - 0.5 * indiv))
    insured_months = np.minimum(np.floor(age_years * 12), rng.geometric(1 / 40, n) + rng.integers(0, 24, n))
    insured_months = np.where(insured_employees > 0, insured_months, 0.0)
    layoff_rate = np.round(np.where(rng.random(n) < 0.85, rng.beta(1, 40, n), rng.beta(2, 8, n)), 4)

    # credit and risk
    quality = rng.normal(0, 1, n) + 0.2 * np.log1p(age_years) + 0.1 * np.log(employees)
    rating_idx = np.digitize(quality, [-1.7, -1.1, -0.1, 1.6])  # D C M B A
    tax_credit_rating = np.array(["D", "C", "M", "B", "A"])[rating_idx]
    abnormal = rng.random(n) < np.where(quality < -1.2, 0.25, 0.03)
    dishonest = rng.random(n) < np.where(quality < -1.8, 0.15, 0.004)

    status_true = _choice(rng, list(TRUE_STATUS_SHARES), list(TRUE_STATUS_SHARES.values()), n)
    status_true = np.where((age_years < 1) & (status_true != "active"), "active", status_true)

    # certifications (closed world) — driven by R&D, size, sector
    small_med = (employees < 1000) & (revenue < 40000)
    tier = rd_ratio * 20 + tech * 1.2 + 0.35 * np.log(employees) + rng.normal(0, 0.8, n)
    active = status_true == "active"
    certs = {
        "high_tech": active & ~indiv & (rd_ratio >= 0.03) & (tier > 3.2),
        "tech_sme": active & ~indiv & small_med & (rd_ratio >= 0.02) & (tier > 2.2) & (rng.random(n) < 0.8),
        "innovative_sme": active & ~indiv & small_med & (tier > 2.6) & (rng.random(n) < 0.5),
    }
    certs["specialized_sme"] = (certs["innovative_sme"] & (section == "C") | certs["high_tech"] & small_med) & (
        rng.random(n) < 0.35) & (age_years >= 2)
    certs["little_giant"] = certs["specialized_sme"] & (tier > 4.0) & (rng.random(n) < 0.35)
    certs["gazelle"] = active & tech & (growth > 0.3) & (revenue > 500) & (rng.random(n) < 0.4)
    certs["unicorn"] = certs["gazelle"] & (revenue > 20000) & (rng.random(n) < 0.2)
    certs["single_champion"] = active & (section == "C") & (revenue > 50000) & (tier > 4) & (rng.random(n) < 0.5)
    cert_str = np.full(n, "", dtype=object)
    for token in CERTIFICATION_ORDER:  # sorted order
        cert_str = np.where(certs[token], np.where(cert_str == "", token, cert_str + ";" + token), cert_str)

    # extra facts
    ip_count = rng.poisson(np.where(has_rd, 1 + 60 * rd_ratio * np.log1p(employees), 0.15)).astype(float)
    rd_ratio_3y = np.round(np.clip(rd_ratio * np.exp(rng.normal(0, 0.25, n)), 0, 0.8), 4)
    innovation_score = np.round(np.clip(30 + 8 * tier + 2 * np.log1p(ip_count) + rng.normal(0, 8, n), 0, 100), 1)
    graduates_hired = np.where(rng.random(n) < 0.12 + 0.2 * tech, rng.poisson(1 + employees / 60), 0).astype(float)
    guaranteed_loan = np.where((age_years < 4) & (employees < 30) & (rng.random(n) < 0.15),
                               np.round(rng.choice([10, 20, 30, 50, 100, 200, 300], n)), 0.0)
    exporter = (np.isin(section, ["C", "F"]) & (rng.random(n) < np.where(section == "C", 0.2, 0.05)))
    export_revenue = np.where(exporter, revenue * rng.beta(2, 4, n), 0.0)
    digital_investment = np.where(rng.random(n) < 0.1 + 0.15 * (section == "C"),
                                  total_assets * rng.beta(1.5, 20, n), 0.0)

    uscc = make_uscc_codes(district, idx, seed, etype)
    names = _names(rng, n, division, etype, district)

    # engagement propensity (digital-ness, size, age): observable inputs of the latent model
    digital = np.isin(section, ["I", "M"]) | (digital_investment > 0)
    engagement = np.round(-0.6 + 0.18 * np.log(employees) - 0.04 * np.minimum(age_years, 20) + 0.5 * digital
                          + 0.3 * (cert_str != "") + rng.normal(0, 0.3, n), 4)

    r2 = lambda a: np.round(a, 2)  # noqa: E731
    true = pd.DataFrame({
        "uscc": uscc, "name": names, "industry_code": ind_class, "industry_name": pd.NA,
        "district_code": district, "status": pd.Series(status_true).map(TRUE_STATUS_TEXT).to_numpy(),
        "established_on": established.strftime("%Y-%m-%d"), "enterprise_type": etype,
        "registered_capital": registered_capital, "employees": employees,
        "insured_employees": insured_employees, "insured_months": insured_months, "layoff_rate": layoff_rate,
        "revenue": r2(revenue), "revenue_prev": r2(revenue_prev), "total_assets": r2(total_assets),
        "rd_expense": r2(rd_expense), "tax_paid": r2(tax_paid), "tax_credit_rating": tax_credit_rating,
        "certifications": cert_str, "abnormal_operation": abnormal, "serious_dishonest": dishonest,
        "ip_count": ip_count, "rd_ratio_3y": rd_ratio_3y, "innovation_score": innovation_score,
        "graduates_hired": graduates_hired, "guaranteed_loan": guaranteed_loan,
        "export_revenue": r2(export_revenue), "digital_investment": r2(digital_investment),
    })
    for col in ("uscc", "name", "industry_code", "district_code", "status", "established_on", "enterprise_type",
                "tax_credit_rating", "certifications", "industry_name"):
        true[col] = true[col].astype("string")
    # the facts real policies test (tax/statistical location, ownership, IP by kind): their own random streams,
    # so every value drawn above is unchanged
    true = pd.concat([true, enterprise_facts(true, seed)], axis=1)
    true = true[ENTERPRISE_COLUMNS + EXTRA_COLUMNS]
    raw = mess_enterprise_facts(_mess(true, rng, as_of), seed)
    true["status_true"] = pd.array(status_true, dtype="string")
    true["engagement"] = engagement
    n_dup = int(round(MESS_RATES["duplicate_uscc"] * n))
    true = true.iloc[: n - n_dup].reset_index(drop=True) if n_dup else true
    return raw, true


def generate_enterprises(n: int, seed: int = 0, as_of: dt.date | str = "2025-07-01") -> pd.DataFrame:
    """The raw, messy enterprise table of ``n`` rows (DESIGN columns + extra fact columns)."""
    return simulate_enterprises(n, seed, as_of)[0]


def _names(rng: np.random.Generator, n: int, division: np.ndarray, etype: np.ndarray,
           district: np.ndarray) -> np.ndarray:
    brand = _BRAND[rng.integers(0, len(_BRAND), n)].astype(object) + _BRAND[rng.integers(0, len(_BRAND), n)]
    word = pd.Series(division).map(_DIVISION_WORDS).fillna("实业").to_numpy(object)
    prefix = np.where(rng.random(n) < 0.8, "济南", "山东").astype(object)
    suffix = pd.Series(etype).map(_SUFFIX).to_numpy(object)
    dname = pd.Series(district).map(_district_names()).to_numpy(object)
    names = prefix + brand + word + suffix
    small = np.isin(etype, ["个体工商户"])
    names = np.where(small, dname + brand + word + suffix, names)
    return names


def _district_names() -> dict[str, str]:
    from quanhuiqi.reference.districts import jinan_districts

    d = jinan_districts()
    return {c: (n[:-3] if len(n) > 6 else n) for c, n in zip(d["code"], d["name"])} | {"370176": "高新区"}


def _fullwidth(s: pd.Series) -> pd.Series:
    return s.str.translate(str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                         "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"))


def _where_apply(s: pd.Series, mask: np.ndarray, func) -> pd.Series:
    """``func`` applied to the masked rows only (mess touches a few percent of a column)."""
    out = s.copy()
    if mask.any():
        out[mask] = func(s[mask]).to_numpy()
    return out


def _mess(true: pd.DataFrame, rng: np.random.Generator, as_of: pd.Timestamp) -> pd.DataFrame:
    """The registry export: missing values, spelling variety, coarse codes, and a few errors."""
    n = len(true)
    raw = true.copy()
    u = lambda: rng.random(n)  # noqa: E731

    def pick(rate: float) -> np.ndarray:
        return u() < rate

    # status texts as registries write them
    st = np.empty(n, dtype=object)
    status_true = pd.Series(true["status"]).map({v: k for k, v in TRUE_STATUS_TEXT.items()}).to_numpy()
    for canon, (texts, w) in STATUS_TEXTS.items():
        m = status_true == canon
        st[m] = _choice(rng, texts, w, int(m.sum()))
    raw["status"] = pd.array(st, dtype="string")

    # industry code forms
    ind = true["industry_code"].copy()
    sec = pd.Series(industry_table().loc[ind.to_numpy(), "section"].to_numpy(), index=ind.index)
    r = u()
    c_div, c_grp, c_sec = MESS_RATES["coarse_division"], MESS_RATES["coarse_group"], MESS_RATES["coarse_section"]
    ind = ind.mask(r < c_div, ind.str[:2])
    ind = ind.mask((r >= c_div) & (r < c_div + c_grp), ind.str[:3])
    is_sec = (r >= c_div + c_grp) & (r < c_div + c_grp + c_sec)
    letter = pick(MESS_RATES["section_letter"]) & ~is_sec
    ind = ind.mask(letter, sec + ind)
    ind = ind.mask(is_sec, sec)
    bad_ind = pick(MESS_RATES["bad_industry_code"])
    ind = ind.mask(bad_ind, pd.Series(_choice(rng, ["3999", "C1699", "0099", "5999", "Z12", "9801"],
                                              np.ones(6), n), index=ind.index))
    ind = _where_apply(ind, pick(MESS_RATES["fullwidth_code"]), _fullwidth)
    ind = _where_apply(ind, pick(MESS_RATES["padded_code"]), lambda s: " " + s + " ")
    raw["industry_code"] = ind

    # district code forms
    dis = true["district_code"].copy()
    old = dis.map(OLD_DISTRICT_CODES)
    r = u()
    dis = dis.mask((r < MESS_RATES["old_district"]) & old.notna(), old)
    dis = dis.mask((r >= 0.5) & (r < 0.5 + MESS_RATES["coarse_district"]), "370100")
    dis = dis.mask(pick(MESS_RATES["bad_district_code"]),
                   pd.Series(_choice(rng, ["370199", "370188", "379901"], np.ones(3), n), index=dis.index))
    dis = _where_apply(dis, pick(MESS_RATES["fullwidth_code"]), _fullwidth)
    dis = _where_apply(dis, pick(MESS_RATES["padded_code"]), lambda s: s + "  ")
    raw["district_code"] = dis

    # names in traditional characters
    raw["name"] = _where_apply(raw["name"], pick(MESS_RATES["traditional_name"]), lambda s: s.str.translate(_T2S_SAMPLE))

    # dates
    est = raw["established_on"]
    est = _where_apply(est, pick(MESS_RATES["slash_date"]), lambda s: s.str.replace("-", "/"))
    future = (as_of + pd.to_timedelta(rng.integers(1, 400, n), unit="D")).strftime("%Y-%m-%d")
    est = est.mask(pick(MESS_RATES["future_date"]), pd.Series(future, index=est.index, dtype="string"))
    raw["established_on"] = est

    # errors in numbers
    neg = pick(MESS_RATES["negative_money"])
    raw["revenue"] = raw["revenue"].mask(neg, -raw["revenue"].abs() - 1)
    raw["layoff_rate"] = raw["layoff_rate"].mask(pick(MESS_RATES["rate_out_of_range"]),
                                                 np.round(rng.uniform(1.5, 30, n), 2))

    # booleans: mostly true/false, some 是/否 or 1/0
    for col in ("abnormal_operation", "serious_dishonest"):
        b = true[col].to_numpy(bool)
        txt = np.where(b, "true", "false").astype(object)
        r = u()
        txt = np.where(r < MESS_RATES["bool_variants"] / 2, np.where(b, "是", "否"), txt)
        txt = np.where((r >= 0.5) & (r < 0.5 + MESS_RATES["bool_variants"] / 2), np.where(b, "1", "0"), txt)
        raw[col] = pd.array(txt, dtype="string")

    # certification lists: full-width separators now and then
    raw["certifications"] = _where_apply(raw["certifications"], pick(0.02), lambda s: s.str.replace(";", "；"))

    # missing values (unknown facts)
    for col, rate in MISSING_RATES.items():
        m = pick(rate)
        raw[col] = raw[col].mask(m)
    # a second source names the industry where the code is missing
    no_code = raw["industry_code"].isna().to_numpy() & pick(0.6)
    names = _industry_names(true["industry_code"], rng)
    raw["industry_name"] = pd.Series(names, index=raw.index, dtype="string").where(no_code)

    # USCC errors: a wrong check character; a duplicated registration at the end of the table
    us = raw["uscc"].copy()
    bad = pick(MESS_RATES["bad_check_char"])
    us = _where_apply(us, bad, lambda s: s.str[:-1] + np.where(s.str[-1] != "0", "0", "1"))
    raw["uscc"] = us
    n_dup = int(round(MESS_RATES["duplicate_uscc"] * n))
    if n_dup and n > 2 * n_dup:
        src = rng.choice(n - n_dup, size=n_dup, replace=False)
        dup = raw.iloc[src].copy()
        dup["revenue"] = dup["revenue"] * 1.1  # the second export disagrees a little
        raw.iloc[n - n_dup:] = dup.to_numpy()
    for col in ("uscc", "name", "industry_code", "industry_name", "district_code", "status", "established_on",
                "enterprise_type", "tax_credit_rating", "certifications", "abnormal_operation", "serious_dishonest"):
        raw[col] = raw[col].astype("string")
    for col in raw.columns:
        if col not in ("uscc", "name") and raw[col].dtype == object:
            raw[col] = raw[col].astype("float64")
    return raw


def _industry_names(codes: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """The industry as a second source writes it: the class or section name, sometimes padded."""
    tab = industry_table()
    names = tab.loc[codes.to_numpy(), "name"].to_numpy(object)
    sec_names = tab.loc[tab.loc[codes.to_numpy(), "section"].to_numpy(), "name"].to_numpy(object)
    n = len(codes)
    r = rng.random(n)
    out = np.where(r < 0.25, sec_names, names)
    out = np.where((r > 0.9), " " + out + " ", out)
    return out
