"""The per-partition function of the daily job: one enterprise partition in, its decisions out.

Enterprises are split into partitions by a stable hash of the (normalised) uscc; every state row
(push history, grants, suppressions) goes to its enterprise's partition.  The local run loops over
the partitions, Spark maps the same function over them (``quanhuiqi.spark``), so both give the
same result.  An enterprise's pairs never leave its partition, so the per-enterprise K cap is
partition-local; the ranker's population statistics are computed within the partition.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.push.rules import CANDIDATE_COLUMNS, PushRules, apply_push_rules
from quanhuiqi.tables.uscc import normalize_uscc

NEAR_MISS_COLUMNS = ["uscc", "policy_id", "failed", "gap"]


def n_partitions(cfg: dict, enterprise_rows: int) -> int:
    """The configured number of partitions, or ceil(rows / partition_size) when it is 0."""
    p = int(cfg["run"]["partitions"])
    if p > 0:
        return p
    return max(1, math.ceil(enterprise_rows / max(1, int(cfg["run"]["partition_size"]))))


def partition_of(uscc: pd.Series, partitions: int) -> np.ndarray:
    """Stable partition number of each uscc (CRC-32 of the normalised code; missing → 0)."""
    norm = normalize_uscc(uscc.astype("string"))
    codes, uniques = pd.factorize(norm, use_na_sentinel=True)
    per_unique = np.fromiter((zlib.crc32(u.encode("utf-8")) % partitions for u in uniques), dtype=np.int64, count=len(uniques))
    out = np.zeros(len(norm), dtype=np.int64)
    ok = codes >= 0
    out[ok] = per_unique[codes[ok]]
    return out


@dataclass
class DayContext:
    """What every partition shares: the date, the policy book, the ranker and the rules."""

    as_of: pd.Timestamp
    book: Any
    scorer: Any
    rules: PushRules
    policies: pd.DataFrame  # policy_id, mode, valid_from, valid_to


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


def _near_miss(res: Any) -> pd.DataFrame:
    nm = getattr(res, "near_misses", None)
    if nm is None:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in NEAR_MISS_COLUMNS})
    nm = nm.reset_index(drop=True).copy()
    nm["uscc"] = nm["uscc"].astype("string")
    nm["policy_id"] = nm["policy_id"].astype("string")
    return nm


def _value_counts(s: pd.Series) -> dict[str, int]:
    vc = s.astype("string").fillna("(unknown)").value_counts()
    return {str(k): int(v) for k, v in vc.items()}


def _scorer_history(history: pd.DataFrame | None) -> pd.DataFrame | None:
    """The history the ranker reads (its engagement features need clicked/applied)."""
    if history is None or not {"clicked", "applied"} <= set(history.columns):
        return None
    return history


def process_partition(
    clean: pd.DataFrame,
    ctx: DayContext,
    *,
    history: pd.DataFrame | None,
    grants: pd.DataFrame | None,
    suppressions: pd.DataFrame | None,
) -> PartitionResult:
    """profile → eligibility → rank → push rules for one enterprise partition (clean rows)."""
    from quanhuiqi.eligibility import evaluate
    from quanhuiqi.profile import profile

    timings: dict[str, float] = {}
    t = time.perf_counter()
    prof = profile(clean, ctx.as_of)
    timings["profile"] = time.perf_counter() - t

    t = time.perf_counter()
    res = evaluate(ctx.book, prof, ctx.as_of)
    pairs = res.pairs.reset_index(drop=True)
    timings["eligibility"] = time.perf_counter() - t

    t = time.perf_counter()
    cand = pairs.assign(uscc=pairs["uscc"].astype("string"), policy_id=pairs["policy_id"].astype("string"))
    if len(pairs):
        hist = _scorer_history(history)
        cand["score"] = np.asarray(ctx.scorer.score(pairs, prof, ctx.book, ctx.as_of, history=hist), dtype=np.float64)
        reasons = ctx.scorer.reasons(pairs, prof, ctx.book, ctx.as_of, history=hist)
        cand["reason"] = pd.array(np.asarray(reasons, dtype=object), dtype="string")
    else:
        cand["score"] = pd.Series(dtype="float64")
        cand["reason"] = pd.Series(dtype="string")
    pol = ctx.policies
    if "mode" not in cand:
        cand = cand.merge(pol[["policy_id", "mode"]], on="policy_id", how="left")
    cand = cand.merge(pol[["policy_id", "valid_from", "valid_to"]], on="policy_id", how="left")
    timings["rank"] = time.perf_counter() - t

    t = time.perf_counter()
    status = prof[["uscc", "status"]] if "status" in prof else None
    decision = apply_push_rules(
        cand[CANDIDATE_COLUMNS + ["reason"]],
        as_of=ctx.as_of,
        rules=ctx.rules,
        history=history,
        grants=grants,
        suppressions=suppressions,
        status=status,
        names=clean[["uscc", "name"]],
    )
    per_district: dict[str, int] = {}
    if "district_code" in prof and len(decision.push_list):
        d = decision.push_list[["uscc"]].merge(prof[["uscc", "district_code"]].astype("string"), on="uscc", how="left")
        per_district = _value_counts(d["district_code"])
    timings["rules"] = time.perf_counter() - t
    stats = {
        "enterprises": len(clean),
        "candidates_per_verdict": _value_counts(cand["verdict"]) if len(cand) else {},
        "pushed_per_district": per_district,
        "timings": timings,
    }
    return PartitionResult(
        push_list=decision.push_list,
        held_back=decision.held_back,
        auto_grant=decision.auto_grant,
        near_miss=_near_miss(res),
        stats=stats,
    )


def split_state(frame: pd.DataFrame | None, partitions: int) -> dict[int, pd.DataFrame]:
    """A state table's rows by their enterprise's partition."""
    if frame is None:
        return {}
    part = partition_of(frame["uscc"], partitions)
    return {int(p): frame.iloc[idx].reset_index(drop=True) for p, idx in pd.Series(part).groupby(part).indices.items()}
