"""From one appeal to a class of problems (破解一类问题): appeals grouped into issues with stable ids.

An *issue* (类问题) is the underlying problem many appeals are about.  Grouping runs in two stages on the
masked text (personal data never reaches a feature, a label or the state):

1. **Near-duplicates** — MinHash of character 3-grams (one-permutation hashing, 32 bins; LSH with 8 bands of
   4) finds copies and pasted campaign letters, including copies of an appeal of an earlier day.  A copy
   joins its original's issue whatever its topical score.
2. **Topics** — TF-IDF of character bigrams (titles count twice; bigrams in more than ``max_df`` of all
   appeals seen so far are dropped).  An appeal joins the existing issue whose *centroid* (the issue's
   ``top_terms`` heaviest terms) is nearest if the cosine reaches ``attach``; the rest of the day are grouped
   around *leaders*: the earliest unassigned appeal founds an issue and takes every unassigned appeal of the
   day whose cosine to it reaches ``found``.  Both rules compare with one point (a centroid or a leader),
   never along a path of pairwise links, so unrelated appeals cannot be chained together.

**Stable ids.**  Appeals are processed one day (``received_at``'s calendar day) at a time, days in order,
inside a day by (``received_at``, ``appeal_id``).  An issue is named after its founding appeal
(``ISS-<appeal_id>``) and every decision of a day depends only on that day's appeals and on the state the
days before left (centroids, document frequencies, the near-duplicate index).  So a one-shot run over all
appeals and a day-by-day run that keeps its state (``--state DIR``) give the same ids and the same grouping
(tested), and a re-run over appeals already in the state returns their stored issues.  Ids never change:
when two issues drift together they are **not** merged — the later appeals join whichever centroid is
nearer and both ids live on; :func:`related_issues` lists such pairs for an analyst.  A late appeal (received
on a day before the state's last day) is grouped with the day it arrives in; only then can an incremental
run differ from a one-shot run over the final table.

Labels (key terms and a representative masked title) are refreshed, day by day, from that day's members
and the issue's previous label, so they too are the same in both kinds of run.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import scipy.sparse as sp

from quanhuiqi.tables.io import InputError
from quanhuiqi.tables.parse import from_arrow, to_arrow

STATE_VERSION = 1
N_BINS = 32  # MinHash bins (one-permutation hashing)
BAND = 4  # bins per LSH band → 8 bands
EMPTY = np.uint32(0xFFFFFFFF)
SAMPLE = 5  # members kept per issue for its label (bottom-k by id hash)
SNIPPET = 120  # characters of a sampled member's text
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0x165667B19E3779F9)
_NOISE = r"[\s\p{P}\p{S}]+"
# words that say nothing about a problem: never key terms of a label
LABEL_STOPWORDS = frozenset(
    "这个 那个 这些 那些 很多 许多 一些 一个 怀疑 我们 你们 他们 本人 什么 怎么 如何 为什么 没有 问题 希望 反映 咨询 请问 "
    "目前 现在 已经 相关 情况 进行 要求 能否 是否 可以 因为 所以 但是 如果 还是 一直 非常 比较 关于 有关 您好 谢谢 尽快 解决 "
    "处理 一下 这样 那么 知道 不知 应该 需要 领导 部门 企业 公司 我司 贵司".split())
GROUP_COLUMNS = ["appeal_id", "case_id", "received_at", "issue_id", "issue_label", "near_duplicate_of", "grouped_on"]


@dataclass(frozen=True)
class GroupingParams:
    """The thresholds of the two stages; stored in the state (a state refuses other parameters)."""

    duplicate: float = 0.7  # estimated Jaccard of character 3-grams: near-duplicate
    attach: float = 0.25  # cosine of an appeal to an issue's centroid: joins it
    found: float = 0.25  # cosine of an appeal to a day's leader: joins the new issue
    top_terms: int = 96  # terms kept in an issue's centroid
    max_df: float = 0.2  # bigrams in more than this share of appeals are not topical
    title_weight: float = 2.0
    max_chars: int = 600  # body characters read (long letters: the head carries the problem)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> GroupingParams:
        d = dict(d or {})
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown grouping parameter(s): {sorted(unknown)}")
        return cls(**{k: type(getattr(cls(), k))(v) for k, v in d.items()})


# --- text → features ---------------------------------------------------------------------------------------

def issue_text(values: pd.Series, max_chars: int | None = None) -> pd.Series:
    """Masked text as grouping reads it: normalised (NFKC, 繁→简), lower-case, no whitespace, punctuation or
    masked-data placeholders, digit runs → ``0`` (an amount or a date does not make another problem)."""
    from quanhuiqi.appeals.privacy import PLACEHOLDER
    from quanhuiqi.text import normalize_text_series

    s = normalize_text_series(values.astype("string")).fillna("")
    arr = to_arrow(s)
    if pc.any(pc.match_substring(arr, "[")).as_py():
        for ph in PLACEHOLDER.values():
            arr = pc.replace_substring(arr, pattern=ph, replacement="")
    arr = pc.replace_substring_regex(arr, pattern=_NOISE, replacement="")
    arr = pc.utf8_lower(arr)
    arr = pc.replace_substring_regex(arr, pattern=r"\d+", replacement="0")
    if max_chars:
        arr = pc.utf8_slice_codeunits(arr, 0, max_chars)
    return from_arrow(arr, values.index).fillna("")


def _code_points(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points of all texts joined by a 0 separator, document index of each position)."""
    joined = "\x00".join(texts) + "\x00"
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    doc = np.cumsum(cp == 0) - (cp == 0)
    return cp, doc


def _bigram_keys(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(document, exact bigram key ``code point 1 << 21 | code point 2``) of every character bigram."""
    cp, doc = _code_points(texts)
    if len(cp) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    a, b = cp[:-1].astype(np.uint64), cp[1:].astype(np.uint64)
    ok = (a != 0) & (b != 0)
    return doc[:-1][ok], ((a << np.uint64(21)) | b)[ok]


def _bigram_counts(texts: list[str], st: IssueState, grow: bool) -> sp.csr_matrix:
    """Counts of character bigrams (documents × the state's vocabulary); ``grow`` adds the unseen ones (in
    order of first occurrence, so the columns are a function of the appeals' order), else they are dropped."""
    doc, key = _bigram_keys(texts)
    col = st.lookup(key)
    if grow and (col < 0).any():
        st.add_terms(key[col < 0])
        col = st.lookup(key)
    ok = col >= 0
    m = sp.csr_matrix((np.ones(int(ok.sum()), dtype=np.float32), (doc[ok], col[ok])), shape=(len(texts), st.n_terms))
    m.sum_duplicates()
    return m


def _sublinear_l2(counts: sp.csr_matrix) -> sp.csr_matrix:
    m = counts.copy()
    m.data = 1.0 + np.log(m.data)
    return _l2(m)


def _l2(m: sp.csr_matrix) -> sp.csr_matrix:
    m = m.tocsr()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    out = sp.csr_matrix(m, dtype=np.float32, copy=True)
    out.data *= np.repeat((1.0 / norms).astype(np.float32), np.diff(out.indptr))
    return out


def _scale_columns(m: sp.csr_matrix, w: np.ndarray) -> sp.csr_matrix:
    """``m`` with each column multiplied by ``w`` (O(nnz): no full-width diagonal matrix)."""
    out = sp.csr_matrix(m, dtype=np.float32, copy=True)
    out.data *= w[out.indices]
    out.eliminate_zeros()
    return out


def minhash(texts: list[str]) -> np.ndarray:
    """One-permutation MinHash signatures (documents × 32, uint32; ``EMPTY`` for a bin no 3-gram fell in)."""
    n = len(texts)
    sig = np.full(n * N_BINS, EMPTY, dtype=np.uint32)
    cp, doc = _code_points(texts)
    if len(cp) >= 3:
        a, b, c = (cp[:-2].astype(np.uint64), cp[1:-1].astype(np.uint64), cp[2:].astype(np.uint64))
        ok = (a != 0) & (b != 0) & (c != 0)
        h = (a * _M1) ^ ((b * _M2) >> np.uint64(7)) ^ ((c * _M3) >> np.uint64(13))
        h = (h ^ (h >> np.uint64(31))) * _M1
        h = h[ok]
        binn = (h >> np.uint64(59)).astype(np.int64)
        val = (h & np.uint64(0xFFFFFFFE)).astype(np.uint32)  # never EMPTY
        np.minimum.at(sig, doc[:-2][ok] * N_BINS + binn, val)
    return sig.reshape(n, N_BINS)


def band_keys(sig: np.ndarray) -> np.ndarray:
    """LSH keys (documents × 8 bands, uint64), the band's number mixed in; a band with an empty bin is 0
    (not indexed: short texts would all collide on their empty bins)."""
    n = len(sig)
    s = sig.astype(np.uint64).reshape(n, N_BINS // BAND, BAND)
    h = np.arange(N_BINS // BAND, dtype=np.uint64)[None, :] * _M3 + np.uint64(1)
    for j in range(BAND):
        h = (h ^ s[:, :, j]) * _M1
        h ^= h >> np.uint64(29)
    empty = (sig.reshape(n, N_BINS // BAND, BAND) == EMPTY).any(axis=2)
    h[empty] = 0
    h[h == 0] = 1
    h[empty] = 0
    return h


def signature_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of row pairs of two signature arrays."""
    filled = (a != EMPTY) | (b != EMPTY)
    same = (a == b) & (a != EMPTY)
    return same.sum(axis=1) / np.maximum(filled.sum(axis=1), 1)


# --- the state ---------------------------------------------------------------------------------------------

@dataclass
class IssueState:
    """Everything the days before left: per appeal its issue, per issue its centroid and label, the
    document frequencies and the near-duplicate index.  Saved as a folder (no pickles)."""

    params: GroupingParams = field(default_factory=GroupingParams)
    appeals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"appeal_id": pd.Series(dtype="string"), "issue_id": pd.Series(dtype="string"),
         "near_duplicate_of": pd.Series(dtype="string"), "grouped_on": pd.Series(dtype="string")}))
    issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"issue_id": pd.Series(dtype="string"), "founded_by": pd.Series(dtype="string"),
         "founded_on": pd.Series(dtype="string"), "size": pd.Series(dtype="int64"),
         "parent_id": pd.Series(dtype="string"), "parent_similarity": pd.Series(dtype="float64")}))
    samples: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"issue_id": pd.Series(dtype="string"), "h": pd.Series(dtype="int64"), "title": pd.Series(dtype="string"),
         "text": pd.Series(dtype="string")}))
    term_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))  # sorted bigram keys
    term_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # their columns
    df: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_docs: int = 0
    sums: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32))
    centroids: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32))
    signatures: np.ndarray = field(default_factory=lambda: np.zeros((0, N_BINS), dtype=np.uint32))
    lsh_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))  # sorted, unique
    lsh_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # first appeal with the key
    last_day: str | None = None

    # -- the vocabulary of bigrams (columns in order of first occurrence)
    @property
    def n_terms(self) -> int:
        return len(self.term_keys)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Columns of bigram keys (-1 for unseen ones)."""
        if len(self.term_keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.term_keys, keys), len(self.term_keys) - 1)
        return np.where(self.term_keys[pos] == keys, self.term_cols[pos], -1)

    def add_terms(self, keys: np.ndarray) -> None:
        u, first = np.unique(keys, return_index=True)
        u = u[np.argsort(first, kind="stable")]
        cols = np.arange(self.n_terms, self.n_terms + len(u), dtype=np.int64)
        keys_all = np.concatenate([self.term_keys, u])
        cols_all = np.concatenate([self.term_cols, cols])
        order = np.argsort(keys_all, kind="stable")
        self.term_keys, self.term_cols = keys_all[order], cols_all[order]
        self.df = np.concatenate([self.df, np.zeros(len(u), dtype=np.int64)])
        for name in ("sums", "centroids"):
            m = getattr(self, name).tocsr()
            m.resize((m.shape[0], self.n_terms))
            setattr(self, name, m)

    # -- persistence
    def save(self, folder: str | os.PathLike) -> Path:
        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        self.appeals.to_parquet(d / "appeals.parquet", index=False)
        self.issues.to_parquet(d / "issues.parquet", index=False)
        self.samples.to_parquet(d / "samples.parquet", index=False)
        np.savez(d / "arrays.npz", df=self.df, term_keys=self.term_keys, term_cols=self.term_cols, signatures=self.signatures, lsh_keys=self.lsh_keys,
                 lsh_rows=self.lsh_rows, **_csr_arrays("sums", self.sums), **_csr_arrays("centroids", self.centroids))
        meta = {"version": STATE_VERSION, "params": asdict(self.params), "n_docs": self.n_docs,
                "last_day": self.last_day, "n_appeals": len(self.appeals), "n_issues": len(self.issues)}
        (d / "state.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        return d

    @classmethod
    def load(cls, folder: str | os.PathLike) -> IssueState:
        d = Path(folder)
        meta_path = d / "state.json"
        if not meta_path.exists():
            raise InputError(f"{d}: not an issue state (no state.json); start without --state or with an empty folder")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("version") != STATE_VERSION:
            raise InputError(f"{d}: issue state version {meta.get('version')}, this release reads {STATE_VERSION}")
        z = np.load(d / "arrays.npz")
        appeals = pd.read_parquet(d / "appeals.parquet")
        issues = pd.read_parquet(d / "issues.parquet")
        for c in appeals.columns:
            appeals[c] = appeals[c].astype("string")
        if "parent_id" not in issues.columns:  # a state saved before parents were recorded
            issues["parent_id"] = pd.Series(pd.NA, index=issues.index, dtype="string")
            issues["parent_similarity"] = np.nan
        for c in issues.columns:
            issues[c] = issues[c].astype({"size": "int64", "parent_similarity": "float64"}.get(c, "string"))
        samples = pd.read_parquet(d / "samples.parquet")
        for c in samples.columns:
            samples[c] = samples[c].astype("int64" if c == "h" else "string")
        return cls(params=GroupingParams.from_dict(meta["params"]), appeals=appeals, issues=issues, samples=samples,
                   df=z["df"], term_keys=z["term_keys"], term_cols=z["term_cols"], n_docs=int(meta["n_docs"]), sums=_csr_from(z, "sums"), centroids=_csr_from(z, "centroids"),
                   signatures=z["signatures"], lsh_keys=z["lsh_keys"], lsh_rows=z["lsh_rows"],
                   last_day=meta.get("last_day"))

    @classmethod
    def open(cls, folder: str | os.PathLike | None, params: GroupingParams | None = None) -> IssueState:
        """The state in ``folder`` (a new one when the folder is missing or empty)."""
        if folder is not None and (Path(folder) / "state.json").exists():
            st = cls.load(folder)
            if params is not None and params != st.params:
                raise InputError(f"{folder}: the state was built with other grouping parameters ({asdict(st.params)})")
            return st
        return cls(params=params or GroupingParams())

    def idf(self) -> np.ndarray:
        """Smoothed idf over every appeal seen; bigrams above ``max_df`` (and unseen ones) weigh 0."""
        n = max(self.n_docs, 1)
        w = np.zeros(self.n_terms, dtype=np.float32)
        seen = np.flatnonzero(self.df)
        df = self.df[seen]
        v = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        if self.n_docs >= 50:
            v[df > self.params.max_df * n] = 0.0
        w[seen] = v
        return w


def _csr_arrays(name: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    m = m.tocsr()
    return {f"{name}_data": m.data, f"{name}_indices": m.indices, f"{name}_indptr": m.indptr,
            f"{name}_shape": np.array(m.shape, dtype=np.int64)}


def _csr_from(z, name: str) -> sp.csr_matrix:
    return sp.csr_matrix((z[f"{name}_data"], z[f"{name}_indices"], z[f"{name}_indptr"]),
                         shape=tuple(z[f"{name}_shape"]))


# --- grouping ----------------------------------------------------------------------------------------------

@dataclass
class _Day:
    ids: np.ndarray  # appeal ids in processing order
    titles: pd.Series  # masked display titles
    text: list[str]  # issue_text of title + body (MinHash)
    title_counts: sp.csr_matrix
    body_counts: sp.csr_matrix


def group_appeals(clean: pd.DataFrame, state: IssueState | None = None,
                  params: GroupingParams | None = None) -> tuple[pd.DataFrame, IssueState]:
    """(one row per appeal of ``clean``: ``GROUP_COLUMNS``, the updated state).

    ``clean`` is a validated appeals table (``validate_appeals(...).clean``: ``appeal_id``, ``received_at``,
    ``title``, ``body``; ``case_id`` when linked).  Appeals already in ``state`` keep their stored issue; the
    others are grouped day by day (see the module's docstring).  The state is updated in place and returned.
    """
    from quanhuiqi.appeals.privacy import mask_personal_data

    st = state if state is not None else IssueState(params=params or GroupingParams())
    p = st.params
    if len(clean) == 0:
        return _output(clean, st), st
    ids = clean["appeal_id"].astype("string")
    known = ids.isin(st.appeals["appeal_id"]).to_numpy()
    todo = clean.loc[~known].copy()
    if len(todo):
        todo["_day"] = todo["received_at"].dt.strftime("%Y-%m-%d")
        todo = todo.sort_values(["_day", "received_at", "appeal_id"], kind="stable")
        title_m = mask_personal_data(todo["title"].astype("string"))
        body_m = mask_personal_data(todo["body"].astype("string"))
        title_t = issue_text(title_m.fillna(""))
        body_t = issue_text(body_m.fillna(""), p.max_chars)
        todo["_title_m"] = title_m.fillna("").to_numpy(dtype=object)
        todo["_tt"] = title_t.to_numpy(dtype=object)
        todo["_bt"] = body_t.to_numpy(dtype=object)
        for day, part in todo.groupby("_day", sort=True):
            tt = part["_tt"].tolist()
            bt = part["_bt"].tolist()
            d = _Day(ids=part["appeal_id"].astype(str).to_numpy(dtype=object),
                     titles=pd.Series(part["_title_m"].to_numpy(dtype=object)),
                     text=[a + "\x01" + b for a, b in zip(tt, bt)],
                     title_counts=_bigram_counts(tt, st, True), body_counts=_bigram_counts(bt, st, True))
            d.title_counts.resize((len(tt), st.n_terms))
            _group_day(st, d, str(day))
    return _output(clean, st), st


def _group_day(st: IssueState, d: _Day, day: str) -> None:
    p = st.params
    n = len(d.ids)
    base = len(st.appeals)
    # document frequencies first (this day counts), then the idf every comparison of the day uses
    present = (d.title_counts + d.body_counts).tocsr()
    present.data[:] = 1
    st.df += np.bincount(present.indices, minlength=st.n_terms).astype(np.int64)
    st.n_docs += n
    idf = st.idf()
    counts = sp.csr_matrix(p.title_weight * d.title_counts + d.body_counts, dtype=np.float32)
    tf = _sublinear_l2(counts)  # stored in centroid sums (no idf: the idf moves, the sums do not)
    x = _l2(_scale_columns(tf, idf))  # the day's TF-IDF rows

    # 1. near-duplicates: inside the day (union of verified band matches), then against earlier days
    sig = minhash(d.text)
    keys = band_keys(sig)
    parent = np.arange(n)
    old_anchor = np.full(n, -1, dtype=np.int64)  # state row of an earlier day's near-duplicate
    for j in range(keys.shape[1]):
        k = keys[:, j]
        has = k != 0
        if not has.any():
            continue
        kk = k[has]
        rows = np.flatnonzero(has)
        _, first_idx, inv = np.unique(kk, return_index=True, return_inverse=True)
        anchor = rows[first_idx[inv]]
        cand = anchor != rows
        if cand.any():
            a, b = anchor[cand], rows[cand]
            ok = signature_similarity(sig[a], sig[b]) >= p.duplicate
            for x_, y_ in zip(a[ok], b[ok]):
                _union(parent, int(x_), int(y_))
        if len(st.lsh_keys):
            pos = np.searchsorted(st.lsh_keys, kk)
            pos = np.minimum(pos, len(st.lsh_keys) - 1)
            hit = st.lsh_keys[pos] == kk
            if hit.any():
                r, srow = rows[hit], st.lsh_rows[pos[hit]]
                ok = signature_similarity(sig[r], st.signatures[srow]) >= p.duplicate
                r, srow = r[ok], srow[ok]
                better = (old_anchor[r] < 0) | (srow < old_anchor[r])
                old_anchor[r[better]] = srow[better]
    root = np.array([_find(parent, i) for i in range(n)])
    # a group's anchor is its earliest member (the day's order); its earlier-day original the earliest one
    _, grp = np.unique(root, return_inverse=True)
    n_grp = grp.max() + 1
    grp_first = np.full(n_grp, n, dtype=np.int64)
    np.minimum.at(grp_first, grp, np.arange(n))
    grp_old = np.full(n_grp, np.iinfo(np.int64).max, dtype=np.int64)
    has_old = old_anchor >= 0
    np.minimum.at(grp_old, grp[has_old], old_anchor[has_old])
    near_dup_of = np.full(n, None, dtype=object)
    first_member = grp_first[grp]
    inside = first_member != np.arange(n)
    near_dup_of[inside] = d.ids[first_member[inside]]
    old_ok = grp_old[grp] != np.iinfo(np.int64).max
    if old_ok.any():  # only the rows needed: converting the whole id column is O(state) a day
        near_dup_of[old_ok] = st.appeals["appeal_id"].iloc[grp_old[grp][old_ok]].to_numpy(dtype=object)

    # 2. topics: groups (summed vectors) → existing centroids, then the day's leaders
    g_order = np.argsort(grp_first, kind="stable")  # groups in the day's order of their first member
    member = sp.csr_matrix((np.ones(n, dtype=np.float32), (grp, np.arange(n))), shape=(n_grp, n))
    gx = _l2(member @ x)
    issue_of_group = np.full(n_grp, -1, dtype=np.int64)  # index into st.issues
    state_issue = pd.Index(st.issues["issue_id"].astype(str))
    if old_ok.any():
        old_issue = st.appeals["issue_id"].iloc[grp_old[grp_old != np.iinfo(np.int64).max]].to_numpy(dtype=object)
        issue_of_group[grp_old != np.iinfo(np.int64).max] = state_issue.get_indexer(old_issue)
    todo = np.flatnonzero(issue_of_group < 0)
    nearest = np.full(n_grp, -1, dtype=np.int64)  # a group's nearest earlier issue (a new issue's parent topic)
    nearest_score = np.zeros(n_grp, dtype=np.float64)
    if len(todo) and st.centroids.shape[0]:
        sims = (gx[todo] @ st.centroids.T).tocsr()
        best, score = _row_argmax(sims)
        nearest[todo], nearest_score[todo] = best, score
        ok = score >= p.attach
        issue_of_group[todo[ok]] = best[ok]
    todo = g_order[issue_of_group[g_order] < 0]
    new_issue_ids: list[str] = []
    new_parent: list[int] = []
    new_parent_score: list[float] = []
    if len(todo):
        s = (gx[todo] @ gx[todo].T).tocsr()
        s.data[s.data < p.found] = 0
        s.eliminate_zeros()
        taken = np.full(len(todo), -1, dtype=np.int64)
        for i in range(len(todo)):  # leaders in the day's order
            if taken[i] >= 0:
                continue
            k = len(st.issues) + len(new_issue_ids)
            new_issue_ids.append("ISS-" + str(d.ids[grp_first[todo[i]]]))
            new_parent.append(int(nearest[todo[i]]))
            new_parent_score.append(float(nearest_score[todo[i]]))
            nb = s.indices[s.indptr[i]:s.indptr[i + 1]]
            nb = nb[taken[nb] < 0]
            taken[nb] = k
            taken[i] = k
        issue_of_group[todo] = taken
    issue_idx = issue_of_group[grp]

    # 3. the state: new issues, appeals, centroid sums and top terms, the near-duplicate index, labels
    if new_issue_ids:
        founders = [i[4:] for i in new_issue_ids]
        known = st.issues["issue_id"].to_numpy(dtype=object)
        par = np.asarray(new_parent, dtype=np.int64)
        st.issues = pd.concat([st.issues, pd.DataFrame({
            "issue_id": pd.array(new_issue_ids, dtype="string"), "founded_by": pd.array(founders, dtype="string"),
            "founded_on": pd.array([day] * len(new_issue_ids), dtype="string"),
            "size": np.zeros(len(new_issue_ids), dtype=np.int64),
            "parent_id": pd.array(np.where(par >= 0, known[np.maximum(par, 0)] if len(known) else None, None),
                                  dtype="string"),
            "parent_similarity": np.where(par >= 0, np.round(new_parent_score, 4), np.nan)})], ignore_index=True)
    n_issues = len(st.issues)
    st.issues["size"] = st.issues["size"].to_numpy() + np.bincount(issue_idx, minlength=n_issues)
    assign = sp.csr_matrix((np.ones(n, dtype=np.float32), (issue_idx, np.arange(n))), shape=(n_issues, n))
    sums = st.sums
    if sums.shape[0] < n_issues:
        sums.resize((n_issues, st.n_terms))
    st.sums = (sums + assign @ tf).tocsr()
    touched = np.unique(issue_idx)
    st.centroids = _refresh_centroids(st.centroids, st.sums, touched, idf, p.top_terms, n_issues)
    st.appeals = pd.concat([st.appeals, pd.DataFrame({
        "appeal_id": pd.array(d.ids, dtype="string"),
        "issue_id": pd.array(st.issues["issue_id"].to_numpy(dtype=object)[issue_idx], dtype="string"),
        "near_duplicate_of": pd.array(near_dup_of, dtype="string"),
        "grouped_on": pd.array([day] * n, dtype="string")})], ignore_index=True)
    st.signatures = np.vstack([st.signatures, sig])
    all_k = keys.ravel()
    all_r = np.repeat(np.arange(n, dtype=np.int64), keys.shape[1]) + base
    keep = all_k != 0
    all_k, all_r = all_k[keep], all_r[keep]
    uk, first = np.unique(all_k, return_index=True)  # earliest appeal per key (rows are in the day's order)
    ur = all_r[first]
    if len(st.lsh_keys):  # the index is sorted: a binary search, not a hash of the whole index every day
        at = np.minimum(np.searchsorted(st.lsh_keys, uk), len(st.lsh_keys) - 1)
        new = st.lsh_keys[at] != uk
    else:
        new = np.ones(len(uk), dtype=bool)
    pos = np.searchsorted(st.lsh_keys, uk[new])
    st.lsh_keys = np.insert(st.lsh_keys, pos, uk[new])
    st.lsh_rows = np.insert(st.lsh_rows, pos, ur[new])
    _update_samples(st, d, issue_idx, touched)
    st.last_day = day if st.last_day is None or day > st.last_day else st.last_day


def _union(parent: np.ndarray, a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _row_argmax(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(column of each row's largest value — the lowest column on ties —, the value; -1 and 0 for empty rows)."""
    n = m.shape[0]
    best = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n, dtype=np.float64)
    if m.nnz == 0:
        return best, score
    rows = np.repeat(np.arange(n), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, rows))
    r_sorted = rows[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = r_sorted[1:] != r_sorted[:-1]
    pick = order[first]
    best[rows[pick]] = m.indices[pick]
    score[rows[pick]] = m.data[pick]
    return best, score


def _scale_rows(m: sp.csr_matrix, w: np.ndarray) -> sp.csr_matrix:
    out = sp.csr_matrix(m, dtype=np.float32, copy=True)
    out.data *= np.repeat(w.astype(np.float32), np.diff(out.indptr))
    out.eliminate_zeros()
    return out


def _top_terms(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` largest entries, l2-normalised."""
    m = m.tocsr()
    m.eliminate_zeros()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, rows))
    r_sorted = rows[order]
    starts = np.searchsorted(r_sorted, np.arange(m.shape[0]))
    rank = np.arange(len(order)) - starts[r_sorted]
    keep = order[rank < k]
    out = sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape, dtype=np.float32)
    return _l2(out)


def _refresh_centroids(cent: sp.csr_matrix, sums: sp.csr_matrix, touched: np.ndarray, idf: np.ndarray,
                       k: int, n_issues: int) -> sp.csr_matrix:
    if cent.shape[0] < n_issues:
        cent = cent.tocsr()
        cent.resize((n_issues, cent.shape[1]))
    fresh = _top_terms(_scale_columns(sums[touched], idf), k)
    keep = np.ones(n_issues, dtype=np.float32)
    keep[touched] = 0
    placed = sp.csr_matrix((np.ones(len(touched), dtype=np.float32), (touched, np.arange(len(touched)))),
                           shape=(n_issues, len(touched)))
    out = (_scale_rows(cent, keep) + placed @ fresh).tocsr()
    out.sort_indices()
    return out


# --- samples and labels -----------------------------------------------------------------------------------

def _id_hash(ids: np.ndarray) -> np.ndarray:
    """A fixed hash of appeal ids (pandas' stable siphash): the order of an issue's bottom-k sample."""
    return pd.util.hash_array(np.asarray(ids, dtype=object)).astype(np.uint64).view(np.int64)


def _update_samples(st: IssueState, d: _Day, issue_idx: np.ndarray, touched: np.ndarray) -> None:
    """Each issue keeps the ``SAMPLE`` members with the smallest id hash: a sample that does not depend on the
    order the members came in, so a one-shot and a day-by-day run keep the same one (labels come from it)."""
    ids = st.issues["issue_id"].to_numpy(dtype=object)
    new = pd.DataFrame({
        "issue_id": pd.array(ids[issue_idx], dtype="string"),
        "h": _id_hash(d.ids),
        "title": pd.array(d.titles.to_numpy(dtype=object), dtype="string"),
        "text": pd.array([t[:SNIPPET] for t in d.text], dtype="string"),
    })
    old = st.samples
    hit = old["issue_id"].isin(ids[touched]).to_numpy()
    both = pd.concat([old[hit], new], ignore_index=True).sort_values(["issue_id", "h"], kind="stable")
    both = both[both.groupby("issue_id", sort=False).cumcount() < SAMPLE]
    st.samples = pd.concat([old[~hit], both], ignore_index=True)




def label_issues(st: IssueState, issue_ids=None, n_terms: int = 3) -> pd.DataFrame:
    """``issue_id, key_terms, title, label`` for the given issues (all by default), from each issue's sample
    (masked text only) and its centroid: key terms are the sample's words (jieba) weighing most in the
    centroid; the title is the sample's title nearest the centroid."""
    import jieba

    jieba.setLogLevel(60)
    idx_of = pd.Index(st.issues["issue_id"].astype(str))
    want = idx_of if issue_ids is None else pd.Index(pd.unique(pd.Series(issue_ids, dtype="string").dropna()))
    rows = idx_of.get_indexer(want)
    rows = rows[rows >= 0]
    samples = st.samples[st.samples["issue_id"].isin(idx_of[rows])]
    idf = st.idf()
    # the sample titles nearest their centroid, all at once
    titles = samples["title"].fillna("").astype(str)
    tv = _l2(_scale_columns(_sublinear_l2(_bigram_counts(issue_text(titles.astype("string")).tolist(), st, False)), idf))
    cent_rows = idx_of.get_indexer(samples["issue_id"].astype(str))
    score = np.asarray(tv.multiply(st.centroids[cent_rows]).sum(axis=1)).ravel()
    pick = (samples.assign(_s=score, _t=titles.to_numpy(), _k=np.arange(len(samples)))
            .sort_values(["issue_id", "_s", "_k"], ascending=[True, False, True]).drop_duplicates("issue_id"))
    best_title = dict(zip(pick["issue_id"].astype(str), pick["_t"].str.slice(0, 40)))
    # key terms: the sample's words (jieba), scored by the centroid weight of their bigrams, all pairs at once
    pair_issue, pair_word = [], []
    for iid, snippet in zip(samples["issue_id"].astype(str), samples["text"].fillna("").astype(str)):
        for w in set(jieba.lcut(snippet.replace("\x01", "。"), HMM=False)):
            if len(w) >= 2 and w not in LABEL_STOPWORDS and any("\u4e00" <= ch <= "\u9fff" for ch in w):
                pair_issue.append(iid)
                pair_word.append(w)
    pairs = pd.DataFrame({"issue_id": pair_issue, "word": pair_word})
    pairs = pairs.groupby(["issue_id", "word"], sort=False).size().rename("n").reset_index()
    words = pd.Index(pd.unique(pairs["word"]))
    doc, key = _bigram_keys(list(words))
    col = st.lookup(key)
    ok = col >= 0
    n_grams = np.bincount(doc, minlength=len(words)).astype(np.float32)
    wmat = sp.csr_matrix((1.0 / np.sqrt(n_grams[doc[ok]]), (doc[ok], col[ok])), shape=(len(words), st.n_terms))
    pr = idx_of.get_indexer(pairs["issue_id"])
    pairs["score"] = np.asarray(st.centroids[pr].multiply(wmat[words.get_indexer(pairs["word"])]).sum(axis=1)).ravel()
    pairs["rank"] = pairs["score"] * np.sqrt(pairs["n"])
    pairs = pairs[pairs["score"] > 0].sort_values(["issue_id", "rank", "word"], ascending=[True, False, True])
    by_issue = pairs.groupby("issue_id", sort=False)["word"].agg(list).to_dict()
    out_terms, out_titles = [], []
    for r in rows:
        iid = idx_of[r]
        chosen: list[str] = []
        for w in by_issue.get(iid, []):
            if not any(w in c or c in w for c in chosen):
                chosen.append(w)
            if len(chosen) == n_terms:
                break
        out_terms.append("、".join(chosen))
        out_titles.append(best_title.get(iid, ""))
    terms = pd.Series(out_terms, dtype="string")
    title = pd.Series(out_titles, dtype="string")
    label = (terms + "｜" + title).where(terms != "", title)
    return pd.DataFrame({"issue_id": pd.array(idx_of[rows], dtype="string"), "key_terms": terms.to_numpy(),
                         "title": title.to_numpy(), "label": label.to_numpy()})


# --- outputs -----------------------------------------------------------------------------------------------

def _output(clean: pd.DataFrame, st: IssueState) -> pd.DataFrame:
    a = st.appeals.set_index("appeal_id")
    ids = clean["appeal_id"].astype("string")
    got = a.reindex(ids)
    labels = label_issues(st, got["issue_id"].dropna()).set_index("issue_id")["label"]
    out = pd.DataFrame({
        "appeal_id": ids.to_numpy(dtype=object),
        "case_id": (clean["case_id"] if "case_id" in clean.columns else ids).astype("string").to_numpy(dtype=object),
        "received_at": clean["received_at"].to_numpy(),
        "issue_id": got["issue_id"].to_numpy(dtype=object),
        "issue_label": labels.reindex(got["issue_id"]).to_numpy(dtype=object),
        "near_duplicate_of": got["near_duplicate_of"].to_numpy(dtype=object),
        "grouped_on": got["grouped_on"].to_numpy(dtype=object),
    })
    for c in GROUP_COLUMNS:
        if c != "received_at":
            out[c] = out[c].astype("string")
    if "support" in clean.columns:  # likes / co-signatures of real exports: carried for the heat of an issue
        out["support"] = support_counts(clean["support"]).to_numpy()
    return out


def support_counts(values: pd.Series) -> pd.Series:
    """The optional ``support`` column (likes, co-signers) as non-negative integers; unreadable → missing."""
    s = pd.to_numeric(pd.Series(values).astype("string").str.strip(), errors="coerce")
    return s.where(s >= 0).round().astype("Int64")


def issue_table(st: IssueState, issue_ids=None) -> pd.DataFrame:
    """One row per issue: id, founder, founding day, size, key terms, representative (masked) title, label."""
    issues = st.issues if issue_ids is None else st.issues[st.issues["issue_id"].isin(pd.unique(pd.Series(issue_ids)))]
    return issues.merge(label_issues(st, issues["issue_id"]), on="issue_id", how="left")


def related_issues(st: IssueState, threshold: float | None = None) -> pd.DataFrame:
    """Pairs of issues whose centroids are at least as close as the attach threshold: candidates an analyst
    may merge (ids are never merged automatically)."""
    thr = st.params.attach if threshold is None else threshold
    c = st.centroids
    if c.shape[0] < 2:
        return pd.DataFrame({"issue_id": [], "related_issue_id": [], "similarity": []})
    s = sp.triu(c @ c.T, k=1).tocoo()
    keep = s.data >= thr
    ids = st.issues["issue_id"].to_numpy(dtype=object)
    return pd.DataFrame({"issue_id": ids[s.row[keep]], "related_issue_id": ids[s.col[keep]],
                         "similarity": np.round(s.data[keep], 4)}).sort_values("similarity", ascending=False,
                                                                                ignore_index=True)


def group_file(appeals: str | os.PathLike, out: str | os.PathLike, state: str | os.PathLike | None = None,
               params: dict[str, Any] | None = None, rejects: str | os.PathLike | None = None) -> str:
    """``quanhuiqi appeals group``: validate, group (attaching to ``state`` when given), write one row per
    valid appeal (``GROUP_COLUMNS``), the issues beside it (``<out>.issues.csv``) and save the state."""
    from quanhuiqi.appeals.validate import appeals_file_clean
    from quanhuiqi.tables.io import write_table

    v = appeals_file_clean(appeals)
    gp = GroupingParams.from_dict(params) if params else None
    st = IssueState.open(state, gp)
    before = len(st.issues)
    grouped, st = group_appeals(v.clean, st)
    out_p = Path(out)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    write_table(grouped, out_p)
    issues = issue_table(st, grouped["issue_id"].dropna())
    write_table(issues, out_p.with_name(out_p.stem + ".issues" + out_p.suffix))
    if rejects:
        write_table(v.rejects, rejects)
    if state is not None:
        st.save(state)
    return (f"{len(grouped)} appeals → {grouped['issue_id'].nunique()} issues "
            f"({len(st.issues) - before} new; {v.rows_rejected} rows rejected) → {out_p}")


__all__ = ["GROUP_COLUMNS", "GroupingParams", "IssueState", "bcubed", "group_appeals", "group_file", "issue_table",
           "issue_text", "minhash", "related_issues"]


def bcubed(truth: pd.Series, predicted: pd.Series, among: np.ndarray | None = None) -> dict[str, float]:
    """B-cubed precision, recall and F1 of a grouping against true classes (Amigó et al. 2009).

    ``among`` (boolean) limits the items scored — e.g. the appeals of planted issues — while clusters still
    count every member: a background appeal in a planted issue's cluster lowers that issue's precision."""
    t = pd.Series(truth).astype("string").fillna("__none__").to_numpy(dtype=object)
    p = pd.Series(predicted).astype("string").fillna("__none__").to_numpy(dtype=object)
    frame = pd.DataFrame({"t": t, "p": p})
    both = frame.groupby(["t", "p"]).size()
    n_p = frame.groupby("p").size()
    n_t = frame.groupby("t").size()
    pair = both.reindex(pd.MultiIndex.from_arrays([t, p])).to_numpy(dtype=float)
    prec = pair / n_p.reindex(p).to_numpy(dtype=float)
    rec = pair / n_t.reindex(t).to_numpy(dtype=float)
    m = np.ones(len(t), dtype=bool) if among is None else np.asarray(among, dtype=bool)
    P, R = float(prec[m].mean()), float(rec[m].mean())
    return {"precision": P, "recall": R, "f1": 2 * P * R / (P + R) if P + R else 0.0, "items": int(m.sum())}
