"""The command-line contract and the MLflow round trip: train → register → alias → route in a fresh process."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.cli import main
from quanhuiqi.tables.io import write_table


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(args)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def appeals_dir(tmp_path, synthetic) -> Path:
    raw, _ = synthetic
    d = tmp_path / "data"
    d.mkdir()
    write_table(raw.head(700), d / "appeals.csv")
    return d


def test_train_register_and_route_in_a_fresh_process(appeals_dir, mlflow_uri, tmp_path):
    rc, out, err = run(["train", "appeals", "--data", str(appeals_dir), "--register", "appeals-router",
                        "--alias", "champion", "--param", "C=0.7"])
    assert rc == 0, err
    assert "registered appeals-router version 1" in out and "alias appeals-router@champion" in out
    routed = tmp_path / "routed.csv"
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    code = ("import sys; from quanhuiqi.cli import main; "
            f"sys.exit(main(['appeals', 'route', '--appeals', {str(appeals_dir / 'appeals.csv')!r}, "
            f"'--out', {str(routed)!r}, '--model', 'appeals-router@champion']))")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "appeals-router@champion" in p.stdout
    got = pd.read_csv(routed, dtype=str)
    want = ["appeal_id", "category", "category_probability", "department", "triage", "masked_title", "masked_body"]
    assert set(want) <= set(got.columns) and {"suggestion_3_category", "reason"} <= set(got.columns)
    rejects = pd.read_csv(tmp_path / "routed.rejects.csv", dtype=str)
    assert len(got) + rejects.loc[rejects["action"] == "row_rejected", "row"].nunique() == 700
    # no --model: the latest registered appeals model, in this process too (--workers: the same table)
    rc, out, err = run(["appeals", "route", "--appeals", str(appeals_dir / "appeals.csv"), "--out",
                        str(tmp_path / "latest.parquet"), "--workers", "2"])
    assert rc == 0, err and "appeals-router/1" in out
    assert pd.read_parquet(tmp_path / "latest.parquet")["reason"].tolist() == got["reason"].tolist()


def test_route_without_a_registered_model_is_a_clear_error(appeals_dir, mlflow_uri, tmp_path):
    rc, _, err = run(["appeals", "route", "--appeals", str(appeals_dir / "appeals.csv"), "--out",
                      str(tmp_path / "r.csv")])
    assert rc == 1 and "no appeals model is registered" in err and not (tmp_path / "r.csv").exists()
    rc, _, err = run(["appeals", "route", "--appeals", str(appeals_dir / "appeals.csv"), "--out",
                      str(tmp_path / "r.csv"), "--model", "nope@champion"])
    assert rc == 1 and "nope@champion" in err


def test_a_ranker_is_not_an_appeals_model(mlflow_uri, trained_ranker, appeals_dir, tmp_path):
    from quanhuiqi import registry

    run_ = registry.log_ranker(trained_ranker.ranker)
    registry.register(run_.model_uri, "ranker-x")
    rc, _, err = run(["appeals", "route", "--appeals", str(appeals_dir / "appeals.csv"), "--out",
                      str(tmp_path / "r.csv"), "--model", "ranker-x/1"])
    assert rc == 1 and "not an appeals model" in err


def test_clock_command_writes_the_lists(appeals_dir, tmp_path):
    out = tmp_path / "clock"
    rc, text, err = run(["appeals", "clock", "--appeals", str(appeals_dir / "appeals.csv"), "--as-of",
                         "2025-07-01 09:00", "--out", str(out)])
    assert rc == 0, err and "at risk" in text
    for name in ("at_risk.csv", "overdue.csv", "department_stats.csv", "status.parquet", "rejects.csv"):
        assert (out / name).exists(), name
    stats = pd.read_csv(out / "department_stats.csv")
    assert {"department", "cases", "days_to_close_median", "on_time_resolve", "overdue_now"} <= set(stats.columns)
    rc, _, err = run(["appeals", "clock", "--appeals", str(appeals_dir / "appeals.csv"), "--as-of", "yesterday",
                      "--out", str(out)])
    assert rc == 1 and "--as-of" in err


def test_train_refuses_unknown_parameters_and_a_folder_without_appeals(tmp_path, mlflow_uri, appeals_dir):
    rc, _, err = run(["train", "appeals", "--data", str(tmp_path)])
    assert rc == 1 and "no appeals.csv" in err
    rc, _, err = run(["train", "appeals", "--data", str(appeals_dir), "--param", "depth=3"])
    assert rc == 1 and "unknown appeals parameter" in err
    rc, _, err = run(["train", "ranker", "--data", str(appeals_dir), "--cv", "3"])
    assert rc == 1 and "train appeals only" in err
