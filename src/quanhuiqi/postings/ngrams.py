"""Character n-gram TF-IDF over a whole column at once.

Chinese has no spaces, so text similarity works on character n-grams.  scikit-learn's
``TfidfVectorizer(analyzer="char")`` builds them in a Python loop per document, which dominates the
matcher's time at 150,000 postings; here the n-grams of all documents are integer codes computed with
numpy from the UTF-32 code points (21 bits per character), counted with scipy, and weighted as
scikit-learn does (smooth idf ``ln((1+n)/(1+df)) + 1``, sublinear tf ``1 + ln(tf)``, rows L2-normalised).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

_BITS = 21  # a Unicode code point fits in 21 bits; three of them in 63
_DOCS = 50_000  # documents per chunk of the n-gram extraction


class CharNgramTfidf:
    """Fit/transform like a scikit-learn vectoriser: texts → CSR matrix (float32, rows L2-normalised).

    ``max_df`` (a share of documents) drops n-grams that occur almost everywhere (template words such
    as 供应, 价格优惠); ``min_df`` (a count) drops one-off n-grams; texts are cut at ``max_chars``.
    """

    def __init__(self, ngram_range: tuple[int, int] = (2, 3), min_df: int = 1, max_df: float = 1.0,
                 max_chars: int = 96, sublinear_tf: bool = True):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_chars = max_chars
        self.sublinear_tf = sublinear_tf

    def _grams(self, texts) -> tuple[np.ndarray, np.ndarray, int]:
        cut = self.max_chars
        s = [t[:cut] if isinstance(t, str) else "" for t in np.asarray(texts, dtype=object).tolist()]
        n = len(s)
        width = max(max(map(len, s), default=1), 1)
        rows, codes = [], []
        lo, hi = self.ngram_range
        for k in range(lo, hi + 1):  # all documents' k-grams, then the (k+1)-grams: the vocabulary's order
            if width < k:
                continue
            for start in range(0, n, _DOCS):  # in chunks of documents: bounded temporaries
                part = s[start:start + _DOCS]
                cp = np.asarray(part, dtype=f"<U{width}").view(np.uint32).reshape(len(part), width)
                cp = np.minimum(cp, (1 << _BITS) - 1).astype(np.int64)
                code = np.zeros((len(part), width - k + 1), dtype=np.int64)
                valid = np.ones((len(part), width - k + 1), dtype=bool)
                for j in range(k):
                    c = cp[:, j: width - k + 1 + j]
                    code = (code << _BITS) | c
                    valid &= c != 0
                r, _ = np.nonzero(valid)
                rows.append((r + start).astype(np.int32))  # int32: tens of millions of n-grams
                codes.append(code[valid])
        if not rows:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64), n
        return np.concatenate(rows), np.concatenate(codes), n

    def _weigh(self, m: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        """Counts (duplicates summed) → sublinear tf × idf, rows L2-normalised."""
        if self.sublinear_tf:
            m.data = (1.0 + np.log(m.data)).astype(np.float32)
        m.data *= idf[m.indices].astype(np.float32)
        norms = np.sqrt(np.bincount(np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), weights=m.data.astype(np.float64) ** 2,
                                    minlength=m.shape[0]))
        norms[norms == 0] = 1.0
        m.data /= np.repeat(norms, np.diff(m.indptr)).astype(np.float32)
        return m

    @staticmethod
    def _counts(rows: np.ndarray, cols: np.ndarray, n: int, n_cols: int) -> sp.csr_matrix:
        m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n_cols))
        m.sum_duplicates()
        return m

    @staticmethod
    def _keep_columns(m: sp.csr_matrix, remap: np.ndarray, n_cols: int) -> sp.csr_matrix:
        cols = remap[m.indices]
        ok = cols >= 0
        row = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))[ok]
        indptr = np.r_[0, np.cumsum(np.bincount(row, minlength=m.shape[0]))]
        return sp.csr_matrix((m.data[ok], cols[ok], indptr), shape=(m.shape[0], n_cols))

    def fit_transform(self, texts) -> sp.csr_matrix:
        rows, codes, n = self._grams(texts)
        inv, uniq = pd.factorize(codes)
        del codes  # the n-gram lists are the fit's memory peak: keep one copy at a time
        cols = inv.astype(np.int32 if len(uniq) < 2**31 else np.int64)
        del inv
        m = self._counts(rows, cols, n, len(uniq))
        del rows, cols
        df = np.bincount(m.indices, minlength=len(uniq))
        keep = (df >= self.min_df) & (df <= self.max_df * n)
        self.vocabulary_ = pd.Index(uniq[keep])
        self.idf_ = (np.log((1.0 + n) / (1.0 + df[keep])) + 1.0).astype(np.float64)
        remap = np.full(len(uniq), -1, dtype=np.int64)
        remap[keep] = np.arange(int(keep.sum()))
        return self._weigh(self._keep_columns(m, remap, len(self.idf_)), self.idf_)

    def fit(self, texts, y=None):
        self.fit_transform(texts)
        return self

    def transform(self, texts) -> sp.csr_matrix:
        rows, codes, n = self._grams(texts)
        cols = self.vocabulary_.get_indexer(codes).astype(np.int64)
        ok = cols >= 0
        return self._weigh(self._counts(rows[ok], cols[ok], n, len(self.idf_)), self.idf_)
