"""Operating status: registry text → active, suspended, revoked, cancelled, moved_out, liquidating.

Registries write status many ways (存续, 在业, 开业, 在营, ``存续（在营、开业、在册）``, 吊销，未注销,
吊销后注销, 迁出, 停业, 歇业, 清算中, traditional 註銷, padded, full-width).  The text is normalised
(NFKC, 繁→简, no spaces or punctuation, no trailing 企业/状态) and read by ordered keyword rules;
text no rule recognises is **unknown** (NA), never active, and is counted in the run summary.
The canonical values themselves map to themselves, so profiling a profile is stable.
"""

from __future__ import annotations

import re

import pandas as pd

from quanhuiqi.profile._base import column, map_distinct
from quanhuiqi.text import normalize_text

_STRIP = re.compile(r"[\s、，,。.（）()\[\]【】:：;；\-—/\"'“”]+")

# Ordered: the first rule whose pattern matches decides.  "吊销，未注销" is revoked (the licence is
# revoked, the entity not yet cancelled); "吊销后注销"/"吊销，已注销" is cancelled.
STATUS_RULES: tuple[tuple[str, str, str], ...] = (
    ("cancelled", r"^(已)?注销|吊销.*已注销|吊销后注销|^注销", "注销 (not 未注销)"),
    ("revoked", r"吊销|撤销|责令关闭|关闭", "吊销 / 撤销登记 / 责令关闭"),
    ("moved_out", r"迁出|迁往|迁移", "迁出"),
    ("liquidating", r"清算|破产", "清算中 / 破产"),
    ("suspended", r"停业|歇业|暂停", "停业 / 歇业 (条例 2022)"),
    ("active", r"^(存续|在业|开业|在营|在册|营业|正常|登记成立|成立|确立|有效|正常经营|续存)", "存续 / 在业 / 开业 / 在营"),
)
_CANONICAL = {"active", "suspended", "revoked", "cancelled", "moved_out", "liquidating"}
_COMPILED = tuple((status, re.compile(pat)) for status, pat, _ in STATUS_RULES)


def status_key(text: str | None) -> str | None:
    s = normalize_text(text)
    if s is None:
        return None
    s = _STRIP.sub("", s).lower()
    for suffix in ("企业", "状态", "中"):
        if s.endswith(suffix) and len(s) > len(suffix) and not s.endswith("清算中"):
            s = s[: -len(suffix)]
    return s or None


def canonical_status(text: str | None) -> str | None:
    """One registry status text → canonical status, or None when the text is not recognised."""
    key = status_key(text)
    if key is None:
        return None
    if key in _CANONICAL:
        return key
    for status, pattern in _COMPILED:
        if pattern.search(key):
            return status
    return None


def canonical_status_series(values: pd.Series) -> pd.Series:
    return map_distinct(values.astype("string"), canonical_status)


STATUS_COLUMNS = ("status", "status_text", "status_unrecognised")


def derive_status(X: pd.DataFrame) -> pd.DataFrame:
    """``status`` → canonical; the registry's text is kept as ``status_text``.

    ``status_unrecognised`` is True where text was present but not recognised (the unknowns the run
    summary counts); a missing status is simply unknown.
    """
    text = column(X, "status_text", "string") if "status_text" in X.columns else column(X, "status", "string")
    canon = canonical_status_series(text)
    return pd.DataFrame(
        {
            "status": canon,
            "status_text": text,
            "status_unrecognised": (text.notna() & canon.isna()).astype("boolean"),
        },
        index=X.index,
    )
