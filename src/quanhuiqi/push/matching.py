"""The day's supply–demand pairs: the matcher over the day's clean postings, in the order they are published.

Called by the one-process day, by a worker of a day run with ``run.workers`` and by the Spark run's driver
(when no postings were read), so all of them write the same table."""

from __future__ import annotations

import pandas as pd

PAIR_COLUMNS = ("demand_id", "supply_id", "rank", "score", "reasons")


def postings_pairs(clean_postings: pd.DataFrame | None, as_of: pd.Timestamp, enterprises: pd.DataFrame | None,
                   cfg: dict, interactions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Top ``postings.per_demand`` supplies per open demand (``quanhuiqi.postings.match_postings``) ordered by
    ``order_pairs``; an empty table of the same columns when the day has no postings."""
    if clean_postings is None:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in PAIR_COLUMNS})
    from quanhuiqi.postings import match_postings
    from quanhuiqi.postings.partitioned import order_pairs

    pairs = match_postings(clean_postings, as_of, enterprises=enterprises, model=cfg["postings"]["model"],
                           k=cfg["postings"]["per_demand"], history=interactions)
    return order_pairs(pairs)
