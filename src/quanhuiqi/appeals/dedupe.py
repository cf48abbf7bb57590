"""The same appeal arriving twice becomes one case: exact or near-exact text, same enterprise, within days.

An enterprise that hears nothing files again, through another channel, often with the text pasted or
lightly edited; counting both would double the demand for that problem and start two clocks.  Two
appeals are the same case when

* they come from the same enterprise (same ``uscc``) — or, when neither names one, from the same district
  with exactly the same text — and
* they were received within ``window_days`` of each other, and
* their texts (title + body, normalised: NFKC, 繁→简, no whitespace or punctuation, digits read as one
  digit so a changed phone number or date does not hide a copy) have an Indel similarity of at least
  ``similarity`` (1.0 = identical).

Links are transitive (A~B and B~C make one case).  The case is named after its first appeal (earliest
``received_at``, then input order); the rows stay, each carrying ``case_id`` and, for the later copies,
``duplicate_of``.  Comparisons run only between an appeal and the next ``neighbours`` appeals of the
same enterprise in time, so the cost stays linear in the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from quanhuiqi.tables.parse import from_arrow, to_arrow
from quanhuiqi.text import normalize_text_series

_NOISE = r"[\s\p{P}\p{S}]+"  # whitespace, punctuation and symbols (RE2 classes)


def duplicate_key_text(title: pd.Series, body: pd.Series) -> pd.Series:
    """The text two copies of one appeal share: normalised, no whitespace/punctuation, digits → 0."""
    text = title.fillna("").astype("string") + "\n" + body.fillna("").astype("string")
    arr = to_arrow(normalize_text_series(text).fillna(""))
    arr = pc.replace_substring_regex(arr, pattern=_NOISE, replacement="")
    arr = pc.replace_substring_regex(arr, pattern=r"\d+", replacement="0")
    return from_arrow(arr, title.index)


def link_duplicates(clean: pd.DataFrame, window_days: float = 7.0, similarity: float = 0.9,
                    neighbours: int = 8) -> pd.DataFrame:
    """``clean`` plus ``case_id`` (the first appeal of its case), ``duplicate_of`` (NA for a case's first
    appeal) and ``case_size`` (appeals in the case); rows and their order unchanged."""
    from rapidfuzz.distance import Indel
    from rapidfuzz.process import cpdist
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    out = clean.copy()
    n = len(out)
    ids = out["appeal_id"].astype("string")
    if n == 0:
        out["case_id"] = ids
        out["duplicate_of"] = pd.Series(dtype="string")
        out["case_size"] = pd.Series(dtype="int64")
        return out
    text = duplicate_key_text(out["title"], out["body"]).to_numpy(dtype=object)
    has_uscc = out["uscc"].notna().to_numpy()
    # the enterprise key: the uscc, else district + exact text (an unnamed sender is only matched on a copy)
    key = np.where(has_uscc, "U" + out["uscc"].astype("string").fillna("").to_numpy(dtype=object),
                   "D" + out["district_code"].astype("string").fillna("").to_numpy(dtype=object) + "|" + text)
    t = out["received_at"].to_numpy(dtype="datetime64[ns]").astype("int64")
    t_known = ~pd.isna(out["received_at"]).to_numpy()
    order = np.lexsort((np.arange(n), t, key))
    k_sorted, t_sorted = key[order], t[order]
    known_sorted = t_known[order]
    window = int(window_days * 86400 * 1e9)
    src, dst = [], []
    for off in range(1, neighbours + 1):
        a, b = order[:-off], order[off:]
        ok = (k_sorted[:-off] == k_sorted[off:]) & known_sorted[:-off] & known_sorted[off:]
        ok &= (t_sorted[off:] - t_sorted[:-off]) <= window
        if not ok.any():
            break
        a, b = a[ok], b[ok]
        same = text[a] == text[b]
        close = same.copy()
        rest = ~same
        if rest.any() and similarity < 1.0:
            sims = cpdist(list(text[a[rest]]), list(text[b[rest]]), scorer=Indel.normalized_similarity, workers=1)
            close[rest] = np.asarray(sims) >= similarity
        src.append(a[close])
        dst.append(b[close])
    src_all = np.concatenate(src) if src else np.zeros(0, dtype=np.int64)
    dst_all = np.concatenate(dst) if dst else np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(src_all)), (src_all, dst_all)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    # the case's first appeal: earliest received, then input order
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), np.where(t_known, t, np.iinfo(np.int64).max)))] = np.arange(n)
    first = pd.Series(rank).groupby(comp).transform("min").to_numpy()
    first_row = np.empty(n, dtype=np.int64)
    first_row[rank] = np.arange(n)
    case = ids.to_numpy(dtype=object)[first_row[first]]
    out["case_id"] = pd.array(case, dtype="string")
    out["duplicate_of"] = out["case_id"].where(out["case_id"] != ids)
    out["case_size"] = pd.Series(comp).map(pd.Series(comp).value_counts()).to_numpy(dtype="int64")
    return out


def cases(clean: pd.DataFrame) -> pd.DataFrame:
    """One row per case: its first appeal, with the case's workflow times merged (each stage at the
    earliest time any copy reached it) and the copies' ids in ``linked_ids`` (``;``-joined)."""
    from quanhuiqi.appeals.columns import WORKFLOW_TIMES

    if "case_id" not in clean.columns:
        clean = link_duplicates(clean)
    first = clean[clean["duplicate_of"].isna()].copy()
    dups = clean[clean["duplicate_of"].notna()]
    if len(dups) == 0:
        first["linked_ids"] = pd.Series(pd.NA, index=first.index, dtype="string")
        return first.reset_index(drop=True)
    g = clean.groupby("case_id", sort=False)
    merged = g[WORKFLOW_TIMES].min()
    for c in WORKFLOW_TIMES:
        first[c] = first["case_id"].map(merged[c]).astype("datetime64[ns]").to_numpy()
    for c in ("department", "category", "triage", "uscc"):  # a copy may carry what the first one lacks
        if c in clean.columns:
            fill = clean.dropna(subset=[c]).drop_duplicates("case_id").set_index("case_id")[c]
            first[c] = first[c].fillna(first["case_id"].map(fill)).astype("string")
    linked = dups.groupby("duplicate_of")["appeal_id"].agg(lambda s: ";".join(s.astype(str)))
    first["linked_ids"] = first["case_id"].map(linked).astype("string")
    return first.reset_index(drop=True)
