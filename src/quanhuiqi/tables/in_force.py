"""What the history tables hold in force on a day: grants made by then, suppressions not yet expired.

The daily job's ``granted`` and ``suppressed`` rules and the online ranker read the same answer, so it
lives with the tables rather than with either of them.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd


def _ts(as_of: dt.date | str | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize()


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")


def grants_in_force(grants: pd.DataFrame | None, as_of: dt.date | str) -> pd.DataFrame | None:
    """Grants made on or before ``as_of`` (or undated): the pairs never to push or recommend again."""
    if grants is None or not len(grants):
        return grants
    day = _ts(as_of)
    granted_on = _dates(grants["granted_on"]) if "granted_on" in grants else pd.Series(pd.NaT, index=grants.index)
    return grants[(granted_on.isna() | (granted_on <= day)).to_numpy()]


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
