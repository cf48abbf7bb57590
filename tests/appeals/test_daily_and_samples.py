"""The daily job's appeals step, and the committed data_samples/appeals.csv."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.push import run_daily
from quanhuiqi.tables.io import read_table

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def test_data_samples_appeals_are_reproducible_from_the_enterprises(tmp_path):
    """data_samples/appeals.csv is exactly what write_appeals makes of data_samples/enterprises.csv."""
    from quanhuiqi.synth.appeals import write_appeals

    shutil.copy(SAMPLES / "enterprises.csv", tmp_path / "enterprises.csv")
    write_appeals(tmp_path, seed=0, as_of="2025-07-01", days=120, truth=False)
    assert (tmp_path / "appeals.csv").read_bytes() == (SAMPLES / "appeals.csv").read_bytes()


def test_data_samples_appeals_contract_and_ties_to_enterprises():
    from quanhuiqi.appeals import APPEAL_COLUMNS, validate_appeals

    raw = read_table(SAMPLES / "appeals.csv")
    assert list(raw.columns) == APPEAL_COLUMNS
    ent = set(read_table(SAMPLES / "enterprises.csv")["uscc"].str.strip().str.upper())
    v = validate_appeals(raw, "2025-07-01")
    assert v.clean["uscc"].dropna().isin(ent).all()
    assert 2500 < len(v.clean) and v.rows_rejected < 20
    assert v.clean["duplicate_of"].notna().sum() > 30


def test_daily_job_routes_with_the_latest_registered_model(tmp_path, mlflow_uri, trained):
    from quanhuiqi import registry
    from quanhuiqi.appeals import log_appeals_model

    model, _ = trained
    run_ = log_appeals_model(model)
    registry.register(run_.model_uri, "appeals-router", tags={"quanhuiqi.kind": "appeals"})
    data = tmp_path / "data"
    shutil.copytree(SAMPLES, data, ignore=shutil.ignore_patterns("truth", "push_history.parquet"))
    cfg = {"paths": {"optional": ["posting_interactions", "appeals", "push_history"]}, "postings": {"enabled": False}}
    r = run_daily("2025-07-01", data, tmp_path / "out", config=cfg)
    a = r.report["appeals"]
    assert a["model"]["used"] == "appeals-router/1" and a["new_appeals"] > 10
    routed = pd.read_parquet(r.out_dir / "appeals_routed.parquet")
    assert (routed["received_at"] >= pd.Timestamp("2025-06-30")).all() and (routed["dispatch"] == "auto").any()
    assert "appeals:" in r.summary()
    html = (r.out_dir / "report.html").read_text(encoding="utf-8")
    assert "涉企诉求" in html
    rej = pd.read_parquet(r.out_dir / "rejects.parquet")
    assert (rej["source"] == "appeals").sum() >= 6


def test_daily_job_without_appeals_or_with_them_disabled(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLES, data, ignore=shutil.ignore_patterns("truth", "appeals.csv", "push_history.parquet"))
    cfg = {"paths": {"optional": ["posting_interactions", "appeals", "push_history"]}, "postings": {"enabled": False}}
    r = run_daily("2025-07-01", data, tmp_path / "out", config=cfg)
    assert "appeals" not in r.report and not (r.out_dir / "appeals_routed.parquet").exists()
    assert not any("appeals" in w for w in r.report["warnings"])
    # present but disabled: never located, so never read
    from quanhuiqi.push import load_config
    from quanhuiqi.push.job import _locate

    shutil.copy(SAMPLES / "appeals.csv", data / "appeals.csv")
    assert _locate(data, load_config({**cfg, "appeals": {"enabled": False}}))["appeals"] is None
    assert _locate(data, load_config(cfg))["appeals"] == data / "appeals.csv"


def test_bad_appeals_settings_are_refused(tmp_path):
    from quanhuiqi.push import load_config
    from quanhuiqi.tables.io import InputError

    with pytest.raises(InputError, match="appeals.model"):
        load_config({"appeals": {"model": "just-a-name"}})
    with pytest.raises(InputError, match="new_days"):
        load_config({"appeals": {"new_days": 0}})
