"""A LightGBM booster's trees in numpy, for the few rows of one online call: scores and TreeSHAP reasons.

``Booster.predict(pred_contrib=True)`` runs the exact TreeSHAP recursion per row (≈ 0.8 ms a row for 112
trees of 31 leaves): the ten pairs of one page cost more than the rest of the call.  But a leaf's TreeSHAP
terms depend on the row only through which side it takes at each split on the leaf's path — at most
2^depth patterns.  :class:`TreeTables` runs LightGBM's own recursion (``ExtendPath``/``UnwindPath``/
``UnwoundPathSum``, the same operations in the same order) once per leaf for every pattern, when the
ranker is loaded; a call then finds each row's pattern per leaf (the splits it passes), gathers the terms
and sums them per feature.

The terms are LightGBM's; only the order of the per-feature sums differs (LightGBM adds a row's leaves in
its own traversal order), so the contributions agree to rounding, and each comes with a bound of that
rounding.  Reasons depend only on which features have the largest positive contributions, in order
(:func:`~quanhuiqi.rank.explain.reason_texts`): :meth:`TreeTables.decided` says for which rows the bound
cannot change them; the others are left to LightGBM's ``pred_contrib``.  Scores are exact: each row's
leaf values added tree by tree from 0, as LightGBM's ``PredictRaw`` adds them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| ≤ it is read as 0 from a dense matrix, and is "zero" in splits
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_EPS = np.finfo(np.float64).eps


class TreeTables:
    """The booster's first ``num_iteration`` trees as flat arrays and per-leaf TreeSHAP tables."""

    def __init__(self, booster: Any, num_iteration: int | None = None, max_depth: int = 10) -> None:
        dump = booster.dump_model(num_iteration=num_iteration)
        self.n_features = int(dump["max_feature_idx"]) + 1
        trees = [t["tree_structure"] for t in dump["tree_info"]]
        if any(int(t.get("num_class", 1)) != 1 for t in [dump]) or dump.get("num_tree_per_iteration", 1) != 1:
            raise ValueError("TreeTables: one tree per iteration only (a ranker or a regressor)")
        feat, thr, dleft, mtype, is_cat, cats, left, right = [], [], [], [], [], [], [], []
        leaf_value, leaf_tree, bias = [], [], np.zeros(len(trees))
        paths: list[list[tuple[int, bool]]] = []  # per leaf: (internal node, leaf is on its left side)
        edges: list[tuple[int, int, bool, int]] = []  # (internal node, child ref, left side, depth of the node)
        leaf_steps: list[list[tuple[int, float]]] = []  # per leaf: (feature, zero fraction) per ancestor
        root_of = []
        for t, tree in enumerate(trees):
            if "leaf_value" in tree and "split_index" not in tree:  # a one-leaf tree: its value, no terms
                bias[t] = float(tree["leaf_value"])
                root_of.append(-1 - len(leaf_value))
                leaf_value.append(float(tree["leaf_value"]))
                leaf_tree.append(t)
                paths.append([])
                leaf_steps.append([])
                continue
            bias[t] = _expected_value(tree)

            def walk(node: dict, path: list, steps: list, t: int = t) -> int:
                if "split_index" not in node:
                    paths.append(list(path))
                    leaf_steps.append(list(steps))
                    leaf_value.append(float(node["leaf_value"]))
                    leaf_tree.append(t)
                    return -len(leaf_value)  # leaf k as -(k + 1)
                i = len(feat)
                feat.append(int(node["split_feature"]))
                categorical = node["decision_type"] == "=="
                is_cat.append(categorical)
                if categorical:
                    cats.append(sorted(int(c) for c in str(node["threshold"]).split("||")))
                    thr.append(np.nan)
                else:
                    cats.append([])
                    thr.append(float(node["threshold"]))
                dleft.append(bool(node["default_left"]))
                mtype.append(_MISSING[node["missing_type"]])
                left.append(0)
                right.append(0)
                w = float(node["internal_count"])
                for side, child in ((True, node["left_child"]), (False, node["right_child"])):
                    cnt = float(child["internal_count"] if "split_index" in child else child["leaf_count"])
                    ref = walk(child, path + [(i, side)], steps + [(feat[i], cnt / w)])
                    edges.append((i, ref, side, len(path)))
                    if side:
                        left[i] = ref
                    else:
                        right[i] = ref
                return i

            root_of.append(walk(tree, [], []))
        self.n_trees = len(trees)
        self.bias = bias
        self.feat = np.array(feat, dtype=np.int64)
        self.thr = np.array(thr, dtype=np.float64)
        self.default_left = np.array(dleft, dtype=bool)
        self.missing = np.array(mtype, dtype=np.int8)
        self.is_cat = np.array(is_cat, dtype=bool)
        top = max((max(c) for c in cats if c), default=0)
        self.cat_left = np.zeros((len(feat), top + 2), dtype=bool)  # last column: a category beyond every list
        for i, c in enumerate(cats):
            self.cat_left[i, c] = True
        self.leaf_value = np.array(leaf_value, dtype=np.float64)
        self.leaf_tree = np.array(leaf_tree, dtype=np.int64)
        n_leaves = len(leaf_value)
        depth = max((len(p) for p in paths), default=0)
        if depth > max_depth:
            raise ValueError(f"TreeTables: trees {depth} deep (tables grow as 2^depth; at most {max_depth})")
        self.depth = max(depth, 1)
        self.full = np.array([(1 << len(p)) - 1 for p in paths], dtype=np.int64)  # the pattern of the leaf reached
        # per leaf, for every pattern of its splits: LightGBM's TreeSHAP terms, one per unique path feature
        blocks, term_leaf, term_feat, term_base, term_width = [], [], [], [], []
        at = 0
        for k, steps in enumerate(leaf_steps):
            if not steps:
                continue
            feats, table = _leaf_terms(steps, leaf_value[k])
            u = len(feats)
            blocks.append(table.reshape(-1))
            term_leaf += [k] * u
            term_feat += feats
            term_base += [at + i for i in range(u)]
            term_width += [u] * u
            at += table.size
        self.table = np.concatenate(blocks) if blocks else np.zeros(0)
        order = np.argsort(np.array(term_feat, dtype=np.int64), kind="stable")
        tf = np.array(term_feat, dtype=np.int64)[order]
        self.term_leaf = np.array(term_leaf, dtype=np.int64)[order]
        self.term_base = np.array(term_base, dtype=np.int64)[order]
        self.term_width = np.array(term_width, dtype=np.int64)[order]
        self.seg_feat, self.seg_start = np.unique(tf, return_index=True)
        counts = np.diff(np.append(self.seg_start, len(tf)))
        self.n_terms = np.zeros(self.n_features, dtype=np.int64)
        self.n_terms[self.seg_feat] = counts
        # per call helpers
        self._nan_left = np.where(self.missing == 0, 0.0 <= np.nan_to_num(self.thr, nan=-1.0), self.default_left)
        self._zero_default = (self.missing == 1) & ~self.is_cat
        self._cat_nodes = np.flatnonzero(self.is_cat)
        width = np.zeros(n_leaves, dtype=np.int64)
        first = np.full(n_leaves, np.iinfo(np.int64).max, dtype=np.int64)
        tl, tb, tw = (np.array(v, dtype=np.int64) for v in (term_leaf, term_base, term_width))
        width[tl] = tw
        np.minimum.at(first, tl, tb)  # each leaf's first term
        first[width == 0] = 0
        small = np.int32 if len(self.table) < 2**31 - 1 else np.int64
        self.leaf_width, self.leaf_at = width.astype(small), first.astype(small)
        self.term_i = (self.term_base - first[self.term_leaf]).astype(small)
        self.expected = float(np.cumsum(np.append(0.0, bias))[-1])
        # top-down, level by level: a node's pattern so far (internal nodes, then leaves, in one array)
        n_int = len(feat)
        self._levels = []
        for d in range(self.depth):
            sel = [e for e in edges if e[3] == d]
            if not sel:
                continue
            parent = np.array([e[0] for e in sel], dtype=np.int64)
            child = np.array([e[1] if e[1] >= 0 else n_int + (-e[1] - 1) for e in sel], dtype=np.int64)
            side = np.array([e[2] for e in sel], dtype=bool)
            self._levels.append((parent, child, side, np.int32(1 << d)))
        self._n_int = n_int

    # -- one call ---------------------------------------------------------------------------------
    def _left(self, X: np.ndarray) -> np.ndarray:
        """(rows × internal nodes): the row goes left at the node —
        LightGBM's NumericalDecision / CategoricalDecision on a row read as a dense matrix."""
        x = X[:, self.feat]
        nan = np.isnan(x)
        with np.errstate(invalid="ignore"):
            left = x <= self.thr
        if nan.any():
            left = np.where(nan, self._nan_left, left)
        zero = (x == 0.0) & self._zero_default
        if zero.any():
            left = np.where(zero, self.default_left, left)
        if self._cat_nodes.size:
            xc = x[:, self._cat_nodes]
            with np.errstate(invalid="ignore"):
                ok = ~np.isnan(xc) & (xc > -1.0) & (xc < 2.0**31)
            top = self.cat_left.shape[1] - 1
            code = np.where(ok, np.minimum(np.trunc(np.where(ok, xc, 0.0)), top), top).astype(np.int64)
            left[:, self._cat_nodes] = ok & self.cat_left[self._cat_nodes, code]
        return left

    def _patterns(self, X: np.ndarray) -> np.ndarray:
        """(rows × leaves) the pattern of each leaf's splits the row passes (bit j: the j-th from the root)."""
        X = np.asarray(X, dtype=np.float64)
        X = np.where(np.abs(X) <= _ZERO, 0.0, X)  # as LightGBM reads a dense row
        goes_left = self._left(X)
        pat = np.zeros((len(X), self._n_int + len(self.leaf_value)), dtype=np.int32)
        for parent, child, side, bit in self._levels:  # each node's pattern from its parent's
            hot = goes_left[:, parent] == side
            pat[:, child] = pat[:, parent] | (hot.astype(np.int32) * bit)
        return pat[:, self._n_int:]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Raw scores: each row's leaf values added tree by tree from 0 (LightGBM's ``PredictRaw``)."""
        X = np.asarray(X, dtype=np.float64)
        if len(X) == 0:
            return np.zeros(0)
        reached = self._patterns(X) == self.full  # one leaf per tree
        r, k = np.nonzero(reached)
        vals = np.zeros((len(X), self.n_trees))
        vals[r, self.leaf_tree[k]] = self.leaf_value[k]
        return np.cumsum(vals, axis=1)[:, -1]

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows × (features + 1)) TreeSHAP contributions (bias last) and (rows × features) bounds of their
        rounding against LightGBM's ``pred_contrib`` (0 for a feature no tree splits on: exactly 0 in both)."""
        X = np.asarray(X, dtype=np.float64)
        n = len(X)
        out = np.zeros((n, self.n_features + 1))
        bound = np.zeros((n, self.n_features))
        out[:, -1] = self.expected
        if n == 0 or self.table.size == 0:
            return out, bound
        start = self._patterns(X) * self.leaf_width + self.leaf_at  # rows × leaves: where its terms begin
        idx = np.take(start, self.term_leaf, axis=1)
        idx += self.term_i
        terms = np.take(self.table, idx)
        out[:, self.seg_feat] = np.add.reduceat(terms, self.seg_start, axis=1)
        size = np.add.reduceat(np.abs(terms), self.seg_start, axis=1)
        # two orders of the same N terms differ by at most 2·N·eps·Σ|t|; kept well above that
        bound[:, self.seg_feat] = size * (4.0 * _EPS * self.n_terms[self.seg_feat] + 1e-12)
        return out, bound


def decided(c: np.ndarray, bound: np.ndarray, top: int = 3) -> np.ndarray:
    """Rows whose reason (the first ``top`` features by contribution, stable order, those > 0) is the same
    for every contribution within ``bound`` of ``c``: at each of the first ``top`` places either nothing
    from there on can be positive, or the feature there is surely positive and surely above all after it."""
    n, f = c.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(-c, axis=1, kind="stable")
    rows = np.arange(n)[:, None]
    s, e = c[rows, order], bound[rows, order]
    hi = s + e
    after = np.maximum.accumulate(hi[:, ::-1], axis=1)[:, ::-1]  # the highest any feature from j on may be
    ok = np.ones(n, dtype=bool)
    for j in range(min(top, f)):
        done = after[:, j] <= 0
        lo = s[:, j] - e[:, j]
        nxt = after[:, j + 1] if j + 1 < f else np.full(n, -np.inf)
        ok &= done | ((lo > 0) & (lo > nxt))
    return ok


def _expected_value(tree: dict) -> float:
    """LightGBM's ``Tree::ExpectedValue``: Σ leaf_count/total × leaf value, leaf by leaf in index order."""
    leaves: list[tuple[int, float, float]] = []

    def walk(node: dict) -> None:
        if "split_index" not in node:
            leaves.append((int(node.get("leaf_index", 0)), float(node["leaf_count"]), float(node["leaf_value"])))
            return
        walk(node["left_child"])
        walk(node["right_child"])

    walk(tree)
    total = float(tree["internal_count"])
    out = 0.0
    for _, cnt, v in sorted(leaves):
        out += (cnt / total) * v
    return out


def _leaf_terms(steps: list[tuple[int, float]], value: float) -> tuple[list[int], np.ndarray]:
    """LightGBM's TreeSHAP terms of one leaf for every pattern of its path (bit j: the row takes the leaf's
    side at the j-th split from the root): (the features of the unique path, (2^depth × features) terms),
    with ``Tree::TreeSHAP``'s operations in its order."""
    d = len(steps)
    m = 1 << d
    pattern = np.arange(m)
    ones = np.ones(m)
    feature = [-1]
    zero = [1.0]
    one = [ones]
    pw = [np.ones(m)]
    ud = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for j, (f, frac) in enumerate(steps):
            inc_zero, inc_one = 1.0, ones
            if f in feature:
                pi = feature.index(f)
                inc_zero, inc_one = zero[pi], one[pi]
                pw = _unwind(pw, zero[pi], one[pi], ud)
                del feature[pi], zero[pi], one[pi]
                ud -= 1
            hot = ((pattern >> j) & 1).astype(np.float64)
            ud += 1
            pw = _extend(pw, frac * inc_zero, inc_one * hot, ud)
            feature.append(f)
            zero.append(frac * inc_zero)
            one.append(inc_one * hot)
        cols = []
        for i in range(1, ud + 1):
            w = _unwound_sum(pw, zero[i], one[i], ud)
            cols.append(w * (one[i] - zero[i]) * value)
    return feature[1:], np.column_stack(cols) if cols else np.zeros((m, 0))


def _extend(pw: list, zero: float, one: np.ndarray, ud: int) -> list:
    pw = [p.copy() for p in pw] + [np.full(len(one), 1.0 if ud == 0 else 0.0)]
    for i in range(ud - 1, -1, -1):
        pw[i + 1] = pw[i + 1] + one * pw[i] * (i + 1) / float(ud + 1)
        pw[i] = zero * pw[i] * (ud - i) / float(ud + 1)
    return pw


def _unwind(pw: list, zero: float, one: np.ndarray, ud: int) -> list:
    pw = [p.copy() for p in pw]
    nop = pw[ud]
    nz = one != 0
    for i in range(ud - 1, -1, -1):
        tmp = pw[i]
        a = nop * (ud + 1) / ((i + 1) * one)
        nop = np.where(nz, tmp - a * zero * (ud - i) / float(ud + 1), nop)
        pw[i] = np.where(nz, a, (tmp * (ud + 1)) / (zero * (ud - i)))
    return pw[:ud]


def _unwound_sum(pw: list, zero: float, one: np.ndarray, ud: int) -> np.ndarray:
    nop = pw[ud]
    total = np.zeros(len(one))
    nz = one != 0
    for i in range(ud - 1, -1, -1):
        tmp = nop * (ud + 1) / ((i + 1) * one)
        alt = (pw[i] / zero) / ((ud - i) / float(ud + 1))
        total = total + np.where(nz, tmp, alt)
        nop = np.where(nz, pw[i] - tmp * zero * ((ud - i) / float(ud + 1)), nop)
    return total
