"""One enterprise × the whole book, online: the compiled book's trees flattened level by level,
so a verdict for every policy costs a handful of numpy reductions (Kleene codes: all = min,
any = max), and evidence is built only for the policies that match."""

from __future__ import annotations

import bisect
import datetime as dt
import math
from functools import lru_cache
from itertools import compress
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.eligibility.batch import PAIR_COLUMNS, REVIEW_PREFIX, as_date
from quanhuiqi.eligibility.codecs import BoolCodec, CategoryCodec, OrderedCodec, SetCodec
from quanhuiqi.eligibility.compiled import CompiledBook
from quanhuiqi.eligibility.explain import display_one, evidence_piece, unit
from quanhuiqi.policy.load import EPOCH
from quanhuiqi.tables.record import memo_once

_TRUE = {"true", "1", "是", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "否", "no", "n", "f", "0.0"}


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    t = type(v)
    if t is float or t is np.float64:
        return v != v  # NaN
    if t is str:
        return not v.strip()
    if t is bool or t is int or t is np.bool_ or t is np.int64:
        return False
    try:
        return bool(pd.isna(v)) if not isinstance(v, str | bytes | list | tuple | np.ndarray) else False
    except (TypeError, ValueError):
        return False


class OnlineMatcher:
    def __init__(self, cb: CompiledBook):
        self.cb = cb
        self.fields = list(cb.codecs)
        self._ordered = {n: c for n, c in cb.codecs.items() if isinstance(c, OrderedCodec)}
        self._thr = {n: c.thresholds.tolist() for n, c in self._ordered.items()}
        self._order = {
            n: {v: float(i) for i, v in enumerate(c.field.values or ())}
            for n, c in self._ordered.items()
            if c.field.type == "ordinal"
        }
        self._active: dict[dt.date, np.ndarray] = {}
        # Kleene codes (2·true + unknown) of every code of the fixed-table fields, and a cache per open field
        self._kleene = {n: 2 * c.t.astype(np.int8) + c.u.astype(np.int8) for n, c in cb.codecs.items()
                        if isinstance(c, OrderedCodec | BoolCodec)}
        self._one: dict[str, dict] = {n: {} for n in cb.codecs}
        for codec in cb.codecs.values():
            if isinstance(codec, CategoryCodec):
                codec.warm()
        self.n_leaves = cb.leaf_atom.size
        self.pids = [cp.policy.id for cp in cb.policies]
        # leaves are numbered policy by policy, in tree order (see CompiledBook._build_levels)
        self.leaf_policy = np.repeat(np.arange(len(cb.policies)), [len(cp.leaves) for cp in cb.policies])
        self.leaf_field = [lf.source.field for cp in cb.policies for lf in cp.leaves]
        self.shown_fields = sorted(set(self.leaf_field))
        pols = [cp.policy for cp in cb.policies]
        self.modes = [p.mode for p in pols]
        self.review = [None if not p.review else REVIEW_PREFIX.format(p.review) for p in pols]
        self.tiers = {i: cp.tiers for i, cp in enumerate(cb.policies) if cp.tiers}
        self.derived = [f for f in cb.derived_fields]
        from quanhuiqi.policy.derived import ComputedFact

        self.derived_from_tables = [f for f in self.derived if not isinstance(f.derived, ComputedFact)]
        self._computed = [(f.name, f.derived.formula) for f in self.derived if isinstance(f.derived, ComputedFact)]
        self.cap = np.array([np.nan if p.max_amount is None else p.max_amount for p in pols])
        self.rate = np.array([np.nan if p.amount_rate is None else p.amount_rate for p in pols])
        self._cap_or_inf = np.where(np.isnan(self.cap), np.inf, self.cap)
        self.base = [p.amount_base for p in pols]
        self.base_names = sorted({b for b in self.base if b})
        self.base_idx = np.array([self.base_names.index(b) if b else -1 for b in self.base], dtype=np.int64)
        # evidence pieces depend only on (test, negation) and the field's value: dedupe per call
        keys = {}
        self.leaf_key = np.array(
            [keys.setdefault((lf.atom, lf.neg), len(keys)) for cp in cb.policies for lf in cp.leaves],
            dtype=np.int64,
        )
        self.key_piece: list[tuple[str, bool, str]] = [("", False, "")] * len(keys)
        self.key_field = [""] * len(keys)
        leaves = [lf for cp in cb.policies for lf in cp.leaves]
        for i, k in enumerate(self.leaf_key.tolist()):
            self.key_piece[k] = evidence_piece(cb.fields, leaves[i].source, leaves[i].neg)
            self.key_field[k] = self.leaf_field[i]
        self._pid_arr = np.array(self.pids, dtype=object)
        self._mode_arr = np.array(self.modes, dtype=object)
        by_name = sorted(set(self.leaf_field))
        rank = {f: i for i, f in enumerate(by_name)}
        self._n_fields = max(len(by_name), 1)
        self._field_by_rank = np.array(by_name, dtype=object)
        self._field_names = by_name
        self._leaf_field_rank = np.array([rank[f] for f in self.leaf_field], dtype=np.int64)
        # each evidence piece as arrays: the text of a piece that shows no value, else the text around the value
        # of its field (by name rank): a call's pieces are a few array operations, one value shown per field
        self._key_text = np.array([b if not wv else None for b, wv, _ in self.key_piece], dtype=object)
        self._key_before = np.array([b for b, _, _ in self.key_piece], dtype=object)
        self._key_after = np.array([a for _, _, a in self.key_piece], dtype=object)
        self._key_shows = np.array([wv for _, wv, _ in self.key_piece], dtype=bool)
        self._key_field_rank = np.array([rank.get(f, 0) for f in self.key_field], dtype=np.int64)
        self._review_arr = np.array(self.review + [None], dtype=object)
        self._set_dtype = np.dtype((np.void, self._n_fields))  # a pair's fields as one flag byte each
        self._memo: dict[str, dict] = {}  # bounded (tables.record.memo_once): the unknown-facts text of a set
        self._has_review = np.array([r is not None for r in self.review], dtype=bool)
        self._tiered = np.zeros(len(pols), dtype=bool)
        self._tiered[list(self.tiers)] = True
        self._build_flat()
        self._build_atom_table()
        self._shown_cache: dict[str, dict] = {f: {} for f in self.shown_fields}
        self._number_unit = {f: unit(cb.fields, f) for f in self.shown_fields
                             if f in cb.fields and cb.fields[f].type == "number"}

    # -- the book laid out for one row ---------------------------------------------------------------
    def _build_flat(self) -> None:
        """One buffer of Kleene codes per call: every test and its negation (a leaf is its literal, no copy),
        a 0 and a 2, then the gates level by level.  Each level's children are gathered as a dense
        (widest gate × gates) table, padded with the value that does not change the gate (2 under ``all``,
        0 under ``any``), and reduced across its rows: elementwise minima or maxima, no per-gate loop.
        The roots are read from wherever their gate or leaf sits.

        For evidence, the gates top down with their parents, and each leaf's parent gate: which leaves prove
        a verdict, and which unknown leaves settle it, is a short pass over the gates and one over the
        matching policies' leaves."""
        cb = self.cb
        n_lit = 2 * cb.n_atoms
        pos = np.full(cb.n_slots, -1, dtype=np.int64)
        pos[: self.n_leaves] = cb.leaf_atom + cb.n_atoms * cb.leaf_neg.astype(np.int64)
        parent = np.full(cb.n_slots, -1, dtype=np.int64)
        parent_any = np.zeros(cb.n_slots, dtype=bool)
        start = n_lit + 2  # [literals | 0 | 2 | gates]
        levels = []
        for kind, gate_slots, child, offsets in cb.levels:
            sizes = np.diff(np.append(offsets, child.size))
            owner = np.repeat(np.arange(gate_slots.size), sizes)
            parent[child] = gate_slots[owner]
            parent_any[child] = kind == "any"
            table = np.full((int(sizes.max()), gate_slots.size), n_lit + (kind == "all"), dtype=np.intp)
            table[np.arange(child.size) - offsets[owner], owner] = pos[child]  # children placed before
            pos[gate_slots] = start + np.arange(gate_slots.size)
            levels.append((kind == "all", table, start, start + gate_slots.size))
            start += gate_slots.size
        if (pos < 0).any():  # pragma: no cover - the compiled book places every node once
            raise AssertionError("online matcher: a node of the compiled book has no place")
        self._nbuf = start
        self.pos = pos
        self._levels = levels
        self._root_pos = pos[cb.roots]
        self._leaf_pos = pos[: self.n_leaves]
        # for evidence: the roots and the inner gates as one short array, top down (roots first, then by depth),
        # each with its parent's index in it; each leaf with its parent's index there (a leaf that is a whole
        # policy's condition: its own root's) and whether that parent is ``all``
        inner = np.arange(self.n_leaves, cb.n_slots)
        inner = inner[parent[inner] >= 0]
        depth = np.zeros(cb.n_slots, dtype=np.int64)
        for slot in inner[::-1].tolist():  # post-order numbering: a parent's slot is above its children's
            depth[slot] = depth[parent[slot]] + 1
        inner = inner[np.argsort(depth[inner], kind="stable")]
        top = np.concatenate([cb.roots, inner])
        at = np.full(cb.n_slots, -1, dtype=np.int64)
        at[top] = np.arange(top.size)
        self._gate_pos = pos[top]
        self._gate_parent = at[parent[inner]]  # of top[n_pol:]
        self._gate_parent_all = (~parent_any[inner]).astype(np.int8)
        bounds = np.searchsorted(depth[inner], np.arange(1, int(depth[inner].max(initial=0)) + 2))
        self._gate_depths = [(int(x), int(y)) for x, y in zip(bounds[:-1], bounds[1:], strict=True) if y > x]
        leaves = np.arange(self.n_leaves)
        is_root = parent[leaves] < 0
        self._leaf_anchor = np.where(is_root, at[leaves], at[np.where(is_root, 0, parent[leaves])])
        self._leaf_parent_all = (~parent_any[leaves] | is_root).astype(np.int8)
        self._leaf_count = np.array([len(cp.leaves) for cp in cb.policies], dtype=np.int64)
        self._leaf_first = np.cumsum(self._leaf_count) - self._leaf_count

    def _build_atom_table(self) -> None:
        """The fixed-table codecs (ordered, bool) as one flat table: a row's atom codes are one gather
        from the per-field codes, instead of one assignment per field."""
        cb = self.cb
        # ordered fields first, then yes/no fields: the codes of a row are made in that order
        fixed = [n for n in cb.codecs if n in self._ordered] + [n for n in cb.codecs if n in self._kleene
                                                                and n not in self._ordered]
        self._fixed = fixed
        tab, dest, base, width, cid = [], [], [], [], []
        at = 0
        for i, n in enumerate(fixed):
            k = self._kleene[n]
            w = k.shape[1]
            tab.append(k.reshape(-1))
            dest.append(cb.codec_atoms[n])
            base.append(at + np.arange(w))
            width.append(np.full(w, w))
            cid.append(np.full(w, i))
            at += k.size

        def cat(xs: list, dtype: Any) -> np.ndarray:
            return np.concatenate(xs).astype(dtype) if xs else np.zeros(0, dtype=dtype)

        self._ftab = cat(tab, np.int8)
        self._fdest = cat(dest, np.int64)
        self._fbase = cat(base, np.int64)
        self._fwidth = cat(width, np.int64)
        self._fcid = cat(cid, np.int64)
        self._open_codecs = [(n, c, isinstance(c, SetCodec)) for n, c in cb.codecs.items() if n not in self._kleene]
        self._open_dest = cat([cb.codec_atoms[n] for n, _, _ in self._open_codecs], np.int64)
        self._ordered_kind = {n: self.cb.fields[n].type for n in self._ordered}
        self._date_cache: dict[str, dict] = {n: {} for n in self._ordered}
        self._ordered_fields = [(n, self._ordered_kind[n] == "number", self._ordered_kind[n] == "date", self._thr[n],
                                 self._date_cache[n]) for n in fixed if n in self._ordered]
        self._bool_fields = [n for n in fixed if n not in self._ordered]

    def _active_mask(self, as_of: dt.date) -> np.ndarray:
        m = self._active.get(as_of)
        if m is None:
            m = np.array([cp.policy.active(as_of) for cp in self.cb.policies], dtype=bool)
            self._active[as_of] = m
        return m

    def _number(self, name: str, v: Any) -> float:
        if _missing(v):
            return math.nan
        ftype = self.cb.fields[name].type
        try:
            if ftype == "date":
                if isinstance(v, str):
                    v = dt.date.fromisoformat(v.strip()[:10])
                if isinstance(v, pd.Timestamp | dt.datetime):
                    v = v.date()
                if isinstance(v, np.datetime64):
                    v = pd.Timestamp(v).date()
                return float((v - EPOCH).days)
            if ftype == "ordinal":
                return self._order[name].get(str(v).strip(), math.nan)
            if isinstance(v, bool):
                return math.nan
            return float(v)
        except (TypeError, ValueError):
            return math.nan

    def _display(self, name: str, v: Any) -> str:
        """The enterprise's value in evidence, exactly as the batch writes it, whatever form the row
        carries it in (typed, JSON text, 是/否): typed by the field, ``未知`` when missing or unreadable."""
        field = self.cb.fields.get(name)
        ftype = field.type if field is not None else "text"
        if ftype == "set" and isinstance(v, str) and not v.strip():
            return "无"  # closed world: an empty list is known to be empty
        if _missing(v):
            return "未知"
        if ftype == "number":
            x = self._number(name, v)
            if x > 0.0 and x < 1e15:  # the common case without numpy scalars: number_text's rounding, exactly
                return _number_text(x) + unit(self.cb.fields, name)
            return display_one(self.cb.fields, name, v, x)
        if ftype == "date":
            d = pd.to_datetime(v, errors="coerce")
            return "未知" if pd.isna(d) else d.strftime("%Y-%m-%d")
        if ftype == "bool":
            if isinstance(v, bool | np.bool_):
                return "是" if v else "否"
            s = str(v).strip().lower()
            return "是" if s in _TRUE else "否" if s in _FALSE else "未知"
        return display_one(self.cb.fields, name, str(v))

    def atom_values(self, row: Any) -> np.ndarray:
        """Kleene codes of every base test for one profile row: one code per field (2·true + unknown
        rows of tables built once per code), gathered in one step; no arithmetic per atom."""
        out = np.zeros(self.cb.n_atoms, dtype=np.int8)
        get = row.get
        codes: list[int] = []
        code = codes.append
        for name, is_number, is_date, tn, cache in self._ordered_fields:
            v = get(name, None)
            t = type(v)
            if is_number and (t is float or t is int or t is np.float64):
                x = float(v)
            elif v is None:
                x = math.nan
            elif is_date and t is not str and t is not float:
                x = cache.get(v)
                if x is None:
                    x = self._number(name, v)
                    if len(cache) < 100_000:
                        cache[v] = x
            else:
                x = self._number(name, v)
            code(0 if x != x else 1 + bisect.bisect_left(tn, x) + bisect.bisect_right(tn, x))  # NaN: unknown
        for v in map(get, self._bool_fields):
            t = type(v)
            if t is bool or t is np.bool_:
                code(2 if v else 1)
            elif _missing(v):
                code(0)
            else:
                text = str(v).strip().lower()
                code(2 if text in _TRUE else 1 if text in _FALSE else 0)
        if codes:
            c = np.array(codes, dtype=np.int64)
            out[self._fdest] = self._ftab[self._fbase + c[self._fcid] * self._fwidth]
        if self._open_codecs:
            ks = []
            for name, codec, is_set in self._open_codecs:
                v = get(name, None)
                key = v if is_set and isinstance(v, str) else (None if _missing(v) else str(v))
                cache = self._one[name]
                k = cache.get(key)
                if k is None:
                    t, u = codec.encode_one(key)
                    k = 2 * t.astype(np.int8) + u.astype(np.int8)
                    if len(cache) < 100_000:
                        cache[key] = k
                ks.append(k)
            out[self._open_dest] = np.concatenate(ks)
        return out

    def node_values(self, atoms: np.ndarray) -> np.ndarray:
        """Kleene codes of every node in the flat layout (``self.pos[slot]`` is a slot's place; a leaf's
        place is its test's or its negation's)."""
        n = atoms.size
        buf = np.empty(self._nbuf, dtype=np.int8)
        buf[:n] = atoms
        np.subtract(2, atoms, out=buf[n : 2 * n])
        buf[2 * n] = 0
        buf[2 * n + 1] = 2
        for is_all, table, a, b in self._levels:
            (np.minimum if is_all else np.maximum).reduce(buf[table], axis=0, out=buf[a:b])
        return buf

    def slot_values(self, atoms: np.ndarray) -> np.ndarray:
        """Kleene codes per slot of the compiled book's numbering (``cb.levels``)."""
        return self.node_values(atoms)[self.pos]

    def _root_values(self, buf: np.ndarray, as_of: str | dt.date) -> np.ndarray:
        return np.where(self._active_mask(as_of_date(as_of)), buf[self._root_pos], 0)

    def verdicts(self, row: Any, as_of: str | dt.date) -> np.ndarray:
        """Kleene codes per policy of the book (inactive policies are 0)."""
        return self._root_values(self.node_values(self.atom_values(row)), as_of)

    def verdicts_from_atoms(self, atoms: np.ndarray, as_of: str | dt.date) -> np.ndarray:
        return self._root_values(self.node_values(atoms), as_of)

    def with_derived(self, row: dict, as_of: dt.date, facts=None) -> dict:
        """The row with the book's derived fields: computed from ``facts`` (this enterprise's fact tables) when
        given; otherwise the row's own values of those names, computed fields from the row, else unknown."""
        if not self.derived or (facts is None and not self._computed):
            return row  # read as it is: a derived field it lacks is unknown
        from quanhuiqi.eligibility.derive import computed_one, derive_one

        row = dict(row)
        if facts is not None:
            row.update(derive_one(self.derived_from_tables, facts, row, as_of))
        for name, formula in self._computed:
            row[name] = computed_one(formula, row)
        return row

    def _tier_amounts(self, i: int, atoms: np.ndarray) -> tuple[float, float]:
        low = high = math.nan
        for amount, root, _ in self.tiers[i]:
            v = _tree_value(root, atoms)
            if v == 2:
                low = amount if math.isnan(low) else max(low, amount)
            if v >= 1:
                high = amount if math.isnan(high) else max(high, amount)
        return low, high

    def match_columns(self, row: Any, as_of: str | dt.date, facts=None) -> dict[str, list]:
        """The pairs of one enterprise as columns (lists), evidence and missing facts included."""
        cols, evidence = self.match_lazy(row, as_of, facts)
        cols["evidence"] = evidence(range(len(cols["policy_id"])))
        return {c: cols[c] for c in PAIR_COLUMNS}

    def match_lazy(self, row: Any, as_of: str | dt.date, facts=None) -> tuple[dict[str, list], Any]:
        """:meth:`match_columns` without the evidence column, and a function giving the evidence of the
        pairs at some positions (an online ranker writes evidence only for the pairs it returns).

        Which leaves prove a verdict and which unknown leaves must be settled is a short pass over the gates
        and one over the matching policies' leaves (:meth:`_proof_leaves`); the texts are made from arrays of
        pieces (each distinct piece once, each shown value once per field, each set of missing facts once per
        matcher), leaving one join per pair as the only Python step per pair."""
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        if isinstance(row, pd.Series):
            row = row.to_dict()
        if self.derived:
            row = self.with_derived(row, as_of_date(as_of), facts)
        atom_codes = self.atom_values(row)
        buf = self.node_values(atom_codes)
        rootv = self._root_values(buf, as_of)
        hits = np.flatnonzero(rootv)
        cols: dict[str, list] = {c: [] for c in PAIR_COLUMNS if c != "evidence"}
        if hits.size == 0:
            return cols, lambda idx: []
        ev_idx, ev_pair, un_idx, un_pair = self._proof_leaves(buf, rootv, hits)
        n = hits.size
        ev_count = np.bincount(ev_pair, minlength=n)
        amount, amount_max = self._amounts(hits, row, atom_codes)
        uscc = row.get("uscc", None)
        uscc = None if _missing(uscc) else str(uscc)
        cols["uscc"] = [uscc] * n
        cols["policy_id"] = self._pid_arr[hits].tolist()
        cols["verdict"] = _VERDICTS[rootv[hits]].tolist()
        # missing facts per pair: distinct field names, sorted — each pair's set of fields (a flag per field by
        # name rank) as bytes, its text made once per distinct set (pairs and calls repeat the same few sets)
        mark = np.zeros((n, self._n_fields), dtype=bool)
        mark[un_pair, self._leaf_field_rank[un_idx]] = True
        sets = mark.view(self._set_dtype).ravel().tolist()
        texts = dict.fromkeys(sets)
        for k in texts:
            texts[k] = memo_once(self._memo, "unknown", self._unknown_text, k)
        cols["unknown"] = [texts[k] for k in sets]
        cols["mode"] = self._mode_arr[hits].tolist()
        cols["amount"] = amount
        cols["amount_max"] = amount_max
        ev_keys = self.leaf_key[ev_idx]

        def evidence(idx) -> list[str]:
            if isinstance(idx, range) and idx == range(n):  # every pair, in order: the pieces as they are
                return self._evidence(row, hits, ev_keys, ev_count)
            sel = np.fromiter(idx, dtype=np.int64)
            if sel.size == 0:
                return []
            count = ev_count[sel]
            ends = np.cumsum(count)
            start = (np.cumsum(ev_count) - ev_count)[sel]
            keys = ev_keys[np.repeat(start - (ends - count), count) + np.arange(int(ends[-1]))]
            return self._evidence(row, hits[sel], keys, count)

        return cols, evidence

    def _unknown_text(self, fields: bytes) -> str:
        """The missing facts of one set of fields (a flag byte per field by name rank): their names, sorted,
        joined by ``;``."""
        return ";".join(compress(self._field_names, fields))

    def _proof_leaves(self, buf: np.ndarray, rootv: np.ndarray, hits: np.ndarray) -> tuple[np.ndarray, ...]:
        """(leaves shown as evidence, unknown leaves to settle) of the matching policies ``hits``, in leaf
        order, with each one's position in ``hits``.

        Evidence: true leaves on a path from a matching root where every node is decided and, under an
        ``any``, holds its parent's value (the branches that make the verdict).  To settle: unknown leaves of
        an undetermined policy with every node on the path unknown.  Bit 1 and bit 2 of one flag per gate,
        carried from the roots down depth by depth, then to the matching policies' leaves."""
        n_pol = rootv.size
        gv = buf[self._gate_pos]
        gp = self._gate_parent
        idx = gv[gp] * np.int8(3)
        idx += gv[n_pol:]
        idx *= 2
        idx += self._gate_parent_all
        flag = np.empty(gv.size, dtype=np.int8)
        flag[:n_pol] = _ROOT_FLAG[rootv]
        flag[n_pol:] = _GATE_FLAG[idx]
        for a, b in self._gate_depths:
            flag[n_pol + a:n_pol + b] &= flag[gp[a:b]]
        state = flag * np.int8(3)
        state += gv
        lens = self._leaf_count[hits]
        ends = np.cumsum(lens)
        pair = np.repeat(np.arange(hits.size), lens)
        H = self._leaf_first[hits][pair] + np.arange(int(ends[-1])) - (ends - lens)[pair]
        idx = state[self._leaf_anchor[H]] * np.int8(3)
        idx += buf[self._leaf_pos[H]]
        idx *= 2
        idx += self._leaf_parent_all[H]
        code = _LEAF_CODE[idx]
        ev = code == 1
        un = code == 2
        return H[ev], pair[ev], H[un], pair[un]

    def _evidence(self, row: dict, pols: np.ndarray, keys: np.ndarray, count: np.ndarray) -> list[str]:
        """The evidence of some pairs (policies ``pols``): each pair's proving pieces (``count`` of ``keys``)
        joined by ``；``, after the review note of a policy that has one.  Each distinct piece is made once,
        each shown value once per field."""
        table = self._key_text
        present = np.zeros(table.size, dtype=bool)
        present[keys] = True
        shows = np.flatnonzero(present & self._key_shows)
        if shows.size:
            fr = self._key_field_rank[shows]
            seen = np.zeros(self._n_fields, dtype=bool)
            seen[fr] = True
            shown = np.empty(self._n_fields, dtype=object)
            for f in np.flatnonzero(seen).tolist():
                name = self._field_by_rank[f]
                shown[f] = self._shown(name, row.get(name))
            table = table.copy()
            table[shows] = self._key_before[shows] + shown[fr] + self._key_after[shows]
        out = _join_groups(table[keys], count, "；")
        for k in np.flatnonzero(self._has_review[pols]).tolist():
            text = out[k]
            out[k] = self._review_arr[pols[k]] + ("；" + text if text else "")
        return out

    def _shown(self, name: str, v: Any) -> str:
        """:meth:`_display`, remembered per field and (type, value): rows repeat the same few values (a positive
        number is written straight away: amounts differ from one enterprise to the next)."""
        if type(v) is float and 0.0 < v < 1e15:
            u = self._number_unit.get(name)
            if u is not None:
                return _number_text(v) + u
        cache = self._shown_cache.get(name)
        if cache is None or (type(v) is float and (v != v or v == 0.0)):  # NaN ≠ itself; -0.0 == 0.0 shows "-0"
            return self._display(name, v)
        try:
            key = (type(v), v)
            hit = cache.get(key)
        except TypeError:  # an unhashable value: shown as is
            return self._display(name, v)
        if hit is None:
            hit = self._display(name, v)
            if len(cache) < 20_000:
                cache[key] = hit
        return hit

    def _amounts(self, hits: np.ndarray, row: dict, atoms: np.ndarray) -> tuple[list, list]:
        """(amount, amount_max) of the matching policies: cap, or rate × base capped — vectorised; a
        tiered policy's amount is the tier its facts prove, the highest it may reach as its maximum."""
        cap = self.cap[hits]
        bi = self.base_idx[hits] if self.base_names else None
        if bi is None or not (bi >= 0).any():
            amount = cap.tolist()
            return self._tier_amounts_of(hits, atoms, amount, list(amount))
        xs = np.array(
            [self._number(n, row.get(n)) if n in self._ordered else _to_float(row.get(n)) for n in self.base_names]
            + [np.nan]
        )
        x = self.rate[hits] * xs[bi]  # NaN without a base (the last xs), a rate, or the base's value
        # with a base: rate × base under the cap (unknown when the base is); at most the cap when unknown
        amount = np.where(bi >= 0, np.minimum(x, self._cap_or_inf[hits]), cap)
        top = np.fmin(x, cap)
        return self._tier_amounts_of(hits, atoms, amount.tolist(), top.tolist())

    def _tier_amounts_of(self, hits: np.ndarray, atoms: np.ndarray, amount: list, amount_max: list
                         ) -> tuple[list, list]:
        if self.tiers:
            for k in np.flatnonzero(self._tiered[hits]).tolist():
                amount[k], amount_max[k] = self._tier_amounts(int(hits[k]), atoms)
        return amount, amount_max

    def match_records(self, row: Any, as_of: str | dt.date, facts=None) -> list[dict[str, Any]]:
        cols = self.match_columns(row, as_of, facts)
        return [
            dict(zip(PAIR_COLUMNS, vals, strict=True))
            for vals in zip(*(cols[c] for c in PAIR_COLUMNS), strict=True)
        ]

    def match(self, row: Any, as_of: str | dt.date, facts=None) -> pd.DataFrame:
        cols = self.match_columns(row, as_of, facts)
        data = {c: pd.array(cols[c], dtype="string") for c in PAIR_COLUMNS if not c.startswith("amount")}
        data["amount"] = np.array(cols["amount"], dtype="float64")
        data["amount_max"] = np.array(cols["amount_max"], dtype="float64")
        return pd.DataFrame(data)


_VERDICTS = np.array([None, "undetermined", "eligible"], dtype=object)


def _proof_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables of the evidence pass, over Kleene codes (0 false, 1 unknown, 2 true).  A node's flag: bit 1
    "every node from the root down to it is decided and, under an ``any``, holds its parent's value", bit 2
    "every node from the root down to it is unknown".  A root's flag by its value; a gate's own part by
    (parent's value, its value, parent is ``all``) — ANDed with its parent's flag; a leaf's verdict by (parent's
    flag, parent's value, its value, parent is ``all``): 1 shown as evidence, 2 to settle."""
    root = np.array([0, 3, 1], dtype=np.int8)
    gate = np.zeros(18, dtype=np.int8)
    leaf = np.zeros(72, dtype=np.int8)
    for pv in range(3):
        for v in range(3):
            for p_all in range(2):
                gate[(pv * 3 + v) * 2 + p_all] = (pv != 0 and (p_all or v == pv)) | (v == 1) << 1
                for flag in range(4):
                    ev = flag & 1 and v == 2 and pv != 0 and (p_all or pv == 2)
                    un = flag & 2 and v == 1
                    leaf[((flag * 3 + pv) * 3 + v) * 2 + p_all] = 1 if ev else 2 if un else 0
    return root, gate, leaf


_ROOT_FLAG, _GATE_FLAG, _LEAF_CODE = _proof_tables()
def _join_groups(items: np.ndarray, count: np.ndarray, sep: str) -> list[str]:
    """``sep.join`` of consecutive groups of ``items`` (``count`` items each, possibly none).  (One join per
    group over a Python list is cheaper than laying the separators out in an object array.)"""
    flat = items.tolist()
    ends = np.cumsum(count).tolist()
    return [sep.join(flat[b - c:b]) for b, c in zip(ends, count.tolist(), strict=True)]


def _tree_value(node, atoms: np.ndarray) -> int:
    """Kleene code of a compiled tree from the atoms' codes (tier conditions: a handful of nodes)."""
    from quanhuiqi.eligibility.compiled import Leaf

    if isinstance(node, Leaf):
        v = int(atoms[node.atom])
        return 2 - v if node.neg else v
    vals = [_tree_value(c, atoms) for c in node.children]
    return min(vals) if node.kind == "all" else max(vals)


def _number_text(x: float) -> str:
    """:func:`~quanhuiqi.eligibility.explain.number_text` of a positive finite float below 1e15:
    ``np.round(x, 4)`` is x·10⁴ rounded half to even, divided by 10⁴ — the same operations in Python."""
    text = repr(round(x * 10000.0) / 10000.0)
    return text[:-2] if text.endswith(".0") else text


def _to_float(v: Any) -> float:
    try:
        return math.nan if _missing(v) else float(v)
    except (TypeError, ValueError):
        return math.nan


def as_of_date(as_of: str | dt.date) -> dt.date:
    if isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        return as_of
    return _parsed_date(as_of)


@lru_cache(maxsize=1024)  # online calls repeat the same few as-of texts: parse each once
def _parsed_date(as_of: Any) -> dt.date:
    return as_date(as_of)
