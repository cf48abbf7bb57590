"""Revealed-preference features of the postings model: counted strictly before each pair's date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from postings_helpers import AS_OF, frame, posting

from quanhuiqi.postings import match_postings, validate_postings
from quanhuiqi.postings.candidates import build_index
from quanhuiqi.postings.features import HISTORY_FEATURES, HISTORY_PRIOR, PostingFeatureBuilder
from quanhuiqi.postings.prepare import prepare_postings
from quanhuiqi.postings.scoring import PostingPopularityScorer


@pytest.fixture
def index(usccs):
    u = usccs
    rows = [posting("D1", u[0], "demand", "求购钢材", tags="钢材", posted_on="2025-05-01"),
            posting("D2", u[0], "demand", "求购钢材", tags="钢材", posted_on="2025-06-25"),
            posting("D3", u[3], "demand", "求购钢材", tags="钢材", posted_on="2025-06-01"),
            posting("S1", u[1], "supply", "供应钢材", tags="钢材", posted_on="2025-04-01"),
            posting("S2", u[2], "supply", "钢材现货", tags="钢材", posted_on="2025-04-01"),
            posting("S3", u[1], "supply", "供应钢板", tags="钢材", posted_on="2025-06-20")]
    clean = validate_postings(frame(rows), AS_OF).clean
    return clean, build_index(prepare_postings(clean, pd.Timestamp(AS_OF)))


HISTORY = pd.DataFrame({
    "date": ["2025-05-02", "2025-05-02", "2025-06-02", "2025-06-02", "2025-06-26"],
    "demand_id": ["D1", "D1", "D3", "D3", "D2"], "supply_id": ["S1", "S2", "S1", "S2", "S2"],
    "rank": [1, 2, 1, 2, 1], "contacted": [True, False, True, False, True], "deal": [True, False, False, False, True],
})


def test_history_features_by_hand(index):
    _, idx = index
    pairs = pd.DataFrame({"demand_id": ["D2", "D2", "D2"], "supply_id": ["S3", "S2", "S3"],
                          "as_of": pd.to_datetime(["2025-06-26", "2025-06-26", "2025-06-02"])})
    f = PostingFeatureBuilder(idx).fit(history=HISTORY).transform(pairs)
    # S3 belongs to the same enterprise as S1: shown twice before 06-26, contacted twice, one deal
    assert f["supplier_shown"].tolist() == [2.0, 2.0, 1.0]  # on 06-02 only the 05-02 impression counts
    g_rate = 2 / 4  # the platform's contact rate over the 4 impressions before 06-26
    assert f.loc[0, "supplier_contact_rate"] == pytest.approx((2 + HISTORY_PRIOR * g_rate) / (2 + HISTORY_PRIOR))
    assert f.loc[0, "supplier_contact_rate"] > f.loc[1, "supplier_contact_rate"]
    # D2's enterprise (also D1's) contacted S1's enterprise once before; never S2's
    assert f["pair_prev_contacts"].tolist() == [1.0, 0.0, 1.0]
    assert f.loc[0, "buyer_prev_contacts"] == 1.0
    # the same-day impression (06-26) and anything later never count: rewriting it changes nothing
    h2 = HISTORY.assign(contacted=[True, False, True, False, False], deal=[True, False, False, False, False])
    f2 = PostingFeatureBuilder(idx).fit(history=h2).transform(pairs)
    pd.testing.assert_frame_equal(f, f2)
    # without history they are unknown
    f0 = PostingFeatureBuilder(idx).fit().transform(pairs)
    assert f0[HISTORY_FEATURES].isna().all().all()


def test_match_with_history_and_popularity(index):
    clean, _ = index
    out = match_postings(clean, "2025-06-27", model=PostingPopularityScorer(), history=HISTORY, demand_ids=["D2"])
    top = out.dropna(subset=["supply_id"])
    assert top.iloc[0]["supply_id"] in {"S1", "S3"}  # the enterprise buyers contacted most
    assert np.isfinite(top["score"]).all()
