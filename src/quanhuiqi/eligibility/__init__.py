"""The eligibility engine: three-valued verdicts for every enterprise × active policy, proven from
data, with evidence, the facts that would settle an undetermined verdict, near misses and the
免申即享 lists.  ``evaluate`` runs the city; ``PolicyBook.match`` answers one enterprise online.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from quanhuiqi.eligibility.batch import (
    AUTO_COLUMNS,
    NEAR_MISS_COLUMNS,
    PAIR_COLUMNS,
    EligibilityResult,
    as_date,
    evaluate_compiled,
    verdict_matrix,
)
from quanhuiqi.eligibility.batch import (
    evidence_for as _evidence_for,
)


def evaluate(
    book,
    profile: pd.DataFrame,
    as_of: str | dt.date,
    *,
    near_misses: bool = True,
    evidence: bool = True,
    near_miss_per_enterprise: int | None = None,
    categorical: bool = False,
    facts=None,
    grants: pd.DataFrame | None = None,
) -> EligibilityResult:
    """Every active policy of ``book`` × every row of ``profile`` (the profile's contract columns;
    extra fields of the book's fields file as raw columns).

    ``facts`` (:class:`quanhuiqi.tables.FactTables`) supplies the records, yearly figures and declarations
    that record, yearly and attest atoms read (a table it lacks leaves those facts unknown; without ``facts``
    a profile that already carries the derived columns — :func:`with_facts` — is read as it is).  ``grants``
    (``uscc, policy_id, granted_on``) enforces ``once`` and ``exclusive`` rules: blocked pairs leave ``pairs``
    for ``blocked``.

    ``evidence=False`` skips the evidence text (ask ``evidence_for`` for the pairs you publish);
    ``near_miss_per_enterprise`` keeps each enterprise's near misses with the largest benefit;
    ``categorical=True`` gives the pairs' text columns as Categoricals (codes, no string per pair: what a
    city-scale job wants) and leaves ``auto_grants`` empty (build it from the pairs).
    """
    return evaluate_compiled(
        book.compiled, profile, as_of, book_version=book.version, near_misses=near_misses, evidence=evidence,
        near_miss_per_enterprise=near_miss_per_enterprise, categorical=categorical, facts=facts, grants=grants,
    )


def with_facts(book, profile: pd.DataFrame, facts, as_of: str | dt.date) -> pd.DataFrame:
    """``profile`` plus the columns of every derived field the book tests (record tests, yearly figures,
    declarations, computed fields) at ``as_of``: the profile the batch, the evidence and online calls read."""
    from quanhuiqi.eligibility.batch import derived_for

    derived = derived_for(book.compiled, profile, facts, as_date(as_of))
    if not derived:
        return profile
    return profile.drop(columns=[c for c in derived if c in profile.columns]).assign(**derived)


def evidence_for(book, profile: pd.DataFrame, pairs: pd.DataFrame, facts=None,
                 as_of: str | dt.date | None = None) -> pd.array:
    """Evidence text for chosen ``pairs`` (``uscc, policy_id``) of ``profile`` — what ``evaluate`` would
    give them, without paying for every other pair.  A pair whose uscc is not in the profile is an error."""
    rows = pd.Index(profile["uscc"].astype("string")).get_indexer(pd.Index(pairs["uscc"].astype("string")))
    if (rows < 0).any():
        raise ValueError(f"{int((rows < 0).sum())} pair(s) name an enterprise that is not in the profile")
    return _evidence_for(book.compiled, profile, rows, pairs["policy_id"].astype("string").to_numpy(dtype=object),
                         facts, as_of)


def eligibility_file(
    enterprises: str | os.PathLike,
    policies: str | os.PathLike,
    as_of: str | dt.date,
    out: str | os.PathLike,
    near_miss: str | os.PathLike | None = None,
    rejects: str | os.PathLike | None = None,
    encoding: str | None = None,
) -> str:
    """What ``quanhuiqi eligibility`` runs: read → validate → profile → evaluate → write (atomically; the
    pairs stream to ``out`` policy by policy, :func:`quanhuiqi.eligibility.stream.write_pairs`, the same
    columns as ``evaluate(...).pairs``).  ``encoding`` names the enterprise CSV's encoding (default: UTF-8 or
    GB18030/GBK detected).  Returns a one-line summary (with the encoding read)."""
    from quanhuiqi.eligibility.stream import write_pairs
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import read_enterprises, validate_enterprises, write_table

    as_of = as_date(as_of)
    book = load_book(policies)  # refused as a whole before any row is read
    read_as: dict = {}
    raw = read_enterprises(enterprises, encoding=encoding, report=read_as)
    rows_in = len(raw)
    val = validate_enterprises(raw, as_of, source=str(enterprises))
    del raw  # the registry's text as read: its memory goes to the pairs' buffers instead of fresh pages
    prof = profile(val.clean, as_of)
    rejected = val.rejects
    del val
    done = write_pairs(book.compiled, prof, as_of, out, near_miss=near_miss)
    if rejects is not None:
        write_table(rejected, rejects)
    n_rej = int(rejected.loc[rejected["action"] == "row_rejected", "row"].nunique()) if len(rejected) else 0
    return (
        f"{rows_in} enterprises ({n_rej} rejected) × {done.active} active policies (book {book.version}) as of {as_of}: "
        f"{int(done.eligible.sum())} eligible, {int(done.undetermined.sum())} undetermined"
        + (f", {done.near_misses} near misses" if near_miss is not None else "")
        + f" → {Path(out)} (enterprises read as {read_as['encoding']})"
    )


__all__ = [
    "AUTO_COLUMNS",
    "NEAR_MISS_COLUMNS",
    "PAIR_COLUMNS",
    "EligibilityResult",
    "eligibility_file",
    "evaluate",
    "evidence_for",
    "verdict_matrix",
    "with_facts",
]
