"""Where each fact a policy tests comes from: the data system and the department that hold it.

免申即享 readiness (``quanhuiqi.policy.readiness``) groups the facts that block undecided verdicts by the
department that could share them.  Two shipped tables (``reference/data/``, provenance in ``PROVENANCE.md``):

- ``data_sources.csv`` — one row per source: ``source`` (id), ``system`` (数据系统), ``department`` (部门),
  ``kind`` (``data``: a data-sharing action can supply it; ``declaration``: only the applicant can declare it),
  ``note``;
- ``field_sources.csv`` — ``key, source, note``: which source holds a fact.  Keys are ``field:NAME`` (a profile
  field), ``table:NAME`` (a fact table's default), ``certificate:ITEM`` / ``milestone:ITEM`` /
  ``penalty:ITEM`` (one record item), ``yearly:METRIC`` (one yearly metric).  A key may name several sources
  (its fact needs all of them).

A city adds or overrides rows in a ``sources.csv`` beside its policy book (``key, source, system, department,
kind, note``; ``system`` and ``department`` are needed only for a source the package does not ship): the
city's rows for a key replace the shipped ones (read by ``quanhuiqi.policy.readiness.sources``).  A malformed
row raises ``ValueError`` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pandas as pd

from quanhuiqi.reference._files import read_reference_csv

SOURCE_KINDS = ("data", "declaration")
KEY_PREFIXES = ("field", "table", "certificate", "milestone", "penalty", "yearly")
CITY_COLUMNS = ["key", "source", "system", "department", "kind", "note"]
CITY_FILE = "sources.csv"


@dataclass(frozen=True)
class SourceCatalogue:
    """Sources (``source, system, department, kind, note``, indexed by source) and key → source ids."""

    sources: pd.DataFrame
    keys: dict[str, tuple[str, ...]]

    def of(self, key: str) -> tuple[str, ...]:
        return self.keys.get(key, ())


def check_key(key: object, where: str) -> str:
    if not isinstance(key, str) or not re.fullmatch(r"[a-z_]+:[a-z][a-z0-9_]*", key.strip()):
        raise ValueError(f"{where}: key {key!r} must be PREFIX:NAME ({', '.join(KEY_PREFIXES)})")
    if key.split(":", 1)[0] not in KEY_PREFIXES:
        raise ValueError(f"{where}: key {key!r}: unknown prefix (expected one of {', '.join(KEY_PREFIXES)})")
    return key.strip()


@cache
def shipped_sources() -> SourceCatalogue:
    """The package's own catalogue (``data_sources.csv`` + ``field_sources.csv``)."""
    src = read_reference_csv("data_sources.csv")
    keys = read_reference_csv("field_sources.csv")
    return _catalogue(src, keys, "field_sources.csv")


def _catalogue(src: pd.DataFrame, keys: pd.DataFrame, where: str) -> SourceCatalogue:
    src = src.fillna({"note": ""}).set_index("source", drop=False)
    if src.index.duplicated().any():
        raise ValueError(f"{where}: source {src.index[src.index.duplicated()][0]!r} defined twice")
    bad_kind = ~src["kind"].isin(SOURCE_KINDS)
    if bad_kind.any():
        raise ValueError(f"{where}: source {src.index[bad_kind][0]!r}: kind must be one of {', '.join(SOURCE_KINDS)}")
    out: dict[str, list[str]] = {}
    for i, (k, s) in enumerate(zip(keys["key"], keys["source"], strict=True)):
        key = check_key(k, f"{where} row {i + 1}")
        if s not in src.index:
            raise ValueError(f"{where} row {i + 1}: key {key}: unknown source {s!r} (known: {', '.join(src.index)})")
        if s not in out.setdefault(key, []):
            out[key].append(s)
    return SourceCatalogue(src, {k: tuple(v) for k, v in out.items()})
