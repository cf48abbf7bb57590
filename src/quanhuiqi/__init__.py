"""quanhuiqi — enterprise profiles, provable policy eligibility, ranking and supply–demand matching.

The small public API below is re-exported lazily: importing the package is cheap, and mlflow,
lightgbm, scikit-learn and pyspark are imported only by the functions that need them.

>>> import quanhuiqi as q
>>> v = q.validate_enterprises(q.read_enterprises("data_samples/enterprises.csv"), "2025-07-01")
>>> prof = q.profile(v.clean, "2025-07-01")
>>> result = q.evaluate_eligibility(q.load_book("data_samples/policies"), prof, "2025-07-01")
"""

from __future__ import annotations

from importlib import import_module

from quanhuiqi.version import __version__

# public name → (module, attribute); attribute None means the module itself
_EXPORTS: dict[str, tuple[str, str | None]] = {
    # tables
    "InputError": ("quanhuiqi.tables.io", "InputError"),
    "read_table": ("quanhuiqi.tables.io", "read_table"),
    "write_table": ("quanhuiqi.tables.io", "write_table"),
    "read_enterprises": ("quanhuiqi.tables", "read_enterprises"),
    "validate_enterprises": ("quanhuiqi.tables", "validate_enterprises"),
    "Validated": ("quanhuiqi.tables", "Validated"),
    "FactTables": ("quanhuiqi.tables.facts", "FactTables"),
    "load_fact_tables": ("quanhuiqi.tables.facts", "load_fact_tables"),
    # profile: the package is also the plain function quanhuiqi.profile(enterprises, as_of)
    "profile": ("quanhuiqi.profile", None),
    "EnterpriseProfiler": ("quanhuiqi.profile", "EnterpriseProfiler"),
    "link": ("quanhuiqi.profile", "link"),
    # policy and eligibility
    "load_book": ("quanhuiqi.policy", "load_book"),
    "check_book": ("quanhuiqi.policy", "check_book"),
    "PolicyBook": ("quanhuiqi.policy", "PolicyBook"),
    "PolicyError": ("quanhuiqi.policy", "PolicyError"),
    "evaluate_eligibility": ("quanhuiqi.eligibility", "evaluate"),
    "EligibilityResult": ("quanhuiqi.eligibility", "EligibilityResult"),
    "with_facts": ("quanhuiqi.eligibility", "with_facts"),
    "policy_readiness": ("quanhuiqi.policy.readiness", "readiness"),
    "Readiness": ("quanhuiqi.policy.readiness", "Readiness"),
    # policy drafting (政策拆解)
    "draft_policy": ("quanhuiqi.drafting", "draft_policy"),
    "draft_files": ("quanhuiqi.drafting", "draft_files"),
    # ranking and models
    "RuleScorer": ("quanhuiqi.rank", "RuleScorer"),
    "OnlineRanker": ("quanhuiqi.rank", "OnlineRanker"),
    "train_ranker": ("quanhuiqi.rank", "train_ranker"),
    "evaluate_ranking": ("quanhuiqi.rank", "evaluate"),
    "load_ranker": ("quanhuiqi.rank", "load_ranker"),
    # supply–demand
    "validate_postings": ("quanhuiqi.postings", "validate_postings"),
    "match_postings": ("quanhuiqi.postings", "match_postings"),
    # policy simulation and budget (政策仿真与资金测算)
    "simulate_policies": ("quanhuiqi.simulate", "simulate"),
    "read_city": ("quanhuiqi.simulate", "read_city"),
    "read_sweeps": ("quanhuiqi.simulate", "read_sweeps"),
    "SimulationResult": ("quanhuiqi.simulate", "SimulationResult"),
    # enterprise appeals (涉企诉求)
    "validate_appeals": ("quanhuiqi.appeals", "validate_appeals"),
    "mask_personal_data": ("quanhuiqi.appeals", "mask_personal_data"),
    "train_appeals": ("quanhuiqi.appeals", "train_appeals"),
    "route_appeals": ("quanhuiqi.appeals", "route_appeals"),
    "response_clock": ("quanhuiqi.appeals", "response_clock"),
    "load_appeals_model": ("quanhuiqi.appeals", "load_appeals_model"),
    "group_appeals": ("quanhuiqi.appeals", "group_appeals"),
    "detect_bursts": ("quanhuiqi.appeals", "detect_bursts"),
    # the daily job and the synthetic city
    "run_daily": ("quanhuiqi.push", "run_daily"),
    "generate_city": ("quanhuiqi.synth", "generate_city"),
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'quanhuiqi' has no attribute {name!r}")
    module = import_module(target[0])
    value = module if target[1] is None else getattr(module, target[1])
    if target[1] is not None:
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
