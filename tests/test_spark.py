"""The daily job on Spark (local mode) gives byte-identical outputs to the local run on the sample city."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from quanhuiqi.push import run_daily  # noqa: E402
from quanhuiqi.spark import local_session, run_daily_spark  # noqa: E402

pytestmark = pytest.mark.spark

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"
DAY = "2025-07-01"
CONFIG = {"run": {"partitions": 3}}  # several enterprise partitions, as on a cluster


@pytest.fixture(scope="module")
def spark():
    session = local_session("local[2]", "quanhuiqi-test", **{"spark.driver.memory": "1g"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_run_equals_local_run_on_the_sample_city(spark, tmp_path):
    local = run_daily(DAY, SAMPLES, tmp_path / "local", config=CONFIG)
    remote = run_daily_spark(DAY, SAMPLES, tmp_path / "spark", config=CONFIG, spark=spark)
    names = sorted(p.name for p in local.out_dir.iterdir())
    assert names == sorted(p.name for p in remote.out_dir.iterdir())
    data = [n for n in names if not n.startswith("report.")]
    assert len(data) == 11  # six tables in Parquet, four also in CSV (outputs.csv_tables), the manifest
    for name in data:
        assert (local.out_dir / name).read_bytes() == (remote.out_dir / name).read_bytes(), name
    assert local.report["summary"]["pushed"] > 1000
    assert remote.report["summary"] == local.report["summary"]
    manifest = json.loads((remote.out_dir / "manifest.json").read_text())
    assert manifest["partitions"] == 3
    assert {"partitions", "spark.read", "spark.partitions"} - {"partitions"} <= set(remote.report["timings_s"])


def test_executors_stage_the_large_tables_and_the_staging_folder_goes(spark, tmp_path, caplog):
    """held_back / near_miss / 免申即享 come to the driver as staged files, appended one partition at a
    time and removed; a configured ``spark.staging`` folder is used and left empty."""
    import logging

    staging = tmp_path / "shared"
    config = {**CONFIG, "spark": {"staging": str(staging)}}
    with caplog.at_level(logging.INFO, logger="quanhuiqi.push"):
        run = run_daily_spark(DAY, SAMPLES, tmp_path / "spark", config=config, spark=spark)
    done = [r.getMessage() for r in caplog.records if "stage=spark.partitions" in r.getMessage()
            and "event=stage_done" in r.getMessage()]
    assert done and "staged_parts=9" in done[-1]  # 3 partitions × 3 streamed tables
    rows = int(done[-1].split("staged_rows=")[1].split()[0])
    s = run.report["summary"]
    assert rows == s["held_back"] + s["near_misses"] + s["auto_grants"]
    assert staging.is_dir() and not any(staging.iterdir())
    assert not [p for p in (tmp_path / "spark").rglob("*") if ".spark-staging" in p.name]
