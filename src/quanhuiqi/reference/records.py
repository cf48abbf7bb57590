"""Vocabularies of the fact tables real policies need: record items, levels, severities, yearly metrics,
ownership kinds and the declarations an applicant can make.

Each vocabulary maps a canonical token to its Chinese label; ``*_SYNONYMS`` map what registries and
departments write (after ``normalize_text``) to the token.  Both the table readers and the policy language
read them from here, so a token means the same thing everywhere.
"""

from __future__ import annotations

from quanhuiqi.reference.vocabularies import CERTIFICATION_NAMES

# --- certificates: certifications and list memberships (认定、入库、名单) ----------------------------------
CERTIFICATE_ITEMS: dict[str, str] = {
    "high_tech": "高新技术企业",
    "specialized_sme": "专精特新中小企业",
    "little_giant": "专精特新“小巨人”企业",
    "tech_sme": "科技型中小企业",
    "gazelle": "瞪羚企业",
    "unicorn": "独角兽企业",
    "innovative_sme": "创新型中小企业",
    "single_champion": "制造业单项冠军企业",
    "tech_center": "企业技术中心",
    "engineering_center": "工程技术研究中心",
    "rd_center": "企业研究开发中心",
    "patent_pilot": "专利试点企业",
    "patent_demo": "专利示范企业",
    "ip_standard": "知识产权贯标企业",
    "headquarters": "总部企业",
    "talent_enterprise": "人才创办企业",
    "tech_project": "科技计划项目立项",
    "startup_award": "创业创新大赛获奖",
    "top500": "企业500强",
    "technology_advanced_service": "技术先进型服务企业",
    "listing_reserve": "后备上市企业",
}
CERTIFICATE_SYNONYMS: dict[str, str] = {
    **CERTIFICATION_NAMES,  # the enterprise table's certification spellings (reference.vocabularies)
    "高企": "high_tech", "企业技术中心": "tech_center", "技术中心": "tech_center",
    "工程技术研究中心": "engineering_center", "研究开发中心": "rd_center", "企业研究开发中心": "rd_center",
    "专利试点企业": "patent_pilot", "专利示范企业": "patent_demo", "知识产权贯标": "ip_standard",
    "知识产权贯标企业": "ip_standard", "总部企业": "headquarters", "人才企业": "talent_enterprise",
    "科技计划项目": "tech_project", "技术先进型服务企业": "technology_advanced_service",
    "后备上市企业": "listing_reserve",
}  # fmt: skip

LEVELS: dict[str, str] = {"district": "区县级", "city": "市级", "provincial": "省级", "national": "国家级"}  # lowest first
LEVEL_SYNONYMS: dict[str, str] = {
    "区级": "district", "县级": "district", "区县级": "district", "市级": "city", "地市级": "city",
    "省级": "provincial", "国家级": "national", "国家": "national", "省": "provincial", "市": "city",
}  # fmt: skip

# --- milestones --------------------------------------------------------------------------------------
MILESTONE_ITEMS: dict[str, str] = {
    "above_scale_entry": "纳入规模以上企业统计",
    "moved_in": "迁入",
    "individual_to_enterprise": "个体工商户转型为企业（个转企）",
    "listed": "境内外上市",
    "neeq_listed": "新三板挂牌",
    "regional_equity_listed": "区域性股权市场挂牌",
    "revenue_first_above": "营业收入首次突破",
}
MILESTONE_SYNONYMS: dict[str, str] = {
    "入规": "above_scale_entry", "纳入规上统计": "above_scale_entry", "小升规": "above_scale_entry",
    "迁入": "moved_in", "个转企": "individual_to_enterprise", "上市": "listed", "新三板挂牌": "neeq_listed",
    "区域股权市场挂牌": "regional_equity_listed",
}  # fmt: skip

# --- penalties, accidents and violations ----------------------------------------------------------------
PENALTY_ITEMS: dict[str, str] = {
    "administrative_penalty": "行政处罚",
    "safety_accident": "安全生产事故",
    "quality_accident": "质量事故",
    "environmental_violation": "环境违法",
    "research_misconduct": "科研失信",
    "tax_violation": "税收违法",
}
PENALTY_SYNONYMS: dict[str, str] = {
    "行政处罚": "administrative_penalty", "安全事故": "safety_accident", "安全生产事故": "safety_accident",
    "质量事故": "quality_accident", "环境违法": "environmental_violation", "科研失信": "research_misconduct",
    "税收违法": "tax_violation",
}  # fmt: skip
SEVERITIES: dict[str, str] = {"general": "一般", "major": "较大", "serious": "重大", "extraordinary": "特别重大"}
SEVERITY_SYNONYMS: dict[str, str] = {"一般": "general", "较大": "major", "重大": "serious", "特别重大": "extraordinary"}

RECORD_TABLES: dict[str, dict[str, str]] = {
    "certificate": CERTIFICATE_ITEMS,
    "milestone": MILESTONE_ITEMS,
    "penalty": PENALTY_ITEMS,
}
RECORD_SYNONYMS: dict[str, dict[str, str]] = {
    "certificate": CERTIFICATE_SYNONYMS,
    "milestone": MILESTONE_SYNONYMS,
    "penalty": PENALTY_SYNONYMS,
}
RECORD_TABLE_LABELS = {"certificate": "认定与名单", "milestone": "企业大事", "penalty": "处罚与事故"}

# --- yearly figures ---------------------------------------------------------------------------------------
# metric → (unit, label)
YEARLY_METRICS: dict[str, tuple[str, str]] = {
    "revenue": ("万元", "营业收入"),
    "main_revenue": ("万元", "主营业务收入"),
    "output_value": ("万元", "工业总产值"),
    "rd_expense": ("万元", "研发费用"),
    "rd_staff": ("人", "研发人员"),
    "employees": ("人", "从业人数"),
    "insured_employees": ("人", "参保人数"),
    "tax_total": ("万元", "纳税总额"),
    "tax_local": ("万元", "地方财政贡献"),
    "total_assets": ("万元", "资产总额"),
    "total_liabilities": ("万元", "负债总额"),
    "exports": ("万元", "出口额"),
    "equity_financing": ("万元", "股权融资额"),
    "loans": ("万元", "银行贷款额"),
    "local_purchases": ("万元", "区内采购额"),
}

# --- enterprise facts -------------------------------------------------------------------------------------
OWNERSHIP: dict[str, str] = {
    "private": "民营", "state": "国有", "collective": "集体", "foreign": "外资", "hmt": "港澳台", "mixed": "混合所有制",
}  # fmt: skip
OWNERSHIP_SYNONYMS: dict[str, str] = {
    "民营": "private", "民营企业": "private", "私营": "private", "国有": "state", "国有企业": "state", "国企": "state",
    "集体": "collective", "外资": "foreign", "外商投资": "foreign", "外商投资企业": "foreign", "港澳台": "hmt",
    "港澳台投资": "hmt", "混合所有制": "mixed", "混合": "mixed",
}  # fmt: skip

# --- declarations an applicant makes (attest) ---------------------------------------------------------------
ATTESTATIONS: dict[str, str] = {
    "financial_system": "财务制度健全",
    "independent_accounting": "实行独立核算",
    "stay_commitment": "承诺期内不迁出、不减资",
    "no_related_party": "与发榜方无关联关系",
    "fixed_premises": "有固定经营场所",
    "rd_bookkeeping": "研发费用单独建账",
    "compliance_commitment": "依法合规经营承诺",
    "legal_person": "具有独立法人资格",
    "no_major_accident": "未发生重大安全、质量事故和严重环境违法",
    "no_double_funding": "同一项目未获其他财政资金支持",
}
