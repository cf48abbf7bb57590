"""The daily job on Apache Spark: the same per-partition function, mapped with ``mapInPandas``.

``pip install quanhuiqi[spark]``.  Every input table is read by Spark, each row tagged with its
1-based input row and its enterprise partition (the stable uscc hash of
``quanhuiqi.push.partition.partition_of``), the tables are unioned and repartitioned by that
partition, and ``mapInPandas`` runs, per enterprise partition, exactly what the local run does:
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
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from quanhuiqi.push.job import (
    FACT_TABLES,
    PUSH_LIST_ORDER,
    STATE_TABLES,
    RunResult,
    _postings_pairs,
    check_extra_columns,
    clean_columns,
    combine,
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
from quanhuiqi.push.partition import (
    count_partition,
    load_state,
    n_partitions,
    partition_of,
    rank_partition,
    stage_state,
)
from quanhuiqi.push.sink import (
    MERGED,
    STREAMED,
    PartitionSink,
    PreparedPart,
    prepare_part,
    read_part,
    write_part,
)
from quanhuiqi.tables.io import InputError, read_table, require_columns
from quanhuiqi.tables.rejects import concat_rejects

SEP = "__"  # table__column in the unioned frame
OUT_SCHEMA = "_part long, _kind string, _payload binary"


def local_session(master: str = "local[2]", app: str = "quanhuiqi-push", **conf: str) -> Any:
    """A Spark session for tests and single-machine runs; the workers use this interpreter."""
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
    for k, v in conf.items():
        b = b.config(k, v)
    return b.getOrCreate()


# the charsets Spark 4's CSV reader takes (SPARK-48857: GBK and GB18030 only behind a legacy switch)
_SPARK_CHARSETS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16"}


def _read(spark: Any, path: Path, name: str, partitions: int, encoding: str | None = None,
          report: dict | None = None, staging: Path | None = None) -> Any:
    """One input table as a Spark DataFrame: ``table__column`` columns plus ``_table``, ``_row``, ``_part``.

    A CSV's encoding is checked on the driver as the local job reads it (named, or UTF-8 / GB18030 detected;
    a file that is neither is refused by name; ``report`` receives it).  UTF-8 and UTF-16 files go to Spark as
    they are; any other (GBK, GB18030) is transcoded line for line to a UTF-8 copy under ``staging`` first —
    Spark 4 refuses those charsets in its CSV reader — so rows keep their numbers."""
    from pyspark.sql import functions as F

    from quanhuiqi.tables.io import file_encoding, utf8_bytes

    suffix = path.suffix.lower()
    if suffix == ".csv":
        enc = file_encoding(path, encoding)
        if report is not None:
            report["encoding"] = enc
        source = path
        if enc not in _SPARK_CHARSETS:
            staging = Path(staging) if staging is not None else Path(tempfile.mkdtemp(prefix="quanhuiqi-utf8-"))
            staging.mkdir(parents=True, exist_ok=True)
            source = staging / f"{name}.utf-8.csv"
            source.write_bytes(utf8_bytes(path.read_bytes(), str(path), encoding)[0])
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
    from pyspark.sql.types import LongType, StructField, StructType

    def tag(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for b in batches:
            yield b.assign(_part=partition_of(b["uscc"], partitions))

    df = df.mapInPandas(tag, StructType(list(df.schema.fields) + [StructField("_part", LongType(), False)]))
    renamed = [F.col(f"`{c}`").alias(f"{name}{SEP}{c}") for c in cols]
    return df.select(F.lit(name).alias("_table"), "_row", "_part", *renamed)


def _restore(group: pd.DataFrame, name: str, columns: list[str]) -> pd.DataFrame:
    """One table's rows of a partition, in input order, with its own column names (plus ``_row``)."""
    rows = group[group["_table"] == name].sort_values("_row", kind="stable")
    out = rows[[f"{name}{SEP}{c}" for c in columns]]
    out.columns = columns
    out = out.reset_index(drop=True)
    if len(out):
        for c in columns:  # Spark hands CSV text over as object; the local CSV reader gives pandas' str dtype
            if out[c].dtype == object and out[c].map(lambda v: v is None or isinstance(v, str)).all():
                out[c] = out[c].astype("str")
    return out.assign(_row=rows["_row"].to_numpy())


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


def _partition_function(ctx_bc: Any, columns: dict[str, list[str]], posters_bc: Any, staging: str,
                        extras: list[tuple[str, str]] = ()) -> Any:
    """The function ``mapInPandas`` maps over the unioned, repartitioned tables.

    The large tables (``STREAMED``: held back, near misses, 免申即享) never travel to the driver: each
    partition prepares them as they will be written and stages them as Arrow files under ``staging``
    (a folder the executors and the driver share); only their paths and counts come back."""

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from functools import partial

        from quanhuiqi.tables import validate_enterprises, validate_history
        from quanhuiqi.tables.facts import FactTables

        frames = list(batches)
        if not frames:
            return
        ctx = ctx_bc.value
        pdf = pd.concat(frames, ignore_index=True)
        for part, group in pdf.groupby("_part", sort=True):
            tables = {name: _restore(group, name, cols) for name, cols in columns.items()}
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
            if posters_bc is not None:  # the clean rows of enterprises that posted, for the matcher
                out["posters"] = clean[clean["uscc"].isin(posters_bc.value)]
            stats: dict[str, Any] = {"counts": counts}
            if len(clean):  # pass 1: verdicts and counts; the state waits in the staging folder for pass 2
                part_state, out["city"] = count_partition(
                    clean,
                    ctx,
                    history=state["push_history"],
                    grants=state["grants"],
                    suppressions=state["suppressions"],
                    facts=facts,
                )
                out["state"] = str(stage_state(part_state, Path(staging) / f"state-{int(part):06d}.pkl"))
            out["stats"] = stats
            yield pd.DataFrame(
                {
                    "_part": [int(part)] * len(out),
                    "_kind": list(out),
                    "_payload": [pickle.dumps(v, protocol=5) for v in out.values()],
                }
            )

    return run


def _rank_function(ctx_bc: Any, staging: str) -> Any:
    """Pass 2, mapped over the staged partitions: each ranks against the city's statistics (in the
    broadcast context), stages its large tables as Arrow files and returns the rest."""

    def run(item: tuple[int, str]) -> list[tuple[int, str, bytes]]:
        part, state_path = item
        ctx = ctx_bc.value
        part_state = load_state(state_path)
        os.remove(state_path)
        r = rank_partition(part_state, ctx)
        out: dict[str, Any] = {"push_list": r.push_list}
        for name in STREAMED:
            part_rows = prepare_part(name, getattr(r, name))
            if part_rows is not None:
                path = Path(staging) / f"{name}-{int(part):06d}.arrow"
                write_part(part_rows, path)
                out[name] = {"path": str(path), "rows": part_rows.rows, "counts": part_rows.counts}
        out["stats"] = r.stats
        return [(int(part), k, pickle.dumps(v, protocol=5)) for k, v in out.items()]

    return run


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
            prev = spark.read.parquet(*[str(p) for p in prep.prev_paths.values()]).select("date", "uscc", "policy_id", "verdict")
            from pyspark.sql import functions as F

            prev = prev.withColumn("_row", F.monotonically_increasing_id() + 1)

            def tag(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
                for b in batches:
                    yield b.assign(_part=partition_of(b["uscc"], parts))

            prev = prev.mapInPandas(tag, prev.schema.add("_part", "long"))
            prev = prev.select(F.lit("previous").alias("_table"), "_row", "_part", *[F.col(c).alias(f"previous{SEP}{c}") for c in ("date", "uscc", "policy_id", "verdict")])
            frames.append(prev)
            columns["previous"] = ["date", "uscc", "policy_id", "verdict"]
        union = frames[0]
        for f in frames[1:]:
            union = union.unionByName(f, allowMissingColumns=True)
        info.update(partitions=parts, rows=n_rows)

    rejects: list[pd.DataFrame] = []
    postings_clean = None
    if prep.paths.get("postings") is not None:
        from quanhuiqi.postings import validate_postings

        raw = read_table(prep.paths["postings"], encoding=prep.encoding, report=inputs["postings"])
        pv = validate_postings(raw, day, "postings")
        postings_clean = pv.clean
        rejects.append(pv.rejects)
        inputs["postings"].update(rows=len(raw), clean=len(pv.clean), rows_rejected=pv.rows_rejected)

    with progress.stage("spark.partitions", partitions=parts) as info:
        ctx_bc = spark.sparkContext.broadcast(prep.ctx)
        posters_bc = (
            spark.sparkContext.broadcast(set(postings_clean["uscc"].dropna().astype(str)))
            if postings_clean is not None
            else None
        )
        fn = _partition_function(ctx_bc, columns, posters_bc, str(staging), extras)
        result = union.repartition(parts, "_part").mapInPandas(fn, OUT_SCHEMA)
        pieces: dict[str, list[Any]] = {}
        for row in result.collect():  # small payloads: the large tables stay in staged files
            pieces.setdefault(row["_kind"], []).append((row["_part"], pickle.loads(row["_payload"])))
        ctx_bc.unpersist()
        for k in pieces:
            pieces[k].sort(key=lambda t: t[0])
        counted = pieces.pop("city", [])
        stats = [s for _, s in pieces.pop("stats", [])]  # pass 1: input counts per partition
        if counted:  # pass 2: the city's statistics to every partition, each ranks its staged state
            ctx_bc = spark.sparkContext.broadcast(with_city(prep, [c for _, c in counted]))
            todo = [(part, path) for part, path in pieces.pop("state", [])]
            ranked = spark.sparkContext.parallelize(todo, len(todo)).flatMap(_rank_function(ctx_bc, str(staging)))
            for part, kind, payload in ranked.collect():
                pieces.setdefault(kind, []).append((part, pickle.loads(payload)))
            ctx_bc.unpersist()
            for k in pieces:
                pieces[k].sort(key=lambda t: t[0])
            stats += [s for _, s in pieces.pop("stats", [])]
        tables = {"push_list": combine([f for _, f in pieces.pop("push_list", [])] or [empty_push_list()],
                                       PUSH_LIST_ORDER)}
        staged = [v for name in STREAMED for _, v in pieces.get(name, [])]
        info.update(pushed=len(tables["push_list"]), staged_parts=len(staged),
                    staged_rows=int(sum(v["rows"] for v in staged)))

    for name in ("enterprises", *STATE_TABLES, *FACT_TABLES):
        if name in columns:
            for k in ("rows", "clean", "rows_rejected"):
                inputs[name][k] = int(sum(s.get("counts", {}).get(name, {}).get(k, 0) for s in stats))
    for i in range(len(extras)):
        name = f"extra[{i}]"
        for k in ("rows", "rows_rejected"):
            inputs[name][k] = int(sum(s.get("counts", {}).get(name, {}).get(k, 0) for s in stats))

    rejects += [f for _, f in pieces.get("rejects", [])]
    with progress.stage("postings") as info:
        ent = None
        if postings_clean is not None:
            parts_ = [f for _, f in pieces.get("posters", [])]
            if parts_:
                ent = pd.concat(parts_, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)
        path = prep.paths.get("posting_interactions")
        interactions = posting_interactions(
            read_table(path, encoding=prep.encoding, report=inputs["posting_interactions"]) if path is not None else None,
            day, inputs, rejects)
        tables["postings_pairs"] = _postings_pairs(postings_clean, day, ent, cfg, interactions)
        info.update(pairs=len(tables["postings_pairs"]))
    tables["rejects"] = concat_rejects(rejects)
    # the large tables go through the local job's sink, in partition order, one staged part at a time
    with open_writer(prep) as w, PartitionSink(w, formats_of(cfg)) as sink:
        for name in STREAMED:
            for _, staged in sorted(pieces.pop(name, []), key=lambda t: t[0]):
                if name in MERGED:  # merged into one order at the end: the staged file is handed over as it is
                    sink.streams[name].add_prepared(PreparedPart(None, staged["rows"], staged["counts"]),
                                                    path=staged["path"])
                    continue
                sink.streams[name].add_prepared(read_part(staged["path"], staged["rows"], staged["counts"]))
                os.remove(staged["path"])
        streamed = sink.close()
        return finish(prep, w, tables, streamed, [s for s in stats if "timings" in s], parts)
