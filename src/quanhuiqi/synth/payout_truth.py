"""The true payout of any policy on a synthetic city: who truly qualifies on the complete, canonical facts
(``truth/enterprises_true.parquet``) and what each would truly get under the policy's amount rule.

Any policy, not only the book the city was generated with: a draft or a sweep's variant is judged the same way,
so a simulation's range and central estimate can be checked against the truth for every row it produces.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.tables.columns import ENTERPRISE_COLUMNS


def true_profile(data_dir: str | Path, as_of: dt.date | str, fields=None) -> pd.DataFrame:
    """The profile of the city's true facts (enterprise columns and the book's extra fields), at ``as_of``."""
    from quanhuiqi.eligibility.batch import as_date
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import validate_enterprises

    day = as_date(as_of)
    t = pd.read_parquet(Path(data_dir) / "truth" / "enterprises_true.parquet")
    extra = [f for f in (fields or {}) if f in t.columns and f not in ENTERPRISE_COLUMNS]
    cols = [c for c in ENTERPRISE_COLUMNS if c in t.columns] + extra
    raw = t[cols].copy()
    raw["name"] = raw["uscc"]  # the truth drops names; validation needs one
    clean = validate_enterprises(raw, day, source="truth").clean
    return profile(clean, day).reset_index(drop=True)


def true_facts(data_dir: str | Path, as_of: dt.date | str, usccs: pd.Series, book=None):
    """The true fact tables of ``truth/`` (``{table}_true.parquet``) validated like the observed ones; None when
    the city has none."""
    from quanhuiqi.tables.facts import FACT_FILES, FactTables, validate_fact_table

    truth = Path(data_dir) / "truth"
    vocab = book.table_vocabularies() if book is not None and hasattr(book, "table_vocabularies") else None
    facts, found = FactTables(), False
    for kind in FACT_FILES:
        path = truth / f"{kind}_true.parquet"
        if path.exists():
            setattr(facts, kind, validate_fact_table(kind, pd.read_parquet(path), as_of, usccs, kind, vocab).clean)
            found = True
    return facts if found else None


def true_payout(policies, fields, data_dir: str | Path, as_of: dt.date | str, usccs=None, book=None) -> pd.DataFrame:
    """``position, policy_id, eligible, payout`` (万元) per policy of ``policies`` (windows ignored), over the
    enterprises of ``usccs`` (default: all of the truth) — one row per policy, in the order given.  The record,
    yearly and declaration tests read the city's true fact tables; the amount is the policy's own rule (cap,
    rate × base, tiers) on the true facts."""
    from quanhuiqi.eligibility.batch import _amount, as_date, derived_for, verdict_matrix
    from quanhuiqi.eligibility.compiled import CompiledBook
    from quanhuiqi.eligibility.engine import encode

    day = as_date(as_of)
    prof = true_profile(data_dir, day, fields)
    if usccs is not None:
        prof = prof[prof["uscc"].isin(set(pd.Series(usccs).astype(str)))].reset_index(drop=True)
    facts = true_facts(data_dir, day, prof["uscc"], book)
    cb = CompiledBook(list(policies), fields)
    codes = verdict_matrix(cb, prof, facts=facts, as_of=day)
    bases = tuple(sorted({p.amount_base for p in policies if p.amount_base}))
    enc = encode(cb, prof, bases, derived_for(cb, prof, facts, day))
    rows = []
    for j, p in enumerate(policies):
        elig = np.flatnonzero(codes[:, j] == 2)
        amount, _ = _amount(cb, enc, cb.policies[j], elig)
        none = p.max_amount is None and p.amount_rate is None and not getattr(p, "tiers", ())
        rows.append({"position": j, "policy_id": p.id, "eligible": int(elig.size),
                     "payout": np.nan if none else float(np.nansum(amount))})
    return pd.DataFrame(rows)
