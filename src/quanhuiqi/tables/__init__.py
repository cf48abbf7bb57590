"""Input tables: column names, readers, validation → rejects.

Every validator returns :class:`Validated` (clean rows, rejects, rows in) and keeps the invariant
rows in = rows out + rows rejected; see ``docs/contracts.md``.
"""

from quanhuiqi.tables.enterprises import read_enterprises, validate_enterprises
from quanhuiqi.tables.history import (
    read_grants,
    read_posting_interactions,
    read_push_history,
    read_suppressions,
    validate_grants,
    validate_history,
    validate_posting_interactions,
    validate_push_history,
    validate_suppressions,
)
from quanhuiqi.tables.io import InputError, read_table, write_table
from quanhuiqi.tables.rejects import Validated, rejects_summary
from quanhuiqi.tables.uscc import is_valid_uscc, make_uscc, org_check_char, uscc_reason

__all__ = [
    "InputError",
    "Validated",
    "is_valid_uscc",
    "make_uscc",
    "org_check_char",
    "read_enterprises",
    "read_grants",
    "read_posting_interactions",
    "read_push_history",
    "read_suppressions",
    "read_table",
    "rejects_summary",
    "uscc_reason",
    "validate_enterprises",
    "validate_grants",
    "validate_history",
    "validate_posting_interactions",
    "validate_push_history",
    "validate_suppressions",
    "write_table",
]
