"""Population statistics: how narrowly each policy targets each candidate, from the day's candidates.

A policy that reaches few enterprises, or whose candidates are mostly of the enterprise's industry
division, district or size class, or share its chains and tags, is aimed at it.  These statistics are
counts over the *whole* candidate population of a date (every eligible or undetermined pair), so that
training and the daily run see the same populations:

- :func:`specificity` computes :data:`~quanhuiqi.rank.columns.SPECIFICITY_FEATURES` for a whole pair
  frame at once (the reference definition, used when training);
- :class:`PopulationStatistics` keeps the counts per (date, policy[, segment / token]) — ``fit`` from a
  population frame, then ``specificity`` for any subset of its pairs (each enterprise's shortlist, one
  enterprise online) with the values the whole set would give.

The counts (rows per (date, policy), enterprises per date and per (date, segment), rows per (date,
policy, segment), token rows per (date, policy)) are additive over disjoint sets of enterprises; the
token *choice* (the population's ``top`` most frequent chains and tags) is not, which is what summing
partitions into city-wide statistics has to settle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quanhuiqi.numeric import (
    DENSE_CELLS,
    as_days,
    combine_codes,
    count_lookup,
    count_table,
    distinct_sets,
    na_as_key,
    positions,
    small_int,
    value_codes,
)
from quanhuiqi.rank.columns import SEGMENTS
from quanhuiqi.rank.counts import KeyedCounts


def specificity(pairs: pd.DataFrame) -> pd.DataFrame:
    """How narrowly each policy targets each candidate, from the candidate population of the same date.

    ``pairs`` must be the *whole* candidate set of each date (every eligible/undetermined pair), so that
    training and the daily run see the same populations.  Returns the ``SPECIFICITY_FEATURES`` columns,
    aligned with ``pairs``.  Integer codes and bincounts throughout (no string group-bys).
    """
    out = pd.DataFrame(index=pairs.index)
    d = pd.factorize(as_days(pairs["date"]).to_numpy())[0].astype(np.int64)
    pcode = np.asarray(pd.factorize(pairs["policy_id"].astype("string"))[0], dtype=np.int64)
    ucode = np.asarray(pd.factorize(pairs["uscc"].astype("string"))[0], dtype=np.int64)
    n_u = int(ucode.max()) + 1 if len(ucode) else 1
    du = d * n_u + ucode
    first = np.unique(du, return_index=True)[1]  # one row per (date, enterprise)
    n_ent = np.bincount(d[first], minlength=int(d.max()) + 1 if len(d) else 1).astype(float)[d]
    dp_inv, _ = combine_codes(d, pcode)
    n_pol = np.bincount(dp_inv).astype(float)[dp_inv]
    out["policy_reach"] = n_pol / n_ent
    for short, col in SEGMENTS.items():
        if col not in pairs.columns:
            out[f"lift_{short}"] = np.nan
            continue
        seg_values = pairs[col].astype("string")
        seg = np.asarray(pd.factorize(seg_values.fillna("<NA>"))[0], dtype=np.int64)
        dps_inv, _ = combine_codes(dp_inv, seg)
        in_pol = np.bincount(dps_inv).astype(float)[dps_inv] / n_pol
        ds_inv, ds_uniq = combine_codes(d, seg)
        # enterprises per (date, segment): count the first row of each (date, enterprise)
        base = np.bincount(ds_inv[first], minlength=len(ds_uniq)).astype(float)[ds_inv]
        lift = in_pol / (base / n_ent)
        out[f"lift_{short}"] = np.where(seg_values.isna().to_numpy(), np.nan, lift)
    for name, col in (("chain_overlap", "chains"), ("tag_overlap", "tags")):
        out[name] = _set_overlap(pairs, dp_inv, col, n_pol) if col in pairs.columns else np.nan
    return out


def _set_overlap(pairs: pd.DataFrame, group: np.ndarray, col: str, n_pol: np.ndarray, top: int = 64) -> np.ndarray:
    """Mean, over the enterprise's tokens, of the share of the policy's candidates holding the same token.

    1 means every candidate of the policy shares the enterprise's chains/tags (the policy targets them);
    0 means none does, or the enterprise holds none.  At most ``top`` most frequent tokens are used.
    """
    codes, sets = distinct_sets(pairs[col].array)
    freq = np.bincount(codes, minlength=len(sets))
    tally: dict[str, int] = {}
    for x, f in zip(sets, freq):
        for t in x:
            tally[t] = tally.get(t, 0) + int(f)
    tokens = sorted(tally, key=lambda t: (-tally[t], t))[:top]
    if not tokens:
        return np.zeros(len(pairs))
    U = np.array([[t in x for t in tokens] for x in sets], dtype=float)  # distinct value × token
    # per (policy group, distinct value) counts, then token shares per policy group
    gv_inv, gv = combine_codes(group, codes)
    counts = np.bincount(gv_inv).astype(float)
    sums = np.zeros((int(group.max()) + 1, len(tokens)))
    np.add.at(sums, gv[:, 0], counts[:, None] * U[gv[:, 1]])
    # the overlap depends on (policy group, distinct value) only: compute it per combination, then take
    n_pol_g = np.zeros(len(sums))
    n_pol_g[group] = n_pol
    share = sums[gv[:, 0]] / n_pol_g[gv[:, 0], None]
    m = U[gv[:, 1]]
    held = m.sum(axis=1)
    per = np.where(held > 0, (m * share).sum(axis=1) / np.maximum(held, 1.0), 0.0)
    return per[gv_inv]


class _RowValues:
    """A population's enterprise attributes as integer codes, never as per-row strings: from the
    frame's own column when it has one (per row), else from the profile through each row's enterprise
    (per distinct enterprise, then one integer gather)."""

    def __init__(self, frame: pd.DataFrame, profile: pd.DataFrame | None, ent: np.ndarray, ent_keys: pd.Index):
        self.frame, self.ent, self.ent_keys = frame, ent, ent_keys
        self.profile = None if profile is None else profile.drop_duplicates("uscc")
        self._at: np.ndarray | None = None

    def has(self, col: str) -> bool:
        return col in self.frame.columns or (self.profile is not None and col in self.profile.columns)

    def per_row(self, col: str) -> bool:
        return col in self.frame.columns

    def codes(self, col: str, na_key: bool = False) -> tuple[np.ndarray, pd.Index]:
        """(int32 code per row, -1 when missing — or the ``"<NA>"`` key with ``na_key``; distinct values)."""
        if col in self.frame.columns:
            codes, uniques = value_codes(self.frame[col])
            if na_key:
                codes, uniques = na_as_key(codes, uniques)
            return codes.astype(np.int32, copy=False), uniques
        per_key, uniques = self.per_enterprise(col, na_key)
        return per_key[self.ent], uniques

    def per_enterprise(self, col: str, na_key: bool = False) -> tuple[np.ndarray, pd.Index]:
        """(int32 code per enterprise code, the missing enterprise last; distinct values) from the profile."""
        prof = self.profile
        assert prof is not None
        if self._at is None:
            self._at = positions(pd.Series(self.ent_keys, dtype="string"), prof["uscc"])
        per_ent, uniques = value_codes(prof[col])
        per_key = np.where(self._at < 0, -1, per_ent[np.maximum(self._at, 0)] if len(per_ent) else -1)
        per_key = np.append(per_key, -1)  # the missing-enterprise code (len(ent_keys)) has no profile
        if na_key:
            per_key, uniques = na_as_key(per_key, uniques)
        return per_key.astype(np.int32), uniques


def _fit_counts(frame: pd.DataFrame, profile: pd.DataFrame | None = None,
                as_of: dt.date | str | None = None, top: int | None = 64,
                policy_codes: tuple[np.ndarray, pd.Index] | None = None,
                raw: bool = False) -> dict[str, object] | None:
    """The targeting statistics of :func:`specificity`, kept per (date, policy[, segment / token]) so
    that any subset of the population can look them up: rows per (date, policy), enterprises per date
    and per (date, segment), rows per (date, policy, segment), token shares per (date, policy).

    ``frame``: the candidate population (``uscc``, ``policy_id`` [, ``date``]); its enterprises'
    segments, chains and tags come from its own columns or, when it has none, from ``profile``.
    Integer codes and bincounts only (categorical key columns are read from their codes, int32 arrays),
    so 15 million candidates take seconds.  None when the population has no date (and no ``as_of``).
    ``top=None`` keeps every token; ``raw`` keeps the token *rows* per (date, policy) instead of their
    shares (the additive form, :func:`population_counts`)."""
    n = len(frame)
    if "date" in frame.columns:
        day_values = as_days(frame["date"]).to_numpy()
        if pd.isna(day_values).any():
            return None
        days, d = np.unique(day_values, return_inverse=True)
        d = d.astype(np.int32) if len(days) > 1 else None
    elif as_of is not None:
        days, d = np.array([pd.Timestamp(as_of).normalize().as_unit("ns").to_datetime64()]), None
    else:
        return None
    n_days = max(len(days), 1)
    u, u_keys = value_codes(frame["uscc"])
    n_u = len(u_keys) + 1
    u = small_int(u, n_u - 1)
    p, p_keys = policy_codes if policy_codes is not None else value_codes(frame["policy_id"])
    n_p = len(p_keys) + 1
    g = small_int(p, n_p - 1)
    if d is not None:
        g = g + d * np.int32(n_p)
    n_g = n_days * n_p
    n_pol = np.bincount(g, minlength=n_g).astype(float)
    rows = _RowValues(frame, profile, u, u_keys)
    # enterprises present per date (and, for attributes carried per row, the first row of each
    # (date, enterprise): its value is the enterprise's, as in specificity)
    du = u.astype(np.int64) if d is None else d.astype(np.int64) * n_u + u
    if n_days * n_u <= DENSE_CELLS:
        present = np.flatnonzero(np.bincount(du, minlength=n_days * n_u))
    else:
        present = np.unique(du)
    present_d, present_u = np.divmod(present, n_u)
    n_ent = np.bincount(present_d, minlength=n_days).astype(float)
    first: np.ndarray | None = None
    if any(rows.per_row(c) for c in SEGMENTS.values()):
        if n_days * n_u <= DENSE_CELLS:
            at = np.full(n_days * n_u, -1, dtype=np.int64)
            at[du[::-1]] = np.arange(n - 1, -1, -1, dtype=np.int64)
            first = at[present]
        else:
            first = np.unique(du, return_index=True)[1]
    del du
    stats: dict[str, object] = {"days": days, "policies": p_keys, "n_pol": n_pol, "n_ent": n_ent, "lift": {},
                                "overlap": {}}
    for short, col in SEGMENTS.items():
        if not rows.has(col):
            continue
        if rows.per_row(col):
            s, s_keys = rows.codes(col, na_key=True)
            s_first = s[first]
        else:
            s_ent, s_keys = rows.per_enterprise(col, na_key=True)
            s, s_first = s_ent[u], s_ent[present_u]
        n_s = max(len(s_keys), 1)
        in_pol = count_table(g.astype(np.int64) * n_s + s if n_g * n_s >= 2**31 else g * np.int32(n_s) + s,
                              n_g * n_s)
        base = np.bincount(present_d * n_s + s_first, minlength=n_days * n_s).astype(float)
        stats["lift"][short] = (s_keys, in_pol, base)  # type: ignore[index]
        del s
    for name, col in (("chain_overlap", "chains"), ("tag_overlap", "tags")):
        if not rows.has(col):
            continue
        v, v_keys = rows.codes(col)
        sets = [frozenset(t for t in str(x).split(";") if t) for x in v_keys]
        n_v = len(sets) + 1
        v = np.where(v < 0, np.int32(n_v - 1), v) if (v < 0).any() else v
        sets.append(frozenset())  # missing: no token
        if n_g * n_v <= DENSE_CELLS:  # (policy group × distinct value) row counts
            key = g * np.int32(n_v) + v if n_g * n_v < 2**31 else g.astype(np.int64) * n_v + v
            counts = np.bincount(key, minlength=n_g * n_v).astype(float)
            del key
            freq = counts.reshape(n_g, n_v).sum(axis=0)
            combo = np.flatnonzero(counts)
            counts = counts[combo]
        else:
            combo, counts = np.unique(g.astype(np.int64) * n_v + v, return_counts=True)
            counts = counts.astype(float)
            freq = np.bincount(combo % n_v, weights=counts, minlength=n_v)
        del v
        tally: dict[str, int] = {}
        for x, f in zip(sets, freq):
            for t in x:
                tally[t] = tally.get(t, 0) + int(f)
        tokens = sorted(tally, key=lambda t: (-tally[t], t))[:top]
        share = np.zeros((n_g, len(tokens)))
        sums = share
        if tokens:
            U = np.array([[t in x for t in tokens] for x in sets], dtype=float)  # distinct value × token
            if n_g * n_v <= DENSE_CELLS:  # (policy group × distinct value) counts @ (value × token)
                dense = np.zeros(n_g * n_v)
                dense[combo] = counts
                sums = dense.reshape(n_g, n_v) @ U  # integer-valued: exact in any order
            else:
                sums = np.zeros((n_g, len(tokens)))
                for lo in range(0, len(combo), 1 << 16):  # bounded memory for huge populations
                    c = combo[lo: lo + (1 << 16)]
                    np.add.at(sums, c // n_v, counts[lo: lo + (1 << 16), None] * U[c % n_v])
            with np.errstate(divide="ignore", invalid="ignore"):
                share = sums / n_pol[:, None]
        stats["overlap"][name] = (tokens, sums if raw else share)  # type: ignore[index]
    return stats


def _specificity_from(stats: dict[str, object], X: pd.DataFrame, date: np.ndarray) -> dict[str, np.ndarray]:
    """:data:`SPECIFICITY_FEATURES` of the pairs ``X`` (with push dates ``date``) looked up in the
    statistics of their population (:meth:`PopulationStatistics.fit`).  Every row's (date, policy) must
    be in that population."""
    n = len(X)
    days: np.ndarray = stats["days"]  # type: ignore[assignment]
    p_keys: pd.Index = stats["policies"]  # type: ignore[assignment]
    n_pol_g: np.ndarray = stats["n_pol"]  # type: ignore[assignment]
    n_p = len(p_keys) + 1
    d_codes, d_uniq = pd.factorize(date)
    at = np.searchsorted(days, d_uniq)
    at = np.where((at < len(days)) & (days[np.minimum(at, len(days) - 1)] == d_uniq), at, -1)
    d = at[d_codes] if len(at) else np.zeros(0, dtype=np.int64)
    p_codes, p_uniq = value_codes(X["policy_id"])
    p_at = p_keys.get_indexer(p_uniq) if len(p_uniq) else np.zeros(0, dtype=np.int64)
    p = np.where(p_codes < 0, n_p - 1, p_at[np.maximum(p_codes, 0)] if len(p_at) else -1)
    g = np.where((d >= 0) & (p >= 0), d * n_p + p, -1)
    n_pol = np.where(g >= 0, n_pol_g[np.maximum(g, 0)], 0.0)
    if (n_pol == 0).any():
        bad = int((n_pol == 0).sum())
        raise ValueError(f"pair frame: {bad} row(s) whose (date, policy) is not in the population the builder "
                         "was fitted on; fit on the whole candidate population of those dates")
    n_ent = stats["n_ent"][d]  # type: ignore[index]
    out: dict[str, np.ndarray] = {"policy_reach": n_pol / n_ent}
    for short, col in SEGMENTS.items():
        table = stats["lift"].get(short)  # type: ignore[attr-defined]
        if table is None or col not in X.columns:
            out[f"lift_{short}"] = np.full(n, np.nan)
            continue
        s_keys, in_pol_t, base_t = table
        n_s = max(len(s_keys), 1)
        codes, uniq = value_codes(X[col])
        missing = codes < 0
        codes, uniq = na_as_key(codes, uniq)
        s_at = s_keys.get_indexer(uniq) if len(uniq) else np.zeros(0, dtype=np.int64)
        s = s_at[codes] if len(s_at) else np.zeros(n, dtype=np.int64)
        in_pol = count_lookup(in_pol_t, np.where(s >= 0, g * n_s + s, -1)) / n_pol
        base = np.where(s >= 0, base_t[d * n_s + np.maximum(s, 0)], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = in_pol / (base / n_ent)
        out[f"lift_{short}"] = np.where(missing, np.nan, lift)
    for name, col in (("chain_overlap", "chains"), ("tag_overlap", "tags")):
        table = stats["overlap"].get(name)  # type: ignore[attr-defined]
        if table is None or col not in X.columns:
            out[name] = np.full(n, np.nan)
            continue
        tokens, share = table
        if not tokens:
            out[name] = np.zeros(n)
            continue
        codes, sets = distinct_sets(X[col].array)
        U = np.array([[t in x for t in tokens] for x in sets], dtype=float)
        inverse, combos = combine_codes(g, codes)
        per = np.empty(len(combos))
        for lo in range(0, len(combos), 1 << 14):  # small temporaries; each row's sum is the same
            c = combos[lo: lo + (1 << 14)]
            m = U[c[:, 1]]
            held = m.sum(axis=1)
            per[lo: lo + len(c)] = np.where(held > 0, (m * share[c[:, 0]]).sum(axis=1) / np.maximum(held, 1.0), 0.0)
        out[name] = per[inverse]
    return out





@dataclass
class PopulationStatistics:
    """The targeting counts of a candidate population, per (date, policy), looked up by any of its pairs.

    ``fit`` builds them from a population frame (``uscc``, ``policy_id`` [, ``date``], string or
    categorical, with the enterprises' segments, chains and tags from the frame or from ``profile``);
    ``specificity(X, date)`` gives the :data:`~quanhuiqi.rank.columns.SPECIFICITY_FEATURES` of pairs
    ``X`` measured against it.  Fields: ``days`` (sorted), ``policies`` (keys, the missing policy last),
    ``n_pol`` rows per (date, policy), ``n_ent`` enterprises per date, ``lift`` per segment (segment
    keys, rows per (date, policy, segment) table, enterprises per (date, segment)), ``overlap`` per
    token set (tokens, share of the policy's rows holding each token per (date, policy)).
    """

    days: np.ndarray
    policies: pd.Index
    n_pol: np.ndarray
    n_ent: np.ndarray
    lift: dict
    overlap: dict

    @classmethod
    def fit(cls, frame: pd.DataFrame, profile: pd.DataFrame | None = None, as_of: dt.date | str | None = None,
            top: int = 64, policy_codes: tuple[np.ndarray, pd.Index] | None = None) -> PopulationStatistics | None:
        """The statistics of the population ``frame``; None when it has no date (and no ``as_of``) or a
        row without one.  ``policy_codes``: the frame's ``policy_id`` codes when the caller has them."""
        stats = _fit_counts(frame, profile, as_of, top, policy_codes)
        return None if stats is None else cls(**stats)  # type: ignore[arg-type]

    def specificity(self, X: pd.DataFrame, date: np.ndarray) -> dict[str, np.ndarray]:
        """The specificity features of pairs ``X`` pushed on ``date``; refuses a (date, policy) the
        population does not hold."""
        return _specificity_from(vars(self), X, date)

    @classmethod
    def from_counts(cls, counts: PopulationCounts, top: int = 64) -> PopulationStatistics:
        """The statistics of a population given as its additive counts (:func:`population_counts`,
        summed over any split of its enterprises): the same numbers :meth:`fit` gives on the whole
        population, the ``top`` tokens chosen from the summed token rows."""
        day = pd.Timestamp(counts.as_of).normalize().as_unit("ns").to_datetime64()
        pol = counts.policies
        live = (pol.codes[:, 0] >= 0) & (pol.values[:, 0] > 0)
        p_keys = pd.Index(pol.keys[0].take(pol.codes[live, 0]), dtype="string")
        n_p = len(p_keys) + 1
        n_pol = np.zeros(n_p)
        n_pol[:-1] = pol.values[live, 0]
        n_pol[-1] = pol.values[pol.codes[:, 0] < 0, 0].sum()  # rows without a policy (none from eligibility)

        def policy_code(kc: KeyedCounts) -> np.ndarray:
            at = np.asarray(p_keys.get_indexer(kc.keys[0]), dtype=np.int64) if len(kc.keys[0]) else np.zeros(0, np.int64)
            c = kc.codes[:, 0]
            g = np.where(c < 0, n_p - 1, at[np.maximum(c, 0)] if len(at) else n_p - 1)
            return np.where(g < 0, n_p - 1, g)  # a policy with rows only in token tables cannot happen

        lift: dict[str, tuple] = {}
        for short, (in_pol, base) in counts.segments.items():
            s_keys = pd.Index(sorted(set(in_pol.keys[1].astype(str)) | set(base.keys[0].astype(str))), dtype="string")
            n_s = max(len(s_keys), 1)
            s_at = np.asarray(s_keys.get_indexer(in_pol.keys[1]), dtype=np.int64)
            key = policy_code(in_pol) * n_s + s_at[in_pol.codes[:, 1]]
            cells = n_p * n_s
            w = in_pol.values[:, 0].astype(float)
            if cells <= DENSE_CELLS:
                table = (np.bincount(key, weights=w, minlength=cells), np.zeros(0, np.int64), np.zeros(0))
            else:
                order = np.argsort(key, kind="stable")
                table = (None, key[order], w[order])
            b = np.zeros(n_s)
            b[np.asarray(s_keys.get_indexer(base.keys[0]), dtype=np.int64)[base.codes[:, 0]]] = base.values[:, 0]
            lift[short] = (s_keys, table, b)
        overlap: dict[str, tuple] = {}
        for name, kc in counts.tokens.items():
            g = policy_code(kc)
            tally = np.bincount(kc.codes[:, 1], weights=kc.values[:, 0], minlength=len(kc.keys[1]))
            names = [str(t) for t in kc.keys[1]]
            chosen = sorted(range(len(names)), key=lambda i: (-tally[i], names[i]))
            chosen = [i for i in chosen if tally[i] > 0][:top]
            sums = np.zeros((n_p, len(chosen)))
            col = np.full(len(names), -1, dtype=np.int64)
            col[chosen] = np.arange(len(chosen))
            keep = col[kc.codes[:, 1]] >= 0
            np.add.at(sums, (g[keep], col[kc.codes[keep, 1]]), kc.values[keep, 0].astype(float))
            with np.errstate(divide="ignore", invalid="ignore"):
                share = sums / n_pol[:, None]
            overlap[name] = ([names[i] for i in chosen], share)
        return cls(days=np.array([day]), policies=p_keys, n_pol=n_pol, n_ent=np.array([float(counts.enterprises)]),
                   lift=lift, overlap=overlap)


@dataclass
class PopulationCounts:
    """The additive form of one date's :class:`PopulationStatistics`: candidates per policy and per
    (policy, segment value), enterprises per segment value, candidates holding each chain / tag per
    policy, and the number of enterprises with a candidate — counts that add up over disjoint sets of
    enterprises (enterprise partitions), so the city's statistics are the sum of the partitions'."""

    as_of: pd.Timestamp
    enterprises: int
    policies: KeyedCounts  # (policy_id) → rows
    segments: dict[str, tuple[KeyedCounts, KeyedCounts]]  # short → ((policy_id, value) → rows, (value) → enterprises)
    tokens: dict[str, KeyedCounts]  # chain_overlap / tag_overlap → (policy_id, token) → rows

    @classmethod
    def sum(cls, parts: list[PopulationCounts]) -> PopulationCounts:
        days = {pd.Timestamp(p.as_of).normalize() for p in parts}
        if len(days) != 1:
            raise ValueError(f"population counts of different dates: {sorted(str(d.date()) for d in days)}")
        seg_names = [set(p.segments) for p in parts]
        tok_names = [set(p.tokens) for p in parts]
        if any(s != seg_names[0] for s in seg_names) or any(t != tok_names[0] for t in tok_names):
            raise ValueError("population counts with different segment or token columns cannot be added")
        return cls(
            as_of=days.pop(),
            enterprises=int(sum(p.enterprises for p in parts)),
            policies=KeyedCounts.sum([p.policies for p in parts]),
            segments={s: (KeyedCounts.sum([p.segments[s][0] for p in parts]),
                          KeyedCounts.sum([p.segments[s][1] for p in parts])) for s in seg_names[0]},
            tokens={t: KeyedCounts.sum([p.tokens[t] for p in parts]) for t in tok_names[0]},
        )


def population_counts(frame: pd.DataFrame, profile: pd.DataFrame | None, as_of: dt.date | str,
                      policy_codes: tuple[np.ndarray, pd.Index] | None = None) -> PopulationCounts:
    """The additive counts of the candidate population ``frame`` (``uscc``, ``policy_id``; the
    enterprises' segments, chains and tags from the frame or ``profile``) on ``as_of``."""
    if "date" in frame.columns:
        days = pd.unique(as_days(frame["date"]).dropna())
        if len(days) > 1 or (len(days) == 1 and pd.Timestamp(days[0]) != pd.Timestamp(as_of).normalize()):
            raise ValueError("population counts are for one date: the population holds other dates than as_of")
    for col in ("uscc", "policy_id"):
        if frame[col].isna().any():
            raise ValueError(f"population: {int(frame[col].isna().sum())} row(s) without a {col}")
    stats = _fit_counts(frame.drop(columns=["date"], errors="ignore"), profile, as_of, top=None,
                        policy_codes=policy_codes, raw=True)
    assert stats is not None
    p_keys: pd.Index = stats["policies"]  # type: ignore[assignment]
    n_p = len(p_keys) + 1
    n_pol: np.ndarray = stats["n_pol"]  # type: ignore[assignment]
    pol_codes = np.arange(n_p, dtype=np.int64)
    pol_codes[-1] = -1
    live = n_pol > 0
    policies = KeyedCounts(("policy_id",), (p_keys,), pol_codes[live, None], n_pol[live, None].astype(np.int64),
                           ("rows",))

    def policy(g: np.ndarray) -> np.ndarray:
        return np.where(g == n_p - 1, -1, g)

    segments = {}
    for short, (s_keys, table, base) in stats["lift"].items():  # type: ignore[attr-defined]
        n_s = max(len(s_keys), 1)
        dense, keys, vals = table
        if dense is not None:
            keys = np.flatnonzero(dense)
            vals = dense[keys]
        g, s = np.divmod(keys, n_s)
        col = SEGMENTS[short]
        in_pol = KeyedCounts(("policy_id", col), (p_keys, s_keys), np.column_stack([policy(g), s]),
                             vals.astype(np.int64), ("rows",))
        have = np.flatnonzero(base)
        segments[short] = (in_pol, KeyedCounts((col,), (s_keys,), have[:, None], base[have].astype(np.int64),
                                               ("enterprises",)))
    tokens = {}
    for name, (toks, sums) in stats["overlap"].items():  # type: ignore[attr-defined]
        g, t = np.nonzero(sums) if len(toks) else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        tokens[name] = KeyedCounts(("policy_id", "token"), (p_keys, pd.Index(toks, dtype="string")),
                                   np.column_stack([policy(g), t]), sums[g, t].astype(np.int64), ("rows",))
    return PopulationCounts(as_of=pd.Timestamp(as_of).normalize(), enterprises=int(stats["n_ent"][0]),  # type: ignore[index]
                            policies=policies, segments=segments, tokens=tokens)
