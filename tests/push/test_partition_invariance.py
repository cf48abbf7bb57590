"""The day's answer does not depend on how the city is partitioned (issue 15).

Runs with 1, 3 and 10 enterprise partitions give byte-identical push lists, 免申即享 lists, supply–demand
pairs and rejects, the same report (apart from timings and the partition count it records), and the same
held-back pairs and near misses (those two files are grouped by partition, so only their rows are
compared) — on data_samples and on a generated city, with the rule scorer and with a registered LightGBM
ranker that carries per-enterprise effects.  Spark (local[2]) is compared in tests/test_spark.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.push import run_daily

sys.path.insert(0, str(Path(__file__).parent))
from day_compare import assert_same_day  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = "2025-07-01"


@pytest.mark.parametrize("where", ["data_samples", "generated"])
def test_partition_count_does_not_change_the_day_with_the_rule_scorer(where, whole_city_day,
                                                                       small_generated_city, tmp_path):
    city = SAMPLES if where == "data_samples" else small_generated_city
    whole = whole_city_day(where)
    assert whole.report["summary"]["pushed"] > 100 and whole.report["summary"]["auto_grants"] > 10
    for k in (3, 10):
        run = run_daily(DAY, city, tmp_path / str(k), config={"run": {"partitions": k}})
        assert run.report["summary"]["partitions"] == k
        assert_same_day(whole.out_dir, run.out_dir)


@pytest.mark.parametrize("where", ["data_samples", "generated"])
def test_partition_count_does_not_change_the_day_with_a_registered_model(where, whole_city_day, small_generated_city,
                                                                         registered_sample_ranker, tmp_path,
                                                                         monkeypatch):
    city = SAMPLES if where == "data_samples" else small_generated_city
    uri, name = registered_sample_ranker
    whole = whole_city_day(where, model=True)
    assert whole.report["model"]["used"] == name and not whole.report["model"]["fallback"]
    assert "贵企以往对同类政策反馈积极" in " ".join(pd.read_parquet(whole.files["push_list"])["reason"].fillna(""))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run = run_daily(DAY, city, tmp_path / "10", model=name, config={"run": {"partitions": 10}})
    assert_same_day(whole.out_dir, run.out_dir)
