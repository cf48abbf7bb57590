"""Postings made ready for pairing: normalised tags and text, divisions, openness, poster facts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.postings.vocabulary import normalize_tags
from quanhuiqi.reference.sme import SIZE_CLASSES
from quanhuiqi.tables.columns import TAX_CREDIT_RATINGS
from quanhuiqi.tables.parse import as_timestamp

EXCLUDED_STATUS = "企业非存续状态"
EXCLUDED_DISHONEST = "严重失信主体"


def enterprise_facts(enterprises: pd.DataFrame | None) -> pd.DataFrame | None:
    """Per USCC: ``ent_status`` (canonical), ``ent_dishonest``, ``credit`` (A=4 … D=0), ``size`` (micro=0 …
    large=3) and ``excluded`` (Chinese reason, NA when the enterprise may be paired).

    Accepts a profile frame (canonical ``status``, ``size_class``) or a clean enterprise table
    (registry status text, mapped here)."""
    if enterprises is None:
        return None
    ent = enterprises.drop_duplicates("uscc", keep="first")
    idx = pd.Index(ent["uscc"].astype("string"), name="uscc")
    status = ent["status"].astype("string") if "status" in ent else pd.Series(pd.NA, index=ent.index, dtype="string")
    from quanhuiqi.reference.vocabularies import STATUSES

    if not status.dropna().isin(STATUSES).all():
        try:
            from quanhuiqi.profile.status import canonical_status_series

            status = canonical_status_series(status).astype("string")
        except ImportError:  # pragma: no cover - the profile package ships the mapper
            status = status.where(status.isin(STATUSES))
    dishonest = (
        ent["serious_dishonest"].astype("boolean")
        if "serious_dishonest" in ent
        else pd.Series(pd.NA, index=ent.index, dtype="boolean")
    )
    rating = ent["tax_credit_rating"].astype("string") if "tax_credit_rating" in ent else None
    credit = (
        rating.map({r: float(i) for i, r in enumerate(TAX_CREDIT_RATINGS)}).astype("float64")
        if rating is not None
        else pd.Series(np.nan, index=ent.index)
    )
    employees = (
        pd.to_numeric(ent["employees"], errors="coerce").astype("float64")
        if "employees" in ent
        else pd.Series(np.nan, index=ent.index)
    )
    size = (
        ent["size_class"].astype("string").map({s: float(i) for i, s in enumerate(SIZE_CLASSES)}).astype("float64")
        if "size_class" in ent
        else pd.Series(np.nan, index=ent.index)
    )
    inactive = (status.notna() & (status != "active")).fillna(False).to_numpy(dtype=bool)
    bad = dishonest.fillna(False).to_numpy(dtype=bool)
    excluded = pd.Series(pd.NA, index=ent.index, dtype="string")
    excluded[inactive] = EXCLUDED_STATUS
    excluded[bad] = EXCLUDED_DISHONEST
    out = pd.DataFrame(
        {
            "ent_status": status.to_numpy(),
            "ent_dishonest": dishonest.to_numpy(),
            "credit": credit.to_numpy(dtype="float64"),
            "size": size.to_numpy(dtype="float64"),
            "employees": employees.to_numpy(dtype="float64"),
            "excluded": excluded.to_numpy(),
        },
        index=idx,
    )
    return out


def prepare_postings(clean: pd.DataFrame, as_of, enterprises: pd.DataFrame | None = None) -> pd.DataFrame:
    """Clean postings plus the columns pairing needs (same rows, same order, default index).

    Adds ``tags_norm``/``tags_free``/``tag_confidence``/``n_tags``, ``text`` (title + description,
    lower-cased), ``division`` (2-digit GB/T 4754, NA when the code is only a section), ``county`` /
    ``prefecture`` (district prefixes), ``is_open`` at ``as_of``, ``ent_known``, ``credit``, ``size``
    and ``excluded`` (why the poster may not be paired, NA when it may)."""
    as_of_ts = as_timestamp(as_of)
    p = clean.reset_index(drop=True).copy()
    p = pd.concat([p, normalize_tags(p["tags"]).reset_index(drop=True)], axis=1)
    title = p["title"].astype("string").fillna("")
    desc = p["description"].astype("string").fillna("") if "description" in p else ""
    p["text"] = (title + " " + desc).str.lower().str.strip()
    code = p["industry_code"].astype("string")
    p["division"] = code.str[:2].where(code.str.len() >= 2).astype("string")
    dist = p["district_code"].astype("string")
    p["county"] = dist.where(~dist.str.endswith("00").fillna(True)).astype("string")
    p["prefecture"] = dist.str[:4].where(~dist.str.endswith("0000").fillna(True)).astype("string")
    posted = p["posted_on"]
    expires = p["expires_on"]
    p["is_open"] = ((posted.isna() | (posted <= as_of_ts)) & (expires.isna() | (expires >= as_of_ts))).to_numpy()
    facts = enterprise_facts(enterprises)
    if facts is None:
        p["ent_known"] = False
        p["credit"] = np.nan
        p["size"] = np.nan
        p["employees"] = np.nan
        p["excluded"] = pd.Series(pd.NA, index=p.index, dtype="string")
    else:
        f = facts.reindex(p["uscc"].astype("string").to_numpy())
        p["ent_known"] = p["uscc"].isin(facts.index).to_numpy()
        p["credit"] = f["credit"].to_numpy()
        p["size"] = f["size"].to_numpy()
        p["employees"] = f["employees"].to_numpy()
        p["excluded"] = pd.Series(f["excluded"].to_numpy(), index=p.index, dtype="string")
    p.attrs["as_of"] = as_of_ts
    return p
