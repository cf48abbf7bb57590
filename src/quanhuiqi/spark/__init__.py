"""The daily job on Apache Spark: the same per-partition function, mapped with ``mapInArrow``.

``pip install quanhuiqi[spark]``.  Every input table is read by Spark, each row tagged with its
1-based input row and its enterprise partition (the stable uscc hash of
``quanhuiqi.push.partition.partition_of``), the tables are unioned and repartitioned by that
partition, and ``mapInArrow`` runs, per enterprise partition, exactly what the local run does:
validate (and merge extra enterprise sources) → profile → eligibility → rank → push rules.  The large
tables (held back, near misses, 免申即享) are prepared and staged as Arrow files by the executors;
the push list, rejects and counts come back to the driver, which appends the staged parts one
partition at a time with the local job's writer — so a Spark run and a local run with the same
configuration give byte-identical data files.

pyspark is imported inside the functions: ``import quanhuiqi`` stays light.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.process import ALLOCATOR_SETTINGS
from quanhuiqi.push.job import (
    FACT_TABLES,
    PUSH_LIST_ORDER,
    STATE_TABLES,
    RunResult,
    check_extra_columns,
    clean_columns,
    empty_push_list,
    finish,
    formats_of,
    merge_extra,
    merge_previous,
    open_writer,
    posting_interactions,
    prepare,
    with_city,
)
from quanhuiqi.push.matching import postings_pairs
from quanhuiqi.push.outputs import crash_point, write_table_part
from quanhuiqi.push.partition import (
    count_partition,
    load_state,
    n_partitions,
    partition_of,
    rank_partition,
    stage_state,
)
from quanhuiqi.push.progress import StageClock
from quanhuiqi.push.report import PushListCounts
from quanhuiqi.push.sink import (
    STREAMED,
    PartitionSink,
    stage_parts,
)
from quanhuiqi.tables.io import InputError, read_table, require_columns
from quanhuiqi.tables.rejects import concat_rejects

SEP = "__"  # table__column in the unioned frame
OUT_SCHEMA = "_part long, _kind string, _payload binary"
DAEMON = "quanhuiqi.spark.daemon"  # the workers fork from a daemon that imported the library (spark.daemon)

_WORKER: dict[str, float] = {"tasks": 0, "tag": 0.0}  # per Python worker process: tasks run, the tag UDF's CPU


def _task_clock() -> StageClock:
    """A task's CPU (and wall) account in its Python worker.  A worker's first task is also charged what the
    worker spent before it — the fork, PySpark's worker and the unpickled task's imports (``spark.worker_start``)
    — and any task the partition tag's CPU since the last one (``spark.tag``): the read's UDF tasks return
    no account of their own.  ``spark.*`` stages are work the local run does not do."""
    clock = StageClock({}, {})
    if not _WORKER["tasks"]:
        clock.cpu["spark.worker_start"] = time.process_time() - _WORKER["tag"]
    if _WORKER["tag"]:
        clock.cpu["spark.tag"] = _WORKER["tag"]
        _WORKER["tag"] = 0.0
    _WORKER["tasks"] += 1
    return clock


def _charge_tag(seconds: float) -> None:
    """The partition tag's CPU, kept for the worker's next task to report.  A module function: the UDF is pickled
    by value with copies of the globals it names, so it must not name ``_WORKER`` itself."""
    _WORKER["tag"] += seconds


def _add_cpu(progress: Any, stage: str, cpu: dict[str, float]) -> None:
    """A one-task step's CPU account, measured in its worker, into the report's ``cpu_s`` as ``stage.<part>``."""
    for k, v in cpu.items():
        progress.add_cpu(f"{stage}.{k}", v)


def local_session(master: str = "local[2]", app: str = "quanhuiqi-push", *, worker_daemon: bool = True,
                  **conf: str) -> Any:
    """A Spark session for tests and single-machine runs; the workers use this interpreter.  With
    ``worker_daemon`` (the default) they fork from the library's daemon (:mod:`quanhuiqi.spark.daemon`: the
    imports done once) and run with the batch process settings the local ``quanhuiqi push`` has (Arrow's
    allocator through the executors' environment); ``worker_daemon=False``: PySpark's own daemon, no settings.
    ``conf`` overrides any setting."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    b = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
    )
    if worker_daemon:
        b = b.config("spark.python.daemon.module", DAEMON)
        for k, v in ALLOCATOR_SETTINGS.items():
            b = b.config(f"spark.executorEnv.{k}", v)
    for k, v in conf.items():
        b = b.config(k, v)
    return b.getOrCreate()


def session(master: str | None = None, app: str = "quanhuiqi-push") -> Any:
    """The session ``quanhuiqi push --engine spark`` runs on: ``master`` when given (``local[…]`` with this
    interpreter as the workers' Python), else whatever ``spark-submit`` configured (``local[*]`` outside it);
    Arrow transfers and UTC session time, which the job's identical outputs rely on, either way."""
    if master is not None and master.startswith("local"):
        return local_session(master, app)
    from pyspark.sql import SparkSession

    b = SparkSession.builder.appName(app)
    if master is not None:
        b = b.master(master)
    spark = b.getOrCreate()
    spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


# the charsets Spark 4's CSV reader takes (SPARK-48857: GBK and GB18030 only behind a legacy switch)
_SPARK_CHARSETS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16"}


def _read(spark: Any, path: Path, name: str, partitions: int, encoding: str | None = None,
          report: dict | None = None, staging: Path | None = None) -> Any:
    """One input table as a Spark DataFrame: ``table__column`` columns plus ``_table``, ``_row``, ``_part``.

    A CSV's encoding is checked on the driver as the local job reads it (named, or UTF-8 / GB18030 detected;
    a file that is neither is refused by name; ``report`` receives it).  UTF-8 and UTF-16 files go to Spark as
    they are; any other (GBK, GB18030) is transcoded to a UTF-8 copy under ``staging`` first, a chunk at a
    time (the driver never holds the file) — Spark 4 refuses those charsets in its CSV reader — so rows keep
    their numbers."""
    from pyspark.sql import functions as F

    from quanhuiqi.tables.io import file_encoding, utf8_copy

    suffix = path.suffix.lower()
    if suffix == ".csv":
        enc = file_encoding(path, encoding)
        if report is not None:
            report["encoding"] = enc
        source = path
        if enc not in _SPARK_CHARSETS:
            staging = Path(staging) if staging is not None else Path(tempfile.mkdtemp(prefix="quanhuiqi-utf8-"))
            staging.mkdir(parents=True, exist_ok=True)
            source = utf8_copy(path, staging / f"{name}.utf-8.csv", enc)
        df = spark.read.options(header=True, multiLine=True, encoding=_SPARK_CHARSETS.get(enc, "UTF-8"),
                                escape='"').csv(str(source))
    elif suffix in (".parquet", ".pq"):
        df = spark.read.parquet(str(path))
        if report is not None:
            report["encoding"] = "parquet"
    else:
        raise InputError(f"{path}: unsupported file type {suffix!r} (expected .csv or .parquet)")
    cols = [c.lstrip("\ufeff").strip() for c in df.columns]
    df = df.toDF(*cols)
    if "uscc" not in cols:
        raise InputError(f"{path}: missing required column uscc")
    # the 1-based input row, in the JVM: a record's index within its Spark partition (the file's order)
    # plus the rows of the partitions before it
    if df.rdd.getNumPartitions() == 1:  # one split (a small or multi-line file): no counting job needed
        return _tagged(df.withColumn("_row", F.monotonically_increasing_id() + 1), cols, name, partitions)
    df = df.withColumn("_id", F.monotonically_increasing_id()).withColumn("_pid", F.spark_partition_id())
    sizes = sorted((r["_pid"], r["count"]) for r in df.groupBy("_pid").count().collect())
    offsets, total = [], 0
    for pid, n in sizes:
        offsets += [F.lit(pid), F.lit(total)]
        total += n
    offset = F.create_map(*offsets)[F.col("_pid")] if offsets else F.lit(0)
    local = F.col("_id") - F.shiftleft(F.col("_pid").cast("long"), 33)
    df = df.withColumn("_row", (offset + local + 1).cast("long")).drop("_id", "_pid")
    return _tagged(df, cols, name, partitions)


def _tagged(df: Any, cols: list[str], name: str, partitions: int) -> Any:
    """Add each row's enterprise partition (the library's hash, in pandas) and prefix the columns."""
    from pyspark.sql import functions as F

    renamed = [F.col(f"`{c}`").alias(f"{name}{SEP}{c}") for c in cols]
    return df.select(F.lit(name).alias("_table"), "_row", _part_column(partitions).alias("_part"), *renamed)


def _part_column(partitions: int) -> Any:
    """Each row's enterprise partition (``partition_of`` of its uscc) as a scalar pandas UDF: only the uscc
    column travels to Python and back; the row's other columns stay in the JVM."""
    from pyspark.sql import functions as F

    @F.pandas_udf("long")
    def part_of(uscc: pd.Series) -> pd.Series:
        c = time.process_time()
        out = pd.Series(partition_of(uscc, partitions), index=uscc.index)
        _charge_tag(time.process_time() - c)
        return out

    return part_of(F.col("uscc"))


def _partition_tables(batches: list[Any], columns: dict[str, list[str]]) -> Iterator[tuple[int, dict[str, pd.DataFrame]]]:
    """A task's rows (Arrow batches of the union) as its enterprise partitions, each with its tables as the
    local job reads them: the table's rows in input order, its own column names, plus ``_row``.

    The union pads each row with every other table's columns (nulls): staying in Arrow, only a table's own
    columns of its own rows are taken and converted, once.  Text converts to pandas' ``str`` dtype, as the
    local CSV reader gives it; Parquet's types as ``pd.read_parquet`` converts them (a zoned timestamp as
    its UTC wall time, the session's time zone)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tab = pa.Table.from_batches(batches)
    names = list(columns)
    table = pc.index_in(tab.column("_table"), value_set=pa.array(names, pa.string())).to_numpy()
    part = tab.column("_part").to_numpy()
    order = np.lexsort((tab.column("_row").to_numpy(), table, part))  # by partition, table, input row
    key = part[order] * len(names) + table[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    at = {int(k): idx for k, idx in zip(key[np.r_[0, cuts]], np.split(order, cuts))} if len(order) else {}
    none = np.array([], dtype=np.int64)
    for p in np.unique(part):
        tables = {}
        for i, (name, cols) in enumerate(columns.items()):
            rows = tab.select(["_row", *[f"{name}{SEP}{c}" for c in cols]]).take(at.get(int(p) * len(names) + i, none))
            own = []
            for col in rows.columns[1:]:
                if pa.types.is_timestamp(col.type) and col.type.tz is not None:
                    col = col.cast(pa.timestamp(col.type.unit))
                own.append(col)
            tables[name] = pa.table(own, names=cols).to_pandas().assign(_row=rows.column("_row").to_numpy())
        yield int(p), tables


def _validated(validate: Any, frame: pd.DataFrame, as_of: Any, source: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Validate a partition's rows, then put back the rows' numbers in the whole input file."""
    rownum = frame["_row"].to_numpy()
    v = validate(frame.drop(columns="_row"), as_of, source)
    clean = v.clean.copy()
    rej = v.rejects.copy()
    if "row" in clean:
        clean["row"] = rownum[clean["row"].to_numpy() - 1]
    if len(rej):
        rej["row"] = rownum[rej["row"].to_numpy() - 1]
        # reasons that name another row ("duplicate uscc: row 12 kept") name it in the whole file too
        rej["reason"] = rej["reason"].str.replace(
            r"\brow (\d+)\b", lambda m: f"row {rownum[int(m.group(1)) - 1]}", regex=True
        )
    return clean, rej, {"rows": v.rows_in, "clean": len(v.clean), "rows_rejected": v.rows_rejected}


def _validate_fact(name: str, raw: pd.DataFrame, as_of: Any, source: str, *, known: pd.DataFrame, vocab: dict) -> Any:
    from quanhuiqi.tables.facts import validate_fact_table

    return validate_fact_table(name, raw, as_of, known, source, vocab)


def _staging_dir(cfg: dict, out_dir: Path, date_text: str) -> Path:
    """Where executors stage the large tables for the driver: ``spark.staging`` of the configuration,
    else a hidden folder in the out folder — either must be a filesystem both see (HDFS mounts, NFS).
    Named like the local writer's staging, so a run that died hard leaves nothing the next run of
    that day does not remove (``push.outputs.recover``)."""
    base = Path((cfg.get("spark") or {}).get("staging") or out_dir)
    path = base / f".staging-{date_text}-spark-{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    return path


def _partition_function(ctx_bc: Any, columns: dict[str, list[str]], posters_path: str | None, staging: str,
                        extras: list[tuple[str, str]] = (), yesterday: bool = False) -> Any:
    """The function ``mapInArrow`` maps over the unioned, repartitioned tables.

    The large tables (``STREAMED``: held back, near misses, 免申即享) never travel to the driver: each
    partition prepares them as they will be written and stages them as Arrow files under ``staging``
    (a folder the executors and the driver share); only their paths and counts come back."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        from functools import partial

        import pyarrow as pa

        from quanhuiqi.tables import validate_enterprises, validate_history
        from quanhuiqi.tables.facts import FactTables

        task = _task_clock()
        frames = list(batches)
        task.lap("spark.arrow_in")
        if not frames:
            return
        ctx = ctx_bc.value
        task.lap("spark.broadcast")
        for part, tables in _partition_tables(frames, columns):
            task.lap("spark.tables")
            clock = task  # the task's own stages go with its first partition
            rejects, counts = [], {}
            clean, rej, counts["enterprises"] = _validated(validate_enterprises, tables["enterprises"], ctx.as_of, "enterprises")
            rejects.append(rej)
            for i, (name, source) in enumerate(extras):  # extra facts: same partition as their enterprise
                frame = tables[name]
                clean, rej = merge_extra(clean, frame.drop(columns="_row"), source)
                rownum = frame["_row"].to_numpy()
                if len(rej):
                    rej["row"] = rownum[rej["row"].to_numpy() - 1]
                rejects.append(rej)
                counts[f"extra[{i}]"] = {"rows": len(frame), "rows_rejected": int(rej["row"].nunique()) if len(rej) else 0}
            state: dict[str, pd.DataFrame | None] = {}
            for name in STATE_TABLES:
                if name not in tables:
                    state[name] = None
                    continue
                state[name], rej, counts[name] = _validated(partial(validate_history, name), tables[name], ctx.as_of, name)
                rejects.append(rej)
            if "previous" in tables:
                state["push_history"] = merge_previous(state["push_history"], tables["previous"].drop(columns="_row"))
            facts = FactTables()
            vocab = ctx.book.table_vocabularies()
            for name in FACT_TABLES:  # an enterprise's facts are in its partition: known = this partition's clean
                if name in tables:
                    check = partial(_validate_fact, name, known=clean[["uscc", "row"]], vocab=vocab)
                    frame, rej, counts[name] = _validated(check, tables[name], ctx.as_of, name)
                    setattr(facts, name, frame.drop(columns=[c for c in ("_row",) if c in frame]))
                    rejects.append(rej)
            out: dict[str, Any] = {"rejects": concat_rejects(rejects)}
            clock.lap("validate")
            if posters_path is not None:  # the clean rows of enterprises that posted, staged for the matcher
                path = Path(staging) / f"posters-{int(part):06d}.pkl"
                stage_state(clean[_is_poster(clean["uscc"], posters_path)], path)
                out["posters"] = str(path)
                clock.lap("spark.stage")
            prev = None
            if yesterday:  # the previous day's push list, this partition's rows: the report's changes
                prev = tables["yesterday"].drop(columns="_row") if "yesterday" in tables else None
                prev = prev if prev is not None else pd.DataFrame({"uscc": [], "policy_id": []}, dtype="string")
            stats: dict[str, Any] = {"counts": counts, "trend": _trend_counts(tables, ctx), "cpu": clock.cpu}
            clock.lap("trend")
            if len(clean):  # pass 1: verdicts and counts; the state waits in the staging folder for pass 2
                part_state, city = count_partition(
                    clean,
                    ctx,
                    history=state["push_history"],
                    grants=state["grants"],
                    suppressions=state["suppressions"],
                    facts=facts,
                )
                clock.restart()  # count_partition's stages are in the state's own account
                out["state"] = str(stage_state(part_state, Path(staging) / f"state-{int(part):06d}.pkl"))
                clock.lap("stage")  # the local run stages its states too
                out["city"] = str(stage_state(city, Path(staging) / f"city-{int(part):06d}.pkl"))  # summed one at a time
                if prev is not None:
                    out["yesterday"] = str(stage_state(prev, Path(staging) / f"yesterday-{int(part):06d}.pkl"))
            elif prev is not None and len(prev):  # no enterprise left to push to: only yesterday's pairs count
                out["push_counts"] = PushListCounts.of(empty_push_list(), prev)
            clock.lap("spark.stage")
            out["stats"] = stats  # its CPU account is complete but for the pickling below (milliseconds)
            yield pa.RecordBatch.from_pydict(
                {
                    "_part": pa.array([int(part)] * len(out), pa.int64()),
                    "_kind": pa.array(list(out), pa.string()),
                    "_payload": pa.array([pickle.dumps(v, protocol=5) for v in out.values()], pa.binary()),
                }
            )
            task = StageClock({}, {})  # the next partition's tables, taken from the task's rows

    return run


def _trend_counts(tables: dict[str, pd.DataFrame], ctx: Any) -> tuple[pd.DataFrame, pd.Series] | None:
    """The report's 30-day trend counted over this partition's raw push history and grants (every raw row is
    in one partition): the driver adds them up instead of reading both tables whole."""
    from quanhuiqi.push.report import TREND_DAYS, grant_day_counts, history_day_counts

    day = ctx.as_of
    since = day - pd.Timedelta(days=TREND_DAYS)
    hist = tables.get("push_history")
    hist = (history_day_counts(hist.drop(columns="_row"), since, day) if hist is not None
            else pd.DataFrame(columns=["pushes", "applications", "approvals"], dtype="int64"))
    auto_ids = set(ctx.policies.loc[ctx.policies["mode"] == "auto", "policy_id"].astype(str))
    grants = tables.get("grants")
    auto = (grant_day_counts(grants.drop(columns="_row"), auto_ids, since, day)
            if grants is not None and auto_ids else pd.Series(dtype="int64"))
    return hist, auto


def _sum_trend(parts: list[tuple[pd.DataFrame, pd.Series]]) -> tuple[pd.DataFrame, pd.Series]:
    hist = [h for h, _ in parts if len(h)]
    auto = [a for _, a in parts if len(a)]
    return (pd.concat(hist).groupby(level=0).sum() if hist else parts[0][0],
            pd.concat(auto).groupby(level=0).sum() if auto else pd.Series(dtype="int64"))


class _StatsTotal:
    """The partitions' stats as the driver keeps them: one running total, whatever the number of partitions.

    Pass 1 sends each partition's input counts and trend counts, pass 2 its candidates per verdict, pushes per
    district, timings and readiness counts; every one is additive (integer sums, the readiness tables summed
    by key), so adding each as it arrives gives what adding them all at once gives."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}
        self.trend: tuple[pd.DataFrame, pd.Series] | None = None
        self.ranked_parts = 0
        self.per_verdict: dict[str, int] = {}
        self.per_district: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}  # both passes' CPU per stage, measured in the workers
        self.readiness: Any = None

    @staticmethod
    def _add(total: dict, part: dict) -> None:
        for k, v in part.items():
            total[k] = total.get(k, 0) + v

    def add(self, stats: dict[str, Any]) -> None:
        for name, c in stats.get("counts", {}).items():
            self._add(self.counts.setdefault(name, {}), c)
        self._add(self.cpu, stats.get("cpu", {}))
        if stats.get("trend") is not None:
            self.trend = stats["trend"] if self.trend is None else _sum_trend([self.trend, stats["trend"]])
        if "timings" in stats:  # pass 2
            self.ranked_parts += 1
            self._add(self.per_verdict, {str(k): int(v) for k, v in stats["candidates_per_verdict"].items()})
            self._add(self.per_district, {str(k): int(v) for k, v in stats["pushed_per_district"].items()})
            self._add(self.timings, stats["timings"])
            if stats.get("readiness") is not None:
                from quanhuiqi.policy.readiness import ReadinessCounts

                self.readiness = (stats["readiness"] if self.readiness is None
                                  else ReadinessCounts.combine([self.readiness, stats["readiness"]]))

    def ranked(self) -> list[dict[str, Any]]:
        """The pass-2 stats as ``finish`` reads them: one partition's worth holding the city's totals."""
        if not self.ranked_parts:
            return []
        return [{"candidates_per_verdict": self.per_verdict, "pushed_per_district": self.per_district,
                 "timings": self.timings, "cpu": self.cpu, "readiness": self.readiness}]


def _rank_function(ctx_bc: Any, staging: str, formats: tuple[str, ...]) -> Any:
    """Pass 2, mapped over the staged partitions: each ranks against the city's statistics (in the
    broadcast context), stages its large tables as Arrow files, writes its part of the push list (sorted
    by uscc, rank; one file per format) and returns the counts the report needs instead of the list."""

    def run(item: tuple[int, str, str | None]) -> list[tuple[int, str, bytes]]:
        part, state_path, yesterday_path = item
        clock = _task_clock()
        ctx = ctx_bc.value
        clock.lap("spark.broadcast")
        part_state = load_state(state_path)
        os.remove(state_path)
        clock.lap("stage")  # the local run reads its staged state back too
        r = rank_partition(part_state, ctx)
        clock.restart()  # rank_partition's stages are in its own account
        out: dict[str, Any] = {}
        push_list = r.push_list.sort_values(PUSH_LIST_ORDER, kind="stable").reset_index(drop=True)
        previous = None
        if yesterday_path is not None:
            previous = load_state(yesterday_path)
            os.remove(yesterday_path)
        out["push_counts"] = PushListCounts.of(push_list, previous)
        if len(push_list):  # an empty part is left out (no schema of its own to disagree with the others')
            out["push_list"] = {fmt: str(write_table_part(push_list, Path(staging) / f"push_list-{int(part):06d}.{fmt}",
                                                          fmt)) for fmt in formats}
        clock.lap("write.push_list")
        for name, (path, rows, counts) in stage_parts(r, staging, f"{int(part):06d}").items():
            out[name] = {"path": path, "rows": rows, "counts": counts}
        clock.lap("write.streamed")
        out["stats"] = {**r.stats, "cpu": {**r.stats["cpu"], **clock.cpu}}  # no stage in both
        # the payload (counts per policy and readiness: a few MB a partition) is staged as a file and only its
        # path travels: the driver reads one at a time, so its memory does not grow with the partitions
        path = stage_state(out, Path(staging) / f"payload-{int(part):06d}.pkl")
        return [(int(part), "payload", pickle.dumps(str(path), protocol=5))]

    return run


def _sum_staged(paths: list[str]) -> Any:
    """The partitions' staged city counts added up one at a time (exact integer sums with sorted keys: the
    same as adding them all at once), so the driver holds two partitions' counts, not all of them."""
    from quanhuiqi.rank.city import CityStatistics

    total = None
    for p in paths:
        part = load_state(p)
        os.remove(p)
        total = part if total is None else CityStatistics.sum([total, part])
    return total


_CACHE: dict[str, Any] = {}  # per Python worker: the one staged object its tasks share (the matcher's index)


def _load_cached(path: str, prepare: Any = None) -> Any:
    """A staged object read once per worker process (Spark reuses its Python workers across tasks), made
    into what the tasks use by ``prepare`` (once too) when given."""
    key = path if prepare is None else f"{path}#{prepare.__name__}"
    if key not in _CACHE:
        _CACHE.clear()
        obj = load_state(path)
        _CACHE[key] = obj if prepare is None else prepare(obj)
    return _CACHE[key]


def _is_poster(uscc: pd.Series, posters_path: str) -> np.ndarray:
    """Which of a partition's enterprises posted today.  The staged set of posters becomes an Arrow array once
    per worker: pandas' ``isin`` on Arrow-backed text builds one Arrow scalar per value of the set it is given
    — the city's whole list of posters, for every partition (the local run asks once, for the whole city)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def as_arrow(posters: set[str]) -> pa.Array:
        return pa.array(sorted(posters), pa.large_string())

    hit = pc.is_in(pa.array(uscc, from_pandas=True).cast(pa.large_string()),
                   value_set=_load_cached(posters_path, as_arrow))
    return hit.fill_null(False).to_numpy(zero_copy_only=False)


# --- supply–demand matching on the executors -----------------------------------------------------


def _table_columns(path: Path, encoding: str | None) -> list[str]:
    """A table's column names from its header alone (the driver never reads the rows); the encoding is
    checked as the local reader checks it (a file that is neither UTF-8 nor GB18030/GBK is refused by name)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    from quanhuiqi.tables.io import file_encoding

    enc = file_encoding(path, encoding)
    cols = pd.read_csv(path, nrows=0, encoding="utf-8-sig" if enc.startswith("utf-8") else enc).columns
    return [str(c).lstrip("\ufeff").strip() for c in cols]


def _check_postings_headers(prep: Any) -> None:
    """The postings tables' headers validated on the driver, before any partition runs: the local job's
    refusals (a missing required column, an unreadable encoding) with the same messages."""
    from quanhuiqi.postings import validate_postings
    from quanhuiqi.tables import validate_history

    for name in ("postings", "posting_interactions"):
        path = prep.paths.get(name)
        if path is None:
            continue
        empty = pd.DataFrame({c: pd.Series(dtype="string") for c in _table_columns(path, prep.encoding)})
        if name == "postings":
            validate_postings(empty, prep.day, "postings")
        else:
            validate_history(name, empty, prep.day, name)


def _postings_read_task(path: str, encoding: str | None, day: Any, staging: str) -> Any:
    """One task: read and validate the postings (rows numbered in the whole file, as locally); stage the
    clean postings and the set of posters for the partitions."""

    def run(_: int) -> list[bytes]:
        from quanhuiqi.postings import validate_postings

        clock = _task_clock()
        info: dict[str, Any] = {}
        raw = read_table(path, encoding=encoding, report=info)
        clock.lap("read")
        pv = validate_postings(raw, day, "postings")
        info.update(rows=len(raw), clean=len(pv.clean), rows_rejected=pv.rows_rejected)
        clock.lap("validate")
        clean = stage_state(pv.clean, Path(staging) / "postings-clean.pkl")
        posters = stage_state(set(pv.clean["uscc"].dropna().astype(str)), Path(staging) / "postings-posters.pkl")
        clock.lap("spark.stage")
        return [pickle.dumps({"info": info, "rejects": pv.rejects, "clean": str(clean), "posters": str(posters),
                              "cpu": clock.cpu}, protocol=5)]

    return run


def _appeals_task(path: str, day: Any, cfg: dict, encoding: str | None, loaded: tuple, staging: str,
                  formats: dict[str, tuple[str, ...]]) -> Any:
    """One task: the appeals step (validate, link cases, route the day's new appeals, the response clock) over
    the whole appeals table, its tables written with the day writer's bytes; the driver gets the report
    section, the rejects and the files' paths, never the appeals."""

    def run(_: int) -> list[bytes]:
        from quanhuiqi.appeals.daily import AppealsDay, appeals_day

        clock = _task_clock()
        read_as: dict[str, Any] = {}
        day_ = appeals_day(Path(path), day, cfg, encoding, read_as, loaded=loaded)
        files = {name: (len(frame), {fmt: str(write_table_part(frame, Path(staging) / f"appeals-{name}.{fmt}", fmt))
                                     for fmt in formats[name]})
                 for name, frame in day_.tables.items()}
        lean = AppealsDay({}, day_.rejects, day_.report, day_.warnings, day_.emerging)
        clock.lap("appeals")
        return [pickle.dumps({"appeals": lean, "files": files, "read_as": read_as, "cpu": clock.cpu}, protocol=5)]

    return run


def _appeals_on_spark(spark: Any, prep: Any, staging: Path) -> tuple[Any, dict[str, tuple[int, dict[str, Path]]]]:
    """The appeals step in one executor task (the model loaded here, where the registry is, and shipped)."""
    from quanhuiqi.appeals.daily import load_model_for_day

    cfg = prep.cfg
    loaded = load_model_for_day(cfg["appeals"]["model"])
    with prep.progress.stage("appeals") as info:
        got = pickle.loads(spark.sparkContext.parallelize([0], 1).flatMap(_appeals_task(
            str(prep.paths["appeals"]), prep.day, cfg, prep.encoding, loaded, str(staging),
            formats_of(cfg))).collect()[0])
        appeals = got["appeals"]
        prep.inputs["appeals"].update(got["read_as"])
        _add_cpu(prep.progress, "appeals", got["cpu"])
        info.update(new=appeals.report["new_appeals"], cases=appeals.report["cases"])
    return appeals, {name: (rows, {fmt: Path(p) for fmt, p in paths.items()})
                     for name, (rows, paths) in got["files"].items()}


def _postings_index_task(clean_path: str, poster_paths: list[str], interactions: str | None, encoding: str | None,
                         day: Any, staging: str, per_task: int) -> Any:
    """One task: the day's matching index (TF-IDF over all postings, tags, chain and place keys, the
    interactions before the day) built once and staged for the matching tasks; the demand ranges cut."""

    def run(_: int) -> list[bytes]:
        from quanhuiqi.postings.partitioned import build_match_index, demand_ranges

        clock = _task_clock()
        clean = load_state(clean_path)
        os.remove(clean_path)
        frames = [load_state(p) for p in poster_paths]
        for p in poster_paths:
            os.remove(p)
        ent = (pd.concat(frames, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)
               if frames else None)
        clock.lap("spark.stage")
        info, rejects, history = {}, [], None
        if interactions is not None:
            history = posting_interactions(read_table(interactions, encoding=encoding, report=info), day,
                                           {"posting_interactions": info}, rejects)
        clock.lap("interactions")
        mi = build_match_index(clean, day, ent, history)
        del clean, ent, frames, history
        clock.lap("index")
        path = stage_state(mi, Path(staging) / "postings-index.pkl")
        ranges = demand_ranges(mi.open_demand_ids(), per_task)
        clock.lap("spark.stage")
        return [pickle.dumps({"index": str(path), "bytes": path.stat().st_size, "ranges": ranges or [None],
                              "postings": len(mi.index.postings), "info": info, "rejects": concat_rejects(rejects),
                              "cpu": clock.cpu}, protocol=5)]

    return run


def _postings_match_function(index_path: str, scorer: Any, k: int, staging: str, formats: tuple[str, ...]) -> Any:
    """One demand range per task: its pairs against the staged index, written as this range's part."""

    def run(item: tuple[int, tuple[str, str] | None]) -> list[bytes]:
        from quanhuiqi.postings.partitioned import match_range

        i, bounds = item
        clock = _task_clock()
        index = _load_cached(index_path)
        clock.lap("spark.load_index")
        pairs = match_range(index, bounds, scorer, k)
        clock.lap("match")
        paths = {fmt: str(write_table_part(pairs, Path(staging) / f"postings_pairs-{i:06d}.{fmt}", fmt))
                 for fmt in formats}
        clock.lap("write")
        return [pickle.dumps((i, len(pairs), paths, clock.cpu), protocol=5)]

    return run


def _match_on_spark(spark: Any, prep: Any, staging: Path, read: dict, poster_paths: list[str],
                    rejects: list[pd.DataFrame]) -> tuple[list[dict[str, str]], int, dict[str, Any]]:
    """The day's supply–demand pairs computed and written by the executors: the index once (one task),
    the demand ranges in parallel.  Returns the part files in order, the row count and what the report
    records about the index."""
    from quanhuiqi.postings.match import resolve_scorer

    cfg, sc = prep.cfg, spark.sparkContext
    per_task = int(cfg["spark"]["demands_per_task"])
    inter = prep.paths.get("posting_interactions")
    built = pickle.loads(sc.parallelize([0], 1).flatMap(_postings_index_task(
        read["clean"], poster_paths, str(inter) if inter is not None else None, prep.encoding, prep.day,
        str(staging), per_task)).collect()[0])
    rejects.append(built["rejects"])
    _add_cpu(prep.progress, "postings", built["cpu"])
    if inter is not None:
        prep.inputs["posting_interactions"].update(built["info"])
    scorer = resolve_scorer(cfg["postings"]["model"])
    todo = list(enumerate(built["ranges"]))
    fn = _postings_match_function(built["index"], scorer, int(cfg["postings"]["per_demand"]), str(staging),
                                  formats_of(cfg)["postings_pairs"])
    done = sorted(pickle.loads(b) for b in sc.parallelize(todo, len(todo)).flatMap(fn).collect())
    os.remove(built["index"])
    for *_, cpu in done:
        _add_cpu(prep.progress, "postings", cpu)
    info = {"index_mb": round(built["bytes"] / 1e6, 1), "postings": built["postings"], "ranges": len(todo)}
    return [paths for _, _, paths, _ in done], int(sum(n for _, n, _, _ in done)), info


def run_daily_spark(
    date: str | dt.date,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: str | None = None,
    config: str | os.PathLike | dict | None = None,
    *,
    spark: Any = None,
    encoding: str | None = None,
) -> RunResult:
    """The daily job with the enterprise partitions processed on Spark; same outputs as ``run_daily``.

    ``spark``: an existing SparkSession (a cluster's); default: ``local_session()``.  The data
    folder and the out folder are read and written by the driver; input tables by Spark.  ``encoding`` as in
    ``run_daily``.
    """
    prep = prepare(date, data_dir, out_dir, model, config, encoding)
    cfg = prep.cfg
    spark = spark or local_session()
    staging = _staging_dir(cfg, prep.out_dir, prep.date_text)
    try:
        return _run_on_spark(prep, spark, staging)
    finally:  # staged parts are removed as they are appended; whatever a failed run left goes here
        shutil.rmtree(staging, ignore_errors=True)


def _run_on_spark(prep: Any, spark: Any, staging: Path) -> RunResult:
    cfg, day, progress, inputs = prep.cfg, prep.day, prep.progress, prep.inputs

    with progress.stage("spark.read") as info:
        ent_path = prep.paths["enterprises"]
        n_rows = -1
        if int(cfg["run"]["partitions"]) <= 0:  # auto: the count decides
            reader = spark.read.options(header=True, multiLine=True, escape='"')
            n_rows = (reader.csv(str(ent_path)) if ent_path.suffix.lower() == ".csv" else spark.read.parquet(str(ent_path))).count()
        parts = n_partitions(cfg, n_rows)
        frames, columns = [], {}
        for name in ("enterprises", *STATE_TABLES, *FACT_TABLES):
            p = prep.paths.get(name)
            if p is None:
                continue
            df = _read(spark, p, name, parts, prep.encoding, inputs[name], staging)
            frames.append(df)
            columns[name] = [c.split(SEP, 1)[1] for c in df.columns if SEP in c]
            if name in FACT_TABLES:  # refused on the driver, before any partition runs, as the local job does
                from quanhuiqi.tables.facts import SPECS

                require_columns(pd.DataFrame(columns=columns[name]), SPECS[name].required, str(p))
        extras = []  # (table name in the union, source as the rejects name it)
        for i, rel in enumerate(cfg["paths"]["extra"]):
            name, source = f"extra{i}", f"extra[{i}] {rel}"
            df = _read(spark, prep.paths[f"extra[{i}]"], name, parts, prep.encoding, inputs.get(f"extra[{i}]"),
                       staging)
            frames.append(df)
            columns[name] = [c.split(SEP, 1)[1] for c in df.columns if SEP in c]
            # refused on the driver, before any partition runs, as the local job refuses it
            check_extra_columns(columns[name], clean_columns(columns["enterprises"], day), source)
            extras.append((name, source))
        if prep.prev_paths:
            frames.append(_previous_frame(spark, [str(p) for p in prep.prev_paths.values()], "previous", parts,
                                          ("date", "uscc", "policy_id", "verdict")))
            columns["previous"] = ["date", "uscc", "policy_id", "verdict"]
        yesterday = prep.out_dir / (day - pd.Timedelta(days=1)).date().isoformat() / "push_list.parquet"
        if yesterday.exists():  # the report's changes since the previous day, counted in each partition
            frames.append(_previous_frame(spark, [str(yesterday)], "yesterday", parts, ("uscc", "policy_id")))
            columns["yesterday"] = ["uscc", "policy_id"]
        union = frames[0]
        for f in frames[1:]:
            union = union.unionByName(f, allowMissingColumns=True)
        info.update(partitions=parts, rows=n_rows)

    rejects: list[pd.DataFrame] = []
    read = None
    if prep.paths.get("postings") is not None:
        _check_postings_headers(prep)  # refused here, before any partition runs, as the local job refuses it
        with progress.stage("spark.postings_read") as info:
            read = pickle.loads(spark.sparkContext.parallelize([0], 1).flatMap(_postings_read_task(
                str(prep.paths["postings"]), prep.encoding, day, str(staging))).collect()[0])
            rejects.append(read["rejects"])
            inputs["postings"].update(read["info"])
            _add_cpu(progress, "spark.postings_read", read["cpu"])
            info.update(rows=read["info"]["rows"])

    with progress.stage("spark.partitions", partitions=parts) as info:
        ctx_bc = spark.sparkContext.broadcast(prep.ctx)
        fn = _partition_function(ctx_bc, columns, read["posters"] if read else None, str(staging), extras,
                                 yesterday=yesterday.exists())
        result = union.repartition(parts, "_part").mapInArrow(fn, OUT_SCHEMA)
        pieces: dict[str, list[Any]] = {}
        totals = _StatsTotal()  # the partitions' stats added up as they arrive, not kept per partition
        push_counts = PushListCounts.sum([], yesterday.exists())  # added up as the partitions' counts arrive
        streamed_counts: dict[str, Counter[str]] = {name: Counter() for name in STREAMED}  # likewise

        def take(part: int, kind: str, payload: bytes) -> None:
            take_value(part, kind, pickle.loads(payload))

        def take_value(part: int, kind: str, value: Any) -> None:
            nonlocal push_counts
            if kind == "payload":  # a partition's pass-2 results, staged: read, taken one by one, removed
                for k, v in load_state(value).items():
                    take_value(part, k, v)
                os.remove(value)
            elif kind == "push_counts":
                push_counts = PushListCounts.sum([push_counts, value], yesterday.exists())
            elif kind == "stats":
                totals.add(value)
            else:
                if kind in STREAMED:  # a staged part: its path kept for the append, its counts summed now
                    streamed_counts[kind].update(value.pop("counts"))
                pieces.setdefault(kind, []).append((part, value))

        with progress.stage("spark.pass1"):
            for row in result.collect():  # small payloads: the large tables stay in staged files
                take(row["_part"], row["_kind"], row["_payload"])
        ctx_bc.unpersist()
        if read is not None:
            os.remove(read["posters"])
        for k in pieces:
            pieces[k].sort(key=lambda t: t[0])
        counted = pieces.pop("city", [])
        if counted:  # pass 2: the city's statistics to every partition, each ranks its staged state
            ctx_bc = spark.sparkContext.broadcast(with_city(prep, [_sum_staged([p for _, p in counted])]))
            prev_of = dict(pieces.pop("yesterday", []))
            todo = [(part, path, prev_of.get(part)) for part, path in pieces.pop("state", [])]
            ranked = spark.sparkContext.parallelize(todo, len(todo)).flatMap(
                _rank_function(ctx_bc, str(staging), formats_of(cfg)["push_list"]))
            with progress.stage("spark.pass2"):
                for part, kind, payload in ranked.collect():
                    take(part, kind, payload)
            ctx_bc.unpersist()
            for k in pieces:
                pieces[k].sort(key=lambda t: t[0])
        push_parts = [paths for _, paths in pieces.pop("push_list", [])]
        staged = [v for name in STREAMED for _, v in pieces.get(name, [])]
        info.update(pushed=push_counts.rows, push_list_parts=len(push_parts), staged_parts=len(staged),
                    staged_rows=int(sum(v["rows"] for v in staged)))

    for name in ("enterprises", *STATE_TABLES, *FACT_TABLES):
        if name in columns:
            for k in ("rows", "clean", "rows_rejected"):
                inputs[name][k] = int(totals.counts.get(name, {}).get(k, 0))
    for i in range(len(extras)):
        name = f"extra[{i}]"
        for k in ("rows", "rows_rejected"):
            inputs[name][k] = int(totals.counts.get(name, {}).get(k, 0))

    rejects += [f for _, f in pieces.pop("rejects", [])]
    tables: dict[str, pd.DataFrame] = {}
    written: dict[str, int] = {"push_list": push_counts.rows}
    pair_parts: list[dict[str, str]] = []
    with progress.stage("postings") as info:
        if read is not None:
            pair_parts, written["postings_pairs"], info_ = _match_on_spark(
                spark, prep, staging, read, [p for _, p in pieces.get("posters", [])], rejects)
            info.update(pairs=written["postings_pairs"], **info_)
        else:
            path = prep.paths.get("posting_interactions")
            posting_interactions(read_table(path, encoding=prep.encoding, report=inputs["posting_interactions"])
                                 if path is not None else None, day, inputs, rejects)
            tables["postings_pairs"] = postings_pairs(None, day, None, cfg)
    appeals, appeal_files = (_appeals_on_spark(spark, prep, staging) if prep.paths.get("appeals") is not None
                             else (None, None))
    tables["rejects"] = concat_rejects(rejects)
    del rejects  # the partitions' frames: only the sorted table is kept for the write
    formats = formats_of(cfg)
    with open_writer(prep) as w, PartitionSink(w, formats) as sink:
        # the executors' parts of the push list and the pairs join the day's staging folder (renamed in)
        if push_parts:
            for fmt in formats["push_list"]:
                w.adopt("push_list", fmt, [Path(p[fmt]) for p in push_parts])
        else:  # no enterprise to push to: an empty list, as the local run writes it
            tables["push_list"] = empty_push_list()
            del written["push_list"]
        for fmt in formats["postings_pairs"] if pair_parts else ():
            w.adopt("postings_pairs", fmt, [Path(p[fmt]) for p in pair_parts])
        crash_point("spark:adopted")
        # the large tables go through the local job's sink, in partition order, one staged part at a time
        with progress.stage("spark.append"):
            for name in STREAMED:
                sink.streams[name].counts.update(streamed_counts.pop(name))
                for _, staged in sorted(pieces.pop(name, []), key=lambda t: t[0]):
                    sink.add_staged(None, None, {name: (staged["path"], staged["rows"], {})})
            streamed = sink.close()
        return finish(prep, w, tables, streamed, totals.ranked(), parts,
                      push_counts=push_counts, written=written, trend_counts=totals.trend,
                      appeals=appeals, appeal_files=appeal_files)


def _previous_frame(spark: Any, paths: list[str], name: str, parts: int, cols: tuple[str, ...]) -> Any:
    """Earlier push lists this job wrote (a file, or a Spark run's folder of parts) as a table of the union."""
    from pyspark.sql import functions as F

    prev = spark.read.parquet(*paths).select(*cols).withColumn("_row", F.monotonically_increasing_id() + 1)
    return prev.select(F.lit(name).alias("_table"), "_row", _part_column(parts).alias("_part"),
                       *[F.col(c).alias(f"{name}{SEP}{c}") for c in cols])
