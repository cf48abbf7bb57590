"""Linking a second source (tax, social insurance, certification lists) to the enterprises.

By USCC where the source has one that exists; otherwise by normalised name: NFKC, 繁→简, no
spaces or punctuation, no bracketed segments (``（济南）``, ``（有限合伙）``), no legal-form words
(有限责任公司, 股份有限公司, 有限公司, 集团, 股份, 公司).  An exact normalised name held by one
enterprise links with score 1; held by several it goes to review.  The rest are scored with
rapidfuzz ``ratio`` against candidates found by blocking on rare character bigrams (each name's
``block_keys`` rarest bigrams, bigrams held by more than ``max_block_size`` enterprises skipped),
so a source of 100k names never meets a million enterprises pairwise.  A best score at or above
``score_cutoff`` links only when no other candidate is within ``review_margin`` of it; otherwise
the candidates go to the review table, never silently to the first hit.

Every source row ends in exactly one of ``links``, ``review`` (one row per candidate) or
``unmatched`` (with the reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from quanhuiqi.text import _t2s_table

_BRACKETS = re.compile(r"[（(\[【〔][^）)\]】〕]*[）)\]】〕]")
_FORMS = re.compile(r"股份有限公司|有限责任公司|有限公司|责任公司|集团|股份|公司|有限")
_NON_WORD = re.compile(r"[\W_]+")

LINK_COLUMNS = ["source_row", "uscc", "method", "score"]
REVIEW_COLUMNS = ["source_row", "uscc", "name", "score", "reason"]
UNMATCHED_COLUMNS = ["source_row", "reason"]


def normalize_company_name(values: pd.Series) -> pd.Series:
    """Matching key of company names (see the module docstring); missing/empty → NA."""
    s = values.astype("string").str.normalize("NFKC")
    trad = _traditional_pattern()
    need = s.str.contains(trad, regex=True).fillna(False).to_numpy(dtype=bool)
    if need.any():
        s = s.copy()
        s[need] = s[need].str.translate(_t2s_table())
    s = s.str.lower()
    s = s.str.replace(_BRACKETS.pattern, "", regex=True)
    s = s.str.replace(_FORMS.pattern, "", regex=True)
    s = s.str.replace(_NON_WORD.pattern, "", regex=True)
    return s.mask(s == "")


@cache
def _traditional_pattern() -> str:
    chars = "".join(sorted(chr(k) for k in _t2s_table()))
    return f"[{re.escape(chars)}]"


@dataclass
class LinkResult:
    """``links``: source_row → uscc with method (``uscc`` | ``name_exact`` | ``name_fuzzy``) and score;
    ``review``: ambiguous candidates; ``unmatched``: rows with no acceptable candidate and why."""

    links: pd.DataFrame
    review: pd.DataFrame
    unmatched: pd.DataFrame
    rows_in: int

    def attach(self, source: pd.DataFrame) -> pd.DataFrame:
        """The source rows with ``uscc``, ``link_method``, ``link_score`` (NA where not linked)."""
        out = source.reset_index(drop=True).copy()
        pos = self.links["source_row"].to_numpy()
        for col, name, dtype in (("uscc", "uscc", "string"), ("method", "link_method", "string"),
                                 ("score", "link_score", "float64")):
            vals = pd.Series(pd.NA if dtype == "string" else np.nan, index=out.index, dtype=dtype)
            vals.iloc[pos] = self.links[col].to_numpy()
            out[name] = vals
        return out

    def summary(self) -> dict[str, int]:
        by = self.links["method"].value_counts().to_dict()
        return {
            "rows": self.rows_in,
            "linked_uscc": int(by.get("uscc", 0)),
            "linked_name_exact": int(by.get("name_exact", 0)),
            "linked_name_fuzzy": int(by.get("name_fuzzy", 0)),
            "review_rows": int(self.review["source_row"].nunique()),
            "unmatched": len(self.unmatched),
        }


def link(
    enterprises: pd.DataFrame,
    source: pd.DataFrame,
    *,
    uscc_col: str = "uscc",
    name_col: str = "name",
    score_cutoff: float = 0.85,
    review_margin: float = 0.05,
    block_keys: int = 6,
    max_block_size: int = 5000,
    max_candidates: int = 100,
    workers: int = 1,
) -> LinkResult:
    """Link each row of ``source`` to at most one enterprise (``uscc`` and ``name`` columns).

    ``source_row`` is the 0-based position of the row in ``source``; ``workers`` is rapidfuzz's
    thread count for scoring.
    """
    if "uscc" not in enterprises.columns or "name" not in enterprises.columns:
        raise ValueError("link: enterprises need columns uscc and name")
    if uscc_col not in source.columns and name_col not in source.columns:
        raise ValueError(f"link: the source has neither {uscc_col!r} nor {name_col!r}")
    n = len(source)
    ent_uscc = enterprises["uscc"].astype("string").str.strip().str.upper().to_numpy(dtype=object, na_value=None)
    if not pd.Index(ent_uscc).is_unique:
        raise ValueError("link: the enterprises table repeats a uscc (link against the validated, clean table)")
    links, review, unmatched = [], [], []
    pending = np.ones(n, dtype=bool)

    if uscc_col in source.columns:
        q = source[uscc_col].astype("string").str.normalize("NFKC").str.strip().str.upper()
        pos = pd.Index(ent_uscc).get_indexer(q.to_numpy(dtype=object, na_value=None))
        hit = (pos >= 0) & q.notna().to_numpy()
        rows = np.flatnonzero(hit)
        links.append(_frame(LINK_COLUMNS, rows, ent_uscc[pos[hit]], "uscc", 1.0))
        pending &= ~hit

    if name_col in source.columns and pending.any():
        sub = np.flatnonzero(pending)
        qkeys = normalize_company_name(source[name_col].iloc[sub])
        ent_keys = normalize_company_name(
            enterprises["name_norm"] if "name_norm" in enterprises.columns else enterprises["name"]
        ).reset_index(drop=True)
        no_name = qkeys.isna().to_numpy()
        unmatched.append(_frame(UNMATCHED_COLUMNS, sub[no_name], None, "no usable uscc or name", None))
        sub, qkeys = sub[~no_name], qkeys[~no_name]
        ek = ent_keys.to_numpy(dtype=object, na_value=None)
        counts = ent_keys.value_counts()
        # exact normalised name
        k_count = qkeys.map(counts).fillna(0).to_numpy(dtype=np.int64)
        unique_keys = ent_keys[ent_keys.map(counts) == 1]
        key_to_pos = pd.Series(unique_keys.index.to_numpy(), index=unique_keys.to_numpy())
        one = k_count == 1
        if one.any():
            p = key_to_pos.reindex(qkeys[one].to_numpy()).to_numpy()
            links.append(_frame(LINK_COLUMNS, sub[one], ent_uscc[p.astype(np.int64)], "name_exact", 1.0))
        many = k_count > 1
        if many.any():
            review.append(_exact_ambiguous(sub[many], qkeys[many], ek, ent_uscc, enterprises["name"]))
        fuzzy = k_count == 0
        if fuzzy.any():
            lk, rv, um = _fuzzy(sub[fuzzy], qkeys[fuzzy].to_numpy(dtype=object), ek, ent_uscc,
                                enterprises["name"].to_numpy(dtype=object), score_cutoff, review_margin,
                                block_keys, max_block_size, max_candidates, workers=workers)
            links.append(lk)
            review.append(rv)
            unmatched.append(um)
        pending[:] = False
    if pending.any():
        unmatched.append(_frame(UNMATCHED_COLUMNS, np.flatnonzero(pending), None,
                                "uscc not found and the source has no name column", None))

    return LinkResult(
        links=_concat(links, LINK_COLUMNS),
        review=_concat(review, REVIEW_COLUMNS),
        unmatched=_concat(unmatched, UNMATCHED_COLUMNS),
        rows_in=n,
    )


def _frame(columns, rows, uscc, method_or_reason, score) -> pd.DataFrame:
    rows = np.asarray(rows, dtype=np.int64)
    if columns is UNMATCHED_COLUMNS:
        return pd.DataFrame({"source_row": rows, "reason": pd.Series([method_or_reason] * len(rows), dtype="string")})
    return pd.DataFrame(
        {
            "source_row": rows,
            "uscc": pd.Series(uscc, dtype="string") if len(rows) else pd.Series([], dtype="string"),
            "method": pd.Series([method_or_reason] * len(rows), dtype="string"),
            "score": np.full(len(rows), score, dtype="float64"),
        }
    )


def _concat(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "source_row" else
                                          ("float64" if c == "score" else "string")) for c in columns})
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.sort_values("source_row", kind="stable").reset_index(drop=True)


def _exact_ambiguous(rows, qkeys: pd.Series, ek, ent_uscc, ent_names: pd.Series) -> pd.DataFrame:
    ent = pd.DataFrame({"key": ek, "pos": np.arange(len(ek))}).dropna()
    q = pd.DataFrame({"source_row": rows, "key": qkeys.to_numpy(dtype=object)})
    m = q.merge(ent, on="key", how="left")
    return pd.DataFrame(
        {
            "source_row": m["source_row"].to_numpy(np.int64),
            "uscc": pd.Series(ent_uscc[m["pos"].to_numpy(np.int64)], dtype="string"),
            "name": pd.Series(ent_names.to_numpy(dtype=object)[m["pos"].to_numpy(np.int64)], dtype="string"),
            "score": 1.0,
            "reason": pd.Series(["same normalised name held by several enterprises"] * len(m), dtype="string"),
        }
    )


def _bigrams(keys: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(bigram, owner position) for every character bigram of every key, built by column slicing."""
    s = keys.astype("string").reset_index(drop=True)
    lengths = s.str.len().fillna(0).to_numpy(dtype=np.int64)
    max_len = int(lengths.max()) if len(lengths) else 0
    grams, owners = [], []
    for i in range(max(max_len - 1, 0)):
        ok = np.flatnonzero(lengths >= i + 2)
        grams.append(s.iloc[ok].str.slice(i, i + 2))
        owners.append(ok)
    if not grams:
        return pd.Series([], dtype="string"), np.array([], dtype=np.int64)
    return pd.concat(grams, ignore_index=True), np.concatenate(owners)


class _BigramIndex:
    """Inverted index: character bigram → enterprise positions (CSR), built with column operations."""

    def __init__(self, keys: np.ndarray):
        g, o = _bigrams(pd.Series(keys, dtype="string"))
        ids, vocab = pd.factorize(g)
        # one posting per (gram, owner): a name repeating a bigram counts once
        pair = np.unique(ids.astype(np.int64) * (len(keys) + 1) + o)
        ids, o = pair // (len(keys) + 1), pair % (len(keys) + 1)
        self.vocab = pd.Index(vocab)
        self.df = np.bincount(ids, minlength=len(vocab))
        self.indptr = np.concatenate([[0], np.cumsum(self.df)])
        self.owners = o  # grouped by gram id (np.unique sorts the pairs)


def _expand(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [start, start+len): (range number, position) of every element."""
    total = int(lengths.sum())
    rng_id = np.repeat(np.arange(len(lengths)), lengths)
    offs = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return rng_id, np.repeat(starts, lengths) + offs


def _fuzzy(rows, qkeys, ek, ent_uscc, ent_names, cutoff, margin, block_keys, max_block, max_cand,
           chunk: int = 2000, workers: int = 1):
    """Blocked fuzzy matching, whole chunks of queries at a time (no per-row Python work)."""
    index = _BigramIndex(ek)
    ek_arr = np.asarray(ek, dtype=object)
    parts_link, parts_review, parts_um = [], [], []
    for lo in range(0, len(rows), chunk):
        q_rows, q_keys = rows[lo: lo + chunk], qkeys[lo: lo + chunk]
        g, qid = _bigrams(pd.Series(q_keys, dtype="string"))
        gid = index.vocab.get_indexer(g) if len(g) else np.array([], dtype=np.int64)
        keep = gid >= 0
        qid, gid = qid[keep], gid[keep]
        df = index.df[gid]
        keep = df <= max_block
        qid, gid, df = qid[keep], gid[keep], df[keep]
        # the block_keys rarest distinct bigrams of each query
        pair = np.unique(qid.astype(np.int64) * (len(index.df) + 1) + gid)
        qid, gid = pair // (len(index.df) + 1), pair % (len(index.df) + 1)
        order = np.lexsort((index.df[gid], qid))
        qid, gid = qid[order], gid[order]
        rank = np.arange(len(qid)) - np.searchsorted(qid, qid, side="left")
        keep = rank < block_keys
        qid, gid = qid[keep], gid[keep]
        which, pos = _expand(index.indptr[gid], index.df[gid])
        cq, owner = qid[which], index.owners[pos]
        # candidates sharing most blocking bigrams first, at most max_cand per query
        key = cq.astype(np.int64) * (len(ek) + 1) + owner
        uniq, shared = np.unique(key, return_counts=True)
        cq, owner = uniq // (len(ek) + 1), uniq % (len(ek) + 1)
        order = np.lexsort((-shared, cq))
        cq, owner = cq[order], owner[order]
        rank = np.arange(len(cq)) - np.searchsorted(cq, cq, side="left")
        keep = rank < max_cand
        cq, owner = cq[keep], owner[keep]
        scores = process.cpdist(q_keys[cq].tolist(), ek_arr[owner].tolist(), scorer=fuzz.ratio,
                                processor=None, dtype=np.float32, workers=workers) / 100.0
        best = np.full(len(q_keys), -1.0)
        np.maximum.at(best, cq, scores)
        close = scores >= (best[cq] - margin - 1e-9)
        n_close = np.bincount(cq[close], minlength=len(q_keys))
        ok = best >= cutoff
        single = ok & (n_close == 1)
        hit = close & single[cq]
        parts_link.append(pd.DataFrame({
            "source_row": q_rows[cq[hit]],
            "uscc": pd.Series(ent_uscc[owner[hit]], dtype="string"),
            "method": "name_fuzzy",
            "score": scores[hit].astype("float64"),
        }))
        amb = close & (ok & (n_close > 1))[cq]
        rv = pd.DataFrame({
            "source_row": q_rows[cq[amb]],
            "uscc": pd.Series(ent_uscc[owner[amb]], dtype="string"),
            "name": pd.Series(ent_names[owner[amb]], dtype="string"),
            "score": scores[amb].astype("float64"),
            "reason": f"several candidates within {margin:.2f} of the best",
        })
        parts_review.append(rv.sort_values(["source_row", "score"], ascending=[True, False], kind="stable"))
        none = best < 0
        low = ~none & ~ok
        reasons = np.where(none, "no candidate shares a distinctive part of the name",
                           np.char.add(f"best name score below {cutoff:.2f}: ", np.round(best, 2).astype(str)))
        um = none | low
        parts_um.append(pd.DataFrame({"source_row": q_rows[um], "reason": pd.Series(reasons[um], dtype="string")}))
    return (
        _concat(parts_link, LINK_COLUMNS),
        _concat(parts_review, REVIEW_COLUMNS),
        _concat(parts_um, UNMATCHED_COLUMNS),
    )
