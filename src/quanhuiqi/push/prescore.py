"""A cheap pre-score that shortlists each enterprise's candidates before the ranker runs.

With a few thousand policies an enterprise can have 100+ eligible or undetermined pairs a day, and the
ranker's 58 features cost far more per pair than the verdicts.  The pre-score uses only what is known
without features — the verdict, the missing facts, the estimated benefit, the deadline, the mode, how
many enterprises the policy reaches, which explicit targets the policy has and the segment lifts — with
the rule scorer's own weights, so its order agrees with the rule scorer's on the terms they share (only
the chain and tag overlaps are left out).  The job keeps each
enterprise's ``rank.shortlist`` best (``push.shortlist`` in the configuration) and ranks only those;
the others are held back with the rule ``shortlist``.  Everything is integer gathers per pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.numeric import count_lookup
from quanhuiqi.push.rules import sorted_codes
from quanhuiqi.rank.population import PopulationStatistics

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


SEGMENT_LIFTS = {"lift_industry": "industry_division", "lift_district": "district_code", "lift_size": "size_class"}


def prescore(candidates: pd.DataFrame, policy_term: pd.DataFrame, weights: dict[str, float],
             profile: pd.DataFrame | None = None, city: PopulationStatistics | None = None) -> np.ndarray:
    """The pre-score of each candidate (``uscc, policy_id, verdict, unknown, amount``).

    With ``profile`` (rows with ``uscc`` and the segment columns) it adds the rule scorer's targeting
    lifts: how over-represented the enterprise's industry division, district and size class are among the
    policy's candidates, against all enterprises with a candidate (log, clipped to [-1, 2], as the rule
    scorer's terms) — counts of integer codes, nothing per pair but gathers.  The reach and the lifts
    are the city's (``city``: the day's population statistics, summed over the partitions) when given,
    else those of ``candidates`` themselves.
    """
    n = len(candidates)
    if n == 0:
        return np.zeros(0)
    pcode, pids = sorted_codes(candidates["policy_id"], required=False)
    ucode, usccs = sorted_codes(candidates["uscc"], required=False)
    pos = pd.Index(policy_term["policy_id"]).get_indexer(pd.Index(pids))
    per_policy = np.where(pos >= 0, policy_term["term"].to_numpy(dtype=float)[pos], 0.0)
    if city is not None:
        at = np.asarray(city.policies.get_indexer(pd.Index(pids, dtype="string")), dtype=np.int64)
        n_pol = np.where(at >= 0, city.n_pol[np.maximum(at, 0)], 0.0)
        if (n_pol[np.unique(pcode[pcode >= 0])] == 0).any():
            raise ValueError("prescore: a candidate's policy has no candidate in the city statistics")
        reach = n_pol / city.n_ent[0]
    else:
        reach = np.bincount(pcode, minlength=len(pids)) / max(1, int(ucode.max()) + 1)
    score = per_policy[pcode] + weights.get("policy_reach", 0.0) * reach[pcode]
    score += weights.get("is_eligible", 0.0) * (candidates["verdict"] == "eligible").to_numpy(dtype=bool, na_value=False)
    if "unknown" in candidates.columns:
        ucodes, texts = sorted_codes(candidates["unknown"], required=False)
        counts = np.array([len([t for t in str(x).split(";") if t and not pd.isna(x)]) for x in texts], dtype=float)
        score += weights.get("n_unknown", 0.0) * np.where(ucodes >= 0, counts[ucodes] if len(texts) else 0.0, 0.0)
    if profile is not None and city is not None:
        score += _city_lift_terms(ucode, usccs, pcode, pids, profile, weights, city)
    elif profile is not None:
        score += _lift_terms(ucode, usccs, pcode, len(pids), profile, weights)
    if "amount" in candidates.columns:
        amount = pd.to_numeric(candidates["amount"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        score += weights.get("log_amount_est", 0.0) * np.nan_to_num(np.log1p(np.clip(amount, 0, None)))
    return score


def _lift_terms(ucode: np.ndarray, u_values: pd.Index, pcode: np.ndarray, n_policies: int, profile: pd.DataFrame,
                weights: dict[str, float]) -> np.ndarray:
    """Σ weight × clip(log lift, -1, 2) over the segments (missing segment → 0), per candidate
    (``ucode`` codes into ``u_values``, ``pcode`` into ``n_policies`` policies)."""
    row_of_u = pd.Index(profile["uscc"].astype("string")).get_indexer(pd.Index(u_values.astype("string")))
    n_u = len(u_values)
    has = np.zeros(n_u, dtype=bool)
    has[ucode] = True  # enterprises with a candidate
    n_ent = max(1, int(has.sum()))
    n_pol = np.bincount(pcode, minlength=n_policies).astype(float)
    out = np.zeros(ucode.size)
    for feature, col in SEGMENT_LIFTS.items():
        w = weights.get(feature, 0.0)
        if w == 0.0 or col not in profile.columns:
            continue
        seg_codes, seg_values = pd.factorize(profile[col].astype("string"))
        seg_u = np.where(row_of_u >= 0, seg_codes[np.maximum(row_of_u, 0)], -1)  # per enterprise code
        n_seg = max(1, len(seg_values))
        seg = seg_u[ucode]
        ok = seg >= 0
        base = np.bincount(seg_u[has & (seg_u >= 0)], minlength=n_seg).astype(float) / n_ent
        key = pcode[ok].astype(np.int64) * n_seg + seg[ok]
        in_pol = np.bincount(key, minlength=n_policies * n_seg).astype(float)[key] / n_pol[pcode[ok]]
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = np.log(in_pol / base[seg[ok]])
        out[ok] += w * np.clip(np.nan_to_num(lift, nan=0.0, posinf=2.0, neginf=-1.0), -1.0, 2.0)
    return out


def _city_lift_terms(ucode: np.ndarray, u_values: pd.Index, pcode: np.ndarray, pids: pd.Index,
                     profile: pd.DataFrame, weights: dict[str, float], city: PopulationStatistics) -> np.ndarray:
    """:func:`_lift_terms` against the city's counts: each term computed once per (policy, segment value)
    present — the same arithmetic, so one partition holding the whole city gives the same terms — and
    gathered per candidate."""
    row_of_u = pd.Index(profile["uscc"].astype("string")).get_indexer(pd.Index(u_values.astype("string")))
    p_at = np.asarray(city.policies.get_indexer(pd.Index(pids, dtype="string")), dtype=np.int64)
    n_pol = np.where(p_at >= 0, city.n_pol[np.maximum(p_at, 0)], 0.0)
    n_ent = city.n_ent[0]
    out = np.zeros(ucode.size)
    for feature, col in SEGMENT_LIFTS.items():
        short = feature.removeprefix("lift_")
        w = weights.get(feature, 0.0)
        if w == 0.0 or col not in profile.columns or short not in city.lift:
            continue
        s_keys, table, base = city.lift[short]
        n_s = max(len(s_keys), 1)
        seg_codes, seg_values = pd.factorize(profile[col].astype("string"))
        s_at = np.asarray(s_keys.get_indexer(pd.Index(seg_values, dtype="string")), dtype=np.int64)
        seg_row = np.where(seg_codes >= 0, s_at[np.maximum(seg_codes, 0)] if len(s_at) else -1, -1)
        seg_u = np.where(row_of_u >= 0, seg_row[np.maximum(row_of_u, 0)], -1)  # per enterprise code
        present = np.unique(seg_u[seg_u >= 0])
        if not len(present):
            continue
        col_of = np.full(n_s, -1, dtype=np.int64)
        col_of[present] = np.arange(len(present))
        # (policy × segment value present) terms, then one gather per candidate
        key = np.where(p_at[:, None] >= 0, p_at[:, None] * n_s + present[None, :], -1)
        with np.errstate(divide="ignore", invalid="ignore"):  # a policy without candidates: 0/0 → no term
            in_pol = count_lookup(table, key.ravel()).reshape(key.shape) / n_pol[:, None]
            lift = np.log(in_pol / (base[present][None, :] / n_ent))
        term = w * np.clip(np.nan_to_num(lift, nan=0.0, posinf=2.0, neginf=-1.0), -1.0, 2.0)
        seg = seg_u[ucode]
        ok = (seg >= 0) & (pcode >= 0)
        out[ok] += term[pcode[ok], col_of[seg[ok]]]
    return out
