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
history (smoothed towards the city's rate).  The posterior mode of every β is found by block-coordinate
Newton over all enterprises at once (one ``bincount`` per group and sweep; within a group a firm's levels
are mutually exclusive, so each block's Hessian is diagonal).  ``effect(pairs)`` is η for each pair: 0 for
an enterprise without history, for a level it never saw, and for a pair missing its group value.

The ranker adds ``weight × η`` to its score (:class:`quanhuiqi.rank.LambdaRanker`); ``τ`` and the weight are
chosen on the validation window (:func:`quanhuiqi.rank.train.tune_firm_effects`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

GROUPS = ("dept_key", "benefit_kind", "mode")
# pseudo-pushes pulling a policy's rate towards the city's (the offset), as the features' smoothing does
RATE_SMOOTHING = 2.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _outcomes(history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(clicked, applied) flags from ``clicked``/``applied`` columns or a graded ``relevance`` (≥1, ≥2)."""
    if "clicked" in history.columns:
        clicked = history["clicked"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        applied = (history["applied"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                   if "applied" in history.columns else np.zeros(len(history), dtype=bool))
    elif "relevance" in history.columns:
        rel = pd.to_numeric(history["relevance"], errors="coerce").fillna(0).to_numpy(dtype=float)
        clicked, applied = rel >= 1, rel >= 2
    else:
        raise ValueError("push history: needs clicked/applied columns or a graded relevance")
    return clicked, applied


class FirmEffects:
    """Each enterprise's shrunk effect per bureau / benefit kind / mode, fitted on its past pushes.

    ``tau`` — the prior standard deviation of every effect (logit units): small → trust the city, large →
    trust the firm's own few pushes.  ``groups`` — policy attributes with one effect per level (the
    columns :func:`quanhuiqi.rank.features._policy_groups` derives: ``dept_key``, ``benefit_kind``,
    ``mode``).  ``sweeps`` — Newton sweeps over the groups (the objective is concave; 10 converge to
    well under 1e-6 on the samples).
    """

    def __init__(self, tau: float = 0.3, groups: Sequence[str] = GROUPS, sweeps: int = 12) -> None:
        if not (tau > 0 and np.isfinite(tau)):
            raise ValueError(f"firm effects: tau must be a positive number, got {tau!r}")
        self.tau = float(tau)
        self.groups = tuple(groups)
        self.sweeps = int(sweeps)

    def get_params(self) -> dict[str, object]:
        return {"tau": self.tau, "groups": list(self.groups), "sweeps": self.sweeps}

    def fit(self, history: pd.DataFrame, policies: pd.DataFrame | None = None,
            before: dt.date | str | pd.Timestamp | None = None) -> FirmEffects:
        """Fit on the pushes of ``history`` dated strictly before ``before`` (all of them when None).

        ``history``: ``date, uscc, policy_id`` and the outcomes (``clicked``/``applied`` or ``relevance``);
        the group columns come from ``history`` itself or from ``policies`` (``policy_id, department,
        benefit_kind, mode``).
        """
        from quanhuiqi.rank.features import _policy_groups

        need = [c for c in ("date", "uscc", "policy_id") if c not in history.columns]
        if need:
            raise ValueError(f"push history: missing column(s) {', '.join(need)}")
        h = history
        if before is not None:
            d = pd.to_datetime(h["date"], errors="coerce").dt.normalize()
            h = h.loc[(d < pd.Timestamp(before).normalize()).to_numpy(dtype=bool)]
        clicked, applied = _outcomes(h)
        applied &= clicked  # apply | click: an application without a recorded click counts as one
        pid = h["policy_id"].astype("string").to_numpy()
        groups = self._levels(h, policies, _policy_groups)
        self.firms_ = pd.Index(pd.unique(h["uscc"].astype("string").to_numpy()), dtype="string")
        firm = self.firms_.get_indexer(h["uscc"].astype("string").to_numpy())
        self.levels_ = {g: pd.Index(pd.unique(v[v.notna()]), dtype="string") for g, v in groups.items()}
        self.effects_ = {g: np.zeros((len(self.firms_), len(self.levels_[g]))) for g in self.groups}
        if len(h) == 0:
            return self
        # offsets: the policy's pooled click and apply-given-click rates, smoothed towards the city's
        p_code, p_uniq = pd.factorize(pid)
        n_p = np.bincount(p_code, minlength=len(p_uniq)).astype(float)
        c_p = np.bincount(p_code, clicked, len(p_uniq))
        a_p = np.bincount(p_code, applied, len(p_uniq))
        g_click = clicked.mean()
        g_apply = applied.sum() / max(clicked.sum(), 1)
        off_click = _logit((c_p + RATE_SMOOTHING * g_click) / (n_p + RATE_SMOOTHING))[p_code]
        off_apply = _logit((a_p + RATE_SMOOTHING * g_apply) / (c_p + RATE_SMOOTHING))[p_code]
        # one flat index per (firm, level) and group; rows without the group value take no effect
        keys, valid = {}, {}
        for g in self.groups:
            lvl = self.levels_[g].get_indexer(groups[g].astype("string").to_numpy())
            valid[g] = lvl >= 0
            keys[g] = np.where(valid[g], firm * len(self.levels_[g]) + lvl, 0)
        prec = 1.0 / self.tau**2
        yc = clicked.astype(float)
        ya = applied.astype(float)
        cl = clicked
        for _ in range(self.sweeps):
            for g in self.groups:
                eta = self._eta_rows(keys, valid)
                p1 = _sigmoid(off_click + eta)
                p2 = _sigmoid(off_apply + eta)
                b = self.effects_[g].ravel()
                n = b.size
                w = valid[g]
                grad = (np.bincount(keys[g][w], (yc - p1)[w], n)
                        + np.bincount(keys[g][w & cl], (ya - p2)[w & cl], n) - prec * b)
                hess = (np.bincount(keys[g][w], (p1 * (1 - p1))[w], n)
                        + np.bincount(keys[g][w & cl], (p2 * (1 - p2))[w & cl], n) + prec)
                self.effects_[g] = (b + grad / hess).reshape(self.effects_[g].shape)
        return self

    def _levels(self, h: pd.DataFrame, policies: pd.DataFrame | None, policy_groups) -> dict[str, pd.Series]:
        """Each history row's level of every group (from its own columns, else from its policy)."""
        own = policy_groups(h)
        out: dict[str, pd.Series] = {}
        if policies is not None and "policy_id" in policies.columns:
            pol = policies.loc[~policies["policy_id"].astype("string").duplicated().to_numpy()]
            attrs = policy_groups(pol)
            pos = pd.Index(pol["policy_id"].astype("string")).get_indexer(h["policy_id"].astype("string"))
        else:
            attrs, pos = None, None
        for g in self.groups:
            if own is not None and g in own.columns:
                out[g] = pd.Series(own[g].astype("string").to_numpy(), dtype="string")
            elif attrs is not None and g in attrs.columns:
                vals = attrs[g].astype("string").to_numpy()
                out[g] = pd.Series(np.where(pos >= 0, vals[np.maximum(pos, 0)] if len(vals) else None, None),
                                   dtype="string")
            else:
                out[g] = pd.Series(pd.NA, index=range(len(h)), dtype="string")
        return out

    def _eta_rows(self, keys: dict[str, np.ndarray], valid: dict[str, np.ndarray]) -> np.ndarray:
        eta = 0.0
        for g in self.groups:
            eta = eta + np.where(valid[g], self.effects_[g].ravel()[keys[g]], 0.0)
        return np.asarray(eta, dtype=float)

    def effect(self, pairs: pd.DataFrame, policies: pd.DataFrame | None = None) -> np.ndarray:
        """η for each row of ``pairs`` (``uscc``, ``policy_id`` and the group columns or ``policies``)."""
        from quanhuiqi.rank.features import _policy_groups

        if not hasattr(self, "effects_"):
            raise RuntimeError("FirmEffects is not fitted: call fit(history) first")
        groups = self._levels(pairs, policies, _policy_groups)
        firm = self.firms_.get_indexer(pairs["uscc"].astype("string").to_numpy())
        known = firm >= 0
        eta = np.zeros(len(pairs))
        for g in self.groups:
            lvl = self.levels_[g].get_indexer(groups[g].astype("string").to_numpy())
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
