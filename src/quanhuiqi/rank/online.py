"""One enterprise at a time, for the platform backend: its policies ranked and explained in milliseconds.

A ranker's features measure a pair against the day's whole candidate population (how narrowly a policy
targets this industry, district, size; uptake in the enterprise's segment; its own past engagement), so
an online answer needs those statistics without recomputing them per call.  :class:`OnlineRanker` fits
them once — from the population the daily batch evaluated, its profile and the push history — and then
answers each call with the book's online matcher (``PolicyBook.match``) and a transform of that one
enterprise's pairs: the same scores and reasons the batch gives that enterprise (tested).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.rank.pairs import assemble_pairs, policy_frame
from quanhuiqi.tables.in_force import active_suppressions, grants_in_force

RECOMMENDATION_COLUMNS = ["uscc", "policy_id", "verdict", "unknown", "evidence", "mode", "amount", "score",
                          "rank", "reason"]


class OnlineRanker:
    """The day's ranking, served per enterprise.

    ``scorer``: a :class:`~quanhuiqi.rank.PairScorer` — the rule scorer, popularity or a loaded LambdaRank model
    (``load_ranker("NAME@ALIAS")``); ``book``: the policy book; ``population``: every candidate pair of the
    day (``uscc, policy_id`` [, ``verdict, unknown``] — the eligibility pairs the batch computed);
    ``profile``: the profiles of those enterprises; ``history``: the push history before ``as_of``;
    ``grants`` and ``suppressions`` (validated, as the daily job reads them): pairs already granted on or
    before ``as_of``, and pairs under a suppression in force, are never recommended — the same holds as
    the daily job's ``granted`` and ``suppressed`` rules.
    """

    def __init__(self, scorer: Any, book: Any, population: pd.DataFrame, profile: pd.DataFrame,
                 as_of: dt.date | str, history: pd.DataFrame | None = None, *,
                 grants: pd.DataFrame | None = None, suppressions: pd.DataFrame | None = None) -> None:
        self.scorer = scorer
        self.book = book
        self.as_of = as_of
        self.policies = policy_frame(book)
        held = [_keys(t) for t in (grants_in_force(grants, as_of), active_suppressions(suppressions, as_of))
                if t is not None and len(t)]
        self._held = pd.Index(np.concatenate(held) if held else np.array([], dtype=object))
        self.builder = scorer.fit_builder(population, profile, self.policies, as_of, history)

    def recommend(self, profile_row: pd.Series | dict[str, Any], top: int | None = None,
                  include_auto: bool = False, reasons: bool = True) -> pd.DataFrame:
        """The enterprise's eligible and undetermined policies, best first, each with its score, rank and
        reason (``RECOMMENDATION_COLUMNS``). ``profile_row``: its profile (a row of ``profile()``'s output,
        or the same as a dict, e.g. from JSON). 免申即享 pairs (mode auto, eligible) are granted without
        an application, so they are left out unless ``include_auto``; ``top`` keeps the first N."""
        row = profile_row if isinstance(profile_row, pd.Series) else pd.Series(profile_row)
        pairs = self.book.match(row, self.as_of)
        if len(self._held):  # granted already, or disputed and suppressed
            pairs = pairs.loc[~pd.Index(_keys(pairs)).isin(self._held)].reset_index(drop=True)
        if not include_auto:
            auto = (pairs["mode"] == "auto") & (pairs["verdict"] == "eligible")
            pairs = pairs.loc[~auto.fillna(False).to_numpy()].reset_index(drop=True)
        if pairs.empty:
            return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("amount", "score") else
                                              "int64" if c == "rank" else "string") for c in RECOMMENDATION_COLUMNS})
        profile = pd.DataFrame([row.to_dict()])
        feats = self.builder.transform(assemble_pairs(pairs, profile, self.policies, self.as_of, only_features=True))
        score = np.asarray(self.scorer.score_features(feats), dtype="float64")
        out = pairs.assign(score=score)
        if reasons:
            out["reason"] = self.scorer.explain_features(feats, unknown=pairs["unknown"]).to_numpy()
        else:
            out["reason"] = pd.array([pd.NA] * len(out), dtype="string")
        order = np.lexsort((out["policy_id"].astype(str).to_numpy(), -score))  # ties: by policy id
        out = out.iloc[order].reset_index(drop=True)
        out["rank"] = np.arange(1, len(out) + 1, dtype="int64")
        return (out if top is None else out.head(top))[RECOMMENDATION_COLUMNS]


def _keys(frame: pd.DataFrame) -> np.ndarray:
    """``uscc␟policy_id`` per row (missing parts never match a pair)."""
    u = frame["uscc"].astype("string")
    p = frame["policy_id"].astype("string")
    return (u + "\x1f" + p).fillna("\x1e").to_numpy(dtype=object)
