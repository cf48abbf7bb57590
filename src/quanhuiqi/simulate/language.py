"""What the simulation reads of the policy language's later parts (issue 13), through the engine's own functions:
the fact tables (certificates, milestones, penalties, yearly figures, declarations) and the derived facts computed
from them, amount tiers, and the cross-policy rules (``once``, ``exclusive``) enforced against the grants.

Each hook answers "not there" on an engine without that part (``None``), so the simulation runs the same on
either: a book without records, tiers or rules is simulated exactly as before.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd


def derived_columns(cb, profile: pd.DataFrame, facts, as_of: dt.date) -> dict[str, pd.Series] | None:
    """The columns of the derived fields the book tests (record tests, yearly figures, declarations, computed
    fields) for ``profile``'s rows, from ``facts`` (a table not supplied leaves its facts unknown)."""
    try:
        from quanhuiqi.eligibility.batch import derived_for
    except ImportError:  # an engine without derived facts
        return None
    return derived_for(cb, profile, facts, as_of) or None


def encode(cb, profile: pd.DataFrame, bases: tuple[str, ...], derived: dict[str, pd.Series] | None):
    from quanhuiqi.eligibility.engine import encode as engine_encode

    if derived:
        return engine_encode(cb, profile, bases, derived)
    return engine_encode(cb, profile, bases)


def tier_bounds(cb, enc, cp, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(the amount the facts prove, the most it can be) of a tiered policy's pairs; None without tiers."""
    if not getattr(cp, "tiers", None):
        return None
    from quanhuiqi.eligibility.batch import (
        _amount,  # the engine's own tier rule: highest proven, highest not false
    )

    return _amount(cb, enc, cp, rows)


def has_rules(policy) -> bool:
    """A cross-policy rule (``once`` or an exclusive group) that grants may block."""
    return bool(getattr(policy, "once", None) or getattr(policy, "exclusive_group", None))


def blocked(cb, usccs: pd.Series, rows: np.ndarray, pol_pos: np.ndarray, grants: pd.DataFrame | None,
            as_of: dt.date) -> np.ndarray | None:
    """Which pairs (``rows`` into ``usccs``, policies at ``pol_pos`` of ``cb``) a cross-policy rule blocks given
    the grants; None on an engine without the rules."""
    try:
        from quanhuiqi.eligibility.batch import blocked_mask
    except ImportError:
        return None
    mask, _ = blocked_mask(cb, pd.DataFrame({"uscc": usccs}), rows, pol_pos, grants, as_of)
    return mask


def load_facts(data_dir: str | os.PathLike, as_of: dt.date, usccs: pd.Series, book, encoding: str | None = None,
               report: dict | None = None) -> tuple[object, pd.DataFrame | None]:
    """(the fact tables of ``data_dir`` validated against the clean enterprises and the book's vocabularies,
    their rejects); (None, None) on an engine without fact tables.  ``encoding``/``report`` as in
    :func:`quanhuiqi.tables.facts.load_fact_tables`."""
    try:
        from quanhuiqi.tables.facts import load_fact_tables
    except ImportError:
        return None, None
    vocab = book.table_vocabularies() if book is not None and hasattr(book, "table_vocabularies") else None
    return load_fact_tables(data_dir, as_of, usccs, vocab, encoding, report)
