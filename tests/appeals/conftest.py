"""Shared fixtures: synthetic appeals of a small city (real generator, real validation), a model trained on them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


@pytest.fixture(scope="session")
def sample_enterprises() -> pd.DataFrame:
    from quanhuiqi.tables import read_table

    return read_table(SAMPLES / "enterprises.csv")


@pytest.fixture(scope="session")
def synthetic(sample_enterprises):
    """(raw appeals, truth): 1,500 appeals of the data_samples enterprises, seed 3."""
    from quanhuiqi.synth.appeals import generate_appeals

    return generate_appeals(sample_enterprises, seed=3, as_of="2025-07-01", days=120, n=1500)


@pytest.fixture(scope="session")
def trained(synthetic):
    """(model, report) trained on the synthetic appeals (validation only, no cv; one C: the grid is tested
    through the CLI)."""
    from quanhuiqi.appeals import train_appeals, validate_appeals

    raw, _ = synthetic
    v = validate_appeals(raw, require_received=False)
    return train_appeals(v.clean, seed=0, grid=(0.7,))


@pytest.fixture(scope="session")
def planted_city(sample_enterprises):
    """(clean appeals, truth) of a small city with 5 planted issues (bursts included): 1,200 of the
    data_samples enterprises, 300 background appeals over 60 days, seed 7."""
    from quanhuiqi.appeals import validate_appeals
    from quanhuiqi.synth.appeals import generate_appeals

    raw, truth = generate_appeals(sample_enterprises.head(1200), seed=7, as_of="2025-07-01", days=60, n=300,
                                  issues=5)
    return validate_appeals(raw).clean, truth


@pytest.fixture(scope="session")
def write_clean_appeals():
    """A function writing clean appeals back as an appeals file."""
    return _write_clean_appeals


def _write_clean_appeals(clean: pd.DataFrame, path: Path) -> Path:
    """Clean appeals written back as an appeals file (times as text, the linking columns dropped)."""
    from quanhuiqi.tables import write_table

    raw = clean.drop(columns=["row", "case_id", "duplicate_of", "case_size"], errors="ignore").copy()
    for c in raw.columns:
        if pd.api.types.is_datetime64_any_dtype(raw[c]):
            raw[c] = raw[c].dt.strftime("%Y-%m-%d %H:%M:%S")
    write_table(raw.astype("string"), path)
    return path
