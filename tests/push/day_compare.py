"""Comparing two runs of a day made with different partition counts (shared by the push and Spark tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

BYTE_IDENTICAL = ["push_list.parquet", "push_list.csv", "auto_grant.parquet", "auto_grant.csv",
                  "postings_pairs.parquet", "postings_pairs.csv", "rejects.parquet", "rejects.csv"]
GROUPED_BY_PARTITION = {"held_back": ["uscc", "policy_id", "rule"], "near_miss": ["uscc", "policy_id"]}


def _report(path: Path) -> dict:
    report = json.loads((path / "report.json").read_text())
    report.pop("timings_s")
    report.pop("cpu_s", None)  # CPU seconds per stage: timings too
    report["summary"].pop("partitions")
    report["config"]["run"].pop("partitions")
    report["config"]["run"].pop("batch_size")  # how a partition is worked: never the answer
    report["config"].pop("spark")  # where a Spark run stages and how it cuts its tasks: never the answer
    return report


def _manifest(path: Path, parted: set[str]) -> dict:
    manifest = json.loads((path / "manifest.json").read_text())
    for key in ("partitions", "config_sha256"):
        manifest.pop(key)
    for name in GROUPED_BY_PARTITION:
        manifest["outputs"].pop(f"{name}.parquet")
    for key in list(manifest["outputs"]):  # a table written as parts (Spark) is compared by its rows
        if key.split("/")[0] in parted:
            manifest["outputs"].pop(key)
    return manifest


def parts(path: Path) -> list[Path]:
    """A table's files in order: the file itself, or a Spark run's ``part-NNNNN`` files."""
    return sorted(path.glob("part-*")) if path.is_dir() else [path]


def read_parts(path: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in parts(path)], ignore_index=True)


def assert_same_table(a: Path, b: Path) -> None:
    """One output table of two runs: byte-identical files, or — when one run wrote it as parts — the same
    bytes laid end to end (the supply–demand pairs, cut in their own order) or, for the push list (parts
    by enterprise partition), the same rows once sorted by ``uscc, rank``: every CSV line the same."""
    if a.is_file() and b.is_file():
        assert a.read_bytes() == b.read_bytes(), a.name
        return
    push = a.name.startswith("push_list")
    if a.suffix == ".csv":
        texts = [[p.read_text(encoding="utf-8") for p in parts(x)] for x in (a, b)]
        heads = {t.split("\n", 1)[0] for ts in texts for t in ts}
        assert len(heads) == 1, a.name
        bodies = [[line for t in ts for line in t.split("\n")[1:] if line] for ts in texts]
        if push:
            bodies = [sorted(x) for x in bodies]
        assert bodies[0] == bodies[1], a.name
        return
    x, y = read_parts(a), read_parts(b)
    if push:
        x, y = (f.sort_values(["uscc", "rank"], kind="stable").reset_index(drop=True) for f in (x, y))
    pd.testing.assert_frame_equal(x, y, check_exact=True, obj=a.name)


def assert_same_day(a: Path, b: Path) -> None:
    """Two runs of a day with different partition counts agree: byte-identical push list, 免申即享 list,
    supply–demand pairs and rejects (a table a Spark run wrote as parts: see ``assert_same_table``); the same held-back pairs and near misses (files grouped by partition,
    so their rows are compared); the same report and manifest apart from timings, the partition count and
    the hashes of the two partition-grouped files."""
    for name in BYTE_IDENTICAL:
        assert_same_table(a / name, b / name)
    parted = {n for n in BYTE_IDENTICAL if (a / n).is_dir() or (b / n).is_dir()}
    for name, keys in GROUPED_BY_PARTITION.items():
        x, y = (pd.read_parquet(d / f"{name}.parquet").sort_values(keys).reset_index(drop=True) for d in (a, b))
        pd.testing.assert_frame_equal(x, y, obj=name)
    assert _report(a) == _report(b)
    assert _manifest(a, parted) == _manifest(b, parted)
