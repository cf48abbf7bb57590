"""Per-enterprise random effects on top of a ranker's score (GLMix): what this firm wants, from its own pushes.

A global model learns what the whole city responds to; each enterprise also has its own tastes — a bureau
whose policies it reads, a kind of benefit it applies for, a paperwork tolerance — that only its own past
pushes reveal, and only a few of them.  A tree model given the firm's per-bureau rates as features uses
them weakly; the textbook fix (LinkedIn's GLMix) is a per-entity model on top of the global one, shrunk
towards zero as far as the entity's data are thin.

The model, per enterprise *e* and policy group levels (bureau key, benefit kind, mode of the policy)::

    click   ~ Bernoulli(σ(o_click(p) + η(e, p)))
    apply | click ~ Bernoulli(σ(o_apply(p) + η(e, p)))
    η(e, p) = β_dept[e, dept(p)] + β_kind[e, kind(p)] + β_mode[e, mode(p)],   β ~ N(0, τ²)

with offsets ``o`` the logits of the policy's pooled click and apply-given-click rates over the same
history (smoothed towards the city's rate) — pooled over the whole city: a partition of the daily job
passes the city's counts (:func:`offset_counts` of every partition, summed), so its firms get the effects
a run over the whole city gives them.  The posterior mode of every β is found by block-coordinate
Newton over all enterprises at once (one ``bincount`` per group and sweep; within a group a firm's levels
are mutually exclusive, so each block's Hessian is diagonal); each firm stops moving once its own
effects have converged, so a firm's effects depend on its own pushes and the offsets only.  ``effect(pairs)`` is η for each pair: 0 for
an enterprise without history, for a level it never saw, and for a pair missing its group value.

The ranker adds ``weight × η`` to its score (:class:`quanhuiqi.rank.LambdaRanker`); ``τ`` and the weight are
chosen on the validation window (:func:`quanhuiqi.rank.train.tune_firm_effects`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from quanhuiqi.numeric import value_codes
from quanhuiqi.rank.counts import KeyedCounts
from quanhuiqi.rank.pairs import policy_groups

GROUPS = ("dept_key", "benefit_kind", "mode")
# pseudo-pushes pulling a policy's rate towards the city's (the offset), as the features' smoothing does
RATE_SMOOTHING = 2.0


def _logit(p: np.ndarray) -> np.ndarray:
    """The logit of a rate, kept finite (a rate of exactly 0 or 1 when no push was ever clicked / all were)."""
    return logit(np.clip(p, 1e-6, 1 - 1e-6))


def _outcomes(history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(clicked, applied) flags from ``clicked``/``applied`` columns or a graded ``relevance`` (≥1, ≥2)."""
    if "clicked" in history.columns:
        clicked = history["clicked"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        applied = (history["applied"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                   if "applied" in history.columns else np.zeros(len(history), dtype=bool))
    elif "relevance" in history.columns:
        rel = pd.to_numeric(history["relevance"], errors="coerce")
        bad = rel.isna() & history["relevance"].notna()
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())[:5].tolist()
            raise ValueError(f"push history: relevance is not a number in row(s) {rows}")
        rel = rel.fillna(0).to_numpy(dtype=float)
        clicked, applied = rel >= 1, rel >= 2
    else:
        raise ValueError("push history: needs clicked/applied columns or a graded relevance")
    return clicked, applied


def _before(history: pd.DataFrame, before: dt.date | str | pd.Timestamp | None) -> pd.DataFrame:
    """The pushes dated strictly before ``before`` (all of them when None)."""
    if before is None:
        return history
    d = pd.to_datetime(history["date"], errors="coerce").dt.normalize()
    if d.isna().any():  # a push without a readable date can be neither kept nor dropped by the cut
        rows = np.flatnonzero(d.isna().to_numpy())[:5].tolist()
        raise ValueError(f"push history: unreadable date in row(s) {rows}")
    return history.loc[(d < pd.Timestamp(before).normalize()).to_numpy(dtype=bool)]


def offset_counts(history: pd.DataFrame, before: dt.date | str | pd.Timestamp | None = None) -> KeyedCounts:
    """What the offsets are made of, per policy: pushes, clicks, applications after a click (before
    ``before``) — additive over enterprise partitions (sum them with :meth:`KeyedCounts.sum`)."""
    h = _before(history, before)
    clicked, applied = _outcomes(h)
    applied &= clicked
    code, ids = value_codes(h["policy_id"])
    if (code < 0).any():
        raise ValueError(f"push history: {int((code < 0).sum())} row(s) without a policy_id")
    n = len(ids)
    values = np.column_stack([np.bincount(code, minlength=n), np.bincount(code, clicked, n).astype(np.int64),
                              np.bincount(code, applied, n).astype(np.int64)])
    return KeyedCounts(("policy_id",), (ids,), np.arange(n)[:, None], values, ("pushes", "clicks", "applies"))


class FirmEffects:
    """Each enterprise's shrunk effect per bureau / benefit kind / mode, fitted on its past pushes.

    ``tau`` — the prior standard deviation of every effect (logit units): small → trust the city, large →
    trust the firm's own few pushes.  ``groups`` — policy attributes with one effect per level (the
    columns :func:`quanhuiqi.rank.pairs.policy_groups` derives: ``dept_key``, ``benefit_kind``,
    ``mode``).  ``sweeps`` — at most this many Newton sweeps over the groups (the objective is concave;
    on a million simulated pushes 8 sweeps end within 1e-4 of the mode, 12 within 1e-6; a firm stops
    once none of its effects moves by 1e-7 in a sweep, the loop once every firm has stopped).
    """

    def __init__(self, tau: float = 0.3, groups: Sequence[str] = GROUPS, sweeps: int = 8) -> None:
        if not (tau > 0 and np.isfinite(tau)):
            raise ValueError(f"firm effects: tau must be a positive number, got {tau!r}")
        self.tau = float(tau)
        self.groups = tuple(groups)
        self.sweeps = int(sweeps)

    def get_params(self) -> dict[str, object]:
        return {"tau": self.tau, "groups": list(self.groups), "sweeps": self.sweeps}

    def fit(self, history: pd.DataFrame, policies: pd.DataFrame | None = None,
            before: dt.date | str | pd.Timestamp | None = None, offsets: KeyedCounts | None = None) -> FirmEffects:
        """Fit on the pushes of ``history`` dated strictly before ``before`` (all of them when None).

        ``history``: ``date, uscc, policy_id`` and the outcomes (``clicked``/``applied`` or ``relevance``);
        the group columns come from ``history`` itself or from ``policies`` (``policy_id, department,
        benefit_kind, mode``).  ``offsets``: the city's :func:`offset_counts` (summed over partitions)
        when ``history`` holds only some of the city's enterprises; default: ``history``'s own.
        """
        need = [c for c in ("date", "uscc", "policy_id") if c not in history.columns]
        if need:
            raise ValueError(f"push history: missing column(s) {', '.join(need)}")
        h = _before(history, before)
        clicked, applied = _outcomes(h)
        applied &= clicked  # apply | click: an application without a recorded click counts as one
        firm, self.firms_ = value_codes(h["uscc"])  # hashed once; effects are kept per distinct firm
        p_code, per_policy = self._policy_levels(h, policies, fit=True)
        self.effects_ = {g: np.zeros((len(self.firms_), len(self.levels_[g]))) for g in self.groups}
        if len(h) == 0:
            return self
        # offsets: the policy's pooled click and apply-given-click rates, smoothed towards the city's
        if offsets is None:
            n_pol = int(p_code.max(initial=-1)) + 1
            n_p = np.bincount(p_code, minlength=n_pol).astype(float)
            c_p = np.bincount(p_code, clicked, n_pol)
            a_p = np.bincount(p_code, applied, n_pol)
            g_click = clicked.mean()
            g_apply = applied.sum() / max(clicked.sum(), 1)
        else:  # the city's counts, looked up by policy id (integer counts: exactly what one run would sum)
            offsets = KeyedCounts.sum([offsets])
            ids = pd.Index(offsets.keys[0].take(offsets.codes[:, 0]), dtype="string")
            at = np.asarray(ids.get_indexer(pd.Index(value_codes(h["policy_id"])[1], dtype="string")), dtype=np.int64)
            used = np.bincount(p_code[p_code >= 0], minlength=len(at)) > 0
            if (at[used] < 0).any():
                raise ValueError("firm effects: the city's offset counts lack a policy of this history")
            at = np.maximum(at, 0)
            n_p, c_p, a_p = (offsets.values[at, j].astype(float) if len(at) else np.zeros(0) for j in range(3))
            total = offsets.total()
            g_click = total[1] / total[0]
            g_apply = total[2] / max(int(total[1]), 1)
        off_click = _logit((c_p + RATE_SMOOTHING * g_click) / (n_p + RATE_SMOOTHING))[p_code]
        off_apply = _logit((a_p + RATE_SMOOTHING * g_apply) / (c_p + RATE_SMOOTHING))[p_code]
        # one flat index per (firm, level) and group; rows without the group value take no effect
        keys, valid = {}, {}
        for g in self.groups:
            lvl = per_policy[g][p_code]
            valid[g] = (lvl >= 0) & (firm >= 0)
            keys[g] = np.where(valid[g], firm * len(self.levels_[g]) + lvl, 0)
        prec = 1.0 / self.tau**2
        yc = clicked.astype(float)
        cl = np.flatnonzero(clicked)  # the apply stage sees the clicked rows only
        ya_cl, off_apply_cl = applied[cl].astype(float), off_apply[cl]

        def subset(mask: np.ndarray) -> np.ndarray | None:  # None: every row (no gather needed)
            return None if mask.all() else np.flatnonzero(mask)

        rows = {g: subset(valid[g]) for g in self.groups}
        rows_cl = {g: subset(valid[g][cl]) for g in self.groups}
        k_all = {g: keys[g] if rows[g] is None else keys[g][rows[g]] for g in self.groups}
        k_cl = {g: keys[g][cl] if rows_cl[g] is None else keys[g][cl][rows_cl[g]] for g in self.groups}

        def pick(x: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
            return x if idx is None else x[idx]

        eta = np.zeros(len(h))
        moving = np.ones(len(self.firms_), dtype=bool)  # firms whose effects have not converged yet
        for _ in range(self.sweeps):
            largest = np.zeros(len(self.firms_))
            for g in self.groups:
                p1 = expit(off_click + eta)
                p2 = expit(off_apply_cl + eta[cl])
                b = self.effects_[g].ravel()
                n = b.size
                grad = (np.bincount(k_all[g], pick(yc - p1, rows[g]), n)
                        + np.bincount(k_cl[g], pick(ya_cl - p2, rows_cl[g]), n) - prec * b)
                hess = (np.bincount(k_all[g], pick(p1 * (1 - p1), rows[g]), n)
                        + np.bincount(k_cl[g], pick(p2 * (1 - p2), rows_cl[g]), n) + prec)
                step = (grad / hess).reshape(self.effects_[g].shape)
                step[~moving] = 0.0  # a converged firm stays where it is: its result is its own
                step = step.ravel()
                moved = step[keys[g]]
                eta += moved if rows[g] is None else np.where(valid[g], moved, 0.0)  # only this group's part
                self.effects_[g] = (b + step).reshape(self.effects_[g].shape)
                if step.size:
                    largest = np.maximum(largest, np.abs(step.reshape(self.effects_[g].shape)).max(axis=1, initial=0.0))
            moving &= largest >= 1e-7
            if not moving.any():
                break
        return self

    def _policy_levels(self, frame: pd.DataFrame, policies: pd.DataFrame | None, fit: bool = False
                       ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(policy code per row, per group the level code of each distinct policy; −1 unknown).

        Group values are attributes of the policy: read once per distinct ``policy_id`` — from the
        frame's own columns (first row of each policy) or from ``policies``.  ``fit`` learns the levels."""
        def one_row_per_policy(f: pd.DataFrame) -> tuple[np.ndarray, pd.Index, np.ndarray]:
            """(policy code per row, distinct ids, the first row of each) — hashed once, no string copies."""
            code, uniq = value_codes(f["policy_id"])
            first = np.full(len(uniq), -1, dtype=np.int64)
            at = np.flatnonzero(code >= 0)
            first[code[at[::-1]]] = at[::-1]
            return code, uniq, first

        p_code, p_uniq, first = one_row_per_policy(frame)
        own = policy_groups(frame.iloc[first[first >= 0]]) if (first >= 0).any() else None
        attrs, pos = None, None
        if policies is not None and "policy_id" in policies.columns:
            _, pol_uniq, pol_first = one_row_per_policy(policies)  # a policy table, or a pair frame
            keep = pol_first >= 0
            attrs = policy_groups(policies.iloc[pol_first[keep]])
            pos = pd.Index(pol_uniq[keep], dtype="string").get_indexer(pd.Index(p_uniq, dtype="string"))
        if fit:
            self.levels_ = {}
        per_policy: dict[str, np.ndarray] = {}
        for g in self.groups:
            if own is not None and g in own.columns:
                vals = np.full(len(p_uniq), None, dtype=object)
                vals[first >= 0] = own[g].astype("string").to_numpy(dtype=object, na_value=None)
            elif attrs is not None and g in attrs.columns:
                a = attrs[g].astype("string").to_numpy(dtype=object, na_value=None)
                vals = np.where(pos >= 0, a[np.maximum(pos, 0)] if len(a) else None, None)
            else:
                vals = np.full(len(p_uniq), None, dtype=object)
            series = pd.Series(vals, dtype="string")
            if fit:
                self.levels_[g] = pd.Index(pd.unique(series.dropna()), dtype="string")
            per_policy[g] = np.asarray(self.levels_[g].get_indexer(series), dtype=np.int64)
        return p_code, per_policy

    def effect(self, pairs: pd.DataFrame, policies: pd.DataFrame | None = None) -> np.ndarray:
        """η for each row of ``pairs`` (``uscc``, ``policy_id`` and the group columns or ``policies``)."""
        if not hasattr(self, "effects_"):
            raise RuntimeError("FirmEffects is not fitted: call fit(history) first")
        eta = np.zeros(len(pairs))
        if len(pairs) == 0 or len(self.firms_) == 0:
            return eta
        f_code, f_uniq = value_codes(pairs["uscc"])
        to_firm = np.asarray(self.firms_.get_indexer(f_uniq), dtype=np.int64)  # once per distinct firm
        firm = np.where(f_code >= 0, to_firm[np.maximum(f_code, 0)], -1)
        p_code, per_policy = self._policy_levels(pairs, policies)
        known = (firm >= 0) & (p_code >= 0)
        for g in self.groups:
            lvl = np.where(p_code >= 0, per_policy[g][np.maximum(p_code, 0)], -1)
            ok = known & (lvl >= 0)
            if ok.any():
                eta[ok] += self.effects_[g][firm[ok], lvl[ok]]
        return eta

    def table(self) -> pd.DataFrame:
        """The fitted effects in long form (``uscc, group, level, effect``), non-zero ones only."""
        parts = []
        for g in self.groups:
            e = self.effects_[g]
            f, lvl = np.nonzero(e)
            parts.append(pd.DataFrame({"uscc": self.firms_[f], "group": g, "level": self.levels_[g][lvl],
                                       "effect": e[f, lvl]}))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["uscc", "group", "level", "effect"])
