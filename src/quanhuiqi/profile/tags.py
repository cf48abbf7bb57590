"""Readable Chinese tags, each produced by one documented rule over the profile's own fields.

A tag is attached only when its rule is *proven* true (unknown facts never produce a tag): tags
are a closed-world set like certifications.  :func:`tag_rules` lists every tag with the rule that
produces it, so a person can see why an enterprise carries a tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quanhuiqi.profile._base import FeatureBuilder, column, number
from quanhuiqi.profile.chains import CHAIN_NAMES_ZH, set_contains

HIGH_GROWTH = 0.20  # revenue growth ≥ 20 %: the 瞪羚 screening line
HIGH_RD = 0.05  # R&D ≥ 5 % of revenue: the top band of the 高新技术企业 R&D test


def _eq(X: pd.DataFrame, col: str, value: str) -> np.ndarray:
    return column(X, col, "string").eq(value).fillna(False).to_numpy(dtype=bool)


def _isin(X: pd.DataFrame, col: str, values: tuple[str, ...]) -> np.ndarray:
    return column(X, col, "string").isin(values).to_numpy(dtype=bool)


def _true(X: pd.DataFrame, col: str) -> np.ndarray:
    return column(X, col, "boolean").fillna(False).to_numpy(dtype=bool)


def _ge(X: pd.DataFrame, col: str, value: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return number(X, col) >= value


def _cert(token: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda X: set_contains(column(X, "certifications", "string"), token)


def _chain(token: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda X: set_contains(column(X, "chains", "string"), token)


@dataclass(frozen=True)
class TagRule:
    tag: str
    rule: str
    test: Callable[[pd.DataFrame], np.ndarray]


TAG_RULES: tuple[TagRule, ...] = (
    TagRule("高新技术企业", "certifications has high_tech", _cert("high_tech")),
    TagRule("专精特新", "certifications has specialized_sme or little_giant",
            lambda X: _cert("specialized_sme")(X) | _cert("little_giant")(X)),
    TagRule("专精特新小巨人", "certifications has little_giant", _cert("little_giant")),
    TagRule("科技型中小企业", "certifications has tech_sme", _cert("tech_sme")),
    TagRule("创新型中小企业", "certifications has innovative_sme", _cert("innovative_sme")),
    TagRule("瞪羚企业", "certifications has gazelle", _cert("gazelle")),
    TagRule("独角兽企业", "certifications has unicorn", _cert("unicorn")),
    TagRule("单项冠军", "certifications has single_champion", _cert("single_champion")),
    TagRule("小微企业", "size_class in (small, micro)", lambda X: _isin(X, "size_class", ("small", "micro"))),
    TagRule("中型企业", "size_class = medium", lambda X: _eq(X, "size_class", "medium")),
    TagRule("大型企业", "size_class = large", lambda X: _eq(X, "size_class", "large")),
    TagRule("规上企业", "above_scale = true", lambda X: _true(X, "above_scale")),
    TagRule("初创期", "lifecycle_stage = startup (age < 3 years)", lambda X: _eq(X, "lifecycle_stage", "startup")),
    TagRule("成长期", "lifecycle_stage = growth (3 ≤ age < 10)", lambda X: _eq(X, "lifecycle_stage", "growth")),
    TagRule("高成长", f"revenue_growth ≥ {HIGH_GROWTH:.0%}", lambda X: _ge(X, "revenue_growth", HIGH_GROWTH)),
    TagRule("研发投入高", f"rd_ratio ≥ {HIGH_RD:.0%}", lambda X: _ge(X, "rd_ratio", HIGH_RD)),
    TagRule("纳税信用A级", "tax_credit_rating = A", lambda X: _eq(X, "tax_credit_rating", "A")),
    TagRule("经营异常", "abnormal_operation = true", lambda X: _true(X, "abnormal_operation")),
    TagRule("严重失信", "serious_dishonest = true", lambda X: _true(X, "serious_dishonest")),
    TagRule("停业", "status = suspended", lambda X: _eq(X, "status", "suspended")),
    TagRule("已吊销", "status = revoked", lambda X: _eq(X, "status", "revoked")),
    TagRule("已注销", "status = cancelled", lambda X: _eq(X, "status", "cancelled")),
    TagRule("清算中", "status = liquidating", lambda X: _eq(X, "status", "liquidating")),
    TagRule("已迁出", "status = moved_out", lambda X: _eq(X, "status", "moved_out")),
    *(TagRule(f"{zh}产业链", f"chains has {chain}", _chain(chain)) for chain, zh in CHAIN_NAMES_ZH.items()),
)
TAGS = tuple(r.tag for r in TAG_RULES)


def tag_rules() -> pd.DataFrame:
    """Every tag with the rule that produces it."""
    return pd.DataFrame({"tag": [r.tag for r in TAG_RULES], "rule": [r.rule for r in TAG_RULES]}, dtype="string")


def build_tags(X: pd.DataFrame, rules: tuple[TagRule, ...] = TAG_RULES) -> pd.Series:
    """``;``-joined sorted tags per row.  Rows are encoded as a bitmask; the string is built once per
    distinct combination."""
    if len(rules) > 63:
        raise ValueError("at most 63 tag rules")
    mask = np.zeros(len(X), dtype=np.int64)
    for bit, rule in enumerate(rules):
        hit = np.asarray(rule.test(X), dtype=bool)
        mask |= hit.astype(np.int64) << bit
    codes, uniques = pd.factorize(mask)
    order = sorted(range(len(rules)), key=lambda i: rules[i].tag)
    texts = np.array(
        [";".join(rules[i].tag for i in order if (int(u) >> i) & 1) for u in uniques], dtype=object
    )
    return pd.Series(texts[codes] if len(codes) else [], index=X.index, dtype="string")


class TagFeatures(FeatureBuilder):
    """``tags``: readable Chinese tags (run last: it reads status, size, age, finance, chains)."""

    produces = ("tags",)

    def derive(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"tags": build_tags(X)}, index=X.index)
