"""The per-partition functions of the daily job: one enterprise partition in, its decisions out.

Enterprises are split into partitions by a stable hash of the (normalised) uscc; every state row
(push history, grants, suppressions) goes to its enterprise's partition.  The local run loops over
the partitions, Spark maps the same functions over them (``quanhuiqi.spark``), so both give the
same result.  An enterprise's pairs never leave its partition, so the per-enterprise rules (the K
cap, 就高不重复, the shortlist) are partition-local.

The ranker's statistics are the city's, whatever the partitioning: two passes.  ``count_partition``
profiles the partition, computes its verdicts and returns its additive counts
(:class:`~quanhuiqi.rank.city.CityStatistics`) with a :class:`PartitionState` that the job stages to
disk; the driver sums the counts; ``rank_partition`` takes the staged state back and pre-scores, ranks
and applies the rules against the city's figures.  ``process_partition`` runs both on one partition
that is the whole city.
"""

from __future__ import annotations

import math
import os
import pickle
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from quanhuiqi.push.progress import StageClock
from quanhuiqi.push.rules import CANDIDATE_COLUMNS, PushRules, apply_push_rules
from quanhuiqi.tables.uscc import normalize_uscc

NEAR_MISS_COLUMNS = ["uscc", "policy_id", "failed", "gap"]


def n_partitions(cfg: dict, enterprise_rows: int) -> int:
    """The configured number of partitions, or ceil(rows / partition_size) when it is 0."""
    p = int(cfg["run"]["partitions"])
    if p > 0:
        return p
    return max(1, math.ceil(enterprise_rows / max(1, int(cfg["run"]["partition_size"]))))


def _per_distinct_uscc(uscc: pd.Series, of_codes: Callable[[Any], np.ndarray]) -> np.ndarray:
    """``of_codes`` applied once per distinct normalised uscc and spread to the rows (missing → 0)."""
    codes, uniques = pd.factorize(normalize_uscc(uscc.astype("string")), use_na_sentinel=True)
    per_unique = of_codes(uniques)
    out = np.zeros(len(codes), dtype=np.int64)
    ok = codes >= 0
    out[ok] = per_unique[codes[ok]]
    return out


def partition_of(uscc: pd.Series, partitions: int) -> np.ndarray:
    """Stable partition number of each uscc (CRC-32 of the normalised code; missing → 0)."""
    return _per_distinct_uscc(uscc, lambda uniques: np.fromiter(
        (zlib.crc32(u.encode("utf-8")) % partitions for u in uniques), dtype=np.int64, count=len(uniques)))


@dataclass
class DayContext:
    """What every partition shares: the date, the policy book, the ranker and the rules."""

    as_of: pd.Timestamp
    book: Any
    scorer: Any
    rules: PushRules
    policies: pd.DataFrame  # policy_id, mode, valid_from, valid_to
    shortlist: int = 0  # rank only each enterprise's N best open pairs by the pre-score (0 = all)
    near_miss_per_enterprise: int = 0  # 0 = every near miss
    policy_term: pd.DataFrame | None = None  # the pre-score's per-policy terms (prescore.policy_terms)
    sources: Any = None  # where the book's facts come from (policy.readiness.SourceMap): readiness counts
    rank_policies: pd.DataFrame | None = None  # the ranker's policy frame (rank.pairs.policy_frame)
    city: Any = None  # the day's CityStatistics, summed over the partitions (set between the passes)


@dataclass
class PartitionState:
    """What the first pass of a partition leaves for the second: its clean enterprises' names, its
    profile and verdicts (the eligibility pairs, near misses, blocked pairs) and its state tables —
    everything ``rank_partition`` needs, so eligibility runs once."""

    names: pd.DataFrame  # uscc, name
    enterprises: int
    profile: pd.DataFrame
    pairs: pd.DataFrame
    near_misses: pd.DataFrame | None
    blocked: pd.DataFrame
    history: pd.DataFrame | None
    grants: pd.DataFrame | None
    suppressions: pd.DataFrame | None
    timings: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per stage (``timings`` is wall)
    readiness: Any = None  # the partition's readiness counts (policy.readiness), when the report has them
    history_statistics: Any = None  # the partition's push history, fitted (rank.history.HistoryStatistics)


@dataclass
class PartitionResult:
    push_list: pd.DataFrame
    held_back: pd.DataFrame
    auto_grant: pd.DataFrame
    near_miss: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


def policy_frame(book: Any) -> pd.DataFrame:
    p = book.policies
    return pd.DataFrame(
        {
            "policy_id": p["policy_id"].astype("string"),
            "mode": p["mode"].astype("string"),
            "valid_from": pd.to_datetime(p["valid_from"], errors="coerce").astype("datetime64[ns]"),
            "valid_to": pd.to_datetime(p["valid_to"], errors="coerce").astype("datetime64[ns]"),
        }
    ).drop_duplicates("policy_id")


def _near_miss(state: Any) -> pd.DataFrame:
    nm = getattr(state, "near_misses", None)
    if nm is None:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in NEAR_MISS_COLUMNS})
    nm = nm.reset_index(drop=True).copy()
    nm["uscc"] = nm["uscc"].astype("string")
    nm["policy_id"] = nm["policy_id"].astype("string")
    return nm


def value_counts(s: pd.Series) -> dict[str, int]:
    """Counts per value (missing as ``(unknown)``, zero counts dropped); a Categorical is counted on its codes."""
    if isinstance(s.dtype, pd.CategoricalDtype):  # counted on the codes
        vc = s.value_counts(dropna=False)
        vc = vc[vc > 0]
        return {("(unknown)" if pd.isna(k) else str(k)): int(v) for k, v in vc.items()}
    vc = s.astype("string").fillna("(unknown)").value_counts()
    return {str(k): int(v) for k, v in vc.items()}


def _scorer_history(history: pd.DataFrame | None) -> pd.DataFrame | None:
    """The history the ranker reads (its engagement features need clicked/applied)."""
    if history is None or not {"clicked", "applied"} <= set(history.columns):
        return None
    return history


def _prescore_weights(scorer: Any) -> dict[str, float]:
    from quanhuiqi.rank import RuleScorer

    return dict(getattr(scorer, "weights", None) or RuleScorer.DEFAULT_WEIGHTS)


def count_partition(
    clean: pd.DataFrame,
    ctx: DayContext,
    *,
    history: pd.DataFrame | None,
    grants: pd.DataFrame | None,
    suppressions: pd.DataFrame | None,
    facts: Any = None,
) -> tuple[PartitionState, Any]:
    """First pass: profile → eligibility, and the partition's additive ranking counts
    (:meth:`~quanhuiqi.rank.city.CityStatistics.count` over its candidates, profile and push history)."""
    from quanhuiqi.eligibility import evaluate, with_facts
    from quanhuiqi.profile import profile
    from quanhuiqi.rank.city import CityStatistics
    from quanhuiqi.rank.history import HistoryStatistics

    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    clock = StageClock(timings, cpu)
    prof = profile(clean, ctx.as_of)
    if ctx.book.compiled.derived_fields:  # record tests, yearly figures, declarations: columns of the profile
        prof = with_facts(ctx.book, prof, facts, ctx.as_of)
    clock.lap("profile")

    res = evaluate(ctx.book, prof, ctx.as_of, evidence=False, categorical=True,
                   near_miss_per_enterprise=ctx.near_miss_per_enterprise or None, grants=grants)
    cand = res.pairs.reset_index(drop=True)
    clock.lap("eligibility")

    readiness = None
    if ctx.sources is not None:  # 免申即享 readiness: additive counts over the verdicts as they come
        from quanhuiqi.policy.readiness import readiness_counts

        clock.restart()
        readiness = readiness_counts(res.pairs, prof, ctx.book, ctx.as_of, ctx.sources)
        clock.lap("readiness")

    clock.restart()
    hist = _scorer_history(history)  # fitted once: its city-level totals now, its enterprise tables in pass 2
    fitted = None if hist is None else HistoryStatistics.fit(hist, prof, _rank_policies(ctx))
    counts = CityStatistics.count(cand, prof, ctx.as_of, history=fitted, policies=_rank_policies(ctx))
    clock.lap("city_counts")
    state = PartitionState(names=clean[["uscc", "name"]], enterprises=len(clean), profile=prof, pairs=cand,
                           near_misses=getattr(res, "near_misses", None), blocked=res.blocked, history=history,
                           grants=grants, suppressions=suppressions, timings=timings, cpu=cpu, readiness=readiness,
                           history_statistics=fitted)
    return state, counts


def rank_partition(state: PartitionState, ctx: DayContext) -> PartitionResult:
    """Second pass: the score-independent rules → pre-score shortlist → rank → K cap, against the city's
    statistics ``ctx.city``.  Evidence is built only for the pairs published (pushed, 免申即享); the
    ranker's features only for the pairs it has to order."""
    from quanhuiqi.eligibility import evidence_for
    from quanhuiqi.push.prescore import prescore
    from quanhuiqi.push.rules import hold_before_ranking, shortlist

    if ctx.city is None:
        raise ValueError("rank_partition needs the city's statistics (ctx.city): sum the partitions' counts first")
    timings, cpu = dict(state.timings), dict(state.cpu)
    clock = StageClock(timings, cpu)
    prof, cand, history = state.profile, state.pairs, state.history
    grants, suppressions = state.grants, state.suppressions
    pol = ctx.policies
    at = pd.Index(pol["policy_id"]).get_indexer(cand["policy_id"].cat.categories)
    per_policy = cand["policy_id"].cat.codes.to_numpy()
    cand["valid_from"] = pol["valid_from"].to_numpy()[at][per_policy]
    cand["valid_to"] = pol["valid_to"].to_numpy()[at][per_policy]
    cand["evidence"] = pd.array(pa.nulls(len(cand), pa.large_string()), dtype="string")  # built for published pairs only
    status = prof[["uscc", "status"]] if "status" in prof else None
    holds = hold_before_ranking(cand, as_of=ctx.as_of, rules=ctx.rules, history=history, grants=grants,
                                suppressions=suppressions, status=status, unique=True,
                                exclusive_groups=exclusive_groups(ctx.book))
    to_rank = holds.open
    if ctx.shortlist > 0 and ctx.policy_term is not None:
        pre = prescore(cand, ctx.policy_term, _prescore_weights(ctx.scorer), profile=prof,
                       city=ctx.city.population_statistics())
        to_rank = shortlist(holds, pre, ctx.shortlist, ctx.rules)
    clock.lap("rules_before_ranking")

    score = np.full(len(cand), np.nan)
    ranked = np.flatnonzero(to_rank)
    feats = None
    hist = None
    if ctx.city.history is not None:  # the enterprise-level tables fitted in the first pass
        hist = state.history_statistics if state.history_statistics is not None else _scorer_history(history)
    if ranked.size:
        sub = cand.iloc[ranked].reset_index(drop=True)
        feats = ctx.scorer.features(sub, prof, ctx.book, ctx.as_of, history=hist, city=ctx.city)
        score[ranked] = np.asarray(ctx.scorer.score_features(feats), dtype=np.float64)
    cand["score"] = score
    clock.lap("rank")

    decision = apply_push_rules(
        cand[CANDIDATE_COLUMNS],
        as_of=ctx.as_of,
        rules=ctx.rules,
        names=state.names,
        holds=holds,
    )
    clock.lap("rules")

    push_list = decision.push_list
    if len(push_list) and feats is not None:
        # the ranker's reason for the pushed pairs only (tags added by the rules stay in front)
        rows = pd.Index(holds.keys.key[ranked]).get_indexer(holds.keys.of(push_list))
        have = rows >= 0
        if have.any():
            unknown = cand["unknown"].iloc[ranked[rows[have]]].reset_index(drop=True)
            why = ctx.scorer.explain_features(feats.iloc[rows[have]].reset_index(drop=True), unknown=unknown)
            push_list = push_list.copy()  # its reason holds only the rules' tags so far (no evidence was given)
            tags = push_list["reason"].iloc[np.flatnonzero(have)].fillna("").to_numpy(dtype=object)
            push_list.loc[have, "reason"] = tags + why.fillna("").to_numpy(dtype=object)
    auto_grant = decision.auto_grant
    if len(auto_grant):
        auto_grant = auto_grant.assign(evidence=evidence_for(ctx.book, prof, auto_grant))
    clock.lap("evidence")
    per_district: dict[str, int] = {}
    if "district_code" in prof and len(push_list):
        d = push_list[["uscc"]].merge(prof[["uscc", "district_code"]].astype("string"), on="uscc", how="left")
        per_district = value_counts(d["district_code"])
    stats = {
        "enterprises": state.enterprises,
        "candidates_per_verdict": value_counts(cand["verdict"]) if len(cand) else {},
        "pushed_per_district": per_district,
        "timings": timings,
        "cpu": cpu,
    }
    if state.readiness is not None:  # 免申即享 readiness: additive counts (first pass), summed on the driver
        stats["readiness"] = state.readiness
    held_back = decision.held_back
    if len(state.blocked):  # ruled out by once / exclusive against the grants history: accounted as held back
        held_back = pd.concat([held_back.astype({"uscc": "string", "policy_id": "string"}),
                               blocked_rows(state.blocked, ctx)], ignore_index=True)
        held_back = held_back.sort_values(["uscc", "policy_id"], kind="stable").reset_index(drop=True)
        stats["blocked_per_rule"] = value_counts(state.blocked["rule"])
    return PartitionResult(
        push_list=push_list,
        held_back=held_back,
        auto_grant=auto_grant,
        near_miss=_near_miss(state),
        stats=stats,
    )


def process_partition(
    clean: pd.DataFrame,
    ctx: DayContext,
    *,
    history: pd.DataFrame | None,
    grants: pd.DataFrame | None,
    suppressions: pd.DataFrame | None,
    facts: Any = None,
) -> PartitionResult:
    """Both passes on one partition: ranked against ``ctx.city`` when it is set, else against this
    partition's own counts (the partition is the whole city)."""
    from dataclasses import replace

    from quanhuiqi.rank.city import CityStatistics

    state, counts = count_partition(clean, ctx, history=history, grants=grants, suppressions=suppressions,
                                    facts=facts)
    if ctx.city is None:
        ctx = replace(ctx, city=CityStatistics.sum([counts]))
    return rank_partition(state, ctx)


def stage_state(state: Any, path: str | os.PathLike) -> Path:
    """Write what a run stages between its steps to ``path``: a partition's first-pass state for
    ``rank_partition`` in the second pass, or what a Spark run's tasks leave for the driver or for each other
    (counts, payloads, the matcher's index).  Pickle, protocol 5: categorical pairs and Arrow strings are
    written as their buffers."""
    path = Path(path)
    with open(path, "wb") as fh:
        pickle.dump(state, fh, protocol=5)
    return path


def load_state(path: str | os.PathLike) -> Any:
    """What :func:`stage_state` wrote."""
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _rank_policies(ctx: DayContext) -> pd.DataFrame:
    if ctx.rank_policies is None:
        from quanhuiqi.rank.pairs import policy_frame as ranker_policies

        ctx.rank_policies = ranker_policies(ctx.book)
    return ctx.rank_policies


def exclusive_groups(book: Any) -> dict[str, str]:
    """policy_id → exclusive group (就高不重复) of the book's policies that have one."""
    return {p.id: p.exclusive_group for p in getattr(book, "items", []) if getattr(p, "exclusive_group", None)}


def blocked_rows(blocked: pd.DataFrame, ctx: DayContext) -> pd.DataFrame:
    """``EligibilityResult.blocked`` as held-back rows: the rule and the grant that blocks each pair."""
    from quanhuiqi.push.rules import HELD_BACK_COLUMNS

    mode = ctx.policies.set_index("policy_id")["mode"]
    day = pd.Timestamp(ctx.as_of).date().isoformat()
    when = pd.to_datetime(blocked["granted_on"]).dt.strftime("%Y-%m-%d").fillna("日期未知")
    rule = blocked["rule"].astype("string").str.split(":").str[0].str.replace("once_", "once ", regex=False)
    out = pd.DataFrame({
        "date": pd.array([day] * len(blocked), dtype="string"),
        "uscc": blocked["uscc"].astype("string"),
        "policy_id": blocked["policy_id"].astype("string"),
        "verdict": blocked["verdict"].astype("string"),
        "mode": pd.array(mode.reindex(blocked["policy_id"].astype("string")).to_numpy(dtype=object), dtype="string"),
        "score": np.full(len(blocked), np.nan),
        "rule": rule.where(~rule.str.startswith("once"), "once").astype("string"),
        "detail": ("blocked by " + blocked["blocking_policy"].astype("string") + " granted on " + when).astype("string"),
    })  # fmt: skip
    return out[HELD_BACK_COLUMNS]


def split_state(frame: pd.DataFrame | None, partitions: int) -> dict[int, pd.DataFrame]:
    """A state table's rows by their enterprise's partition."""
    if frame is None:
        return {}
    return split_rows(frame, partition_of(frame["uscc"], partitions))


def split_rows(frame: pd.DataFrame, numbers: np.ndarray) -> dict[int, pd.DataFrame]:
    """A frame's rows by a number per row (a partition, a batch), in their order within each."""
    return {int(p): frame.iloc[idx].reset_index(drop=True) for p, idx in pd.Series(numbers).groupby(numbers).indices.items()}


# --- enterprise batches inside a partition ---------------------------------------------------------
#
# A partition's pairs (profile × book) are what fills memory: 200,000 enterprises × 2,000 policies are
# 30 million candidate pairs, held with their verdicts, pre-scores and held-back rows at once.  So a
# partition larger than ``run.batch_size`` enterprises is worked in batches: contiguous ranges of its
# normalised uscc codes, every state and fact row with its enterprise's batch.  Nothing an enterprise's
# decisions depend on crosses a batch (the per-enterprise rules are enterprise-local, the ranker's
# figures are the city's), so a batch is computed exactly as a small partition holding those
# enterprises; and because batches are uscc ranges taken in order, their outputs, each sorted by uscc,
# follow each other in the partition's own order.  Peak memory then grows with the batch, not with the
# partition.


def batch_bounds(uscc: pd.Series, size: int) -> np.ndarray:
    """The first normalised uscc of each batch after the first: the partition's sorted distinct codes cut
    into ``round(codes / size)`` batches of equal size (so of at most 1.5 × ``size``; a partition a little
    over ``size`` stays whole — hash partitions of the shipped size vary by a few per cent — and one a
    little under twice it is cut in two halves, not into a full batch and a crumb); empty when one batch."""
    keys = normalize_uscc(uscc.astype("string")).dropna().unique()
    n = len(keys)
    k = int(n / size + 0.5) if size > 0 else 1
    if k <= 1:
        return np.empty(0, dtype=object)
    return np.sort(np.asarray(keys, dtype=object))[(np.arange(1, k) * n) // k]


def batch_of(uscc: pd.Series, bounds: np.ndarray) -> np.ndarray:
    """The batch of each row: the range of ``bounds`` its normalised uscc falls in (missing → 0)."""
    if not len(bounds):
        return np.zeros(len(uscc), dtype=np.int64)
    return _per_distinct_uscc(uscc, lambda uniques: np.searchsorted(
        bounds, np.asarray(uniques, dtype=object), side="right").astype(np.int64))


@dataclass
class BatchInput:
    """One enterprise batch of a partition: its clean enterprises and its rows of the state and fact tables."""

    clean: pd.DataFrame
    history: pd.DataFrame | None = None
    grants: pd.DataFrame | None = None
    suppressions: pd.DataFrame | None = None
    facts: Any = None


def enterprise_batches(whole: BatchInput, size: int) -> Iterator[BatchInput]:
    """A partition's enterprises in batches of about ``size`` (0: one batch; :func:`batch_bounds`), in uscc order, each with
    its rows of the state and fact tables (a table with no rows in a batch is handed over empty, as it
    is for a partition); the whole partition as one batch when it fits."""
    bounds = batch_bounds(whole.clean["uscc"], size)
    if not len(bounds):
        yield whole
        return
    n = len(bounds) + 1

    def split(frame: pd.DataFrame | None) -> list[pd.DataFrame | None]:
        if frame is None:
            return [None] * n
        parts = split_rows(frame, batch_of(frame["uscc"], bounds))
        return [parts.pop(b, frame.iloc[:0]) for b in range(n)]

    facts = whole.facts
    ent = split(whole.clean)
    hist, grant, supp = split(whole.history), split(whole.grants), split(whole.suppressions)
    supplied = facts.supplied() if facts is not None else []
    fact_parts = {name: split(getattr(facts, name)) for name in supplied}
    del whole
    for b in range(n):
        batch_facts = facts
        if facts is not None:
            batch_facts = type(facts)()
            for name in supplied:
                setattr(batch_facts, name, fact_parts[name][b])
                fact_parts[name][b] = None
        yield BatchInput(ent[b], hist[b], grant[b], supp[b], batch_facts)
        ent[b] = hist[b] = grant[b] = supp[b] = None  # handed over: released once the batch is done
