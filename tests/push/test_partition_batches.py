"""A partition larger than ``run.batch_size`` is worked in enterprise batches (uscc ranges) and gives the
same day as the whole city in one piece: byte-identical push list, 免申即享 list, supply–demand pairs and
rejects, the same report, and — the partition being the same — the same held-back pairs and near misses
in the same order (only their Parquet row groups are cut per batch)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.push import run_daily
from quanhuiqi.push.partition import BatchInput, batch_of, enterprise_batches

sys.path.insert(0, str(Path(__file__).parent))
from day_compare import assert_same_day  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = "2025-07-01"


def _assert_same_order(a: Path, b: Path) -> None:
    for name in ("held_back", "near_miss"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet"),
                                      check_exact=True, obj=name)


@pytest.mark.parametrize(("where", "model"), [("generated", False), ("generated", True)])
def test_batches_of_a_partition_give_the_day_of_the_whole_partition(where, model, whole_city_day, small_generated_city,
                                                                    registered_sample_ranker, tmp_path, monkeypatch):
    city = SAMPLES if where == "data_samples" else small_generated_city
    whole = whole_city_day(where, model=model)
    name = None
    if model:
        uri, name = registered_sample_ranker
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    clean = whole.report["summary"]["enterprises_clean"]
    size = max(7, clean // 6)  # six or seven batches, the last a short one
    run = run_daily(DAY, city, tmp_path / "batched", model=name, config={"run": {"partitions": 1, "batch_size": size}})
    import pyarrow.parquet as pq

    groups = pq.ParquetFile(run.out_dir / "held_back.parquet").metadata.num_row_groups
    assert groups == int(clean / size + 0.5) > 1  # one row group per batch: the batches really ran
    assert_same_day(whole.out_dir, run.out_dir)
    _assert_same_order(whole.out_dir, run.out_dir)


def test_every_state_row_goes_with_its_enterprise_and_batches_are_uscc_ranges():
    from quanhuiqi.tables.facts import FactTables

    rng = np.random.default_rng(3)
    codes = pd.Series([f"91370100{int(x):09d}X" for x in rng.choice(10**9, 53, replace=False)], dtype="string")
    clean = pd.DataFrame({"uscc": codes.sample(frac=1, random_state=1).reset_index(drop=True), "name": "企业"})
    # state rows of known enterprises, and of codes no clean enterprise has (counted all the same)
    history = pd.DataFrame({"uscc": pd.concat([codes.sample(200, replace=True, random_state=2),
                                                pd.Series(["00000000000000000X", "ZZZZZZZZZZZZZZZZZZ"], dtype="string")],
                                               ignore_index=True), "policy_id": "P1"})
    facts = FactTables(certificates=pd.DataFrame({"uscc": codes.sample(30, random_state=4).reset_index(drop=True),
                                                  "kind": "高新技术企业"}))
    batches = list(enterprise_batches(BatchInput(clean, history, suppressions=history.iloc[:0], facts=facts), 10))
    assert [len(b.clean) for b in batches] == [10, 11, 10, 11, 11]  # round(53 / 10) batches of equal size
    assert sum(len(b.history) for b in batches) == len(history)
    assert sum(len(b.facts.certificates) for b in batches) == 30 and all(b.grants is None for b in batches)
    last = ""
    for b in batches:
        in_batch = set(b.clean["uscc"])
        assert b.clean["uscc"].min() > last  # ranges in uscc order
        last = b.clean["uscc"].max()
        assert set(b.facts.certificates["uscc"]) <= in_batch
        known = b.history["uscc"].isin(set(codes))
        assert set(b.history.loc[known, "uscc"]) <= in_batch
        assert len(b.suppressions) == 0 and list(b.suppressions.columns) == ["uscc", "policy_id"]
    # the enterprises keep their order within a batch; a partition that fits is handed over as it is
    order = {u: i for i, u in enumerate(clean["uscc"])}
    assert all(np.all(np.diff([order[u] for u in b.clean["uscc"]]) > 0) for b in batches)
    # a partition up to 1.5 batches stays whole (hash partitions of the shipped size vary by a few per cent)
    assert [len(b.clean) for b in enterprise_batches(BatchInput(clean), 36)] == [53]
    assert [len(b.clean) for b in enterprise_batches(BatchInput(clean), 35)] == [26, 27]
    (one,) = enterprise_batches(BatchInput(clean, history), 53)
    assert one.clean is clean and one.history is history
    assert batch_of(pd.Series([None, codes[0]], dtype="string"), np.empty(0, dtype=object)).tolist() == [0, 0]
