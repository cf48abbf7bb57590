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
        supplier = posts["uscc"].astype(str).reindex(inter["supply_id"].to_numpy()).to_numpy()
        codes = ent.index.astype(str).get_indexer(supplier)
        if (codes < 0).any():
            ids = pd.unique(inter.loc[codes < 0, "supply_id"])[:5].tolist()
            raise ValueError(f"posting interactions: supplies {ids} belong to enterprises the truth does not know")
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
