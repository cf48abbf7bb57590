"""Match open demands to supplies: candidates → features → reciprocal scores → top-k with reasons."""

from __future__ import annotations

import datetime as dt
import os
import time

import numpy as np
import pandas as pd

from quanhuiqi.postings.candidates import PostingIndex, build_index, generate_candidates, is_in, open_sides
from quanhuiqi.postings.features import REASON_FEATURES, PostingFeatureBuilder, reasons
from quanhuiqi.postings.prepare import prepare_postings
from quanhuiqi.postings.scoring import PostingModelScorer, PostingRuleScorer, harmonic
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


def _is_day_one_rule(scorer) -> bool:
    from quanhuiqi.postings.scoring import DEMAND_WEIGHTS, SUPPLY_WEIGHTS

    return (type(scorer) is PostingRuleScorer and scorer.demand_weights is DEMAND_WEIGHTS
            and scorer.supply_weights is SUPPLY_WEIGHTS)


def _scored(scorer, feats: pd.DataFrame, cand: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """Positions, both sides' scores and the pair's score of every candidate (``f``: its feature row).

    The candidates carry positions only; a scorer that reads the pairs' ids (``needs_ids``, e.g. the
    synthetic city's oracle) gets ``demand_id``/``supply_id`` added from ``ids``."""
    if _is_day_one_rule(scorer):  # the builder already scored both sides with these very weights
        sd, ss = feats["rule_demand"].to_numpy(), feats["rule_supply"].to_numpy()
        sides = {"score_demand": sd, "score_supply": ss, "score": harmonic(sd, ss)}
    else:
        pairs = cand
        if getattr(scorer, "needs_ids", False):
            pairs = cand.assign(demand_id=pd.array(ids[cand["d_pos"].to_numpy()], dtype="string"),
                                supply_id=pd.array(ids[cand["s_pos"].to_numpy()], dtype="string"))
        sides = {k: v.to_numpy() for k, v in scorer.score_sides(feats, pairs).items()}
    return pd.DataFrame({
        "d_pos": cand["d_pos"].to_numpy(), "s_pos": cand["s_pos"].to_numpy(),
        "score": sides["score"], "score_demand": sides["score_demand"],
        "score_supply": sides["score_supply"], "f": np.arange(len(cand)),
    }, copy=True)  # not views of the feature block, which is freed after the top-k


def _top_k(scored: pd.DataFrame, k: int) -> pd.DataFrame:
    """The k best rows per demand (score descending, then supply position), with their rank."""
    d = scored["d_pos"].to_numpy()
    s = scored["s_pos"].to_numpy()
    grouped = len(d) < 2 or bool(np.all((d[1:] > d[:-1]) | ((d[1:] == d[:-1]) & (s[1:] > s[:-1]))))
    if grouped:  # candidates come sorted by (demand, supply): a stable sort on two keys keeps that tie order
        order = np.lexsort((-scored["score"].to_numpy(), d))
    else:
        order = np.lexsort((s, -scored["score"].to_numpy(), d))
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
        index = build_index(prepare_postings(clean, as_of_ts, enterprises))
        # this index is the matcher's own: the long texts are in its TF-IDF matrix now
        index.postings = index.postings.drop(columns=[c for c in ("text", "description") if c in index.postings])
    p = index.postings
    t1 = time.perf_counter()
    cand = generate_candidates(index, n_text=n_text, n_chain=n_chain, demand_ids=demand_ids, workers=workers,
                               with_ids=False)
    t2 = time.perf_counter()
    if history is not None:
        history = history.loc[(pd.to_datetime(history["date"]) < as_of_ts).to_numpy()]
    builder = PostingFeatureBuilder(index, workers=workers).fit(history=history)
    feats = builder.transform(cand)
    t3 = time.perf_counter()
    scorer = resolve_scorer(model)
    scored = _scored(scorer, feats, cand, index.arrays["ids"])
    n_cand = len(cand)
    del cand  # millions of candidate rows: free them as soon as they are read
    top = _top_k(scored, k).reset_index(drop=True)
    del scored
    t4 = time.perf_counter()
    top_feats = feats[REASON_FEATURES].iloc[top["f"].to_numpy()]
    del feats
    why = reasons(index, top["d_pos"].to_numpy(), top["s_pos"].to_numpy(), top_feats)
    ids = p["posting_id"].astype("string").to_numpy()
    id_arr = pd.array(p["posting_id"], dtype="string")  # taken by position (no string per row in Python)
    uscc_arr = pd.array(p["uscc"], dtype="string")
    td, ts = top["d_pos"].to_numpy(), top["s_pos"].to_numpy()
    # no demand is lost: every open demand without a pair gets one row saying why
    d_all, _ = open_sides(p)
    if demand_ids is not None:
        d_all = d_all[is_in(ids[d_all], demand_ids)]
    lost = np.setdiff1d(d_all, td)
    excluded = p["excluded"].to_numpy()[lost]
    why_none = np.where(pd.isna(excluded), NO_CANDIDATE, "需求方为" + pd.Series(excluded).fillna("").astype(str)
                        + "，不予撮合") if len(lost) else np.zeros(0, dtype=object)
    # pairs come in (demand, rank) order and a demand without pairs has one row: a stable sort by demand
    d_cat = np.concatenate([td, lost])
    order = np.argsort(d_cat, kind="stable")
    s_cat = np.concatenate([ts, np.full(len(lost), -1, dtype=np.int64)])[order]  # -1: no supply (NA)
    n_lost = len(lost)

    def floats(col: str) -> np.ndarray:
        return np.concatenate([top[col].to_numpy(dtype="float64"), np.full(n_lost, np.nan)])[order]

    rank = np.concatenate([top["rank"].to_numpy(dtype=np.int64), np.zeros(n_lost, dtype=np.int64)])[order]
    texts = pd.concat([pd.Series(pd.array(why, dtype="string")), pd.Series(why_none, dtype="string")],
                      ignore_index=True).array.take(order)
    d_cat = d_cat[order]
    out = pd.DataFrame({
        "demand_id": id_arr.take(d_cat),
        "supply_id": id_arr.take(s_cat, allow_fill=True),
        "rank": pd.arrays.IntegerArray(rank, s_cat < 0),
        "score": floats("score"),
        "reasons": texts.astype("string"),
        "score_demand": floats("score_demand"),
        "score_supply": floats("score_supply"),
        "demand_uscc": uscc_arr.take(d_cat),
        "supply_uscc": uscc_arr.take(s_cat, allow_fill=True),
    })[MATCH_COLUMNS]
    if timings is not None:
        timings.update({"prepare_s": t1 - t0, "candidates_s": t2 - t1, "features_s": t3 - t2,
                        "score_rank_s": t4 - t3, "reasons_s": time.perf_counter() - t4,
                        "n_candidates": n_cand, "scorer": getattr(scorer, "name", "model")})
    out.attrs["n_candidates"] = n_cand
    out.attrs["scorer"] = getattr(scorer, "name", "model")
    return out


def _read_enterprises(path, as_of, encoding=None, report=None):
    from quanhuiqi.tables.enterprises import validate_enterprises
    from quanhuiqi.tables.io import read_table

    clean = validate_enterprises(read_table(path, encoding=encoding, report=report), as_of).clean
    try:
        from quanhuiqi.profile import profile

        return profile(clean, as_of)
    except ImportError:  # pragma: no cover - the profile package ships with quanhuiqi
        return clean


def match_postings_file(postings, as_of, out, model=None, enterprises=None, rejects=None, encoding=None) -> str:
    """Read, validate, match and write the pairs (CSV/Parquet by extension); returns a summary.  ``encoding``
    names the input CSVs' encoding (default: UTF-8 or GB18030/GBK detected per file)."""
    from quanhuiqi.tables.io import read_table, write_table

    as_of_ts = as_timestamp(as_of)
    read_as: dict = {}
    v = validate_postings(read_table(postings, encoding=encoding, report=read_as), as_of_ts, source=str(postings))
    ent_as: dict = {}
    ent = _read_enterprises(enterprises, as_of_ts, encoding, ent_as) if enterprises else None
    result = match_postings(v.clean, as_of_ts, enterprises=ent, model=model)
    write_table(result, out)
    if rejects:
        write_table(v.rejects, rejects)
    n_open = result["demand_id"].nunique()
    n_none = int(result["supply_id"].isna().sum())
    lines = [
        f"postings: {v.rows_in} rows read as {read_as['encoding']}"
        + (f" (enterprises as {ent_as['encoding']})" if enterprises else "")
        + f", {len(v.clean)} valid, {v.rows_rejected} rejected"
        f" ({len(v.rejects)} reject records{' → ' + str(rejects) if rejects else ''})",
        f"open demands at {as_of_ts.date()}: {n_open}; with pairs: {n_open - n_none}; without: {n_none}",
        f"pairs written: {int(result['supply_id'].notna().sum())} (top-{int(result['rank'].max() or 0)} per demand,"
        f" scorer {result.attrs.get('scorer')}) → {out}",
    ]
    if not enterprises:
        lines.append("note: no --enterprises given: inactive and seriously dishonest enterprises could not be excluded,"
                     " and supplier credit/size are unknown")
    return "\n".join(lines)
