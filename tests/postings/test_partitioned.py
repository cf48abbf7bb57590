"""Matching split by demand ranges against one shared index equals the whole day's matching, byte for byte.

This is what lets the supply–demand matching run on Spark executors (tests/test_spark.py runs it there)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.postings import validate_postings
from quanhuiqi.postings.partitioned import build_match_index, demand_ranges, in_range, match_range
from quanhuiqi.push.config import load_config
from quanhuiqi.push.job import posters
from quanhuiqi.push.matching import postings_pairs
from quanhuiqi.tables import read_table, validate_enterprises, validate_history

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = pd.Timestamp("2025-07-01")


def _day(city: Path):
    pv = validate_postings(read_table(city / "postings.csv"), DAY)
    ent = posters(validate_enterprises(read_table(city / "enterprises.csv"), DAY).clean, pv.clean)
    hist = None
    if (city / "posting_interactions.parquet").exists():
        raw = pd.read_parquet(city / "posting_interactions.parquet")
        hist = validate_history("posting_interactions", raw, DAY, "posting_interactions").clean
    return pv.clean, ent, hist


@pytest.mark.parametrize("where", ["data_samples", "generated"])
def test_demand_ranges_laid_end_to_end_are_the_whole_days_pairs(where, small_generated_city):
    city = SAMPLES if where == "data_samples" else small_generated_city
    clean, ent, hist = _day(city)
    whole = postings_pairs(clean, DAY, ent, load_config(None), hist)
    mi = build_match_index(clean, DAY, ent, hist)
    ids = mi.open_demand_ids()
    ranges = demand_ranges(ids, 97)
    assert len(ranges) >= 3 and whole["demand_id"].nunique() == len(ids)
    got = pd.concat([match_range(mi, b, None, 10) for b in ranges], ignore_index=True)
    pd.testing.assert_frame_equal(got, whole, check_exact=True)
    assert whole["supply_id"].notna().sum() > 100 and whole["supply_id"].isna().any()  # pairs and demands without


def test_demand_ranges_cover_every_id_once_in_order():
    ids = np.sort(np.array([f"D{i:04d}" for i in range(0, 1000, 7)]))
    ranges = demand_ranges(ids, 10)
    pieces = [in_range(ids, b) for b in ranges]
    assert np.array_equal(np.concatenate(pieces), ids)
    assert all(len(p) <= 10 for p in pieces)
    assert demand_ranges(ids[:0], 10) == []
