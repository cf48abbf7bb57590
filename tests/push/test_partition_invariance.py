"""The day's answer does not depend on how the city is partitioned (issue 15).

Runs with 1, 3 and 10 enterprise partitions give byte-identical push lists, 免申即享 lists, supply–demand
pairs and rejects, the same report (apart from timings and the partition count it records), and the same
held-back pairs and near misses (those two files are grouped by partition, so only their rows are
compared) — on data_samples and on a generated city, with the rule scorer and with a registered LightGBM
ranker that carries per-enterprise effects.  Spark (local[2]) is compared in tests/test_spark.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.push import run_daily

sys.path.insert(0, str(Path(__file__).parent))
from day_compare import assert_same_day  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = "2025-07-01"
@pytest.fixture(scope="module")
def registered_model(mlflow_store_template, tmp_path_factory):
    """A ranker trained on data_samples (with its per-enterprise effects) in a real SQLite registry."""
    from quanhuiqi.rank import load_ranker
    from quanhuiqi.rank.train import train_ranker_cli

    folder = tmp_path_factory.mktemp("mlflow")
    shutil.copyfile(mlflow_store_template, folder / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        mp.chdir(folder)
        train_ranker_cli(SAMPLES, register="policy-ranker", alias="champion", threads=1,
                         params={"num_leaves": 15, "max_depth": 5})  # cheap reasons (docs/push.md)
        assert load_ranker("policy-ranker@champion").firm_effect_weight > 0
        yield "policy-ranker@champion"


@pytest.fixture(scope="module")
def generated_city(tmp_path_factory) -> Path:
    from quanhuiqi.synth import generate_city

    city = tmp_path_factory.mktemp("generated") / "city"
    generate_city(city, n_enterprises=900, seed=11, as_of=DAY, history_days=40)
    shutil.rmtree(city / "truth")  # the job never reads it
    return city


@pytest.mark.parametrize("where", ["data_samples", "generated"])
def test_partition_count_does_not_change_the_day_with_the_rule_scorer(where, generated_city, tmp_path):
    city = SAMPLES if where == "data_samples" else generated_city
    runs = {k: run_daily(DAY, city, tmp_path / str(k), config={"run": {"partitions": k}}) for k in (1, 3, 10)}
    assert runs[1].report["summary"]["pushed"] > 100 and runs[1].report["summary"]["auto_grants"] > 10
    for k in (3, 10):
        assert runs[k].report["summary"]["partitions"] == k
        assert_same_day(runs[1].out_dir, runs[k].out_dir)


@pytest.mark.parametrize("where", ["data_samples", "generated"])
def test_partition_count_does_not_change_the_day_with_a_registered_model(where, generated_city, registered_model,
                                                                         tmp_path):
    city = SAMPLES if where == "data_samples" else generated_city
    runs = {k: run_daily(DAY, city, tmp_path / str(k), model=registered_model, config={"run": {"partitions": k}})
            for k in (1, 10)}
    assert runs[1].report["model"]["used"] == registered_model and not runs[1].report["model"]["fallback"]
    assert "贵企以往对同类政策反馈积极" in " ".join(pd.read_parquet(runs[1].files["push_list"])["reason"].fillna(""))
    assert_same_day(runs[1].out_dir, runs[10].out_dir)
