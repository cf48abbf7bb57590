"""The vectorised PairFeatureBuilder reproduces, bit for bit, the features of the implementation it
replaced (registered models were trained on those values).

``data/golden_features.parquet`` holds every 20th row of the simulated training pairs and of a scored day,
and every 50th row of the sample city's training pairs, as computed by the previous (row-merge based)
implementation before the speed-up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.rank import FEATURES, PairFeatureBuilder, assemble_pairs

GOLDEN = Path(__file__).parent / "data" / "golden_features.parquet"
CITY = Path(__file__).resolve().parents[2] / "data_samples"


@pytest.fixture(scope="module")
def golden() -> pd.DataFrame:
    return pd.read_parquet(GOLDEN)


def _assert_same(new: pd.DataFrame, golden: pd.DataFrame, source: str, step: int) -> None:
    want = golden[golden["source"] == source].set_index("row")[FEATURES]
    got = new.iloc[::step]
    assert len(got) == len(want), f"{source}: {len(got)} rows, golden has {len(want)}"
    assert list(got.index) == list(want.index)
    a, b = got.to_numpy(dtype=float), want.to_numpy(dtype=float)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    bad = [FEATURES[j] for j in np.flatnonzero(~same.all(axis=0))]
    assert not bad, f"{source}: features differ from the golden values: {bad}"


def test_training_pairs_match_golden(ranker_data, golden):
    _assert_same(ranker_data.features, golden, "pairs", 20)


def test_scored_day_matches_golden(simulated_pushes, golden):
    s = simulated_pushes
    day = s.pushes["date"].max()
    cand = s.population.drop(columns=["utility"]).assign(date=day).reset_index(drop=True)
    pairs = assemble_pairs(cand, s.profile, s.policies)
    feats = PairFeatureBuilder().fit(pairs, history=s.pushes, profile=s.profile).transform(pairs)
    _assert_same(feats, golden, "day", 20)


@pytest.mark.skipif(not (CITY / "push_history.parquet").exists(), reason="no sample city")
def test_sample_city_matches_golden(golden):
    from quanhuiqi.rank import build_training_data

    _assert_same(build_training_data(str(CITY)).features, golden, "city", 50)
