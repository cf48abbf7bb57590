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
city's rows for a key replace the shipped ones.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from quanhuiqi.reference._files import read_reference_csv
from quanhuiqi.tables.io import InputError

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


def _check_key(key: object, where: str) -> str:
    if not isinstance(key, str) or not re.fullmatch(r"[a-z_]+:[a-z][a-z0-9_]*", key.strip()):
        raise InputError(f"{where}: key {key!r} must be PREFIX:NAME ({', '.join(KEY_PREFIXES)})")
    if key.split(":", 1)[0] not in KEY_PREFIXES:
        raise InputError(f"{where}: key {key!r}: unknown prefix (expected one of {', '.join(KEY_PREFIXES)})")
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
        raise InputError(f"{where}: source {src.index[src.index.duplicated()][0]!r} defined twice")
    bad_kind = ~src["kind"].isin(SOURCE_KINDS)
    if bad_kind.any():
        raise InputError(f"{where}: source {src.index[bad_kind][0]!r}: kind must be one of {', '.join(SOURCE_KINDS)}")
    out: dict[str, list[str]] = {}
    for i, (k, s) in enumerate(zip(keys["key"], keys["source"], strict=True)):
        key = _check_key(k, f"{where} row {i + 1}")
        if s not in src.index:
            raise InputError(f"{where} row {i + 1}: key {key}: unknown source {s!r} (known: {', '.join(src.index)})")
        if s not in out.setdefault(key, []):
            out[key].append(s)
    return SourceCatalogue(src, {k: tuple(v) for k, v in out.items()})


def read_city_sources(path: str | os.PathLike) -> pd.DataFrame:
    """A city's ``sources.csv``, checked (``InputError`` names the file, the row and the reason)."""
    from quanhuiqi.tables.io import read_table

    p = Path(path)
    df = read_table(p)
    missing = [c for c in ("key", "source") if c not in df.columns]
    if missing:
        raise InputError(f"{p}: missing required column(s) {', '.join(missing)} (columns: {', '.join(CITY_COLUMNS)})")
    extra = sorted(set(df.columns) - set(CITY_COLUMNS))
    if extra:
        raise InputError(f"{p}: unknown column(s) {', '.join(extra)} (expected {', '.join(CITY_COLUMNS)})")
    df = df.reindex(columns=CITY_COLUMNS).astype("string")
    for i, row in enumerate(df.itertuples(index=False)):  # a city's file is small: one check per row
        where = f"{p} row {i + 1}"
        _check_key(row.key, where)
        if pd.isna(row.source) or not re.fullmatch(r"[a-z][a-z0-9_]*", str(row.source)):
            raise InputError(f"{where}: source {row.source!r} must be a snake_case id")
        if not pd.isna(row.kind) and row.kind not in SOURCE_KINDS:
            raise InputError(f"{where}: kind {row.kind!r} must be one of {', '.join(SOURCE_KINDS)}")
    return df


def with_city_sources(base: SourceCatalogue, city: pd.DataFrame | str | os.PathLike | None,
                      where: str = CITY_FILE) -> SourceCatalogue:
    """``base`` with a city's rows: its rows for a key replace the shipped ones; a new source id needs its
    ``system`` and ``department`` (given once, on any of its rows)."""
    if city is None:
        return base
    if not isinstance(city, pd.DataFrame):
        where = str(city)
        city = read_city_sources(city)
    sources = base.sources.copy()
    for sid, rows in city.groupby("source", sort=False):
        system = rows["system"].dropna()
        dept = rows["department"].dropna()
        kind = rows["kind"].dropna()
        if sid in sources.index:
            for col, vals in (("system", system), ("department", dept), ("kind", kind)):
                if len(vals) and (vals != sources.at[sid, col]).any():
                    raise InputError(f"{where}: source {sid!r}: {col} {vals.iloc[0]!r} differs from the shipped "
                                     f"{sources.at[sid, col]!r} (use a new source id)")
            continue
        if not len(system) or not len(dept):
            raise InputError(f"{where}: new source {sid!r} needs its system and department (数据系统、部门)")
        sources.loc[sid] = {"source": sid, "system": system.iloc[0], "department": dept.iloc[0],
                            "kind": kind.iloc[0] if len(kind) else "data", "note": ""}
    keys = dict(base.keys)
    for key, rows in city.groupby("key", sort=False):
        keys[key.strip()] = tuple(dict.fromkeys(rows["source"].astype(str)))
    return SourceCatalogue(sources, keys)
