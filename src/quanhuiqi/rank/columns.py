"""The pair features' names (the registered model's signature) and the input columns they read.

Feature groups (names are stable: they are the registered model's signature):

- profile: size, age, revenue, growth, R&D, headcount, tax rating, certifications, chains, above scale;
- policy: mode, department, benefit kind and size, days to deadline, age of the policy;
- match specificity: how few enterprises the policy reaches, and how over-represented the enterprise's
  industry division / district / size class is among the policy's candidates (lift);
- chain and tag overlap between the enterprise and the policy's candidate population;
- verdict: eligible vs undetermined, number of missing facts;
- segment uptake: smoothed click/apply rates of the policy overall and within the enterprise's industry
  division, district and size class;
- engagement: the enterprise's past pushes, clicks, applications, and its history with this policy;
- revealed preference: the enterprise's click/apply rates on past pushes of the same bureau (department
  without its city/district prefix, :func:`quanhuiqi.rank.pairs.department_key`), the same benefit kind
  and the same mode, each smoothed towards its overall rate; its industry division's rates for the bureau
  and benefit kind.  Firms that applied to a bureau's subsidies before tend to again — a static rule
  cannot see this.
"""

from __future__ import annotations

SIZE_ORDER = {"micro": 0.0, "small": 1.0, "medium": 2.0, "large": 3.0}
RATING_ORDER = {"D": 0.0, "C": 1.0, "M": 2.0, "B": 3.0, "A": 4.0}
LIFECYCLE_ORDER = {"startup": 0.0, "growth": 1.0, "mature": 2.0, "established": 3.0}
MODE_ORDER = {"apply": 0.0, "instant": 1.0, "auto": 2.0}
SEGMENTS = {"industry": "industry_division", "district": "district_code", "size": "size_class"}

PROFILE_FEATURES = [
    "industry_section",
    "size_class",
    "age_years",
    "lifecycle_stage",
    "log_revenue",
    "revenue_growth",
    "rd_ratio",
    "log_employees",
    "log_registered_capital",
    "tax_credit_rating",
    "above_scale",
    "n_certifications",
    "n_chains",
    "n_tags",
]
POLICY_FEATURES = [
    "mode",
    "department",
    "benefit_kind",
    "log_max_amount",
    "log_amount_est",
    "days_to_deadline",
    "policy_age_days",
    "valid_days",
]
SPECIFICITY_FEATURES = ["policy_reach", "lift_industry", "lift_district", "lift_size", "chain_overlap", "tag_overlap"]
TARGET_FEATURES = ["industry_match", "cert_match", "chain_match", "district_match"]
VERDICT_FEATURES = ["is_eligible", "n_unknown"]
UPTAKE_FEATURES = [
    "policy_click_rate",
    "policy_apply_rate",
    "seg_click_rate_industry",
    "seg_apply_rate_industry",
    "seg_click_rate_district",
    "seg_apply_rate_district",
    "seg_click_rate_size",
    "seg_apply_rate_size",
]
ENGAGEMENT_FEATURES = [
    "ent_pushes",
    "ent_click_rate",
    "ent_apply_rate",
    "ent_days_since_click",
    "pair_prev_pushes",
    "pair_prev_clicked",
]
# revealed preference: the enterprise's own past engagement with this kind of policy, and its segment's
REVEALED_FEATURES = [
    "ent_dept_pushes",
    "ent_dept_click_rate",
    "ent_dept_apply_rate",
    "ent_kind_click_rate",
    "ent_kind_apply_rate",
    "ent_mode_click_rate",
    "ent_mode_apply_rate",
    "seg_dept_click_rate",
    "seg_dept_apply_rate",
    "seg_kind_apply_rate",
]
FEATURES = (
    PROFILE_FEATURES
    + POLICY_FEATURES
    + SPECIFICITY_FEATURES
    + TARGET_FEATURES
    + VERDICT_FEATURES
    + UPTAKE_FEATURES
    + ENGAGEMENT_FEATURES
    + REVEALED_FEATURES
)
# what a past push is grouped by for the revealed-preference features (policy attribute columns)
POLICY_GROUPS = {"dept": "dept_key", "kind": "benefit_kind", "mode": "mode"}
# the per-enterprise effect a builder with ``firm_effect_tau`` appends after the features
FIRM_EFFECT = "firm_effect"
CATEGORICAL_FEATURES = ["industry_section", "department", "benefit_kind"]
SECTIONS = "ABCDEFGHIJKLMNOPQRST"
TARGET_COLUMNS = ["target_industries", "target_certifications", "target_chains", "target_districts"]
PAIR_KEYS = ["uscc", "policy_id", "date"]
# the profile and policy columns the pair features read (assemble_pairs(only_features=True) joins these, plus
# the enterprise facts named by the policies' amount_base)
PROFILE_COLUMNS = [
    "industry_section", "industry_code", "industry_division", "district_code", "size_class", "established_on",
    "age_years", "lifecycle_stage", "revenue", "revenue_growth", "rd_ratio", "employees", "registered_capital",
    "tax_credit_rating", "above_scale", "certifications", "chains", "tags",
]
POLICY_COLUMNS = ["mode", "department", "benefit_kind", "max_amount", "amount_rate", "amount_base", "valid_from",
                  "valid_to"] + TARGET_COLUMNS

