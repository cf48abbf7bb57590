"""Scoring pairs from both sides, and the reciprocal combination.

A pair is pushed to both enterprises, so it must be good for both: each side gets its own score and
the pair's score is their harmonic mean (a pair great for the buyer but useless for the seller
scores low).  The rule scorer works on day one; a LightGBM lambdarank model trained on past contacts
and deals replaces it when registered.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from quanhuiqi.postings.columns import CHAIN_SAME, CHAIN_UPSTREAM, FEATURES

# weights of the rule scorer, per side (each row sums to 1)
SHARED_WEIGHTS = {"text_sim": 0.30, "tag_jaccard": 0.25, "title_score": 0.10, "chain": 0.10, "district": 0.07}
DEMAND_WEIGHTS = {**SHARED_WEIGHTS, "qty_cover": 0.06, "price_fit": 0.05, "supplier_credit": 0.04, "supply_fresh": 0.03}
SUPPLY_WEIGHTS = {**SHARED_WEIGHTS, "qty_share": 0.06, "price_fit": 0.05, "buyer_credit": 0.04, "demand_fresh": 0.03}
UNKNOWN = 0.5  # an unknown fit counts as middling: neither rewarded nor punished


def harmonic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Harmonic mean: high only when both sides are high."""
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    s = a + b
    return np.where(s > 0, 2 * a * b / np.where(s > 0, s, 1.0), 0.0)


def _nearness(f: pd.DataFrame) -> np.ndarray:
    """1 next door, about 0.37 at 30 km; by same county/city when the distance is unknown."""
    km = f["district_km"].to_numpy(dtype="float64")
    prox = np.nan_to_num(f["district_proximity"].to_numpy(dtype="float64"), nan=UNKNOWN)
    return np.where(np.isnan(km), prox, np.exp(-km / 30.0))


def _unit_terms(f: pd.DataFrame) -> dict[str, np.ndarray]:
    rel = f["chain_relation"].to_numpy(dtype="float64")
    chain = np.where(rel == CHAIN_UPSTREAM, 1.0, np.where(rel == CHAIN_SAME, 0.6, np.where(np.isnan(rel), 0.3, 0.0)))
    return {
        "text_sim": np.clip(f["text_sim"].to_numpy(dtype="float64"), 0, 1),
        "tag_jaccard": f["tag_jaccard"].to_numpy(dtype="float64"),
        "title_score": f["title_score"].to_numpy(dtype="float64"),
        "chain": chain,
        "district": _nearness(f),
        "qty_cover": np.nan_to_num(f["qty_cover"].to_numpy(dtype="float64"), nan=UNKNOWN),
        "qty_share": np.nan_to_num(f["qty_share"].to_numpy(dtype="float64"), nan=UNKNOWN),
        "price_fit": np.nan_to_num(f["price_fit"].to_numpy(dtype="float64"), nan=UNKNOWN),
        "supplier_credit": np.nan_to_num(f["supplier_credit"].to_numpy(dtype="float64") / 4.0, nan=UNKNOWN),
        "buyer_credit": np.nan_to_num(f["buyer_credit"].to_numpy(dtype="float64") / 4.0, nan=UNKNOWN),
        "supply_fresh": np.nan_to_num(np.exp(-np.clip(f["supply_age_days"].to_numpy(dtype="float64"), 0, None) / 30.0),
                                      nan=UNKNOWN),
        "demand_fresh": np.nan_to_num(np.exp(-np.clip(f["demand_age_days"].to_numpy(dtype="float64"), 0, None) / 30.0),
                                      nan=UNKNOWN),
    }


class PostingRuleScorer:
    """Transparent day-one scorer: a weighted sum per side, combined by harmonic mean."""

    name = "rule"

    def __init__(self, demand_weights: dict[str, float] | None = None, supply_weights: dict[str, float] | None = None):
        self.demand_weights = demand_weights or DEMAND_WEIGHTS
        self.supply_weights = supply_weights or SUPPLY_WEIGHTS

    def score_sides(self, features: pd.DataFrame, pairs: pd.DataFrame | None = None) -> pd.DataFrame:
        """``score_demand`` (good for the buyer), ``score_supply`` (good for the seller), ``score``."""
        t = _unit_terms(features)
        sd = sum(w * t[k] for k, w in self.demand_weights.items())
        ss = sum(w * t[k] for k, w in self.supply_weights.items())
        return pd.DataFrame({"score_demand": sd, "score_supply": ss, "score": harmonic(sd, ss)}, index=features.index)

    def score(self, features: pd.DataFrame, pairs: pd.DataFrame | None = None) -> np.ndarray:
        return self.score_sides(features, pairs)["score"].to_numpy()


class PostingPopularityScorer:
    """Baseline: the supplier enterprise's smoothed past contact rate (the same for both sides);
    without history every pair ties and the matcher's candidate order decides."""

    name = "popularity"

    def score_sides(self, features: pd.DataFrame, pairs: pd.DataFrame | None = None) -> pd.DataFrame:
        r = np.nan_to_num(features["supplier_contact_rate"].to_numpy(dtype="float64"))
        return pd.DataFrame({"score_demand": r, "score_supply": r, "score": r}, index=features.index)

    def score(self, features: pd.DataFrame, pairs: pd.DataFrame | None = None) -> np.ndarray:
        return self.score_sides(features, pairs)["score"].to_numpy()


def threads(value: int | None = None) -> int:
    """LightGBM threads: the argument, else QUANHUIQI_THREADS, else 1."""
    if value:
        return int(value)
    return int(os.environ.get("QUANHUIQI_THREADS", "1") or 1)


class PostingModelScorer:
    """A LightGBM lambdarank booster over :data:`FEATURES`, made reciprocal.

    The booster, trained on which shown pairs were contacted and closed, scores the pair from the
    buyer's side (``score_demand`` = logistic of its score); the seller's side is the rule scorer's
    transparent seller score (``rule_supply``: its stock taken, price, buyer credit, freshness of the
    need).  The pair's score is their harmonic mean, so a supply the model likes for a demand is not
    pushed when the deal is poor for the supplier.  (Percentiles of the booster's score within each
    supply's demands were tried as the seller's side; on the synthetic city they cost 6 points of
    recall@10, see docs/postings.md.)
    """

    name = "model"

    def __init__(self, booster, features: list[str] | None = None, version: str | None = None):
        self.booster = booster
        self.features = list(features or FEATURES)
        self.version = version

    def raw(self, features: pd.DataFrame) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        return np.asarray(self.booster.predict(features[self.features].to_numpy(dtype="float64")), dtype="float64")

    def score_sides(self, features: pd.DataFrame, pairs: pd.DataFrame | None = None) -> pd.DataFrame:
        raw = self.raw(features)
        sd = 1.0 / (1.0 + np.exp(-raw))
        ss = features["rule_supply"].to_numpy(dtype="float64")
        return pd.DataFrame({"score_demand": sd, "score_supply": ss, "score": harmonic(sd, ss), "raw": raw},
                            index=features.index)

    def score(self, features: pd.DataFrame, pairs: pd.DataFrame | None = None) -> np.ndarray:
        return self.score_sides(features, pairs)["score"].to_numpy()
