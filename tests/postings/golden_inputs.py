"""The sample city's postings inputs, read and validated exactly as the daily job does."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = pd.Timestamp("2025-07-01")


def sample_city_inputs(city: Path = SAMPLES, day: pd.Timestamp = DAY):
    """(clean postings, poster enterprises, clean posting interactions, day) as ``push.job.run_daily`` builds
    them for its postings stage."""
    from quanhuiqi.postings import validate_postings
    from quanhuiqi.push.job import posters
    from quanhuiqi.tables import read_enterprises, read_table, validate_enterprises, validate_history

    postings = validate_postings(read_table(city / "postings.csv"), day, "postings").clean
    ent = validate_enterprises(read_enterprises(city / "enterprises.csv"), day, "enterprises").clean
    inter = validate_history("posting_interactions", read_table(city / "posting_interactions.parquet"), day,
                             "posting_interactions").clean
    return postings, posters(ent, postings), inter, day
