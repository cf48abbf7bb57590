"""The report's push-list figures add up over enterprise partitions: what a Spark driver sums equals what the
local run computes from the whole list (counts per policy, verdict, mode; the changes since yesterday)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from quanhuiqi.push.partition import partition_of
from quanhuiqi.push.report import PushListCounts, changes_vs_previous, ranked


def _list(rng: np.random.Generator, n: int, firms: int) -> pd.DataFrame:
    uscc = pd.array([f"91370100MA{i:08d}" for i in rng.integers(0, firms, n)], dtype="string")
    policy = pd.array([f"P{i}" for i in rng.integers(0, 12, n)], dtype="string")
    frame = pd.DataFrame({"uscc": uscc, "policy_id": policy,
                          "verdict": pd.array(rng.choice(["eligible", "undetermined"], n), dtype="string"),
                          "mode": pd.array(rng.choice(["apply", "auto"], n), dtype="string")})
    return frame.drop_duplicates(["uscc", "policy_id"]).reset_index(drop=True)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), parts=st.integers(1, 6), previous=st.booleans())
def test_partition_counts_sum_to_the_whole_lists(seed, parts, previous):
    rng = np.random.default_rng(seed)
    today = _list(rng, int(rng.integers(0, 80)), 30)
    before = _list(rng, int(rng.integers(0, 80)), 30) if previous else None
    whole = PushListCounts.of(today, before)
    p_today = partition_of(today["uscc"], parts)
    p_before = partition_of(before["uscc"], parts) if previous else None
    summed = PushListCounts.sum([PushListCounts.of(today[p_today == p], before[p_before == p] if previous else None)
                                 for p in range(parts)], previous)
    assert (summed.rows, summed.enterprises) == (len(today), today["uscc"].nunique())
    assert ranked(summed.per_policy, 5) == ranked(whole.per_policy, 5)
    assert summed.per_verdict == whole.per_verdict and summed.per_mode == whole.per_mode
    assert summed.changes("2025-06-30") == whole.changes("2025-06-30") == changes_vs_previous(
        today, before, "2025-06-30")
