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
    reason: str,
    action: str,
) -> pd.DataFrame:
    """Reject records for the given row numbers (1-based input rows), one per row."""
    rows = np.asarray(rows, dtype="int64")
    vals = pd.Series(values if values is not None else [pd.NA] * len(rows), dtype="object").astype("string")
    return pd.DataFrame(
        {
            "source": pd.Series([source] * len(rows), dtype="string"),
            "row": rows,
            "column": pd.Series([column] * len(rows), dtype="string"),
            "value": vals.to_numpy(),
            "reason": pd.Series([reason] * len(rows), dtype="string"),
            "action": pd.Series([action] * len(rows), dtype="string"),
        }
    )


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
