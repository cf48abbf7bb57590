"""Candidate supplies for each open demand: shared tags, character n-gram TF-IDF, industry chain.

Chinese has no spaces, so text similarity is a cosine over character 2–3-grams.  The product of
demands × supplies is computed in blocks of demands and only the top-n entries of each row are kept
(numpy, no dense n×m matrix).  Tags ride in the same product (a binary tag matrix, weighted), so a
supply sharing tags but worded differently still qualifies.  Chain candidates are supplies from the
divisions upstream of the demand's division (shipped adjacency table), nearest and most credible
first.  Expired or not-yet-posted postings, pairs of the same enterprise and enterprises that are not
active or are seriously dishonest are excluded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from quanhuiqi.postings.vocabulary import chain_adjacency

TAG_WEIGHT = 0.35  # weight of one shared tag against a cosine in the blocked product
MAX_DF = 0.01  # character n-grams in more than 1% of postings are template words (供应, 价格优惠)
MIN_SCORE = 0.02  # product entries below this are noise (a stray shared bigram)
CANDIDATE_COLUMNS = ["demand_id", "supply_id", "d_pos", "s_pos", "text_sim", "tag_shared", "via_text", "via_tag",
                     "via_chain"]


MAX_TAGS = 8  # tags per posting kept for the reasons (all count in the tag matrix)


@dataclass
class PostingIndex:
    """Prepared postings with their TF-IDF rows, binary tag rows and the columns pairing reads as
    numpy arrays (integer codes for text columns, so comparisons over millions of pairs are cheap)."""

    postings: pd.DataFrame
    text: sp.csr_matrix
    tags: sp.csr_matrix
    vectorizer: object
    tag_names: np.ndarray | None = None
    tag_codes: np.ndarray | None = None  # (n, MAX_TAGS) tag ids, -1 = none
    arrays: dict | None = None

    @property
    def pos(self) -> pd.Series:
        return pd.Series(np.arange(len(self.postings)), index=self.postings["posting_id"].to_numpy())


def build_index(prepared: pd.DataFrame, vectorizer=None) -> PostingIndex:
    """Fit (or reuse) the character n-gram TF-IDF and the tag matrix over all postings."""
    from quanhuiqi.postings.ngrams import CharNgramTfidf

    texts = prepared["text"].astype("string").fillna("").to_numpy(dtype=object)
    n = len(texts)
    if vectorizer is None:
        big = n >= 2000
        vectorizer = CharNgramTfidf(ngram_range=(2, 3), min_df=2 if big else 1, max_df=MAX_DF if big else 1.0)
        text = vectorizer.fit_transform(texts)
        if text.shape[1] == 0:  # every n-gram pruned (tiny or empty corpus): fall back to all 1–3-grams
            vectorizer = CharNgramTfidf(ngram_range=(1, 3))
            text = vectorizer.fit_transform(texts)
    else:
        text = vectorizer.transform(texts)
    long = prepared["tags_norm"].astype("string").fillna("").str.split(";").explode()
    long = long[long.astype("string").fillna("") != ""]
    codes, uniq = pd.factorize(long.to_numpy())
    rows = long.index.to_numpy(dtype=np.int64)
    tags = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, codes)), shape=(n, max(len(uniq), 1))
    )
    tags.data[:] = 1.0
    kth = pd.Series(rows).groupby(rows).cumcount().to_numpy()
    tag_codes = np.full((n, MAX_TAGS), -1, dtype=np.int32)
    keep = kth < MAX_TAGS
    tag_codes[rows[keep], kth[keep]] = codes[keep]
    return PostingIndex(postings=prepared, text=text.tocsr(), tags=tags, vectorizer=vectorizer,
                        tag_names=np.asarray(uniq, dtype=object), tag_codes=tag_codes, arrays=_arrays(prepared))


def county_index(codes: pd.Series) -> np.ndarray:
    from quanhuiqi.postings.features import county_index as _county_index

    return _county_index(codes)


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a text column, -1 for missing (equal codes = equal values)."""
    return pd.factorize(values.astype("string"), use_na_sentinel=True)[0].astype(np.int64)


def _arrays(p: pd.DataFrame) -> dict:
    div = pd.to_numeric(p["division"], errors="coerce").to_numpy(dtype="float64")
    return {
        "uscc": _codes(p["uscc"]),
        "division": np.where(np.isnan(div), -1, div).astype(np.int64),
        "county": _codes(p["county"]),
        "prefecture": _codes(p["prefecture"]),
        "unit": _codes(p["unit"]),
        "title": p["title"].astype("string").fillna("").to_numpy(dtype=object),
        "n_tags": p["n_tags"].to_numpy(dtype="float64"),
        "quantity": p["quantity"].to_numpy(dtype="float64"),
        "price_min": p["price_min"].to_numpy(dtype="float64"),
        "price_max": p["price_max"].to_numpy(dtype="float64"),
        "posted_on": p["posted_on"].to_numpy(dtype="datetime64[ns]"),
        "credit": p["credit"].to_numpy(dtype="float64"),
        "size": p["size"].to_numpy(dtype="float64"),
        "ids": p["posting_id"].astype("string").to_numpy(dtype=object),
        "county_code": county_index(p["county"]),
        "chains": _chain_masks(p["tags_norm"]),
        "employees": p["employees"].to_numpy(dtype="float64") if "employees" in p else np.full(len(p), np.nan),
    }


def _chain_masks(tags_norm: pd.Series) -> np.ndarray:
    """Bit mask of the industry chains (``CHAINS`` order) the posting's canonical tags belong to."""
    from quanhuiqi.postings.vocabulary import tag_vocabulary
    from quanhuiqi.profile.fields import CHAINS

    voc = tag_vocabulary()
    bit = {c: 1 << i for i, c in enumerate(CHAINS)}
    tag_bit = dict(zip(voc["tag"], voc["chain"].map(bit).fillna(0).astype(np.int64), strict=True))
    long = tags_norm.astype("string").fillna("").str.split(";").explode()
    bits = long.map(tag_bit).fillna(0).astype(np.int64)
    out = np.zeros(len(tags_norm), dtype=np.int64)
    np.bitwise_or.at(out, bits.index.to_numpy(dtype=np.int64), bits.to_numpy())
    return out


def pair_dot(a: sp.csr_matrix, b: sp.csr_matrix, ai: np.ndarray, bi: np.ndarray, block: int = 200_000) -> np.ndarray:
    """Row-wise dot products ``a[ai[k]] · b[bi[k]]`` for many pairs, in blocks (bounded memory)."""
    out = np.zeros(len(ai), dtype=np.float32)
    for start in range(0, len(ai), block):
        sl = slice(start, start + block)
        out[sl] = np.asarray(a[ai[sl]].multiply(b[bi[sl]]).sum(axis=1)).ravel()
    return out


def _top_n_rows(c: sp.csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, value) of the n largest entries of every row of a CSR matrix.

    Rows with at most n entries are kept whole; the others are sorted together with one argsort on
    a composite key (row, then value descending), and the first n of each row kept."""
    counts = np.diff(c.indptr)
    rows = np.repeat(np.arange(c.shape[0], dtype=np.int64), counts)
    if not len(rows):
        return rows, rows.copy(), np.zeros(0, dtype=np.float32)
    long_row = counts[rows] > n
    short = np.flatnonzero(~long_row)
    idx = np.flatnonzero(long_row)
    if len(idx):
        vals = c.data[idx].astype(np.float64)
        top = float(vals.max()) + 1.0
        order = idx[np.argsort(rows[idx] * top - vals, kind="stable")]
        # rows of ``order`` ascend; each long row's entries are one run of length counts[row]
        run = counts[counts > n]
        first = np.repeat(np.cumsum(run) - run, run)
        keep_long = order[(np.arange(len(order)) - first) < n]
        keep = np.sort(np.concatenate([short, keep_long]))
    else:
        keep = short
    return rows[keep], c.indices[keep].astype(np.int64), c.data[keep]


def _lookup(c: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values of a CSR matrix at (rows, cols); 0 where absent."""
    counts = np.diff(c.indptr)
    crow = np.repeat(np.arange(c.shape[0], dtype=np.int64), counts)
    keys = crow * c.shape[1] + c.indices
    if not c.has_sorted_indices:
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        data = c.data[order]
    else:
        data = c.data
    want = rows * c.shape[1] + cols
    at = np.searchsorted(keys, want)
    at_c = np.minimum(at, max(len(keys) - 1, 0))
    hit = (at < len(keys)) & (keys[at_c] == want) if len(keys) else np.zeros(len(want), dtype=bool)
    out = np.zeros(len(want), dtype=np.float32)
    out[hit] = data[at_c[hit]]
    return out


def open_sides(prepared: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the demands to answer (open) and of the supplies that may be offered (open, poster
    not excluded)."""
    open_ = prepared["is_open"].to_numpy(dtype=bool)
    ok = prepared["excluded"].isna().to_numpy()
    side = prepared["side"].astype("string").to_numpy()
    demands = np.flatnonzero(open_ & (side == "demand"))
    supplies = np.flatnonzero(open_ & ok & (side == "supply"))
    return demands, supplies


def _text_candidates(index: PostingIndex, d_pos: np.ndarray, s_pos: np.ndarray, n: int, block: int) -> pd.DataFrame:
    xs_t = index.text[s_pos].T.tocsr()
    ts_t = index.tags[s_pos].T.tocsr()
    uscc = index.arrays["uscc"]
    s_uscc = uscc[s_pos]
    parts = []
    for start in range(0, len(d_pos), block):
        dp = d_pos[start:start + block]
        ct = (index.text[dp] @ xs_t).tocsr()
        cg = (index.tags[dp] @ ts_t).tocsr()
        c = (ct + TAG_WEIGHT * cg).tocsr()
        crow = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))
        c.data[(uscc[dp][crow] == s_uscc[c.indices]) | (c.data < MIN_SCORE)] = 0.0
        c.eliminate_zeros()
        r, col, val = _top_n_rows(c, n)
        text_sim = _lookup(ct, r, col)
        parts.append((dp[r], s_pos[col], text_sim, np.rint((val - text_sim) / TAG_WEIGHT)))
    if not parts:
        return tuple(np.zeros(0, dtype=t) for t in ("int64", "int64", "float32", "float32"))
    return tuple(np.concatenate(x) for x in zip(*parts, strict=True))


def supplier_quality(prepared: pd.DataFrame, as_of) -> np.ndarray:
    """A demand-independent prior for a supply (credit, size, freshness), 0–1; unknown counts as middling."""
    credit = np.nan_to_num(prepared["credit"].to_numpy(dtype="float64") / 4.0, nan=0.5)
    size = np.nan_to_num(prepared["size"].to_numpy(dtype="float64") / 3.0, nan=0.5)
    age = (pd.Timestamp(as_of) - prepared["posted_on"]).dt.days.to_numpy(dtype="float64")
    fresh = np.nan_to_num(np.exp(-np.clip(age, 0, None) / 60.0), nan=0.5)
    return 0.4 * credit + 0.2 * size + 0.4 * fresh


def _chain_candidates(index: PostingIndex, d_pos: np.ndarray, s_pos: np.ndarray, m: int) -> pd.DataFrame:
    p = index.postings
    empty = pd.DataFrame({"d_pos": pd.Series(dtype="int64"), "s_pos": pd.Series(dtype="int64")})
    if m <= 0 or not len(d_pos) or not len(s_pos):
        return empty
    adj = chain_adjacency()[["upstream", "downstream"]]
    a = index.arrays
    adj = adj.astype(int)
    sup = pd.DataFrame({
        "s_pos": s_pos,
        "upstream": a["division"][s_pos],
        "county": a["county"][s_pos],
        "q": supplier_quality(p, p.attrs["as_of"])[s_pos],
        "s_uscc": a["uscc"][s_pos],
    })
    sup = sup[sup["upstream"].isin(adj["upstream"])].sort_values("q", ascending=False, kind="stable")
    # keep m + 1 so that dropping a same-enterprise supply still leaves m
    top_any = sup.groupby("upstream", sort=False).head(m + 1)
    top_local = sup[sup["county"] >= 0].groupby(["upstream", "county"], sort=False).head(m + 1)
    dem = pd.DataFrame({
        "d_pos": d_pos,
        "downstream": a["division"][d_pos],
        "county": a["county"][d_pos],
        "d_uscc": a["uscc"][d_pos],
    }).merge(adj, on="downstream")
    if not len(dem):
        return empty
    local = dem[dem["county"] >= 0].merge(top_local, on=["upstream", "county"])
    local["near"] = 1
    anywhere = dem.drop(columns="county").merge(top_any.drop(columns="county"), on="upstream")
    anywhere["near"] = 0
    cand = pd.concat([local[["d_pos", "s_pos", "q", "near", "d_uscc", "s_uscc"]],
                      anywhere[["d_pos", "s_pos", "q", "near", "d_uscc", "s_uscc"]]], ignore_index=True)
    cand = cand[cand["d_uscc"].to_numpy() != cand["s_uscc"].to_numpy()]
    cand = cand.sort_values(["d_pos", "near", "q"], ascending=[True, False, False], kind="stable")
    cand = cand.drop_duplicates(["d_pos", "s_pos"]).groupby("d_pos", sort=False).head(m)
    return cand[["d_pos", "s_pos"]].astype("int64").reset_index(drop=True)


def generate_candidates(
    index: PostingIndex | pd.DataFrame,
    n_text: int = 30,
    n_chain: int = 10,
    block: int = 2000,
    demand_ids=None,
) -> pd.DataFrame:
    """Candidate (demand, supply) pairs for every open demand, with how each was found.

    ``index`` is a :class:`PostingIndex` or prepared postings (see ``prepare_postings``).  Returns
    ``demand_id, supply_id, d_pos, s_pos`` (positions in the prepared postings), ``text_sim`` (cosine
    of character n-grams), ``tag_shared`` (number of shared normalised tags) and the flags
    ``via_text``, ``via_tag``, ``via_chain``.  Demands with no candidate are simply absent here (the
    matcher adds them back with zero candidates).  ``demand_ids`` restricts the demands answered.
    """
    if isinstance(index, pd.DataFrame):
        index = build_index(index)
    p = index.postings
    d_pos, s_pos = open_sides(p)
    d_ok = d_pos[p["excluded"].isna().to_numpy()[d_pos]]
    if demand_ids is not None:
        d_ok = d_ok[np.isin(index.arrays["ids"][d_ok], np.asarray(list(demand_ids), dtype=object))]
    if len(s_pos):
        td, ts, tsim, tshared = _text_candidates(index, d_ok, s_pos, n_text, block)
    else:
        td = ts = np.zeros(0, dtype=np.int64)
        tsim = tshared = np.zeros(0, dtype=np.float32)
    chain = _chain_candidates(index, d_ok, s_pos, n_chain)
    n = max(len(p), 1)
    key_t = td.astype(np.int64) * n + ts
    key_c = chain["d_pos"].to_numpy(dtype=np.int64) * n + chain["s_pos"].to_numpy(dtype=np.int64)
    keys = np.sort(np.concatenate([key_t, key_c]))  # sorted by (demand, supply)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
    via_product = np.zeros(len(keys), dtype=bool)
    text_sim = np.zeros(len(keys), dtype=np.float32)
    tag_shared = np.zeros(len(keys), dtype=np.float32)
    at = np.searchsorted(keys, key_t)
    via_product[at] = True
    text_sim[at] = tsim
    tag_shared[at] = tshared
    via_chain = np.zeros(len(keys), dtype=bool)
    via_chain[np.searchsorted(keys, key_c)] = True
    d_all, s_all = keys // n, keys % n
    missing = ~via_product
    if missing.any():
        text_sim[missing] = pair_dot(index.text, index.text, d_all[missing], s_all[missing])
        tag_shared[missing] = np.rint(pair_dot(index.tags, index.tags, d_all[missing], s_all[missing]))
    ids = index.arrays["ids"]
    cand = pd.DataFrame({
        "demand_id": pd.array(ids[d_all], dtype="string"),
        "supply_id": pd.array(ids[s_all], dtype="string"),
        "d_pos": d_all,
        "s_pos": s_all,
        "text_sim": text_sim,
        "tag_shared": tag_shared,
        "via_text": text_sim >= MIN_SCORE,
        "via_tag": tag_shared > 0,
        "via_chain": via_chain,
    })
    return cand[CANDIDATE_COLUMNS]
