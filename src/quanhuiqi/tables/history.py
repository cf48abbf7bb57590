"""The platform's history and state tables: push history, grants, suppressions, posting interactions.

Same contract as the enterprise table (``Validated``, rejects with ``row_rejected`` /
``value_cleared``, rows in = rows out + rows rejected).  The event date of a history row is part
of its key, so a row whose event date is missing, unparseable or after ``as_of`` is rejected as a
whole (it cannot be placed in time, or had not happened yet at ``as_of``: keeping it would leak the
future into a back-test).  Other cells are cleared to unknown, never to 0 or false.

Outcome flags form a funnel (clicked → applied → approved; contacted → deal): a later stage that
is true with an earlier stage recorded false is inconsistent.  The earlier flag is the one cleared,
because the later stages come from the application and approval systems while clicks are tracked
by the front end and get lost.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quanhuiqi.tables.columns import (
    GRANT_COLUMNS,
    GRANT_STAGE_COLUMNS,
    POSTING_INTERACTION_COLUMNS,
    PUSH_HISTORY_COLUMNS,
    SUPPRESSION_COLUMNS,
)
from quanhuiqi.tables.io import read_table, require_columns
from quanhuiqi.tables.parse import (
    as_timestamp,
    by_unique,
    clean_text,
    parse_bools,
    parse_dates,
    parse_numbers,
    present,
    take_rows,
)
from quanhuiqi.tables.rejects import RejectLog, Validated, first_of_key
from quanhuiqi.tables.uscc import normalize_uscc, uscc_checked

MODES = ("auto", "instant", "apply")
MODE_NAMES = {"免申即享": "auto", "即申即享": "instant", "申报": "apply", "依申请": "apply"}

MISSING_REQUIRED = "missing required value"
UNPARSEABLE_DATE = "unparseable date"
DATE_AFTER_AS_OF = "date after as_of"
DUPLICATE_KEY = "duplicate key ({key}): row {kept} kept"
UNKNOWN_MODE = "unknown mode (expected auto, instant or apply)"
NOT_A_BOOL = "not a boolean (true/false, 1/0, 是/否)"
NOT_A_NUMBER = "not a number"
NOT_A_RANK = "rank is not a whole number >= 1"
NEGATIVE = "negative value"
FUNNEL = "{earlier}=false but {later}=true"
EXPIRES_BEFORE_CREATED = "expires_on before created_on"
STAGE_NOT_YET = "date after as_of: that stage had not happened yet"
STAGE_ORDER = "{earlier} after {later}"
SELF_PAIR = "demand_id and supply_id are the same posting"


@dataclass(frozen=True)
class TableSpec:
    """What a history table holds and how each column is checked."""

    source: str
    columns: list[str]
    required: list[str]  # columns the file must have
    key: list[str]  # a duplicate key keeps its first row
    uscc: list[str] = field(default_factory=list)  # invalid → row rejected
    ids: list[str] = field(default_factory=list)  # missing → row rejected
    event_date: str | None = None  # missing, unparseable or after as_of → row rejected
    dates: list[str] = field(default_factory=list)  # unparseable → cleared
    not_after_as_of: list[str] = field(default_factory=list)  # of ``dates``: after as_of → row rejected
    stages: list[str] = field(default_factory=list)  # of ``dates``, in order: after as_of or out of order → cleared
    ranks: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)  # finite, any sign
    money: list[str] = field(default_factory=list)  # finite, >= 0
    bools: list[str] = field(default_factory=list)
    funnel: list[str] = field(default_factory=list)  # ordered stages, all in ``bools``
    texts: list[str] = field(default_factory=list)  # NFKC + trimmed
    modes: list[str] = field(default_factory=list)


PUSH_HISTORY = TableSpec(
    source="push_history",
    columns=PUSH_HISTORY_COLUMNS,
    required=["date", "uscc", "policy_id"],
    key=["date", "uscc", "policy_id"],
    uscc=["uscc"],
    ids=["policy_id"],
    event_date="date",
    ranks=["rank"],
    numbers=["score"],
    modes=["mode"],
    bools=["clicked", "applied", "approved"],
    funnel=["clicked", "applied", "approved"],
)
GRANTS = TableSpec(
    source="grants",
    columns=GRANT_COLUMNS,
    required=["uscc", "policy_id"],
    key=["uscc", "policy_id", "granted_on"],
    uscc=["uscc"],
    ids=["policy_id"],
    dates=["granted_on", *GRANT_STAGE_COLUMNS],
    not_after_as_of=["granted_on"],
    stages=GRANT_STAGE_COLUMNS,
    money=["amount"],
)
SUPPRESSIONS = TableSpec(
    source="suppressions",
    columns=SUPPRESSION_COLUMNS,
    required=["uscc", "policy_id"],
    key=["uscc", "policy_id", "created_on"],
    uscc=["uscc"],
    ids=["policy_id"],
    dates=["created_on", "expires_on"],
    not_after_as_of=["created_on"],
    texts=["reason"],
)
POSTING_INTERACTIONS = TableSpec(
    source="posting_interactions",
    columns=POSTING_INTERACTION_COLUMNS,
    required=["date", "demand_id", "supply_id"],
    key=["date", "demand_id", "supply_id"],
    ids=["demand_id", "supply_id"],
    event_date="date",
    ranks=["rank"],
    bools=["contacted", "deal"],
    funnel=["contacted", "deal"],
)
SPECS = {s.source: s for s in (PUSH_HISTORY, GRANTS, SUPPRESSIONS, POSTING_INTERACTIONS)}


def _validate(
    raw: pd.DataFrame, as_of: str | dt.date | pd.Timestamp, spec: TableSpec, source: str
) -> Validated:
    as_of_ts = as_timestamp(as_of)
    after_reason = f"{DATE_AFTER_AS_OF} {as_of_ts.date().isoformat()}"
    require_columns(raw, spec.required, source)
    df = raw.reset_index(drop=True)
    n = len(df)
    rows = np.arange(1, n + 1, dtype=np.int64)
    rej = RejectLog(source)
    ok = np.ones(n, dtype=bool)
    out: dict[str, pd.Series] = {}

    def col(name: str) -> pd.Series:
        return df[name] if name in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")

    def col_of(name: str) -> pd.Series:
        return out[name] if name in out else col(name)

    # --- whole-row checks
    uscc_keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in spec.uscc:
        code = normalize_uscc(col(name))
        missing = code.isna().to_numpy()
        rej.reject(rows, None, missing, name, MISSING_REQUIRED)
        reason, hi, lo = uscc_checked(code)
        uscc_keys[name] = (hi, lo)
        bad = reason.notna().to_numpy()
        if bad.any():
            rej.add(rows[bad], col(name)[bad].astype("string"), name, reason[bad].to_numpy(), "row_rejected")
        ok &= ~missing & ~bad
        out[name] = code
    for name in spec.ids:
        ids = by_unique(col(name).astype("string"), clean_text)
        missing = ids.isna().to_numpy()
        rej.reject(rows, None, missing, name, MISSING_REQUIRED)
        ok &= ~missing
        out[name] = ids
    if spec.event_date:
        name = spec.event_date
        raw_col = col(name)
        dates, bad = parse_dates(raw_col)
        missing = ~present(raw_col) if bad.any() or dates.isna().any() else np.zeros(n, dtype=bool)
        after = (dates > as_of_ts).fillna(False).to_numpy(dtype=bool)
        rej.reject(rows, None, missing, name, MISSING_REQUIRED)
        rej.reject(rows, raw_col, bad, name, UNPARSEABLE_DATE)
        rej.reject(rows, raw_col, after, name, after_reason)
        ok &= ~missing & ~bad & ~after
        out[name] = dates
    for name in spec.dates:
        raw_col = col(name)
        dates, bad = parse_dates(raw_col)
        if name in spec.not_after_as_of:
            after = (dates > as_of_ts).fillna(False).to_numpy(dtype=bool)
            rej.reject(rows, raw_col, after & ok, name, after_reason)
            ok &= ~after
        rej.clear(rows, raw_col, bad & ok, name, UNPARSEABLE_DATE)
        if name in spec.stages:  # a stage dated after as_of had not happened yet: the grant stays, the date goes
            later = (dates > as_of_ts).fillna(False).to_numpy(dtype=bool)
            rej.clear(rows, raw_col, later & ok, name, STAGE_NOT_YET)
            dates = dates.mask(later)
        out[name] = dates
    _stage_order(spec, out, col, rows, ok, rej)
    if "created_on" in spec.dates and "expires_on" in spec.dates:
        backwards = (out["expires_on"] < out["created_on"]).fillna(False).to_numpy(dtype=bool)
        rej.reject(rows, col("expires_on"), backwards & ok, "expires_on", EXPIRES_BEFORE_CREATED)
        ok &= ~backwards
    if spec.source == "posting_interactions":
        same = (out["demand_id"] == out["supply_id"]).fillna(False).to_numpy(dtype=bool)
        rej.reject(rows, col("supply_id"), same & ok, "supply_id", SELF_PAIR)
        ok &= ~same
    # duplicates among the rows still in: keep the first, name it in the others' reason
    if ok.any():
        keys: list[np.ndarray | pd.Series] = []
        for c in spec.key:
            # a valid USCC as two integers: grouping millions of history rows hashes no text
            keys += [half[ok] for half in uscc_keys[c]] if c in spec.uscc else [take_rows(col_of(c), ok)]
        kept_row = first_of_key(keys, rows[ok])
        dup = kept_row != rows[ok]
        if dup.any():
            dup_rows = rows[ok][dup]
            reasons = np.array(
                [DUPLICATE_KEY.format(key=", ".join(spec.key), kept=k) for k in kept_row[dup]], dtype=object
            )
            rej.add(dup_rows, None, ",".join(spec.key), reasons, "row_rejected")
            ok[dup_rows - 1] = False

    # --- value checks (kept rows only)
    for name in spec.texts:
        out[name] = clean_text(col(name))
    for name in spec.modes:
        raw_col = col(name)
        mode = by_unique(raw_col.astype("string"), lambda u: clean_text(u).str.lower().replace(MODE_NAMES))
        wrong = present(raw_col) & ~mode.isin(MODES).fillna(False).to_numpy(dtype=bool)
        rej.clear(rows, raw_col, wrong & ok, name, UNKNOWN_MODE)
        out[name] = mode.mask(wrong).astype("string")
    for name in spec.ranks:
        raw_col = col(name)
        num, bad = parse_numbers(raw_col)
        arr = num.to_numpy(copy=True)
        wrong = ~bad & ~np.isnan(arr) & ((arr < 1) | (arr != np.floor(arr)))
        rej.clear(rows, raw_col, (bad | wrong) & ok, name, NOT_A_RANK)
        arr[wrong] = np.nan
        out[name] = pd.Series(arr, dtype="float64").astype("Int64")
    for name in spec.numbers + spec.money:
        raw_col = col(name)
        num, bad = parse_numbers(raw_col)
        arr = num.to_numpy(copy=True)
        rej.clear(rows, raw_col, bad & ok, name, NOT_A_NUMBER)
        if name in spec.money:
            neg = arr < 0
            rej.clear(rows, raw_col, neg & ok, name, NEGATIVE)
            arr[neg] = np.nan
        out[name] = pd.Series(arr, dtype="float64")
    for name in spec.bools:
        raw_col = col(name)
        flags, bad = parse_bools(raw_col)
        rej.clear(rows, raw_col, bad & ok, name, NOT_A_BOOL)
        out[name] = flags.reset_index(drop=True)
    for i, earlier in enumerate(spec.funnel):
        cleared = np.zeros(n, dtype=bool)
        for later in spec.funnel[i + 1 :]:
            hit = (out[earlier] == False) & (out[later] == True)  # noqa: E712 (nullable booleans)
            hit = hit.fillna(False).to_numpy(dtype=bool) & ~cleared
            rej.clear(rows, col(earlier), hit & ok, earlier, FUNNEL.format(earlier=earlier, later=later))
            cleared |= hit
        out[earlier] = out[earlier].mask(cleared)

    keep = ok
    order = [c for c in spec.columns] + [c for c in out if c not in spec.columns]
    clean = pd.DataFrame({"row": rows[keep]})
    for c in order:
        clean[c] = take_rows(out[c], keep)
    extras = [c for c in df.columns if c not in clean.columns]
    if extras:
        clean = pd.concat([clean, df.loc[keep, extras].reset_index(drop=True)], axis=1)
    result = Validated(clean=clean, rejects=rej.table(), rows_in=n)
    result.check_invariant()
    return result


def _stage_order(spec: TableSpec, out: dict, col, rows: np.ndarray, ok: np.ndarray, rej: RejectLog) -> None:
    """Stage dates go forward (eligible ≤ applied ≤ approved ≤ paid).  A stage dated after a later one is
    cleared — the earlier one, as with the funnel flags: approvals and payments come from the approval and
    treasury systems, while the first dates are kept by hand or by the front end."""
    for i, earlier in enumerate(spec.stages):
        cleared = np.zeros(len(rows), dtype=bool)
        for later in spec.stages[i + 1 :]:
            hit = (out[earlier] > out[later]).fillna(False).to_numpy(dtype=bool) & ~cleared
            rej.clear(rows, col(earlier), hit & ok, earlier, STAGE_ORDER.format(earlier=earlier, later=later))
            cleared |= hit
        if cleared.any():
            out[earlier] = out[earlier].mask(cleared)


def validate_push_history(
    raw: pd.DataFrame, as_of: str | dt.date | pd.Timestamp, source: str = "push_history"
) -> Validated:
    """Past pushes: ``date, uscc, policy_id, rank, score, mode, clicked, applied, approved``."""
    return _validate(raw, as_of, PUSH_HISTORY, source)


def validate_grants(
    raw: pd.DataFrame, as_of: str | dt.date | pd.Timestamp, source: str = "grants"
) -> Validated:
    """Benefits already granted: ``uscc, policy_id, granted_on, amount`` and the optional stage dates
    ``eligible_on, applied_on, approved_on, paid_on`` (a grant without a known date still counts as
    granted; one dated after ``as_of`` had not happened yet; a stage dated after ``as_of`` or before an
    earlier stage is cleared to unknown, the grant kept)."""
    return _validate(raw, as_of, GRANTS, source)


def validate_suppressions(
    raw: pd.DataFrame, as_of: str | dt.date | pd.Timestamp, source: str = "suppressions"
) -> Validated:
    """Disputed pairs never to push: ``uscc, policy_id, reason, created_on, expires_on`` (a missing or
    unparseable ``expires_on`` means no known expiry: the suppression stays in force)."""
    return _validate(raw, as_of, SUPPRESSIONS, source)


def validate_posting_interactions(
    raw: pd.DataFrame, as_of: str | dt.date | pd.Timestamp, source: str = "posting_interactions"
) -> Validated:
    """Past supply–demand pushes: ``date, demand_id, supply_id, rank, contacted, deal``."""
    return _validate(raw, as_of, POSTING_INTERACTIONS, source)


VALIDATORS = {
    "push_history": validate_push_history,
    "grants": validate_grants,
    "suppressions": validate_suppressions,
    "posting_interactions": validate_posting_interactions,
}


def validate_history(
    kind: str, raw: pd.DataFrame, as_of: str | dt.date | pd.Timestamp, source: str | None = None
) -> Validated:
    """Validate one history table by its name in ``DATA_FILES`` (``push_history``, ``grants``, …)."""
    if kind not in VALIDATORS:
        raise ValueError(f"unknown history table {kind!r} (expected one of {', '.join(VALIDATORS)})")
    return VALIDATORS[kind](raw, as_of, source or kind)


def _read(path: str | os.PathLike, spec: TableSpec, encoding: str | None = None,
          report: dict | None = None) -> pd.DataFrame:
    text = [c for c in spec.uscc + spec.ids + spec.texts + spec.modes]
    df = read_table(path, text_columns=text, encoding=encoding, report=report)
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, spec.required, str(path))
    return df


def read_push_history(path: str | os.PathLike, encoding: str | None = None, report: dict | None = None) -> pd.DataFrame:
    """The push history as read; ``InputError`` naming the file if unreadable or a key column is missing."""
    return _read(path, PUSH_HISTORY, encoding, report)


def read_grants(path: str | os.PathLike, encoding: str | None = None, report: dict | None = None) -> pd.DataFrame:
    """The grants table as read; ``InputError`` naming the file if unreadable or a key column is missing."""
    return _read(path, GRANTS, encoding, report)


def read_suppressions(path: str | os.PathLike, encoding: str | None = None, report: dict | None = None) -> pd.DataFrame:
    """The suppressions as read; ``InputError`` naming the file if unreadable or a key column is missing."""
    return _read(path, SUPPRESSIONS, encoding, report)


def read_posting_interactions(path: str | os.PathLike, encoding: str | None = None, report: dict | None = None) -> pd.DataFrame:
    """The posting interactions as read; ``InputError`` naming the file if unreadable or a key column is missing."""
    return _read(path, POSTING_INTERACTIONS, encoding, report)
