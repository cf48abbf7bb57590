"""One enterprise's pair features in numpy: what an online call computes, equal bit for bit to the batch.

:meth:`PairFeatureBuilder.transform` is built for millions of pairs: every column goes through pandas
once, which for the ten pairs of one enterprise costs tens of milliseconds of overhead.
:class:`OnlineFeatures` takes a *fitted* builder (its population statistics, history tables, firm effects
and vocabularies — the same objects, read, never refitted) and splits the work by what it depends on:

- per policy, once: mode, bureau, benefit kind, amounts, deadlines, targets, reach, the policy's uptake
  rates, its population row, its groups (bureau key, kind, mode) and firm-effect levels;
- per segment value, once (cached): the city's uptake rates of every policy in that segment;
- per enterprise, on each call: its profile features, its own history (its slice of the enterprise
  tables, found through an offset index), its token indicators;
- per pair: lookups and element-wise arithmetic over the enterprise's candidate policies.

Every number is computed with the batch's own formulas and in the same order (the same ``smooth``, the
same row-wise sums), so the features are bit-identical to the batch's (``tests/rank/test_online_fast.py``
compares every feature of every enterprise of the sample city).  Only pairs dated the builder's day can
be computed: the history tables are read as of that day once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.numeric import NA_KEY, as_days, count_lookup, log1p_clipped, smooth
from quanhuiqi.rank.columns import (
    FEATURES,
    FIRM_EFFECT,
    LIFECYCLE_ORDER,
    MODE_ORDER,
    POLICY_GROUPS,
    RATING_ORDER,
    REVEALED_FEATURES,
    SECTIONS,
    SEGMENTS,
    SIZE_ORDER,
    SPECIFICITY_FEATURES,
    UPTAKE_FEATURES,
)
from quanhuiqi.rank.history import TABLE_KEYS
from quanhuiqi.rank.pairs import policy_groups
from quanhuiqi.tables.record import is_missing

_SECTION = {c: float(i) for i, c in enumerate(SECTIONS)}
_EPOCH = pd.Timestamp("1970-01-01")


def _text(v: Any) -> str | None:
    """A value as the batch's string columns hold it (``astype("string")``), None when missing."""
    if is_missing(v):
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, np.generic):
        v = v.item()
    return str(v)


def _number(v: Any) -> float:
    """``pd.to_numeric(errors="coerce")`` of one value."""
    if is_missing(v):
        return math.nan
    if isinstance(v, float | int | np.floating | np.integer) and not isinstance(v, bool):
        return float(v)
    out = pd.to_numeric(pd.Series([v]), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return float(out[0])


def _tokens(v: Any) -> frozenset[str]:
    t = _text(v)
    return frozenset(x for x in t.split(";") if x) if t is not None else frozenset()


def _count_known(v: Any) -> float:
    """:func:`_count`, 0 when missing (a pair's missing facts)."""
    if type(v) is str:
        if not v:
            return 0.0
        if ";;" not in v and not v.startswith(";") and not v.endswith(";"):
            return float(v.count(";") + 1)
    c = _count(v)
    return 0.0 if math.isnan(c) else c


def _count(v: Any) -> float:
    t = _text(v)
    return math.nan if t is None else float(len([x for x in t.split(";") if x]))


class _Table:
    """A history table read as of the day: per key (a tuple of texts, None for missing), the cumulative
    values of its last row strictly before the day."""

    def __init__(self, table: pd.DataFrame, by: list[str], values: list[str], day: np.datetime64):
        self.values = values
        t = table.loc[table["date"].to_numpy(dtype="datetime64[ns]") < day]
        codes = [np.asarray(t[c].cat.codes, dtype=np.int64) for c in by]
        last = np.ones(len(t), dtype=bool)
        if by and len(t):
            stacked = np.column_stack(codes)
            last[:-1] = (stacked[1:] != stacked[:-1]).any(axis=1)  # sorted by key, then date
        elif len(t):
            last[:-1] = False
        t = t.loc[last]
        self.cols = np.column_stack([np.nan_to_num(t[v].to_numpy(dtype=float, na_value=np.nan), nan=0.0)
                                     for v in values]) if len(t) else np.zeros((0, len(values)))
        self.keys = [np.asarray(t[c].cat.codes, dtype=np.int64) for c in by]
        self.cats = [t[c].cat.categories.astype("string") for c in by]
        self.by = by

    def as_dict(self) -> dict[tuple, np.ndarray]:
        out = {}
        names = [[str(x) for x in c] for c in self.cats]
        for i in range(len(self.cols)):
            key = tuple(None if k[i] < 0 else names[j][k[i]] for j, k in enumerate(self.keys))
            out[key] = self.cols[i]
        return out


class _EnterpriseTable:
    """An enterprise-keyed history table as of the day, each enterprise's rows found by offset."""

    def __init__(self, table: pd.DataFrame, by: list[str], values: list[str], day: np.datetime64):
        tab = _Table(table, by, values, day)
        keep = tab.keys[0] >= 0  # a push without an enterprise belongs to no one's history
        tab.keys = [k[keep] for k in tab.keys]
        tab.cols = tab.cols[keep]
        self.values = values
        self.u = tab.keys[0]
        self.second = [str(x) for x in tab.cats[1]] if len(by) > 1 else None
        self.k2 = tab.keys[1] if len(by) > 1 else None
        self.cols = tab.cols
        self.n_u = len(tab.cats[0])
        order = np.argsort(self.u, kind="stable")  # already sorted by uscc: kept as it is
        assert (order == np.arange(len(order))).all()
        self.start = np.searchsorted(self.u, np.arange(self.n_u + 1), side="left")

    def rows(self, u: int) -> dict[Any, np.ndarray]:
        if u < 0 or u >= self.n_u:
            return {}
        lo, hi = self.start[u], self.start[u + 1]
        if self.k2 is None:
            return {None: self.cols[lo]} if hi > lo else {}
        return {(None if self.k2[i] < 0 else self.second[self.k2[i]]): self.cols[i] for i in range(lo, hi)}


class OnlineFeatures:
    """The features of a fitted :class:`~quanhuiqi.rank.PairFeatureBuilder` for one enterprise's pairs.

    ``builder``: fitted on the day's population (or the city's statistics) and history; ``policies``:
    the ranker's policy frame (``rank.pairs.policy_frame(book)``); ``as_of``: the day every pair is dated.
    ``features(row, pairs)`` → a (pairs × features) float matrix in :attr:`names` order.
    """

    def __init__(self, builder: Any, policies: pd.DataFrame, as_of: Any) -> None:
        if getattr(builder, "population_", None) is None:
            raise ValueError("OnlineFeatures needs a builder fitted on a dated population")
        self.b = builder
        self.names = list(FEATURES) + builder._extra()
        self.at = {c: i for i, c in enumerate(self.names)}
        day = pd.Timestamp(as_of).normalize()
        self.day = day
        self.today = float((day - _EPOCH).days)
        pol = policies.drop_duplicates("policy_id").reset_index(drop=True)
        ids = pol["policy_id"].astype("string")
        self.ids = [str(p) for p in ids]
        self.row_of = {p: i for i, p in enumerate(self.ids)}
        n = len(pol)
        self.cols = set(pol.columns)

        def num(col: str) -> np.ndarray:
            if col not in pol.columns:
                return np.full(n, np.nan)
            return pd.to_numeric(pol[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

        def codes(col: str, vocab: list[str]) -> np.ndarray:
            if col not in pol.columns or not vocab:
                return np.full(n, np.nan)
            lookup = {v: float(i) for i, v in enumerate(vocab)}
            return np.array([lookup.get(t, np.nan) if (t := _text(v)) is not None else np.nan
                             for v in pol[col].to_numpy(dtype=object)])

        self.department = codes("department", builder.departments_)
        self.benefit_kind = codes("benefit_kind", builder.benefit_kinds_)
        self.cap = num("max_amount")
        self.log_max_amount = log1p_clipped(self.cap)
        self.rate = num("amount_rate")
        self.has_amount = "amount_rate" in pol.columns and "amount_base" in pol.columns
        self.base = ([_text(v) for v in pol["amount_base"].to_numpy(dtype=object)] if "amount_base" in pol.columns
                     else [None] * n)
        self.base_names = sorted({b for b in self.base if b is not None})
        self.base_code = np.array([-1 if b is None else self.base_names.index(b) for b in self.base], dtype=np.int64)
        vt = as_days(pol["valid_to"]) if "valid_to" in pol.columns else pd.Series(pd.NaT, index=pol.index)
        vf = as_days(pol["valid_from"]) if "valid_from" in pol.columns else pd.Series(pd.NaT, index=pol.index)
        self.days_to_deadline = (vt - day).dt.days.to_numpy(dtype=float, na_value=np.nan)
        self.policy_age_days = (day - vf).dt.days.to_numpy(dtype=float, na_value=np.nan)
        self.valid_days = (vt - vf).dt.days.to_numpy(dtype=float, na_value=np.nan)
        self.targets = {}
        for col in ("target_industries", "target_certifications", "target_chains", "target_districts"):
            if col in pol.columns:
                sets = [_tokens(v) for v in pol[col].to_numpy(dtype=object)]
                if col == "target_districts":  # a city-wide test ("3701") targets no one
                    sets = [frozenset(t for t in s if len(t) > 4) for s in sets]
                self.targets[col] = sets
        # the population: each policy's row in the day's statistics
        stats = builder.population_
        if len(stats.days) != 1 or pd.Timestamp(stats.days[0]) != day:
            raise ValueError(f"OnlineFeatures: the builder's population is not the population of {day.date()}")
        self.stats = stats
        g = np.asarray(stats.policies.get_indexer(pd.Index(ids, dtype="string")), dtype=np.int64)
        self.g = g
        self.n_pol = np.where(g >= 0, stats.n_pol[np.maximum(g, 0)], 0.0)
        self.n_ent = float(stats.n_ent[0])
        self.seg_index = {short: {str(k): i for i, k in enumerate(t[0])} for short, t in stats.lift.items()}
        self.overlap = {}
        for name, (tokens, share) in stats.overlap.items():
            self.overlap[name] = (list(tokens), share)
        # the policies' groups (bureau key, benefit kind, mode): as the batch derives them
        groups = policy_groups(pol)
        self.groups = {c: ([_text(v) for v in groups[c].to_numpy(dtype=object)] if groups is not None
                           and c in groups.columns else None) for c in POLICY_GROUPS.values()}
        # each group's values as codes (-1: none), so an enterprise's own rows and a segment's rows are
        # looked up per distinct value, not per pair
        self._gcode: dict[str, tuple[np.ndarray, list[str], dict[str, int]]] = {}
        for c, vals in self.groups.items():
            if vals is None:
                continue
            distinct = sorted({v for v in vals if v is not None})
            code = {v: i for i, v in enumerate(distinct)}
            self._gcode[c] = (np.array([-1 if v is None else code[v] for v in vals], dtype=np.int64), distinct, code)
        self._history(builder, ids)
        self._firm_levels(builder, pol)
        self._seg_cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._group_cache: dict[tuple[str, Any], np.ndarray] = {}

    # -- history, read as of the day ------------------------------------------------------------
    def _history(self, builder: Any, ids: pd.Series) -> None:
        hs = builder.history_
        self.hist = hs is not None
        if hs is None:
            return
        t = hs.tables
        day = self.day.as_unit("ns").to_datetime64()
        vals = ["n", "clicks", "applies"]
        a = builder.smoothing
        g = _Table(t["global"], [], vals, day).as_dict().get((), np.zeros(3))
        self.g_click = smooth(np.array([g[1]]), np.array([g[0]]), 0.05, 1.0)
        self.g_apply = smooth(np.array([g[2]]), np.array([g[0]]), 0.01, 1.0)
        pol = _Table(t["policy"], ["policy_id"], vals, day).as_dict()
        p = np.array([pol.get((str(i),), np.zeros(3)) for i in ids]).reshape(len(ids), 3)
        self.p_click = smooth(p[:, 1], p[:, 0], np.broadcast_to(self.g_click, len(ids)), a)
        self.p_apply = smooth(p[:, 2], p[:, 0], np.broadcast_to(self.g_apply, len(ids)), a)
        self.seg_tables = {short: _Table(t[short], TABLE_KEYS[short], vals, day).as_dict()
                           for short in SEGMENTS if short in t}
        self.group_tables = {name: _Table(t[name], TABLE_KEYS[name], vals, day).as_dict()
                             for name in t if name.startswith("seg_") and name in TABLE_KEYS}
        self.ent = _EnterpriseTable(t["enterprise"], ["uscc"], vals + ["last_click_days"], day) \
            if "enterprise" in t else None
        self.pair = _EnterpriseTable(t["pair"], ["uscc", "policy_id"], vals, day) if "pair" in t else None
        self.ent_groups = {name: _EnterpriseTable(t[name], TABLE_KEYS[name], vals, day)
                           for name in t if name.startswith("ent_")}
        cats = t["enterprise"]["uscc"].cat.categories if "enterprise" in t else pd.Index([])
        self.uscc_code = {str(u): i for i, u in enumerate(cats.astype("string"))}

    def _seg_rates(self, short: str, value: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The city's click and apply counts of every policy within one segment value (cached)."""
        key = (short, value)
        got = self._seg_cache.get(key)
        if got is None:
            table = self.seg_tables[short]
            rows = np.array([table.get((pid, value), np.zeros(3)) for pid in self.ids]).reshape(-1, 3)
            got = (rows[:, 0], rows[:, 1], rows[:, 2])
            self._seg_cache[key] = got
        return got

    # -- firm effects ---------------------------------------------------------------------------
    def _firm_levels(self, builder: Any, pol: pd.DataFrame) -> None:
        fe = getattr(builder, "firm_effects_", None)
        self.fe = fe
        if fe is None or not hasattr(fe, "effects_"):
            return
        self.firm_of = {str(u): i for i, u in enumerate(fe.firms_.astype("string"))}
        levels = {}
        for grp in fe.groups:
            vals = self.groups.get(grp)
            idx = {str(v): i for i, v in enumerate(fe.levels_[grp])}
            levels[grp] = np.array([-1 if vals is None or vals[i] is None else idx.get(vals[i], -1)
                                    for i in range(len(pol))], dtype=np.int64)
        self.fe_levels = levels

    # -- one call ---------------------------------------------------------------------------------
    def features(self, row: dict[str, Any], policy_ids: list[str], verdicts: list[Any], unknown: list[Any],
                 modes: list[Any]) -> np.ndarray:
        """The (pairs × features) matrix of one enterprise's pairs, in :attr:`names` order."""
        k = len(policy_ids)
        at = self.at
        P = np.array([self.row_of.get(p, -1) for p in policy_ids], dtype=np.int64)
        if (P < 0).any():
            raise ValueError("OnlineFeatures: a pair names a policy the ranker's policy frame does not hold")
        F = np.full((len(self.names), k), np.nan)
        has = row.__contains__
        # profile (one value for every pair)
        if has("industry_section"):
            s = _text(row["industry_section"])
            F[at["industry_section"]] = _SECTION.get(s, np.nan) if s is not None else np.nan
        for name, order in (("size_class", SIZE_ORDER), ("lifecycle_stage", LIFECYCLE_ORDER),
                            ("tax_credit_rating", RATING_ORDER)):
            if has(name):
                s = _text(row[name])
                F[at[name]] = order.get(s, np.nan) if s is not None else np.nan
        if has("established_on"):
            est = _day(row["established_on"])
            F[at["age_years"]] = np.nan if est is None else (self.day - est).days / 365.25
        elif has("age_years"):
            F[at["age_years"]] = _number(row["age_years"])
        F[at["log_revenue"]] = log1p_clipped(np.array([self._num(row, "revenue")]))[0]
        F[at["revenue_growth"]] = np.clip(self._num(row, "revenue_growth"), -1, 10)
        F[at["rd_ratio"]] = np.clip(self._num(row, "rd_ratio"), 0, 1)
        F[at["log_employees"]] = log1p_clipped(np.array([self._num(row, "employees")]))[0]
        F[at["log_registered_capital"]] = log1p_clipped(np.array([self._num(row, "registered_capital")]))[0]
        if has("above_scale"):
            F[at["above_scale"]] = _flag(row["above_scale"])
        for name, col in (("n_certifications", "certifications"), ("n_chains", "chains"), ("n_tags", "tags")):
            if has(col):
                F[at[name]] = _count(row[col])
        # policy
        F[at["mode"]] = [MODE_ORDER.get(m, np.nan) if (m := _text(v)) is not None else np.nan for v in modes]
        F[at["department"]] = self.department[P]
        F[at["benefit_kind"]] = self.benefit_kind[P]
        F[at["log_max_amount"]] = self.log_max_amount[P]
        F[at["log_amount_est"]] = log1p_clipped(self._amount(row, P))
        F[at["days_to_deadline"]] = self.days_to_deadline[P]
        F[at["policy_age_days"]] = self.policy_age_days[P]
        F[at["valid_days"]] = self.valid_days[P]
        self._specificity(F, row, P)
        self._targets(F, row, P)
        F[at["is_eligible"]] = [float(x == "eligible") if type(x) is str and x.strip() else
                                np.nan if (v := _text(x)) is None else float(v == "eligible") for x in verdicts]
        F[at["n_unknown"]] = [_count_known(u) for u in unknown]
        if self.hist:
            self._history_features(F, row, P)
        else:
            for c in UPTAKE_FEATURES + [f for f in FEATURES if f.startswith(("ent_", "pair_"))] + REVEALED_FEATURES:
                F[at[c]] = np.nan
        if FIRM_EFFECT in at:
            F[at[FIRM_EFFECT]] = self._firm_effect(row, P)
        return F.T

    def _num(self, row: dict, col: str) -> float:
        return _number(row[col]) if col in row else math.nan

    def _amount(self, row: dict, P: np.ndarray) -> np.ndarray:
        """min(cap, rate × the enterprise's base), the cap where that is unknown — over all pairs at once
        (the same element-wise operations as the batch)."""
        cap = self.cap[P]
        if not self.has_amount:
            return cap
        bi = self.base_code[P]
        if not (bi >= 0).any():
            return cap
        xs = np.array([_number(row[b]) if b in row else math.nan for b in self.base_names] + [math.nan])
        v = np.minimum(cap, self.rate[P] * xs[bi])
        return np.where((bi >= 0) & np.isfinite(v), v, cap)

    def _specificity(self, F: np.ndarray, row: dict, P: np.ndarray) -> None:
        at, stats = self.at, self.stats
        g = self.g[P]
        if (g < 0).any():  # a policy with no candidate in the day's population (a changed record): unknown
            rest = np.flatnonzero(g >= 0)
            sub = np.full((F.shape[0], len(rest)), np.nan)
            self._specificity(sub, row, P[rest])
            for c in SPECIFICITY_FEATURES:
                F[at[c]] = np.nan
                F[at[c], rest] = sub[at[c]]
            return
        n_pol = self.n_pol[P]
        F[at["policy_reach"]] = n_pol / self.n_ent
        for short, col in SEGMENTS.items():
            table = stats.lift.get(short)
            if table is None or col not in row:
                continue  # NaN
            s_keys, in_pol_t, base_t = table
            n_s = max(len(s_keys), 1)
            v = _text(row[col])
            s = self.seg_index[short].get(NA_KEY if v is None else v, -1)
            in_pol = count_lookup(in_pol_t, g * n_s + s if s >= 0 else np.full(len(P), -1)) / n_pol
            base = base_t[s] if s >= 0 else 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                lift = in_pol / (base / self.n_ent)
            F[at[f"lift_{short}"]] = np.nan if v is None else lift
        for name, col in (("chain_overlap", "chains"), ("tag_overlap", "tags")):
            entry = self.overlap.get(name)
            if entry is None or col not in row:
                continue
            tokens, share = entry
            if not tokens:
                F[at[name]] = 0.0
                continue
            held_set = _tokens(row[col])
            U = np.array([[t in held_set for t in tokens]], dtype=float)
            m = np.repeat(U, len(P), axis=0)
            held = m.sum(axis=1)
            F[at[name]] = np.where(held > 0, (m * share[g]).sum(axis=1) / np.maximum(held, 1.0), 0.0)

    def _targets(self, F: np.ndarray, row: dict, P: np.ndarray) -> None:
        at = self.at
        code = _text(row["industry_code"]) if "industry_code" in row else None
        sec = (_text(row["industry_section"]) if "industry_section" in row else None) or ""
        t = self.targets.get("target_industries")
        if t is not None and "industry_code" in row:
            F[at["industry_match"]] = [np.nan if not t[p] or not code else
                                       float(any(sec == x if x.isalpha() else code.startswith(x) for x in t[p]))
                                       for p in P]
        for name, col, tcol in (("cert_match", "certifications", "target_certifications"),
                                ("chain_match", "chains", "target_chains")):
            t = self.targets.get(tcol)
            if t is None or col not in row:
                continue
            mine = _tokens(row[col])
            F[at[name]] = [np.nan if not t[p] else float(bool(t[p] & mine)) for p in P]
        t = self.targets.get("target_districts")
        if t is not None and "district_code" in row:
            dis = _text(row["district_code"]) or ""
            F[at["district_match"]] = [np.nan if not t[p] or not dis else
                                       float(any(sec == x if x.isalpha() else dis.startswith(x) for x in t[p]))
                                       for p in P]

    def _history_features(self, F: np.ndarray, row: dict, P: np.ndarray) -> None:
        at, a = self.at, self.b.smoothing
        k = len(P)
        g_click = np.broadcast_to(self.g_click, k)
        g_apply = np.broadcast_to(self.g_apply, k)
        p_click, p_apply = self.p_click[P], self.p_apply[P]
        F[at["policy_click_rate"]] = p_click
        F[at["policy_apply_rate"]] = p_apply
        for short, col in SEGMENTS.items():
            if short not in self.seg_tables or col not in row:
                continue  # NaN
            v = _text(row[col])
            if v is None:
                continue  # an enterprise without the segment: NaN
            n, clicks, applies = (x[P] for x in self._seg_rates(short, v))
            F[at[f"seg_click_rate_{short}"]] = smooth(clicks, n, p_click, a)
            F[at[f"seg_apply_rate_{short}"]] = smooth(applies, n, p_apply, a)
        u = self.uscc_code.get(_text(row.get("uscc")) or "", -1)
        e = self.ent.rows(u).get(None, np.zeros(4)) if self.ent is not None else np.zeros(4)
        n_e = np.full(k, e[0])
        F[at["ent_pushes"]] = n_e
        e_click = smooth(np.full(k, e[1]), n_e, g_click, 5.0)
        e_apply = smooth(np.full(k, e[2]), n_e, g_apply, 5.0)
        F[at["ent_click_rate"]] = e_click
        F[at["ent_apply_rate"]] = e_apply
        last = e[3]
        F[at["ent_days_since_click"]] = self.today - last if last > 0 else np.nan
        pr = np.zeros((k, 3))
        if self.pair is not None:
            for pid, vals in self.pair.rows(u).items():  # the enterprise's few earlier pushes
                j = self.row_of.get(pid, -1)
                if j >= 0:
                    pr[P == j] = vals
        F[at["pair_prev_pushes"]] = pr[:, 0]
        F[at["pair_prev_clicked"]] = (pr[:, 1] > 0).astype(float)
        div = _text(row["industry_division"]) if SEGMENTS["industry"] in row else None
        has_div = SEGMENTS["industry"] in row
        zero = np.zeros(3)
        for short, col in POLICY_GROUPS.items():
            table = self.ent_groups.get(f"ent_{short}")
            if col not in self._gcode or table is None:
                continue
            codes, distinct, code_of = self._gcode[col]
            gc = codes[P]
            known = gc >= 0
            r = np.zeros((k, 3))
            for x, vals in table.rows(u).items():
                c = code_of.get(x, -1) if x is not None else -1
                if c >= 0:
                    r[gc == c] = vals
            n = r[:, 0]
            if short == "dept":
                F[at["ent_dept_pushes"]] = np.where(known, n, np.nan)
            F[at[f"ent_{short}_click_rate"]] = np.where(known, smooth(r[:, 1], n, e_click, 2.0), np.nan)
            F[at[f"ent_{short}_apply_rate"]] = np.where(known, smooth(r[:, 2], n, e_apply, 2.0), np.nan)
            seg = self.group_tables.get(f"seg_{short}")
            if seg is not None and has_div:
                key = (short, div)
                rows = self._group_cache.get(key)
                if rows is None:  # the segment's counts per group value (last row: no value)
                    rows = np.array([seg.get((div, x), zero) for x in distinct] + [zero]).reshape(-1, 3)
                    self._group_cache[key] = rows
                s_ = rows[gc]  # -1 reads the last row: zeros
                ok = known & (div is not None)
                if short == "dept":
                    F[at["seg_dept_click_rate"]] = np.where(ok, smooth(s_[:, 1], s_[:, 0], g_click, a), np.nan)
                F[at[f"seg_{short}_apply_rate"]] = np.where(ok, smooth(s_[:, 2], s_[:, 0], g_apply, a), np.nan)

    def _firm_effect(self, row: dict, P: np.ndarray) -> np.ndarray:
        eta = np.zeros(len(P))
        fe = self.fe
        if fe is None or not hasattr(fe, "effects_") or len(fe.firms_) == 0:
            return eta
        firm = self.firm_of.get(_text(row.get("uscc")) or "", -1)
        if firm < 0:
            return eta
        for grp in fe.groups:
            lvl = self.fe_levels[grp][P]
            ok = lvl >= 0
            if ok.any():
                eta[ok] += fe.effects_[grp][firm, lvl[ok]]
        return eta


def _flag(v: Any) -> float:
    """``astype("boolean").astype("Float64")`` of one value: 1.0, 0.0 or NaN."""
    if is_missing(v):
        return math.nan
    if isinstance(v, bool | np.bool_):
        return float(bool(v))
    out = pd.Series([v]).astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return float(out[0])


def _day(v: Any) -> pd.Timestamp | None:
    """``as_days`` of one value: the date at midnight, None when missing or unreadable."""
    if is_missing(v):
        return None
    try:
        ts = pd.to_datetime(v, errors="coerce")
    except (TypeError, ValueError):
        return None
    if pd.isna(ts):
        return None
    if getattr(ts, "tzinfo", None) is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()
