"""Learning to rank supplies from past contacts and deals, evaluation, and the train CLI.

Training rows are the pairs the platform showed (``posting_interactions``): label 2 for a deal,
1 for a contact, 0 otherwise, grouped by (date, demand) and sorted by group for lambdarank.
Features are computed at each pair's date.  Evaluation is on a time split: the model and the rule
scorer both match the postings open at the start of each test week, and are judged on that week's
contacts and deals (recall@k, NDCG@k per side, whole-pair recall/precision) and, for the synthetic
city, on the latent utility of the pairs they propose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from quanhuiqi.boosting import check_params
from quanhuiqi.postings.candidates import build_index, generate_candidates
from quanhuiqi.postings.features import FEATURES, PostingFeatureBuilder
from quanhuiqi.postings.match import _read_enterprises, match_postings
from quanhuiqi.postings.prepare import prepare_postings
from quanhuiqi.postings.scoring import PostingModelScorer, PostingPopularityScorer, PostingRuleScorer
from quanhuiqi.postings.scoring import threads as lgb_threads
from quanhuiqi.postings.validate import validate_postings
from quanhuiqi.tables.io import InputError

DEFAULT_PARAMS = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "learning_rate": 0.03,
    # stumps: an additive ranker — with ~15k noisy impressions (2 per supplier) deeper trees fit noise
    "num_leaves": 2,
    "min_data_in_leaf": 200,
    "lambda_l2": 10.0,
    "feature_fraction": 0.9,
    "lambdarank_truncation_level": 20,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 0,
    "verbose": -1,
}
# a fixed number of rounds on every training date: early stopping on the last dates' 5-item lists stopped
# anywhere between 3 and 150 trees depending on the seed (expected deal recall@10 1.00–1.045 × rule on the
# synthetic city); 600 stumps were chosen on rolling-origin validation inside the training window (docs/postings.md)
NUM_BOOST_ROUND = 600
EARLY_STOPPING = 30  # used only when a validation share is held out and ``early_stopping`` is given


class PostingGrader(Protocol):
    """What :func:`time_split_evaluation` asks of a ground truth beyond the logged outcomes (a synthetic
    city's is :class:`quanhuiqi.synth.truth.PostingTruth`; real data has none)."""

    def scorer(self) -> object:
        """A scorer ranking candidates by the truth (the ceiling)."""

    def list_metrics(self, ranked: pd.DataFrame, k: int) -> dict[str, float]:
        """Metrics of a scorer's ranked candidate lists (``demand_id, supply_id, rank``)."""

    def exploration_demands(self) -> set[str] | None:
        """Demands whose shown supplies were drawn at random (None: unknown)."""


def interaction_labels(interactions: pd.DataFrame) -> np.ndarray:
    """2 = deal, 1 = contacted, 0 = shown only."""
    deal = interactions["deal"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    contacted = interactions["contacted"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return np.where(deal, 2, np.where(contacted, 1, 0)).astype("int32")


def interaction_features(index, interactions: pd.DataFrame, workers: int = 1,
                         history: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of the shown pairs at their own dates; pairs naming unknown postings are dropped.

    ``history`` (default: ``interactions`` themselves) feeds the revealed-preference features, each
    counted strictly before the pair's own date — a pair never sees its own outcome."""
    pos = index.pos
    known = interactions["demand_id"].astype("string").isin(pos.index) & interactions["supply_id"].astype(
        "string").isin(pos.index)
    pairs = interactions.loc[known.to_numpy()].copy()
    pairs["as_of"] = pd.to_datetime(pairs["date"])
    pairs = pairs.sort_values(["as_of", "demand_id", "supply_id"], kind="stable").reset_index(drop=True)
    hist = interactions if history is None else history
    feats = PostingFeatureBuilder(index, workers=workers).fit(history=hist).transform(
        pairs[["demand_id", "supply_id", "as_of"]])
    return pairs, feats


def candidate_negatives(index, shown: pd.DataFrame, per_demand: int = 20, workers: int = 1) -> pd.DataFrame:
    """Pairs the matcher would have proposed for the shown demands but the platform did not show,
    at each demand's date, as ``demand_id, supply_id, as_of`` (label 0).

    Shown pairs alone come from the old logging policy (already tag-matched); without the matcher's
    own candidates as negatives a model never learns what separates them from the rest."""
    from dataclasses import replace

    p = index.postings.copy()
    p["is_open"] = True  # openness is checked per demand date below
    p.attrs = index.postings.attrs
    idx = replace(index, postings=p)
    dates = shown.groupby("demand_id")["as_of"].min()
    cand = generate_candidates(idx, n_text=per_demand, n_chain=max(per_demand // 4, 1), demand_ids=dates.index)
    cand["as_of"] = dates.reindex(cand["demand_id"].to_numpy()).to_numpy()
    a = index.arrays
    posted = a["posted_on"][cand["s_pos"].to_numpy()]
    expires = index.postings["expires_on"].to_numpy(dtype="datetime64[ns]")[cand["s_pos"].to_numpy()]
    when = cand["as_of"].to_numpy(dtype="datetime64[ns]")
    active = (np.isnat(posted) | (posted <= when)) & (np.isnat(expires) | (expires >= when))
    cand = cand[active]
    seen = pd.MultiIndex.from_frame(shown[["demand_id", "supply_id"]].astype(str))
    key = pd.MultiIndex.from_frame(cand[["demand_id", "supply_id"]].astype(str))
    cand = cand[~key.isin(seen)]
    return cand[["demand_id", "supply_id", "d_pos", "s_pos", "text_sim", "tag_shared", "as_of"]].reset_index(drop=True)


def train_postings_model(
    postings: pd.DataFrame,
    interactions: pd.DataFrame,
    enterprises: pd.DataFrame | None = None,
    *,
    params: dict | None = None,
    threads: int | None = None,
    num_boost_round: int = NUM_BOOST_ROUND,
    valid_fraction: float = 0.0,
    early_stopping: int | None = None,
    negatives_per_demand: int = 0,
) -> PostingModelScorer:
    """A LightGBM lambdarank booster: shown pairs labelled 2 (deal), 1 (contact) or 0, grouped by
    (date, demand) and sorted by group; ``num_boost_round`` rounds on every date by default.  With
    ``valid_fraction`` > 0 the last dates are held out (logged as validation) and, with ``early_stopping``
    rounds, drive early stopping.

    ``negatives_per_demand`` > 0 adds the matcher's own unshown candidates as 0 — off by default: an
    unshown pair is unlabelled, not bad, and calling it bad teaches the old platform's choices
    (measured on the synthetic city's latent truth, docs/postings.md)."""
    import lightgbm as lgb

    if not len(interactions):
        raise InputError("posting interactions: no rows to train on")
    last = pd.to_datetime(interactions["date"]).max()
    clean = postings if "row" in postings else validate_postings(postings, last).clean
    index = build_index(prepare_postings(clean, last, enterprises))
    pairs, feats = interaction_features(index, interactions)
    y = interaction_labels(pairs)
    if negatives_per_demand > 0 and len(pairs):
        neg = candidate_negatives(index, pairs, negatives_per_demand)
        nfeats = PostingFeatureBuilder(index).fit(history=interactions).transform(neg)
        pairs = pd.concat([pairs[["demand_id", "supply_id", "as_of"]], neg[["demand_id", "supply_id", "as_of"]]],
                          ignore_index=True)
        feats = pd.concat([feats, nfeats], ignore_index=True)
        y = np.concatenate([y, np.zeros(len(neg), dtype="int32")])
        order = np.lexsort((pairs["supply_id"].astype(str).to_numpy(), pairs["demand_id"].astype(str).to_numpy(),
                            pairs["as_of"].to_numpy()))
        pairs, feats, y = pairs.iloc[order].reset_index(drop=True), feats.iloc[order].reset_index(drop=True), y[order]
    group_key = pairs["as_of"].dt.strftime("%Y-%m-%d") + "|" + pairs["demand_id"].astype(str)
    dates = np.sort(pairs["as_of"].unique())
    if valid_fraction > 0 and len(dates) > 3:
        cut = dates[int(len(dates) * (1 - valid_fraction))]
    else:  # every date trains
        cut = dates[-1] + np.timedelta64(1, "D")
    is_valid = (pairs["as_of"] >= cut).to_numpy()
    p = {**DEFAULT_PARAMS, **(params or {}), "num_threads": lgb_threads(threads)}

    shown_rank = (pd.to_numeric(pairs["rank"], errors="coerce").to_numpy() if "rank" in pairs.columns
                  else np.full(len(pairs), np.nan))

    def dataset(mask, reference=None):
        keys = group_key[mask]
        sizes = keys.groupby(keys, sort=False).size().to_numpy()
        # the list position each pair was shown at: lambdarank learns the position bias apart from the pair
        pos = shown_rank[mask]
        position = (pos - 1).astype("int32") if reference is None and np.isfinite(pos).all() else None
        return lgb.Dataset(feats.loc[mask, FEATURES], label=y[mask], group=sizes, feature_name=FEATURES,
                           reference=reference, free_raw_data=False, params={"verbose": -1}, position=position)

    train = dataset(~is_valid)
    callbacks = [lgb.log_evaluation(0)]
    valid_sets = []
    if is_valid.any() and (~is_valid).any():
        valid_sets = [dataset(is_valid, reference=train)]
        if early_stopping:
            callbacks.append(lgb.early_stopping(early_stopping, verbose=False))
    booster = lgb.train(p, train, num_boost_round=num_boost_round, valid_sets=valid_sets, callbacks=callbacks)
    if valid_sets and early_stopping and booster.best_iteration > 0:
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    scorer = PostingModelScorer(booster, FEATURES)
    scorer.params = p
    scorer.train_window = (pairs["as_of"].min(), pairs["as_of"].max())
    scorer.n_train_rows = len(pairs)
    return scorer


def _ndcg(gains_sorted: np.ndarray, ideal_sorted: np.ndarray, k: int) -> float:
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    g = gains_sorted[:k]
    i = ideal_sorted[:k]
    dcg = float(((2.0 ** g - 1) * disc[: len(g)]).sum())
    idcg = float(((2.0 ** i - 1) * disc[: len(i)]).sum())
    return dcg / idcg if idcg > 0 else np.nan


def evaluate_postings(ranked: pd.DataFrame, interactions: pd.DataFrame, k: int = 10) -> dict[str, float]:
    """Recall@k and NDCG@k per side, and whole-pair metrics, of ranked pairs against contacts/deals.

    ``ranked``: ``demand_id, supply_id, rank, score`` (the matcher's output).  Demand side: for each
    demand with a deal, the share of its deal supplies in its top-k.  Supply side: for each supply with
    a deal, the share of its deal demands among the k demands it is proposed to with the highest
    scores.  Whole pair: the share of deal pairs proposed at all, and the share of proposed pairs that
    became deals or contacts.
    """
    pairs = ranked.dropna(subset=["supply_id"])
    pairs = pairs[pairs["rank"] <= k][["demand_id", "supply_id", "rank", "score"]].astype(
        {"demand_id": "string", "supply_id": "string"})
    inter = interactions.assign(gain=interaction_labels(interactions)).astype(
        {"demand_id": "string", "supply_id": "string"})
    gain = inter.groupby(["demand_id", "supply_id"], sort=False)["gain"].max().rename("gain").reset_index()
    deals = gain[gain["gain"] == 2]
    merged = pairs.merge(gain, on=["demand_id", "supply_id"], how="left")
    merged["gain"] = merged["gain"].fillna(0).astype("float64")
    out: dict[str, float] = {}
    # demand side (only demands present in the ranking: the open ones)
    present = deals[deals["demand_id"].isin(ranked["demand_id"])]
    hits = merged[merged["gain"] == 2].groupby("demand_id").size()
    per = present.groupby("demand_id").size()
    out[f"demand_recall@{k}"] = float((hits.reindex(per.index).fillna(0) / per).mean()) if len(per) else np.nan
    nd = []
    ideal = gain[gain["demand_id"].isin(per.index)].groupby("demand_id")["gain"].apply(
        lambda g: np.sort(g.to_numpy())[::-1])
    got = merged.sort_values(["demand_id", "rank"]).groupby("demand_id")["gain"].apply(lambda g: g.to_numpy())
    for d, ideal_g in ideal.items():  # loop over evaluated demands only (a few thousand)
        nd.append(_ndcg(got.get(d, np.zeros(0)), ideal_g, k))
    out[f"demand_ndcg@{k}"] = float(np.nanmean(nd)) if nd else np.nan
    # supply side: each supply's top-k demands by score
    sup = merged.sort_values(["supply_id", "score"], ascending=[True, False])
    sup["srank"] = sup.groupby("supply_id").cumcount() + 1
    sup = sup[sup["srank"] <= k]
    sdeals = deals[deals["supply_id"].isin(ranked["supply_id"])]
    sper = sdeals.groupby("supply_id").size()
    shits = sup[sup["gain"] == 2].groupby("supply_id").size()
    out[f"supply_recall@{k}"] = float((shits.reindex(sper.index).fillna(0) / sper).mean()) if len(sper) else np.nan
    snd = []
    sideal = gain[gain["supply_id"].isin(sper.index)].groupby("supply_id")["gain"].apply(
        lambda g: np.sort(g.to_numpy())[::-1])
    sgot = sup.groupby("supply_id")["gain"].apply(lambda g: g.to_numpy())
    for s_, ideal_g in sideal.items():
        snd.append(_ndcg(sgot.get(s_, np.zeros(0)), ideal_g, k))
    out[f"supply_ndcg@{k}"] = float(np.nanmean(snd)) if snd else np.nan
    # whole pairs
    out["pair_recall"] = float(len(merged[merged["gain"] == 2]) / len(present)) if len(present) else np.nan
    out["pair_deal_rate"] = float((merged["gain"] == 2).mean()) if len(merged) else np.nan
    out["pair_contact_rate"] = float((merged["gain"] >= 1).mean()) if len(merged) else np.nan
    out["n_eval_demands"] = float(len(per))
    out["n_eval_supplies"] = float(len(sper))
    return out


ALL_CANDIDATES = 10_000  # k that keeps every candidate of a demand (the full list the truth grades)


def time_split_evaluation(
    clean: pd.DataFrame,
    interactions: pd.DataFrame,
    enterprises: pd.DataFrame | None,
    cut: pd.Timestamp,
    scorers: dict[str, object],
    k: int = 10,
    truth: PostingGrader | None = None,
    *,
    use_history: bool = True,
) -> pd.DataFrame:
    """Replay the test window day by day: each scorer ranks every candidate of the demands shown that
    day, with the postings open that day and (``use_history``) the interactions logged before it.

    Metrics per scorer: on the test window's logged contacts and deals (``demand_recall@k`` …: the
    old platform chose what was shown, so these reward resembling it); the same restricted to the
    exploration demands (``explore_…``, shown at random) when ``truth`` says which; and the grades of
    ``truth.list_metrics`` (for a synthetic city, :class:`quanhuiqi.synth.truth.PostingTruth`: every
    candidate graded by the latent truth, on which the issue's target is judged).
    """
    test = interactions[pd.to_datetime(interactions["date"]) >= cut].copy()
    test["date"] = pd.to_datetime(test["date"])
    past = interactions.assign(date=pd.to_datetime(interactions["date"]))
    ranked: dict[str, list[pd.DataFrame]] = {name: [] for name in scorers}
    for day, shown in test.groupby("date", sort=True):  # loop over test days (tens)
        prepared = prepare_postings(clean, day, enterprises)
        index = build_index(prepared)
        demands = shown["demand_id"].astype(str).unique()
        hist = past.loc[(past["date"] < day).to_numpy()] if use_history else None
        for name, scorer in scorers.items():
            ranked[name].append(match_postings(clean, day, enterprises=enterprises, model=scorer, k=ALL_CANDIDATES,
                                               index=index, demand_ids=demands, history=hist))
    explored = None if truth is None else truth.exploration_demands()
    rows = []
    for name, parts in ranked.items():
        if not parts:
            continue
        all_ranked = pd.concat(parts, ignore_index=True)
        m = evaluate_postings(all_ranked, test, k=k)
        if explored:
            sub = test[test["demand_id"].astype(str).isin(explored)]
            m.update({f"explore_{key}": v for key, v in evaluate_postings(all_ranked, sub, k=k).items()
                      if key.startswith(("demand_", "n_eval_demands"))})
        if truth is not None:
            m.update(truth.list_metrics(all_ranked, k))
        rows.append({"scorer": name, **m})
    return pd.DataFrame(rows).set_index("scorer") if rows else pd.DataFrame()


@dataclass
class TimeSplit:
    """A data directory's postings split by time: train on interactions before ``cut``, test from it."""

    postings: pd.DataFrame  # validated (clean) postings as of the last interaction date
    interactions: pd.DataFrame  # every interaction, ``date`` parsed
    enterprises: pd.DataFrame | None  # clean enterprises, when the directory has them
    cut: pd.Timestamp
    last: pd.Timestamp
    truth_dir: Path  # ``truth/`` (exists only for a synthetic city; quanhuiqi.synth.truth reads it)

    @property
    def train(self) -> pd.DataFrame:
        return self.interactions[self.interactions["date"] < self.cut]


def time_split_data(data_dir, test_fraction: float = 0.2, encoding: str | None = None) -> TimeSplit:
    """Read a data directory's postings, interactions and enterprises and cut the interaction dates
    at ``1 − test_fraction`` — what ``quanhuiqi train postings`` and the benchmarks evaluate on."""
    from quanhuiqi.tables.columns import DATA_FILES
    from quanhuiqi.tables.io import read_table

    data = Path(data_dir)
    inter = read_table(data / DATA_FILES["posting_interactions"], text_columns=["demand_id", "supply_id"],
                       encoding=encoding)
    if not len(inter):
        raise InputError(f"{data / DATA_FILES['posting_interactions']}: no interactions to split")
    inter["date"] = pd.to_datetime(inter["date"])
    last = inter["date"].max()
    clean = validate_postings(read_table(data / DATA_FILES["postings"], encoding=encoding), last).clean
    ent_path = data / DATA_FILES["enterprises"]
    ent = _read_enterprises(ent_path, last, encoding) if ent_path.exists() else None
    dates = np.sort(inter["date"].unique())
    cut = pd.Timestamp(dates[int(len(dates) * (1 - test_fraction))])
    return TimeSplit(clean, inter, ent, cut, last, data / DATA_FILES["truth"])


def train_postings_cli(data_dir, register: str | None = None, alias: str | None = None,
                       threads: int | None = None, params: dict | None = None,
                       truth: PostingGrader | None = None, encoding: str | None = None) -> str:
    """``quanhuiqi train postings``: time split, train, compare with the rule scorer, log to MLflow.
    ``params`` override the LightGBM defaults (only their keys); ``truth`` (a synthetic city's
    :class:`~quanhuiqi.synth.truth.PostingTruth`, which the CLI passes when the directory has
    ``truth/``) adds the oracle scorer and the truth's grades to the comparison."""
    check_params(params, DEFAULT_PARAMS)
    split = time_split_data(data_dir, encoding=encoding)
    inter, ent, cut, last = split.interactions, split.enterprises, split.cut, split.last
    train = split.train
    model = train_postings_model(split.postings, train, ent, threads=threads, params=params)
    scorers = {"rule": PostingRuleScorer(), "popularity": PostingPopularityScorer(), "model": model}
    if truth is not None:
        scorers["oracle"] = truth.scorer()
    report = time_split_evaluation(split.postings, inter, ent, cut, scorers, truth=truth)
    summary = report
    metrics = {f"{s}.{c}": float(summary.loc[s, c]) for s in summary.index for c in summary.columns}
    if "model" in summary.index and "rule" in summary.index:
        r = summary.loc["rule", "demand_recall@10"]
        metrics["recall_ratio_model_vs_rule"] = float(summary.loc["model", "demand_recall@10"] / r) if r else np.nan
        if "truth_deal_recall@10" in summary.columns:
            tr = summary.loc["rule", "truth_deal_recall@10"]
            metrics["truth_recall_ratio_model_vs_rule"] = float(summary.loc["model", "truth_deal_recall@10"] / tr)
    lines = [f"postings model trained on {len(train)} shown pairs before {cut.date()}, "
             f"tested on {len(inter) - len(train)} pairs from {cut.date()} to {last.date()}"]
    lines.append(summary.round(4).to_string())
    if "recall_ratio_model_vs_rule" in metrics:
        lines.append(f"model/rule demand recall@10 on logged deals: {metrics['recall_ratio_model_vs_rule']:.2f}")
    if "truth_recall_ratio_model_vs_rule" in metrics:
        lines.append("model/rule expected deal recall@10, every candidate graded by the latent truth (the target): "
                     f"{metrics['truth_recall_ratio_model_vs_rule']:.2f}")
    if "oracle" in summary.index:
        lines.append("oracle = the synthetic city's latent relevance ranking the same candidates (the ceiling)")
    from quanhuiqi import registry

    run = registry.log_model(
        model.booster, feature_names=FEATURES, params=model.params, metrics=metrics, report=report,
        data_window={"train_from": train["date"].min(), "train_to": train["date"].max(), "test_from": cut,
                     "test_to": last},
        kind="postings", run_name="postings-lambdarank",
    )
    lines.append(f"logged run {run.run_id} ({run.model_uri})")
    if register:
        version = registry.register(run.model_uri, register)
        lines.append(f"registered {register} version {version}")
        if alias:
            registry.set_alias(register, alias, version)
            lines.append(f"alias {register}@{alias} → version {version}")
    return "\n".join(lines)


__all__ = ["PostingGrader", "TimeSplit", "evaluate_postings", "time_split_data", "time_split_evaluation",
           "train_postings_cli", "train_postings_model"]
