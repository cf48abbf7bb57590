"""The enterprise profile (企业画像): every builder in order, over the clean enterprise table.

Same rows, same order, same index as the input; every input column kept (``status`` becomes the
canonical status, the registry text moves to ``status_text``; ``industry_code`` becomes the code
actually known, from the code or from the name).  Derived columns and their representation are
``quanhuiqi.profile.fields.BUILTIN_FIELDS`` plus ``industry_level``, ``industry_match``,
``industry_confidence`` and ``size_industry_key``.

The steps are plain functions over DataFrames (``profile``); their scikit-learn shells
(:class:`EnterpriseProfiler` and the builders, ``quanhuiqi.profile.builders``) run the same steps.  This
module does not import scikit-learn: ``quanhuiqi eligibility`` and ``quanhuiqi profile`` never pay for it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.profile._base import check_frame, merge_columns
from quanhuiqi.profile.chains import CHAIN_COLUMNS, derive_chains
from quanhuiqi.profile.derived import AGE_COLUMNS, FINANCE_COLUMNS, as_date, derive_age, derive_finance
from quanhuiqi.profile.fields import BUILTIN_FIELDS
from quanhuiqi.profile.industry import INDUSTRY_COLUMNS, derive_industry
from quanhuiqi.profile.size import SIZE_COLUMNS, derive_size
from quanhuiqi.profile.status import STATUS_COLUMNS, derive_status
from quanhuiqi.profile.tags import TAG_COLUMNS, derive_tags

PROFILE_EXTRA = ("industry_level", "industry_match", "industry_confidence", "size_industry_key")


Step = tuple[str, tuple[str, ...], Callable[[pd.DataFrame], pd.DataFrame]]


def profile_steps(as_of: dt.date | str | None, industry_confidence_floor: float = 0.85,
                  industry_margin: float = 3.0) -> list[Step]:
    """(name, columns produced, derivation) of every step, in order: industry → status → size → age →
    finance → chains → tags."""
    return [
        ("industry", INDUSTRY_COLUMNS, partial(derive_industry, confidence_floor=industry_confidence_floor,
                                               margin=industry_margin)),
        ("status", STATUS_COLUMNS, derive_status),
        ("size", SIZE_COLUMNS, derive_size),
        ("age", AGE_COLUMNS, partial(derive_age, as_of=as_of)),
        ("finance", FINANCE_COLUMNS, derive_finance),
        ("chains", CHAIN_COLUMNS, derive_chains),
        ("tags", TAG_COLUMNS, derive_tags),
    ]


def columns_out(columns: list[str], steps: list[Step]) -> tuple[list[str], list[str]]:
    """(the columns the steps leave, the builtin fields still missing then: added all unknown)."""
    cols = list(columns)
    for _, produces, _ in steps:
        cols += [c for c in produces if c not in cols]
    return cols, [f.name for f in BUILTIN_FIELDS if f.name not in cols]


def run_steps(X: pd.DataFrame, steps: list[Step], missing: list[str]) -> pd.DataFrame:
    out = X
    for _, produces, derive in steps:
        out = merge_columns(out, derive(out)[list(produces)])
    if missing:  # every field a policy may test exists; absent facts are unknown
        out = merge_columns(out, pd.DataFrame({name: _unknown_column(name, out.index) for name in missing},
                                              index=out.index))
    return out


_DTYPES = {"number": "float64", "bool": "boolean", "date": "datetime64[ns]", "set": "string"}


def _unknown_column(name: str, index: pd.Index) -> pd.Series:
    kind = next(f.type for f in BUILTIN_FIELDS if f.name == name)
    if kind == "set":  # closed world: an absent list holds nothing
        return pd.Series("", index=index, dtype="string")
    missing = {"number": np.nan, "date": pd.NaT}.get(kind, pd.NA)
    return pd.Series(missing, index=index, dtype=_DTYPES.get(kind, "string"))


def profile(clean: pd.DataFrame, as_of: dt.date | str | pd.Timestamp, *, industry_confidence_floor: float = 0.85,
            industry_margin: float = 3.0) -> pd.DataFrame:
    """The profile of every enterprise of a clean table (``validate_enterprises(...).clean``): what
    ``EnterpriseProfiler(as_of=as_of, ...).fit_transform(clean)`` returns, without scikit-learn."""
    clean = check_frame(clean)
    if as_of is None:
        raise ValueError("EnterpriseProfiler needs as_of (nothing reads the wall clock)")
    as_date(as_of)
    steps = profile_steps(as_of, industry_confidence_floor, industry_margin)
    return run_steps(clean, steps, columns_out(list(clean.columns), steps)[1])


def profile_columns() -> list[str]:
    """Columns every profile has, whatever the input: the builtin fields plus the industry/size extras."""
    return [f.name for f in BUILTIN_FIELDS] + list(PROFILE_EXTRA)


def summarize(prof: pd.DataFrame) -> dict[str, int]:
    """Counts the run summary reports (no record content)."""
    return {
        "rows": len(prof),
        "status_unrecognised": int(prof["status_unrecognised"].fillna(False).sum()),
        "status_unknown": int(prof["status"].isna().sum()),
        "industry_unknown": int(prof["industry_code"].isna().sum()),
        "industry_from_name": int(prof["industry_match"].eq("name").fillna(False).sum()),
        "size_unknown": int(prof["size_class"].isna().sum()),
    }


def profile_enterprises_file(
    enterprises_path: str | os.PathLike,
    as_of: dt.date | str,
    out: str | os.PathLike,
    rejects: str | os.PathLike | None = None,
    encoding: str | None = None,
) -> str:
    """Read → validate → profile → write ``out`` and the rejects (atomically); a short summary.

    Rejects default to ``<out stem>.rejects<suffix>`` beside ``out``.  ``encoding`` names the CSV's
    encoding (default: UTF-8 or GB18030/GBK detected); the summary says which was read.  It holds counts
    only (rows in/out/rejected, values cleared, unknown statuses …), never record content.
    """
    from quanhuiqi.tables import read_enterprises, validate_enterprises, write_table

    out = Path(out)
    rejects = Path(rejects) if rejects is not None else out.with_name(out.stem + ".rejects" + out.suffix)
    read_as: dict = {}
    raw = read_enterprises(enterprises_path, encoding=encoding, report=read_as)
    validated = validate_enterprises(raw, as_of, source=str(enterprises_path))
    validated.check_invariant()
    prof = profile(validated.clean, as_of)
    if len(prof) != len(validated.clean):  # a bug, never bad input
        raise AssertionError("profile changed the number of rows")
    write_table(prof, out)
    write_table(validated.rejects, rejects)
    s = summarize(prof)
    cleared = int((validated.rejects["action"] == "value_cleared").sum())
    return (
        f"profiled {s['rows']} of {validated.rows_in} rows ({validated.rows_rejected} rejected, "
        f"{cleared} values cleared) → {out}; rejects → {rejects}; "
        f"status unknown {s['status_unknown']} (unrecognised text {s['status_unrecognised']}), "
        f"industry unknown {s['industry_unknown']} (from name {s['industry_from_name']}), "
        f"size class undecided {s['size_unknown']}; read as {read_as['encoding']}"
    )


__all__ = ["profile", "profile_steps", "profile_columns", "profile_enterprises_file", "summarize"]
