"""The catalogue of fields a policy may test: the profile's columns, typed, with units.

This is the contract between the profile (which produces these columns) and the policy language
(which checks every test against it at load time).  A city adds its own facts in a fields file
beside the policies; they are appended to this catalogue for that book.

Representation in the profile DataFrame:

- ``code`` fields hold canonical codes (industry: section letter or 2–4 digits; district: 6 digits,
  ``xx0000``/``xxxx00`` when known only to the province/prefecture).
- ``category`` and ``ordinal`` fields hold strings (pandas ``string``), missing = unknown.
- ``number`` fields are float64 (NaN = unknown); ``bool`` fields are pandas ``boolean`` (NA = unknown).
- ``date`` fields are ``datetime64[ns]`` (NaT = unknown).
- ``set`` fields are ``;``-joined sorted tokens (``"high_tech;tech_sme"``), empty string = holds none
  (closed world: never unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.reference.records import OWNERSHIP
from quanhuiqi.reference.sme import SIZE_CLASSES, SIZE_LABELS
from quanhuiqi.reference.vocabularies import (
    CERTIFICATION_LABELS,
    CERTIFICATIONS,
    CHAIN_LABELS,
    CHAINS,
    LIFECYCLE_LABELS,
    LIFECYCLE_STAGES,
    STATUS_LABELS,
    STATUSES,
)
from quanhuiqi.tables.columns import TAX_CREDIT_RATINGS

FIELD_TYPES = ("code", "category", "ordinal", "number", "bool", "date", "set", "text")

# the vocabularies are reference data (quanhuiqi.reference.vocabularies), read by the readers too;
# re-exported here, where the field catalogue names them


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    unit: str | None = None
    description: str = ""
    hierarchy: str | None = None  # for code fields: "industry" | "district"
    values: tuple[str, ...] | None = None  # allowed values (category/ordinal/set); order matters for ordinal
    label: str | None = None  # the Chinese name shown to people (evidence, missing facts)
    formula: tuple | None = None  # computed fields: ("sum", ((field, weight), …)) or ("ratio", (num, den))
    derived: Any = None  # virtual fields of the policy language: how the fact tables give the value
    yearly: bool = False  # a computed field over yearly metrics (usable with year/years)

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")


BUILTIN_FIELDS: tuple[Field, ...] = (
    Field("industry_code", "code", hierarchy="industry", description="GB/T 4754-2017 code, most specific level known"),
    Field("industry_section", "category", description="门类 letter"),
    Field("industry_division", "category", description="大类, 2 digits"),
    Field("industry_group", "category", description="中类, 3 digits"),
    Field("industry_class", "category", description="小类, 4 digits"),
    Field("district_code", "code", hierarchy="district", description="GB/T 2260 code, current successor"),
    Field("status", "category", values=tuple(STATUSES), description="canonical operating status"),
    Field("enterprise_type", "category", description="registered enterprise type as written (normalised)"),
    Field("established_on", "date", description="date of establishment"),
    Field("registered_capital", "number", "万元"),
    Field("employees", "number", "人"),
    Field("insured_employees", "number", "人", "employees with unemployment insurance paid (参保人数)"),
    Field("insured_months", "number", "月", "consecutive months of unemployment-insurance payment"),
    Field("layoff_rate", "number", "ratio", "share of insured employees laid off in the last 12 months"),
    Field("revenue", "number", "万元", "operating revenue of the last full year"),
    Field("revenue_prev", "number", "万元", "operating revenue of the year before"),
    Field("total_assets", "number", "万元"),
    Field("rd_expense", "number", "万元", "R&D expense of the last full year"),
    Field("tax_paid", "number", "万元", "taxes paid in the last full year"),
    Field("tax_credit_rating", "ordinal", values=tuple(TAX_CREDIT_RATINGS), description="A > B > M > C > D"),
    Field("certifications", "set", values=tuple(CERTIFICATIONS), description="closed world: absent = not held"),
    Field("abnormal_operation", "bool", description="listed in 经营异常名录"),
    Field("serious_dishonest", "bool", description="listed as 严重失信主体"),
    # derived by the profile
    Field("size_class", "ordinal", values=tuple(SIZE_CLASSES), description="2011 SME standard, by industry"),
    Field("above_scale", "bool", description="规模以上 (industry ≥ 2000 万元 revenue, etc.)"),
    Field("age_years", "number", "年", "completed years since establishment at as_of"),
    Field("lifecycle_stage", "category", values=tuple(LIFECYCLE_STAGES)),
    Field("revenue_growth", "number", "ratio", "revenue / revenue_prev − 1"),
    Field("rd_ratio", "number", "ratio", "rd_expense / revenue"),
    Field("tax_intensity", "number", "ratio", "tax_paid / revenue"),
    Field("chains", "set", values=tuple(CHAINS), description="industry-chain membership from GB/T 4754 codes"),
    Field("tags", "set", description="readable Chinese tags (高新技术企业, 小微企业, …)"),
    # facts real policies test (optional enterprise columns; docs/policy_language.md)
    Field("tax_district_code", "code", hierarchy="district", description="税务征管关系所在地 (GB/T 2260)"),
    Field("stats_district_code", "code", hierarchy="district", description="统计关系所在地 (GB/T 2260)"),
    Field("office_district_code", "code", hierarchy="district", description="主要办公场所所在地 (GB/T 2260)"),
    Field("paid_in_capital", "number", "万元", "实缴资本"),
    Field("ownership", "category", values=tuple(OWNERSHIP), description="private/state/collective/foreign/hmt/mixed"),
    Field("largest_shareholder_share", "number", "ratio", "第一大股东持股比例"),
    Field("subsidiaries_outside_city", "number", "家", "市外子公司数"),
    Field("invention_patents", "number", "件", "有效发明专利"),
    Field("utility_patents", "number", "件", "有效实用新型专利"),
    Field("design_patents", "number", "件", "有效外观设计专利"),
    Field("software_copyrights", "number", "件", "软件著作权"),
)

BUILTIN_BY_NAME: dict[str, Field] = {f.name: f for f in BUILTIN_FIELDS}

# Chinese names of the fields, for evidence, reasons and missing-fact lists shown to people.
FIELD_LABELS = {
    "industry_code": "行业", "industry_section": "行业门类", "industry_division": "行业大类",
    "industry_group": "行业中类", "industry_class": "行业小类", "district_code": "区县",
    "status": "经营状态", "enterprise_type": "企业类型", "established_on": "成立日期",
    "registered_capital": "注册资本", "employees": "从业人数", "insured_employees": "参保人数",
    "insured_months": "连续参保月数", "layoff_rate": "裁员率", "revenue": "营业收入",
    "revenue_prev": "上年营业收入", "total_assets": "资产总额", "rd_expense": "研发费用",
    "tax_paid": "纳税额", "tax_credit_rating": "纳税信用等级", "certifications": "资质",
    "abnormal_operation": "经营异常名录", "serious_dishonest": "严重失信", "size_class": "企业规模",
    "above_scale": "规模以上", "age_years": "成立年限", "lifecycle_stage": "生命周期",
    "revenue_growth": "营收增长率", "rd_ratio": "研发投入强度", "tax_intensity": "税负率",
    "chains": "产业链", "tags": "标签",
    "tax_district_code": "税务征管地", "stats_district_code": "统计关系所在地", "office_district_code": "办公场所所在地",
    "paid_in_capital": "实缴资本", "ownership": "所有制", "largest_shareholder_share": "第一大股东持股比例",
    "subsidiaries_outside_city": "市外子公司数", "invention_patents": "发明专利", "utility_patents": "实用新型专利",
    "design_patents": "外观设计专利", "software_copyrights": "软件著作权",
}  # fmt: skip


def field_label(name: str, fields: dict[str, Field] | None = None) -> str:
    """The Chinese name of a field: a city's extra field by its ``label``, else by its description up to the
    first bracket (``有效知识产权数量（发明专利…）`` → 有效知识产权数量) — people never read the column name."""
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    f = (fields or {}).get(name)
    if f is not None and f.label:
        return f.label
    head = re.split(r"[（(]", (f.description or "") if f is not None else "", maxsplit=1)[0].strip()
    return head or name


# Chinese labels of the canonical values of closed vocabularies; code fields are named by their standard
# (GB/T 4754 industry names, GB/T 2260 division names), the industry_* categories by the industry table.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "status": STATUS_LABELS, "size_class": SIZE_LABELS, "lifecycle_stage": LIFECYCLE_LABELS,
    "certifications": CERTIFICATION_LABELS, "chains": CHAIN_LABELS, "ownership": OWNERSHIP,
}  # fmt: skip
_INDUSTRY_CATEGORIES = ("industry_section", "industry_division", "industry_group", "industry_class")


@cache
def industry_name(code: str) -> str:
    """The GB/T 4754-2017 name of a canonical code (section letter or 2–4 digits); the code if none."""
    from quanhuiqi.reference.industries import industry_table

    tab = industry_table()
    return str(tab.at[code, "name"]) if code in tab.index else code


@cache
def district_label(code: str) -> str:
    """The GB/T 2260 name of a district code or significant prefix (``37`` 山东省, ``3701`` 济南市, ``370102``
    历下区); the code if none."""
    from quanhuiqi.reference.districts import district_name

    full = code + "0" * (6 - len(code)) if code.isdigit() and len(code) in (2, 4, 6) else code
    try:
        return district_name(full)
    except KeyError:
        return code


def _labeller(name: str, fields: dict[str, Field] | None):
    f = (fields or {}).get(name) or BUILTIN_BY_NAME.get(name)
    hierarchy = f.hierarchy if f is not None else None
    if hierarchy == "industry" or name in _INDUSTRY_CATEGORIES:
        return industry_name
    if hierarchy == "district":
        return district_label
    vocab = VALUE_LABELS.get(name)
    if vocab is not None and (f is None or f.derived is None):
        return lambda v: vocab.get(v, v)
    return None


def value_label(name: str, value: object, fields: dict[str, Field] | None = None) -> str:
    """What a reader sees for one canonical value of field ``name``: 在营（开业） for ``active``, 小型 for
    ``small``, 历下区 for ``370102``, 批发业 for ``51``, 高新技术企业 for ``high_tech``; other values as written."""
    text = str(value)
    lab = _labeller(name, fields)
    return text if lab is None else lab(text)


def set_label(name: str, value: str | None, fields: dict[str, Field] | None = None) -> str:
    """A ``;``-joined set value as a reader sees it: each token labelled, joined by 、 (``""`` when empty)."""
    return "、".join(value_label(name, t, fields) for t in (value or "").split(";") if t)


def value_labels(name: str, values: pd.Series, fields: dict[str, Field] | None = None) -> pd.Series:
    """:func:`value_label` over a column (each distinct value labelled once; set fields token by token,
    joined by 、; missing stays missing)."""
    lab = _labeller(name, fields)
    s = values.astype("string")
    f = (fields or {}).get(name) or BUILTIN_BY_NAME.get(name)
    is_set = f is not None and f.type == "set"
    if lab is None and not is_set:
        return s
    lab = lab or str
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if is_set:
        texts = ["、".join(lab(t) for t in str(u).split(";") if t) for u in uniques]
    else:
        texts = [lab(str(u)) for u in uniques]
    table = np.array(texts + [None], dtype=object)
    return pd.Series(table[codes], index=values.index, dtype="string")
