"""The pairs of a whole city written to a file policy by policy: what ``quanhuiqi eligibility`` writes.

``evaluate`` hands back every pair in memory; a city of a million enterprises × two thousand policies has
about 150 million of them with their evidence (tens of GB of text), so the command streams instead.  The
verdict planes are computed for every policy at once (bits, 64 enterprises a word), then each policy's pairs
are taken from its planes, explained (:func:`quanhuiqi.eligibility.batch.explain_policy`) and written as one
Parquet row group, while the next policies are explained on a second thread (the work is Arrow's and numpy's,
which release the GIL).  Text columns are written dictionary-encoded as they were built — a policy's id,
mode, verdicts and unknown-fact lists are a few values, and pairs that show the same values share one
evidence text — so the file holds each distinct text once per row group; a reader sees plain strings.
The same pairs, verdicts, unknown facts, evidence and amounts as ``evaluate`` (tested).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from quanhuiqi.eligibility.batch import (
    NEAR_MISS_COLUMNS,
    Displays,
    active_index,
    as_date,
    derived_for,
    explain_policy,
    near_miss_frame,
)
from quanhuiqi.eligibility.compiled import CompiledBook
from quanhuiqi.eligibility.engine import Planes, _bits, encode, evaluate_planes

VERDICTS = pa.array(["eligible", "undetermined"], type=pa.large_string())
SCHEMA = pa.schema([
    ("uscc", pa.large_string()),
    ("policy_id", pa.dictionary(pa.int32(), pa.large_string())),
    ("verdict", pa.dictionary(pa.int32(), pa.large_string())),
    ("unknown", pa.dictionary(pa.int32(), pa.large_string())),
    ("evidence", pa.dictionary(pa.int32(), pa.large_string())),
    ("mode", pa.dictionary(pa.int32(), pa.large_string())),
    ("amount", pa.float64()),
    ("amount_max", pa.float64()),
])  # fmt: skip
# How the pairs file is written: text columns dictionary-encoded as they were built (the writer hashes each
# distinct text once, not every row's), no column statistics, LZ4.  Other codecs and per-column encodings were
# measured on the command's own output (benchmarks/eligibility_writer_options.py, docs/push.md): the best took
# 9 % off the writer's thread for a file 1.8 times as large.
WRITER_OPTIONS = {
    "compression": "lz4",
    "write_statistics": False,
    "store_schema": False,
    "use_dictionary": [f.name for f in SCHEMA if pa.types.is_dictionary(f.type)],
    "dictionary_pagesize_limit": 1 << 30,
}


@dataclass
class Written:
    """What was written: pairs per policy of the book, near misses."""

    eligible: np.ndarray
    undetermined: np.ndarray
    near_misses: int = 0
    active: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def pairs(self) -> int:
        return int(self.eligible.sum() + self.undetermined.sum())


def _one(value: str, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.large_string()))


def _policy_batch(cb: CompiledBook, enc, planes: Planes, j: int, uscc: pa.Array, displays: Displays | None):
    """One policy's pairs as a record batch (None when it has none): eligible rows, then undetermined."""
    verdict, r = _bits(planes.both[j])  # plane 0 (eligible) first, then plane 1 (undetermined)
    if r.size == 0:
        return None
    cp = cb.policies[int(planes.policy_index[j])]
    x = explain_policy(cb, enc, cp, r, displays)
    rows = r[x.order]
    n = rows.size
    evidence = x.evidence if x.evidence is not None else _one("", n)
    return pa.record_batch([
        uscc.take(pa.array(rows)),
        _one(cp.policy.id, n),
        pa.DictionaryArray.from_arrays(pa.array(verdict[x.order]), VERDICTS),
        pa.DictionaryArray.from_arrays(pa.array(x.unknown), pa.array(x.unknown_names, pa.large_string())),
        evidence,
        _one(cp.policy.mode, n),
        pa.array(x.amount, from_pandas=True),  # NaN → null, as write_table writes evaluate's pairs
        pa.array(x.amount_max, from_pandas=True),
    ], schema=SCHEMA)  # fmt: skip


def _batches(cb, enc, planes, uscc, displays, threads: int) -> Iterator[pa.RecordBatch | None]:
    """Each policy's batch in book order, the next ones explained ahead on ``threads`` threads."""
    jobs = range(len(planes.policy_index))
    if threads <= 1:
        for j in jobs:
            yield _policy_batch(cb, enc, planes, j, uscc, displays)
        return
    with ThreadPoolExecutor(threads) as pool:
        ahead = 2 * threads
        futures = [pool.submit(_policy_batch, cb, enc, planes, j, uscc, displays) for j in jobs[:ahead]]
        for k, j in enumerate(jobs):
            batch = futures[k].result()
            futures[k] = None  # released once written
            if j + ahead < len(jobs):
                futures.append(pool.submit(_policy_batch, cb, enc, planes, j + ahead, uscc, displays))
            yield batch


def write_pairs(
    cb: CompiledBook,
    profile: pd.DataFrame,
    as_of: str | dt.date,
    out: str | os.PathLike,
    *,
    evidence: bool = True,
    near_miss: str | os.PathLike | None = None,
    facts=None,
    threads: int | None = None,
) -> Written:
    """Every active policy × every enterprise of ``profile``: the eligible and undetermined pairs written to
    ``out`` (Parquet, or CSV by extension; atomically), one policy at a time — the columns of
    ``evaluate(...).pairs``, in the same order within a policy.  ``near_miss`` writes the near misses too.
    ``threads`` explain policies ahead of the writer (default: ``QUANHUIQI_THREADS`` or 2)."""
    import time

    from quanhuiqi.tables.io import atomic_write, write_table

    as_of = as_date(as_of)
    threads = threads or int(os.environ.get("QUANHUIQI_THREADS", "2"))
    t0 = time.perf_counter()
    if "uscc" not in profile.columns:
        raise ValueError("profile has no uscc column")
    bases = tuple({cp.policy.amount_base for cp in cb.policies if cp.policy.amount_base})
    enc = encode(cb, profile, bases, derived_for(cb, profile, facts, as_of))
    active = active_index(cb, as_of)
    planes = evaluate_planes(cb, enc, active, near_misses=near_miss is not None)
    t1 = time.perf_counter()
    counts = np.bitwise_count(planes.both).sum(axis=2, dtype=np.int64)  # (P, 2): eligible, undetermined
    uscc = pa.array(profile["uscc"].astype("string"), from_pandas=True)
    uscc = (uscc.combine_chunks() if isinstance(uscc, pa.ChunkedArray) else uscc).cast(pa.large_string())
    displays = Displays(cb, enc) if evidence else None
    path = Path(out)

    def parquet(tmp: Path) -> None:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(tmp, SCHEMA, **WRITER_OPTIONS) as w:
            for batch in _batches(cb, enc, planes, uscc, displays, threads):
                if batch is not None:
                    w.write_batch(batch, row_group_size=batch.num_rows)

    def csv(tmp: Path) -> None:
        import pyarrow.csv as pcsv

        plain = pa.schema([(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in SCHEMA])
        with pcsv.CSVWriter(tmp, plain) as w:
            for batch in _batches(cb, enc, planes, uscc, displays, threads):
                if batch is not None:
                    w.write_batch(pa.record_batch([c.cast(t.type) for c, t in zip(batch.columns, plain, strict=True)],
                                                  schema=plain))

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        from quanhuiqi.tables.io import InputError

        raise InputError(f"{path}: unsupported output type {suffix!r} (expected .csv or .parquet)")
    atomic_write(path, csv if suffix == ".csv" else parquet)
    t2 = time.perf_counter()
    n_pol = len(cb.policies)
    eligible = np.zeros(n_pol, dtype=np.int64)
    undetermined = np.zeros(n_pol, dtype=np.int64)
    eligible[active], undetermined[active] = counts[:, 0], counts[:, 1]
    done = Written(eligible, undetermined, active=int(active.size))
    if near_miss is not None:
        nm = near_miss_frame(cb, enc, planes, profile["uscc"].astype("string"))
        write_table(nm if len(nm) else pd.DataFrame({c: nm[c] for c in NEAR_MISS_COLUMNS}), near_miss)
        done.near_misses = len(nm)
    done.timings = {"evaluate_s": t1 - t0, "write_s": t2 - t1, "near_miss_s": time.perf_counter() - t2}
    return done
