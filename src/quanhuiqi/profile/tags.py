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

from quanhuiqi.profile._base import column, number
from quanhuiqi.profile.chains import CHAIN_NAMES_ZH, set_contains
from quanhuiqi.text import strings_at

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
    """A tag, its rule in words, its test over a profile frame and the same test over one profile
    record (a dict, :mod:`quanhuiqi.profile.record`)."""

    tag: str
    rule: str
    test: Callable[[pd.DataFrame], np.ndarray]
    one: Callable[[dict], bool] | None = None


def _text_of(row: dict, col: str) -> str | None:
    v = row.get(col)
    return None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)


def _eq1(col: str, value: str) -> Callable[[dict], bool]:
    return lambda r: _text_of(r, col) == value


def _isin1(col: str, values: tuple[str, ...]) -> Callable[[dict], bool]:
    return lambda r: _text_of(r, col) in values


def _true1(col: str) -> Callable[[dict], bool]:
    return lambda r: r.get(col) is True or (isinstance(r.get(col), np.bool_) and bool(r.get(col)))


def _ge1(col: str, value: float) -> Callable[[dict], bool]:
    def test(r: dict) -> bool:
        x = r.get(col)
        if not isinstance(x, float | int | np.floating | np.integer) or isinstance(x, bool | np.bool_):
            x = pd.to_numeric(pd.Series([x], dtype=object), errors="coerce").iloc[0]
        return bool(x >= value) if x == x else False
    return test


def _has1(col: str, *tokens: str) -> Callable[[dict], bool]:
    return lambda r: bool(set(tokens) & set((_text_of(r, col) or "").split(";")))


def _rule(tag: str, rule: str, test: Callable[[pd.DataFrame], np.ndarray], one: Callable[[dict], bool]) -> TagRule:
    return TagRule(tag, rule, test, one)


TAG_RULES: tuple[TagRule, ...] = (
    _rule("高新技术企业", "certifications has high_tech", _cert("high_tech"), _has1("certifications", "high_tech")),
    _rule("专精特新", "certifications has specialized_sme or little_giant",
          lambda X: _cert("specialized_sme")(X) | _cert("little_giant")(X),
          _has1("certifications", "specialized_sme", "little_giant")),
    _rule("专精特新小巨人", "certifications has little_giant", _cert("little_giant"),
          _has1("certifications", "little_giant")),
    _rule("科技型中小企业", "certifications has tech_sme", _cert("tech_sme"), _has1("certifications", "tech_sme")),
    _rule("创新型中小企业", "certifications has innovative_sme", _cert("innovative_sme"),
          _has1("certifications", "innovative_sme")),
    _rule("瞪羚企业", "certifications has gazelle", _cert("gazelle"), _has1("certifications", "gazelle")),
    _rule("独角兽企业", "certifications has unicorn", _cert("unicorn"), _has1("certifications", "unicorn")),
    _rule("单项冠军", "certifications has single_champion", _cert("single_champion"),
          _has1("certifications", "single_champion")),
    _rule("小微企业", "size_class in (small, micro)", lambda X: _isin(X, "size_class", ("small", "micro")),
          _isin1("size_class", ("small", "micro"))),
    _rule("中型企业", "size_class = medium", lambda X: _eq(X, "size_class", "medium"), _eq1("size_class", "medium")),
    _rule("大型企业", "size_class = large", lambda X: _eq(X, "size_class", "large"), _eq1("size_class", "large")),
    _rule("规上企业", "above_scale = true", lambda X: _true(X, "above_scale"), _true1("above_scale")),
    _rule("初创期", "lifecycle_stage = startup (age < 3 years)", lambda X: _eq(X, "lifecycle_stage", "startup"),
          _eq1("lifecycle_stage", "startup")),
    _rule("成长期", "lifecycle_stage = growth (3 ≤ age < 10)", lambda X: _eq(X, "lifecycle_stage", "growth"),
          _eq1("lifecycle_stage", "growth")),
    _rule("高成长", f"revenue_growth ≥ {HIGH_GROWTH:.0%}", lambda X: _ge(X, "revenue_growth", HIGH_GROWTH),
          _ge1("revenue_growth", HIGH_GROWTH)),
    _rule("研发投入高", f"rd_ratio ≥ {HIGH_RD:.0%}", lambda X: _ge(X, "rd_ratio", HIGH_RD), _ge1("rd_ratio", HIGH_RD)),
    _rule("纳税信用A级", "tax_credit_rating = A", lambda X: _eq(X, "tax_credit_rating", "A"),
          _eq1("tax_credit_rating", "A")),
    _rule("经营异常", "abnormal_operation = true", lambda X: _true(X, "abnormal_operation"),
          _true1("abnormal_operation")),
    _rule("严重失信", "serious_dishonest = true", lambda X: _true(X, "serious_dishonest"), _true1("serious_dishonest")),
    _rule("停业", "status = suspended", lambda X: _eq(X, "status", "suspended"), _eq1("status", "suspended")),
    _rule("已吊销", "status = revoked", lambda X: _eq(X, "status", "revoked"), _eq1("status", "revoked")),
    _rule("已注销", "status = cancelled", lambda X: _eq(X, "status", "cancelled"), _eq1("status", "cancelled")),
    _rule("清算中", "status = liquidating", lambda X: _eq(X, "status", "liquidating"), _eq1("status", "liquidating")),
    _rule("已迁出", "status = moved_out", lambda X: _eq(X, "status", "moved_out"), _eq1("status", "moved_out")),
    *(_rule(f"{zh}产业链", f"chains has {chain}", _chain(chain), _has1("chains", chain))
      for chain, zh in CHAIN_NAMES_ZH.items()),
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
    texts = [";".join(rules[i].tag for i in order if (int(u) >> i) & 1) for u in uniques]
    return strings_at(texts, codes, X.index)


def tags_of(row: dict, rules: tuple[TagRule, ...] = TAG_RULES) -> str:
    """:func:`build_tags` of one profile record (a dict): the same ``;``-joined sorted tags."""
    return ";".join(sorted(r.tag for r in rules if r.one is not None and r.one(row)))


TAG_COLUMNS = ("tags",)


def derive_tags(X: pd.DataFrame) -> pd.DataFrame:
    """``tags``: readable Chinese tags (run last: it reads status, size, age, finance, chains)."""
    return pd.DataFrame({"tags": build_tags(X)}, index=X.index)
