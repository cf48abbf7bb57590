"""Where partition outputs go: the large tables streamed to disk partition by partition.

A city-wide day has hundreds of millions of held-back pairs and tens of millions of 免申即享 rows and
near misses; holding them all to sort them once would need more memory than the machine has.  So
``held_back`` and ``near_miss`` are written as they come, one Parquet row group per enterprise
partition (per enterprise batch of a larger partition: ``partition.enterprise_batches``), in partition
order, each part sorted by the table's keys: their rows are grouped by
partition (a stable hash of the uscc) and sorted within it.  The 免申即享 list (``auto_grant``) is
published per policy, so it must not depend on the partitioning: its parts are spilled as Arrow files
and merged at the end into one order, ``policy_id, uscc`` (:class:`_MergedStream`), in row groups of a
fixed number of rows of that order — byte-identical for any number of partitions.
The local run and Spark feed the same parts in the same order, so their files are byte-identical.
Counts for the report are accumulated on the way.  ``push_list`` is kept whole and sorted globally.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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
MERGED = {"auto_grant": ("policy_id", "uscc")}  # tables merged into one global order (group key, then row key)
MERGE_ROWS = 1 << 18  # a merged table's row groups: this many rows of its global order each (the last fewer)
KEY_ROWS = 1 << 18  # the merge reads and orders about this many sort keys a round (spread over the parts)


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


def stage_parts(result: Any, staging: str | os.PathLike, key: str) -> dict[str, tuple[str, int, dict[str, int]]]:
    """A partition's large tables (``STREAMED`` attributes of ``result``, released as they go) prepared and written
    as Arrow files ``<name>-<key>.arrow`` in ``staging``, where the partition was computed (a worker process, a
    Spark executor): name → (path, rows, value counts), what :meth:`PartitionSink.add_staged` takes."""
    staged = {}
    for name in STREAMED:
        part = prepare_part(name, getattr(result, name))
        setattr(result, name, None)
        if part is not None:
            path = Path(staging) / f"{name}-{key}.arrow"
            write_part(part, path)
            staged[name] = (str(path), part.rows, part.counts)
    return staged


def read_part(path: str | os.PathLike, rows: int, counts: dict[str, int]) -> PreparedPart:
    with pa.memory_map(str(path), "r") as source:
        table = pa.ipc.open_file(source).read_all()
    return PreparedPart(table, rows, counts)


CSV_BATCH = 1 << 14  # rows a CSV block is written in


def _write_csv(writer: pcsv.CSVWriter, table: pa.Table) -> None:
    """Append ``table`` to an open CSV file.  Arrow's CSV writer keeps the last batch it wrote, and a batch
    sliced from the table keeps all of the table's buffers: the table is written in blocks and the last
    block as a copy, so the table is freed once written (else every stream holds its largest part or row
    group until it is closed).  The same bytes as one ``write_table``."""
    batches = table.to_batches(max_chunksize=CSV_BATCH)
    for b in batches[:-1]:
        writer.write_batch(b)
    if batches:
        last = batches[-1]
        writer.write_batch(last.take(pa.array(np.arange(last.num_rows, dtype=np.int64))))


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
            _write_csv(self.csv, part.table.cast(self.plain))
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


@contextmanager
def _mapped(path: Path) -> Iterator[pa.Table]:
    """An Arrow file's table, memory-mapped for the length of the block (its pages released after)."""
    source = pa.memory_map(str(path), "r")
    try:
        yield pa.ipc.open_file(source).read_all()
    finally:
        source.close()


class _Spans:
    """One spilled part in the merge's global order: its groups' row spans (group position, first row, end
    row), ascending by group; a position in that order maps to a row of the file.  Three small int arrays per
    part, whatever its rows."""

    def __init__(self, pos: np.ndarray, edges: np.ndarray):
        o = np.argsort(pos, kind="stable")
        self.pos = pos[o]
        self.begin = edges[:-1].astype(np.int64)[o]
        self.end = edges[1:].astype(np.int64)[o]
        self.cum = np.r_[0, np.cumsum(self.end - self.begin)]
        self.rows = int(self.cum[-1])

    def read(self, col: pa.ChunkedArray, lo: int, hi: int) -> tuple[np.ndarray, pa.Array, np.ndarray]:
        """Positions ``lo`` to ``hi`` of the order: (group position, second key copied out of the map, row)."""
        gs, ks, rs = [], [], []
        j = int(np.searchsorted(self.cum, lo, side="right")) - 1
        while lo < hi:
            a = int(self.begin[j]) + lo - int(self.cum[j])
            b = a + min(hi, int(self.cum[j + 1])) - lo
            gs.append(np.full(b - a, self.pos[j], dtype=np.int64))
            rs.append(np.arange(a, b, dtype=np.int64))
            ks.append(pa.concat_arrays(col.slice(a, b - a).chunks))
            lo += b - a
            j += 1
        return np.concatenate(gs), pa.concat_arrays(ks), np.concatenate(rs)

    def key(self, col: pa.ChunkedArray, at: int) -> tuple[int, Any]:
        j = int(np.searchsorted(self.cum, at, side="right")) - 1
        return int(self.pos[j]), col[int(self.begin[j]) + at - int(self.cum[j])].as_py()


def _upto(g: np.ndarray, k: pa.Array, bound: tuple[int, Any]) -> int:
    """How many of a window's first rows (sorted by group, key) are at most ``bound``."""
    lo, hi = np.searchsorted(g, bound[0], side="left"), np.searchsorted(g, bound[0], side="right")
    if hi == lo:
        return int(lo)
    return int(lo) + int(pc.sum(pc.less_equal(k.slice(lo, hi - lo), pa.scalar(bound[1], k.type))).as_py() or 0)


class _MergedStream(_Stream):
    """A streamed table whose file has one global order (``MERGED``) whatever the partitioning: each
    partition's part (sorted by the keys) is spilled as an Arrow file, and ``close`` merges them — a k-way
    merge in rounds of about ``KEY_ROWS`` sort keys read from the parts, the rows written in row groups of
    ``MERGE_ROWS`` rows of the global order, each taken from the parts it draws on.  The cuts depend on the
    city's rows only, and the merge holds one row group and one round's keys: not a whole policy's rows (one
    policy can hold a third of the city's enterprises), nothing that grows with the city."""

    def __init__(self, writer: DayWriter, name: str, formats: tuple[str, ...]):
        super().__init__(writer, name, formats)
        self.spill = writer.staging / f".{name}.parts"
        self.parts: list[Path] = []

    def add_prepared(self, part: PreparedPart | None, path: str | os.PathLike | None = None) -> None:
        """Take one partition's part (``path``: an Arrow file already holding it, moved, not copied)."""
        if part is None or part.rows == 0:
            if path is not None:
                os.remove(path)
            return
        t = time.perf_counter()
        self.rows += part.rows
        self.counts.update(part.counts)
        self.spill.mkdir(exist_ok=True)
        target = self.spill / f"{len(self.parts):06d}.arrow"
        if path is not None:
            shutil.move(str(path), target)
        else:
            write_part(part, target)
        self.parts.append(target)
        self.seconds += time.perf_counter() - t

    def close(self) -> None:
        t = time.perf_counter()
        first, second = MERGED[self.name]
        # each part is sorted by (first, second): its groups are runs of one dictionary code.  The parts are
        # mapped only while a run is found or rows are read from them: the pages read are released as the
        # merge goes (memory of one round and one row group, not of the whole table)
        runs = []
        for p in self.parts:
            with _mapped(p) as tab:
                enc = tab.column(first).combine_chunks().dictionary_encode()
                idx = enc.indices.to_numpy(zero_copy_only=False)
                starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
                names = np.asarray(enc.dictionary.to_pylist(), dtype=object)[idx[starts]]
                runs.append((names, np.r_[starts, len(idx)]))
                del enc, idx
        groups = sorted({str(g) for names, _ in runs for g in names})
        rank = {g: i for i, g in enumerate(groups)}
        spans = [_Spans(np.array([rank[str(g)] for g in names], dtype=np.int64), edges) for names, edges in runs]
        del runs, rank
        # k-way merge in rounds: each part still open hands over its next KEY_ROWS / (parts open) rows in the
        # global order (its group spans in group order); the smallest last key among the parts that have rows
        # after their window bounds the round; every row up to it (a prefix of each window) is in its final
        # order among the rows not yet taken, so those are sorted and leave; the rest is read again next round.
        # Every round takes at least one whole window, and the rows leave in row groups of exactly MERGE_ROWS
        # rows (the last one fewer) whatever the rounds were
        taken = np.zeros(len(spans), dtype=np.int64)
        total = np.array([s.rows for s in spans], dtype=np.int64)
        pending_part: list[np.ndarray] = []
        pending_row: list[np.ndarray] = []
        pending = 0
        while True:
            live = np.flatnonzero(taken < total).tolist()
            if live:
                window = max(1, KEY_ROWS // len(live))
                reads, bound = [], None
                for i in live:
                    with _mapped(self.parts[i]) as tab:
                        col = tab.column(second)
                        g, k, r = spans[i].read(col, int(taken[i]), min(int(taken[i]) + window, int(total[i])))
                        end = int(taken[i]) + len(r)
                        if end < total[i]:  # rows after the window: equal keys go with it, then its last key bounds
                            while end < total[i] and spans[i].key(col, end) == (int(g[-1]), k[-1].as_py()):
                                g2, k2, r2 = spans[i].read(col, end, end + 1)
                                g, k, r = np.r_[g, g2], pa.concat_arrays([k, k2]), np.r_[r, r2]
                                end += 1
                            if end < total[i]:
                                last = (int(g[-1]), k[-1].as_py())
                                bound = last if bound is None or last < bound else bound
                    reads.append((i, g, k, r))
                part_of, row_of, group_of, keys = [], [], [], []
                for i, g, k, r in reads:
                    n = len(r) if bound is None else _upto(g, k, bound)
                    taken[i] += n
                    part_of.append(np.full(n, i, dtype=np.int64))
                    row_of.append(r[:n])
                    group_of.append(g[:n])
                    keys.append(k.slice(0, n))
                del reads
                batch = pa.table({"g": np.concatenate(group_of), "k": pa.concat_arrays(keys)})
                order = pc.sort_indices(batch, sort_keys=[("g", "ascending"), ("k", "ascending")]).to_numpy()
                pending_part.append(np.concatenate(part_of)[order])
                pending_row.append(np.concatenate(row_of)[order])
                pending += len(order)
                del batch, order, part_of, row_of, group_of, keys
            while pending >= MERGE_ROWS or (not live and pending):
                src_part, src_row = np.concatenate(pending_part), np.concatenate(pending_row)
                n = min(MERGE_ROWS, pending)
                self._write(self._take(src_part[:n], src_row[:n]))
                pending_part, pending_row = [src_part[n:].copy()], [src_row[n:].copy()]
                pending -= n
                del src_part, src_row
            if not live:
                break
        shutil.rmtree(self.spill, ignore_errors=True)
        self.seconds += time.perf_counter() - t
        super().close()

    def _take(self, src_part: np.ndarray, src_row: np.ndarray) -> pa.Table:
        """The rows (part, row) in the given order: each part mapped once and its rows taken record batch by
        record batch (a take on a mapped column of several batches would first copy the whole column), the
        pieces joined, then put in order: two copies of one row group at most."""
        by_part = np.argsort(src_part, kind="stable")
        pieces, at = [], []
        for idx in np.split(by_part, np.flatnonzero(np.diff(src_part[by_part])) + 1):
            rows = src_row[idx]
            o = np.argsort(rows, kind="stable")
            rows = rows[o]
            at.append(idx[o])
            with _mapped(self.parts[int(src_part[idx[0]])]) as tab:
                batches = tab.to_batches()
                edges = np.cumsum([0] + [b.num_rows for b in batches])
                cut = np.searchsorted(rows, edges)
                for c, batch in enumerate(batches):
                    if cut[c + 1] > cut[c]:
                        pieces.append(batch.take(pa.array(rows[cut[c]:cut[c + 1]] - edges[c])))
                del batches
        table = pa.Table.from_batches(pieces).combine_chunks()
        del pieces
        where = np.empty(len(src_part), dtype=np.int64)
        where[np.concatenate(at)] = np.arange(len(src_part), dtype=np.int64)
        return table.take(pa.array(where))

    def _write(self, table: pa.Table) -> None:
        if self.parquet is not None:
            self.parquet.write_table(table, row_group_size=max(len(table), 1))
        if "csv" in self.tmp:
            if self.csv is None:
                self.csv = pcsv.CSVWriter(self.tmp["csv"], self.plain)
            _write_csv(self.csv, table.cast(self.plain))

    def abort(self) -> None:
        super().abort()
        shutil.rmtree(self.spill, ignore_errors=True)


class PartitionSink:
    """Takes each partition's outputs in partition order: streams the large tables, keeps the rest."""

    def __init__(self, writer: DayWriter, formats_of: dict[str, tuple[str, ...]]):
        self.streams = {name: (_MergedStream if name in MERGED else _Stream)(writer, name, formats_of[name])
                        for name in STREAMED}
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

    def add_staged(self, push_list: pd.DataFrame | None, stats: dict[str, Any] | None,
                   staged: dict[str, tuple[str, int, dict[str, int]]]) -> None:
        """One partition's outputs prepared elsewhere (a worker process, a Spark executor): its large tables
        as Arrow files written by :func:`stage_parts` (name: path, rows, value counts), taken and removed."""
        for name, (path, rows, counts) in staged.items():
            stream = self.streams[name]
            if name in MERGED:  # merged into one order at the end: the staged file is handed over as is
                stream.add_prepared(PreparedPart(None, rows, counts), path=path)
                continue
            stream.add_prepared(read_part(path, rows, counts))
            os.remove(path)
        if push_list is not None:
            self.push_lists.append(push_list)
        if stats:
            self.stats.append(stats)

    def close(self) -> dict[str, dict[str, Any]]:
        """Finish every streamed file; return each table's row count and value counts."""
        out = {}
        for name, stream in self.streams.items():
            stream.close()
            out[name] = {"rows": stream.rows, "counts": dict(stream.counts), "seconds": stream.seconds}
        return out
