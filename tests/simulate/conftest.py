"""data_samples read once for the simulation tests (the city and its book; simulating it takes well under a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = "2025-07-01"


@pytest.fixture(scope="session")
def city():
    from quanhuiqi.simulate import read_city

    return read_city(SAMPLES, DAY)


@pytest.fixture(scope="session")
def book():
    from quanhuiqi.policy import load_book

    return load_book(SAMPLES / "policies")


@pytest.fixture(scope="session")
def sweep_doc():
    return [{"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": [300, "500万元", 800]},
            {"policy": "JN-RS-2025-001", "path": "benefit.max_amount", "values": [100, 200]}]


@pytest.fixture(scope="session")
def result(book, city, sweep_doc):
    from quanhuiqi.simulate import simulate

    return simulate(book, city, DAY, vary=sweep_doc)
