"""Ranking metrics over grouped candidates, vectorised over whole columns.

A *group* is one (enterprise, push date): the list the enterprise would read that day.  Relevance is
graded (0 none, 1 click, 2 apply, 3 approve).  NDCG uses the exponential gain ``2**rel - 1`` (LightGBM's
default label gain for lambdarank, so offline numbers and the training objective agree).  Groups with no
relevant item cannot be ranked well or badly and are left out of NDCG, MAP, recall and MRR (their count is
reported); catalogue coverage and exposure use every group, because every list is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def _group_codes(frame: pd.DataFrame, group: Sequence[str]) -> np.ndarray:
    return frame.groupby(list(group), sort=False, observed=True).ngroup().to_numpy()


def ranks_within_groups(group_codes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """1-based position of every row in its group when sorted by descending score.

    Ties keep input order (a stable sort), so the same input always gives the same ranking.
    """
    scores = np.asarray(scores, dtype=float)
    order = np.lexsort((np.arange(len(scores)), -np.nan_to_num(scores, nan=-np.inf), group_codes))
    sorted_groups = group_codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    pos_sorted = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = pos_sorted + 1
    return ranks


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative exposures: 0 = perfectly even, → 1 = all on one item."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def ranking_metrics(
    frame: pd.DataFrame,
    scores: np.ndarray,
    *,
    label: str = "relevance",
    group: Sequence[str] = ("uscc", "date"),
    k: int = 5,
    relevant_from: int = 1,
) -> dict[str, float]:
    """NDCG@k, MAP@k, recall@k and MRR of ``scores`` against the graded ``label``.

    ``relevant_from`` is the grade that counts as relevant for the binary metrics (MAP, recall, MRR).
    """
    if len(frame) != len(scores):
        raise ValueError(f"{len(scores)} scores for {len(frame)} candidate rows")
    codes = _group_codes(frame, group)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    rel = frame[label].to_numpy(dtype=float)
    rank = ranks_within_groups(codes, scores)
    top = rank <= k

    gain = np.power(2.0, rel) - 1.0
    dcg = np.bincount(codes, weights=np.where(top, gain / np.log2(rank + 1.0), 0.0), minlength=n_groups)
    ideal_rank = ranks_within_groups(codes, rel)
    idcg = np.bincount(
        codes, weights=np.where(ideal_rank <= k, gain / np.log2(ideal_rank + 1.0), 0.0), minlength=n_groups
    )
    has_rel_graded = idcg > 0

    binary = rel >= relevant_from
    n_rel = np.bincount(codes, weights=binary.astype(float), minlength=n_groups)
    has_rel = n_rel > 0
    hits_top = np.bincount(codes, weights=(binary & top).astype(float), minlength=n_groups)
    # precision at each relevant position within the top k: (#relevant at or above rank) / rank
    order = np.lexsort((rank, codes))
    cum_rel = np.zeros(len(rel))
    b_sorted = binary[order].astype(float)
    cs = np.cumsum(b_sorted)
    g_sorted = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1] if len(g_sorted) else np.array([], dtype=int)
    offset = np.repeat(cs[starts] - b_sorted[starts], np.diff(np.r_[starts, len(g_sorted)])) if len(g_sorted) else cs
    cum_rel[order] = cs - offset
    prec_at = np.where(binary & top, cum_rel / rank, 0.0)
    ap = np.bincount(codes, weights=prec_at, minlength=n_groups) / np.maximum(np.minimum(n_rel, k), 1.0)
    first_rel = np.full(n_groups, np.inf)
    np.minimum.at(first_rel, codes[binary], rank[binary].astype(float))
    rr = np.where(np.isfinite(first_rel), 1.0 / first_rel, 0.0)

    def mean(x: np.ndarray, mask: np.ndarray) -> float:
        return float(x[mask].mean()) if mask.any() else float("nan")

    return {
        f"ndcg@{k}": mean(dcg / np.where(has_rel_graded, idcg, 1.0), has_rel_graded),
        f"map@{k}": mean(ap, has_rel),
        f"recall@{k}": mean(hits_top / np.maximum(n_rel, 1.0), has_rel),
        "mrr": mean(rr, has_rel),
        "groups": float(n_groups),
        "groups_with_relevant": float(has_rel.sum()),
    }


def exposure(
    frame: pd.DataFrame,
    scores: np.ndarray,
    *,
    group: Sequence[str] = ("uscc", "date"),
    k: int = 5,
    catalogue: Sequence[str] | None = None,
    district: str | None = "district_code",
) -> dict[str, object]:
    """Who gets shown: catalogue coverage and the concentration (Gini) of top-k exposure.

    Coverage is the share of the catalogue (every policy in ``catalogue``, default: every candidate policy)
    that appears in at least one top-k list.  Gini is over policies' top-k counts, overall and within each
    district (``district`` column of the frame; the first four digits, i.e. the prefecture's districts).
    """
    codes = _group_codes(frame, group)
    rank = ranks_within_groups(codes, scores)
    top = rank <= k
    shown = frame.loc[top, "policy_id"]
    cat = pd.Index(pd.unique(frame["policy_id"]) if catalogue is None else pd.unique(np.asarray(catalogue)))
    counts = shown.value_counts().reindex(cat, fill_value=0)
    out: dict[str, object] = {
        f"coverage@{k}": float((counts > 0).mean()) if len(cat) else float("nan"),
        f"gini_policy@{k}": gini(counts.to_numpy()),
    }
    if district and district in frame.columns:
        d = frame.loc[top, district].astype("string").fillna("unknown")
        table = (
            pd.DataFrame({"district": d.to_numpy(), "policy_id": shown.to_numpy()})
            .value_counts()
            .rename("shown")
            .reset_index()
        )
        per = {}
        for name, sub in table.groupby("district", sort=True):
            per[str(name)] = gini(sub.set_index("policy_id")["shown"].reindex(cat, fill_value=0).to_numpy())
        district_counts = d.value_counts()
        out[f"gini_district@{k}"] = gini(district_counts.to_numpy())
        out["gini_policy_by_district"] = per
    return out


def evaluate(
    frame: pd.DataFrame,
    scores: Mapping[str, np.ndarray],
    *,
    label: str = "relevance",
    group: Sequence[str] = ("uscc", "date"),
    ks: Sequence[int] = (1, 3, 5, 10),
    catalogue: Sequence[str] | None = None,
    relevant_from: int = 1,
) -> pd.DataFrame:
    """Compare rankers on one candidate set: one row per ranker, one column per metric.

    ``scores`` maps a ranker's name (model, rule, popularity, oracle, …) to its scores for the rows of
    ``frame``.  Columns: ``ndcg@k, map@k, recall@k`` for every k, ``mrr``, ``coverage@k``, ``gini_policy@k``,
    ``gini_district@k`` (for the largest k), and when an ``oracle`` is present, ``ndcg@k_vs_oracle``.
    """
    rows = {}
    kmax = max(ks)
    for name, s in scores.items():
        s = np.asarray(s, dtype=float)
        row: dict[str, float] = {}
        for k in ks:
            m = ranking_metrics(frame, s, label=label, group=group, k=k, relevant_from=relevant_from)
            row.update({key: v for key, v in m.items() if key.endswith(f"@{k}")})
            row["mrr"], row["groups"], row["groups_with_relevant"] = m["mrr"], m["groups"], m["groups_with_relevant"]
        e = exposure(frame, s, group=group, k=kmax, catalogue=catalogue)
        row.update({key: v for key, v in e.items() if not isinstance(v, dict)})
        rows[name] = row
    report = pd.DataFrame.from_dict(rows, orient="index")
    report.index.name = "ranker"
    if "oracle" in report.index:
        for k in ks:
            report[f"ndcg@{k}_vs_oracle"] = report[f"ndcg@{k}"] / report.loc["oracle", f"ndcg@{k}"]
    return report
