"""What the supply–demand history can reveal about each supplier's ``reputation`` (issue 6's ceiling).

A supplier enterprise's reputation is ``0.25·(tax rating − 0.9) + N(0, 0.6)`` (``enterprise_truth``);
only the rating part is visible in the enterprise data, the rest shows up in how often its supplies
were contacted and won deals.  :func:`reputation_posterior` is the Bayes posterior mean of each
supplier's reputation under the generator's *own* likelihood with every other term of the utility
known — an upper bound on what any model can learn about a supplier from these interactions, used
to bound how far any ranker can get above the rule scorer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.synth.preference import (
    CONTACT_OFFSET,
    DEAL_OFFSET,
    PW,
    TASTE_SD,
    posting_pair_utility,
    reputation_rating_part,
)

GRID_POINTS = 81
GRID_SD = 4.0


def reputation_prior_mean(enterprises: pd.DataFrame) -> pd.Series:
    """The rating part of ``reputation`` (what ``enterprise_truth`` adds to the N(0, 0.6) draw): the
    prior mean of a supplier that has no history.  Index: the table's index (uscc in the truth)."""
    return pd.Series(reputation_rating_part(enterprises["tax_credit_rating"]), index=enterprises.index,
                     name="reputation")


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def interaction_log_likelihood(v: np.ndarray, rank: np.ndarray, contacted: np.ndarray,
                               deal: np.ndarray) -> np.ndarray:
    """Log-likelihood of logged outcomes at utility ``v`` (any shape broadcasting with the 1-d outcome
    arrays on the first axis): contact ~ Bernoulli(σ(v − 2.6)/√rank), deal | contact ~ Bernoulli(σ(v − 3.2)),
    as ``generate_posting_interactions`` draws them."""
    shape = (-1,) + (1,) * (np.ndim(v) - 1)
    scale = (1.0 / np.sqrt(np.asarray(rank, dtype=float))).reshape(shape)
    c = np.asarray(contacted, dtype=bool).reshape(shape)
    d = np.asarray(deal, dtype=bool).reshape(shape)
    log_pc = _log_sigmoid(v - CONTACT_OFFSET) + np.log(scale)
    log_not_c = np.log1p(-np.exp(log_pc))
    log_pd = _log_sigmoid(v - DEAL_OFFSET)
    log_not_d = _log_sigmoid(-(v - DEAL_OFFSET))
    return np.where(c, log_pc + np.where(d, log_pd, log_not_d), log_not_c)


def _checked_interactions(interactions: pd.DataFrame, posts: pd.DataFrame,
                          before: pd.Timestamp | None) -> pd.DataFrame:
    need = ["date", "demand_id", "supply_id", "rank", "contacted", "deal"]
    missing = [c for c in need if c not in interactions.columns]
    if missing:
        raise ValueError(f"posting interactions: missing column(s) {missing}")
    inter = interactions[need].copy()
    inter["date"] = pd.to_datetime(inter["date"], errors="coerce")
    if inter["date"].isna().any():
        rows = np.flatnonzero(inter["date"].isna().to_numpy())[:5].tolist()
        raise ValueError(f"posting interactions: unreadable date in row(s) {rows}")
    if before is not None:
        inter = inter[(inter["date"] < pd.Timestamp(before)).to_numpy()]
    inter["demand_id"] = inter["demand_id"].astype(str)
    inter["supply_id"] = inter["supply_id"].astype(str)
    rank = pd.to_numeric(inter["rank"], errors="coerce")
    bad = rank.isna() | (rank < 1)
    if bad.any():
        rows = inter.index[bad.to_numpy()][:5].tolist()
        raise ValueError(f"posting interactions: rank must be ≥ 1 (rows {rows})")
    inter["rank"] = rank.to_numpy(float)
    inter["contacted"] = inter["contacted"].astype(bool)
    inter["deal"] = inter["deal"].astype(bool)
    if (inter["deal"] & ~inter["contacted"]).any():
        rows = inter.index[(inter["deal"] & ~inter["contacted"]).to_numpy()][:5].tolist()
        raise ValueError(f"posting interactions: deal without contact in row(s) {rows}")
    unknown = ~(inter["demand_id"].isin(posts.index) & inter["supply_id"].isin(posts.index))
    if unknown.any():
        ids = pd.unique(pd.concat([inter.loc[unknown, "demand_id"], inter.loc[unknown, "supply_id"]]))
        ids = [i for i in ids if i not in posts.index][:5]
        raise ValueError(f"posting interactions: {int(unknown.sum())} row(s) name postings the truth does not "
                         f"know (e.g. {ids})")
    return inter.reset_index(drop=True)


def _enterprise_rows(truth: dict, inter: pd.DataFrame, side: str) -> np.ndarray:
    """Row of ``truth["enterprises"]`` owning each interaction's ``side`` posting (``supply_id`` or
    ``demand_id``); postings of enterprises the truth does not know are refused by id."""
    owner = truth["postings"]["uscc"].astype(str).reindex(inter[side].to_numpy()).to_numpy()
    rows = truth["enterprises"].index.astype(str).get_indexer(owner)
    if (rows < 0).any():
        ids = pd.unique(inter.loc[rows < 0, side])[:5].tolist()
        what = "supplies" if side == "supply_id" else "demands"
        raise ValueError(f"posting interactions: {what} {ids} belong to enterprises the truth does not know")
    return rows


def reputation_posterior_grid(truth: dict, interactions: pd.DataFrame, before: pd.Timestamp | None = None
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole grid posterior of every truth enterprise's ``reputation``, rows in the order of
    ``truth["enterprises"]``: ``(values, weights, n_interactions)`` — ``values`` and ``weights``
    ``(n, GRID_POINTS)`` (weights sum to 1 per row), ``n_interactions`` the times one of its supplies
    was shown before ``before`` (None: all).

    Exact grid posterior: prior N(rating part, 0.6²) on ``GRID_POINTS`` points over ±``GRID_SD`` prior
    SDs; the log-likelihood of every interaction at every grid value (the utility without reputation
    taken as known, reputation enters it linearly), summed per supplier enterprise.
    """
    ent = truth["enterprises"]
    posts = truth["postings"]
    mu = reputation_prior_mean(ent).to_numpy(float)
    sd0 = TASTE_SD["reputation"]
    z = np.linspace(-GRID_SD, GRID_SD, GRID_POINTS)
    values = mu[:, None] + sd0 * z[None, :]
    logpost = np.broadcast_to(-0.5 * z**2, values.shape).copy()  # the prior (uniform spacing cancels)
    n_inter = np.zeros(len(ent), dtype=np.int64)
    inter = _checked_interactions(interactions, posts, before)
    if not inter.empty:
        # the utility with reputation 0: everything but the supplier's own reputation, known
        ent0 = ent.assign(reputation=0.0)
        v_rest = posting_pair_utility(inter[["demand_id", "supply_id"]], posts, ent0, truth["adjacency"])
        v_rest = v_rest["utility"].to_numpy(float)
        codes = _enterprise_rows(truth, inter, "supply_id")
        ll = interaction_log_likelihood(v_rest[:, None] + PW["reputation"] * values[codes],
                                        inter["rank"].to_numpy(), inter["contacted"].to_numpy(),
                                        inter["deal"].to_numpy())
        np.add.at(logpost, codes, ll)
        n_inter = np.bincount(codes, minlength=len(ent))
    w = np.exp(logpost - logpost.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return values, w, n_inter


def reputation_posterior_frame(truth: dict, interactions: pd.DataFrame,
                               before: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per truth enterprise (index uscc): ``prior_mean``, posterior ``mean`` and ``sd`` of ``reputation``
    and ``n_interactions`` (see :func:`reputation_posterior_grid`)."""
    values, w, n_inter = reputation_posterior_grid(truth, interactions, before)
    mean = (w * values).sum(axis=1)
    sd = np.sqrt(np.maximum((w * values**2).sum(axis=1) - mean**2, 0.0))
    out = pd.DataFrame({"prior_mean": reputation_prior_mean(truth["enterprises"]).to_numpy(), "mean": mean,
                        "sd": sd, "n_interactions": n_inter}, index=truth["enterprises"].index)
    out.index.name = "uscc"
    return out


def reputation_posterior(truth: dict, interactions: pd.DataFrame,
                         before: pd.Timestamp | None = None) -> pd.Series:
    """Posterior mean of every truth enterprise's supplier ``reputation`` (index uscc) given the
    interactions dated strictly before ``before`` (None: all); no interactions → the prior mean."""
    return reputation_posterior_frame(truth, interactions, before)["mean"].rename("reputation")


def enterprises_with_reputation(truth: dict, reputation: pd.Series, *, zero_latent: bool = False) -> pd.DataFrame:
    """A copy of the truth enterprise table with ``reputation`` replaced (enterprises missing from
    ``reputation`` get their prior mean) and, with ``zero_latent``, the latent tastes w0/w1 set to 0 —
    so :func:`~quanhuiqi.synth.preference.posting_pair_utility` scores with what a ranker could know."""
    ent = truth["enterprises"].copy()
    prior = reputation_prior_mean(ent)
    rep = reputation.reindex(ent.index.astype(str)).to_numpy(float)
    ent["reputation"] = np.where(np.isfinite(rep), rep, prior.to_numpy(float))
    if zero_latent:
        ent[["w0", "w1"]] = 0.0
    return ent


def latent_posterior_mode(truth: dict, interactions: pd.DataFrame, before: pd.Timestamp | None = None,
                          sweeps: int = 60, seed: int = 0) -> pd.DataFrame:
    """Joint posterior mode of every enterprise's ``reputation`` and latent tastes ``w0, w1`` given the
    interactions before ``before`` (None: all) — what an ideal learner could extract about the bilinear
    term ``0.5·(w_d · w_s)/√2`` too, everything else known.

    Per enterprise θ = (reputation, w0, w1), prior N(rating part, 0.6²) × N(0, I); the utility of a shown
    pair is linear in the supplier's θ given the buyer's w, and in the buyer's w given the supplier's θ.
    Damped simultaneous Newton steps on every enterprise's 3 × 3 system (the log-likelihood's
    derivatives in the utility by central differences of :func:`interaction_log_likelihood`), each step
    kept only where it raises the log posterior; w starts at a small random point (w = 0 is a saddle:
    the posterior is symmetric under w → −w).  A mode, not a mean — an estimate of what the history
    reveals, reported beside the exact reputation posterior.  Index: uscc; columns reputation, w0, w1,
    n_interactions (times the enterprise was a side of a shown pair).
    """
    ent = truth["enterprises"]
    posts = truth["postings"]
    n = len(ent)
    mu = np.column_stack([reputation_prior_mean(ent).to_numpy(float), np.zeros(n), np.zeros(n)])
    prec = np.array([1.0 / TASTE_SD["reputation"] ** 2, 1.0, 1.0])
    theta = mu.copy()
    theta[:, 1:] = 0.1 * np.random.default_rng(seed).standard_normal((n, 2))
    inter = _checked_interactions(interactions, posts, before)
    out = pd.DataFrame(theta, index=ent.index, columns=["reputation", "w0", "w1"])
    out["n_interactions"] = 0
    if inter.empty:
        out[["w0", "w1"]] = 0.0
        return out
    ent0 = ent.assign(reputation=0.0, w0=0.0, w1=0.0)
    base = posting_pair_utility(inter[["demand_id", "supply_id"]], posts, ent0, truth["adjacency"])["utility"]
    base = base.to_numpy(float)
    s = _enterprise_rows(truth, inter, "supply_id")
    d = _enterprise_rows(truth, inter, "demand_id")
    rank, c, dl = inter["rank"].to_numpy(), inter["contacted"].to_numpy(), inter["deal"].to_numpy()
    k_lat = PW["latent"] / np.sqrt(2)

    def utility(th: np.ndarray) -> np.ndarray:
        return base + PW["reputation"] * th[s, 0] + k_lat * (th[d, 1:] * th[s, 1:]).sum(axis=1)

    def log_post(th: np.ndarray) -> np.ndarray:
        """Per enterprise: its prior plus the log-likelihood of the rows it is a side of (rows counted
        for both sides; used only to accept or reject each enterprise's step)."""
        ll = interaction_log_likelihood(utility(th), rank, c, dl)
        per = np.bincount(s, ll, n) + np.bincount(d, ll, n)
        return per - 0.5 * (((th - mu) ** 2) * prec).sum(axis=1)

    h = 1e-4
    for _ in range(sweeps):
        v = utility(theta)
        l0 = interaction_log_likelihood(v, rank, c, dl)
        lp = interaction_log_likelihood(v + h, rank, c, dl)
        lm = interaction_log_likelihood(v - h, rank, c, dl)
        g1 = (lp - lm) / (2 * h)
        w2 = np.maximum(-(lp - 2 * l0 + lm) / h**2, 1e-9)  # −d²ll/dv², floored: a Newton metric
        # design rows: the supplier's θ enters as (rep, w_d), the buyer's w as (0, w_s)
        xs = np.column_stack([np.full(len(v), PW["reputation"]), k_lat * theta[d, 1:]])
        xd = np.column_stack([np.zeros(len(v)), k_lat * theta[s, 1:]])
        grad = -prec * (theta - mu)
        hess = np.zeros((n, 3, 3)) + np.diag(prec)
        for who, x in ((s, xs), (d, xd)):
            for a in range(3):
                grad[:, a] += np.bincount(who, g1 * x[:, a], n)
                for b in range(3):
                    hess[:, a, b] += np.bincount(who, w2 * x[:, a] * x[:, b], n)
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        before_lp = log_post(theta)
        trial = theta + 0.5 * step  # damped: the two sides move at once
        better = log_post(trial) >= before_lp
        theta = np.where(better[:, None], trial, theta)
        if np.abs(step).max() < 1e-6:
            break
    out[["reputation", "w0", "w1"]] = theta
    out["n_interactions"] = np.bincount(s, minlength=n) + np.bincount(d, minlength=n)
    return out
