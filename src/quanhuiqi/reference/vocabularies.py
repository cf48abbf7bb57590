"""Closed vocabularies of the enterprise record: canonical operating statuses, lifecycle stages,
certifications (with the Chinese names registries write for them) and industry chains.

Reference data, like the GB/T tables beside it: the readers (``quanhuiqi.tables``) validate against
them, the profile (``quanhuiqi.profile``) derives them, and the field catalogue
(``quanhuiqi.profile.fields``, which re-exports these names) declares them to the policy language.
The registry's ``enterprise_type`` is kept as written (normalised text), so it has no closed vocabulary.
"""

from __future__ import annotations

STATUSES = ["active", "suspended", "revoked", "cancelled", "moved_out", "liquidating"]
LIFECYCLE_STAGES = ["startup", "growth", "mature", "established"]
CERTIFICATIONS = [
    "high_tech",  # 高新技术企业
    "specialized_sme",  # 专精特新中小企业
    "little_giant",  # 专精特新"小巨人"
    "tech_sme",  # 科技型中小企业
    "gazelle",  # 瞪羚企业
    "unicorn",  # 独角兽企业
    "innovative_sme",  # 创新型中小企业
    "single_champion",  # 制造业单项冠军
]
CHAINS = [
    "ai",  # 人工智能
    "electronic_info",  # 电子信息
    "biomedicine",  # 生物医药
    "high_end_equipment",  # 高端装备
    "new_materials",  # 新材料
    "new_energy",  # 新能源
    "software_it",  # 软件和信息技术服务
    "modern_logistics",  # 现代物流
    "cultural_creative",  # 文化创意
]

# What people read for each canonical value (evidence, near-miss gaps, reports): never the token itself.
STATUS_LABELS = {
    "active": "在营（开业）", "suspended": "停业", "revoked": "吊销", "cancelled": "注销", "moved_out": "迁出",
    "liquidating": "清算",
}  # fmt: skip
LIFECYCLE_LABELS = {"startup": "初创期", "growth": "成长期", "mature": "成熟期", "established": "老牌企业"}
CERTIFICATION_LABELS = {
    "high_tech": "高新技术企业", "specialized_sme": "专精特新中小企业", "little_giant": "专精特新“小巨人”企业",
    "tech_sme": "科技型中小企业", "gazelle": "瞪羚企业", "unicorn": "独角兽企业", "innovative_sme": "创新型中小企业",
    "single_champion": "制造业单项冠军企业",
}  # fmt: skip
CHAIN_LABELS = {
    "ai": "人工智能", "electronic_info": "电子信息", "biomedicine": "生物医药", "high_end_equipment": "高端装备",
    "new_materials": "新材料", "new_energy": "新能源", "software_it": "软件和信息技术服务", "modern_logistics": "现代物流",
    "cultural_creative": "文化创意",
}  # fmt: skip

# Chinese names (after normalize_text, quotes removed) → canonical tokens of CERTIFICATIONS
CERTIFICATION_NAMES: dict[str, str] = {
    "高新技术企业": "high_tech",
    "国家高新技术企业": "high_tech",
    "高新企业": "high_tech",
    "高新": "high_tech",
    "专精特新": "specialized_sme",
    "专精特新企业": "specialized_sme",
    "专精特新中小企业": "specialized_sme",
    "专精特新小巨人": "little_giant",
    "专精特新小巨人企业": "little_giant",
    "小巨人": "little_giant",
    "小巨人企业": "little_giant",
    "科技型中小企业": "tech_sme",
    "瞪羚": "gazelle",
    "瞪羚企业": "gazelle",
    "独角兽": "unicorn",
    "独角兽企业": "unicorn",
    "创新型中小企业": "innovative_sme",
    "单项冠军": "single_champion",
    "单项冠军企业": "single_champion",
    "制造业单项冠军": "single_champion",
    "制造业单项冠军企业": "single_champion",
}
