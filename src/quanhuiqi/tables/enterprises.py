"""The enterprise table: read it, check every row, and hand the profile clean, typed columns.

A row is *rejected* when it cannot be an enterprise of the run (USCC missing or invalid, a
duplicate USCC, no name); a *value* is cleared (becomes unknown, never 0 or false) when only that
cell is wrong.  Every row ends either in ``clean`` or in ``rejects``; see ``docs/contracts.md``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from functools import cache

import numpy as np
import pandas as pd

from quanhuiqi.reference.districts import canonical_district_code
from quanhuiqi.reference.industries import canonical_industry_code
from quanhuiqi.reference.vocabularies import CERTIFICATION_NAMES, CERTIFICATIONS
from quanhuiqi.tables.columns import (
    ENTERPRISE_BOOLS,
    ENTERPRISE_COLUMNS,
    ENTERPRISE_COUNTS,
    ENTERPRISE_DATES,
    ENTERPRISE_FACT_CATEGORIES,
    ENTERPRISE_FACT_COUNTS,
    ENTERPRISE_FACT_MONEY,
    ENTERPRISE_FACT_RATES,
    ENTERPRISE_LOCATIONS,
    ENTERPRISE_MONEY,
    ENTERPRISE_RATES,
    ENTERPRISE_REQUIRED,
    NAME,
    TAX_CREDIT_RATINGS,
    USCC,
)
from quanhuiqi.tables.io import read_table, require_columns
from quanhuiqi.tables.parse import (
    as_timestamp,
    by_unique,
    cell_text,
    clean_text,
    parse_bools,
    parse_dates,
    parse_numbers,
    present,
    take_rows,
)
from quanhuiqi.tables.rejects import ROW_REJECTED, VALUE_CLEARED, RejectLog, Validated, first_of_key
from quanhuiqi.tables.uscc import normalize_uscc, uscc_key, uscc_reason
from quanhuiqi.text import normalize_text, normalize_text_series

# Reasons written to rejects (tests and the run report rely on these texts).
MISSING_REQUIRED = "missing required value"
DUPLICATE_USCC = "duplicate uscc: row {kept} kept"
UNKNOWN_INDUSTRY = "industry code does not exist in GB/T 4754-2017"
UNKNOWN_DISTRICT = "district code does not exist in GB/T 2260"
UNPARSEABLE_DATE = "unparseable date"
DATE_AFTER_AS_OF = "date after as_of"
NOT_A_NUMBER = "not a number"
NEGATIVE = "negative value"
RATE_OUT_OF_RANGE = "rate outside 0-1"
UNKNOWN_RATING = "unknown tax credit rating (expected A, B, M, C or D)"
NOT_A_BOOL = "not a boolean (true/false, 1/0, 是/否)"
UNKNOWN_CERTIFICATION = "unknown certification"
UNKNOWN_OWNERSHIP = "unknown ownership (expected private, state, collective, foreign, hmt or mixed)"

CERT_SEPARATORS = r"[;,、|/]"  # after NFKC: ； → ;  ， → ,

_QUOTES = "\"'“”‘’「」『』《》〈〉"  # the quote forms registries write


@cache
def _certification_lookup() -> dict[str, str]:
    """Every accepted token spelling (normalised, quotes and spaces removed, lower-case) → token."""
    out = {c.lower(): c for c in CERTIFICATIONS}
    out.update({k: v for k, v in CERTIFICATION_NAMES.items() if v in CERTIFICATIONS})
    return out


def _cert_key(token: str) -> str:
    s = normalize_text(token) or ""
    s = re.sub(f"[{re.escape(_QUOTES)}\\s]", "", s)
    return s.lower()


def _ownership(values: pd.Series) -> pd.Series:
    from quanhuiqi.reference.records import OWNERSHIP, OWNERSHIP_SYNONYMS

    norm = normalize_text_series(values).str.replace(r"\s", "", regex=True)
    return norm.str.lower().where(norm.str.lower().isin(list(OWNERSHIP))).fillna(norm.map(OWNERSHIP_SYNONYMS)).astype(
        "string"
    )


def ownership_one(text: str) -> str | None:
    """:func:`_ownership` of one value (the online path)."""
    from quanhuiqi.reference.records import OWNERSHIP, OWNERSHIP_SYNONYMS

    norm = normalize_text(text)
    if norm is None:
        return None
    norm = re.sub(r"\s", "", norm)
    return norm.lower() if norm.lower() in OWNERSHIP else OWNERSHIP_SYNONYMS.get(norm)


def certifications_one(text: str | None) -> tuple[str, list[str]]:
    """:func:`_certifications` of one value: (the ``;``-joined sorted canonical tokens, the unknown tokens
    as the rejects name them, in order)."""
    norm = normalize_text(text) if text is not None else None
    if norm is None:
        return "", []
    lookup = _certification_lookup()
    known, unknown = set(), []
    for token in re.split(CERT_SEPARATORS, norm):
        token = token.strip()
        if not token:
            continue
        canon = lookup.get(_cert_key(token))
        if canon is None:
            unknown.append(token)
        else:
            known.add(canon)
    return ";".join(sorted(known)), unknown


def rating_one(text: str) -> str | None:
    """The tax credit rating as the batch reads one value (NFKC, trimmed, upper-case, 级 dropped)."""
    s = unicodedata.normalize("NFKC", text).strip()
    return s.upper().removesuffix("级").strip() if s else None


def normalize_names(values: pd.Series) -> pd.Series:
    """Names for matching: :func:`quanhuiqi.text.normalize_text_series` (NFKC, 繁→简, whitespace)."""
    return normalize_text_series(values)


def read_enterprises(path: str | os.PathLike, encoding: str | None = None, report: dict | None = None) -> pd.DataFrame:
    """The enterprise table as read (CSV as text, Parquet typed); ``InputError`` naming the file when it
    cannot be read or lacks ``uscc``/``name``.  ``encoding`` and ``report`` as for :func:`read_table`
    (a CSV in UTF-8 or GB18030/GBK is detected; ``report["encoding"]`` says which was read)."""
    df = read_table(path, text_columns=[USCC, NAME, "industry_code", "district_code"], encoding=encoding,
                    report=report)
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, ENTERPRISE_REQUIRED, str(path))
    return df


def _required_rows(df: pd.DataFrame, rows: np.ndarray, rej: RejectLog) -> tuple[np.ndarray, pd.Series]:
    """Rows that can be enterprises of the run (valid USCC, a name, first of its USCC) and the USCCs."""
    uscc = normalize_uscc(df[USCC])
    has_uscc = uscc.notna().to_numpy()
    reason = uscc_reason(uscc, normalized=True)
    bad = reason.notna().to_numpy()
    rej.add(rows[~has_uscc], None, USCC, MISSING_REQUIRED, ROW_REJECTED)
    rej.add(rows[bad], cell_text(df[USCC][bad]), USCC, reason[bad].to_numpy(), ROW_REJECTED)
    has_name = present(df[NAME])
    rej.add(rows[~has_name], None, NAME, MISSING_REQUIRED, ROW_REJECTED)
    ok = has_uscc & ~bad & has_name
    # duplicates among the otherwise good rows: keep the first, name it in the others' reason
    cand = rows[ok]
    first = first_of_key(list(uscc_key(uscc[ok])), cand)  # integers: no hashing of 1M strings
    dup = first != cand
    if dup.any():
        dup_rows = cand[dup]
        reasons = np.array([DUPLICATE_USCC.format(kept=k) for k in first[dup]], dtype=object)
        rej.add(dup_rows, cell_text(df[USCC].iloc[dup_rows - 1]), USCC, reasons, ROW_REJECTED)
        ok[dup_rows - 1] = False
    return ok, uscc


def _certifications(raw_col: pd.Series, rows: np.ndarray, ok: np.ndarray, rej: RejectLog) -> pd.Series:
    """``;``-joined sorted canonical tokens; "" when none listed; unknown tokens dropped and reported."""
    codes, uniques = pd.factorize(raw_col.astype("string"), use_na_sentinel=True)
    if len(uniques) == 0:
        return pd.Series("", index=raw_col.index, dtype="string")
    tokens = (
        normalize_names(pd.Series(uniques, dtype="string"))
        .str.split(CERT_SEPARATORS, regex=True)
        .explode()
        .astype("string")
        .str.strip()
    )
    tokens = tokens[tokens.notna() & (tokens != "")]
    lookup = _certification_lookup()
    keys = by_unique(tokens, lambda u: pd.Series([_cert_key(t) for t in u], dtype="string"))
    canon = keys.map(lookup).astype("string")
    known = canon.notna().to_numpy()
    joined = (
        canon[known].groupby(level=0).agg(lambda t: ";".join(sorted(set(t)))).reindex(range(len(uniques)))
    )
    per_unique = joined.fillna("").astype("string")
    out = pd.Series(per_unique.array.take(codes, allow_fill=True), index=raw_col.index).fillna("")
    unknown = tokens[~known]
    if len(unknown):
        unk = pd.DataFrame({"u": unknown.index.to_numpy(), "token": unknown.to_numpy()})
        hit = (
            pd.DataFrame({"u": codes[ok], "row": rows[ok]}).merge(unk, on="u", how="inner").sort_values("row")
        )
        rej.add(
            hit["row"].to_numpy(),
            hit["token"].to_numpy(),
            "certifications",
            UNKNOWN_CERTIFICATION,
            VALUE_CLEARED,
        )
    return out.astype("string")


def _take(values: pd.Series, keep: np.ndarray | None) -> pd.Series:
    """The kept rows of a full-length column, re-indexed 0..k-1."""
    if keep is None:
        return values.reset_index(drop=True)
    if isinstance(values, pd.Series):
        return take_rows(values, keep)
    return values[keep].reset_index(drop=True)


def validate_enterprises(
    raw: pd.DataFrame, as_of: str | dt.date | pd.Timestamp, source: str = "enterprises"
) -> Validated:
    """Clean enterprise rows and the rejects, per ``docs/contracts.md``.

    ``raw`` is the table as read (:func:`read_enterprises`); ``as_of`` bounds the dates (nothing
    can be established after it).  Undeclared columns pass through untouched.  Values are parsed
    over the whole column and only the kept rows are taken at the end (taking typed results is
    cheaper than taking the text), and values of rejected rows are not reported.
    """
    as_of_ts = as_timestamp(as_of)
    require_columns(raw, ENTERPRISE_REQUIRED, source)
    df = raw.reset_index(drop=True)
    n = len(df)
    rows = np.arange(1, n + 1, dtype=np.int64)
    rej = RejectLog(source)

    ok, uscc = _required_rows(df, rows, rej)
    keep = None if ok.all() else ok
    k = int(ok.sum())

    def col(name: str) -> pd.Series:
        return df[name] if name in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")

    def clear(raw_col: pd.Series, mask: np.ndarray, column: str, reason: str) -> None:
        rej.clear(rows, raw_col, mask & ok, column, reason)

    out: dict[str, pd.Series] = {"row": pd.Series(rows[ok], dtype="int64")}
    out[USCC] = _take(uscc, keep)
    out[NAME] = _take(df[NAME], keep).astype("string")
    out["name_norm"] = normalize_names(out[NAME])

    # codes: present but not in the standard → cleared
    for name, canon, reason in (
        ("industry_code", canonical_industry_code, UNKNOWN_INDUSTRY),
        ("district_code", canonical_district_code, UNKNOWN_DISTRICT),
        *((loc, canonical_district_code, UNKNOWN_DISTRICT) for loc in ENTERPRISE_LOCATIONS),
    ):
        raw_col = col(name).astype("string")
        code = by_unique(raw_col, canon).astype("string")
        clear(raw_col, present(raw_col) & code.isna().to_numpy(), name, reason)
        out[name] = _take(code, keep)
    ind = _take(col("industry_name"), keep).astype("string")
    out["industry_name"] = ind.mask(clean_text(ind).isna())

    for name in ("status", "enterprise_type"):
        out[name] = _take(by_unique(col(name).astype("string"), normalize_names).astype("string"), keep)

    for name in ENTERPRISE_DATES:
        raw_col = col(name)
        dates, bad = parse_dates(raw_col)
        after = (dates > as_of_ts).fillna(False).to_numpy(dtype=bool)
        clear(raw_col, bad, name, UNPARSEABLE_DATE)
        clear(raw_col, after, name, f"{DATE_AFTER_AS_OF} {as_of_ts.date().isoformat()}")
        out[name] = _take(dates.mask(after), keep)

    rates = ENTERPRISE_RATES + ENTERPRISE_FACT_RATES
    for name in ENTERPRISE_MONEY + ENTERPRISE_COUNTS + rates + ENTERPRISE_FACT_MONEY + ENTERPRISE_FACT_COUNTS:
        raw_col = col(name)
        num, bad = parse_numbers(raw_col)
        arr = num.to_numpy(copy=True)
        clear(raw_col, bad, name, NOT_A_NUMBER)
        if name in rates:
            wrong = (arr < 0) | (arr > 1)
            clear(raw_col, wrong, name, RATE_OUT_OF_RANGE)
        else:
            wrong = arr < 0
            clear(raw_col, wrong, name, NEGATIVE)
        arr[wrong] = np.nan
        out[name] = pd.Series(arr[ok], dtype="float64")

    raw_col = col("tax_credit_rating").astype("string")
    rating = by_unique(raw_col, lambda u: clean_text(u).str.upper().str.removesuffix("级").str.strip())
    wrong = present(raw_col) & ~rating.isin(TAX_CREDIT_RATINGS).fillna(False).to_numpy(dtype=bool)
    clear(raw_col, wrong, "tax_credit_rating", UNKNOWN_RATING)
    out["tax_credit_rating"] = _take(rating.mask(wrong).astype("string"), keep)

    if "certifications" in df.columns:
        out["certifications"] = _take(_certifications(df["certifications"], rows, ok, rej), keep)
    else:
        out["certifications"] = pd.Series(pd.NA, index=pd.RangeIndex(k), dtype="string")

    for name in ENTERPRISE_BOOLS:
        raw_col = col(name)
        flags, bad = parse_bools(raw_col)
        clear(raw_col, bad, name, NOT_A_BOOL)
        out[name] = _take(flags, keep)

    for name in ENTERPRISE_FACT_CATEGORIES:  # ownership: canonical token from 民营/国有/外资 … or the token
        raw_col = col(name).astype("string")
        token = by_unique(raw_col, _ownership)
        clear(raw_col, present(raw_col) & token.isna().to_numpy(), name, UNKNOWN_OWNERSHIP)
        out[name] = _take(token, keep)

    order = ["row", USCC, NAME, "name_norm"] + [c for c in ENTERPRISE_COLUMNS if c not in (USCC, NAME)]
    clean = pd.DataFrame({c: out[c] for c in order}, index=pd.RangeIndex(k))
    extras = [c for c in df.columns if c not in clean.columns]
    if extras:
        clean = pd.concat([clean, _take(df[extras], keep)], axis=1)
    result = Validated(clean=clean, rejects=rej.table(), rows_in=n)
    result.check_invariant()
    return result
