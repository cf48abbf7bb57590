"""Push-history statistics: the city's past pushes as daily cumulative counts, read as of each pair's date.

:class:`HistoryStatistics` lays the push history out once (``fit``) as tables of cumulative pushes,
clicks and applications per key and date — overall, per policy, per (policy, segment), per enterprise,
per (enterprise, policy), per (enterprise, bureau / benefit kind / mode) and per (industry division,
bureau / benefit kind) — and ``features`` reads them strictly before each pair's push date through
the as-of joins of :mod:`quanhuiqi.rank.asof`, smoothing every rate towards the enclosing one.  The
tables are sums over pushes, so tables of disjoint push sets add up key by key and date by date.

The city-level tables (:data:`CITY_TABLES`: overall, per policy, per (policy, segment), per (division,
bureau / kind)) pool every enterprise's pushes; the others (:data:`ENTERPRISE_TABLES`) are each
enterprise's own.  A partition of the daily job holds only its enterprises' pushes, so it fits the
enterprise tables itself and reads the city-level ones from the city's totals (``totals`` of every
partition summed, laid out again by ``city_tables``): the same numbers a run over the whole city reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.numeric import FeatureBlock, as_days, attach, combine_codes, smooth
from quanhuiqi.rank.asof import asof
from quanhuiqi.rank.columns import (
    POLICY_GROUPS,
    REVEALED_FEATURES,
    SEGMENTS,
)
from quanhuiqi.rank.counts import KeyedCounts
from quanhuiqi.rank.pairs import policy_groups

# what each table is keyed by (besides the date); city-level tables pool every enterprise's pushes
TABLE_KEYS: dict[str, list[str]] = {
    "global": [],
    "policy": ["policy_id"],
    **{short: ["policy_id", col] for short, col in SEGMENTS.items()},
    **{f"seg_{short}": [SEGMENTS["industry"], col] for short, col in POLICY_GROUPS.items() if short != "mode"},
    "enterprise": ["uscc"],
    "pair": ["uscc", "policy_id"],
    **{f"ent_{short}": ["uscc", col] for short, col in POLICY_GROUPS.items()},
}
CITY_TABLES = ("global", "policy", *SEGMENTS, *(f"seg_{s}" for s in POLICY_GROUPS if s != "mode"))
ENTERPRISE_TABLES = tuple(t for t in TABLE_KEYS if t not in CITY_TABLES)
VALUES = ("n", "clicks", "applies")


class HistoryStatistics:
    """The push history's daily cumulative tables (``tables``: name → frame of keys, ``date``, ``n``,
    ``clicks``, ``applies`` [, ``last_click_days``]), with the day codes of each table kept between
    transforms (an online call transforms a few rows against the same tables)."""

    def __init__(self, tables: dict[str, pd.DataFrame], frame: pd.DataFrame | None = None) -> None:
        self.tables = tables
        self.frame = frame  # the history the tables were fitted on (the firm effects fit on its rows)
        self._right_days: dict[int, tuple] = {}

    @classmethod
    def fit(cls, history: pd.DataFrame, segments_from: pd.DataFrame,
            policies_from: pd.DataFrame | None = None, only: tuple[str, ...] | None = None) -> HistoryStatistics:
        """The cumulative tables of ``history`` (``date, uscc, policy_id, clicked, applied``), with each
        push's enterprise segments from ``segments_from`` and its policy's groups from ``policies_from``;
        ``only``: just these tables (e.g. :data:`CITY_TABLES`)."""
        missing = [c for c in ("date", "uscc", "policy_id", "clicked", "applied") if c not in history.columns]
        if missing:
            raise ValueError(f"push history: missing column(s) {', '.join(missing)}")
        h = pd.DataFrame(
            {
                "date": as_days(history["date"]).to_numpy(),
                "uscc": pd.Categorical(history["uscc"].astype("string")),
                "policy_id": pd.Categorical(history["policy_id"].astype("string")),
                "n": 1.0,
                "clicks": history["clicked"].astype("boolean").fillna(False).to_numpy(dtype=float),
                "applies": history["applied"].astype("boolean").fillna(False).to_numpy(dtype=float),
            }
        )
        if h["date"].isna().any():
            raise ValueError(f"push history: {int(h['date'].isna().sum())} row(s) with an unreadable date")
        h["last_click"] = h["date"].where(h["clicks"] > 0)
        seg_cols = [c for c in SEGMENTS.values() if c in segments_from.columns]
        segs = segments_from[["uscc"] + seg_cols].drop_duplicates("uscc").astype({"uscc": "string"})
        for c in seg_cols:  # a left join on the key, done once per distinct enterprise
            h[c] = attach(h["uscc"].array, segs, "uscc", c)
        if policies_from is not None and "policy_id" in policies_from.columns:
            policies_from = policies_from.loc[~policies_from["policy_id"].astype("string").duplicated().to_numpy()]
        attrs = policy_groups(policies_from)
        if attrs is not None:
            for c in attrs.columns.drop("policy_id"):
                h[c] = attach(h["policy_id"].array, attrs, "policy_id", c)
        group_cols = [c for c in POLICY_GROUPS.values() if c in h.columns]
        for c in ["uscc", "policy_id"] + seg_cols + group_cols:  # hash the keys once, not in every group-by
            if not isinstance(h[c].dtype, pd.CategoricalDtype):
                h[c] = h[c].astype("string").astype("category")

        vals = ["n", "clicks", "applies"]
        days, day_code = np.unique(h["date"].to_numpy(), return_inverse=True)
        weights = {v: h[v].to_numpy(dtype=float) for v in vals}
        key_codes = {c: np.asarray(h[c].cat.codes, dtype=np.int64) for c in h.columns
                     if isinstance(h[c].dtype, pd.CategoricalDtype)}

        def cum(by: list[str]) -> pd.DataFrame:
            """Daily sums per (``by``, date), accumulated over the dates of each ``by`` group (bincounts
            on integer codes; counts of 0/1 pushes, so the float sums are exact)."""
            codes = [np.where(key_codes[c] < 0, len(h[c].cat.categories), key_codes[c]) for c in by]
            codes.append(day_code.astype(np.int64))
            sizes = [len(h[c].cat.categories) + 1 for c in by] + [len(days)]
            cells = float(np.prod(sizes, dtype=float))
            totals: dict[str, np.ndarray] = {}
            if cells < 2.0**62:  # one sortable integer per (keys, date)
                key = np.zeros(len(h), dtype=np.int64)
                for code, size in zip(codes, sizes):
                    key = key * size + code
                if cells <= max(4 * len(h), 1 << 22):  # small key space: count into it directly
                    uniq = np.flatnonzero(np.bincount(key, minlength=int(cells)))  # sorted
                    for v in vals:
                        totals[v] = np.bincount(key, weights=weights[v], minlength=int(cells))[uniq]
                else:  # sorted distinct keys (missing last, then date): hash, then sort the distinct ones
                    first_seen, uniq = pd.factorize(key)
                    srt = np.argsort(uniq, kind="stable")
                    rank = np.empty(len(srt), dtype=np.int64)
                    rank[srt] = np.arange(len(srt))
                    uniq, inverse = uniq[srt], rank[first_seen]
                    for v in vals:
                        totals[v] = np.bincount(inverse, weights=weights[v], minlength=len(uniq))
                combos = np.empty((len(uniq), len(codes)), dtype=np.int64)
                rest = uniq
                for j in range(len(codes) - 1, -1, -1):
                    rest, combos[:, j] = np.divmod(rest, sizes[j])
            else:
                inverse, combos = combine_codes(*codes)
                order = np.lexsort(combos.T[::-1])  # by the keys (missing last), then the date
                combos = combos[order]
                for v in vals:
                    totals[v] = np.bincount(inverse, weights=weights[v], minlength=len(order))[order]
            new_group = np.ones(len(combos), dtype=bool)
            if by and len(combos):
                new_group[1:] = (combos[1:, :-1] != combos[:-1, :-1]).any(axis=1)
            elif len(combos):
                new_group[1:] = False
            start = np.maximum.accumulate(np.where(new_group, np.arange(len(combos)), 0))
            daily = pd.DataFrame(index=range(len(combos)))
            for j, c in enumerate(by):
                k = combos[:, j]
                daily[c] = pd.Categorical.from_codes(np.where(k == len(h[c].cat.categories), -1, k),
                                                     dtype=h[c].dtype)
            daily["date"] = days[combos[:, -1]]
            for v in vals:
                run = np.cumsum(totals[v])
                daily[v] = run - np.where(start > 0, run[np.maximum(start - 1, 0)], 0.0)
            return daily

        tables = {}
        for name, by in TABLE_KEYS.items():
            if (only is not None and name not in only) or not all(c in h.columns for c in by):
                continue
            tables[name] = cum(by)
        if "enterprise" in tables:
            ent = tables["enterprise"]
            last = (h.dropna(subset=["last_click"]).groupby(["uscc", "date"], observed=True)["last_click"].max()
                    .reset_index())
            ent = ent.merge(last, on=["uscc", "date"], how="left")
            ent["last_click"] = ent.groupby("uscc", observed=True)["last_click"].ffill()
            ent["last_click_days"] = (ent["last_click"] - pd.Timestamp("1970-01-01")).dt.days.astype(float)
            tables["enterprise"] = ent
        return cls(tables, history)

    def totals(self, before: pd.Timestamp | str | None = None) -> dict[str, KeyedCounts]:
        """Each city-level table's totals per key over the pushes dated before ``before`` (its last
        cumulative row before that day): the additive form a partition hands over — what that day reads."""
        out = {}
        for name in CITY_TABLES:
            t = self.tables.get(name)
            if t is None:
                continue
            if before is not None:
                t = t.loc[t["date"].to_numpy(dtype="datetime64[ns]") < pd.Timestamp(before).as_unit("ns").to_datetime64()]
            by = TABLE_KEYS[name]
            if len(t) and by:
                codes = np.column_stack([np.asarray(t[c].cat.codes, dtype=np.int64) for c in by])
                last = np.ones(len(t), dtype=bool)
                last[:-1] = (codes[1:] != codes[:-1]).any(axis=1)  # rows are sorted by key, then date
                t = t.loc[last]
            elif len(t):
                t = t.iloc[-1:]
            out[name] = KeyedCounts.from_frame(t, by, VALUES)
        return out

    @staticmethod
    def city_tables(totals: dict[str, KeyedCounts], as_of: pd.Timestamp | str) -> dict[str, pd.DataFrame]:
        """City-level tables for pairs pushed on ``as_of``, from the pushes before it (``totals`` summed
        over every partition): one row per key dated the day before, laid out as :meth:`fit` lays its
        tables out (categorical keys, sorted by code with a missing key last), so :func:`asof` reads
        them as it reads the partition's own."""
        day = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=1)
        out = {}
        for name, kc in totals.items():
            kc = KeyedCounts.sum([kc])  # merged and sorted by key (a missing key last)
            t = kc.frame()
            t.insert(len(kc.names), "date", np.full(len(t), day.as_unit("ns").to_datetime64()))
            for v in VALUES:
                t[v] = t[v].astype(float)
            out[name] = t
        return out


    def features(self, f: FeatureBlock, X: pd.DataFrame, smoothing: float) -> None:
        """Write the uptake, engagement and revealed-preference features of the pairs ``X`` (``uscc,
        policy_id, date`` and the segment / policy group columns) into ``f``, each as of strictly before
        the row's date; ``smoothing``: pseudo-pushes towards the enclosing rate (the builder's)."""
        t = self.tables
        a = smoothing
        left = X[["uscc", "policy_id", "date"] + [c for c in SEGMENTS.values() if c in X.columns]].copy()
        keys: dict[str, object] = {"__right_days__": self._right_days}  # shared below
        g = asof(left, t["global"], [], ["n", "clicks", "applies"], cache=keys)
        g_click = smooth(g["clicks"], g["n"], 0.05, 1.0)
        g_apply = smooth(g["applies"], g["n"], 0.01, 1.0)
        p = asof(left, t["policy"], ["policy_id"], ["n", "clicks", "applies"], cache=keys)
        p_click = smooth(p["clicks"], p["n"], g_click, a)
        p_apply = smooth(p["applies"], p["n"], g_apply, a)
        f["policy_click_rate"] = p_click
        f["policy_apply_rate"] = p_apply
        for short, col in SEGMENTS.items():
            if short in t and col in left.columns:
                s = asof(left, t[short], ["policy_id", col], ["n", "clicks", "applies"], cache=keys)
                missing = pd.isna(X[col]).to_numpy()
                f[f"seg_click_rate_{short}"] = np.where(
                    missing, np.nan, smooth(s["clicks"], s["n"], p_click, a)
                )
                f[f"seg_apply_rate_{short}"] = np.where(
                    missing, np.nan, smooth(s["applies"], s["n"], p_apply, a)
                )
            else:
                f[f"seg_click_rate_{short}"] = np.nan
                f[f"seg_apply_rate_{short}"] = np.nan
        e = asof(left, t["enterprise"], ["uscc"], ["n", "clicks", "applies", "last_click_days"], cache=keys)
        n_e = e["n"]
        f["ent_pushes"] = n_e
        f["ent_click_rate"] = smooth(e["clicks"], n_e, g_click, 5.0)
        f["ent_apply_rate"] = smooth(e["applies"], n_e, g_apply, 5.0)
        today = (X["date"] - pd.Timestamp("1970-01-01")).dt.days.to_numpy(dtype=float)
        last = e["last_click_days"]
        f["ent_days_since_click"] = np.where(last > 0, today - last, np.nan)
        pr = asof(left, t["pair"], ["uscc", "policy_id"], ["n", "clicks"], cache=keys)
        f["pair_prev_pushes"] = pr["n"]
        f["pair_prev_clicked"] = (pr["clicks"] > 0).astype(float)
        self._revealed_features(f, X, left, f["ent_click_rate"], f["ent_apply_rate"],
                                g_click, g_apply, keys, smoothing)

    def _revealed_features(self, f: FeatureBlock, X: pd.DataFrame, left: pd.DataFrame, e_click: np.ndarray,
                           e_apply: np.ndarray, g_click: np.ndarray, g_apply: np.ndarray,
                           keys: dict[str, object], smoothing: float) -> None:
        """The enterprise's (and its division's) past rates on pushes of the same bureau / kind / mode,
        strictly before each row's date, smoothed towards its overall rates (2 pseudo-pushes)."""
        t = self.tables
        groups = policy_groups(X)
        for c in REVEALED_FEATURES:
            f[c] = np.nan
        if groups is None:
            return
        left = left.copy()
        for col in POLICY_GROUPS.values():
            if col in groups.columns:
                left[col] = groups[col].array
        div = SEGMENTS["industry"]
        for short, col in POLICY_GROUPS.items():
            if f"ent_{short}" not in t or col not in left.columns:
                continue
            known = left[col].notna().to_numpy()
            r = asof(left, t[f"ent_{short}"], ["uscc", col], ["n", "clicks", "applies"], cache=keys)
            n = r["n"]
            if short == "dept":
                f["ent_dept_pushes"] = np.where(known, n, np.nan)
            f[f"ent_{short}_click_rate"] = np.where(known, smooth(r["clicks"], n, e_click, 2.0), np.nan)
            f[f"ent_{short}_apply_rate"] = np.where(known, smooth(r["applies"], n, e_apply, 2.0), np.nan)
            if f"seg_{short}" in t and div in left.columns:
                s = asof(left, t[f"seg_{short}"], [div, col], ["n", "clicks", "applies"], cache=keys)
                ok = known & left[div].notna().to_numpy()
                if short == "dept":
                    f["seg_dept_click_rate"] = np.where(
                        ok, smooth(s["clicks"], s["n"], g_click, smoothing), np.nan)
                f[f"seg_{short}_apply_rate"] = np.where(
                    ok, smooth(s["applies"], s["n"], g_apply, smoothing), np.nan)

