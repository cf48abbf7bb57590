"""The top-n selection of the blocked product equals a full sort (value descending, ties by stored
position), also with many ties, values below ``MIN_SCORE`` and dropped (same-enterprise) entries."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from quanhuiqi.postings.candidates import MIN_SCORE, _select_top, _text_part


def _brute(c: sp.csr_matrix, n: int, dropped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos, rows = [], []
    for r in range(c.shape[0]):
        lo, hi = c.indptr[r], c.indptr[r + 1]
        entries = [(-c.data[p], p) for p in range(lo, hi) if c.data[p] >= MIN_SCORE and not dropped[p]]
        for _, p in sorted(entries)[:n]:
            pos.append(p)
            rows.append(r)
    order = np.argsort(pos, kind="stable")
    return np.asarray(pos, dtype=np.int64)[order], np.asarray(rows, dtype=np.int64)[order]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_select_top_equals_a_full_sort(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols, n = 60, 3000, 7
    dense = rng.random((n_rows, n_cols)) < rng.uniform(0.001, 0.3, size=(n_rows, 1))
    values = rng.choice(np.r_[0.01, 0.019, 0.02, 0.35, 0.7, np.round(rng.random(20), 2) + 0.02], size=dense.sum())
    m = np.zeros((n_rows, n_cols), dtype=np.float32)
    m[dense] = values
    c = sp.csr_matrix(m)
    # unsorted stored order, as scipy's product gives it
    for r in range(n_rows):
        lo, hi = c.indptr[r], c.indptr[r + 1]
        perm = lo + rng.permutation(hi - lo)
        c.indices[lo:hi], c.data[lo:hi] = c.indices[perm], c.data[perm]
    c.has_sorted_indices = False
    owner = rng.integers(0, 40, size=n_cols)  # supplies' enterprises
    row_owner = rng.integers(0, 40, size=n_rows)
    same = np.bincount(owner, minlength=40)[row_owner]
    rows_of = np.repeat(np.arange(n_rows), np.diff(c.indptr))
    dropped = row_owner[rows_of] == owner[c.indices]
    pos, rows = _select_top(c, n + same, n, drop=lambda p, r: row_owner[r] == owner[c.indices[p]])
    want_pos, want_rows = _brute(c, n, dropped)
    assert np.array_equal(pos, want_pos)
    assert np.array_equal(rows, want_rows)


def test_text_part_reads_the_text_product_inside_the_sum():
    rng = np.random.default_rng(4)
    t = sp.random(40, 300, density=0.05, random_state=5, dtype=np.float32, format="csr")
    g = (sp.random(40, 300, density=0.05, random_state=6, dtype=np.float32, format="csr") > 0).astype(np.float32)
    a = sp.random(25, 40, density=0.2, random_state=7, dtype=np.float32, format="csr")
    ct = a @ t  # unsorted, as in the matcher
    c = (ct + 0.35 * (a @ g)).tocsr()
    pos = np.sort(rng.choice(c.nnz, size=min(200, c.nnz), replace=False))
    rows = np.searchsorted(c.indptr, pos, side="right") - 1
    dense = ct.toarray()
    assert np.array_equal(_text_part(ct, c, pos, rows), dense[rows, c.indices[pos]].astype(np.float32))
