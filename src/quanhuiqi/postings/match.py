"""Match open demands to supplies: candidates → features → reciprocal scores → top-k with reasons."""

from __future__ import annotations

import datetime as dt
import os
import time

import numpy as np
import pandas as pd

from quanhuiqi.postings.candidates import PostingIndex, build_index, generate_candidates, open_sides
from quanhuiqi.postings.features import PostingFeatureBuilder, reasons
from quanhuiqi.postings.prepare import prepare_postings
from quanhuiqi.postings.scoring import PostingModelScorer, PostingRuleScorer
from quanhuiqi.postings.validate import validate_postings
from quanhuiqi.tables.parse import as_timestamp

MATCH_COLUMNS = ["demand_id", "supply_id", "rank", "score", "reasons", "score_demand", "score_supply",
                 "demand_uscc", "supply_uscc"]
NO_CANDIDATE = "暂无符合条件的供应信息"


def _is_clean(postings: pd.DataFrame) -> bool:
    return "row" in postings and pd.api.types.is_datetime64_any_dtype(postings.get("posted_on", pd.Series(dtype=str)))


def resolve_scorer(model, threads: int | None = None):
    """None → the rule scorer; ``NAME@ALIAS`` → the registered booster; a booster or scorer as is."""
    if model is None:
        return PostingRuleScorer()
    if isinstance(model, str):
        from quanhuiqi.registry import load_model

        m = load_model(model)
        if m.metadata.get("kind") not in (None, "postings"):
            raise ValueError(f"{model}: is a {m.metadata.get('kind')!r} model, not a postings model")
        return PostingModelScorer(m.booster, m.features, version=f"{m.name}/{m.version}")
    if hasattr(model, "score_sides"):
        return model
    return PostingModelScorer(model, list(model.feature_name()))


def _top_k(scored: pd.DataFrame, k: int) -> pd.DataFrame:
    """The k best rows per demand (score descending, then supply position), with their rank."""
    d = scored["d_pos"].to_numpy()
    order = np.lexsort((scored["s_pos"].to_numpy(), -scored["score"].to_numpy(), d))
    ds = d[order]
    start = np.r_[True, ds[1:] != ds[:-1]] if len(ds) else np.zeros(0, dtype=bool)
    first = np.maximum.accumulate(np.where(start, np.arange(len(ds)), 0)) if len(ds) else ds
    rank = np.arange(len(ds)) - first + 1
    out = scored.iloc[order[rank <= k]].copy()
    out["rank"] = rank[rank <= k]
    return out


def match_postings(
    postings: pd.DataFrame,
    as_of: str | dt.date | pd.Timestamp,
    enterprises: pd.DataFrame | None = None,
    model=None,
    k: int = 10,
    *,
    n_text: int = 30,
    n_chain: int = 10,
    workers: int | None = None,
    index: PostingIndex | None = None,
    timings: dict | None = None,
    demand_ids=None,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Top-``k`` supplies per open demand with scores and Chinese reasons.

    Every open demand at ``as_of`` appears: with up to ``k`` rows, or with one row whose
    ``supply_id``/``rank``/``score`` are NA and whose ``reasons`` say why (no candidate, or the
    demand's own enterprise may not be paired).  ``enterprises`` (a profile or a clean enterprise
    table) enables the exclusion of inactive and seriously dishonest enterprises and the credit/size
    features; without it that exclusion cannot be applied.  ``demand_ids`` restricts the answer to
    those demands (an online call for one enterprise; the evaluation's day-by-day replay).
    ``history`` (past ``posting_interactions``) feeds the revealed-preference features a trained
    model reads; only interactions dated before ``as_of`` are used.
    """
    t0 = time.perf_counter()
    as_of_ts = as_timestamp(as_of)
    clean = postings if _is_clean(postings) else validate_postings(postings, as_of_ts).clean
    workers = workers or int(os.environ.get("QUANHUIQI_THREADS", "1") or 1)
    if index is None:
        prepared = prepare_postings(clean, as_of_ts, enterprises)
        index = build_index(prepared)
    p = index.postings
    t1 = time.perf_counter()
    cand = generate_candidates(index, n_text=n_text, n_chain=n_chain, demand_ids=demand_ids)
    t2 = time.perf_counter()
    if history is not None:
        history = history.loc[(pd.to_datetime(history["date"]) < as_of_ts).to_numpy()]
    builder = PostingFeatureBuilder(index, workers=workers).fit(history=history)
    feats = builder.transform(cand)
    t3 = time.perf_counter()
    scorer = resolve_scorer(model)
    sides = scorer.score_sides(feats, cand)
    scored = pd.DataFrame({
        "d_pos": cand["d_pos"].to_numpy(), "s_pos": cand["s_pos"].to_numpy(),
        "score": sides["score"].to_numpy(), "score_demand": sides["score_demand"].to_numpy(),
        "score_supply": sides["score_supply"].to_numpy(), "f": np.arange(len(cand)),
    })
    top = _top_k(scored, k).reset_index(drop=True)
    t4 = time.perf_counter()
    top_feats = feats.iloc[top["f"].to_numpy()]
    why = reasons(index, top["d_pos"].to_numpy(), top["s_pos"].to_numpy(), top_feats)
    ids = p["posting_id"].astype("string").to_numpy()
    uscc = p["uscc"].astype("string").to_numpy()
    out = pd.DataFrame({
        "demand_id": pd.array(ids[top["d_pos"].to_numpy()], dtype="string"),
        "supply_id": pd.array(ids[top["s_pos"].to_numpy()], dtype="string"),
        "rank": pd.array(top["rank"].to_numpy(), dtype="Int64"),
        "score": top["score"].to_numpy(dtype="float64"),
        "reasons": why.to_numpy(),
        "score_demand": top["score_demand"].to_numpy(dtype="float64"),
        "score_supply": top["score_supply"].to_numpy(dtype="float64"),
        "demand_uscc": pd.array(uscc[top["d_pos"].to_numpy()], dtype="string"),
        "supply_uscc": pd.array(uscc[top["s_pos"].to_numpy()], dtype="string"),
        "_d": top["d_pos"].to_numpy(),
    })
    # no demand is lost: every open demand without a pair gets one row saying why
    d_all, _ = open_sides(p)
    if demand_ids is not None:
        d_all = d_all[np.isin(ids[d_all], np.asarray(list(demand_ids), dtype=object))]
    lost = np.setdiff1d(d_all, top["d_pos"].to_numpy())
    if len(lost):
        excluded = p["excluded"].to_numpy()[lost]
        why_none = np.where(pd.isna(excluded), NO_CANDIDATE, "需求方为" + pd.Series(excluded).fillna("").astype(str)
                            + "，不予撮合")
        none = pd.DataFrame({
            "demand_id": pd.array(ids[lost], dtype="string"),
            "supply_id": pd.array([pd.NA] * len(lost), dtype="string"),
            "rank": pd.array([pd.NA] * len(lost), dtype="Int64"),
            "score": np.full(len(lost), np.nan),
            "reasons": why_none,
            "score_demand": np.full(len(lost), np.nan),
            "score_supply": np.full(len(lost), np.nan),
            "demand_uscc": pd.array(uscc[lost], dtype="string"),
            "supply_uscc": pd.array([pd.NA] * len(lost), dtype="string"),
            "_d": lost,
        })
        out = pd.concat([out, none], ignore_index=True)
    out = out.sort_values(["_d", "rank"], kind="stable", na_position="last").drop(columns="_d")
    out["reasons"] = out["reasons"].astype("string")
    out = out.reset_index(drop=True)[MATCH_COLUMNS]
    if timings is not None:
        timings.update({"prepare_s": t1 - t0, "candidates_s": t2 - t1, "features_s": t3 - t2,
                        "score_rank_s": t4 - t3, "reasons_s": time.perf_counter() - t4,
                        "n_candidates": len(cand), "scorer": getattr(scorer, "name", "model")})
    out.attrs["n_candidates"] = len(cand)
    out.attrs["scorer"] = getattr(scorer, "name", "model")
    return out


def _read_enterprises(path, as_of):
    from quanhuiqi.tables.enterprises import validate_enterprises
    from quanhuiqi.tables.io import read_table

    clean = validate_enterprises(read_table(path), as_of).clean
    try:
        from quanhuiqi.profile import profile

        return profile(clean, as_of)
    except ImportError:  # pragma: no cover - the profile package ships with quanhuiqi
        return clean


def match_postings_file(postings, as_of, out, model=None, enterprises=None, rejects=None) -> str:
    """Read, validate, match and write the pairs (CSV/Parquet by extension); returns a summary."""
    from quanhuiqi.tables.io import read_table, write_table

    as_of_ts = as_timestamp(as_of)
    v = validate_postings(read_table(postings), as_of_ts, source=str(postings))
    ent = _read_enterprises(enterprises, as_of_ts) if enterprises else None
    result = match_postings(v.clean, as_of_ts, enterprises=ent, model=model)
    write_table(result, out)
    if rejects:
        write_table(v.rejects, rejects)
    n_open = result["demand_id"].nunique()
    n_none = int(result["supply_id"].isna().sum())
    lines = [
        f"postings: {v.rows_in} rows read, {len(v.clean)} valid, {v.rows_rejected} rejected"
        f" ({len(v.rejects)} reject records{' → ' + str(rejects) if rejects else ''})",
        f"open demands at {as_of_ts.date()}: {n_open}; with pairs: {n_open - n_none}; without: {n_none}",
        f"pairs written: {int(result['supply_id'].notna().sum())} (top-{int(result['rank'].max() or 0)} per demand,"
        f" scorer {result.attrs.get('scorer')}) → {out}",
    ]
    if not enterprises:
        lines.append("note: no --enterprises given: inactive and seriously dishonest enterprises could not be excluded,"
                     " and supplier credit/size are unknown")
    return "\n".join(lines)
