"""The daily job on Spark (local mode) gives the local run's outputs on the sample city and a generated city:
byte-identical files, and the tables the executors write as parts (the push list, the supply–demand pairs)
with the same rows (tests/push/day_compare.py says how each is compared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

import sys  # noqa: E402

from quanhuiqi.push import run_daily  # noqa: E402
from quanhuiqi.push.outputs import sha256_file  # noqa: E402
from quanhuiqi.spark import local_session, run_daily_spark  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "push"))
from day_compare import assert_same_day, assert_same_table, parts  # noqa: E402

pytestmark = pytest.mark.spark

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"
DAY = "2025-07-01"
# several enterprise partitions and supply–demand ranges (data_samples: 907 open demands), as on a cluster
CONFIG = {"run": {"partitions": 3}, "spark": {"demands_per_task": 300}}


@pytest.fixture(scope="module")
def spark():
    session = local_session("local[2]", "quanhuiqi-test", **{"spark.driver.memory": "1g"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_run_equals_local_run_on_the_sample_city(spark, tmp_path, whole_city_day):
    """Byte-identical to the local run with the same partitions, and (issue 15) the same day as the
    local run with one partition: the ranking reads the city's statistics, whatever the split."""
    local = run_daily(DAY, SAMPLES, tmp_path / "local", config=CONFIG)
    remote = run_daily_spark(DAY, SAMPLES, tmp_path / "spark", config=CONFIG, spark=spark)
    assert_same_day(whole_city_day("data_samples").out_dir, remote.out_dir)
    names = sorted(p.name for p in local.out_dir.iterdir())
    assert names == sorted(p.name for p in remote.out_dir.iterdir())
    data = [n for n in names if not n.startswith("report.")]
    # six push tables in Parquet (four also in CSV, outputs.csv_tables), four appeals tables in both
    # (data_samples has appeals.csv), the manifest
    assert len(data) == 19
    assert sum(n.startswith("appeals_") for n in data) == 8
    written_as_parts = {n for n in data if (remote.out_dir / n).is_dir()}
    assert written_as_parts == {"push_list.parquet", "push_list.csv", "postings_pairs.parquet", "postings_pairs.csv"}
    assert len(parts(remote.out_dir / "push_list.parquet")) == 3  # one per enterprise partition
    assert len(parts(remote.out_dir / "postings_pairs.parquet")) == 4  # 907 demands, 300 per task
    for name in data:
        if name != "manifest.json":
            assert_same_table(local.out_dir / name, remote.out_dir / name)
    assert local.report["summary"]["pushed"] > 1000
    for key in ("summary", "push", "changes_vs_previous", "readiness", "inputs", "outputs"):  # summed from counts
        assert remote.report[key] == local.report[key], key
    manifest = json.loads((remote.out_dir / "manifest.json").read_text())
    local_manifest = json.loads((local.out_dir / "manifest.json").read_text())
    assert manifest["partitions"] == 3
    for f in [p for p in remote.out_dir.rglob("*") if p.is_file() and not p.name.startswith(("manifest", "report."))]:
        assert manifest["outputs"][f.relative_to(remote.out_dir).as_posix()] == sha256_file(f)  # every part listed
    for m in (manifest, local_manifest):
        m["outputs"] = {k: v for k, v in m["outputs"].items() if k.split("/")[0] not in written_as_parts}
    assert manifest == local_manifest
    assert {"partitions", "spark.read", "spark.partitions"} - {"partitions"} <= set(remote.report["timings_s"])
    # CPU per stage: the partitions' measured where they ran (this process locally, the workers on Spark), and
    # what only Spark does apart (the tables' conversion from Arrow, each worker's start)
    stages = {"partitions.profile", "partitions.eligibility", "partitions.rank", "partitions.evidence"}
    assert stages <= set(local.report["cpu_s"]) and stages <= set(remote.report["cpu_s"])
    assert {"partitions.spark.tables", "partitions.spark.worker_start", "postings.match"} <= set(remote.report["cpu_s"])
    assert all(v >= 0 for v in remote.report["cpu_s"].values())


def test_the_workers_fork_from_the_librarys_daemon(spark):
    """``local_session`` starts the Python workers from ``quanhuiqi.spark.daemon``: the library imported once,
    before the fork (its imported heap frozen out of the collector), and the batch process settings (the
    collector's from the daemon, Arrow's allocator's through the executors' environment)."""
    import gc
    import os

    got = spark.sparkContext.parallelize([0], 1).map(lambda _: (
        "quanhuiqi.push.partition" in sys.modules, gc.get_freeze_count() > 0, gc.get_threshold()[0],
        os.environ.get("MIMALLOC_ALLOW_THP"))).collect()
    assert got == [(True, True, 50_000, "0")]


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
    assert not [p for p in (tmp_path / "spark").rglob("*") if p.name.startswith(".staging-")]


def test_a_staging_folder_left_by_a_dead_run_is_removed_by_the_next_run(spark, tmp_path):
    out = tmp_path / "spark"
    dead = out / f".staging-{DAY}-spark-0123abcd"  # as a killed Spark run leaves it
    dead.mkdir(parents=True)
    (dead / "held_back-000001.arrow").write_bytes(b"partial")
    run_daily_spark(DAY, SAMPLES, out, config=CONFIG, spark=spark)
    assert not dead.exists()


def test_extra_enterprise_sources_on_spark_equal_the_local_run(spark, tmp_path):
    """``paths.extra`` on Spark: the facts merge in the enterprise's own partition; rejects (with their
    rows in the whole file) and every output equal the local run's."""
    import shutil

    import pandas as pd

    city = tmp_path / "data"
    shutil.copytree(SAMPLES, city, ignore=shutil.ignore_patterns("truth"))
    ent = pd.read_csv(city / "enterprises.csv", dtype=str, keep_default_na=False).head(1500)
    moved = ["ip_count", "innovation_score"]
    extra = pd.concat([ent[["uscc", *moved]],
                       pd.DataFrame({"uscc": [ent["uscc"].iloc[3], "bad", ""], "ip_count": ["9", "1", "2"],
                                     "innovation_score": ["1", "2", "3"]})], ignore_index=True)
    (city / "extra").mkdir()
    extra.to_csv(city / "extra" / "facts.csv", index=False)
    ent.drop(columns=moved).to_csv(city / "enterprises.csv", index=False)
    config = {**CONFIG, "paths": {"extra": ["extra/facts.csv"]}}
    local = run_daily(DAY, city, tmp_path / "local", config=config)
    remote = run_daily_spark(DAY, city, tmp_path / "spark", config=config, spark=spark)
    for path in sorted(local.out_dir.iterdir()):
        if not path.name.startswith(("report.", "manifest")):
            assert_same_table(path, remote.out_dir / path.name)
    rejects = pd.read_parquet(remote.out_dir / "rejects.parquet")
    assert (rejects["source"] == "extra[0] extra/facts.csv").sum() >= 3
    assert remote.report["inputs"]["extra[0]"] == local.report["inputs"]["extra[0]"]


def test_an_extra_source_clashing_with_the_enterprise_table_is_refused_before_spark_runs(spark, tmp_path):
    import shutil

    from quanhuiqi.tables.io import InputError

    city = tmp_path / "data"
    shutil.copytree(SAMPLES, city, ignore=shutil.ignore_patterns("truth"))
    (city / "extra.csv").write_text("uscc,revenue\n913701761244222133,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"extra\[0\] extra.csv: column\(s\) \['revenue'\] already exist"):
        run_daily_spark(DAY, city, tmp_path / "spark", config={**CONFIG, "paths": {"extra": ["extra.csv"]}},
                        spark=spark)


def test_a_registered_ranker_with_firm_effects_ranks_alike_on_spark(spark, tmp_path, registered_sample_ranker,
                                                                     whole_city_day, monkeypatch):
    """The scorer (booster, builder with firm_effect_tau, weight) and the city's statistics travel to the
    executors; each partition fits the firm effects on its own history against the city's offsets: the
    same day as the local run over the whole city in one partition."""
    uri, name = registered_sample_ranker
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    remote = run_daily_spark(DAY, SAMPLES, tmp_path / "spark", model=name, config=CONFIG, spark=spark)
    assert remote.report["model"]["used"] == name and not remote.report["model"]["fallback"]
    assert_same_day(whole_city_day("data_samples", model=True).out_dir, remote.out_dir)

@pytest.mark.parametrize("model", [False, True], ids=["rule", "model"])
def test_spark_gives_the_whole_citys_day_on_a_generated_city(spark, tmp_path, model, small_generated_city,
                                                             registered_sample_ranker, whole_city_day, monkeypatch):
    """Issue 15 on a second city: Spark local[2] with 3 partitions gives the same day as one local partition,
    with the rule scorer and with the registered ranker."""
    uri, name = registered_sample_ranker
    if model:  # only then: the report names the registry's appeals model (none), so both runs read the same store
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    remote = run_daily_spark(DAY, small_generated_city, tmp_path / "spark", model=name if model else None,
                             config=CONFIG, spark=spark)
    assert remote.report["summary"]["pushed"] > 100 and remote.report["summary"]["partitions"] == 3
    assert_same_day(whole_city_day("generated", model=model).out_dir, remote.out_dir)


def test_spark_reads_gbk_and_bom_csv_as_the_local_reader_does(spark, tmp_path):
    """Spark's CSV reader is told the charset the driver checked: GBK bytes (multi-line quoted cells too) and a
    UTF-8 BOM give the local reader's cells; the encoding is reported; a Big5 file is refused by name."""
    from quanhuiqi.spark import _read
    from quanhuiqi.tables import InputError, read_table

    lines = (SAMPLES / "enterprises.csv").read_bytes().decode("utf-8-sig").splitlines(keepends=True)[:61]
    text = "".join(lines) + '91370100MA0000001X,"济南甲,乙\n有限公司",存续\n'
    for codec, prefix, reported in (("gbk", b"", "gb18030"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig")):
        p = tmp_path / f"{codec}.csv"
        p.write_bytes(prefix + text.encode(codec))
        rep: dict = {}
        got = _read(spark, p, "enterprises", 2, None, rep, tmp_path / "staging").toPandas().sort_values("_row")
        assert rep == {"encoding": reported}
        want = read_table(p)
        for col in ("uscc", "name", "status"):
            assert got[f"enterprises__{col}"].fillna("").tolist() == want[col].fillna("").tolist(), (codec, col)
    big5 = tmp_path / "big5.csv"
    big5.write_bytes("uscc,name\n1,濟南華新電子有限公司\n2,臺灣積體電路製造\n".encode("big5"))
    with pytest.raises(InputError, match=r"big5\.csv: neither UTF-8 nor GB18030/GBK"):
        _read(spark, big5, "enterprises", 2)


def test_bad_postings_are_refused_on_the_driver_before_any_partition_runs(spark, tmp_path, caplog):
    """A postings table without a required column: the local run's error, before Spark touches a partition."""
    import logging
    import shutil

    from quanhuiqi.tables.io import InputError

    city = tmp_path / "data"
    shutil.copytree(SAMPLES, city, ignore=shutil.ignore_patterns("truth", "policies_real"))
    import pandas as pd

    pd.read_csv(SAMPLES / "postings.csv", dtype=str).drop(columns="side").to_csv(city / "postings.csv", index=False)
    with pytest.raises(InputError) as local_error:
        run_daily(DAY, city, tmp_path / "local", config=CONFIG)
    with caplog.at_level(logging.INFO, logger="quanhuiqi.push"), pytest.raises(InputError) as spark_error:
        run_daily_spark(DAY, city, tmp_path / "spark", config=CONFIG, spark=spark)
    assert str(spark_error.value) == str(local_error.value) and "side" in str(spark_error.value)
    started = [r.getMessage() for r in caplog.records if "event=stage_start" in r.getMessage()]
    assert not [m for m in started if "stage=spark.partitions" in m or "stage=spark.postings_read" in m]
    assert not (tmp_path / "spark" / DAY).exists()


def test_a_killed_spark_run_leaves_the_previous_day_and_the_next_run_publishes(spark, tmp_path, small_generated_city,
                                                                                 whole_city_day):
    """``quanhuiqi push --engine spark`` killed (SIGKILL) once the executors' parts of the push list and the
    pairs sit in the day's staging folder: the published day is untouched; the next run recovers and publishes."""
    import os
    import shutil
    import subprocess

    import pandas as pd

    from quanhuiqi.push.report import changes_vs_previous

    out = tmp_path / "out"
    first = whole_city_day("generated")  # the day as published before (a local run of the same city)
    shutil.copytree(first.out_dir, out / DAY)
    # and the day before, as a Spark run writes its push list (a folder of parts): the next run reads it as history
    # and counts the changes since it partition by partition
    previous = pd.read_parquet(first.out_dir / "push_list.parquet").iloc[::3].assign(date="2025-06-30")
    (out / "2025-06-30" / "push_list.parquet").mkdir(parents=True)
    for i, rows in enumerate((previous.iloc[: len(previous) // 2], previous.iloc[len(previous) // 2:])):
        rows.to_parquet(out / "2025-06-30" / "push_list.parquet" / f"part-{i:05d}.parquet", index=False)
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / DAY).rglob("*") if p.is_file()}
    cfg = tmp_path / "k1.yaml"  # a different K: a finished run would change the outputs
    cfg.write_text("push:\n  max_per_enterprise: 1\nrun:\n  partitions: 2\nspark:\n  demands_per_task: 100\n",
                   encoding="utf-8")
    env = {**os.environ, "QUANHUIQI_TEST_CRASH_AFTER": "spark:adopted", "PYSPARK_PYTHON": sys.executable}
    proc = subprocess.run([sys.executable, "-m", "quanhuiqi.cli", "push", "--engine", "spark", "--master", "local[2]",
                           "--date", DAY, "--data", str(small_generated_city), "--out", str(out), "--config", str(cfg)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]
    staged = [p for p in out.iterdir() if p.name.startswith(".staging-")]
    assert any((p / "push_list.parquet").is_dir() for p in staged)  # the parts had reached the day's staging
    assert any(len(list((p / "postings_pairs.parquet").glob("part-*"))) > 1 for p in staged)
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / DAY).rglob("*") if p.is_file()} == before
    again = run_daily_spark(DAY, small_generated_city, out, config=str(cfg), spark=spark)
    assert sorted(p.name for p in out.iterdir()) == ["2025-06-30", DAY]
    push = pd.read_parquet(again.out_dir / "push_list.parquet")
    assert len(push) == again.report["summary"]["pushed"] < first.report["summary"]["pushed"]  # K = 1 published
    assert again.report["changes_vs_previous"] == changes_vs_previous(push, previous, "2025-06-30")
    assert again.report["changes_vs_previous"]["pushed_previous"] == len(previous) > 0


def test_master_is_for_the_spark_engine(tmp_path, capsys):
    from quanhuiqi.cli import main

    assert main(["push", "--master", "local[2]", "--data", str(SAMPLES), "--out", str(tmp_path)]) == 1
    assert "--master is for --engine spark" in capsys.readouterr().err
