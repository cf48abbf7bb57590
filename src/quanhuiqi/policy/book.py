"""The policy book: validated policies, the field catalogue, a content-hash version, and the
compiled form the engine shares between the city-wide batch and one-enterprise online calls."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from quanhuiqi.policy.load import PolicyError, parse
from quanhuiqi.policy.model import Policy, iter_atoms
from quanhuiqi.profile.fields import Field

POLICY_COLUMNS = [
    "policy_id", "title", "department", "mode", "valid_from", "valid_to", "benefit_kind", "max_amount",
    "amount_rate", "amount_base", "n_conditions", "fields", "n_tests", "description", "file",
    "review", "once", "exclusive_group", "exclusive_per", "n_tiers",
]  # fmt: skip


class PolicyBook:
    """A checked book.  Build it with :func:`load_book`; it is immutable afterwards."""

    def __init__(
        self, items: list[Policy], fields: dict[str, Field], version: str, directory: str | None = None,
        vocabularies: dict[str, Any] | None = None,
    ):
        self.items = list(items)
        self.fields = dict(fields)
        self.version = version
        self.directory = directory
        self.by_id = {p.id: p for p in self.items}
        self.vocabularies = dict(vocabularies or {})

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
                    "description": p.description, "file": p.file, "review": p.review, "once": p.once,
                    "exclusive_group": p.exclusive_group, "exclusive_per": p.exclusive_per, "n_tiers": len(p.tiers),
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
            "review",
            "once",
            "exclusive_group",
            "exclusive_per",
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
    def _fact_validators(self) -> dict:
        return {}

    @cached_property
    def _online(self):
        from quanhuiqi.eligibility.online import OnlineMatcher

        return OnlineMatcher(self.compiled)

    def active(self, as_of: str | dt.date) -> list[Policy]:
        from quanhuiqi.eligibility.batch import as_date

        d = as_date(as_of)
        return [p for p in self.items if p.active(d)]

    def match(self, profile_row: pd.Series | dict[str, Any], as_of: str | dt.date, facts=None) -> pd.DataFrame:
        """One enterprise online: eligible and undetermined active policies, same columns as
        ``EligibilityResult.pairs``.  ``facts``: this enterprise's fact tables (``FactTables`` or
        ``{table: [records]}``) for record, yearly and attest atoms; without them the row's own derived
        columns (as the daily profile carries them) are read."""
        if isinstance(facts, dict):  # validated record by record with the batch's rules (tables.fact_record)
            row = profile_row if isinstance(profile_row, dict) else profile_row.to_dict()
            facts = self.fact_validator(as_of).facts(facts, str(row.get("uscc")))
        return self._online.match(profile_row, as_of, facts)

    def fact_validator(self, as_of: str | dt.date):
        """The one-record fact validator of this book's vocabularies for ``as_of`` (kept for the last few
        days asked: building one reads the vocabularies, a call then only validates)."""
        from quanhuiqi.tables.fact_record import FactRecordValidator
        from quanhuiqi.tables.parse import as_timestamp

        key = as_timestamp(as_of)
        kept = self._fact_validators
        if key not in kept:
            if len(kept) >= 4:
                kept.pop(next(iter(kept)))
            kept[key] = FactRecordValidator(key, self.table_vocabularies())
        return kept[key]

    def subset(self, policy_ids: list[str]) -> PolicyBook:
        keep = set(policy_ids)
        return PolicyBook([p for p in self.items if p.id in keep], self.fields, self.version, self.directory,
                          self.vocabularies)

    def table_vocabularies(self) -> dict[str, dict[str, str]]:
        """The items each fact table accepts for this book (shipped vocabularies plus the fields file's)."""
        items = self.vocabularies.get("record_items") or {}
        out = {f: items[t] for t, f in (("certificate", "certificates"), ("milestone", "milestones"),
                                         ("penalty", "penalties")) if t in items}
        if self.vocabularies.get("attestations"):
            out["declarations"] = self.vocabularies["attestations"]
        own = {n: f.label or f.description or n for n, f in self.fields.items() if f.yearly and f.formula is None}
        if own:  # a city's own yearly figures: columns of yearly.csv, validated as numbers
            out["yearly"] = own
        return out

    @property
    def derived_fields(self) -> list[Field]:
        """The virtual and computed fields the book's atoms test (derived from the fact tables)."""
        used = {a.field for p in self.items for a in iter_atoms(p.condition)}
        used |= {a.field for p in self.items for _, t in p.tiers for a in iter_atoms(t)}
        return [f for name, f in self.fields.items() if name in used and f.derived is not None]


def load_book(path: str | Path, *, allow_drafts: bool = False) -> PolicyBook:
    """Load and check a folder of policies; ``PolicyError`` lists every problem found.  Drafts
    (``status: draft``) are refused unless ``allow_drafts`` (a review session, not a production book)."""
    p = parse(path, allow_drafts=allow_drafts)
    if p.errors:
        raise PolicyError(p.errors)
    return PolicyBook(p.policies, p.fields, p.version, str(path), p.vocabularies)
