"""The push rules: which eligible pairs reach an enterprise today, and why the others do not.

Pure functions over DataFrames.  Every candidate pair ends either on the push list or in
``held_back`` with the first rule that held it back, so the day's accounting always closes:
``len(candidates) == len(push_list) + len(held_back)``.

Rules, in the order they are tried (the first that applies is recorded):

``inactive``       the enterprise's canonical status is known and not ``active``
``granted``        the pair was already granted (grants table, granted on or before the date)
``suppressed``     the pair is on the suppression list and the suppression has not expired
``auto_grant``     mode ``auto`` and eligible: it goes on the 免申即享 list, not on the push list
``undetermined``   undetermined pairs are not pushed (only when configured so)
``cooldown``       pushed within the cool-down and the verdict did not change since
``cap``            the enterprise already has K better-ranked items today
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

RULES = ("inactive", "granted", "suppressed", "auto_grant", "undetermined", "cooldown", "cap")

CANDIDATE_COLUMNS = ["uscc", "policy_id", "verdict", "score", "mode", "valid_from", "valid_to", "evidence"]
PUSH_LIST_COLUMNS = ["date", "uscc", "policy_id", "rank", "score", "mode", "reason", "verdict"]
HELD_BACK_COLUMNS = ["date", "uscc", "policy_id", "verdict", "mode", "score", "rule", "detail"]
AUTO_GRANT_COLUMNS = ["policy_id", "uscc", "name", "evidence"]


@dataclass(frozen=True)
class PushRules:
    """The knobs of the push rules (``push:`` in the configuration)."""

    max_per_enterprise: int = 3
    cooldown_days: int = 30
    repeat_if_verdict_changed: bool = True
    include_undetermined: bool = True
    push_auto_grants: bool = False
    skip_inactive: bool = True
    skip_unknown_status: bool = False
    closing_soon_days: int = 14
    closing_soon_boost: float = 0.5
    new_policy_days: int = 7
    new_policy_boost: float = 0.25
    announce_new_policies: bool = True

    @classmethod
    def from_config(cls, cfg: dict) -> PushRules:
        return cls(**cfg["push"])


@dataclass
class PushDecision:
    """The outcome of the rules for one day."""

    push_list: pd.DataFrame
    held_back: pd.DataFrame
    auto_grant: pd.DataFrame


def _ts(as_of: dt.date | str | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize()


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")


def _keys(df: pd.DataFrame) -> pd.DataFrame:
    """The (uscc, policy_id) key as plain Python strings, whatever string storage each table uses."""
    return pd.DataFrame(
        {"uscc": df["uscc"].to_numpy(dtype=object), "policy_id": df["policy_id"].to_numpy(dtype=object)}
    )


def _lookup(c: pd.DataFrame, other: pd.DataFrame, value: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Which pairs of ``c`` appear in ``other`` (and ``other[value]`` for them, first occurrence)."""
    o = _keys(other)
    if value is not None:
        o["_value"] = other[value].to_numpy(dtype=object)
    o = o.drop_duplicates(["uscc", "policy_id"]).assign(_hit=True)
    m = _keys(c).merge(o, on=["uscc", "policy_id"], how="left")
    hit = m["_hit"].notna().to_numpy()
    return hit, (m["_value"].to_numpy(dtype=object) if value is not None else None)


def last_pushes(history: pd.DataFrame, as_of: dt.date | str, cooldown_days: int) -> pd.DataFrame:
    """The last push of each pair within the cool-down before ``as_of`` (``date < as_of``).

    Pushes dated on or after ``as_of`` are ignored, so re-running a date never counts that
    date's own pushes (or a later run's) as history.  Duplicated history rows collapse.
    """
    day = _ts(as_of)
    cols = ["uscc", "policy_id", "last_pushed", "last_verdict"]
    if history is None or history.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in cols}).astype({"last_pushed": "datetime64[ns]"})
    h = pd.DataFrame(
        {
            "uscc": history["uscc"].astype("string"),
            "policy_id": history["policy_id"].astype("string"),
            "last_pushed": _dates(history["date"]),
            "last_verdict": (
                history["verdict"].astype("string") if "verdict" in history else pd.Series(pd.NA, index=history.index, dtype="string")
            ),
        }
    )
    lo = day - pd.Timedelta(days=cooldown_days)
    h = h[(h["last_pushed"] < day) & (h["last_pushed"] > lo)]
    h = h.sort_values(["uscc", "policy_id", "last_pushed"], kind="stable")
    return h.drop_duplicates(["uscc", "policy_id"], keep="last").reset_index(drop=True)


def active_suppressions(suppressions: pd.DataFrame, as_of: dt.date | str) -> pd.DataFrame:
    """Suppressions in force on ``as_of``: created on or before it (or undated) and not yet expired."""
    day = _ts(as_of)
    if suppressions is None or suppressions.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in ["uscc", "policy_id", "reason"]})
    s = suppressions
    created = _dates(s["created_on"]) if "created_on" in s else pd.Series(pd.NaT, index=s.index)
    expires = _dates(s["expires_on"]) if "expires_on" in s else pd.Series(pd.NaT, index=s.index)
    live = (created.isna() | (created <= day)) & (expires.isna() | (expires >= day))
    out = pd.DataFrame(
        {
            "uscc": s["uscc"].astype("string"),
            "policy_id": s["policy_id"].astype("string") if "policy_id" in s else pd.NA,
            "reason": s["reason"].astype("string") if "reason" in s else pd.NA,
        }
    )[live.to_numpy()]
    return out.sort_values(["uscc", "policy_id"], kind="stable").reset_index(drop=True)


def _boost_flags(c: pd.DataFrame, day: pd.Timestamp, rules: PushRules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    valid_to = _dates(c["valid_to"])
    valid_from = _dates(c["valid_from"])
    days_left = (valid_to - day).dt.days
    days_since = (day - valid_from).dt.days
    closing = (days_left >= 0) & (days_left <= rules.closing_soon_days)
    new = (days_since >= 0) & (days_since < rules.new_policy_days)
    return (
        closing.fillna(False).to_numpy(bool),
        new.fillna(False).to_numpy(bool),
        days_left.fillna(-1).to_numpy(np.int64),
    )


def apply_push_rules(
    candidates: pd.DataFrame,
    *,
    as_of: dt.date | str,
    rules: PushRules | None = None,
    history: pd.DataFrame | None = None,
    grants: pd.DataFrame | None = None,
    suppressions: pd.DataFrame | None = None,
    status: pd.DataFrame | None = None,
    names: pd.DataFrame | None = None,
) -> PushDecision:
    """Decide the day's pushes.

    ``candidates``: one row per (uscc, policy_id) with ``CANDIDATE_COLUMNS`` and optionally
    ``reason`` (the ranker's explanation).  ``status``: ``uscc, status`` (canonical; NA = unknown).
    ``names``: ``uscc, name`` for the 免申即享 list.  History, grants and suppressions use the
    columns of ``quanhuiqi.tables.columns``; ``history`` may carry ``verdict``.
    """
    rules = rules or PushRules()
    day = _ts(as_of)
    date_text = day.date().isoformat()
    c = candidates.reset_index(drop=True).copy()
    missing = [col for col in CANDIDATE_COLUMNS if col not in c.columns]
    if missing:
        raise ValueError(f"candidates lack column(s) {missing}")
    if c.duplicated(["uscc", "policy_id"]).any():
        raise ValueError("candidates hold a (uscc, policy_id) pair more than once")
    n = len(c)
    c["uscc"] = c["uscc"].astype("string")
    c["policy_id"] = c["policy_id"].astype("string")
    c["verdict"] = c["verdict"].astype("string")
    c["mode"] = c["mode"].astype("string")
    base_reason = c["reason"].astype("string") if "reason" in c else c["evidence"].astype("string")
    score = pd.to_numeric(c["score"], errors="coerce").fillna(0.0).to_numpy(np.float64)
    closing, new, days_left = _boost_flags(c, day, rules)
    adjusted = score + rules.closing_soon_boost * closing + rules.new_policy_boost * new

    rule = np.zeros(n, dtype=np.int8)  # 0 = not held; i + 1 = RULES[i]
    detail = np.full(n, "", dtype=object)

    def hold(mask: np.ndarray, name: str, text: Callable[[np.ndarray], np.ndarray] | str) -> None:
        """Record ``name`` for the pairs of ``mask`` no earlier rule holds; ``text`` builds their detail."""
        take = mask & (rule == 0)
        rule[take] = RULES.index(name) + 1
        detail[take] = text(take) if callable(text) else text

    # inactive enterprises
    if status is not None and (rules.skip_inactive or rules.skip_unknown_status):
        st = c[["uscc"]].merge(
            status[["uscc", "status"]].astype({"uscc": "string", "status": "string"}).drop_duplicates("uscc"),
            on="uscc",
            how="left",
        )["status"]
        known = st.notna().to_numpy()
        st_text = st.fillna("unknown").astype(str).to_numpy(dtype=object)
        inactive = np.zeros(n, bool)
        if rules.skip_inactive:
            inactive |= known & (st_text != "active")
        if rules.skip_unknown_status:
            inactive |= ~known
        hold(inactive, "inactive", lambda m: "status " + st_text[m])

    # granted
    if grants is not None and len(grants):
        g = grants
        granted_on = _dates(g["granted_on"]) if "granted_on" in g else pd.Series(pd.NaT, index=g.index)
        g = g[(granted_on.isna() | (granted_on <= day)).to_numpy()]
        hold(_lookup(c, g)[0], "granted", "already granted")

    # suppressed (an officer or the enterprise disputed the pair; in force until it expires)
    sup = active_suppressions(suppressions, day)
    if len(sup):
        m_pair, why = _lookup(c, sup, "reason")
        hold(m_pair, "suppressed", lambda m: np.array([f"suppressed: {'' if pd.isna(w) else w}" for w in why[m]], dtype=object))

    verdict = c["verdict"].fillna("").to_numpy(dtype=object)
    mode = c["mode"].fillna("").to_numpy(dtype=object)
    eligible = verdict == "eligible"
    is_auto = (mode == "auto") & eligible
    if not rules.push_auto_grants:
        hold(is_auto, "auto_grant", "on the 免申即享 list")
    if not rules.include_undetermined:
        hold(verdict == "undetermined", "undetermined", "undetermined pairs are not pushed")

    # cool-down, unless the verdict changed since the last push
    last = c[["uscc", "policy_id"]].merge(last_pushes(history, day, rules.cooldown_days), on=["uscc", "policy_id"], how="left")
    pushed_recently = last["last_pushed"].notna().to_numpy()
    changed = np.zeros(n, bool)
    if rules.repeat_if_verdict_changed:
        lv = last["last_verdict"]
        changed = (lv.notna() & (lv.astype("string") != c["verdict"])).fillna(False).to_numpy(bool)
    since = (day - last["last_pushed"]).dt.days.fillna(-1).to_numpy(np.int64)
    hold(pushed_recently & ~changed, "cooldown", lambda m: np.array([f"pushed {d} days ago" for d in since[m]], dtype=object))

    # the K cap: rank what is left per enterprise; new policies are announced beyond it
    open_ = rule == 0
    exempt = open_ & new & eligible & rules.announce_new_policies
    capped = open_ & ~exempt
    order = pd.DataFrame({"uscc": c["uscc"], "adj": -adjusted, "policy_id": c["policy_id"]})
    sub = order[capped].sort_values(["uscc", "adj", "policy_id"], kind="stable")
    pos = np.zeros(n, np.int64)
    pos[sub.index.to_numpy()] = sub.groupby("uscc", sort=False).cumcount().to_numpy() + 1
    over = capped & (pos > rules.max_per_enterprise)
    hold(over, "cap", "beyond the top " + str(rules.max_per_enterprise) + " of the day")

    pushed = rule == 0
    pi, hi = np.flatnonzero(pushed), np.flatnonzero(~pushed)

    def take(col: str, idx: np.ndarray) -> pd.Series:
        return c[col].iloc[idx].reset_index(drop=True)

    # reasons of the pushed pairs: the ranker's sentence, tagged with what boosted it
    reason = base_reason.iloc[pi].fillna("").to_numpy(dtype=object)
    cl, nw = closing[pi], new[pi]
    reason[cl] = np.array([f"【即将截止·剩{d}天】" for d in days_left[pi][cl]], dtype=object) + reason[cl]
    reason[nw] = "【新发布政策】" + reason[nw]
    p = pd.DataFrame(
        {
            "date": pd.array([date_text] * len(pi), dtype="string"),
            "uscc": take("uscc", pi),
            "policy_id": take("policy_id", pi),
            "adj": -adjusted[pi],
            "score": adjusted[pi],
            "mode": take("mode", pi),
            "reason": pd.array(reason, dtype="string"),
            "verdict": take("verdict", pi),
        }
    )
    p = p.sort_values(["uscc", "adj", "policy_id"], kind="stable")
    p["rank"] = (p.groupby("uscc", sort=False).cumcount() + 1).astype("int64")
    push_list = p[PUSH_LIST_COLUMNS].reset_index(drop=True)

    h = pd.DataFrame(
        {
            "date": pd.array([date_text] * len(hi), dtype="string"),
            "uscc": take("uscc", hi),
            "policy_id": take("policy_id", hi),
            "verdict": take("verdict", hi),
            "mode": take("mode", hi),
            "score": adjusted[hi],
            "rule": pd.array(np.array(RULES, dtype=object)[rule[hi] - 1], dtype="string"),
            "detail": pd.array(detail[hi], dtype="string"),
        }
    )
    held_back = h.sort_values(["uscc", "policy_id"], kind="stable").reset_index(drop=True)

    ag = c.loc[(rule == RULES.index("auto_grant") + 1) | (is_auto & pushed), ["policy_id", "uscc", "evidence"]]
    if names is not None:
        ag = ag.merge(names[["uscc", "name"]].astype("string").drop_duplicates("uscc"), on="uscc", how="left")
    else:
        ag = ag.assign(name=pd.NA)
    auto_grant = (
        ag[AUTO_GRANT_COLUMNS]
        .astype("string")
        .sort_values(["policy_id", "uscc"], kind="stable")
        .reset_index(drop=True)
    )
    return PushDecision(push_list=push_list, held_back=held_back, auto_grant=auto_grant)
