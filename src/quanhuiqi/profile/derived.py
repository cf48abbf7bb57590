"""Age, life-cycle stage and financial ratios: plain arithmetic, unknown in → unknown out."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from quanhuiqi.profile._base import number

# Life-cycle stage by completed years.  初创期 (< 3 years) follows the usual policy line for 初创企业
# (成立不满3年); 成长期 3–9, 成熟期 10–19, 20 years and over 老牌 ("established").
LIFECYCLE_BOUNDS = ((3, "startup"), (10, "growth"), (20, "mature"))
LIFECYCLE_LAST = "established"


def as_date(as_of: dt.date | str | pd.Timestamp) -> pd.Timestamp:
    try:
        return pd.Timestamp(as_of).normalize()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"as_of is not a date: {as_of!r}") from exc


def completed_years(established: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """Completed years between the date and as_of (birthday rule; 29 Feb counts from 1 Mar); NaN if unknown
    or after as_of."""
    d = pd.to_datetime(established, errors="coerce")
    y = d.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    md = (d.dt.month * 100 + d.dt.day).to_numpy(dtype="float64", na_value=np.nan)
    years = as_of.year - y - ((as_of.month * 100 + as_of.day) < md)
    with np.errstate(invalid="ignore"):
        return np.where(years >= 0, years, np.nan)


def lifecycle_stage(age_years: np.ndarray) -> np.ndarray:
    out = np.full(len(age_years), None, dtype=object)
    known = ~np.isnan(age_years)
    remaining = known.copy()
    for bound, stage in LIFECYCLE_BOUNDS:
        hit = remaining & (age_years < bound)
        out[hit] = stage
        remaining &= ~hit
    out[remaining] = LIFECYCLE_LAST
    return out


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, unknown where either is unknown or the denominator is not positive."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.where(den > 0, num / den, np.nan)


AGE_COLUMNS = ("age_years", "lifecycle_stage")
FINANCE_COLUMNS = ("revenue_growth", "rd_ratio", "tax_intensity")


def derive_age(X: pd.DataFrame, as_of: dt.date | str | None) -> pd.DataFrame:
    """``age_years`` (completed years at ``as_of``) and ``lifecycle_stage``."""
    if as_of is None:
        raise ValueError("AgeFeatures needs as_of (nothing reads the wall clock)")
    if "established_on" in X.columns:
        age = completed_years(X["established_on"], as_date(as_of))
    else:
        age = np.full(len(X), np.nan)
    return pd.DataFrame(
        {"age_years": age, "lifecycle_stage": pd.Series(lifecycle_stage(age), index=X.index, dtype="string")},
        index=X.index,
    )


def derive_finance(X: pd.DataFrame) -> pd.DataFrame:
    """``revenue_growth`` (revenue / revenue_prev − 1), ``rd_ratio`` and ``tax_intensity`` (per revenue)."""
    rev = number(X, "revenue")
    return pd.DataFrame(
        {
            "revenue_growth": ratio(rev, number(X, "revenue_prev")) - 1.0,
            "rd_ratio": ratio(number(X, "rd_expense"), rev),
            "tax_intensity": ratio(number(X, "tax_paid"), rev),
        },
        index=X.index,
    )
