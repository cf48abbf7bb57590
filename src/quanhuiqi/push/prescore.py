"""A cheap pre-score that shortlists each enterprise's candidates before the ranker runs.

With a few thousand policies an enterprise can have 100+ eligible or undetermined pairs a day, and the
ranker's 58 features cost far more per pair than the verdicts.  The pre-score uses only what is known
without features — the verdict, the missing facts, the estimated benefit, the deadline, the mode, how
many enterprises the policy reaches and which explicit targets the policy has — with the rule scorer's
own weights, so its order agrees with the rule scorer's on the terms they share.  The job keeps each
enterprise's ``rank.shortlist`` best (``push.shortlist`` in the configuration) and ranks only those;
the others are held back with the rule ``shortlist``.  Everything is integer gathers per pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGETS = (("target_industries", "industry_match"), ("target_certifications", "cert_match"),
           ("target_chains", "chain_match"), ("target_districts", "district_match"))


def policy_terms(policies: pd.DataFrame, as_of: pd.Timestamp, weights: dict[str, float]) -> pd.DataFrame:
    """Per policy: the rule-score terms that do not depend on the enterprise (deadline, mode, targets)."""
    day = pd.Timestamp(as_of).normalize()
    valid_to = pd.to_datetime(policies["valid_to"], errors="coerce")
    days = (valid_to - day).dt.days.to_numpy(dtype=float, na_value=np.nan)
    urgency = np.where(days >= 0, np.clip(1.0 - days / 60.0, 0.0, 1.0), 0.0)
    term = weights.get("days_to_deadline", 0.0) * np.nan_to_num(urgency)
    mode = policies["mode"].astype("string").fillna("").to_numpy(dtype=object)
    term = term + weights.get("mode", 0.0) * (mode == "instant")
    for col, feature in TARGETS:
        if col in policies.columns:
            tokens = policies[col].astype("string").fillna("").to_numpy(dtype=object)
            # a city-wide district test ("3701") targets no one, as in the ranker's district_match
            shortest = 5 if col == "target_districts" else 1
            has = np.array([any(len(t) >= shortest for t in str(x).split(";")) for x in tokens], dtype=bool)
            term = term + weights.get(feature, 0.0) * has
    return pd.DataFrame({"policy_id": policies["policy_id"].astype("string"), "term": term})


def prescore(candidates: pd.DataFrame, policy_term: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    """The pre-score of each candidate (``uscc, policy_id, verdict, unknown, amount``)."""
    n = len(candidates)
    if n == 0:
        return np.zeros(0)
    pcode, pids = _codes(candidates["policy_id"])
    ucode, _ = _codes(candidates["uscc"])
    pos = pd.Index(policy_term["policy_id"]).get_indexer(pd.Index(pids))
    per_policy = np.where(pos >= 0, policy_term["term"].to_numpy(dtype=float)[pos], 0.0)
    reach = np.bincount(pcode, minlength=len(pids)) / max(1, int(ucode.max()) + 1)
    score = per_policy[pcode] + weights.get("policy_reach", 0.0) * reach[pcode]
    score += weights.get("is_eligible", 0.0) * (candidates["verdict"] == "eligible").to_numpy(dtype=bool, na_value=False)
    if "unknown" in candidates.columns:
        ucodes, texts = _codes(candidates["unknown"])
        counts = np.array([len([t for t in str(x).split(";") if t and not pd.isna(x)]) for x in texts], dtype=float)
        score += weights.get("n_unknown", 0.0) * np.where(ucodes >= 0, counts[ucodes] if len(texts) else 0.0, 0.0)
    if "amount" in candidates.columns:
        amount = pd.to_numeric(candidates["amount"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        score += weights.get("log_amount_est", 0.0) * np.nan_to_num(np.log1p(np.clip(amount, 0, None)))
    return score


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and their values (a Categorical's own codes; missing → -1)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64), pd.Index(values.cat.categories)
    codes, uniq = pd.factorize(values.astype("string"))
    return codes.astype(np.int64), pd.Index(uniq)
