"""Benchmark: the pairs file written again with other Parquet codecs and encodings — the writer's thread time and
the file's size for each, against the options ``quanhuiqi eligibility`` uses (``stream.WRITER_OPTIONS``).

The writer's own thread is half of the command's floor at 1M × 2,000 (``benchmarks/eligibility_stages.py``), so
the question is whether another codec or encoding takes it down without making the file much larger. The script
reads a pairs file the command wrote (every ``--every``-th row group, text columns as the dictionaries the command
builds) into memory, then writes it once per option set and round, timing the calling thread:

    .venv/bin/python benchmarks/eligibility_writer_options.py --pairs /tmp/qhq_e2e_100k/pairs_ours.parquet --repeat 3
    flock /tmp/qhq_bigmem.lock .venv/bin/python benchmarks/eligibility_writer_options.py \\
        --pairs /tmp/qhq_e2e_1m/pairs_ours.parquet --every 8 --repeat 2

(``benchmarks/eligibility_end_to_end.py`` leaves ``pairs_ours.parquet`` in its ``--work`` folder.) Results go to
``benchmarks/results/eligibility_writer_options_<name>.json`` with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from quanhuiqi.process import batch_settings  # noqa: E402

batch_settings()  # the command's allocator settings: set before Arrow loads (the next imports load it)
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from eligibility_end_to_end import ROOT, _commit  # noqa: E402  (the script's own folder)

from quanhuiqi.eligibility.stream import SCHEMA, WRITER_OPTIONS  # noqa: E402

TEXT = [f.name for f in SCHEMA if pa.types.is_dictionary(f.type)]


def _codecs(**per_column: str) -> dict:
    """The command's codec on every column but the ones named."""
    return {"compression": {f.name: per_column.get(f.name, WRITER_OPTIONS["compression"]) for f in SCHEMA}}


# Each variant: what it changes from the command's options.
VARIANTS = {
    "command": {},
    "no compression": {"compression": "none"},
    "snappy": {"compression": "snappy"},
    "zstd 1": {"compression": "zstd", "compression_level": 1},
    "uscc uncompressed": _codecs(uscc="none"),
    "uscc and amounts uncompressed": _codecs(uscc="none", amount="none", amount_max="none"),
    "uscc delta byte array": {"column_encoding": {"uscc": "DELTA_BYTE_ARRAY"}},
    "uscc delta byte array uncompressed": {**_codecs(uscc="none"), "column_encoding": {"uscc": "DELTA_BYTE_ARRAY"}},
    "uscc delta length uncompressed": {**_codecs(uscc="none"),
                                       "column_encoding": {"uscc": "DELTA_LENGTH_BYTE_ARRAY"}},
    "data page v2": {"data_page_version": "2.0"},
    "8 MB data pages": {"data_page_size": 8 << 20},
}


def read_batches(path: Path, every: int) -> list[pa.RecordBatch]:
    """Every ``every``-th row group of a pairs file, each one batch with the command's schema (text columns as
    dictionaries, as the command hands them to the writer)."""
    f = pq.ParquetFile(path, read_dictionary=TEXT)
    out = []
    for i in range(0, f.metadata.num_row_groups, every):
        t = f.read_row_group(i)
        t = t.cast(pa.schema([SCHEMA.field(n) for n in t.column_names]))
        out.append(t.combine_chunks().to_batches()[0])
    return out


def write(batches: list[pa.RecordBatch], out: Path, options: dict) -> dict:
    """One write of all batches (a row group each, as the command writes): the calling thread's CPU, wall, size."""
    c, w = time.thread_time(), time.perf_counter()
    with pq.ParquetWriter(out, SCHEMA, **{**WRITER_OPTIONS, **options}) as writer:
        for b in batches:
            writer.write_batch(b, row_group_size=b.num_rows)
    return {"thread_cpu_s": round(time.thread_time() - c, 3), "wall_s": round(time.perf_counter() - w, 3),
            "bytes": out.stat().st_size}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=Path, required=True, help="a pairs file quanhuiqi eligibility wrote")
    ap.add_argument("--every", type=int, default=1, help="take every k-th row group (memory: a 1M × 2,000 file "
                                                           "holds about 10 GB of distinct text)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS), metavar="VARIANT")
    ap.add_argument("--name", default=None, help="result name (default: the pairs file's folder name)")
    a = ap.parse_args()
    batches = read_batches(a.pairs, a.every)
    rows = sum(b.num_rows for b in batches)
    text = sum(b.column(n).dictionary.nbytes for b in batches for n in TEXT)
    print(f"{rows:,} pairs in {len(batches)} row groups, {text / 1e9:.2f} GB of distinct text", flush=True)
    out = a.pairs.with_name("pairs_writer_options.parquet")
    runs: dict[str, list[dict]] = {v: [] for v in a.variants}
    try:
        for k in range(a.repeat):
            for v in a.variants:  # interleaved, so a slow spell of the machine falls on all of them
                r = write(batches, out, VARIANTS[v])
                r["load_1min"] = os.getloadavg()[0]
                runs[v].append(r)
                print(f"round {k + 1} {v}: {r['thread_cpu_s']:.2f} thread CPU s, {r['wall_s']:.2f} s wall, "
                      f"{r['bytes'] / 1e6:.0f} MB (load {r['load_1min']:.2f})", flush=True)
    finally:
        out.unlink(missing_ok=True)
    base = min(r["thread_cpu_s"] for r in runs.get("command", [])) if "command" in runs else None
    summary = {}
    for v, rs in runs.items():
        best = min(r["thread_cpu_s"] for r in rs)
        summary[v] = {"best_thread_cpu_s": best, "bytes": rs[-1]["bytes"],
                      "cpu_vs_command": round(best / base, 3) if base else None}
    result = {"pairs_file": a.pairs.name, "rows": rows, "row_groups": len(batches), "every": a.every,
              "distinct_text_bytes": text, "options": {v: repr(VARIANTS[v]) for v in a.variants},
              "summary": summary, "runs": runs,
              "command": "benchmarks/eligibility_writer_options.py " + " ".join(sys.argv[1:]), "code": _commit()}
    name = a.name or a.pairs.parent.name
    (ROOT / "benchmarks" / "results" / f"eligibility_writer_options_{name}.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
