"""Rank what matters: pair features, rankers (LightGBM lambdarank, rules, popularity), evaluation, reasons.

``import quanhuiqi.rank`` is light: LightGBM is imported only when a model is trained or used.
"""

from quanhuiqi.rank.columns import FEATURES
from quanhuiqi.rank.evaluation import evaluate, exposure, gini, ranking_metrics
from quanhuiqi.rank.explain import reason_sentences
from quanhuiqi.rank.features import PairFeatureBuilder
from quanhuiqi.rank.firm_effects import FirmEffects
from quanhuiqi.rank.online import OnlineRanker
from quanhuiqi.rank.pairs import assemble_pairs
from quanhuiqi.rank.population import specificity
from quanhuiqi.rank.registered import load_ranker
from quanhuiqi.rank.scorers import LambdaRanker, PairScorer, PopularityScorer, RuleScorer, threads
from quanhuiqi.rank.train import (
    TrainingData,
    TrainResult,
    build_pair_dataset,
    build_training_data,
    explain,
    relevance,
    time_split,
    train_ranker,
    train_ranker_cli,
    tune_firm_effects,
)

__all__ = [
    "FEATURES",
    "FirmEffects",
    "LambdaRanker",
    "OnlineRanker",
    "PairFeatureBuilder",
    "PairScorer",
    "PopularityScorer",
    "RuleScorer",
    "TrainResult",
    "TrainingData",
    "assemble_pairs",
    "build_pair_dataset",
    "build_training_data",
    "evaluate",
    "explain",
    "exposure",
    "gini",
    "load_ranker",
    "ranking_metrics",
    "reason_sentences",
    "relevance",
    "specificity",
    "threads",
    "time_split",
    "train_ranker",
    "train_ranker_cli",
    "tune_firm_effects",
]
