"""Compare two runs of the same day made with different partition counts (or locally and on Spark).

    .venv/bin/python benchmarks/compare_days.py OUT_A/2025-07-01 OUT_B/2025-07-01 [--result-name NAME]

The push list, the 免申即享 list, the supply–demand pairs and the rejects must be byte-identical (their
sha256 in the manifests); ``held_back`` and ``near_miss`` are grouped by partition, so their rows are
compared as multisets: an order-independent hash (the sum of every row's 64-bit hash, modulo 2^64) and
the row count, read one row group at a time (a city's 146 M held-back pairs never sit in memory).  The
reports must agree apart from timings and the partition count.  Prints the comparison as JSON and, with
``--result-name``, writes it to ``benchmarks/results/compare_days_<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BYTE_IDENTICAL = ("push_list", "auto_grant", "postings_pairs", "rejects")
GROUPED = ("held_back", "near_miss")


def multiset_hash(path: Path) -> tuple[int, int]:
    """(rows, Σ row hashes mod 2^64) of a Parquet file, one row group at a time."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    total, rows = np.uint64(0), 0
    files = sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]  # a Spark run's parts
    groups = [(f, g) for f in map(pq.ParquetFile, files) for g in range(f.metadata.num_row_groups)]
    for pf, g in groups:
        frame = pf.read_row_group(g).to_pandas()
        for c in frame.columns:  # dictionary-encoded text and plain text hash alike
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                frame[c] = frame[c].astype("string")
        h = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
        with np.errstate(over="ignore"):
            total = np.uint64(total + h.sum(dtype=np.uint64))
        rows += len(frame)
    return rows, int(total)


def report_without_run_details(path: Path) -> dict:
    r = json.loads((path / "report.json").read_text())
    r.pop("timings_s", None)
    r["summary"].pop("partitions", None)
    r["config"]["run"].pop("partitions", None)
    r["config"]["run"].pop("partition_size", None)
    r["config"].pop("spark", None)
    return r


def compare(a: Path, b: Path) -> dict:
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    out: dict = {"a": str(a), "b": str(b), "partitions": [ma["partitions"], mb["partitions"]], "files": {}}
    for name, sha in ma["outputs"].items():
        if name.split(".")[0] in BYTE_IDENTICAL and name in mb["outputs"]:
            out["files"][name] = {"byte_identical": sha == mb["outputs"].get(name)}
    for table in BYTE_IDENTICAL:  # written as parts by a Spark run in either day: the same rows
        if f"{table}.parquet" not in ma["outputs"] or f"{table}.parquet" not in mb["outputs"]:
            ha, hb = multiset_hash(a / f"{table}.parquet"), multiset_hash(b / f"{table}.parquet")
            out["files"][f"{table}.parquet"] = {"rows": [ha[0], hb[0]], "same_rows": ha == hb}
    for name in GROUPED:
        ha, hb = multiset_hash(a / f"{name}.parquet"), multiset_hash(b / f"{name}.parquet")
        out["files"][f"{name}.parquet"] = {"rows": [ha[0], hb[0]], "same_rows": ha == hb}
    out["report_equal_apart_from_timings_and_partitions"] = (report_without_run_details(a)
                                                             == report_without_run_details(b))
    out["identical"] = all(v.get("byte_identical", v.get("same_rows")) for v in out["files"].values()) \
        and out["report_equal_apart_from_timings_and_partitions"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--result-name", default=None)
    args = ap.parse_args()
    result = compare(args.a, args.b)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.result_name:
        (ROOT / "benchmarks" / "results" / f"compare_days_{args.result_name}.json").write_text(
            json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
