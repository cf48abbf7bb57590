"""Where the facts a book tests come from: the data system and department of each (the shipped catalogue,
``quanhuiqi.reference.sources``, plus a city's ``sources.csv`` beside its book)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from quanhuiqi.profile.fields import field_label
from quanhuiqi.reference.sources import (
    CITY_COLUMNS,
    CITY_FILE,
    SOURCE_KINDS,
    SourceCatalogue,
    check_key,
    shipped_sources,
)
from quanhuiqi.tables.io import InputError

UNSETTLEABLE = "unsettleable"  # industry class known, only partly inside a named list: no data decides it
ACTION_KINDS = ("data", "unmapped")  # a data-sharing action can supply these


# --- where each fact comes from -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceMap:
    """The sources of the facts a book tests.

    ``sources``: ``source, system, department, kind, label`` (kind ``data`` | ``declaration`` | ``unmapped`` |
    ``unsettleable``), in a stable order; ``fields``: ``field, label, source`` (a fact needing several sources
    has one row per source); ``by_field``: field → its source ids.  A city field the catalogue does not know
    becomes its own ``unmapped`` source (``field:NAME``), so it still shows up as an action, flagged."""

    sources: pd.DataFrame
    fields: pd.DataFrame
    by_field: dict[str, tuple[str, ...]]

    @property
    def actionable(self) -> list[str]:
        return self.sources.loc[self.sources["kind"].isin(ACTION_KINDS), "source"].tolist()


def _formula_inputs(formula: tuple | None) -> list[str]:
    if not formula:
        return []
    kind, body = formula
    return list(body) if kind == "ratio" else [f for f, _ in body]


def _keys_of(book, name: str, seen: frozenset = frozenset()) -> list[str]:
    """Catalogue keys of one field (as the engine names it): a record test's items, a yearly figure's
    metrics, a declaration, a computed field's inputs, or the field itself."""
    from quanhuiqi.policy.derived import AttestFact, ComputedFact, RecordFact, YearlyFact

    fld = book.fields.get(name)
    d = getattr(fld, "derived", None)
    if isinstance(d, RecordFact):
        items = d.items or tuple((book.vocabularies.get("record_items") or {}).get(d.table, {}))
        return [f"{d.table}:{it}" for it in items] or [f"table:{d.source}"]
    if isinstance(d, YearlyFact):
        metrics = _formula_inputs(d.formula) or [d.metric]
        return [f"yearly:{m}" for m in metrics]
    if isinstance(d, AttestFact):
        return ["table:declarations"]
    if isinstance(d, ComputedFact) or (fld is not None and fld.formula is not None and not fld.yearly):
        out: list[str] = []
        for f in _formula_inputs(d.formula if d is not None else fld.formula):
            if f not in seen:
                out += _keys_of(book, f, seen | {name})
        return out
    return [f"field:{name}"]


def _table_default(key: str) -> str | None:
    prefix = key.split(":", 1)[0]
    return {"certificate": "table:certificates", "milestone": "table:milestones", "penalty": "table:penalties",
            "yearly": "table:yearly"}.get(prefix)


def _label(book, name: str) -> str:
    """A field's Chinese name; a city field without a short label shows its description (shortened)."""
    lab = field_label(name, book.fields)
    f = book.fields.get(name)
    if lab == name and f is not None and f.description:
        return f.description if len(f.description) <= 16 else f.description[:15] + "…"
    return lab


def source_map(book, sources: Any = None) -> SourceMap:
    """The sources of every field ``book`` tests.  ``sources``: a city's ``sources.csv`` (path or frame) on top
    of the shipped catalogue; by default the book folder's own ``sources.csv`` when there is one."""
    if sources is None and getattr(book, "directory", None) and (Path(book.directory) / CITY_FILE).exists():
        sources = Path(book.directory) / CITY_FILE
    cat = with_city_sources(shipped_sources(), sources)
    tested = list(book.compiled.codecs)
    rows, by_field, unmapped = [], {}, []
    for name in tested:
        srcs: list[str] = []
        for key in _keys_of(book, name):
            found = cat.of(key) or (cat.of(_table_default(key)) if _table_default(key) else ())
            if not found and key.startswith("field:"):
                found = (key,)
                if key not in unmapped:
                    unmapped.append(key)
            srcs += [s for s in found if s not in srcs]
        by_field[name] = tuple(srcs)
        lab = _label(book, name)
        rows += [{"field": name, "label": lab, "source": s} for s in srcs]
    used = list(dict.fromkeys(s for srcs in by_field.values() for s in srcs))
    table = cat.sources
    order = [s for s in table.index if s in used] + unmapped
    out = []
    for s in order:
        if s in table.index:
            r = table.loc[s]
            out.append({"source": s, "system": r["system"], "department": r["department"], "kind": r["kind"]})
        else:
            name = s.split(":", 1)[1]
            out.append({"source": s, "system": f"{_label(book, name)}（来源未登记）", "department": "未登记",
                        "kind": "unmapped"})
    out.append({"source": UNSETTLEABLE, "system": "行业小类只有部分属于所列目录", "department": "须人工核定",
                "kind": "unsettleable"})
    src = pd.DataFrame(out, columns=["source", "system", "department", "kind"])
    src["label"] = src["system"] + "（" + src["department"] + "）"
    return SourceMap(src.astype("string"), pd.DataFrame(rows, columns=["field", "label", "source"]).astype("string"),
                     by_field)


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
        try:
            check_key(row.key, where)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
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
