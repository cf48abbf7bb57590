"""A small, fast push-history simulator for the ranker's tests and benchmark.

The synthetic city (``quanhuiqi.synth``) is the realistic end-to-end fixture; this one produces the
ranker's inputs directly — profile, policies, the candidate population per push date and the pushes
with outcomes — from a documented latent utility, in seconds, at any size (a million candidate rows for
the benchmark).  Utility of a pair: targeting (the policy aims at the enterprise's industry division and
chain), benefit size, eligibility (undetermined pairs convert less), the enterprise's own propensity to
engage, and noise; clicks follow utility minus a position bias, applications and approvals follow clicks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_DIVISIONS = ["13", "26", "27", "34", "39", "51", "52", "64", "65", "72", "75", "47"]
_DISTRICTS = ["370102", "370103", "370104", "370105", "370112", "370113", "370114", "370115"]
_CHAINS = ["ai", "electronic_info", "biomedicine", "high_end_equipment", "new_materials", "software_it"]
_SIZES = ["micro", "small", "medium", "large"]
_DEPTS = ["市科技局", "市工业和信息化局", "市人力资源社会保障局", "市商务局", "市财政局"]


@dataclass
class SimulatedPushes:
    profile: pd.DataFrame
    policies: pd.DataFrame
    population: pd.DataFrame  # date (the snapshot), uscc, policy_id, verdict, unknown, utility
    pushes: pd.DataFrame  # PUSH_HISTORY_COLUMNS + utility
    snapshot_of: dict  # push date → population snapshot date (one snapshot: candidates do not change)


def simulate_pushes(
    n_enterprises: int = 2000,
    n_policies: int = 60,
    n_days: int = 30,
    per_day: float = 0.1,
    k: int = 8,
    candidates_per_enterprise: int = 12,
    seed: int = 0,
    start: str = "2025-03-01",
) -> SimulatedPushes:
    """Draw a profile, a policy book frame, daily candidate populations and pushes with outcomes.

    Each day ``per_day`` of the enterprises get ``k`` pushes chosen at random among their candidates
    (a uniform logging policy, so every candidate can be learned from).
    """
    rng = np.random.default_rng(seed)
    n = n_enterprises
    uscc = pd.array([f"91370100SIM{i:07d}" for i in range(n)], dtype="string")
    div = rng.choice(_DIVISIONS, n)
    chains = np.where(rng.random(n) < 0.5, rng.choice(_CHAINS, n), "")
    profile = pd.DataFrame(
        {
            "uscc": uscc,
            "industry_code": pd.array(div, dtype="string"),
            "industry_division": pd.array(div, dtype="string"),
            "district_code": pd.array(rng.choice(_DISTRICTS, n), dtype="string"),
            "size_class": pd.array(rng.choice(_SIZES, n, p=[0.55, 0.3, 0.12, 0.03]), dtype="string"),
            "established_on": pd.Timestamp("2024-12-31") - pd.to_timedelta(rng.integers(100, 9000, n), "D"),
            "revenue": np.round(rng.lognormal(6, 1.5, n), 1),
            "revenue_growth": np.round(rng.normal(0.08, 0.2, n), 3),
            "rd_ratio": np.round(np.clip(rng.normal(0.03, 0.03, n), 0, 1), 4),
            "employees": rng.integers(1, 800, n).astype(float),
            "tax_credit_rating": pd.array(rng.choice(["A", "B", "M", "C"], n), dtype="string"),
            "certifications": pd.array(np.where(rng.random(n) < 0.2, "high_tech", ""), dtype="string"),
            "chains": pd.array(chains, dtype="string"),
            "tags": pd.array(np.where(div < "50", "制造业", "服务业"), dtype="string"),
        }
    )
    m = n_policies
    p_div = rng.choice(_DIVISIONS, m)
    p_chain = np.where(rng.random(m) < 0.5, rng.choice(_CHAINS, m), "")
    valid_from = pd.Timestamp(start) - pd.to_timedelta(rng.integers(10, 300, m), "D")
    policies = pd.DataFrame(
        {
            "policy_id": pd.array([f"SIM-{j:04d}" for j in range(m)], dtype="string"),
            "title": pd.array([f"模拟政策{j}" for j in range(m)], dtype="string"),
            "department": pd.array(rng.choice(_DEPTS, m), dtype="string"),
            "mode": pd.array(rng.choice(["auto", "instant", "apply"], m, p=[0.2, 0.3, 0.5]), dtype="string"),
            "valid_from": valid_from,
            "valid_to": pd.Timestamp(start) + pd.to_timedelta(rng.integers(n_days + 5, 300, m), "D"),
            "benefit_kind": pd.array(rng.choice(["subsidy", "refund", "loan"], m), dtype="string"),
            "max_amount": np.round(rng.lognormal(3, 1.2, m), 1),
            "target_industries": pd.array(p_div, dtype="string"),
            "target_chains": pd.array(p_chain, dtype="string"),
        }
    )
    # candidates: half targeted at the enterprise's division (or chain), half broad policies
    c = candidates_per_enterprise
    e_idx = np.repeat(np.arange(n), c)
    by_div = {d: np.flatnonzero(p_div == d) for d in _DIVISIONS}
    pick = rng.integers(0, m, n * c)
    targeted = rng.random(n * c) < 0.5
    for d, pols in by_div.items():
        if len(pols):
            sel = targeted & (div[e_idx] == d)
            pick[sel] = rng.choice(pols, sel.sum())
    pairs = pd.DataFrame({"e": e_idx, "p": pick}).drop_duplicates().reset_index(drop=True)
    e, p = pairs["e"].to_numpy(), pairs["p"].to_numpy()
    eligible = rng.random(len(pairs)) < 0.65
    propensity = rng.normal(0, 0.7, n)
    utility = (
        1.2 * (p_div[p] == div[e])
        + 1.0 * ((p_chain[p] != "") & (p_chain[p] == chains[e]))
        + 0.35 * np.log1p(policies["max_amount"].to_numpy()[p])
        + 0.6 * eligible
        + propensity[e]
        + rng.normal(0, 0.5, len(pairs))
        - 2.0
    )
    base = pd.DataFrame(
        {
            "uscc": uscc[e],
            "policy_id": policies["policy_id"].to_numpy()[p],
            "verdict": pd.array(np.where(eligible, "eligible", "undetermined"), dtype="string"),
            "unknown": pd.array(np.where(eligible, "", rng.choice(["revenue", "employees;revenue"], len(pairs))),
                                dtype="string"),
            "utility": utility,
            "_e": e,
        }
    )
    dates = pd.date_range(start, periods=n_days, freq="D")
    population = base.drop(columns="_e").assign(date=dates[0])
    # pushes: per day, a sample of enterprises, k random candidates each
    pushed = []
    for d in dates:
        chosen = rng.random(n) < per_day
        sub = base.loc[chosen[base["_e"].to_numpy()]]
        sub = sub.assign(_r=rng.random(len(sub))).sort_values(["_e", "_r"])
        sub = sub.assign(rank=sub.groupby("_e").cumcount() + 1)
        sub = sub.loc[sub["rank"] <= k].assign(date=d)
        pushed.append(sub)
    pu = pd.concat(pushed, ignore_index=True)
    u = pu["utility"].to_numpy()
    r = rng.random((3, len(pu)))
    clicked = r[0] < 1 / (1 + np.exp(-(u - 0.15 * (pu["rank"].to_numpy() - 1))))
    applied = clicked & (r[1] < 1 / (1 + np.exp(-(u - 1.0))))
    approved = applied & (r[2] < np.where(pu["verdict"].to_numpy() == "eligible", 0.8, 0.4))
    pushes = pd.DataFrame(
        {
            "date": pu["date"].to_numpy(),
            "uscc": pu["uscc"].to_numpy(),
            "policy_id": pu["policy_id"].to_numpy(),
            "rank": pu["rank"].to_numpy(dtype=np.int64),
            "score": np.round(pu["_r"].to_numpy(), 6),
            "mode": pu["policy_id"].map(policies.set_index("policy_id")["mode"]).to_numpy(),
            "clicked": clicked,
            "applied": applied,
            "approved": approved,
            "utility": u,
        }
    )
    return SimulatedPushes(profile, policies, population, pushes, dict.fromkeys(dates, dates[0]))
