"""Evaluation against the synthetic city's latent truth: what a ranker or matcher would score if it knew.

A synthetic city writes ``truth/`` beside its data (the latent preferences, the true eligibility, which
pushes and shown postings were exploration slots).  The product never reads it: the policy ranker's
training (:func:`quanhuiqi.rank.train_ranker`) and the supply–demand evaluation
(:func:`quanhuiqi.postings.model.time_split_evaluation`) take a *truth* object as an argument, and
these are the two a synthetic city provides:

- :class:`PolicyTruth` — ``expected_relevance(frame)`` of (enterprise, policy, date) pairs (the oracle
  ranker and the grade of every candidate) and ``exploration_mask(frame)`` (pushes the old platform
  drew at random);
- :class:`PostingTruth` — ``scorer()`` (the oracle matcher), ``list_metrics(ranked, k)`` (every
  candidate of every demand graded by the truth) and ``exploration_demands()``.

``PolicyTruth.of_city(data_dir)`` / ``PostingTruth.of_city(data_dir)`` give None for a data directory
without ``truth/`` (real data), which the training entry points read as "no truth".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from quanhuiqi.synth.preference import policy_utility, posting_utility
from quanhuiqi.tables.columns import DATA_FILES


class _CityTruth:
    """A synthetic city's ``truth/`` folder (``truth_dir``)."""

    def __init__(self, truth_dir: str | os.PathLike) -> None:
        self.truth_dir = Path(truth_dir)

    @classmethod
    def of_city(cls, data_dir: str | os.PathLike) -> Self | None:
        """The truth of the city in ``data_dir``; None when it has no ``truth/`` (real data)."""
        path = Path(data_dir) / DATA_FILES["truth"]
        return cls(path) if path.exists() else None


class PolicyTruth(_CityTruth):
    """The latent truth of a synthetic city's policy pushes."""

    def expected_relevance(self, frame: pd.DataFrame) -> np.ndarray:
        """The latent expected relevance of each (``uscc, policy_id, date``) row (the best any ranker
        could know)."""
        out = policy_utility(frame[["uscc", "policy_id", "date"]].reset_index(drop=True), self.truth_dir)
        return out["expected_relevance"].to_numpy(dtype=float)

    def exploration_mask(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Rows of ``frame`` (uscc, policy_id, date) whose push was an exploration slot of the logging
        platform (``truth/push_logging.parquet``); None when the city does not say.

        On those lists the old rule did not choose what was shown, so observed outcomes there do not
        reward copying it (selection bias)."""
        path = self.truth_dir / "push_logging.parquet"
        if not path.exists():
            return None
        log = pd.read_parquet(path)
        log = log.loc[log["explored"].astype(bool)]
        key = (frame["uscc"].astype(str) + "\x1f" + pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")).to_numpy()
        explored = set(log["uscc"].astype(str) + "\x1f" + pd.to_datetime(log["date"]).dt.strftime("%Y-%m-%d"))
        return np.isin(key, list(explored))


class TruthScorer:
    """The synthetic city's latent expected relevance as a supply–demand scorer: the ceiling any scorer
    could reach on the same candidates (evaluation only; it reads ``truth/``)."""

    name = "oracle"
    needs_ids = True  # the matcher adds demand_id / supply_id to the pairs it passes

    def __init__(self, truth_dir: str | os.PathLike):
        self.truth_dir = Path(truth_dir)

    def score_sides(self, features: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
        rel = posting_utility(pairs[["demand_id", "supply_id"]].reset_index(drop=True), self.truth_dir)
        r = np.nan_to_num(rel["expected_relevance"].to_numpy(dtype="float64"))
        return pd.DataFrame({"score_demand": r, "score_supply": r, "score": r}, index=features.index)


def proposed_truth_metrics(ranked: pd.DataFrame, truth_dir: str | os.PathLike, k: int) -> dict[str, float]:
    """Mean latent utility and expected relevance of the proposed top-k pairs."""
    pairs = ranked.dropna(subset=["supply_id"])
    pairs = pairs[pairs["rank"] <= k][["demand_id", "supply_id", "rank"]].reset_index(drop=True)
    if not len(pairs):
        return {}
    t = posting_utility(pairs, Path(truth_dir))
    rel = t["expected_relevance"].to_numpy(dtype="float64")
    util = t["utility"].to_numpy(dtype="float64")
    return {f"truth_relevance@{k}": float(np.nanmean(rel)), f"truth_utility@{k}": float(np.nanmean(util)),
            "truth_relevance@1": float(np.nanmean(rel[(pairs["rank"] == 1).to_numpy()]))}


def truth_list_metrics(ranked: pd.DataFrame, truth_dir: str | os.PathLike, k: int = 10) -> dict[str, float]:
    """Every candidate of every evaluated demand, graded by the synthetic city's latent truth.

    ``ranked`` holds each demand's *whole* candidate list (``rank`` 1…n by the scorer).  For every
    demand: ``truth_deal_recall@k`` — the share of its expected deals (Σ P(contact)·P(deal) over all
    candidates, no position bias) that the scorer's top k hold; ``truth_ndcg@k`` — NDCG of the top k
    against ``expected_relevance``.  No logging policy chose these lists, so selection bias cannot
    decide the comparison; no outcome noise either.
    """
    pairs = ranked.dropna(subset=["supply_id"])[["demand_id", "supply_id", "rank"]].reset_index(drop=True)
    if not len(pairs):
        return {}
    t = posting_utility(pairs[["demand_id", "supply_id"]], Path(truth_dir))
    deal = np.nan_to_num((t["p_contact"] * t["p_deal"]).to_numpy(dtype="float64"))
    rel = np.nan_to_num(t["expected_relevance"].to_numpy(dtype="float64"))
    rank = pairs["rank"].to_numpy(dtype="float64")
    d = pd.factorize(pairs["demand_id"].astype(str))[0]
    top = rank <= k
    total = np.bincount(d, weights=deal)
    got = np.bincount(d, weights=np.where(top, deal, 0.0), minlength=len(total))
    disc = 1.0 / np.log2(rank + 1.0)
    dcg = np.bincount(d, weights=np.where(top, rel * disc, 0.0), minlength=len(total))
    # ideal: the same candidates sorted by their expected relevance
    order = np.lexsort((-rel, d))
    ds = d[order]
    first = np.r_[0, np.flatnonzero(np.diff(ds)) + 1]
    irank = np.arange(len(ds)) - np.repeat(first, np.diff(np.r_[first, len(ds)])) + 1.0
    idcg = np.bincount(ds, weights=np.where(irank <= k, rel[order] / np.log2(irank + 1.0), 0.0),
                       minlength=len(total))
    ok = total > 0
    return {f"truth_deal_recall@{k}": float((got[ok] / total[ok]).mean()) if ok.any() else np.nan,
            f"truth_ndcg@{k}": float((dcg[idcg > 0] / idcg[idcg > 0]).mean()) if (idcg > 0).any() else np.nan,
            "truth_demands": float(len(total))}


class PostingTruth(_CityTruth):
    """The latent truth of a synthetic city's supply–demand market."""

    def scorer(self) -> TruthScorer:
        """The oracle matcher: candidates ranked by their latent expected relevance."""
        return TruthScorer(self.truth_dir)

    def list_metrics(self, ranked: pd.DataFrame, k: int) -> dict[str, float]:
        """The truth's grades of a scorer's ranked lists: mean utility and relevance of the proposed top
        k (:func:`proposed_truth_metrics`) and every candidate graded (:func:`truth_list_metrics`)."""
        return {**proposed_truth_metrics(ranked, self.truth_dir, k), **truth_list_metrics(ranked, self.truth_dir, k)}

    def exploration_demands(self) -> set[str] | None:
        """Demands whose shown supplies the old platform drew at random (``truth/posting_logging.parquet``);
        None when the city does not say."""
        path = self.truth_dir / "posting_logging.parquet"
        if not path.exists():
            return None
        log = pd.read_parquet(path)
        return set(log.loc[log["explored"].astype(bool), "demand_id"].astype(str))


__all__ = ["PolicyTruth", "PostingTruth", "TruthScorer", "proposed_truth_metrics", "truth_list_metrics"]
