"""企业画像: the profile of every enterprise, built by scikit-learn feature builders, and linking.

``profile(clean, as_of)`` is the plain function; :class:`EnterpriseProfiler` the composed
transformer; ``profile_enterprises_file`` what ``quanhuiqi profile`` runs; ``link`` attaches the
rows of a second source (tax, social insurance, certification lists) by USCC or by name.

Exports load lazily, so ``quanhuiqi.profile.fields`` (the catalogue the policy loader reads) does
not pull in scikit-learn and rapidfuzz; ``profile`` itself runs without scikit-learn (the transformers
are its shells, in ``builders``).
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType

_EXPORTS = {
    "AgeFeatures": "builders",
    "ChainFeatures": "builders",
    "EnterpriseProfiler": "builders",
    "FinanceFeatures": "builders",
    "IndustryFeatures": "builders",
    "LinkResult": "linking",
    "SizeFeatures": "builders",
    "StatusFeatures": "builders",
    "TagFeatures": "builders",
    "canonical_status": "status",
    "chain_mapping": "chains",
    "evaluate_name_matching": "industry",
    "link": "linking",
    "match_industry_names": "industry",
    "normalize_company_name": "linking",
    "profile": "profiler",
    "profile_columns": "profiler",
    "profile_enterprises_file": "profiler",
    "tag_rules": "tags",
}
__all__ = [
    "AgeFeatures",
    "ChainFeatures",
    "EnterpriseProfiler",
    "FinanceFeatures",
    "IndustryFeatures",
    "LinkResult",
    "SizeFeatures",
    "StatusFeatures",
    "TagFeatures",
    "canonical_status",
    "chain_mapping",
    "evaluate_name_matching",
    "link",
    "match_industry_names",
    "normalize_company_name",
    "profile",
    "profile_columns",
    "profile_enterprises_file",
    "tag_rules",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'quanhuiqi.profile' has no attribute {name!r}")
    value = getattr(import_module(f"quanhuiqi.profile.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _ProfileModule(ModuleType):
    """``quanhuiqi.profile`` is a package *and* the plain function ``quanhuiqi.profile(enterprises, as_of)``.

    The package attribute and the function share one name; making the module callable keeps both
    true without importing scikit-learn until a profile is actually built.
    """

    def __call__(self, enterprises, as_of, **kwargs):
        return self.profile(enterprises, as_of, **kwargs)


sys.modules[__name__].__class__ = _ProfileModule
