"""Research estimators behind the ceilings (docs/ceilings.md): Bayes posteriors of the synthetic city's
latent tastes and reputations, given the history a ranker sees.

Not part of the installed package: the product never needs them, only ``benchmarks/rank_ceiling.py``,
``benchmarks/postings_ceiling.py``, notebook 03 and their tests (``tests/benchmarks/``), which put
``benchmarks/`` on ``sys.path`` and import ``ceilings.taste_posterior`` / ``ceilings.reputation_posterior``.
"""
