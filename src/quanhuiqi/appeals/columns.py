"""The appeals table (涉企诉求池): column names and vocabularies, as constants (the contract of ``docs/appeals.md``).

Only ``appeal_id``, ``received_at`` and one of ``title``/``body`` are required; every other column may be
absent or empty (= unknown).  Times are local China time (UTC+8), ISO ``YYYY-MM-DD HH:MM[:SS]``.
"""

from __future__ import annotations

APPEAL_ID = "appeal_id"
RECEIVED_AT = "received_at"

# the workflow of §十四: 受理 → 直办转办 → 部门承办 (first contact) → 结果反馈 (resolved) → 跟踪回访 → 办结入库
WORKFLOW_TIMES = ["assigned_at", "first_contact_at", "resolved_at", "revisited_at", "closed_at"]
STAGE_NAMES = {  # for reasons and reports
    "received_at": "受理",
    "assigned_at": "转办",
    "first_contact_at": "联系企业",
    "resolved_at": "办结",
    "revisited_at": "回访",
    "closed_at": "归档",
}

APPEAL_REQUIRED = [APPEAL_ID, RECEIVED_AT]
APPEAL_TEXT = ["title", "body"]  # at least one of them
APPEAL_COLUMNS = [
    APPEAL_ID,
    RECEIVED_AT,
    "channel",
    "uscc",
    "district_code",
    "title",
    "body",
    "category",
    "department",  # ';' between several departments
    "triage",
    *WORKFLOW_TIMES,
    "reply",
    "satisfaction",
]

# channels (受理渠道) and the words registries use for them
CHANNELS = ["平台", "12345", "窗口", "走访", "座谈", "来信", "其他"]
CHANNEL_WORDS = {
    "平台": "平台", "泉惠企": "平台", "泉惠企平台": "平台", "线上": "平台", "网上": "平台", "网站": "平台",
    "app": "平台", "小程序": "平台", "platform": "平台", "online": "平台",
    "12345": "12345", "热线": "12345", "12345热线": "12345", "市民热线": "12345", "hotline": "12345",
    "窗口": "窗口", "政务服务窗口": "窗口", "大厅": "窗口", "政务大厅": "窗口", "window": "窗口",
    "走访": "走访", "入企走访": "走访", "上门走访": "走访", "服务专员": "走访", "visit": "走访",
    "座谈": "座谈", "座谈会": "座谈", "企业家座谈会": "座谈", "政企面对面": "座谈", "forum": "座谈",
    "来信": "来信", "信件": "来信", "来函": "来信", "letter": "来信",
    "其他": "其他", "other": "其他",
}

TRIAGE_LEVELS = ["direct", "coordinated", "escalated"]  # 直接办 · 协同办 · 提级办, in rising order
TRIAGE_WORDS = {
    "direct": "direct", "直接办": "direct", "直办": "direct", "简单一般": "direct",
    "coordinated": "coordinated", "协同办": "coordinated", "协办": "coordinated", "复杂疑难": "coordinated",
    "escalated": "escalated", "提级办": "escalated", "提级": "escalated", "重大紧急": "escalated",
}
TRIAGE_NAMES = {"direct": "直接办", "coordinated": "协同办", "escalated": "提级办"}

SATISFACTION = ["满意", "基本满意", "不满意"]
SATISFACTION_WORDS = {
    "满意": "满意", "非常满意": "满意", "很满意": "满意", "satisfied": "满意", "5": "满意", "4": "满意",
    "基本满意": "基本满意", "一般": "基本满意", "3": "基本满意",
    "不满意": "不满意", "很不满意": "不满意", "非常不满意": "不满意", "dissatisfied": "不满意", "2": "不满意",
    "1": "不满意",
}

MANUAL_DISPATCH = "人工分拨"

# the route output (quanhuiqi appeals route): the contract's columns first, then the suggestions
ROUTE_COLUMNS = [
    APPEAL_ID,
    "case_id",
    RECEIVED_AT,
    "uscc",
    "district_code",
    "channel",
    "category",
    "category_probability",
    "department",
    "dispatch",  # auto | manual (人工分拨)
    "triage",
    "triage_reason",
    "reason",
    "masked_title",
    "masked_body",
]
