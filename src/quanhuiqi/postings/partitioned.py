"""Supply–demand matching split by demand: one index for the whole day, demands answered in ranges.

Every feature of a pair, its two scores and its reason are functions of the pair and of the day's
index (TF-IDF fitted over all postings, tag matrix, the supply side's chain and place keys, the past
interactions): none reads another demand.  The top-k is taken per demand.  So answering the open
demands in ranges against one shared index gives, range by range, exactly the rows the whole-day
``match_postings`` gives for those demands.  The ranges are cut in the order of ``demand_id``, the
output's first sort key: the ranges' outputs, each sorted, laid end to end *are* the day's table.

``build_match_index`` runs once (on Spark: in one executor task, its pickle staged for the others);
``demand_ranges`` cuts the ranges; ``match_range`` answers one (one Spark task each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quanhuiqi.postings.candidates import PostingIndex, build_index, open_sides
from quanhuiqi.postings.prepare import prepare_postings

PAIR_ORDER = ["demand_id", "rank", "supply_id"]
FIRST_COLUMNS = ["demand_id", "supply_id", "rank", "score", "reasons"]


@dataclass
class MatchIndex:
    """What every range reads: the day's posting index and the interactions before the day."""

    index: PostingIndex
    as_of: pd.Timestamp
    history: pd.DataFrame | None

    def open_demand_ids(self) -> np.ndarray:
        """The ids of the demands the day answers (every open demand, excluded posters too), sorted."""
        d_all, _ = open_sides(self.index.postings)
        return np.sort(np.unique(self.index.arrays["ids"][d_all].astype(str)))


def build_match_index(clean_postings: pd.DataFrame, as_of: pd.Timestamp, enterprises: pd.DataFrame | None,
                      history: pd.DataFrame | None = None) -> MatchIndex:
    """The index ``match_postings`` builds for itself, built once (texts dropped: they are in the TF-IDF)."""
    index = build_index(prepare_postings(clean_postings, as_of, enterprises))
    index.postings = index.postings.drop(columns=[c for c in ("text", "description") if c in index.postings])
    if history is not None:
        history = history.loc[(pd.to_datetime(history["date"]) < as_of).to_numpy()].reset_index(drop=True)
    return MatchIndex(index, pd.Timestamp(as_of), history)


def demand_ranges(ids: np.ndarray, per_range: int) -> list[tuple[str, str]]:
    """Sorted demand ids cut into contiguous ranges of at most ``per_range`` ids: ``(first, last)`` each."""
    per_range = max(int(per_range), 1)
    return [(str(ids[i]), str(ids[min(i + per_range, len(ids)) - 1])) for i in range(0, len(ids), per_range)]


def in_range(ids: np.ndarray, bounds: tuple[str, str]) -> np.ndarray:
    """The ids within ``[first, last]`` (string order, as the output is sorted)."""
    lo, hi = bounds
    return ids[(ids >= lo) & (ids <= hi)]


def match_range(mi: MatchIndex, bounds: tuple[str, str] | None, scorer, k: int, *, n_text: int = 30,
                n_chain: int = 10) -> pd.DataFrame:
    """The day's pairs of the open demands in ``bounds`` (None: all), columns and order as the daily job
    writes them (``demand_id, rank, supply_id``)."""
    from quanhuiqi.postings.match import match_postings

    ids = mi.open_demand_ids()
    demand_ids = ids if bounds is None else in_range(ids, bounds)
    pairs = match_postings(mi.index.postings, mi.as_of, model=scorer, k=k, n_text=n_text, n_chain=n_chain,
                           index=mi.index, demand_ids=demand_ids, history=mi.history)
    return order_pairs(pairs)


def order_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The daily job's column order and row order of the supply–demand pairs."""
    cols = [c for c in FIRST_COLUMNS if c in pairs.columns]
    rest = [c for c in pairs.columns if c not in cols]
    return pairs[cols + rest].sort_values(PAIR_ORDER, kind="stable").reset_index(drop=True)
