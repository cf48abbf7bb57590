"""供需对接: enterprises post what they offer and need; pairs are found, scored from both sides and explained.

postings → ``validate_postings`` → ``normalize_tags`` → ``generate_candidates`` (tags, character
n-gram TF-IDF, industry chain) → ``PostingFeatureBuilder`` → ``PostingRuleScorer`` or a LightGBM
lambdarank model (``train_postings_model``) → ``match_postings`` (top-k per open demand, reasons in
Chinese) → ``evaluate_postings``.
"""

from quanhuiqi.postings.candidates import build_index, generate_candidates
from quanhuiqi.postings.features import FEATURES, PostingFeatureBuilder
from quanhuiqi.postings.match import match_postings, match_postings_file
from quanhuiqi.postings.model import (
    evaluate_postings,
    time_split_evaluation,
    train_postings_cli,
    train_postings_model,
)
from quanhuiqi.postings.prepare import prepare_postings
from quanhuiqi.postings.scoring import PostingModelScorer, PostingPopularityScorer, PostingRuleScorer
from quanhuiqi.postings.validate import validate_postings
from quanhuiqi.postings.vocabulary import chain_adjacency, normalize_tags, tag_vocabulary

__all__ = [
    "FEATURES",
    "PostingFeatureBuilder",
    "PostingModelScorer",
    "PostingPopularityScorer",
    "PostingRuleScorer",
    "build_index",
    "chain_adjacency",
    "evaluate_postings",
    "generate_candidates",
    "match_postings",
    "match_postings_file",
    "normalize_tags",
    "prepare_postings",
    "tag_vocabulary",
    "time_split_evaluation",
    "train_postings_cli",
    "train_postings_model",
    "validate_postings",
]
