"""The committed data_samples/: contract columns, and a README that describes every file and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.tables.columns import (
    DATA_FILES,
    ENTERPRISE_COLUMNS,
    GRANT_COLUMNS,
    POSTING_COLUMNS,
    POSTING_INTERACTION_COLUMNS,
    PUSH_HISTORY_COLUMNS,
    SUPPRESSION_COLUMNS,
)
from quanhuiqi.tables.io import read_table

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
pytestmark = pytest.mark.skipif(not (SAMPLES / "enterprises.csv").exists(), reason="data_samples not generated")


def test_files_have_contract_columns():
    ent = read_table(SAMPLES / DATA_FILES["enterprises"])
    assert list(ent.columns[: len(ENTERPRISE_COLUMNS)]) == ENTERPRISE_COLUMNS
    assert 4000 <= len(ent) <= 6000
    assert list(read_table(SAMPLES / DATA_FILES["postings"]).columns) == POSTING_COLUMNS
    ph = read_table(SAMPLES / DATA_FILES["push_history"])
    assert list(ph.columns) == PUSH_HISTORY_COLUMNS
    assert pd.to_datetime(ph["date"]).max() < pd.Timestamp("2025-07-01")
    assert (pd.Timestamp("2025-07-01") - pd.to_datetime(ph["date"]).min()).days == 120
    assert list(read_table(SAMPLES / DATA_FILES["grants"]).columns) == GRANT_COLUMNS
    assert list(read_table(SAMPLES / DATA_FILES["suppressions"]).columns) == SUPPRESSION_COLUMNS
    assert list(read_table(SAMPLES / DATA_FILES["posting_interactions"]).columns) == POSTING_INTERACTION_COLUMNS


def test_readme_describes_every_file_and_column():
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    assert "quanhuiqi synth --out data_samples --enterprises 5000 --seed 0" in text
    ent = read_table(SAMPLES / DATA_FILES["enterprises"])
    columns = (list(ent.columns) + POSTING_COLUMNS + PUSH_HISTORY_COLUMNS + GRANT_COLUMNS + SUPPRESSION_COLUMNS
               + POSTING_INTERACTION_COLUMNS)
    missing = [c for c in columns if f"`{c}`" not in text and c not in text]
    assert missing == []
    for name in list(DATA_FILES.values()):
        assert f"`{name}" in text, name
    for name in ("enterprises_true.parquet", "policies_true.parquet", "eligible_true.parquet", "postings_true.parquet",
                 "department_affinity.csv", "params.json"):
        assert name in text
