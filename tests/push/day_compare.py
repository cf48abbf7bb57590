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
    report["summary"].pop("partitions")
    report["config"]["run"].pop("partitions")
    return report


def _manifest(path: Path) -> dict:
    manifest = json.loads((path / "manifest.json").read_text())
    for key in ("partitions", "config_sha256"):
        manifest.pop(key)
    for name in GROUPED_BY_PARTITION:
        manifest["outputs"].pop(f"{name}.parquet")
    return manifest


def assert_same_day(a: Path, b: Path) -> None:
    """Two runs of a day with different partition counts agree: byte-identical push list, 免申即享 list,
    supply–demand pairs and rejects; the same held-back pairs and near misses (files grouped by partition,
    so their rows are compared); the same report and manifest apart from timings, the partition count and
    the hashes of the two partition-grouped files."""
    for name in BYTE_IDENTICAL:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name, keys in GROUPED_BY_PARTITION.items():
        x, y = (pd.read_parquet(d / f"{name}.parquet").sort_values(keys).reset_index(drop=True) for d in (a, b))
        pd.testing.assert_frame_equal(x, y, obj=name)
    assert _report(a) == _report(b)
    assert _manifest(a) == _manifest(b)
