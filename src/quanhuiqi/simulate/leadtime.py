"""Payout lead times (兑现效率): from eligibility to payment, per policy and department, and where the time goes.

A grant's clock starts when the pair became eligible (``eligible_on``; else its first push; else the policy's
``valid_from`` when that is not after the grant) and stops when the money is paid (``paid_on``).  Three stages:

- 申报 (``apply``): eligible → applied — the enterprise's own delay (none for 免申即享, which needs no application);
- 审核 (``review``): applied → approved, or eligible → approved when there was no application (认定);
- 拨付 (``pay``): approved → paid.

Grants approved but not paid by ``as_of`` are counted apart with how long they have waited.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

STAGES = {"apply": "申报", "review": "审核", "pay": "拨付"}
LEAD_COLUMNS = ["grants", "paid", "unpaid", "unpaid_median_wait_days", "median_days", "p90_days",
                "apply_median_days", "review_median_days", "pay_median_days", "slowest_stage", "slowest_stage_share",
                "start_from_eligible_on"]


def _days(a: pd.Series, b: pd.Series) -> pd.Series:
    return (pd.to_datetime(b) - pd.to_datetime(a)).dt.days.astype("float64")


def grant_clock(grants: pd.DataFrame, push_history: pd.DataFrame | None, valid_from: pd.Series) -> pd.DataFrame:
    """One row per grant with its start, stage durations (days) and total; ``valid_from`` indexed by policy_id."""
    g = grants.copy()
    for c in ("eligible_on", "applied_on", "approved_on", "paid_on", "granted_on"):
        g[c] = pd.to_datetime(g[c]) if c in g else pd.Series(pd.NaT, index=g.index, dtype="datetime64[ns]")
    start = g["eligible_on"]
    from_eligible = start.notna()
    if push_history is not None and len(push_history) and start.isna().any():
        first = (push_history.assign(date=pd.to_datetime(push_history["date"]))
                 .groupby(["uscc", "policy_id"], observed=True)["date"].min())
        key = pd.MultiIndex.from_arrays([g["uscc"].astype("string"), g["policy_id"].astype("string")])
        first.index = pd.MultiIndex.from_arrays([first.index.get_level_values(0).astype("string"),
                                                 first.index.get_level_values(1).astype("string")])
        start = start.fillna(pd.Series(first.reindex(key).to_numpy(), index=g.index))
    approved = g["approved_on"].fillna(g["granted_on"])
    vf = pd.to_datetime(g["policy_id"].astype("string").map(valid_from))
    start = start.fillna(vf.where(vf <= approved))
    applied = g["applied_on"]
    g["start"] = start
    g["apply"] = _days(start, applied)
    g["review"] = _days(applied.fillna(start), approved)
    g["pay"] = _days(approved, g["paid_on"])
    g["total"] = _days(start, g["paid_on"])
    g["approved"] = approved
    g["from_eligible_on"] = from_eligible
    return g


def _summarise(c: pd.DataFrame, by: str, as_of: dt.date) -> pd.DataFrame:
    paid = c[c["total"].notna()]
    unpaid = c[c["paid_on"].isna() & c["approved"].notna()]
    grp = c.groupby(by, observed=True, sort=True)
    pg = paid.groupby(by, observed=True, sort=True)
    out = pd.DataFrame({"grants": grp.size()})
    out["paid"] = pg.size().reindex(out.index).fillna(0).astype("int64")
    out["unpaid"] = unpaid.groupby(by, observed=True).size().reindex(out.index).fillna(0).astype("int64")
    wait = (pd.Timestamp(as_of) - unpaid["approved"]).dt.days
    out["unpaid_median_wait_days"] = wait.groupby(unpaid[by], observed=True).median().reindex(out.index)
    out["median_days"] = pg["total"].median().reindex(out.index)
    out["p90_days"] = pg["total"].quantile(0.9).reindex(out.index)
    means = {}
    for s in STAGES:
        out[f"{s}_median_days"] = pg[s].median().reindex(out.index)
        means[s] = paid[s].fillna(0.0).groupby(paid[by], observed=True).mean().reindex(out.index)
    m = pd.DataFrame(means)
    total = m.sum(axis=1)
    slow = m.fillna(-1).idxmax(axis=1)
    out["slowest_stage"] = slow.map(STAGES).where(total > 0)
    out["slowest_stage_share"] = (m.max(axis=1) / total).where(total > 0)
    out["start_from_eligible_on"] = grp["from_eligible_on"].mean()
    return out.reset_index()


def lead_times(grants: pd.DataFrame | None, push_history: pd.DataFrame | None, policies: pd.DataFrame,
               as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per policy, per department) lead times; empty frames when the grants carry no payment dates.

    ``policies``: ``policy_id, title, department, valid_from`` of every policy the grants may name."""
    empty_p = pd.DataFrame(columns=["policy_id", "title", "department", *LEAD_COLUMNS])
    empty_d = pd.DataFrame(columns=["department", *LEAD_COLUMNS])
    if grants is None or grants.empty or "paid_on" not in grants or grants["paid_on"].isna().all():
        return empty_p, empty_d
    pol = policies.drop_duplicates("policy_id").set_index(policies.drop_duplicates("policy_id")["policy_id"].astype("string"))
    c = grant_clock(grants, push_history, pol["valid_from"])
    c["policy_id"] = c["policy_id"].astype("string")
    c["department"] = c["policy_id"].map(pol["department"]).fillna("（政策库外）").astype("string")
    by_pol = _summarise(c, "policy_id", as_of)
    by_pol.insert(1, "title", by_pol["policy_id"].map(pol["title"]).astype("string"))
    by_pol.insert(2, "department", by_pol["policy_id"].map(pol["department"]).fillna("（政策库外）").astype("string"))
    by_dep = _summarise(c, "department", as_of)
    for t in (by_pol, by_dep):
        for col in t.columns:
            if col.endswith("_days") or col.endswith("_share") or col == "start_from_eligible_on":
                t[col] = t[col].astype("float64").round(3)
    return by_pol, by_dep.sort_values("median_days", ascending=False, kind="stable").reset_index(drop=True)

