"""The rejects table: every input row that is refused, or every value that is cleared, with its reason.

``action`` says what happened: ``row_rejected`` (the whole row is out of the run) or ``value_cleared``
(the row stays, that one value becomes missing = unknown).  ``value`` holds the offending cell only,
never the whole record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REJECT_COLUMNS = ["source", "row", "column", "value", "reason", "action"]
ROW_REJECTED = "row_rejected"
VALUE_CLEARED = "value_cleared"


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": pd.Series(dtype="string"),
            "row": pd.Series(dtype="int64"),
            "column": pd.Series(dtype="string"),
            "value": pd.Series(dtype="string"),
            "reason": pd.Series(dtype="string"),
            "action": pd.Series(dtype="string"),
        }
    )


def rejects_for(
    rows: pd.Series | np.ndarray,
    values: pd.Series | np.ndarray | None,
    *,
    source: str,
    column: str,
    reason: str | pd.Series | np.ndarray,
    action: str,
) -> pd.DataFrame:
    """Reject records for the given row numbers (1-based input rows), one per row; ``reason`` one for
    all or one per row."""
    return rejects_table(rows, values, source=source, column=column, reasons=reason, action=action)


def concat_rejects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_rejects()
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["source", "row", "column"], kind="stable").reset_index(drop=True)


@dataclass
class Validated:
    """Clean rows and the rejects of one input table."""

    clean: pd.DataFrame
    rejects: pd.DataFrame
    rows_in: int

    @property
    def rows_rejected(self) -> int:
        r = self.rejects
        return int(r.loc[r["action"] == ROW_REJECTED, "row"].nunique())

    def check_invariant(self) -> None:
        """rows in = rows out + rows rejected; a violation is a bug, never bad input."""
        if self.rows_in != len(self.clean) + self.rows_rejected:
            raise AssertionError(
                f"rows in {self.rows_in} != rows out {len(self.clean)} + rows rejected {self.rows_rejected}"
            )


def rejects_table(
    rows: pd.Series | np.ndarray,
    values: pd.Series | np.ndarray | None,
    *,
    source: str,
    column: str,
    reasons: str | pd.Series | np.ndarray,
    action: str,
) -> pd.DataFrame:
    """Reject records built column-wise through pyarrow (fast for many records); ``reasons`` is one
    text or differs row by row (an array as long as ``rows``)."""
    import pyarrow as pa

    rows = np.asarray(rows, dtype="int64")
    n = len(rows)

    def const(text: str) -> pd.arrays.ArrowStringArray:
        return pd.arrays.ArrowStringArray(pa.repeat(pa.scalar(text, pa.large_string()), n))

    if values is None:
        vals = pd.array([pd.NA] * n, dtype="string")
    else:
        vals = pd.Series(values).astype("string").array
    why = const(reasons) if isinstance(reasons, str) else pd.array(np.asarray(reasons, dtype=object), dtype="string")
    return pd.DataFrame(
        {
            "source": const(source),
            "row": rows,
            "column": const(column),
            "value": vals,
            "reason": why,
            "action": const(action),
        }
    )


def first_of_key(keys: list[np.ndarray | pd.Series], rows: np.ndarray) -> np.ndarray:
    """For each row, the row number of the first row with the same key (NA keys compare equal).

    Most keys are unique, so each key column becomes exact int64 values, the columns are mixed
    into one 64-bit hash, and a sort (fast for int64) finds the hashes that occur more than once.
    A row with a hash of its own has no duplicate and is its own first row; the few rows that
    share a hash (true duplicates, or a rare collision) get the exact answer from
    :func:`_first_of_key_exact`, which only they go through.
    """
    if len(rows) == 0:
        return rows.copy()
    cols = [_exact_int64(k) for k in keys]
    h = np.zeros(len(rows), dtype=np.uint64)
    for c in cols:
        with np.errstate(over="ignore"):
            h = _mix64(h * np.uint64(0x9E3779B97F4A7C15) + c.view(np.uint64))
    s = np.sort(h)
    shared = s[1:][s[1:] == s[:-1]]
    out = rows.copy()
    if len(shared):
        idx = np.flatnonzero(np.isin(h, shared))
        out[idx] = _first_of_key_exact([c[idx] for c in cols], rows[idx])
    return out


def _exact_int64(values: np.ndarray | pd.Series) -> np.ndarray:
    """int64 numbers with equal ⇔ equal values (NA equal to NA): the values themselves for integers,
    booleans and datetimes (NaT is one number), codes of a hash pass for anything else."""
    arr = values.to_numpy() if isinstance(values, pd.Series) and values.dtype.kind in "iubM" else values
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if isinstance(arr, np.ndarray) and arr.dtype.kind == "M":
        return arr.view(np.int64)
    codes, _ = pd.factorize(pd.Series(values), use_na_sentinel=False)
    return codes.astype(np.int64, copy=False)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over uint64 (wrapping arithmetic): spreads the bits of each number."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _first_of_key_exact(cols: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """:func:`first_of_key` by exact codes: the columns combined as mixed-radix numbers (re-coded
    when the product would overflow int64), coded again in order of first appearance, then the
    first row of each code found in one scan."""
    codes, size = np.zeros(len(rows), dtype=np.int64), 1
    for col in cols:
        c, _ = pd.factorize(col)
        m = int(c.max()) + 1
        if size * m >= 2**62:  # keep the combined code inside int64
            codes, u = pd.factorize(codes)
            size = len(u)
        codes, size = codes * m + c.astype(np.int64), size * m
    codes, _ = pd.factorize(codes)  # codes numbered in order of first appearance
    seen = np.maximum.accumulate(codes)
    is_first = np.ones(len(codes), dtype=bool)
    is_first[1:] = codes[1:] > seen[:-1]
    first_idx = np.flatnonzero(is_first)  # first_idx[code] = position of that code's first row
    return rows[first_idx[codes]]


class RejectLog:
    """Collects the reject records of one source while a validator runs, then orders them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        rows: np.ndarray,
        values: pd.Series | np.ndarray | None,
        column: str,
        reasons: str | np.ndarray,
        action: str,
    ) -> None:
        if len(rows):
            self.parts.append(
                rejects_table(rows, values, source=self.source, column=column, reasons=reasons, action=action)
            )

    def reject(self, rows: np.ndarray, raw_col: pd.Series | None, mask: np.ndarray, column: str, reason: str) -> None:
        """row_rejected records where ``mask`` holds; value = the cell as read (NA if no column)."""
        if mask.any():
            vals = None if raw_col is None else _cell_text(raw_col[mask])
            self.add(rows[mask], vals, column, reason, ROW_REJECTED)

    def clear(self, rows: np.ndarray, raw_col: pd.Series, mask: np.ndarray, column: str, reason: str) -> None:
        """value_cleared records where ``mask`` holds; value = the cell as read."""
        if mask.any():
            self.add(rows[mask], _cell_text(raw_col[mask]), column, reason, VALUE_CLEARED)

    def table(self) -> pd.DataFrame:
        """All records, ordered by input row, then column name."""
        if not self.parts:
            return empty_rejects()
        out = pd.concat(self.parts, ignore_index=True)
        # each part holds one column: rank the parts by column name instead of ranking every record
        names = [str(p["column"].iloc[0]) for p in self.parts]
        rank = {name: i for i, name in enumerate(sorted(set(names)))}
        col_rank = np.repeat([rank[nm] for nm in names], [len(p) for p in self.parts])
        return out.take(np.lexsort((col_rank, out["row"].to_numpy()))).reset_index(drop=True)


def _cell_text(values: pd.Series) -> pd.Series:
    """Cells as text for the ``value`` column (the offending cell only, never the record)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y-%m-%d").astype("string")
    return values.astype("string")


def rejects_summary(rejects: pd.DataFrame) -> pd.DataFrame:
    """Counts per ``source, column, reason, action`` for a run report.

    Reasons that name a row (``duplicate uscc: row 12 kept``) are folded into one line
    (``duplicate uscc: row N kept``) so the report counts kinds, not rows.
    """
    if rejects.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="string") for c in ["source", "column", "reason", "action"]}
            | {"records": pd.Series(dtype="int64"), "rows": pd.Series(dtype="int64")}
        )
    kind = rejects["reason"].astype("string").str.replace(r"row \d+ kept", "row N kept", regex=True)
    grouped = rejects.assign(reason=kind).groupby(["source", "column", "reason", "action"], sort=True)["row"]
    out = grouped.agg(records="size", rows="nunique").reset_index()
    return out.sort_values(["source", "records"], ascending=[True, False], kind="stable").reset_index(drop=True)
