"""One enterprise × the whole book, online: the compiled book's trees flattened level by level,
so a verdict for every policy costs a handful of numpy reductions (Kleene codes: all = min,
any = max), and evidence is built only for the policies that match."""

from __future__ import annotations

import bisect
import datetime as dt
import math
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.eligibility.batch import PAIR_COLUMNS, REVIEW_PREFIX, as_date
from quanhuiqi.eligibility.codecs import BoolCodec, CategoryCodec, OrderedCodec, SetCodec
from quanhuiqi.eligibility.compiled import CompiledBook
from quanhuiqi.eligibility.explain import display_one, evidence_piece
from quanhuiqi.policy.load import EPOCH

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
        self.top_down = [
            (kind, child, np.repeat(gates, np.diff(np.append(offsets, child.size))))
            for kind, gates, child, offsets in reversed(cb.levels)
        ]
        pols = [cp.policy for cp in cb.policies]
        self.modes = [p.mode for p in pols]
        self.review = [None if not p.review else REVIEW_PREFIX.format(p.review) for p in pols]
        self.tiers = {i: cp.tiers for i, cp in enumerate(cb.policies) if cp.tiers}
        self.derived = [f for f in cb.derived_fields]
        from quanhuiqi.policy.derived import ComputedFact

        self.derived_from_tables = [f for f in self.derived if not isinstance(f.derived, ComputedFact)]
        self.cap = np.array([np.nan if p.max_amount is None else p.max_amount for p in pols])
        self.rate = np.array([np.nan if p.amount_rate is None else p.amount_rate for p in pols])
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
            return display_one(self.cb.fields, name, v, self._number(name, v))
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
        """Kleene codes of every base test for one profile row: one table row per field (2·true + unknown,
        built once per code), no arithmetic per call."""
        cb = self.cb
        out = np.zeros(cb.n_atoms, dtype=np.int8)
        get = row.get
        kleene = self._kleene
        for name, codec in cb.codecs.items():
            v = get(name, None)
            if name in self._ordered:
                x = self._number(name, v)
                if x != x:  # NaN: unknown
                    code = 0
                else:
                    thr = self._thr[name]
                    code = 1 + bisect.bisect_left(thr, x) + bisect.bisect_right(thr, x)
                out[cb.codec_atoms[name]] = kleene[name][code]
                continue
            if isinstance(codec, BoolCodec):
                if _missing(v):
                    code = 0
                elif isinstance(v, bool | np.bool_):
                    code = 2 if v else 1
                else:
                    s = str(v).strip().lower()
                    code = 2 if s in _TRUE else 1 if s in _FALSE else 0
                out[cb.codec_atoms[name]] = kleene[name][code]
                continue
            key = v if isinstance(codec, SetCodec) and isinstance(v, str) else (None if _missing(v) else str(v))
            cache = self._one[name]
            k = cache.get(key)
            if k is None:
                t, u = codec.encode_one(key)
                k = 2 * t.astype(np.int8) + u.astype(np.int8)
                if len(cache) < 100_000:
                    cache[key] = k
            out[cb.codec_atoms[name]] = k
        return out

    def slot_values(self, atoms: np.ndarray) -> np.ndarray:
        cb = self.cb
        slots = np.empty(cb.n_slots, dtype=np.int8)
        lv = atoms[cb.leaf_atom]
        slots[: self.n_leaves] = np.where(cb.leaf_neg, 2 - lv, lv)
        for kind, gate_slots, child, offsets in cb.levels:
            vals = slots[child]
            slots[gate_slots] = (
                np.minimum.reduceat(vals, offsets) if kind == "all" else np.maximum.reduceat(vals, offsets)
            )
        return slots

    def verdicts(self, row: Any, as_of: str | dt.date) -> np.ndarray:
        """Kleene codes per policy of the book (inactive policies are 0)."""
        slots = self.slot_values(self.atom_values(row))
        return np.where(self._active_mask(as_of_date(as_of)), slots[self.cb.roots], 0)

    def verdicts_from_atoms(self, atoms: np.ndarray, as_of: str | dt.date) -> np.ndarray:
        slots = self.slot_values(atoms)
        return np.where(self._active_mask(as_of_date(as_of)), slots[self.cb.roots], 0)

    def with_derived(self, row: dict, as_of: dt.date, facts=None) -> dict:
        """The row with the book's derived fields: computed from ``facts`` (this enterprise's fact tables) when
        given; otherwise the row's own values of those names, computed fields from the row, else unknown."""
        if not self.derived:
            return row
        from quanhuiqi.eligibility.derive import computed_one, derive_one
        from quanhuiqi.policy.derived import ComputedFact

        row = dict(row)
        if facts is not None:
            row.update(derive_one(self.derived_from_tables, facts, row, as_of))
        for f in self.derived:
            if isinstance(f.derived, ComputedFact):
                row[f.name] = computed_one(f.derived.formula, row)
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
        """The pairs of one enterprise as columns (lists), evidence and missing facts included.

        Which leaves prove a verdict and which unknown leaves must be settled is propagated top
        down level by level for all policies at once; only the strings are built per pair."""
        if isinstance(row, pd.DataFrame):
            row = row.iloc[0]
        if isinstance(row, pd.Series):
            row = row.to_dict()
        cb = self.cb
        if self.derived:
            row = self.with_derived(row, as_of_date(as_of), facts)
        atom_codes = self.atom_values(row)
        slots = self.slot_values(atom_codes)
        rootv = np.where(self._active_mask(as_of_date(as_of)), slots[cb.roots], 0)
        hits = np.flatnonzero(rootv)
        cols: dict[str, list] = {c: [] for c in PAIR_COLUMNS}
        if hits.size == 0:
            return cols
        sup = np.zeros(cb.n_slots, dtype=bool)
        upath = np.zeros(cb.n_slots, dtype=bool)
        sup[cb.roots] = rootv != 0
        upath[cb.roots] = rootv == 1
        for kind, child, parent in self.top_down:
            vp, vc = slots[parent], slots[child]
            s = sup[parent] & (vp != 0)
            if kind == "any":
                s &= vc == vp
            sup[child] = s
            upath[child] = upath[parent] & (vc == 1)
        lv = slots[: self.n_leaves]
        ev_idx = np.flatnonzero(sup[: self.n_leaves] & (lv == 2))
        un_idx = np.flatnonzero(upath[: self.n_leaves] & (lv == 1))
        lf = self.leaf_field
        uk, inv = np.unique(self.leaf_key[ev_idx], return_inverse=True)
        shown: dict[str, str] = {}
        distinct = []
        for k in uk.tolist():
            before, with_value, after = self.key_piece[k]
            if not with_value:
                distinct.append(before)
                continue
            f = self.key_field[k]
            if f not in shown:
                shown[f] = self._display(f, row.get(f))
            distinct.append(before + shown[f] + after)
        pieces = [distinct[j] for j in inv.tolist()]
        ev_pol = self.leaf_policy[ev_idx]
        ev_a = np.searchsorted(ev_pol, hits, "left").tolist()
        ev_b = np.searchsorted(ev_pol, hits, "right").tolist()
        un_fields = [lf[i] for i in un_idx.tolist()]
        un_pol = self.leaf_policy[un_idx]
        un_a = np.searchsorted(un_pol, hits, "left").tolist()
        un_b = np.searchsorted(un_pol, hits, "right").tolist()
        amount = self._amounts(hits, row)
        uscc = row.get("uscc", None)
        uscc = None if _missing(uscc) else str(uscc)
        hl = hits.tolist()
        rv = rootv[hits].tolist()
        cols["uscc"] = [uscc] * len(hl)
        cols["policy_id"] = [self.pids[i] for i in hl]
        cols["verdict"] = ["eligible" if v == 2 else "undetermined" for v in rv]
        cols["unknown"] = [
            ";".join(sorted(set(un_fields[a:b]))) if b > a else "" for a, b in zip(un_a, un_b, strict=True)
        ]
        evidence = ["；".join(pieces[a:b]) for a, b in zip(ev_a, ev_b, strict=True)]
        for k, i in enumerate(hl):
            if self.review[i]:
                evidence[k] = self.review[i] + ("；" + evidence[k] if evidence[k] else "")
        cols["evidence"] = evidence
        cols["mode"] = [self.modes[i] for i in hl]
        amount_max = list(amount)
        for k, i in enumerate(hl):
            if i in self.tiers:
                amount[k], amount_max[k] = self._tier_amounts(i, atom_codes)
            elif math.isnan(amount[k]) and self.base_idx[i] >= 0:
                amount_max[k] = self.cap[i]
        cols["amount"] = amount
        cols["amount_max"] = amount_max
        return cols

    def _amounts(self, hits: np.ndarray, row: dict) -> list:
        """cap, or rate × base capped — vectorised over the matching policies."""
        out = self.cap[hits]
        bi = self.base_idx[hits]
        if self.base_names and (bi >= 0).any():
            xs = np.array(
                [
                    self._number(n, row.get(n)) if n in self._ordered else _to_float(row.get(n))
                    for n in self.base_names
                ]
                + [np.nan]
            )
            x = self.rate[hits] * xs[bi]
            out = np.where(bi >= 0, np.where(np.isnan(out), x, np.fmin(x, out)), out)
            out = np.where((bi >= 0) & np.isnan(x), np.nan, out)
        return out.tolist()

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


def _tree_value(node, atoms: np.ndarray) -> int:
    """Kleene code of a compiled tree from the atoms' codes (tier conditions: a handful of nodes)."""
    from quanhuiqi.eligibility.compiled import Leaf

    if isinstance(node, Leaf):
        v = int(atoms[node.atom])
        return 2 - v if node.neg else v
    vals = [_tree_value(c, atoms) for c in node.children]
    return min(vals) if node.kind == "all" else max(vals)


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
