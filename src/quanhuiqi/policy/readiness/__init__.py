"""免申即享 readiness: how much of each policy the data decides, and which data-sharing actions decide more.

For every active policy: the enterprises evaluated, how many the data proves eligible or ineligible (the
decided share), and the undetermined rest by what blocks them — grouped by the *source* (data system and
department, ``quanhuiqi.reference.sources``) that holds the missing facts.

A pair's ``unknown`` lists the facts whose values settle its verdict whatever they are (the unknown leaves
on the all-unknown paths of its tree).  So when every one of them is held by source S, supplying S decides
the pair, whatever S says: the count of such pairs is exact.  A pair whose facts span S and T is counted for
the action "S and T together", never for S alone (S's values may still settle it — a true branch of an
``any`` — so the single-source counts are what S decides *for certain*).  Pairs waiting on a declaration
(``attest``: 企业自主声明) can never be decided by data sharing and are listed apart, as are pairs whose
industry class is already known but lies only partly inside a named list (须人工核定); pairs whose coarse code
could resolve to such a class are counted apart too (``unless_partial``), never as decided.

Everything is counted on the pairs' categorical codes, grouped by (policy, unknown list): nothing loops over
pairs.  Modules: ``sources`` (where facts come from), ``counts`` (additive counts, tables, ranking), ``estimate``
(how many would be eligible), ``html`` (the page); :func:`readiness` and :func:`readiness_file` run them.
The counts of a slice of enterprises (:class:`ReadinessCounts`) are additive — the daily job sums
its partitions' — and :func:`readiness_tables` turns them into the per-policy, per-source and ranked-action
tables.  How many newly decided pairs would turn out eligible is estimated separately
(:mod:`quanhuiqi.policy.readiness.estimate`), since it needs the whole city's enterprises as donors.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pandas as pd

from quanhuiqi.policy.readiness.counts import (
    DEFAULT_WEIGHTS,
    GROUP_KEYS,
    PairCodes,
    Readiness,
    ReadinessCounts,
    code_field,
    code_level,
    pair_codes,
    ranking_text,
    ranking_text_zh,
    readiness_counts,
    readiness_tables,
    report_section,
    requirements,
    split_unknown,
)
from quanhuiqi.policy.readiness.estimate import estimate_eligible
from quanhuiqi.policy.readiness.html import render_readiness_html
from quanhuiqi.policy.readiness.sources import (
    ACTION_KINDS,
    UNSETTLEABLE,
    SourceMap,
    read_city_sources,
    source_map,
    with_city_sources,
)


def readiness(book, profile: pd.DataFrame, as_of: str | dt.date, *, result=None, facts=None,
              grants: pd.DataFrame | None = None, sources: Any = None, estimate: bool = True,
              donor_pool: int = 8192, seed: int = 0, weights: dict[str, float] | None = None,
              slice_rows: int = 100_000) -> Readiness:
    """The readiness of ``book`` on ``profile`` at ``as_of``.

    ``result``: the day's :class:`~quanhuiqi.eligibility.EligibilityResult` on this profile; without it the
    city is evaluated here ``slice_rows`` enterprises at a time (with ``facts`` and ``grants`` as the daily job
    reads them), each slice's pairs reduced to additive counts and dropped — memory stays that of a slice.
    ``sources``: a city's ``sources.csv`` (default: the book folder's); ``estimate``: estimate how many newly
    decided pairs would be eligible, from up to ``donor_pool`` donors per unknown list (a ``seed``-ed sample;
    :mod:`quanhuiqi.policy.readiness.estimate`)."""
    from quanhuiqi.eligibility import evaluate, with_facts

    prof = with_facts(book, profile, facts, as_of) if book.compiled.derived_fields else profile
    smap = source_map(book, sources)
    if result is not None:
        counts = readiness_counts(result.pairs, prof, book, as_of, smap)
    else:
        parts = []
        for a in range(0, max(len(prof), 1), slice_rows):
            part = prof.iloc[a:a + slice_rows].reset_index(drop=True)
            res = evaluate(book, part, as_of, near_misses=False, evidence=False, categorical=True, grants=grants)
            parts.append(readiness_counts(res.pairs, part, book, as_of, smap))
            del res
        counts = ReadinessCounts.combine(parts)
    est = None
    if estimate:
        est = estimate_eligible(book, prof, counts, smap, donor_pool=donor_pool, seed=seed)
    out = readiness_tables(counts, book, smap, est, weights=weights)
    out.summary.update({"as_of": str(pd.Timestamp(as_of).date()), "book_version": book.version,
                        "estimator": None if est is None else {"donor_pool": donor_pool, "seed": seed}})
    return out


def readiness_file(policies: str | os.PathLike, data: str | os.PathLike, as_of: str | dt.date,
                   out: str | os.PathLike, *, html: str | os.PathLike | None = None,
                   actions: str | os.PathLike | None = None, sources: str | os.PathLike | None = None,
                   donor_pool: int = 8192, seed: int = 0, encoding: str | None = None) -> str:
    """What ``quanhuiqi policy readiness`` runs: the data folder read as the daily job reads it (enterprises →
    validate → profile, the fact tables, the grants), the book, the readiness → ``out`` (per policy × source),
    ``actions`` (the ranked actions; default beside ``out``) and ``html``.  ``encoding``: the CSV inputs'
    (default: UTF-8 or GB18030/GBK detected per file).  Returns a summary line (with the encodings read)."""
    from quanhuiqi.eligibility.batch import as_date
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile as make_profile
    from quanhuiqi.tables import read_enterprises, validate_enterprises, validate_history, write_table
    from quanhuiqi.tables.columns import DATA_FILES
    from quanhuiqi.tables.facts import load_fact_tables
    from quanhuiqi.tables.io import InputError, read_table

    day = as_date(as_of)
    d = Path(data)
    if not d.is_dir():
        raise InputError(f"{d}: data directory not found")
    ent_path = d / DATA_FILES["enterprises"]
    if not ent_path.exists():
        raise InputError(f"{ent_path}: the data folder has no enterprise table (enterprises.csv)")
    for p in (out, html, actions):
        if p is not None and Path(p).suffix.lower() not in (".csv", ".parquet", ".html"):
            raise InputError(f"{p}: unsupported output type (expected .csv or .parquet; .html for --html)")
    book = load_book(policies)  # refused as a whole before any row is read
    read_as: dict[str, dict] = {"enterprises": {}}
    v = validate_enterprises(read_enterprises(ent_path, encoding, read_as["enterprises"]), day, "enterprises")
    prof = make_profile(v.clean, day)
    facts, _ = load_fact_tables(d, day, v.clean["uscc"], book.table_vocabularies(), encoding, read_as)
    grants = None
    if (d / DATA_FILES["grants"]).exists():
        grants = validate_history("grants", read_table(d / DATA_FILES["grants"], encoding=encoding,
                                                       report=read_as.setdefault("grants", {})), day, "grants").clean
    r = readiness(book, prof, day, facts=facts, grants=grants, sources=sources, donor_pool=donor_pool, seed=seed)
    out = Path(out)
    actions = Path(actions) if actions is not None else out.with_name(out.stem + ".actions" + out.suffix)
    write_table(r.table(), out)
    write_table(r.actions, actions)
    if html is not None:
        from quanhuiqi.tables.io import atomic_write

        page = render_readiness_html(r)
        atomic_write(Path(html), lambda t: Path(t).write_text(page, encoding="utf-8"))
    s = r.summary
    top = r.actions.iloc[0] if len(r.actions) else None
    lead = (f"; top action {top['action']} ({top['departments']}) decides {int(top['decided_pairs']):,} pairs"
            if top is not None else "")
    return (f"{s['enterprises']:,} enterprises × {s['active_policies']} active policies (book {book.version}) as of "
            f"{day}: {s['decided_share']:.1%} of pairs decided, {s['undetermined']:,} undetermined "
            f"({s['all_data_decides']:,} decidable by data sharing, {s['needs_declaration']:,} need a declaration)"
            f"{lead} → {out}, {actions}" + (f", {html}" if html is not None else "")
            + " (read as " + ", ".join(f"{k} {r['encoding']}" for k, r in read_as.items() if "encoding" in r) + ")")


__all__ = [
    "ACTION_KINDS", "DEFAULT_WEIGHTS", "GROUP_KEYS", "UNSETTLEABLE", "PairCodes", "Readiness", "ReadinessCounts",
    "SourceMap", "code_field", "code_level", "estimate_eligible", "pair_codes", "ranking_text", "ranking_text_zh",
    "read_city_sources", "readiness", "readiness_counts", "readiness_file", "readiness_tables",
    "render_readiness_html", "report_section", "requirements", "source_map", "split_unknown",
    "with_city_sources",
]  # fmt: skip
