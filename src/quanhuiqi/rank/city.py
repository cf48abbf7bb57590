"""City-wide statistics: what the rankers estimate from the whole day, summed over enterprise partitions.

The ranker's features measure each pair against the city: how many enterprises a policy reaches and how
over-represented the enterprise's industry, district and size are among its candidates
(:class:`~quanhuiqi.rank.population.PopulationStatistics`), how the city responded to the policy's
pushes, overall and in the enterprise's segment (the city-level tables of
:class:`~quanhuiqi.rank.history.HistoryStatistics`), and the policy's pooled rates behind the
per-enterprise effects (:mod:`quanhuiqi.rank.firm_effects`).  Estimated inside each partition of the daily
job they would change with the partitioning; :class:`CityStatistics` holds them as integer counts that
add up over partitions.

The daily job runs in two passes: every partition counts (``CityStatistics.count`` on its candidates,
profile and push history), the driver adds the counts (``CityStatistics.sum``), and every partition then
ranks against the city's figures (``scorer.features(…, city=…)``).  The enterprise-level tables (an
enterprise's own pushes, its own effects) stay in the partition, where they are exact.  The top chains and
tags of the overlap features are chosen from the summed counts.  :class:`~quanhuiqi.rank.OnlineRanker`
serves from the same object, so an online answer is the batch's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.rank.counts import KeyedCounts
from quanhuiqi.rank.firm_effects import offset_counts
from quanhuiqi.rank.history import CITY_TABLES, HistoryStatistics
from quanhuiqi.rank.population import PopulationCounts, PopulationStatistics, population_counts


@dataclass
class CityStatistics:
    """The day's city-wide ranking statistics as additive counts (see the module docstring).

    ``population``: candidate counts; ``history``: totals of the city-level history tables over the
    pushes before ``as_of`` (None: no push history with outcomes); ``offsets``: per-policy pushes,
    clicks and applications after a click before ``as_of`` (the firm effects' offsets).
    """

    as_of: pd.Timestamp
    population: PopulationCounts
    history: dict[str, KeyedCounts] | None = None
    offsets: KeyedCounts | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def count(cls, population: pd.DataFrame, profile: pd.DataFrame, as_of: dt.date | str | pd.Timestamp,
              history: pd.DataFrame | HistoryStatistics | None = None, policies: pd.DataFrame | None = None,
              policy_codes: tuple[np.ndarray, pd.Index] | None = None) -> CityStatistics:
        """The counts of one set of enterprises (a partition, or the whole city): its candidate pairs
        ``population`` (``uscc, policy_id``, string or categorical), their ``profile``, its push
        ``history`` (``date, uscc, policy_id, clicked, applied``; None when there is none — or that
        history already fitted, a :class:`HistoryStatistics` the partition ranks with later) and the
        ``policies`` frame (``policy_id, department, benefit_kind, mode``) the pushes are grouped by."""
        day = pd.Timestamp(as_of).normalize()
        pop = population_counts(population, profile, day, policy_codes=policy_codes)
        if history is None:
            return cls(day, pop)
        if isinstance(history, HistoryStatistics):
            before = history.frame.loc[(pd.to_datetime(history.frame["date"]).dt.normalize() < day).to_numpy(dtype=bool)]
            return cls(day, pop, history.totals(before=day), offset_counts(before))
        missing = [c for c in ("date", "uscc", "policy_id", "clicked", "applied") if c not in history.columns]
        if missing:
            raise ValueError(f"push history: missing column(s) {', '.join(missing)}")
        dates = pd.to_datetime(history["date"], errors="coerce").dt.normalize()
        if dates.isna().any():
            raise ValueError(f"push history: {int(dates.isna().sum())} row(s) with an unreadable date")
        before = history.loc[(dates < day).to_numpy(dtype=bool)]
        totals = HistoryStatistics.fit(before, profile, policies, only=CITY_TABLES).totals()
        return cls(day, pop, totals, offset_counts(before))

    @classmethod
    def sum(cls, parts: list[CityStatistics]) -> CityStatistics:
        """The city's statistics: the counts of every partition added up (exact; any order, any split)."""
        if not parts:
            raise ValueError("CityStatistics.sum needs at least one partition's counts")
        days = {p.as_of for p in parts}
        if len(days) != 1:
            raise ValueError(f"city statistics of different dates: {sorted(str(d.date()) for d in days)}")
        with_history = {p.history is not None for p in parts}
        if len(with_history) != 1:
            raise ValueError("some partitions counted a push history and some did not")
        history = offsets = None
        if parts[0].history is not None:
            names = set().union(*(p.history for p in parts))  # type: ignore[arg-type]
            history = {n: KeyedCounts.sum([p.history[n] for p in parts if n in p.history]) for n in sorted(names)}  # type: ignore[index,operator]
            offsets = KeyedCounts.sum([p.offsets for p in parts])  # type: ignore[misc]
        return cls(days.pop(), PopulationCounts.sum([p.population for p in parts]), history, offsets)

    # -- what the rankers read ----------------------------------------------------------------------
    def population_statistics(self, top: int = 64) -> PopulationStatistics:
        """The targeting statistics (reach, lifts, overlaps with the ``top`` tokens of the city)."""
        key = f"population:{top}"
        if key not in self._cache:
            self._cache[key] = PopulationStatistics.from_counts(self.population, top=top)
        return self._cache[key]

    def history_tables(self) -> dict[str, pd.DataFrame] | None:
        """The city-level history tables as of the day (None without a push history)."""
        if self.history is None:
            return None
        if "history" not in self._cache:
            self._cache["history"] = HistoryStatistics.city_tables(self.history, self.as_of)
        return self._cache["history"]

    def policies_with_candidates(self) -> pd.Index:
        """The policy ids that have at least one candidate in the city today."""
        pol = self.population.policies
        live = (pol.codes[:, 0] >= 0) & (pol.values[:, 0] > 0)
        return pd.Index(pol.keys[0].take(pol.codes[live, 0]), dtype="string")

    def prepared(self) -> CityStatistics:
        """Self, with the lookups the rankers read built once (before it is shipped to executors)."""
        self.population_statistics()
        self.history_tables()
        return self
