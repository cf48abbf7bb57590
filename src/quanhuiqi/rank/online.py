"""One enterprise at a time, for the platform backend: its policies ranked and explained in milliseconds.

A ranker's features measure a pair against the day's whole candidate population (how narrowly a policy
targets this industry, district, size; uptake in the enterprise's segment; its own past engagement), so
an online answer needs those statistics without recomputing them per call.  :class:`OnlineRanker` fits
them once — from the population the daily batch evaluated, its profile and the push history — and then
answers each call with the book's online matcher (``PolicyBook.match``) and that one enterprise's features
computed in numpy (:mod:`quanhuiqi.rank.online_features`): the same scores and reasons the batch gives that
enterprise (tested), in about a millisecond.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.eligibility.online import as_of_date
from quanhuiqi.rank.online_features import OnlineFeatures
from quanhuiqi.rank.pairs import policy_frame
from quanhuiqi.tables.in_force import active_suppressions, grants_in_force
from quanhuiqi.tables.io import InputError

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
    the daily job's ``granted`` and ``suppressed`` rules.  ``city``: the day's
    :class:`~quanhuiqi.rank.city.CityStatistics` — the object the daily job ranked against; by default
    they are counted from ``population``, ``profile`` and ``history`` (the whole city as one partition,
    which is what the daily job's summed partitions equal).

    Construction reads the statistics once into per-policy arrays (:class:`OnlineFeatures`); a call
    then costs the online matcher, a few numpy operations over the enterprise's pairs and the scorer.
    """

    def __init__(self, scorer: Any, book: Any, population: pd.DataFrame | None, profile: pd.DataFrame,
                 as_of: dt.date | str, history: pd.DataFrame | None = None, *,
                 grants: pd.DataFrame | None = None, suppressions: pd.DataFrame | None = None,
                 city: Any = None) -> None:
        from quanhuiqi.rank.city import CityStatistics

        self.scorer = scorer
        self.book = book
        self.as_of = as_of
        self.policies = policy_frame(book)
        held = [_keys(t) for t in (grants_in_force(grants, as_of), active_suppressions(suppressions, as_of))
                if t is not None and len(t)]
        self._held = set(np.concatenate(held).tolist()) if held else set()
        if city is None:
            if population is None:
                raise ValueError("OnlineRanker needs the day's population or its CityStatistics")
            hist = history if history is not None and {"clicked", "applied"} <= set(history.columns) else None
            city = CityStatistics.count(population, profile, as_of, history=hist, policies=self.policies)
        self.city = city.prepared()
        if city.history is None:
            history = None
        self.builder = scorer.fit_builder(population, profile, self.policies, as_of, history, city=self.city)
        self.features = OnlineFeatures(self.builder, self.policies, as_of)
        if hasattr(scorer, "online_tables"):  # a tree model: its reason tables, built now rather than on a call
            scorer.online_tables()
        self._matcher = book._online
        self._records: tuple[Any, Any] | None = None  # the one-record validator and profiler, made when first used
        self._facts: Any = None  # the one-record fact validator, made when first used

    def recommend(self, profile_row: pd.Series | dict[str, Any], top: int | None = None,
                  include_auto: bool = False, reasons: bool = True, facts: Any = None) -> pd.DataFrame:
        """The enterprise's eligible and undetermined policies, best first, each with its score, rank and
        reason (``RECOMMENDATION_COLUMNS``). ``profile_row``: its profile (a row of ``profile()``'s output,
        or the same as a dict, e.g. from JSON); ``facts``: its fact tables (``{table: [records]}``), as
        ``book.match`` takes them. 免申即享 pairs (mode auto, eligible) are granted without an
        application, so they are left out unless ``include_auto``; ``top`` keeps the first N (only their
        reasons are built)."""
        row = profile_row.to_dict() if isinstance(profile_row, pd.Series) else dict(profile_row)
        if isinstance(facts, dict):  # {table: [records]}: validated as the batch validates its fact tables
            facts = self._fact_validator().facts(facts, str(row.get("uscc")))
        if self.book.compiled.derived_fields:  # the derived facts the features read too (amount bases …)
            row = self._matcher.with_derived(row, as_of_date(self.as_of), facts)
            facts = None
        cols, evidence_of = self._matcher.match_lazy(row, self.as_of, facts)
        n = len(cols["policy_id"])
        if self._held or not include_auto:
            keep = [i for i in range(n) if self._open(cols, i, include_auto)]
        else:
            keep = list(range(n))
        if not keep:
            return _empty()
        pick = {c: [cols[c][i] for i in keep] for c in cols}
        F = self.features.features(row, pick["policy_id"], pick["verdict"], pick["unknown"], pick["mode"])
        names = self.features.names
        score = np.asarray(self.scorer.score_matrix(F, names), dtype="float64")
        order = np.lexsort((np.array(pick["policy_id"], dtype=object), -score))  # ties: by policy id
        if top is not None:
            order = order[:top]
        ol = order.tolist()
        out: dict[str, Any] = {c: [pick[c][i] for i in ol] for c in RECOMMENDATION_COLUMNS[:6] if c != "evidence"}
        out["evidence"] = evidence_of([keep[i] for i in ol])  # evidence only for the pairs returned
        out = {c: out[c] for c in RECOMMENDATION_COLUMNS[:6]}
        why = (self.scorer.explain_matrix(F[order], names, out["unknown"]) if reasons
               else [None] * len(order))
        data = {c: pd.array(v, dtype="string") for c, v in out.items()}
        data["amount"] = np.array([pick["amount"][i] for i in order], dtype="float64")
        data["score"] = score[order]
        data["rank"] = np.arange(1, len(order) + 1, dtype="int64")
        data["reason"] = pd.array(why, dtype="string")
        return pd.DataFrame(data, copy=False)

    def recommend_record(self, record: dict[str, Any], facts: Any = None, top: int | None = None,
                         include_auto: bool = False, reasons: bool = True) -> RecordAnswer:
        """One raw enterprise record, as the backend holds it (the registry's fields and any it has just
        been given), validated, profiled, matched and ranked at once: what the batch answers for a table
        holding that record (``validate_enterprises`` → ``profile`` → eligibility → ranking against the
        day's statistics).

        ``facts``: the enterprise's fact records (``{table: [records]}``: certificates, yearly figures …),
        validated as the batch validates its fact tables.  A record the batch would refuse (no or an
        invalid uscc, no name) raises :class:`RecordRefused` naming the column and the reason; values it
        would clear are cleared (unknown) and listed in the answer's ``rejects``, as the batch's rejects
        table lists them."""
        if self._records is None:
            from quanhuiqi.profile.record import RecordProfiler
            from quanhuiqi.tables.record import RecordValidator

            self._records = (RecordValidator(self.as_of), RecordProfiler(self.as_of))
        validator, profiler = self._records
        checked = validator.validate(record)
        if not checked.ok:
            raise RecordRefused(checked)
        prof = profiler.profile(checked.clean)
        recs = self.recommend(prof, top=top, include_auto=include_auto, reasons=reasons, facts=facts)
        return RecordAnswer(recs, checked, prof)

    def _fact_validator(self):
        """The one-record fact validator (the batch's rules, the book's vocabularies), made when first used."""
        if self._facts is None:
            from quanhuiqi.tables.fact_record import FactRecordValidator

            self._facts = FactRecordValidator(self.as_of, self.book.table_vocabularies())
        return self._facts

    def _open(self, cols: dict[str, list], i: int, include_auto: bool) -> bool:
        """Not granted, not under a suppression, and (unless asked) not a 免申即享 grant."""
        if self._held and f"{cols['uscc'][i]}\x1f{cols['policy_id'][i]}" in self._held:
            return False
        return include_auto or not (cols["mode"][i] == "auto" and cols["verdict"][i] == "eligible")


@dataclass
class RecordAnswer:
    """:meth:`OnlineRanker.recommend_record`'s answer: the recommendations, the record's validation
    (``rejects``: the values cleared, as the batch's rejects table lists them) and its profile."""

    recommendations: pd.DataFrame
    validated: Any
    profile: dict[str, Any]

    @property
    def rejects(self) -> pd.DataFrame:
        return self.validated.rejects


class RecordRefused(InputError):
    """A record the batch would refuse (``row_rejected``): the message names each column and reason."""

    def __init__(self, validated: Any) -> None:
        self.validated = validated
        super().__init__("enterprise record refused: " + "; ".join(validated.refused))

    @property
    def rejects(self) -> pd.DataFrame:
        return self.validated.rejects


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("amount", "score") else
                                      "int64" if c == "rank" else "string") for c in RECOMMENDATION_COLUMNS})


def _keys(frame: pd.DataFrame) -> np.ndarray:
    """``uscc␟policy_id`` per row (missing parts never match a pair)."""
    u = frame["uscc"].astype("string")
    p = frame["policy_id"].astype("string")
    return (u + "\x1f" + p).fillna("\x1e").to_numpy(dtype=object)
