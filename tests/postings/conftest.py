"""Fixtures of the postings tests (helpers in postings_helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from quanhuiqi.postings.sample import make_usccs


@pytest.fixture(scope="session")
def usccs() -> list[str]:
    return list(make_usccs(40, np.random.default_rng(5)))
