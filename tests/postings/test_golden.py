"""The matcher's answer on the sample city is fixed: speed work must not move a pair, rank, score or reason.

``data/golden_pairs_sample_city.parquet`` is the full output of ``match_postings`` on ``data_samples/``
(inputs read and validated as the daily job does, ``model=None``, ``k=10``, with the posting
interactions), and ``data/golden_features_sample_city.parquet`` every 4th candidate pair with its flags
and :data:`FEATURES` (a trained model reads them), both computed before the city-scale speed-up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from golden_inputs import SAMPLES, sample_city_inputs

from quanhuiqi.postings import (
    FEATURES,
    PostingFeatureBuilder,
    build_index,
    generate_candidates,
    match_postings,
)
from quanhuiqi.postings.prepare import prepare_postings

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.skipif(not (SAMPLES / "postings.csv").exists(), reason="data_samples not generated")


@pytest.fixture(scope="module")
def inputs():
    return sample_city_inputs()


def _differences(got: pd.DataFrame, want: pd.DataFrame) -> dict[str, int]:
    out = {}
    for col in want.columns:
        a, b = got[col], want[col]
        if pd.api.types.is_float_dtype(b) and not pd.api.types.is_extension_array_dtype(b):
            x, y = a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")
            same = (x == y) | (np.isnan(x) & np.isnan(y))
        else:
            same = (a.astype("string").fillna("<NA>").to_numpy() == b.astype("string").fillna("<NA>").to_numpy())
        if not same.all():
            out[col] = int((~same).sum())
    return out


def test_sample_city_pairs_match_golden(inputs):
    postings, posters, inter, day = inputs
    got = match_postings(postings, day, enterprises=posters, model=None, k=10, history=inter)
    want = pd.read_parquet(DATA / "golden_pairs_sample_city.parquet")
    assert list(got.columns) == list(want.columns)
    assert got.dtypes.astype(str).tolist() == want.dtypes.astype(str).tolist()
    assert len(got) == len(want), f"{len(got)} rows, golden has {len(want)}"
    assert not _differences(got, want), "pairs differ from the golden answer"
    # every open demand is answered (and the golden file really holds pairs and unanswered demands)
    assert want["supply_id"].notna().sum() > 5000 and want["supply_id"].isna().any()


def test_sample_city_candidates_and_features_match_golden(inputs):
    postings, posters, inter, day = inputs
    idx = build_index(prepare_postings(postings, day, posters))
    cand = generate_candidates(idx)
    hist = inter.loc[(pd.to_datetime(inter["date"]) < day).to_numpy()]
    feats = PostingFeatureBuilder(idx).fit(history=hist).transform(cand)
    want = pd.read_parquet(DATA / "golden_features_sample_city.parquet")
    got = pd.concat([cand[["demand_id", "supply_id", "via_text", "via_tag", "via_chain"]], feats], axis=1)
    got = got.iloc[::4].reset_index(names="row")
    assert len(got) == len(want), f"{len(got)} sampled candidate rows, golden has {len(want)}"
    assert got["row"].tolist() == want["row"].tolist()
    assert not _differences(got, want[["row", "demand_id", "supply_id", "via_text", "via_tag", "via_chain",
                                       *FEATURES]])
