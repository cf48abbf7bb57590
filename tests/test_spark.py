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
