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


def true_payout(policies, fields, data_dir: str | Path, as_of: dt.date | str, usccs=None) -> pd.DataFrame:
    """``position, policy_id, eligible, payout`` (万元) per policy of ``policies`` (windows ignored), over the
    enterprises of ``usccs`` (default: all of the truth) — one row per policy, in the order given."""
    from quanhuiqi.eligibility.batch import verdict_matrix
    from quanhuiqi.eligibility.compiled import CompiledBook
    from quanhuiqi.eligibility.engine import encode

    prof = true_profile(data_dir, as_of, fields)
    if usccs is not None:
        prof = prof[prof["uscc"].isin(set(pd.Series(usccs).astype(str)))].reset_index(drop=True)
    cb = CompiledBook(list(policies), fields)
    codes = verdict_matrix(cb, prof)
    bases = tuple(sorted({p.amount_base for p in policies if p.amount_base}))
    enc = encode(cb, prof, bases)
    rows = []
    for j, p in enumerate(policies):
        elig = codes[:, j] == 2
        if p.amount_rate is not None:
            x = enc.numeric(cb, p.amount_base)
            a = p.amount_rate * x[elig]
            a = np.minimum(a, p.max_amount) if p.max_amount is not None else a
            pay = float(np.nansum(a))
        else:
            pay = float(elig.sum() * p.max_amount) if p.max_amount is not None else np.nan
        rows.append({"position": j, "policy_id": p.id, "eligible": int(elig.sum()), "payout": pay})
    return pd.DataFrame(rows)
