"""A registered policy ranker, loaded from the MLflow registry as a scorer for the daily job.

The registry (:mod:`quanhuiqi.registry`) stores and finds boosters; this module knows what a policy
ranker needs around its booster — the pair feature builder of its configuration and its firm-effect
weight — and refuses a model whose features are not this version's.
"""

from __future__ import annotations

from quanhuiqi.rank.columns import FEATURES
from quanhuiqi.rank.features import PairFeatureBuilder
from quanhuiqi.rank.scorers import LambdaRanker
from quanhuiqi.registry import load_model


def load_ranker(ref: str, *, uri: str | None = None, threads: int | None = None) -> LambdaRanker:
    """A registered ranker as a scorer for the daily job (``score``/``reasons``), refusing mismatched features."""
    m = load_model(ref, uri=uri)
    if m.metadata.get("kind", "ranker") != "ranker":
        raise ValueError(f"{ref}: is a {m.metadata.get('kind')!r} model, not a policy ranker")
    if m.features != FEATURES:
        raise ValueError(
            f"{ref}: registered features differ from this version's pair features "
            f"(missing {[c for c in FEATURES if c not in m.features]}, "
            f"unexpected {[c for c in m.features if c not in FEATURES]}); retrain or pin the package version"
        )
    cfg = m.metadata.get("builder") or {}
    builder = PairFeatureBuilder(**cfg)
    ranker = LambdaRanker.from_booster(m.booster, builder=builder, threads=threads,
                                       firm_effect_weight=float(m.metadata.get("firm_effect_weight", 0.0)))
    if ranker.firm_effect_weight and builder.firm_effect_tau is None:
        raise ValueError(f"{ref}: carries a firm-effect weight but its feature builder no firm_effect_tau")
    ranker.registered_ = m
    ranker.name = ranker.registered_name = m.name
    ranker.version, ranker.run_id, ranker.alias = m.version, m.run_id, m.alias
    return ranker
