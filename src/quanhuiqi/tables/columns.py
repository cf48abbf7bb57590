"""Column names of the input tables and of the profile, as constants.

The enterprise table contract is DESIGN.md's; only ``uscc`` and ``name`` are required.  Every
other column may be missing, and a missing fact is *unknown*, never zero or false.
"""

from __future__ import annotations

USCC = "uscc"
NAME = "name"

ENTERPRISE_REQUIRED = [USCC, NAME]
ENTERPRISE_TEXT = ["industry_code", "industry_name", "district_code", "status", "enterprise_type", "certifications"]
ENTERPRISE_DATES = ["established_on"]
ENTERPRISE_MONEY = ["registered_capital", "revenue", "revenue_prev", "total_assets", "rd_expense", "tax_paid"]
ENTERPRISE_COUNTS = ["employees", "insured_employees", "insured_months"]
ENTERPRISE_RATES = ["layoff_rate"]
ENTERPRISE_RATING = ["tax_credit_rating"]
ENTERPRISE_BOOLS = ["abnormal_operation", "serious_dishonest"]
# Facts real policies test beyond DESIGN's table (all optional): the tax, statistical and office location apart
# from the registered one, paid-in capital, ownership and group structure, intellectual property by kind.
ENTERPRISE_LOCATIONS = ["tax_district_code", "stats_district_code", "office_district_code"]
ENTERPRISE_FACT_MONEY = ["paid_in_capital"]
ENTERPRISE_FACT_COUNTS = [
    "subsidiaries_outside_city", "invention_patents", "utility_patents", "design_patents", "software_copyrights",
]  # fmt: skip
ENTERPRISE_FACT_RATES = ["largest_shareholder_share"]
ENTERPRISE_FACT_CATEGORIES = ["ownership"]
ENTERPRISE_FACTS = (
    ENTERPRISE_LOCATIONS + ENTERPRISE_FACT_MONEY + ENTERPRISE_FACT_COUNTS + ENTERPRISE_FACT_RATES
    + ENTERPRISE_FACT_CATEGORIES
)
ENTERPRISE_OPTIONAL = (
    ENTERPRISE_TEXT
    + ENTERPRISE_DATES
    + ENTERPRISE_MONEY
    + ENTERPRISE_COUNTS
    + ENTERPRISE_RATES
    + ENTERPRISE_RATING
    + ENTERPRISE_BOOLS
    + ENTERPRISE_FACTS
)
ENTERPRISE_COLUMNS = ENTERPRISE_REQUIRED + ENTERPRISE_OPTIONAL

TAX_CREDIT_RATINGS = ["D", "C", "M", "B", "A"]  # ordinal, worst first: ge B means A or B

REJECT_COLUMNS = ["source", "row", "column", "value", "reason"]

# --- postings (供需对接) -----------------------------------------------------------------------
POSTING_REQUIRED = ["posting_id", "uscc", "side", "title"]
POSTING_COLUMNS = POSTING_REQUIRED + [
    "description",
    "tags",  # ';'-separated free tags, normalised against the shipped vocabulary
    "industry_code",
    "district_code",
    "quantity",
    "unit",
    "price_min",  # 万元 per unit
    "price_max",
    "posted_on",
    "expires_on",
]
POSTING_SIDES = ["supply", "demand"]

# --- history and state of the platform (the daily job's --data DIR) ----------------------------
PUSH_HISTORY_COLUMNS = ["date", "uscc", "policy_id", "rank", "score", "mode", "clicked", "applied", "approved"]
# Optional stages of a grant, in order (each date may be missing): the pair was found eligible (or first
# listed by the platform), the enterprise applied (empty for 免申即享), the grant was approved, the money paid.
GRANT_STAGE_COLUMNS = ["eligible_on", "applied_on", "approved_on", "paid_on"]
GRANT_COLUMNS = ["uscc", "policy_id", "granted_on", "amount", *GRANT_STAGE_COLUMNS]
SUPPRESSION_COLUMNS = ["uscc", "policy_id", "reason", "created_on", "expires_on"]
POSTING_INTERACTION_COLUMNS = ["date", "demand_id", "supply_id", "rank", "contacted", "deal"]

# File names inside a data directory (``quanhuiqi push --data DIR``); CSV or Parquet by extension.
DATA_FILES = {
    "enterprises": "enterprises.csv",
    "policies": "policies",  # a folder of YAML policies plus fields.yaml
    "postings": "postings.csv",
    "push_history": "push_history.parquet",
    "grants": "grants.csv",
    "suppressions": "suppressions.csv",
    "posting_interactions": "posting_interactions.parquet",
    # fact tables real policies read (optional; an absent one leaves its facts unknown): tables.facts
    "certificates": "certificates.csv",
    "milestones": "milestones.csv",
    "penalties": "penalties.csv",
    "yearly": "yearly.csv",
    "declarations": "declarations.csv",
    "appeals": "appeals.csv",  # enterprise appeals (涉企诉求), contract in docs/appeals.md
    "truth": "truth",  # synthetic city only: the latent model's parameters, for evaluation
}
