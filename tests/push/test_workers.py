"""The local day on several worker processes (``run.workers``) writes the same day, byte for byte.

Every data file (push list, 免申即享, near misses, held back, supply–demand pairs, rejects, appeals) is
byte-identical to the one-process run's with the same partitions, on data_samples and on a generated city
whose partitions are cut into enterprise batches; the report is the same apart from timings and the worker
count it records.  A bad worker count is refused by name; a run killed in the middle leaves the previous
outputs in place and the next run replaces them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quanhuiqi.push import run_daily
from quanhuiqi.tables.io import InputError

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = "2025-07-01"
REPORTS = {"report.json", "report.html", "manifest.json"}


def _data_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and p.name not in REPORTS}


def _report(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    for key in ("timings_s", "cpu_s"):
        report.pop(key)
    report["config"]["run"].pop("workers")
    return report


@pytest.mark.parametrize("where", ["data_samples", "generated"])
def test_two_workers_write_the_same_day_as_one_process(where, small_generated_city, tmp_path):
    city = SAMPLES if where == "data_samples" else small_generated_city
    run = {"partitions": 3, "batch_size": 0 if where == "data_samples" else 120}  # generated: 2–3 batches a partition
    one = run_daily(DAY, city, tmp_path / "one", config={"run": run})
    two = run_daily(DAY, city, tmp_path / "two", config={"run": run}, workers=2)
    assert two.report["config"]["run"]["workers"] == 2 and one.report["config"]["run"]["workers"] == 1
    assert one.report["summary"]["pushed"] > 100 and one.report["summary"]["postings_pairs"] > 0
    a, b = _data_files(one.out_dir), _data_files(two.out_dir)
    assert set(a) == set(b) and {"held_back.parquet", "near_miss.parquet", "postings_pairs.parquet"} <= set(a)
    for name in a:
        assert a[name] == b[name], name
    assert _report(one.out_dir) == _report(two.out_dir)
    assert two.report["timings_s"]["postings"] > 0  # the matching ran in a worker and was timed there
    assert not [p for p in tmp_path.joinpath("two").iterdir() if p.name.startswith(".staging")]


def test_the_worker_count_is_checked(tmp_path):
    with pytest.raises(InputError, match=r"run\.workers must be >= 1, got 0"):
        run_daily(DAY, SAMPLES, tmp_path, config={"run": {"workers": 0}})
    with pytest.raises(InputError, match="workers must be >= 1, got -1"):
        run_daily(DAY, SAMPLES, tmp_path, workers=-1)
    cli = [sys.executable, "-m", "quanhuiqi.cli", "push", "--date", DAY, "--data", str(SAMPLES), "--out", str(tmp_path)]
    done = subprocess.run([*cli, "--workers", "0"], capture_output=True, text=True)
    assert done.returncode != 0 and "--workers must be >= 1, got 0" in done.stderr
    done = subprocess.run([*cli, "--workers", "2", "--engine", "spark"], capture_output=True, text=True)
    assert done.returncode != 0 and "--workers is for --engine local" in done.stderr


def test_a_run_killed_among_its_workers_leaves_the_previous_day_and_the_next_run_replaces_it(tmp_path):
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "quanhuiqi.cli", "push", "--date", DAY, "--data", str(SAMPLES), "--out", str(out),
           "--workers", "2"]
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    first = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    before = _data_files(out / DAY)
    killed = subprocess.run(cli, capture_output=True, text=True, env=dict(env, QUANHUIQI_TEST_CRASH_AFTER="partition"),
                            timeout=300)
    assert killed.returncode == -9
    assert _data_files(out / DAY) == before  # the published day is untouched
    again = subprocess.run(cli, capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _data_files(out / DAY) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]  # the dead run's staging is gone
