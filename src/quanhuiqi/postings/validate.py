"""Validation of the postings table (供需信息): clean rows and rejects, like every input.

Row rejected: missing posting_id / uscc / side / title, invalid USCC, unknown side, duplicate
posting_id (the first occurrence is kept).  Value cleared (the row stays, the value becomes
unknown): non-existent industry or district code, unparseable date or number, negative quantity or
price, price_min above price_max (both cleared), expires_on before posted_on.  A posting dated after
``as_of`` is kept as written: it is simply not open yet at ``as_of`` (a postings file may hold a
whole history that is matched at several dates).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from quanhuiqi.reference.districts import canonical_district_code
from quanhuiqi.reference.industries import canonical_industry_code
from quanhuiqi.tables.columns import POSTING_COLUMNS, POSTING_REQUIRED
from quanhuiqi.tables.io import require_columns
from quanhuiqi.tables.parse import (
    as_timestamp,
    by_unique,
    cell_text,
    clean_text,
    parse_dates,
    parse_numbers,
    present,
)
from quanhuiqi.tables.rejects import ROW_REJECTED, VALUE_CLEARED, Validated, concat_rejects, rejects_for
from quanhuiqi.tables.uscc import normalize_uscc, uscc_reason
from quanhuiqi.text import normalize_text_series

SIDE_WORDS = {
    "supply": "supply",
    "供应": "supply",
    "供给": "supply",
    "供": "supply",
    "offer": "supply",
    "demand": "demand",
    "需求": "demand",
    "求购": "demand",
    "需": "demand",
    "need": "demand",
}


def validate_postings(raw: pd.DataFrame, as_of: str | dt.date | pd.Timestamp, source: str = "postings") -> Validated:
    """Clean postings (input order, ``row`` = 1-based input row) and the rejects of the rest."""
    as_of_ts = as_timestamp(as_of)
    require_columns(raw, POSTING_REQUIRED, source)
    df = raw.reset_index(drop=True).copy()
    n = len(df)
    rows = np.arange(1, n + 1, dtype="int64")
    for col in POSTING_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(pd.NA, index=df.index, dtype="string")
    parts: list[pd.DataFrame] = []
    rejected = np.zeros(n, dtype=bool)

    def reject(mask: np.ndarray, column: str, reason: str, values: pd.Series | None = None) -> None:
        mask = mask & ~rejected
        if mask.any():
            vals = None if values is None else cell_text(values)[mask]
            parts.append(rejects_for(rows[mask], vals, source=source, column=column, reason=reason,
                                     action=ROW_REJECTED))
            rejected[mask] = True

    def clear(mask: np.ndarray, column: str, reason: str, values: pd.Series) -> None:
        mask = mask & ~rejected
        if mask.any():
            parts.append(rejects_for(rows[mask], cell_text(values)[mask], source=source, column=column,
                                     reason=reason, action=VALUE_CLEARED))

    for col in POSTING_REQUIRED:
        reject(~present(df[col]), col, f"missing required value {col}")

    uscc = normalize_uscc(df["uscc"])
    why = uscc_reason(uscc)
    for reason in pd.unique(why.dropna()):
        reject((why == reason).fillna(False).to_numpy(dtype=bool), "uscc", str(reason), df["uscc"])

    side = clean_text(df["side"]).str.lower().map(SIDE_WORDS).astype("string")
    reject(side.isna().to_numpy() & present(df["side"]), "side", "unknown side (expected supply or demand)",
           df["side"])

    pid = clean_text(df["posting_id"].astype("string"))
    dup = pid.duplicated(keep=False).to_numpy() & pid.notna().to_numpy()
    # the first occurrence among rows not otherwise rejected is kept
    first = pd.Series(pid).where(~rejected).duplicated(keep="first").to_numpy()
    reject(dup & first, "posting_id", "duplicate posting_id (first occurrence kept)", df["posting_id"])

    industry = by_unique(df["industry_code"].astype("string"), canonical_industry_code).astype("string")
    clear(present(df["industry_code"]) & industry.isna().to_numpy(), "industry_code",
          "industry code does not exist in GB/T 4754-2017", df["industry_code"])
    district = by_unique(df["district_code"].astype("string"), canonical_district_code).astype("string")
    clear(present(df["district_code"]) & district.isna().to_numpy(), "district_code",
          "district code does not exist in GB/T 2260", df["district_code"])

    numbers = {}
    for col in ["quantity", "price_min", "price_max"]:
        val, bad = parse_numbers(df[col])
        clear(bad, col, f"{col} is not a number", df[col])
        neg = (val < 0).fillna(False).to_numpy()
        clear(neg, col, f"{col} is negative", df[col])
        numbers[col] = val.mask(neg)
    inverted = (numbers["price_min"] > numbers["price_max"]).fillna(False).to_numpy()
    for col in ["price_min", "price_max"]:
        clear(inverted, col, "price_min above price_max", df[col])
        numbers[col] = numbers[col].mask(inverted)

    dates = {}
    for col in ["posted_on", "expires_on"]:
        val, bad = parse_dates(df[col])
        clear(bad, col, f"{col} is not a date", df[col])
        dates[col] = val
    before = (dates["expires_on"] < dates["posted_on"]).fillna(False).to_numpy()
    clear(before, "expires_on", "expires_on before posted_on", df["expires_on"])
    dates["expires_on"] = dates["expires_on"].mask(before)

    clean = pd.DataFrame(
        {
            "row": rows,
            "posting_id": pid,
            "uscc": uscc,
            "side": side,
            "title": normalize_text_series(df["title"]),
            "description": normalize_text_series(df["description"]),
            "tags": normalize_text_series(df["tags"]),
            "industry_code": industry,
            "district_code": district,
            "quantity": numbers["quantity"],
            "unit": normalize_text_series(df["unit"]),
            "price_min": numbers["price_min"],
            "price_max": numbers["price_max"],
            "posted_on": dates["posted_on"],
            "expires_on": dates["expires_on"],
        }
    )
    extra = [c for c in raw.columns if c not in clean.columns]
    for col in extra:
        clean[col] = df[col].to_numpy()
    clean = clean.loc[~rejected].reset_index(drop=True)
    clean.attrs["as_of"] = as_of_ts
    out = Validated(clean=clean, rejects=concat_rejects(parts), rows_in=n)
    out.check_invariant()
    return out
