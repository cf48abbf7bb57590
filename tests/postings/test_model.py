"""Training, evaluation, the MLflow round trip and the two CLI entry points, on sampled postings."""

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.postings import (
    evaluate_postings,
    match_postings,
    match_postings_file,
    train_postings_cli,
    train_postings_model,
    validate_postings,
)
from quanhuiqi.postings.sample import sample_postings
from quanhuiqi.tables.io import read_table

AS_OF = "2025-07-01"


def _history(raw: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each demand was shown 5 supplies on its posting day (3 about its tag, 2 random); contacts and
    deals follow the true tag."""
    rng = np.random.default_rng(seed)
    dem = raw[raw["side"] == "demand"].reset_index(drop=True)
    sup = raw[raw["side"] == "supply"].reset_index(drop=True)
    by_tag = sup.groupby("true_tag")["posting_id"].apply(list)
    rows = []
    for d in dem.itertuples():  # a few hundred demands: building the fixture, not the code under test
        same = [s for s in by_tag.get(d.true_tag, []) if s != d.posting_id]
        shown = list(rng.choice(same, size=min(3, len(same)), replace=False)) if same else []
        shown += list(rng.choice(sup["posting_id"], size=5 - len(shown), replace=False))
        for rank, s in enumerate(shown, start=1):
            rows.append({"date": d.posted_on, "demand_id": d.posting_id, "supply_id": s, "rank": rank})
    h = pd.DataFrame(rows)
    tag = raw.set_index("posting_id")["true_tag"]
    match = tag.reindex(h["demand_id"]).to_numpy() == tag.reindex(h["supply_id"]).to_numpy()
    h["contacted"] = match & (rng.random(len(h)) < 0.8)
    h["deal"] = h["contacted"] & (rng.random(len(h)) < 0.6)
    h = h[pd.to_datetime(h["date"]) < pd.Timestamp(AS_OF)]
    return h.sort_values(["date", "demand_id", "rank"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def sampled():
    raw = sample_postings(240, 480, as_of=AS_OF, seed=11, n_tags=60)
    raw["posted_on"] = (pd.Timestamp(AS_OF) - pd.to_timedelta(np.arange(len(raw)) % 20, unit="D")).strftime("%Y-%m-%d")
    raw["expires_on"] = "2025-12-31"
    return raw, _history(raw)


def test_model_learns_the_deals(sampled):
    raw, hist = sampled
    clean = validate_postings(raw, AS_OF).clean
    model = train_postings_model(clean, hist, threads=1, num_boost_round=60)
    assert model.booster.num_trees() > 0
    ranked = match_postings(clean, "2025-06-25", model=model)
    m = evaluate_postings(ranked, hist, k=10)
    assert m["n_eval_demands"] > 20
    rule = evaluate_postings(match_postings(clean, "2025-06-25"), hist, k=10)
    # the deal supplies share the demand's tag: learnt as well as the rule knows it (a model that had
    # learnt nothing would find few of them among 480 supplies)
    assert m["demand_recall@10"] > 0.6 and m["demand_recall@10"] >= 0.95 * rule["demand_recall@10"]
    assert 0 <= m["supply_recall@10"] <= 1 and 0 <= m["pair_deal_rate"] <= 1
    ranked2 = match_postings(clean, "2025-06-25", model=model)
    pd.testing.assert_frame_equal(ranked, ranked2)  # deterministic


def test_model_trains_fixed_rounds_on_every_date_unless_told(sampled):
    # early stopping on the last dates' 5-item lists stopped at 3…150 trees by the seed alone: by default
    # every date trains for exactly num_boost_round rounds; holding out dates and early stopping is opt-in
    raw, hist = sampled
    clean = validate_postings(raw, AS_OF).clean
    assert train_postings_model(clean, hist, threads=1, num_boost_round=25).booster.num_trees() == 25
    held = train_postings_model(clean, hist, threads=1, num_boost_round=25, valid_fraction=0.15)
    assert held.booster.num_trees() == 25  # held-out dates are only logged without early_stopping
    stopped = train_postings_model(clean, hist, threads=1, num_boost_round=400, valid_fraction=0.15,
                                   early_stopping=2, params={"num_leaves": 15, "min_data_in_leaf": 5})
    assert 0 < stopped.booster.num_trees() < 400


def test_evaluate_postings_counts_hits_by_hand():
    ranked = pd.DataFrame({"demand_id": ["D1", "D1", "D2", "D3"], "supply_id": ["S1", "S2", "S3", None],
                           "rank": pd.array([1, 2, 1, pd.NA], dtype="Int64"), "score": [0.9, 0.8, 0.7, np.nan]})
    inter = pd.DataFrame({"date": ["2025-06-01"] * 4, "demand_id": ["D1", "D1", "D2", "D3"],
                          "supply_id": ["S2", "S9", "S8", "S1"], "rank": [1, 2, 1, 1],
                          "contacted": [True, True, True, False], "deal": [True, True, True, False]})
    m = evaluate_postings(ranked, inter, k=10)
    assert m["demand_recall@10"] == pytest.approx((0.5 + 0.0) / 2)  # D1 found 1 of 2 deals, D2 none
    assert m["pair_recall"] == pytest.approx(1 / 3)
    assert m["pair_deal_rate"] == pytest.approx(1 / 3)


def test_train_cli_registers_and_match_cli_loads_by_alias(sampled, tmp_path, mlflow_uri):
    raw, hist = sampled
    data = tmp_path / "data"
    data.mkdir()
    raw.drop(columns="true_tag").to_csv(data / "postings.csv", index=False)
    hist.to_parquet(data / "posting_interactions.parquet", index=False)
    summary = train_postings_cli(data, register="postings-test", alias="champion", threads=1)
    assert "alias postings-test@champion" in summary and "rule" in summary and "model" in summary
    out = tmp_path / "pairs.csv"
    rejects = tmp_path / "rejects.csv"
    text = match_postings_file(data / "postings.csv", "2025-06-25", out, model="postings-test@champion",
                               rejects=rejects)
    assert "no --enterprises given" in text and "scorer model" in text
    pairs = read_table(out)
    assert list(pairs.columns[:5]) == ["demand_id", "supply_id", "rank", "score", "reasons"]
    assert read_table(rejects).empty
    clean = validate_postings(raw, "2025-06-25").clean
    from quanhuiqi.registry import load_model

    direct = match_postings(clean, "2025-06-25", model=load_model("postings-test@champion").booster)
    assert pairs["supply_id"].fillna("").tolist() == direct["supply_id"].fillna("").tolist()


def test_match_file_refuses_a_policy_ranker_name(sampled, tmp_path, mlflow_uri):
    raw, _ = sampled
    raw.drop(columns="true_tag").to_csv(tmp_path / "postings.csv", index=False)
    with pytest.raises(Exception, match="not-there"):
        match_postings_file(tmp_path / "postings.csv", AS_OF, tmp_path / "out.csv", model="not-there@champion")


def test_unshown_candidates_as_negatives_are_the_matchers_own_and_open_at_the_demands_date(sampled):
    """The opt-in ``negatives_per_demand``: rows added are candidates the platform did not show,
    open at the demand's date, never the demand's own enterprise's — and the model still trains."""
    from quanhuiqi.postings.candidates import build_index
    from quanhuiqi.postings.model import candidate_negatives, interaction_features
    from quanhuiqi.postings.prepare import prepare_postings

    raw, hist = sampled
    clean = validate_postings(raw, AS_OF).clean
    index = build_index(prepare_postings(clean, pd.to_datetime(hist["date"]).max(), None))
    shown, _ = interaction_features(index, hist)
    neg = candidate_negatives(index, shown, per_demand=5)
    assert len(neg) > 0 and set(neg["demand_id"]) <= set(shown["demand_id"])
    seen = set(zip(shown["demand_id"].astype(str), shown["supply_id"].astype(str), strict=True))
    assert not seen & set(zip(neg["demand_id"].astype(str), neg["supply_id"].astype(str), strict=True))
    p = clean.set_index("posting_id")
    posted = pd.to_datetime(p.loc[neg["supply_id"].astype(str), "posted_on"]).to_numpy()
    expires = pd.to_datetime(p.loc[neg["supply_id"].astype(str), "expires_on"]).to_numpy()
    when = neg["as_of"].to_numpy(dtype="datetime64[ns]")
    assert ((posted <= when) & (expires >= when)).all()
    owner = p["uscc"].astype(str)
    assert (owner.loc[neg["demand_id"].astype(str)].to_numpy() != owner.loc[neg["supply_id"].astype(str)].to_numpy()).all()
    plain = train_postings_model(clean, hist, threads=1, num_boost_round=20)
    with_neg = train_postings_model(clean, hist, threads=1, num_boost_round=20, negatives_per_demand=5)
    assert with_neg.n_train_rows == plain.n_train_rows + len(neg)
    assert with_neg.booster.num_trees() > 0
