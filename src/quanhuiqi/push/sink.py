"""Where partition outputs go: the large tables streamed to disk partition by partition.

A city-wide day has hundreds of millions of held-back pairs and tens of millions of 免申即享 rows and
near misses; holding them all to sort them once would need more memory than the machine has.  So
``held_back``, ``near_miss`` and ``auto_grant`` are written as they come, one Parquet row group (and
one CSV block) per enterprise partition, in partition order, each part sorted by the table's keys.
Rows are therefore grouped by partition (a stable hash of the uscc) and sorted within it; the local
run and Spark feed the same parts in the same order, so their files are byte-identical.  Counts for
the report are accumulated on the way.  Only ``push_list`` is kept whole and sorted globally.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.ipc  # noqa: F401  (pa.ipc)
import pyarrow.parquet as pq

from quanhuiqi.push.outputs import DayWriter
from quanhuiqi.push.partition import value_counts
from quanhuiqi.push.rules import AUTO_GRANT_COLUMNS, HELD_BACK_COLUMNS

# name: (columns, sort keys or None when the partition function already sorted them, non-string dtypes)
STREAMED = {
    "held_back": (HELD_BACK_COLUMNS, None, {"score": "float64"}),  # apply_push_rules sorts by uscc, policy_id
    "near_miss": (["uscc", "policy_id", "failed", "gap", "field", "gap_value"], ["uscc", "policy_id"],
                  {"gap_value": "float64"}),
    "auto_grant": (AUTO_GRANT_COLUMNS, None, {}),  # sorted by policy_id, uscc
}
DICTIONARY_TABLES = {"held_back"}
COUNTED = {"held_back": "rule", "near_miss": "policy_id", "auto_grant": "policy_id"}


def empty_frame(name: str) -> pd.DataFrame:
    cols, _, types = STREAMED[name]
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "string")) for c in cols})


@dataclass
class PreparedPart:
    """One partition's rows of a streamed table, ready to append: the Arrow table as it will be written
    (columns in order, sorted, ``held_back`` dictionary-encoded), its row count and value counts.

    Made where the partition was computed (a Spark executor writes it to a staging file with
    :func:`write_part`), appended in partition order where the day is written."""

    table: pa.Table
    rows: int
    counts: dict[str, int]


def stream_schemas(name: str) -> tuple[pa.Schema, pa.Schema]:
    """(schema written, plain schema): ``held_back``'s text columns stay dictionary-encoded all the way
    (codes, no string per row); the Arrow schema is not stored, so readers see plain strings either way."""
    plain = pa.Schema.from_pandas(empty_frame(name), preserve_index=False).remove_metadata()
    if name not in DICTIONARY_TABLES:
        return plain, plain
    return pa.schema([pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if pa.types.is_large_string(f.type)
                      else f for f in plain]), plain


def prepare_part(name: str, df: pd.DataFrame | None) -> PreparedPart | None:
    """A partition's frame of the streamed table ``name`` as it will be appended (None when empty)."""
    if df is None or len(df) == 0:
        return None
    cols, keys, _ = STREAMED[name]
    df = df[cols]
    if keys is not None:
        df = df.sort_values(keys, kind="stable")
    df = df.reset_index(drop=True)
    schema, _ = stream_schemas(name)
    arrays = []
    for f in schema:
        col = df[f.name]
        if pa.types.is_dictionary(f.type):
            cat = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("string").astype("category")
            codes = pa.array(cat.cat.codes.to_numpy(dtype=np.int32), mask=(cat.cat.codes.to_numpy() < 0))
            values = pa.array(cat.cat.categories.astype(str).to_numpy(dtype=object), type=pa.large_string())
            arrays.append(pa.DictionaryArray.from_arrays(codes, values))
        elif isinstance(col.dtype, pd.CategoricalDtype):
            arrays.append(pa.array(col.astype("string"), type=f.type, from_pandas=True))
        else:
            arrays.append(pa.array(col, type=f.type, from_pandas=True))
    return PreparedPart(pa.Table.from_arrays(arrays, schema=schema), len(df), dict(value_counts(df[COUNTED[name]])))


def write_part(part: PreparedPart, path: str | os.PathLike) -> None:
    """A prepared part as an Arrow IPC file (exact: dictionaries and types come back as they were)."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, part.table.schema) as writer:
        writer.write_table(part.table)


def read_part(path: str | os.PathLike, rows: int, counts: dict[str, int]) -> PreparedPart:
    with pa.memory_map(str(path), "r") as source:
        table = pa.ipc.open_file(source).read_all()
    return PreparedPart(table, rows, counts)


class _Stream:
    def __init__(self, writer: DayWriter, name: str, formats: tuple[str, ...]):
        self.name = name
        self.schema, self.plain = stream_schemas(name)
        self.writer = writer
        self.paths = {fmt: writer.staging / f"{name}.{fmt}" for fmt in formats}
        self.tmp = {fmt: p.with_name(f".{p.name}.part") for fmt, p in self.paths.items()}
        self.parquet = (pq.ParquetWriter(self.tmp["parquet"], self.schema, compression="zstd", store_schema=False)
                        if "parquet" in self.paths else None)
        self.csv: pcsv.CSVWriter | None = None
        self.rows = 0
        self.counts: Counter[str] = Counter()
        self.seconds = 0.0

    def add(self, df: pd.DataFrame | None) -> None:
        t = time.perf_counter()
        part = prepare_part(self.name, df)
        self.seconds += time.perf_counter() - t
        self.add_prepared(part)

    def add_prepared(self, part: PreparedPart | None) -> None:
        """Append one partition's prepared rows: a Parquet row group (and a CSV block)."""
        if part is None or part.rows == 0:
            return
        t = time.perf_counter()
        self.rows += part.rows
        self.counts.update(part.counts)
        if self.parquet is not None:
            self.parquet.write_table(part.table)
        if "csv" in self.tmp:  # Arrow's CSV writer (strings quoted): ten times faster than pandas here
            if self.csv is None:
                self.csv = pcsv.CSVWriter(self.tmp["csv"], self.plain)
            self.csv.write_table(part.table.cast(self.plain))
        self.seconds += time.perf_counter() - t

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if "csv" in self.tmp:
            if self.csv is None:  # no rows: the header alone
                self.csv = pcsv.CSVWriter(self.tmp["csv"], self.plain)
            self.csv.close()
        for fmt, tmp in self.tmp.items():  # written under a temporary name, renamed when complete
            os.replace(tmp, self.paths[fmt])
            self.writer._finish_file(self.paths[fmt], True)

    def abort(self) -> None:
        for w in (self.parquet, self.csv):
            if w is not None:
                w.close()


class PartitionSink:
    """Takes each partition's outputs in partition order: streams the large tables, keeps the rest."""

    def __init__(self, writer: DayWriter, formats_of: dict[str, tuple[str, ...]]):
        self.streams = {name: _Stream(writer, name, formats_of[name]) for name in STREAMED}
        self.push_lists: list[pd.DataFrame] = []
        self.stats: list[dict[str, Any]] = []

    def __enter__(self) -> PartitionSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:  # the writer removes the staging folder; close the open files first
            for stream in self.streams.values():
                stream.abort()

    def add(self, result: Any) -> None:
        """One partition's ``PartitionResult`` (or any object with the same attributes)."""
        for name, stream in self.streams.items():
            stream.add(getattr(result, name))
            setattr(result, name, None)
        if getattr(result, "push_list", None) is not None:
            self.push_lists.append(result.push_list)
        if getattr(result, "stats", None):
            self.stats.append(result.stats)

    def close(self) -> dict[str, dict[str, Any]]:
        """Finish every streamed file; return each table's row count and value counts."""
        out = {}
        for name, stream in self.streams.items():
            stream.close()
            out[name] = {"rows": stream.rows, "counts": dict(stream.counts), "seconds": stream.seconds}
        return out
