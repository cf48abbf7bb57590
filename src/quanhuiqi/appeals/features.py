"""Text features of an appeal: character n-grams of the whole text and of the title, and jieba words.

Chinese has no spaces.  Three blocks, each TF-IDF weighted (sublinear tf, smooth idf) and L2-normalised:

* character 1–3-grams of title + body — robust to new words, typos and 繁/简 mixes;
* character 1–3-grams of the title alone — the title states the problem, the body tells the story, so the
  same gram weighs differently there (+0.007 macro-F1 on the real 问政 messages, ``docs/appeals.md``);
* words: the segmentation jieba's dictionary gives (the maximum-probability path through the word graph,
  jieba's ``cut(HMM=False)``, words of up to four characters).  jieba's own Python loop segments about
  200,000 characters a second — 50 s for 100,000 appeals — so the same dynamic programme runs here over
  all documents at once in numpy; ``tests/appeals`` checks it against ``jieba.lcut``.

Before any of it the text is normalised (NFKC, 繁→简, whitespace removed, ASCII lower-cased, every run of
digits read as one ``0``: amounts, dates and masked numbers generalise).  Characters are coded densely
(the training texts' alphabet, ≤ 32,767 characters in 15 bits), so a gram of up to four characters is one
int64 — the vocabulary is an integer index, and the fitted vectoriser is plain arrays (no pickle).
"""

from __future__ import annotations

import math
import re
from functools import cache

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import scipy.sparse as sp

from quanhuiqi.appeals.lexicon import jieba_table
from quanhuiqi.tables.parse import from_arrow, to_arrow
from quanhuiqi.text import normalize_text_series

_BITS = 15
_MAX_ALPHABET = (1 << _BITS) - 1
_CHUNK = 8_000  # documents per numpy pass: bounded temporaries
_TAG = 60  # gram length stored above the character bits
_ZERO = np.zeros(1, dtype=np.intp)


PLACEHOLDER_BASE = 0xE000  # masked personal data: one private-use character per kind (never a word)
_SMALL = 16
_WS = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+", re.ASCII)


def _model_text_one(value) -> str:
    """:func:`model_text` of one value (tested equal to the column path)."""
    from quanhuiqi.appeals.privacy import KINDS, PLACEHOLDER
    from quanhuiqi.text import normalize_text

    s = normalize_text(value if isinstance(value, str) else None) or ""
    s = _WS.sub("", s).lower()
    s = _DIGITS.sub("0", s)
    if "[" in s:
        for i, kind in enumerate(KINDS):
            s = s.replace(PLACEHOLDER[kind], chr(PLACEHOLDER_BASE + i))
    return s


def model_text(values: pd.Series) -> pd.Series:
    """The text the model reads: normalised, no whitespace, ASCII lower-case, digit runs → ``0``, each
    masked-data placeholder (``[手机号]`` …) one private-use character (its kind stays a feature, its
    characters do not pose as words)."""
    from quanhuiqi.appeals.privacy import KINDS, PLACEHOLDER

    if len(values) <= _SMALL:  # one appeal online: plain Python, the same result without columnar set-up
        return pd.Series([_model_text_one(v) for v in values.astype(object)], index=values.index, dtype="string")
    s = normalize_text_series(values.astype("string")).fillna("")
    arr = to_arrow(s)
    if pc.any(pc.match_substring(arr, "[")).as_py():
        for i, kind in enumerate(KINDS):
            arr = pc.replace_substring(arr, pattern=PLACEHOLDER[kind], replacement=chr(PLACEHOLDER_BASE + i))
    arr = pc.replace_substring_regex(arr, pattern=r"\s+", replacement="")
    arr = pc.utf8_lower(arr)
    arr = pc.replace_substring_regex(arr, pattern=r"\d+", replacement="0")
    return from_arrow(arr, values.index)


def _han_or_alnum(cp: np.ndarray) -> np.ndarray:
    """Characters jieba segments inside a block (CJK, ASCII letters and digits, + # & . _ % -)."""
    return (((cp >= 0x4E00) & (cp <= 0x9FD5)) | ((cp >= 0x30) & (cp <= 0x39)) | ((cp >= 0x61) & (cp <= 0x7A))
            | ((cp >= 0x41) & (cp <= 0x5A)) | np.isin(cp, [ord(c) for c in "+#&._%-"]))


def _code_points(texts: list[str], max_chars: int) -> np.ndarray:
    s = [t[:max_chars] for t in texts]
    width = max(max(map(len, s), default=1), 1)
    return np.asarray(s, dtype=f"<U{width}").view(np.uint32).reshape(len(s), width).astype(np.int64)


def _grams(ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All k-gram codes of a (docs × width) matrix of dense character ids (0 = none) and their validity."""
    width = ids.shape[1]
    if width < k:
        return np.zeros((ids.shape[0], 0), dtype=np.int64), np.zeros((ids.shape[0], 0), dtype=bool)
    code = np.zeros((ids.shape[0], width - k + 1), dtype=np.int64)
    valid = np.ones_like(code, dtype=bool)
    for j in range(k):
        c = ids[:, j: width - k + 1 + j]
        code = (code << _BITS) | c
        valid &= c != 0
    return code | (np.int64(k) << _TAG), valid


def _blockable(ch: str) -> bool:
    """:func:`_han_or_alnum` of one character."""
    return ("\u4e00" <= ch <= "\u9fd5") or ch.isascii() and (ch.isalnum() or ch in "+#&._%-")


def _decode_codes(codes: np.ndarray, alphabet: Alphabet) -> list[str]:
    """Gram codes → their texts, vectorised (the characters of up to four ids, as ``<U4``)."""
    codes = np.asarray(codes, dtype=np.int64)
    k = (codes >> _TAG).astype(np.int64)
    chars = np.zeros((len(codes), 4), dtype=np.uint32)
    table = np.concatenate([[0], alphabet.chars]).astype(np.uint32)
    for j in range(4):
        cid = (codes >> (_BITS * np.maximum(k - 1 - j, 0))) & _MAX_ALPHABET
        chars[:, j] = np.where(j < k, table[cid], 0)
    return chars.view("<U4").ravel().tolist()


class Alphabet:
    """Dense character ids: the ``size`` most frequent characters of the training texts → 1…size."""

    def __init__(self, chars: np.ndarray):
        self.chars = np.asarray(chars, dtype=np.int64)  # code points, id = position + 1
        top = int(self.chars.max()) + 1 if len(self.chars) else 1
        self._lookup = np.zeros(top + 1, dtype=np.int64)
        self._lookup[self.chars] = np.arange(1, len(self.chars) + 1)

    @classmethod
    def fit(cls, texts: list[str], max_chars: int) -> Alphabet:
        counts: dict[int, int] = {}
        for start in range(0, len(texts), _CHUNK):
            cp = _code_points(texts[start:start + _CHUNK], max_chars).ravel()
            u, n = np.unique(cp[cp != 0], return_counts=True)
            for a, b in zip(u.tolist(), n.tolist()):
                counts[a] = counts.get(a, 0) + b
        chars = sorted(counts, key=lambda c: (-counts[c], c))[:_MAX_ALPHABET]
        return cls(np.array(sorted(chars), dtype=np.int64))

    def ids(self, cp: np.ndarray) -> np.ndarray:
        out = self._lookup[np.minimum(cp, len(self._lookup) - 1)]
        return np.where(cp >= len(self._lookup), 0, out)

    def decode(self, code: int) -> str:
        k = int(code) >> _TAG
        chars = [(int(code) >> (_BITS * (k - 1 - j))) & _MAX_ALPHABET for j in range(k)]
        return "".join(chr(int(self.chars[c - 1])) for c in chars)


@cache
def jieba_dictionary() -> tuple[tuple[str, ...], np.ndarray, float]:
    """jieba's main dictionary: (words of 1–4 CJK characters, their log frequency, log of the total)."""
    d = jieba_table()
    d = d[d["freq"].notna()]
    total = int(d["freq"].sum())
    keep = (d["freq"] > 0) & d["word"].str.fullmatch("[\u4e00-\u9fd5]{1,4}").fillna(False)
    return (tuple(d.loc[keep, "word"].tolist()), np.log(d.loc[keep, "freq"].to_numpy(dtype=np.float64)),
            math.log(total))


class Lexicon:
    """jieba's dictionary coded in an alphabet: sorted word codes and their log probabilities."""

    def __init__(self, codes: np.ndarray, logp: np.ndarray, log_total: float):
        self.codes, self.logp, self.log_total = codes, logp, float(log_total)
        self._index = pd.Index(codes)  # a hash table: unsorted look-ups are 5-10x faster than searchsorted

    @classmethod
    def from_jieba(cls, alphabet: Alphabet) -> Lexicon:
        words, logf, log_total = jieba_dictionary()
        lens = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        codes = np.full(len(words), -1, dtype=np.int64)
        for k in range(1, 5):
            sel = np.flatnonzero(lens == k)
            if not len(sel):
                continue
            cp = np.asarray([words[i] for i in sel], dtype=f"<U{k}").view(np.uint32).reshape(len(sel), k).astype(np.int64)
            ids = alphabet.ids(cp)
            g, ok = _grams(ids, k)
            codes[sel[ok[:, 0]]] = g[ok[:, 0], 0]
        keep = codes >= 0
        order = np.argsort(codes[keep], kind="stable")
        return cls(codes[keep][order], (logf[keep][order] - log_total).astype(np.float64), log_total)

    def _prefix_tables(self) -> tuple:
        """Derived once per lexicon, for the segmenter's look-ups: by character id, the log P of the
        one-character word and whether a longer word starts with it; a hash index over the words of 2–4
        characters and the 2- and 3-character prefixes of longer words, with each one's log P (NaN for a
        prefix that is no word) and whether a longer word extends it.  A k-gram is looked up only where
        its first k-1 characters extend to a longer word (jieba's prefix dictionary, as arrays)."""
        cached = self.__dict__.get("_prefix")
        if cached is not None:
            return cached
        codes = np.asarray(self.codes, dtype=np.int64)
        k = codes >> _TAG
        chars = codes & ((np.int64(1) << _TAG) - 1)
        top_id = int(max(int((chars[k == 1]).max(initial=0)), int((chars >> (_BITS * np.maximum(k - 1, 0))).max(initial=0))))
        uni_logp = np.full(top_id + 1, np.nan)
        uni_logp[chars[k == 1]] = self.logp[k == 1]
        uni_more = np.zeros(top_id + 1, dtype=bool)
        uni_more[chars[k >= 2] >> (_BITS * (k[k >= 2] - 1))] = True
        prefixes = [(chars[k > m] >> (_BITS * (k[k > m] - m))) | (np.int64(m) << _TAG) for m in (2, 3)]
        pre = np.unique(np.concatenate(prefixes))
        multi = codes[k >= 2]
        ext = np.union1d(multi, pre)
        logp = np.full(len(ext), np.nan)
        logp[np.searchsorted(ext, multi)] = self.logp[k >= 2]
        more = np.zeros(len(ext), dtype=bool)
        more[np.searchsorted(ext, pre)] = True
        out = (uni_logp, uni_more, pd.Index(ext), logp, more)
        self.__dict__["_prefix"] = out
        return out

    def score(self, grams: np.ndarray, where: np.ndarray) -> np.ndarray:
        """log P(word) of each gram code where ``where`` holds; NaN where the gram is not a word (or not asked)."""
        out = np.full(grams.shape, np.nan)
        if len(self.codes) and where.any():
            pos = self._index.get_indexer(grams[where])
            out[where] = np.where(pos >= 0, self.logp[pos], np.nan)
        return out


def segment_ids(ids: np.ndarray, blockable: np.ndarray, lexicon: Lexicon,
                lengths: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """jieba's maximum-probability segmentation of every document at once (``cut(HMM=False)``, words ≤ 4).

    ``ids``: (docs × width) dense character ids; ``blockable``: characters jieba segments (others split
    blocks and are single tokens).  Returns (doc, start, length) of every token, in document order.
    """
    n, width = ids.shape
    if n == 0 or width == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    if lengths is None:  # texts are left-aligned: past the end every id is 0
        known = ids != 0
        lengths = np.where(known.any(axis=1), width - np.argmax(known[:, ::-1], axis=1), 0)
    single = -lexicon.log_total  # log(1) - log total: an unknown single character
    # position-major (width × docs): the k-grams grow from the (k-1)-grams by one shift, and each step of
    # the recursion below reads and writes contiguous rows
    ids_t = np.ascontiguousarray(ids.T)
    known_t = ids_t != 0
    block_t = known_t & np.ascontiguousarray(blockable.T)
    prefix = lexicon._prefix_tables() if len(lexicon.codes) else None
    scores: list[np.ndarray | None] = []
    raw, ok, inside, extends = ids_t, known_t, block_t, None
    for k in range(1, 5):
        if width < k:
            scores.append(None)
            continue
        if k > 1:
            raw = (raw[:-1] << _BITS) | ids_t[k - 1:]
            ok = ok[:-1] & known_t[k - 1:]
            inside = inside[:-1] & block_t[k - 1:]  # a word never crosses a block boundary
        g = raw | (np.int64(k) << _TAG)
        if prefix is None:  # no dictionary: every known character stands alone
            sc = lexicon.score(g, inside if k > 1 else ok)
            if k == 1:
                sc = np.where(np.isnan(sc), single, sc)
            sc = np.where(inside & ~np.isnan(sc), sc, -np.inf)
            if k == 1:
                sc = np.where(ok, np.where(np.isinf(sc), single, sc), -np.inf)
        elif k == 1:  # one character: a dictionary word where it can be, else the unknown single's score
            uni_logp, uni_more = prefix[0], prefix[1]
            in_table = ids_t < len(uni_logp)
            cid = np.where(in_table, ids_t, 0)
            word = uni_logp[cid]
            sc = np.where(ok, single, -np.inf)
            use = inside & in_table & ~np.isnan(word)
            np.copyto(sc, word, where=use)
            extends = inside & in_table & uni_more[cid]
        else:  # a k-gram can be a word only where its first k-1 characters start a longer one
            index, ext_logp, ext_more = prefix[2], prefix[3], prefix[4]
            ask = inside & extends[: width - k + 1]
            sc = np.full(g.shape, -np.inf)
            nxt = np.zeros(g.shape, dtype=bool)
            if ask.any():
                pos = index.get_indexer(g[ask])
                hit = pos >= 0
                lp = np.where(hit, ext_logp[pos], np.nan)
                sc[ask] = np.where(np.isnan(lp), -np.inf, lp)
                nxt[ask] = hit & ext_more[pos]
            extends = nxt
        scores.append(sc)
    if n == 1:  # one document (online): the same recursion over Python floats, without numpy per position
        return _segment_one([None if sc is None else sc.T for sc in scores], int(lengths[0]), width)
    cols = scores
    route = np.zeros((width + 1, n))
    choice_t = np.ones((width, n), dtype=np.int8)
    best = np.empty(n)
    cand = np.empty(n)
    better = np.empty(n, dtype=bool)
    finite = np.empty(n, dtype=bool)
    for i in range(width - 1, -1, -1):
        best.fill(-np.inf)
        arg = choice_t[i]
        for k in range(1, 5):
            sc = cols[k - 1]
            if sc is None or i + k > width:
                break
            np.add(sc[i], route[i + k], out=cand)
            np.greater_equal(cand, best, out=better)  # ties: the longer word, as jieba's max over (score, end)
            np.isfinite(cand, out=finite)
            better &= finite
            np.copyto(best, cand, where=better)
            np.copyto(arg, np.int8(k), where=better)
        np.copyto(route[i], best)
        np.copyto(route[i], 0.0, where=np.isinf(best))
    choice = choice_t.T
    docs, starts, lens = [], [], []
    pos = np.zeros(n, dtype=np.int64)
    active = np.flatnonzero(lengths > 0)
    while len(active):
        p = pos[active]
        k = choice[active, p].astype(np.int64)
        docs.append(active)
        starts.append(p)
        lens.append(k)
        pos[active] = p + k
        active = active[pos[active] < lengths[active]]
    d, s_, l_ = np.concatenate(docs), np.concatenate(starts), np.concatenate(lens)
    # document order: a stable sort by document alone (each document's tokens were found left to right;
    # a radix sort on 16-bit document numbers)
    order = np.argsort(d.astype(np.int16 if n < 32_768 else np.int64), kind="stable")
    return d[order], s_[order], l_[order]


def _segment_one(scores: list, length: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [None if sc is None else sc[0].tolist() for sc in scores]
    route = [0.0] * (width + 1)
    choice = [1] * width
    inf = float("inf")
    for i in range(width - 1, -1, -1):
        best, arg = -inf, 1
        for k in range(1, 5):
            sc = rows[k - 1]
            if sc is None or i + k > width:
                break
            cand = sc[i] + route[i + k]
            if cand >= best and cand != -inf:  # ties: the longer word
                best, arg = cand, k
        route[i] = 0.0 if best == -inf else best
        choice[i] = arg
    starts, lens = [], []
    pos = 0
    while pos < length:
        starts.append(pos)
        lens.append(choice[pos])
        pos += choice[pos]
    z = np.zeros(len(starts), dtype=np.int64)
    return z, np.array(starts, dtype=np.int64), np.array(lens, dtype=np.int64)


class _Block:
    """One TF-IDF block over integer token codes."""

    def __init__(self, min_df: int = 2):
        self.min_df = min_df
        self.vocabulary_: np.ndarray | None = None  # sorted codes
        self.idf_: np.ndarray | None = None

    def fit(self, rows: np.ndarray, codes: np.ndarray, n: int, row_weights: np.ndarray | None = None) -> _Block:
        """``row_weights``: how many appeals each token row stands for (distinct titles), ``n`` the appeals."""
        inv, uniq = pd.factorize(codes)
        n_rows = n if row_weights is None else len(row_weights)
        m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, inv)), shape=(n_rows, len(uniq)))
        m.sum_duplicates()
        if row_weights is None:
            df = np.bincount(m.indices, minlength=len(uniq))
        else:
            df = np.bincount(m.indices, weights=np.repeat(row_weights, np.diff(m.indptr)), minlength=len(uniq))
        keep = df >= self.min_df
        order = np.argsort(uniq[keep], kind="stable")
        self.vocabulary_ = uniq[keep][order]
        self.idf_ = (np.log((1.0 + n) / (1.0 + df[keep])) + 1.0)[order]
        self._index = None
        return self

    def index(self) -> pd.Index:
        if getattr(self, "_index", None) is None:
            self._index = pd.Index(self.vocabulary_)
        return self._index

    def transform(self, rows: np.ndarray, codes: np.ndarray, n: int) -> sp.csr_matrix:
        voc = self.vocabulary_
        pos = self.index().get_indexer(codes) if len(voc) else np.full(len(codes), -1)
        ok = pos >= 0
        m = _count_matrix(rows[ok], pos[ok], n, len(voc))
        m.data = (1.0 + np.log(m.data)).astype(np.float32) * self.idf_[m.indices].astype(np.float32)
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        m.data /= np.repeat(norms, np.diff(m.indptr)).astype(np.float32)
        return m


def _count_matrix(rows: np.ndarray, cols: np.ndarray, n: int, width: int) -> sp.csr_matrix:
    """The canonical CSR matrix of token counts (sorted columns, duplicates summed, float32) straight from
    one sort of ``row · width + column`` keys — what scipy's COO → CSR with ``sum_duplicates`` gives, in a
    third of its time."""
    key = rows.astype(np.int64) * max(width, 1) + cols
    key.sort()
    if len(key):
        first = np.empty(len(key), dtype=bool)
        first[0] = True
        np.not_equal(key[1:], key[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        uniq = key[starts]
        counts = np.diff(np.append(starts, len(key))).astype(np.float32)
    else:
        uniq, counts = key, np.zeros(0, dtype=np.float32)
    r = uniq // max(width, 1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    idx = np.int32 if max(n, width, len(uniq)) < np.iinfo(np.int32).max else np.int64
    return sp.csr_matrix((counts, (uniq - r * max(width, 1)).astype(idx), indptr.astype(idx)), shape=(n, width))


class AppealTextVectorizer:
    """title + body → CSR features (char 1–3-grams of the text, of the title, jieba words), scikit-learn style.

    ``fit(titles, bodies)`` / ``transform(titles, bodies)``; ``feature_name(j)`` decodes a column for the
    explanations; ``to_arrays()`` / ``from_arrays()`` serialise the fitted state as plain arrays.
    """

    BLOCKS = ("text", "title", "words")

    def __init__(self, ngram_range: tuple[int, int] = (1, 3), min_df: int = 2, max_chars: int = 500,
                 max_title_chars: int = 100, words: bool = True, title: bool = True):
        self.ngram_range = tuple(ngram_range)
        self.min_df = min_df
        self.max_chars = max_chars
        self.max_title_chars = max_title_chars
        self.words = words
        self.title = title

    # --- tokens -------------------------------------------------------------------------------------
    def _texts(self, titles: pd.Series, bodies: pd.Series) -> tuple[list[str], list[str]]:
        if len(titles) <= _SMALL:
            t = [_model_text_one(x) for x in pd.Series(titles).astype(object)]
            b = [_model_text_one(x) for x in pd.Series(bodies).astype(object)]
            return [(x + "。" + y).strip("。") for x, y in zip(t, b)], t
        t = model_text(pd.Series(titles, dtype="string").reset_index(drop=True))
        b = model_text(pd.Series(bodies, dtype="string").reset_index(drop=True))
        full = (t + "。" + b).str.strip("。")
        return full.tolist(), t.tolist()

    def _char_tokens(self, texts: list[str], max_chars: int) -> tuple[np.ndarray, np.ndarray]:
        rows, codes = [], []
        lo, hi = self.ngram_range
        for start in range(0, len(texts), _CHUNK):
            ids = self.alphabet_.ids(_code_points(texts[start:start + _CHUNK], max_chars))
            known = ids != 0
            raw, ok = ids, known
            for k in range(1, hi + 1):  # the k-grams from the (k-1)-grams by one shift (= _grams(ids, k))
                if k > 1:
                    if raw.shape[1] < 2:
                        break
                    raw = (raw[:, :-1] << _BITS) | ids[:, k - 1:]
                    ok = ok[:, :-1] & known[:, k - 1:]
                if k < lo:
                    continue
                r, _ = np.nonzero(ok)
                rows.append(r + start)
                codes.append(raw[ok] | (np.int64(k) << _TAG))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(rows), np.concatenate(codes)

    def _word_tokens(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        rows, codes = [], []
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: short DP loops
        for start in range(0, len(texts), _CHUNK):
            idx = order[start:start + _CHUNK]
            cp = _code_points([texts[i] for i in idx], self.max_chars)
            ids = self.alphabet_.ids(cp)
            d, s, k = segment_ids(ids, _han_or_alnum(cp), self.lexicon_, (cp != 0).sum(axis=1))
            if not len(d):
                continue
            code = np.zeros(len(d), dtype=np.int64)
            for j in range(4):
                take = j < k
                c = np.where(take, ids[d, np.minimum(s + j, ids.shape[1] - 1)], 0)
                code = np.where(take, (code << _BITS) | c, code)
            code |= k.astype(np.int64) << _TAG
            # a token is a word feature when it is a word of jieba's dictionary or a CJK character
            cjk = (cp[d, s] >= 0x4E00) & (cp[d, s] <= 0x9FD5)
            keep = cjk & (ids[d, s] != 0)
            rows.append(idx[d[keep]])
            codes.append(code[keep])
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(rows), np.concatenate(codes)

    def tokens(self, titles: pd.Series, bodies: pd.Series) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        full, title = self._texts(titles, bodies)
        out = {"text": self._char_tokens(full, self.max_chars)}
        if self.title:
            out["title"] = self._char_tokens(title, self.max_title_chars)
        if self.words:
            out["words"] = self._word_tokens(full)
        return out

    def segment(self, text: str) -> list[str]:
        """One text's words as this vectoriser segments it (for tests and inspection)."""
        cp = _code_points([text], len(text) or 1)
        ids = self.alphabet_.ids(cp)
        d, s, k = segment_ids(ids, _han_or_alnum(cp), self.lexicon_, (cp != 0).sum(axis=1))
        return [text[a:a + b] for a, b in zip(s.tolist(), k.tolist())]

    # --- fit / transform ----------------------------------------------------------------------------
    def _prepared(self, titles: pd.Series, bodies: pd.Series, joined: dict | None = None
                  ) -> tuple[np.ndarray, list[str], list[str]]:
        """(each row's distinct-title code, the model text of each distinct title, each row's full text).

        Titles repeat (1,864 distinct in 100,000 generated appeals): they are normalised and their title
        block built once per distinct title.  ``joined``: receives ``text``, each row's model text of title
        + ``。`` + body before the ``。`` at its ends are stripped (what the triage rules read)."""
        codes, distinct = pd.factorize(pd.Series(titles, dtype="string").reset_index(drop=True), use_na_sentinel=False)
        if len(titles) <= _SMALL:
            t = [_model_text_one(x) for x in pd.Series(distinct, dtype=object).astype(object)]
            b = [_model_text_one(x) for x in pd.Series(bodies).astype(object)]
            cat_list = [t[c] + "。" + y for c, y in zip(codes.tolist(), b)]
            if joined is not None:
                joined["text"] = cat_list
            return codes, t, [x.strip("。") for x in cat_list]
        t = model_text(pd.Series(distinct, dtype="string"))
        b = model_text(pd.Series(bodies, dtype="string").reset_index(drop=True))
        cat = pd.Series(t.to_numpy()[codes], dtype="string") + "。" + b
        if joined is not None:
            joined["text"] = cat
        return codes, t.tolist(), cat.str.strip("。").tolist()

    def _blocks(self, codes: np.ndarray, title: list[str], full: list[str], fit: bool) -> sp.csr_matrix:
        n = len(full)
        mats = []
        for name in self.BLOCKS:
            if name == "text":
                r, c = self._char_tokens(full, self.max_chars)
            elif name == "title" and self.title:
                r, c = self._char_tokens(title, self.max_title_chars)
            elif name == "words" and self.words:
                r, c = self._word_tokens(full)
            else:
                continue
            if fit:
                weights = np.bincount(codes, minlength=len(title)) if name == "title" else None
                self.blocks_[name] = _Block(self.min_df).fit(r, c, n, row_weights=weights)
            elif name not in self.blocks_:
                continue
            if name == "title":
                mats.append(self.blocks_[name].transform(r, c, len(title))[codes])
            else:
                mats.append(self.blocks_[name].transform(r, c, n))
        return sp.hstack(mats, format="csr", dtype=np.float32)

    def fit_transform(self, titles: pd.Series, bodies: pd.Series) -> sp.csr_matrix:
        codes, title, full = self._prepared(titles, bodies)
        self.alphabet_ = Alphabet.fit(full, self.max_chars)
        self.lexicon_ = Lexicon.from_jieba(self.alphabet_) if self.words else Lexicon(np.zeros(0, np.int64), np.zeros(0), 0.0)
        self.blocks_ = {}
        return self._blocks(codes, title, full, fit=True)

    def fit(self, titles: pd.Series, bodies: pd.Series, y=None) -> AppealTextVectorizer:
        self.fit_transform(titles, bodies)
        return self

    def transform(self, titles: pd.Series, bodies: pd.Series) -> sp.csr_matrix:
        if len(titles) <= _SMALL:
            return self._stack(self.tokens(titles, bodies), len(titles))
        return self._blocks(*self._prepared(titles, bodies), fit=False)

    def transform_with_text(self, titles: pd.Series, bodies: pd.Series) -> tuple[sp.csr_matrix, pd.Series | None]:
        """:meth:`transform` and each row's model text of title + ``。`` + body — the same text as
        :func:`model_text` of the joined strings (normalisation works character by character and ``。`` is
        left alone), so the triage rules need not normalise every appeal a second time (None for a few
        appeals: they take the one-row path)."""
        if len(titles) <= _SMALL:
            return self.transform(titles, bodies), None
        joined: dict = {}
        X = self._blocks(*self._prepared(titles, bodies, joined), fit=False)
        return X, pd.Series(joined["text"], dtype="string")

    # --- one document (online): plain Python over strings, no tables --------------------------------
    def _one_state(self) -> dict:
        """Per block a dict gram text → column, the lexicon as a dict word → log P (built once)."""
        st = self.__dict__.get("_one")
        if st is not None:
            return st
        st = {"vocab": {}, "offset": {}}
        offset = 0
        for name in self.BLOCKS:
            if name in self.blocks_:
                voc = self.blocks_[name].vocabulary_
                st["vocab"][name] = dict(zip(_decode_codes(voc, self.alphabet_), range(len(voc))))
                st["offset"][name] = offset
                offset += len(voc)
        st["n_features"] = offset
        lex = self.lexicon_
        st["lexicon"] = dict(zip(_decode_codes(lex.codes, self.alphabet_), lex.logp.tolist())) if len(lex.codes) else {}
        st["alphabet"] = frozenset(chr(int(c)) for c in self.alphabet_.chars)
        self.__dict__["_one"] = st
        return st

    def _words_one(self, text: str, st: dict) -> list[str]:
        """The word tokens of one text: :func:`segment_ids` and ``_word_tokens`` over Python strings."""
        known, lex = st["alphabet"], st["lexicon"]
        w = len(text)
        if not w:
            return []
        single = -self.lexicon_.log_total
        ok = [ch in known for ch in text]
        good = [o and _blockable(ch) for o, ch in zip(ok, text)]
        run = [0] * (w + 1)  # length of the run of known, segmentable characters from each position
        for i in range(w - 1, -1, -1):
            run[i] = run[i + 1] + 1 if good[i] else 0
        inf = float("-inf")
        get = lex.get
        rows = [np.array([[(get(text[i], single) if good[i] else single) if ok[i] else inf for i in range(w)]])]
        for k in range(2, 5):
            rows.append(np.array([[get(text[i:i + k], inf) if run[i] >= k else inf for i in range(w - k + 1)]])
                        if w >= k else None)
        _, starts, lens = _segment_one(rows, w, w)
        out = []
        for s_, k in zip(starts.tolist(), lens.tolist()):
            ch = text[s_]
            if "\u4e00" <= ch <= "\u9fd5" and ok[s_]:
                out.append(text[s_:s_ + k])
        return out

    def transform_one(self, title, body) -> sp.csr_matrix:
        """:meth:`transform` of one appeal (the same row), without columnar set-up."""
        st = self._one_state()
        t, b = _model_text_one(title), _model_text_one(body)
        full = (t + "。" + b).strip("。")
        lo, hi = self.ngram_range
        cols, vals = [], []
        for name in self.BLOCKS:
            if name not in self.blocks_:
                continue
            if name == "words":
                grams = self._words_one(full[: self.max_chars], st)
            else:
                s_ = full[: self.max_chars] if name == "text" else t[: self.max_title_chars]
                grams = [s_[i:i + k] for k in range(lo, hi + 1) for i in range(len(s_) - k + 1)]
            vocab = st["vocab"][name]
            counts: dict[int, int] = {}
            for g in grams:
                j = vocab.get(g)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.array(sorted(counts), dtype=np.int64)
            c = np.array([counts[j] for j in idx.tolist()], dtype=np.float32)
            v = (1.0 + np.log(c)).astype(np.float32) * self.blocks_[name].idf_[idx].astype(np.float32)
            norm = np.sqrt(np.add.reduceat(v * v, _ZERO)[0])  # float32, exactly as scipy's row sum (reduceat)
            v /= norm if norm != 0 else np.float32(1.0)
            cols.append(idx + st["offset"][name])
            vals.append(v)
        data = np.concatenate(vals) if vals else np.zeros(0, dtype=np.float32)
        ind = np.concatenate(cols).astype(np.int32) if cols else np.zeros(0, dtype=np.int32)
        return sp.csr_matrix((data, ind, np.array([0, len(ind)], dtype=np.int32)), shape=(1, st["n_features"]))

    def _stack(self, tokens: dict, n: int) -> sp.csr_matrix:
        mats = [self.blocks_[name].transform(*tokens[name], n) for name in self.BLOCKS if name in self.blocks_]
        return sp.hstack(mats, format="csr", dtype=np.float32)

    @property
    def n_features(self) -> int:
        return sum(len(b.vocabulary_) for b in self.blocks_.values())

    def feature_name(self, j: int) -> tuple[str, str]:
        """(block, text) of feature column ``j``."""
        for name in self.BLOCKS:
            if name not in self.blocks_:
                continue
            voc = self.blocks_[name].vocabulary_
            if j < len(voc):
                return name, self.alphabet_.decode(voc[j])
            j -= len(voc)
        raise IndexError(j)

    def feature_names(self) -> pd.DataFrame:
        """Every column: block, text, gram length."""
        blocks, texts = [], []
        for name in self.BLOCKS:
            if name in self.blocks_:
                voc = self.blocks_[name].vocabulary_
                blocks += [name] * len(voc)
                texts += [self.alphabet_.decode(c) for c in voc]
        return pd.DataFrame({"block": blocks, "text": texts})

    # --- plain-array state --------------------------------------------------------------------------
    def config(self) -> dict:
        return {"ngram_range": list(self.ngram_range), "min_df": self.min_df, "max_chars": self.max_chars,
                "max_title_chars": self.max_title_chars, "words": self.words, "title": self.title}

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"alphabet": self.alphabet_.chars, "lexicon_codes": self.lexicon_.codes,
               "lexicon_logp": self.lexicon_.logp, "lexicon_log_total": np.array([self.lexicon_.log_total])}
        for name, b in self.blocks_.items():
            out[f"{name}_vocabulary"] = b.vocabulary_
            out[f"{name}_idf"] = b.idf_
        return out

    @classmethod
    def from_arrays(cls, config: dict, arrays: dict[str, np.ndarray]) -> AppealTextVectorizer:
        v = cls(**{**config, "ngram_range": tuple(config["ngram_range"])})
        v.alphabet_ = Alphabet(arrays["alphabet"])
        v.lexicon_ = Lexicon(arrays["lexicon_codes"], arrays["lexicon_logp"], float(arrays["lexicon_log_total"][0]))
        v.blocks_ = {}
        for name in cls.BLOCKS:
            if f"{name}_vocabulary" in arrays:
                b = _Block(v.min_df)
                b.vocabulary_, b.idf_ = arrays[f"{name}_vocabulary"], arrays[f"{name}_idf"]
                v.blocks_[name] = b
        return v
