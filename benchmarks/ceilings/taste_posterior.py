"""How much of each firm's own tastes its push history reveals: the ceiling of any policy ranker.

The synthetic city's utility (``synth/README.md``) has a shared part — every coefficient, the true facts,
the section-level tastes — and a part that belongs to the firm alone: its tastes by bureau family
(``dept_taste_*``), benefit kind (``kind_taste_*``), paperwork (``apply_taste``) and the rank-4 latent
taste ``z``.  A ranker can learn the shared part from enough firms; the firm's own part only from that
firm's past pushes.  :func:`taste_posterior` computes, per firm, the posterior mode of those tastes
given its pushes, with the generator's own likelihood (click ~ Bernoulli(σ(u − 2.4)); apply | click ~
Bernoulli(σ(u − 1.2 + shift(mode)))), everything else known.  Ranking by the utility with these
estimates is what an ideal learner could do with the same history — an upper bound for a model, used
by ``benchmarks/rank_ceiling.py`` to tell a weak model from a target the data cannot support.

Priors (exact for the generator): a firm's taste for a family is ``seg[section] + own``, seg ~ N(0,
0.5²) shared by its section, own ~ N(0, 0.7²).  Given the other firms of the section (their true tastes
— generous), seg's posterior is N(m, v) with the leave-one-out mean shrunk by the seg prior, so the
firm's prior is N(m, 0.7² + v).  Kind tastes alike (0.3, 0.5); apply_taste ~ N(0, 0.6²), z ~ N(0, I).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.synth.preference import (
    APPLY_OFFSET,
    APPLY_SHIFT,
    CLICK_OFFSET,
    FAMILIES,
    KIND_GROUPS,
    KINDS,
    RANK,
    TASTE_SD,
    TW,
    W,
    department_family,
    policy_pair_utility,
    sigmoid,
)

DEPT = [f"dept_taste_{i}" for i in range(len(FAMILIES))]
KIND = [f"kind_taste_{j}" for j in range(len(KINDS))]
LATENT = [f"z{k}" for k in range(RANK)]
TASTES = DEPT + KIND + ["apply_taste"] + LATENT  # the firm's own parameters, in design-matrix order


def _section_prior(values: np.ndarray, section: np.ndarray, seg_sd: float, own_sd: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Prior mean and variance of each firm's taste from the other firms of its section (leave one out)."""
    codes, _ = pd.factorize(pd.Series(section).fillna("?"))
    n = np.bincount(codes)
    mean = np.empty_like(values)
    var = np.empty_like(values)
    for j in range(values.shape[1]):
        total = np.bincount(codes, weights=values[:, j])
        n_other = (n[codes] - 1).astype(float)
        loo = np.where(n_other > 0, (total[codes] - values[:, j]) / np.maximum(n_other, 1), 0.0)
        prec = n_other / own_sd**2 + 1.0 / seg_sd**2  # posterior precision of the section's seg
        mean[:, j] = (n_other / own_sd**2) * loo / prec
        var[:, j] = own_sd**2 + 1.0 / prec
    return mean, var


def taste_prior(enterprises: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(mean, variance), each (firms × ``TASTES``), of every firm's own tastes before its history."""
    n = len(enterprises)
    sec = enterprises["section"].astype(object).to_numpy()
    dm, dv = _section_prior(enterprises[DEPT].to_numpy(float), sec, TASTE_SD["dept_segment"], TASTE_SD["dept_firm"])
    km, kv = _section_prior(enterprises[KIND].to_numpy(float), sec, TASTE_SD["kind_segment"], TASTE_SD["kind_firm"])
    mean = np.hstack([dm, km, np.zeros((n, 1 + RANK))])
    var = np.hstack([dv, kv, np.full((n, 1), TASTE_SD["apply"] ** 2), np.ones((n, RANK))])
    return mean, var


def without_tastes(enterprises: pd.DataFrame) -> pd.DataFrame:
    """The truth table with every firm-level taste set to 0 (what the utility is offset by)."""
    out = enterprises.copy()
    out[TASTES] = 0.0
    return out


def with_tastes(enterprises: pd.DataFrame, tastes: np.ndarray) -> pd.DataFrame:
    """The truth table with the tastes replaced by ``tastes`` (firms × ``TASTES``, same row order)."""
    out = enterprises.copy()
    out[TASTES] = tastes
    return out


def design(pushes: pd.DataFrame, policies: pd.DataFrame) -> np.ndarray:
    """Rows × ``TASTES``: how each firm-level taste enters the utility of each (firm, policy) row."""
    p = policies.reindex(pushes["policy_id"].astype(str).to_numpy())
    n = len(pushes)
    x = np.zeros((n, len(TASTES)))
    fam_of = {d: (FAMILIES.index(f) if (f := department_family(str(d))) else -1) for d in pd.unique(p["department"])}
    fam = p["department"].astype(object).map(fam_of).fillna(-1).to_numpy(np.int64)
    ok = fam >= 0
    x[np.flatnonzero(ok), fam[ok]] = TW["dept_taste"]
    kind = (p["benefit_kind"].astype(object).map(KIND_GROUPS).map({k: i for i, k in enumerate(KINDS)})
            .fillna(-1).to_numpy(np.int64))
    ok = kind >= 0
    x[np.flatnonzero(ok), len(DEPT) + kind[ok]] = TW["kind_taste"]
    x[:, len(DEPT) + len(KIND)] = TW["apply_taste"] * (p["mode"].astype(str).to_numpy() == "apply")
    q = p[[f"q{k}" for k in range(RANK)]].to_numpy(float)
    x[:, len(DEPT) + len(KIND) + 1:] = W["latent"] * np.nan_to_num(q) / np.sqrt(RANK)
    return x


def taste_posterior(truth: dict, pushes: pd.DataFrame, before: pd.Timestamp | str | None = None,
                    iterations: int = 25) -> pd.DataFrame:
    """Posterior mode of every firm's own tastes (index: uscc, columns: ``TASTES``) given its pushes.

    ``truth``: :func:`quanhuiqi.synth.preference.load_truth`; ``pushes``: the push history
    (``date, uscc, policy_id, mode, clicked, applied``), of which only rows dated strictly before
    ``before`` are read (None: all).  Newton's method on the log posterior, all firms at once (one
    small linear system per firm, solved as a batch).  Firms without pushes keep their prior mean.
    """
    theta, _, _ = _posterior(truth, pushes, before, iterations)
    return pd.DataFrame(theta, index=truth["enterprises"].index, columns=TASTES)


def taste_posterior_draws(truth: dict, pushes: pd.DataFrame, before: pd.Timestamp | str | None = None,
                          draws: int = 32, seed: int = 0, iterations: int = 25,
                          firms: pd.Index | list[str] | None = None) -> np.ndarray:
    """``draws`` samples of the own tastes of ``firms`` (default every firm of the truth table, in its
    order; draws × firms × ``TASTES``) from the Laplace approximation of each posterior: N(mode, H⁻¹),
    H the log posterior's negative Hessian at the mode; firms without pushes are drawn from their
    prior.  Averaging a utility over the draws ranks by the posterior *expected* relevance — the Bayes
    ranker, which a plug-in of the mode only approximates."""
    theta, hess, rows = _posterior(truth, pushes, before, iterations)
    _, var = taste_prior(truth["enterprises"])
    index = truth["enterprises"].index
    want = np.arange(len(index)) if firms is None else index.get_indexer(pd.Index(firms).astype(str))
    if (want < 0).any():
        raise ValueError(f"taste draws: {int((want < 0).sum())} firm(s) not in the truth table")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((draws, len(want), theta.shape[1]))
    out = theta[want][None] + noise * np.sqrt(var[want])[None]  # prior spread for firms without pushes
    slot = pd.Index(rows).get_indexer(want)  # each wanted firm's Hessian, if it had pushes
    has = slot >= 0
    if has.any():
        chol = np.linalg.cholesky(np.linalg.inv(hess[slot[has]]))  # per firm, covariance = H⁻¹
        out[:, has] = theta[want[has]][None] + np.einsum("fij,dfj->dfi", chol, noise[:, has])
    return out


def _posterior(truth: dict, pushes: pd.DataFrame, before: pd.Timestamp | str | None,
               iterations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mode, negative Hessian at the mode for the firms with pushes, those firms' row numbers)."""
    missing = [c for c in ("date", "uscc", "policy_id", "mode", "clicked", "applied") if c not in pushes.columns]
    if missing:
        raise ValueError(f"push history: missing column(s) {missing}")
    ent = truth["enterprises"]
    pol = truth["policies"]
    mean, var = taste_prior(ent)
    h = pushes.copy()
    h["date"] = pd.to_datetime(h["date"], errors="coerce").dt.normalize()
    if h["date"].isna().any():
        rows = np.flatnonzero(h["date"].isna().to_numpy())[:5].tolist()
        raise ValueError(f"push history: unreadable date in row(s) {rows}")
    if before is not None:
        h = h.loc[(h["date"] < pd.Timestamp(before)).to_numpy()]
    h = h.loc[h["uscc"].astype(str).isin(ent.index) & h["policy_id"].astype(str).isin(pol.index)]
    theta = mean.copy()
    rows, hr = np.zeros(0, dtype=np.int64), np.zeros((0, len(TASTES), len(TASTES)))
    if len(h):
        firm = ent.index.get_indexer(h["uscc"].astype(str).to_numpy())
        pairs = pd.DataFrame({"uscc": h["uscc"].astype(str).to_numpy(), "policy_id": h["policy_id"].astype(str).to_numpy()})
        base = policy_pair_utility(pairs, without_tastes(ent), pol, truth["dept_affinity"],
                                   pd.Series(h["date"].to_numpy()))["utility"].to_numpy()
        x = design(pairs, pol)
        clicked = h["clicked"].astype(bool).to_numpy()
        applied = h["applied"].astype(bool).to_numpy() & clicked
        shift = pd.Series(h["mode"].astype(str).to_numpy()).map(APPLY_SHIFT).fillna(0.0).to_numpy(float)
        prec = 1.0 / var
        rows, local = np.unique(firm, return_inverse=True)  # only firms with pushes get a system
        k = x.shape[1]
        outer = x[:, :, None] * x[:, None, :]  # rows × k × k, a few MB for a city sample

        def at(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """(per-row residual, per firm with pushes the negative Hessian of the log posterior) at ``th``."""
            u = base + np.einsum("ij,ij->i", x, th[firm])
            pc = sigmoid(u - CLICK_OFFSET)
            pa = sigmoid(u - APPLY_OFFSET + shift)
            resid = (clicked - pc) + np.where(clicked, applied - pa, 0.0)
            weight = pc * (1 - pc) + np.where(clicked, pa * (1 - pa), 0.0)
            hess = np.zeros((len(rows), k, k))
            np.add.at(hess, local, outer * weight[:, None, None])
            return resid, hess + np.einsum("ij,jk->ijk", prec[rows], np.eye(k))

        for _ in range(iterations):
            resid, hr = at(theta)
            grad = np.zeros_like(theta)
            np.add.at(grad, firm, x * resid[:, None])
            grad -= prec * (theta - mean)
            step = np.linalg.solve(hr, grad[rows][:, :, None])[:, :, 0]
            theta[rows] += step
            if np.abs(step).max() < 1e-8:
                break
        _, hr = at(theta)  # the curvature at the final mode (the loop's last one was taken a step before it)
    return theta, hr, rows
