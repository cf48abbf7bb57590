"""The platform's past: pushes → clicks → applications → approvals, 免申即享 grants, suppressions.

Candidates come from the real pipeline on the *observed* data (validate → profile → evaluate), as the
platform saw them; approvals need *true* eligibility (the same engine on the complete, canonical
facts).  Eligibility is re-evaluated at weekly snapshots; each day of the window:

1. a random 4 % of the enterprises that have open candidates are pushed (the platform's daily batch
   reaches only part of the city);
2. candidates are that snapshot's eligible/undetermined pairs of policies valid that day, minus
   mode-auto eligible pairs (they go to the 免申即享 list), pairs pushed in the last 30 days, pairs
   already granted and suppressed pairs;
3. the logging policy scores ``ln(1 + max_amount) + 0.3·eligible + 0.5·closing_soon + Gumbel(0, 1)``
   and, for 20 % of the pushed enterprises (exploration), Gumbel noise only — their 3 slots are a
   uniform random draw from the candidates; the top 3 are pushed with ranks 1–3 (``score`` is that
   logging score).  Which pushes were exploration is written to ``truth/push_logging.parquet``, so a
   test window can be evaluated on impressions the old rule did not choose;
4. outcomes are drawn from :mod:`quanhuiqi.synth.preference`; an approval is decided after a lag
   (instant/auto 0–2 days, apply 10–45 days) and counts only when decided before ``as_of``.

Mode-auto pairs eligible on the observed data and truly eligible are granted in monthly batches (the
first snapshot of the window and the first of each month) — so pairs that became eligible since the
last batch are still open on ``as_of`` — and written to ``grants.csv`` with the approvals.

Each grant carries its stages (``GRANT_STAGE_COLUMNS``), drawn from a stream of their own so that every
other value is unchanged: ``eligible_on`` is the snapshot where the platform first listed the pair,
``applied_on`` 0–5 days after the push (never after the decision; empty for 免申即享), ``approved_on`` the
decision day, ``paid_on`` the approval plus a payment lag of the department (mean ``PAY_DAYS`` ·
LogNormal(0, 0.6), clipped to 5–90 days; per grant Gamma(4, mean/4); half that for 免申即享 transfers) —
empty when it falls on or after ``as_of`` (not paid yet).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from quanhuiqi.synth.preference import CLOSING_DAYS, policy_pair_utility
from quanhuiqi.tables.columns import GRANT_COLUMNS, PUSH_HISTORY_COLUMNS, SUPPRESSION_COLUMNS

PUSH_SHARE = 0.04
EXPLORE = 0.2
PER_DAY = 3
COOLDOWN_DAYS = 30
SNAPSHOT_DAYS = 7
PAY_DAYS = 20.0  # median of the departments' mean payment lags (days from approval to payment)
SUPPRESSION_REASONS = ["企业反馈已享受同类政策，不再推送", "主管部门认定不符合申报条件", "企业对认定结果有异议，复核中",
                       "企业申请暂停推送", "政策口径调整，暂停推送"]


def _key(a: pd.Series, b: pd.Series) -> pd.Series:
    return a.astype(str) + "\x1f" + b.astype(str)


def true_eligible_pairs(book, true_profile: pd.DataFrame) -> pd.DataFrame:
    """(uscc, policy_id) of every policy the enterprise truly meets on complete facts (window ignored)."""
    from quanhuiqi.eligibility import verdict_matrix

    codes = verdict_matrix(book.compiled, true_profile)
    rows, cols = np.nonzero(codes == 2)
    ids = np.array([p.id for p in book.items], dtype=object)
    return pd.DataFrame({"uscc": true_profile["uscc"].to_numpy(object)[rows], "policy_id": ids[cols]})


def simulate_history(book, clean: pd.DataFrame, true_clean: pd.DataFrame, ent_truth: pd.DataFrame,
                     pol_truth: pd.DataFrame, dept_affinity: pd.DataFrame, seed: int, as_of: dt.date | str,
                     history_days: int) -> dict[str, pd.DataFrame]:
    """``push_history``, ``grants``, ``suppressions`` and the true eligible pairs at ``as_of``."""
    from quanhuiqi.eligibility import evaluate
    from quanhuiqi.profile import profile

    rng = np.random.default_rng([seed, 17])
    as_of = pd.Timestamp(as_of)
    start = as_of - pd.Timedelta(days=history_days)
    ent_idx = ent_truth.set_index("uscc", drop=False)
    pol_idx = pol_truth.set_index("policy_id", drop=False)
    max_amount = pol_idx["max_amount"]
    pushes: list[pd.DataFrame] = []
    grants: list[pd.DataFrame] = []
    last_push: dict[str, pd.Timestamp] = {}
    granted: set[str] = set()
    listed: list[pd.DataFrame] = []  # (key, snapshot): when the platform first listed each pair
    snap = start
    while snap < as_of:
        prof = profile(clean, snap.date())
        obs = evaluate(book, prof, snap.date(), near_misses=False, evidence=False).pairs
        true_now = true_eligible_pairs(book, profile(true_clean, snap.date()))
        true_keys = set(_key(true_now["uscc"], true_now["policy_id"]))
        obs = obs[["uscc", "policy_id", "verdict", "mode"]].copy()
        obs["key"] = _key(obs["uscc"], obs["policy_id"])
        obs["eligible_true"] = obs["key"].isin(true_keys)
        listed.append(pd.DataFrame({"key": obs["key"].to_numpy(), "listed_on": snap}))
        # 免申即享: observed eligible and truly eligible auto pairs are granted
        batch_day = snap == start or snap.day <= SNAPSHOT_DAYS  # monthly 免申即享 batches
        auto = obs[(obs["mode"] == "auto") & (obs["verdict"] == "eligible") & obs["eligible_true"]
                   & ~obs["key"].isin(granted) & batch_day]
        if len(auto):
            amt = policy_pair_utility(auto[["uscc", "policy_id"]], ent_idx, pol_idx, dept_affinity, snap)["amount"]
            grants.append(pd.DataFrame({"uscc": auto["uscc"].to_numpy(), "policy_id": auto["policy_id"].to_numpy(),
                                        "granted_on": snap, "amount": np.round(amt.to_numpy(), 2),
                                        "pushed_on": pd.NaT}))
            granted.update(auto["key"])
        cand_all = obs[~((obs["mode"] == "auto") & (obs["verdict"] == "eligible"))]
        for day in pd.date_range(snap, min(snap + pd.Timedelta(days=SNAPSHOT_DAYS - 1), as_of - pd.Timedelta(days=1))):
            vf = pol_idx["valid_from"].reindex(cand_all["policy_id"]).to_numpy()
            vt = pol_idx["valid_to"].reindex(cand_all["policy_id"]).to_numpy()
            ok = (vf <= day.to_datetime64()) & (vt >= day.to_datetime64())
            cand = cand_all[ok & ~cand_all["key"].isin(granted).to_numpy()]
            if last_push:
                lp = cand["key"].map(last_push)
                cand = cand[~(lp.notna() & ((day - lp).dt.days < COOLDOWN_DAYS)).to_numpy()]
            if cand.empty:
                continue
            firms = cand["uscc"].unique()
            chosen = firms[rng.random(len(firms)) < PUSH_SHARE]
            cand = cand[cand["uscc"].isin(chosen)].copy()
            if cand.empty:
                continue
            explore = set(chosen[rng.random(len(chosen)) < EXPLORE])
            days_left = (pol_idx["valid_to"].reindex(cand["policy_id"]).to_numpy() - day.to_datetime64()) / np.timedelta64(1, "D")
            rule = (np.log1p(max_amount.reindex(cand["policy_id"]).to_numpy(float))
                    + 0.3 * (cand["verdict"].to_numpy() == "eligible") + 0.5 * (days_left <= CLOSING_DAYS))
            rule = np.where(cand["uscc"].isin(explore).to_numpy(), 0.0, rule)
            cand["score"] = np.round(rule + rng.gumbel(0, 1, len(cand)), 4)
            cand = cand.sort_values(["uscc", "score"], ascending=[True, False], kind="stable")
            cand["rank"] = cand.groupby("uscc").cumcount() + 1
            cand = cand[cand["rank"] <= PER_DAY].reset_index(drop=True)
            out = policy_pair_utility(cand[["uscc", "policy_id", "eligible_true"]], ent_idx, pol_idx, dept_affinity, day)
            n = len(cand)
            clicked = rng.random(n) < out["p_click"].to_numpy()
            applied = clicked & (rng.random(n) < out["p_apply"].to_numpy())
            ok_draw = applied & (rng.random(n) < out["p_approve"].to_numpy())
            mode = cand["mode"].to_numpy()
            lag = np.where(mode == "apply", rng.integers(10, 46, n), rng.integers(0, 3, n))
            decided = day + pd.to_timedelta(lag, unit="D")
            approved = ok_draw & (decided < as_of)
            pushes.append(pd.DataFrame({
                "date": day, "uscc": cand["uscc"], "policy_id": cand["policy_id"], "rank": cand["rank"].astype("int64"),
                "score": cand["score"], "mode": cand["mode"], "clicked": clicked, "applied": applied,
                "approved": approved, "explored": cand["uscc"].isin(explore).to_numpy()}))
            if approved.any():
                grants.append(pd.DataFrame({"uscc": cand["uscc"][approved].to_numpy(),
                                            "policy_id": cand["policy_id"][approved].to_numpy(),
                                            "granted_on": decided[approved],
                                            "amount": np.round(out["amount"].to_numpy()[approved], 2),
                                            "pushed_on": day}))
                granted.update(cand["key"][approved])
            last_push.update(dict.fromkeys(cand["key"], day))
        snap = snap + pd.Timedelta(days=SNAPSHOT_DAYS)
    push = (pd.concat(pushes, ignore_index=True) if pushes
            else pd.DataFrame(columns=[*PUSH_HISTORY_COLUMNS, "explored"]))
    logging = pd.DataFrame({"date": pd.to_datetime(push["date"]).dt.strftime("%Y-%m-%d"),
                            "uscc": push["uscc"].astype("string"), "policy_id": push["policy_id"].astype("string"),
                            "explored": push["explored"].astype(bool)})
    push = push[PUSH_HISTORY_COLUMNS]
    push["date"] = pd.to_datetime(push["date"]).dt.strftime("%Y-%m-%d")
    push["uscc"] = push["uscc"].astype("string")
    push["policy_id"] = push["policy_id"].astype("string")
    push["mode"] = push["mode"].astype("string")
    for c in ("clicked", "applied", "approved"):
        push[c] = push[c].astype(bool)
    g = pd.concat(grants, ignore_index=True) if grants else pd.DataFrame(columns=[*GRANT_COLUMNS, "pushed_on"])
    g = g.sort_values(["granted_on", "uscc", "policy_id"], kind="stable").drop_duplicates(["uscc", "policy_id"])
    first = (pd.concat(listed, ignore_index=True).groupby("key")["listed_on"].min() if listed
             else pd.Series(dtype="datetime64[ns]"))
    g = grant_stages(g.reset_index(drop=True), first, pol_idx["department"], np.random.default_rng([seed, 31]), as_of)
    g["granted_on"] = pd.to_datetime(g["granted_on"]).dt.strftime("%Y-%m-%d")
    sup = _suppressions(push, rng, as_of)
    true_final = true_eligible_pairs(book, profile(true_clean, as_of.date()))
    return {"push_history": push, "grants": g[GRANT_COLUMNS].reset_index(drop=True), "suppressions": sup,
            "eligible_true": true_final, "push_logging": logging}


def grant_stages(g: pd.DataFrame, first_listed: pd.Series, department: pd.Series, rng: np.random.Generator,
                 as_of: pd.Timestamp) -> pd.DataFrame:
    """``g`` (grants with ``pushed_on``, NaT for 免申即享) plus the stage dates, as ISO text (empty = unknown).

    ``first_listed``: first snapshot listing each pair (by ``_key``); ``department``: by policy_id."""
    n = len(g)
    depts = sorted(pd.unique(department.astype(str)))
    mean_lag = dict(zip(depts, np.clip(PAY_DAYS * np.exp(rng.normal(0, 0.6, len(depts))), 5, 90), strict=True))
    granted = pd.to_datetime(g["granted_on"])
    pushed = pd.to_datetime(g["pushed_on"])
    auto = pushed.isna().to_numpy()
    decision_lag = (granted - pushed).dt.days.fillna(0).to_numpy()
    apply_lag = np.minimum(rng.integers(0, 6, n), decision_lag)
    applied = (pushed + pd.to_timedelta(apply_lag, unit="D")).where(~auto)
    m = g["policy_id"].astype(str).map(department.astype(str)).map(mean_lag).fillna(PAY_DAYS).to_numpy(float)
    pay_lag = np.round(rng.gamma(4.0, m / 4.0) * np.where(auto, 0.5, 1.0))
    paid = granted + pd.to_timedelta(pay_lag, unit="D")
    paid = paid.where(paid < as_of)
    # a lookup, not Series.map: pandas 3 casts an empty mapper to float64, and a day with no grant (a city
    # generated after its book's policies end) has an empty one of dates
    eligible = pd.to_datetime(first_listed.reindex(_key(g["uscc"], g["policy_id"]).to_numpy()).to_numpy())
    eligible = pd.Series(eligible, index=g.index).where(lambda s: s <= granted, granted)

    def iso(s: pd.Series) -> pd.Series:
        return pd.to_datetime(s).dt.strftime("%Y-%m-%d").astype("string")

    return g.assign(eligible_on=iso(eligible), applied_on=iso(applied), approved_on=iso(granted), paid_on=iso(paid))


def _suppressions(push: pd.DataFrame, rng: np.random.Generator, as_of: pd.Timestamp) -> pd.DataFrame:
    """A few disputed pairs: 1.5 % of clicked-but-not-approved pushes, with reason and expiry."""
    pool = push[push["clicked"] & ~push["approved"]].drop_duplicates(["uscc", "policy_id"])
    pick = pool[rng.random(len(pool)) < 0.015]
    created = pd.to_datetime(pick["date"]) + pd.to_timedelta(rng.integers(1, 10, len(pick)), unit="D")
    created = created.where(created < as_of, as_of - pd.Timedelta(days=1))
    expires = created + pd.to_timedelta(rng.choice([30, 90, 180, 365], len(pick)), unit="D")
    return pd.DataFrame({
        "uscc": pick["uscc"].to_numpy(), "policy_id": pick["policy_id"].to_numpy(),
        "reason": np.asarray(SUPPRESSION_REASONS, dtype=object)[rng.integers(0, len(SUPPRESSION_REASONS), len(pick))],
        "created_on": created.dt.strftime("%Y-%m-%d").to_numpy(), "expires_on": expires.dt.strftime("%Y-%m-%d").to_numpy(),
    })[SUPPRESSION_COLUMNS]
