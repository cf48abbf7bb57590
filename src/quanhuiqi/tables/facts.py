"""The fact tables real policies need beyond one row per enterprise: dated records (certificates,
milestones, penalties), yearly figures and declarations.

Same contract as the other tables: every validator returns :class:`Validated` (rows in = rows out + rows
rejected), reasons name the column.  A row is rejected when it cannot be placed (missing or invalid uscc, an
enterprise the enterprise table does not hold, an unknown item, a missing/unreadable/future event date, a
revocation before the award, a duplicated key); a cell is cleared (unknown, never 0 or false) when only that
value is wrong.  :func:`load_fact_tables` reads whichever tables a data folder holds: a table that is absent
stays ``None``, and the policy language treats its facts as unknown for everyone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quanhuiqi.reference.records import (
    ATTESTATIONS,
    LEVEL_SYNONYMS,
    LEVELS,
    RECORD_SYNONYMS,
    RECORD_TABLES,
    SEVERITIES,
    SEVERITY_SYNONYMS,
    YEARLY_METRICS,
)
from quanhuiqi.tables.history import TableSpec, _validate
from quanhuiqi.tables.io import InputError, read_table, require_columns
from quanhuiqi.tables.parse import as_timestamp, by_unique, cell_text, parse_numbers
from quanhuiqi.tables.rejects import ROW_REJECTED, VALUE_CLEARED, Validated, concat_rejects, rejects_for
from quanhuiqi.text import normalize_text_series

CERTIFICATE_COLUMNS = ["uscc", "item", "level", "awarded_on", "valid_from", "valid_to", "revoked_on", "certificate_no"]
MILESTONE_COLUMNS = ["uscc", "item", "occurred_on", "detail"]
PENALTY_COLUMNS = ["uscc", "item", "occurred_on", "amount", "severity", "authority", "case_no"]
YEARLY_COLUMNS = ["uscc", "year", *YEARLY_METRICS]
DECLARATION_COLUMNS = ["uscc", "item", "declared_on", "value", "valid_to"]

FACT_FILES = {
    "certificates": "certificates.csv",
    "milestones": "milestones.csv",
    "penalties": "penalties.csv",
    "yearly": "yearly.csv",
    "declarations": "declarations.csv",
}
# which record table (policy language) each file holds
RECORD_FILE = {"certificate": "certificates", "milestone": "milestones", "penalty": "penalties"}

UNKNOWN_ENTERPRISE = "no such enterprise in the clean enterprise table (unknown or rejected there)"
UNKNOWN_ITEM = "unknown {table} item (known: {known})"
UNKNOWN_LEVEL = "unknown level (expected national, provincial, city or district)"
UNKNOWN_SEVERITY = "unknown severity (expected general, major, serious or extraordinary)"
REVOKED_BEFORE_AWARD = "revoked_on before awarded_on"
VALID_TO_BEFORE_FROM = "valid_to before valid_from"
NOT_A_YEAR = "year is not a whole number between 1900 and the as_of year"
DUPLICATE = "duplicate key ({key}): row {kept} kept"

CERTIFICATES = TableSpec(
    source="certificates", columns=CERTIFICATE_COLUMNS, required=["uscc", "item", "awarded_on"],
    key=["uscc", "item", "level", "awarded_on"], uscc=["uscc"], ids=["item"], event_date="awarded_on",
    dates=["valid_from", "valid_to", "revoked_on"], texts=["level", "certificate_no"],
)  # fmt: skip
MILESTONES = TableSpec(
    source="milestones", columns=MILESTONE_COLUMNS, required=["uscc", "item", "occurred_on"],
    key=["uscc", "item", "occurred_on"], uscc=["uscc"], ids=["item"], event_date="occurred_on", texts=["detail"],
)  # fmt: skip
PENALTIES = TableSpec(
    source="penalties", columns=PENALTY_COLUMNS, required=["uscc", "item", "occurred_on"],
    key=["uscc", "item", "occurred_on", "case_no"], uscc=["uscc"], ids=["item"], event_date="occurred_on",
    money=["amount"], texts=["severity", "authority", "case_no"],
)  # fmt: skip
YEARLY = TableSpec(
    source="yearly", columns=YEARLY_COLUMNS, required=["uscc", "year"], key=["uscc", "year"], uscc=["uscc"],
    ids=["year"], money=list(YEARLY_METRICS),
)  # fmt: skip
DECLARATIONS = TableSpec(
    source="declarations", columns=DECLARATION_COLUMNS, required=["uscc", "item", "declared_on"],
    key=["uscc", "item", "declared_on"], uscc=["uscc"], ids=["item"], event_date="declared_on",
    dates=["valid_to"], bools=["value"],
)  # fmt: skip
SPECS = {"certificates": CERTIFICATES, "milestones": MILESTONES, "penalties": PENALTIES, "yearly": YEARLY,
         "declarations": DECLARATIONS}  # fmt: skip


@dataclass
class FactTables:
    """The clean fact tables of one snapshot; ``None`` = the table was not supplied (its facts unknown)."""

    certificates: pd.DataFrame | None = None
    milestones: pd.DataFrame | None = None
    penalties: pd.DataFrame | None = None
    yearly: pd.DataFrame | None = None
    declarations: pd.DataFrame | None = None

    def supplied(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def for_usccs(self, usccs: pd.Series | pd.Index) -> FactTables:
        """The rows of the given enterprises only (a partition of the city)."""
        keep = set(pd.Series(usccs, dtype="string").dropna())
        out = FactTables()
        for name in self.supplied():
            t = getattr(self, name)
            setattr(out, name, t[t["uscc"].isin(keep).to_numpy()].reset_index(drop=True))
        return out

    @staticmethod
    def empty() -> FactTables:
        return FactTables()


def _drop(v: Validated, mask: np.ndarray, column: str, values: pd.Series | None, reason) -> Validated:
    """Move the clean rows under ``mask`` to the rejects (rows in = out + rejected still holds)."""
    if not mask.any():
        return v
    rows = v.clean["row"].to_numpy()[mask]
    vals = None if values is None else cell_text(values[mask].reset_index(drop=True))
    why = reason if isinstance(reason, str) else np.asarray(reason)[mask]
    extra = rejects_for(rows, vals, source=str(v.rejects["source"].iloc[0]) if len(v.rejects) else _source(v),
                        column=column, reason=why, action=ROW_REJECTED)
    out = Validated(v.clean[~mask].reset_index(drop=True), concat_rejects([v.rejects, extra]), v.rows_in)
    out.check_invariant()
    return out


def _source(v: Validated) -> str:
    return str(v.clean.attrs.get("source", "facts"))


def _clear(v: Validated, mask: np.ndarray, column: str, raw: pd.Series, reason: str) -> Validated:
    """Clear one column's values under ``mask`` (kept rows), each reported."""
    if not mask.any():
        return v
    extra = rejects_for(v.clean["row"].to_numpy()[mask], cell_text(raw[mask].reset_index(drop=True)),
                        source=_source(v), column=column, reason=reason, action=VALUE_CLEARED)
    clean = v.clean.copy()
    clean.loc[mask, column] = pd.NA
    return Validated(clean, concat_rejects([v.rejects, extra]), v.rows_in)


def _vocabulary(values: pd.Series, tokens: dict[str, str] | list[str], synonyms: dict[str, str]) -> pd.Series:
    """Canonical tokens from what departments write (token itself, any case, or a Chinese synonym)."""
    known = {t.lower(): t for t in tokens}
    syn = dict(synonyms)

    def canon(u: pd.Series) -> pd.Series:
        norm = normalize_text_series(u).str.replace(r"[\s\"'“”《》「」]", "", regex=True)
        return norm.str.lower().map(known).fillna(norm.map(syn)).astype("string")

    return by_unique(values.astype("string"), canon).astype("string")


def _known_enterprises(v: Validated, known: pd.Series | pd.Index | pd.DataFrame | None) -> Validated:
    """Rows of enterprises the clean enterprise table holds; the others are rejected.  When ``known`` is that table
    (``uscc`` and ``row``), each kept row also gets ``enterprise_row``: its enterprise's input row, the key the
    derived facts join on (integers, resolved once here rather than by text at every evaluation)."""
    if known is None:
        return v
    keys = known["uscc"] if isinstance(known, pd.DataFrame) else pd.Series(known)
    value_set = pa.array(keys.astype("string"), type=pa.large_string(), from_pandas=True)
    probe = pa.array(v.clean["uscc"].astype("string"), type=pa.large_string(), from_pandas=True)
    pos = pc.fill_null(pc.index_in(probe, value_set=value_set), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    unknown = pos < 0
    v = _drop(v, unknown, "uscc", v.clean["uscc"], UNKNOWN_ENTERPRISE)
    if isinstance(known, pd.DataFrame) and "row" in known.columns:
        v.clean["enterprise_row"] = known["row"].to_numpy(dtype=np.int64)[pos[~unknown]]
    return v


def _items(v: Validated, table: str, vocab: dict[str, str] | list[str], synonyms: dict[str, str]) -> Validated:
    raw = v.clean["item"]
    canon = _vocabulary(raw, vocab, synonyms)
    bad = canon.isna().to_numpy()
    known = ", ".join(list(vocab)[:12]) + (" …" if len(vocab) > 12 else "")
    v = _drop(v, bad, "item", raw, UNKNOWN_ITEM.format(table=table, known=known))
    v.clean["item"] = canon[~bad].reset_index(drop=True)
    return v


def _base(raw: pd.DataFrame, as_of, spec: TableSpec, source: str) -> Validated:
    v = _validate(raw, as_of, spec, source)
    v.clean.attrs["source"] = source
    return v


def validate_certificates(raw: pd.DataFrame, as_of, known_uscc=None, source: str = "certificates",
                          items: dict[str, str] | None = None) -> Validated:
    """Awards of certifications and list memberships: ``uscc, item, level, awarded_on, valid_from, valid_to,
    revoked_on``.  ``valid_from`` defaults to ``awarded_on``; a revocation after ``as_of`` had not happened yet
    (cleared); one before the award, or a ``valid_to`` before ``valid_from``, rejects the row."""
    v = _known_enterprises(_base(raw, as_of, CERTIFICATES, source), known_uscc)
    v = _items(v, "certificate", items or RECORD_TABLES["certificate"], RECORD_SYNONYMS["certificate"])
    c = v.clean
    lvl_raw = c["level"]
    lvl = _vocabulary(lvl_raw, list(LEVELS), LEVEL_SYNONYMS)
    c["level"] = lvl
    v = _clear(v, (lvl.isna() & lvl_raw.notna()).to_numpy(), "level", lvl_raw, UNKNOWN_LEVEL)
    c = v.clean
    c["valid_from"] = c["valid_from"].fillna(c["awarded_on"])
    as_of_ts = as_timestamp(as_of)
    future = (c["revoked_on"] > as_of_ts).fillna(False).to_numpy(dtype=bool)
    v = _clear(v, future, "revoked_on", c["revoked_on"], f"date after as_of {as_of_ts.date().isoformat()}")
    c = v.clean
    v = _drop(v, (c["revoked_on"] < c["awarded_on"]).fillna(False).to_numpy(dtype=bool), "revoked_on",
              c["revoked_on"], REVOKED_BEFORE_AWARD)
    c = v.clean
    v = _drop(v, (c["valid_to"] < c["valid_from"]).fillna(False).to_numpy(dtype=bool), "valid_to", c["valid_to"],
              VALID_TO_BEFORE_FROM)
    return v


def validate_milestones(raw: pd.DataFrame, as_of, known_uscc=None, source: str = "milestones",
                        items: dict[str, str] | None = None) -> Validated:
    """Dated events: ``uscc, item, occurred_on, detail`` (for ``moved_in`` the origin's district code)."""
    v = _known_enterprises(_base(raw, as_of, MILESTONES, source), known_uscc)
    return _items(v, "milestone", items or RECORD_TABLES["milestone"], RECORD_SYNONYMS["milestone"])


def validate_penalties(raw: pd.DataFrame, as_of, known_uscc=None, source: str = "penalties",
                       items: dict[str, str] | None = None) -> Validated:
    """Penalties, accidents and violations: ``uscc, item, occurred_on, amount (万元), severity``."""
    v = _known_enterprises(_base(raw, as_of, PENALTIES, source), known_uscc)
    v = _items(v, "penalty", items or RECORD_TABLES["penalty"], RECORD_SYNONYMS["penalty"])
    sev_raw = v.clean["severity"]
    sev = _vocabulary(sev_raw, list(SEVERITIES), SEVERITY_SYNONYMS)
    v.clean["severity"] = sev
    return _clear(v, (sev.isna() & sev_raw.notna()).to_numpy(), "severity", sev_raw, UNKNOWN_SEVERITY)


def validate_yearly(raw: pd.DataFrame, as_of, known_uscc=None, source: str = "yearly",
                    metrics: dict[str, str] | list[str] | None = None) -> Validated:
    """Yearly figures, one row per enterprise and year: ``uscc, year,`` the metrics of
    ``quanhuiqi.reference.records.YEARLY_METRICS`` (money 万元, people 人) and a book's own yearly figures
    (``metrics``, validated the same way: non-negative numbers, else cleared).  A year after ``as_of``'s year, or
    not a whole number, rejects the row; a duplicated (enterprise, year) keeps the first row."""
    as_of_ts = as_timestamp(as_of)
    spec = YEARLY
    if metrics:
        extra = [m for m in metrics if m not in YEARLY_METRICS]
        spec = dataclasses.replace(YEARLY, columns=YEARLY.columns + extra, money=YEARLY.money + extra)
    v = _known_enterprises(_base(raw, as_of, spec, source), known_uscc)
    y, _ = parse_numbers(v.clean["year"])
    yv = y.to_numpy()
    bad = np.isnan(yv) | (yv != np.floor(np.nan_to_num(yv))) | (yv < 1900) | (yv > as_of_ts.year)
    v = _drop(v, bad, "year", v.clean["year"], NOT_A_YEAR)
    v.clean["year"] = yv[~bad].astype(np.int64)
    return v


def validate_declarations(raw: pd.DataFrame, as_of, known_uscc=None, source: str = "declarations",
                          items: dict[str, str] | list[str] | None = None) -> Validated:
    """What applicants declared (attest): ``uscc, item, declared_on, value (true/false), valid_to``."""
    v = _known_enterprises(_base(raw, as_of, DECLARATIONS, source), known_uscc)
    return _items(v, "declaration", items or ATTESTATIONS, {v_: k for k, v_ in ATTESTATIONS.items()})


VALIDATORS = {
    "certificates": validate_certificates,
    "milestones": validate_milestones,
    "penalties": validate_penalties,
    "yearly": validate_yearly,
    "declarations": validate_declarations,
}


def read_fact_table(kind: str, path: str | os.PathLike, encoding: str | None = None,
                    report: dict | None = None) -> pd.DataFrame:
    """One fact table as read; ``InputError`` naming the file if unreadable or a key column is missing
    (``encoding``, ``report``: as for :func:`quanhuiqi.tables.read_table`)."""
    spec = SPECS[kind]
    df = read_table(path, text_columns=["uscc", "item", "detail", "case_no", "certificate_no"], encoding=encoding,
                    report=report)
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, spec.required, str(path))
    return df


def validate_fact_table(kind: str, raw: pd.DataFrame, as_of, known_uscc=None, source: str | None = None,
                        vocabularies: dict[str, dict[str, str]] | None = None) -> Validated:
    """Validate one fact table by its name in :data:`FACT_FILES`.  ``vocabularies`` extends the items a
    table accepts (a book's ``record_items`` / ``attestations``), keyed by table name."""
    if kind not in VALIDATORS:
        raise ValueError(f"unknown fact table {kind!r} (expected one of {', '.join(VALIDATORS)})")
    src = source or kind
    extra = (vocabularies or {}).get(kind)
    if kind == "yearly":
        return validate_yearly(raw, as_of, known_uscc, src, metrics=extra)
    return VALIDATORS[kind](raw, as_of, known_uscc, src, items=extra)


def find_fact_files(data_dir: str | os.PathLike) -> dict[str, Path]:
    """The fact tables a data folder holds (CSV or Parquet by extension)."""
    d = Path(data_dir)
    found = {}
    for kind, name in FACT_FILES.items():
        for cand in (d / name, d / name.replace(".csv", ".parquet")):
            if cand.exists():
                found[kind] = cand
                break
    return found


def load_fact_tables(data_dir: str | os.PathLike, as_of: str | dt.date, known_uscc=None,
                     vocabularies: dict[str, dict[str, str]] | None = None, encoding: str | None = None,
                     report: dict | None = None) -> tuple[FactTables, pd.DataFrame]:
    """Read and validate every fact table of ``data_dir``: (tables, rejects of all of them).

    ``known_uscc``: the clean enterprise table (or its ``uscc`` column): rows of other enterprises are rejected;
    given the table, the rows carry ``enterprise_row``, the integer key the derived facts join on.  ``encoding``
    applies to every CSV (default: detected per file); ``report`` receives ``{table: {"encoding": …}}``."""
    facts = FactTables()
    rejects = []
    for kind, path in find_fact_files(data_dir).items():
        raw = read_fact_table(kind, path, encoding, None if report is None else report.setdefault(kind, {}))
        v = validate_fact_table(kind, raw, as_of, known_uscc, kind, vocabularies)
        setattr(facts, kind, v.clean)
        rejects.append(v.rejects)
    return facts, concat_rejects(rejects)


def facts_from_records(records: dict[str, list[dict]], uscc: str, as_of, vocabularies=None) -> FactTables:
    """Fact tables for one enterprise from lists of plain records: each list becomes a table (validated the
    same way; refused rows raise ``InputError`` naming the row).  The online paths use
    :class:`quanhuiqi.tables.fact_record.FactRecordValidator`, tested equal to this without pandas."""
    out = FactTables()
    for kind, rows in records.items():
        if kind not in FACT_FILES:
            continue
        if not rows:  # supplied and empty: the same empty clean table every time (validated once)
            setattr(out, kind, _empty_clean(kind, as_timestamp(as_of), _frozen(vocabularies, kind)).copy())
            continue
        raw = pd.DataFrame([{**r, "uscc": uscc} for r in rows])
        raw = raw.astype({c: "string" for c in raw.columns if raw[c].dtype == object})
        v = validate_fact_table(kind, raw, as_of, None, kind, vocabularies)
        bad = v.rejects[v.rejects["action"] == ROW_REJECTED]
        if len(bad):
            r = bad.iloc[0]
            raise InputError(f"{kind}[{int(r['row']) - 1}]: {r['column']}: {r['reason']}")
        setattr(out, kind, v.clean)
    return out


def _frozen(vocabularies: dict[str, dict[str, str]] | None, kind: str) -> tuple | None:
    extra = (vocabularies or {}).get(kind)
    return None if extra is None else tuple(sorted(extra.items()) if isinstance(extra, dict) else extra)


@lru_cache(maxsize=64)
def _empty_clean(kind: str, as_of: pd.Timestamp, extra: tuple | None) -> pd.DataFrame:
    """The clean table of a supplied, empty fact table (what ``validate_fact_table`` gives for no rows)."""
    vocab = None if extra is None else {kind: dict(extra) if extra and isinstance(extra[0], tuple) else list(extra)}
    raw = pd.DataFrame({c: pd.Series(dtype="string") for c in SPECS[kind].required})
    return validate_fact_table(kind, raw, as_of, None, kind, vocab).clean
