"""Candidate supplies for each open demand: shared tags, character n-gram TF-IDF, industry chain.

Chinese has no spaces, so text similarity is a cosine over character 2–3-grams.  The product of
demands × supplies is computed in blocks of demands (threads share the blocks when ``workers`` > 1)
and only the top-n entries of each row are kept (numpy, no dense n×m matrix; at city scale a block
holds ~15 million entries, so the top-n is found by a per-row threshold from a sample of the row and
only the entries above it are sorted).  Tags ride in the same product (a binary tag matrix, weighted), so a
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

from quanhuiqi.postings.relations import county_index
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


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a text column, -1 for missing (equal codes = equal values)."""
    return pd.factorize(values.astype("string"), use_na_sentinel=True)[0].astype(np.int64)


def _arrays(p: pd.DataFrame) -> dict:
    div = pd.to_numeric(p["division"], errors="coerce").to_numpy(dtype="float64")
    title = p["title"].astype("string").fillna("").to_numpy(dtype=object)
    return {
        "uscc": _codes(p["uscc"]),
        "division": np.where(np.isnan(div), -1, div).astype(np.int64),
        "county": _codes(p["county"]),
        "prefecture": _codes(p["prefecture"]),
        "unit": _codes(p["unit"]),
        "title": title,
        "title_code": pd.factorize(title)[0].astype(np.int64),
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
    from quanhuiqi.reference.vocabularies import CHAINS

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


_SHIFT = 16  # histogram bins of the product's values: float32 bit patterns >> 16 (7 mantissa bits)
_STRIDE = 4  # every 4th entry estimates each row's threshold


def _select_top(c: sp.csr_matrix, need: np.ndarray, n: int, drop=None) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``c.data``, ascending) and rows of the n best entries of every row that are at
    least ``MIN_SCORE`` and not dropped: value descending, ties by stored position (the order the former
    full sort gave).  No sort over all entries: the ``need[r]``-th largest value of a sample of every
    row's entries (every ``_STRIDE``-th; ``need`` ≥ n plus the entries ``drop`` may remove) is a lower
    bound of the row's n-th best, so only entries above it (a few hundred per row) are sorted.
    ``drop(pos, rows)`` marks entries that may not be kept (same enterprise)."""
    counts = np.diff(c.indptr)
    n_rows = c.shape[0]
    data = np.ascontiguousarray(c.data, dtype=np.float32)
    bits = data.view(np.int32)  # non-negative floats order as their bit patterns
    min_bits = int(np.array([MIN_SCORE], dtype=np.float32).view(np.int32)[0])
    base = (min_bits >> _SHIFT) - 1
    thr = np.full(n_rows, min_bits, dtype=np.int32)
    if len(data):
        sub = np.arange(0, len(data), _STRIDE)
        per_row = np.diff(-(-c.indptr // _STRIDE))  # multiples of the stride inside each row
        srow = np.repeat(np.arange(n_rows, dtype=np.int64), per_row)
        nb = int(bits.max() >> _SHIFT) - base + 1
        b = np.maximum((bits[sub] >> _SHIFT) - base, 0)  # bin 0 holds everything below MIN_SCORE's bin
        h = np.bincount(srow * nb + b, minlength=n_rows * nb).reshape(n_rows, nb)
        at_least = np.cumsum(h[:, ::-1], axis=1)[:, ::-1]  # sampled entries in this bin or above
        enough = at_least >= need[:, None]
        bstar = np.where(enough.any(axis=1), nb - 1 - np.argmax(enough[:, ::-1], axis=1), 0)
        high = bstar > 1  # the bound lies above MIN_SCORE's bin: keep from the bin's lower edge
        thr[high] = np.maximum((bstar[high] + base).astype(np.int64) << _SHIFT, min_bits).astype(np.int32)
    keep = np.flatnonzero(bits >= np.repeat(thr, counts))
    krow = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(np.searchsorted(keep, c.indptr)))
    if drop is not None and len(keep):
        ok = ~drop(keep, krow)
        keep, krow = keep[ok], krow[ok]
    order = np.lexsort((keep, -data[keep], krow))
    ks = krow[order]
    if not len(ks):
        return keep, krow
    start = np.r_[True, ks[1:] != ks[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(ks)), 0))
    sel = np.sort(order[(np.arange(len(ks)) - first) < n])
    return keep[sel], krow[sel]


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


def _text_part(ct: sp.csr_matrix, c: sp.csr_matrix, pos: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``ct`` at the entries ``pos`` of ``c = ct + w·cg`` (0 where ct has none).

    scipy's sum of a matrix with unsorted indices stores each row as the other operand's new columns
    followed by ``ct``'s row reversed, so the text value sits at a known place; checked on every entry,
    with a general lookup when that layout does not hold."""
    cols = c.indices[pos]
    back = c.indptr[rows + 1] - 1 - pos
    in_t = back < np.diff(ct.indptr)[rows]
    at = ct.indptr[rows] + np.where(in_t, back, 0)
    if len(at) and not np.array_equal(ct.indices[np.minimum(at, max(ct.nnz - 1, 0))][in_t], cols[in_t]):
        return _lookup(ct, rows.astype(np.int64), cols.astype(np.int64))
    out = np.zeros(len(pos), dtype=np.float32)
    out[in_t] = ct.data[at[in_t]]
    return out


def is_in(ids: np.ndarray, wanted) -> np.ndarray:
    """Which of ``ids`` (posting ids) are among ``wanted``: a hash lookup (``np.isin`` on object arrays
    compares element by element: minutes for a range of 20,000 demands among a city's postings)."""
    return pd.Index(ids, dtype=object).isin([str(w) for w in wanted])


def open_sides(prepared: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the demands to answer (open) and of the supplies that may be offered (open, poster
    not excluded)."""
    open_ = prepared["is_open"].to_numpy(dtype=bool)
    ok = prepared["excluded"].isna().to_numpy()
    side = prepared["side"].astype("string").to_numpy()
    demands = np.flatnonzero(open_ & (side == "demand"))
    supplies = np.flatnonzero(open_ & ok & (side == "supply"))
    return demands, supplies


def _text_candidates(index: PostingIndex, d_pos: np.ndarray, s_pos: np.ndarray, n: int, block: int,
                     workers: int = 1):
    """Top-n supplies per demand by ``text cosine + TAG_WEIGHT × shared tags`` (≥ ``MIN_SCORE``, other
    enterprises only), in blocks of demands (threads when ``workers`` > 1: scipy and numpy release the
    GIL).  Returns (d_pos, s_pos, text_sim, tag_shared)."""
    xs_t = index.text[s_pos].T.tocsr()
    ts_t = index.tags[s_pos].T.tocsr()
    uscc = index.arrays["uscc"] + 1  # 0 = unknown (unknown equals unknown, as before)
    s_uscc = uscc[s_pos]
    same_ent = np.bincount(s_uscc, minlength=int(uscc.max(initial=0)) + 1)  # supplies per enterprise

    def one(start: int):
        dp = d_pos[start:start + block]
        ct = index.text[dp] @ xs_t
        cg = index.tags[dp] @ ts_t
        c = (ct + TAG_WEIGHT * cg).tocsr()
        d_uscc = uscc[dp]
        pos, r = _select_top(c, n + same_ent[d_uscc], n,
                             drop=lambda p_, r_: d_uscc[r_] == s_uscc[c.indices[p_]])
        text_sim = _text_part(ct.tocsr(), c, pos, r)
        val = c.data[pos]
        return dp[r], s_pos[c.indices[pos]].astype(np.int64), text_sim, np.rint((val - text_sim) / TAG_WEIGHT)

    starts = range(0, len(d_pos), block)
    if workers > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(one, starts))
    else:
        parts = [one(s) for s in starts]
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
    def col(name: str, dtype) -> np.ndarray:
        return np.concatenate([local[name].to_numpy(dtype=dtype), anywhere[name].to_numpy(dtype=dtype)])

    d, s = col("d_pos", np.int64), col("s_pos", np.int64)
    ok = col("d_uscc", np.int64) != col("s_uscc", np.int64)
    d, s, q, near = d[ok], s[ok], col("q", np.float64)[ok], col("near", np.int64)[ok]
    # by demand, local first, most credible first; ties keep the order above (stable)
    order = np.lexsort((-q, -near, d))
    d, s = d[order], s[order]
    _, first = np.unique(d * (int(s.max(initial=0)) + 1) + s, return_index=True)  # first of each pair
    keep = np.zeros(len(d), dtype=bool)
    keep[first] = True
    d, s = d[keep], s[keep]
    start = np.r_[True, d[1:] != d[:-1]] if len(d) else np.zeros(0, dtype=bool)
    rank = np.arange(len(d)) - np.maximum.accumulate(np.where(start, np.arange(len(d)), 0))
    return pd.DataFrame({"d_pos": d[rank < m], "s_pos": s[rank < m]})


def generate_candidates(
    index: PostingIndex | pd.DataFrame,
    n_text: int = 30,
    n_chain: int = 10,
    block: int = 2000,
    demand_ids=None,
    *,
    workers: int = 1,
    with_ids: bool = True,
) -> pd.DataFrame:
    """Candidate (demand, supply) pairs for every open demand, with how each was found.

    ``index`` is a :class:`PostingIndex` or prepared postings (see ``prepare_postings``).  Returns
    ``demand_id, supply_id, d_pos, s_pos`` (positions in the prepared postings), ``text_sim`` (cosine
    of character n-grams), ``tag_shared`` (number of shared normalised tags) and the flags
    ``via_text``, ``via_tag``, ``via_chain``.  Demands with no candidate are simply absent here (the
    matcher adds them back with zero candidates).  ``demand_ids`` restricts the demands answered.
    ``workers`` threads share the blocked product; ``with_ids=False`` leaves out the two id columns
    (millions of strings the matcher does not need: it works on positions).
    """
    if isinstance(index, pd.DataFrame):
        index = build_index(index)
    p = index.postings
    d_pos, s_pos = open_sides(p)
    d_ok = d_pos[p["excluded"].isna().to_numpy()[d_pos]]
    if demand_ids is not None:
        d_ok = d_ok[is_in(index.arrays["ids"][d_ok], demand_ids)]
    if len(s_pos):
        td, ts, tsim, tshared = _text_candidates(index, d_ok, s_pos, n_text, block, workers)
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
    cand = pd.DataFrame({
        "d_pos": d_all,
        "s_pos": s_all,
        "text_sim": text_sim,
        "tag_shared": tag_shared,
        "via_text": text_sim >= MIN_SCORE,
        "via_tag": tag_shared > 0,
        "via_chain": via_chain,
    })
    if not with_ids:
        return cand
    ids = index.arrays["ids"]
    cand.insert(0, "supply_id", pd.array(ids[s_all], dtype="string"))
    cand.insert(0, "demand_id", pd.array(ids[d_all], dtype="string"))
    return cand[CANDIDATE_COLUMNS]
