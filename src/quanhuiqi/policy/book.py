"""The policy book: validated policies, the field catalogue, a content-hash version, and the
compiled form the engine shares between the city-wide batch and one-enterprise online calls."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from quanhuiqi.policy.load import PolicyError, parse_book
from quanhuiqi.policy.model import Policy, iter_atoms
from quanhuiqi.profile.fields import Field

POLICY_COLUMNS = [
    "policy_id", "title", "department", "mode", "valid_from", "valid_to", "benefit_kind", "max_amount",
    "amount_rate", "amount_base", "n_conditions", "fields", "n_tests", "description", "file",
]  # fmt: skip


class PolicyBook:
    """A checked book.  Build it with :func:`load_book`; it is immutable afterwards."""

    def __init__(
        self, items: list[Policy], fields: dict[str, Field], version: str, directory: str | None = None
    ):
        self.items = list(items)
        self.fields = dict(fields)
        self.version = version
        self.directory = directory
        self.by_id = {p.id: p for p in self.items}

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"PolicyBook({len(self.items)} policies, version {self.version})"

    @cached_property
    def policies(self) -> pd.DataFrame:
        rows = []
        for p in self.items:
            atoms = list(iter_atoms(p.condition))
            rows.append(
                {
                    "policy_id": p.id, "title": p.title, "department": p.department, "mode": p.mode,
                    "valid_from": pd.Timestamp(p.valid_from) if p.valid_from else pd.NaT,
                    "valid_to": pd.Timestamp(p.valid_to) if p.valid_to else pd.NaT,
                    "benefit_kind": p.benefit_kind, "max_amount": p.max_amount, "amount_rate": p.amount_rate,
                    "amount_base": p.amount_base, "n_conditions": len(atoms),
                    "fields": ";".join(sorted({a.field for a in atoms})), "n_tests": len(p.tests),
                    "description": p.description, "file": p.file,
                }
            )  # fmt: skip
        df = pd.DataFrame(rows, columns=POLICY_COLUMNS)
        for c in (
            "policy_id",
            "title",
            "department",
            "mode",
            "benefit_kind",
            "amount_base",
            "fields",
            "description",
            "file",
        ):
            df[c] = df[c].astype("string")
        for c in ("valid_from", "valid_to"):
            df[c] = pd.to_datetime(df[c])
        for c in ("max_amount", "amount_rate"):
            df[c] = df[c].astype("float64")
        return df

    @cached_property
    def compiled(self):
        """The compiled book (built once, on first use)."""
        from quanhuiqi.eligibility.compiled import CompiledBook

        return CompiledBook(self.items, self.fields)

    @cached_property
    def _online(self):
        from quanhuiqi.eligibility.online import OnlineMatcher

        return OnlineMatcher(self.compiled)

    def active(self, as_of: str | dt.date) -> list[Policy]:
        from quanhuiqi.eligibility.batch import as_date

        d = as_date(as_of)
        return [p for p in self.items if p.active(d)]

    def match(self, profile_row: pd.Series | dict[str, Any], as_of: str | dt.date) -> pd.DataFrame:
        """One enterprise online: eligible and undetermined active policies, same columns as
        ``EligibilityResult.pairs``."""
        return self._online.match(profile_row, as_of)

    def subset(self, policy_ids: list[str]) -> PolicyBook:
        keep = set(policy_ids)
        return PolicyBook([p for p in self.items if p.id in keep], self.fields, self.version, self.directory)


def load_book(path: str | Path) -> PolicyBook:
    """Load and check a folder of policies; ``PolicyError`` lists every problem found."""
    items, fields, version, errors = parse_book(path)
    if errors:
        raise PolicyError(errors)
    return PolicyBook(items, fields, version, str(path))
