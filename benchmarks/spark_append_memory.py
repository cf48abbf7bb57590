"""Benchmark: the Spark driver's append stage alone — held back parts read and written, the 免申即享 parts
merged (``push.sink``) — on parts built from a day this job wrote, at any number of parts and rows; the
process's RSS (anonymous / file-backed) and Arrow's allocated bytes sampled ten times a second per phase.

    python benchmarks/spark_append_memory.py build --source OUT/DATE --parts P --auto-rows N --dir D
    python benchmarks/spark_append_memory.py run --dir D [--skip-held]

``build`` takes a day's ``auto_grant.parquet`` and ``held_back.parquet`` (``--source``, e.g. a Spark or local
run's out folder): the 免申即享 rows replicated (the uscc's first character changed) and sampled to ``N``
rows, scattered into ``P`` parts by a hash of the uscc, each sorted by (policy_id, uscc) and staged as the
executors stage them; one held back part of ``--held-rows`` rows, linked ``P`` times.  ``run`` appends them
with the day's sink (minutes, not a Spark run's half hour) and prints the peaks and the files' hashes (the
merge's bytes must not change between versions of the code).  10 parts × 1.47 M rows and 100 parts ×
14.7 M rows are the 100 k and 1 M benchmark cities' shapes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from rss import rss_split_mb  # benchmarks/rss.py (the script's own folder)


def build(src_dir: Path, parts: int, auto_rows: int, held_rows: int, d: Path) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from quanhuiqi.push.sink import prepare_part, write_part

    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    meta = {"auto": [], "held": []}
    # held_back: one real part of held_rows rows, linked P times
    f = pq.ParquetFile(src_dir / "held_back.parquet")
    got, n = [], 0
    for b in f.iter_batches(batch_size=1 << 18):
        got.append(b)
        n += b.num_rows
        if n >= held_rows:
            break
    held = pa.Table.from_batches(got).slice(0, held_rows).to_pandas()
    hp = prepare_part("held_back", held)
    write_part(hp, d / "held-src.arrow")
    meta["held_src"] = {"rows": hp.rows, "counts": hp.counts}
    del held, hp, got
    # auto_grant: the source replicated k times (uscc's first character replaced), sampled to auto_rows,
    # scattered into P parts by a hash of the uscc, each sorted by (policy_id, uscc)
    src = pq.ParquetFile(src_dir / "auto_grant.parquet")
    x = src.metadata.num_rows
    k = math.ceil(auto_rows / x)
    keep = auto_rows / (k * x)
    tmp = d / "scatter"
    tmp.mkdir()
    writers = {}
    schema = None
    for j in range(k):
        for b in src.iter_batches(batch_size=1 << 18):
            df = b.to_pandas()
            df["uscc"] = (pd.Series("0123456789ABCDEFGH"[j], index=df.index) + df["uscc"].astype(str).str[1:])
            h = pd.util.hash_pandas_object(df["uscc"], index=False).to_numpy()
            df = df[(h % 100000) < keep * 100000]
            h = pd.util.hash_pandas_object(df["uscc"], index=False).to_numpy() // 100000 % parts
            for p in range(parts):
                t = pa.Table.from_pandas(df[h == p], preserve_index=False)
                if schema is None:
                    schema = t.schema
                if p not in writers:
                    writers[p] = pa.ipc.new_file(str(tmp / f"{p}.arrow"), schema)
                writers[p].write_table(t.cast(schema))
    for w in writers.values():
        w.close()
    total = 0
    for p in range(parts):
        with pa.memory_map(str(tmp / f"{p}.arrow")) as s:
            df = pa.ipc.open_file(s).read_all().to_pandas()
        df = df.sort_values(["policy_id", "uscc"], kind="stable")
        pp = prepare_part("auto_grant", df)
        write_part(pp, d / f"auto-{p:06d}.arrow")
        meta["auto"].append({"rows": pp.rows, "counts": pp.counts})
        total += pp.rows
    shutil.rmtree(tmp)
    meta["parts"] = parts
    (d / "meta.json").write_text(json.dumps(meta))
    print("built", parts, "parts", total, "auto rows; sizes", np.percentile([len(m["counts"]) for m in meta["auto"]], [0, 50, 100]))


def run(d: Path, skip_held: bool) -> None:
    import pyarrow as pa

    from quanhuiqi.push.outputs import DayWriter
    from quanhuiqi.push.sink import PartitionSink, PreparedPart, read_part

    meta = json.loads((d / "meta.json").read_text())
    work = Path(str(d) + "-run")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    phase = ["start"]
    peaks: dict[str, dict[str, float]] = {}
    done = threading.Event()

    def sample() -> None:
        r = rss_split_mb()
        a = pa.total_allocated_bytes() / 2**20
        p = peaks.setdefault(phase[0], {"rss": 0.0, "anon": 0.0, "file": 0.0, "arrow": 0.0, "arrow_at_rss_peak": 0.0})
        if r["rss"] > p["rss"]:
            p.update(r, arrow_at_rss_peak=a)
        p["arrow"] = max(p["arrow"], a)

    def loop() -> None:
        while not done.wait(0.1):
            sample()

    threading.Thread(target=loop, daemon=True).start()
    sample()
    t0 = time.perf_counter()
    formats = {"held_back": ("parquet",), "near_miss": ("parquet",), "auto_grant": ("parquet", "csv")}
    with DayWriter(work, "2025-07-01") as w, PartitionSink(w, formats) as sink:
        phase[0] = "held_back"
        sample()
        if not skip_held:
            for i in range(meta["parts"]):
                p = work / f"held-{i}.arrow"
                os.link(d / "held-src.arrow", p)
                sink.streams["held_back"].add_prepared(read_part(p, meta["held_src"]["rows"], meta["held_src"]["counts"]))
                os.remove(p)
        phase[0] = "auto_take"
        sample()
        for i, m in enumerate(meta["auto"]):
            p = work / f"auto-{i}.arrow"
            os.link(d / f"auto-{i:06d}.arrow", p)
            sink.streams["auto_grant"].add_prepared(PreparedPart(None, m["rows"], m["counts"]), path=p)
        phase[0] = "close"
        sample()
        out = sink.close()
        sample()
    done.set()
    phase[0] = "end"
    sample()
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    from quanhuiqi.push.outputs import sha256_file

    h = {n: sha256_file(w.staging / n)[:16] for n in ("auto_grant.parquet", "auto_grant.csv")}
    print(json.dumps({"parts": meta["parts"], "rows": out["auto_grant"]["rows"], "seconds": round(time.perf_counter() - t0, 1),
                      "cpu_s": round(ru.ru_utime + ru.ru_stime, 1), "maxrss_mb": round(ru.ru_maxrss / 1024, 1),
                      "pool": pa.default_memory_pool().backend_name, "hash": h,
                      "peaks": {k: {f: round(v, 1) for f, v in p.items()} for k, p in peaks.items()}}, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("--parts", type=int, default=10)
    ap.add_argument("--auto-rows", type=int, default=1_468_532)
    ap.add_argument("--held-rows", type=int, default=1_462_679)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--source", default=None, help="a day's out folder (build)")
    ap.add_argument("--skip-held", action="store_true")
    a = ap.parse_args()
    if a.mode == "build":
        if a.source is None:
            ap.error("build needs --source (a day's out folder: auto_grant.parquet, held_back.parquet)")
        build(Path(a.source), a.parts, a.auto_rows, a.held_rows, Path(a.dir))
    else:
        run(Path(a.dir), a.skip_held)
    sys.exit(0)
