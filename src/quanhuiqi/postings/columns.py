"""The supply–demand pair features' names (the registered postings model's signature) and their groups."""

from __future__ import annotations

FEATURES = [
    "tag_shared",
    "tag_jaccard",
    "text_sim",
    "title_score",
    "chain_relation",
    "district_proximity",
    "district_km",
    "same_chain",
    "unit_match",
    "qty_cover",
    "qty_share",
    "qty_log_ratio",
    "price_fit",
    "price_overlap",
    "supply_age_days",
    "demand_age_days",
    "supplier_credit",
    "supplier_size",
    "buyer_credit",
    "buyer_size",
    "supplier_log_employees",
    "buyer_log_employees",
    "rule_demand",
    "rule_supply",
    "supplier_shown",
    "supplier_contact_rate",
    "supplier_deal_rate",
    "pair_prev_contacts",
    "buyer_prev_contacts",
]
# revealed preference from past impressions (strictly before each pair's date; NaN without history)
HISTORY_FEATURES = ["supplier_shown", "supplier_contact_rate", "supplier_deal_rate", "pair_prev_contacts",
                    "buyer_prev_contacts"]
HISTORY_PRIOR = 2.0  # pseudo-impressions pulling a supplier's rates towards the platform's
# the day-one rule scorer's two sides, given to the model as a prior it can correct (stacking)
RULE_FEATURES = ["rule_demand", "rule_supply"]

# the features the reasons read
REASON_FEATURES = ["text_sim", "chain_relation", "district_proximity", "district_km", "qty_cover", "price_fit",
                   "supplier_credit", "supply_age_days"]

CHAIN_UPSTREAM = 2.0  # the supplier's division feeds the buyer's division
CHAIN_SAME = 1.0
