"""reputation_posterior: the prior, consistency with the generator, the date cut, exactness of the grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ceilings.reputation_posterior import (
    enterprises_with_reputation,
    reputation_posterior,
    reputation_posterior_frame,
    reputation_posterior_grid,
    reputation_prior_mean,
)

from quanhuiqi.synth.preference import TASTE_SD, posting_pair_utility, sigmoid

TAGS = ["钢材", "钢材;铝材", "铝材", "钢材;铜材;铝材", "铜材", "塑料粒子"]
DISTRICTS = ["370102", "370103", "370112", "370114", "370116"]


def tiny_truth(n_demands: int, ratings: list[str | None], seed: int = 0) -> dict:
    """Supplier enterprises S0… (one supply posting each, ratings given) and buyer enterprises whose
    demands differ in tags, district, price and quantity — so the known part of the utility varies."""
    rng = np.random.default_rng(seed)
    sup = [f"S{i}" for i in range(len(ratings))]
    buy = [f"B{i}" for i in range(n_demands)]
    ent = pd.DataFrame({
        "uscc": sup + buy,
        "tax_credit_rating": pd.array(ratings + ["B"] * n_demands, dtype="string"),
        "employees": np.r_[rng.integers(5, 500, len(sup)), rng.integers(5, 500, n_demands)].astype(float),
        "w0": rng.normal(0, 1, len(sup) + n_demands), "w1": rng.normal(0, 1, len(sup) + n_demands),
    }).set_index("uscc", drop=False)
    ent["reputation"] = reputation_prior_mean(ent) + rng.normal(0, TASTE_SD["reputation"], len(ent))
    posts = pd.DataFrame({
        "posting_id": [f"PS{i}" for i in range(len(sup))] + [f"PD{i}" for i in range(n_demands)],
        "uscc": sup + buy, "side": ["supply"] * len(sup) + ["demand"] * n_demands,
        "tags_true": ["钢材;铝材"] * len(sup) + list(rng.choice(TAGS, n_demands)),
        "division": ["32"] * len(sup) + list(rng.choice(["33", "34", "32"], n_demands)),
        "chain": ["金属"] * len(sup) + list(rng.choice(["金属", ""], n_demands)),
        "district_code": list(rng.choice(DISTRICTS, len(sup) + n_demands)),
        "price_min": rng.uniform(0.3, 0.5, len(sup) + n_demands),
        "price_max": rng.uniform(0.5, 0.9, len(sup) + n_demands),
        "quantity": rng.integers(5, 200, len(sup) + n_demands).astype(float),
    }).set_index("posting_id", drop=False)
    return {"enterprises": ent, "postings": posts, "adjacency": {("32", "33")}}


def simulate(truth: dict, supplier: int, n: int, seed: int, start: str = "2025-01-01") -> pd.DataFrame:
    """Interactions of supplier ``supplier`` drawn as ``generate_posting_interactions`` draws them, with
    the generator's own utility (``posting_pair_utility`` on the true table)."""
    rng = np.random.default_rng(seed)
    demands = truth["postings"].index[truth["postings"]["side"] == "demand"]
    pairs = pd.DataFrame({"demand_id": rng.choice(demands, n), "supply_id": f"PS{supplier}"})
    util = posting_pair_utility(pairs, truth["postings"], truth["enterprises"], truth["adjacency"])
    rank = rng.integers(1, 6, n)
    contacted = rng.random(n) < util["p_contact"].to_numpy() / np.sqrt(rank)
    deal = contacted & (rng.random(n) < util["p_deal"].to_numpy())
    date = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.integers(0, 100, n)), unit="D")
    return pairs.assign(date=date.strftime("%Y-%m-%d"), rank=rank, contacted=contacted, deal=deal)


def test_prior_is_the_rating_part_of_the_generator():
    """reputation − its N(0, 0.6) draw is exactly reputation_prior_mean (guards against drift in
    ``enterprise_truth``)."""
    from quanhuiqi.reference.industries import industry_table
    from quanhuiqi.synth.city import enterprise_truth
    from quanhuiqi.synth.preference import enterprise_tastes

    codes = industry_table().index[:40].to_numpy()
    true = pd.DataFrame({"uscc": [f"E{i}" for i in range(40)], "industry_code": codes,
                         "tax_credit_rating": pd.array(["A", "B", "M", "C", "D", None, "B", "A"] * 5, dtype="string")})
    t = enterprise_truth(true, seed=7)
    draw = enterprise_tastes(t["section"], np.random.default_rng([7, 29]))["reputation"]
    np.testing.assert_allclose(t["reputation"] - draw, reputation_prior_mean(t), atol=1e-12)
    assert reputation_prior_mean(t).nunique() == 5  # A, B, M (= missing), C, D


def test_no_interactions_gives_the_prior_mean():
    truth = tiny_truth(5, ["A", "B", "M", "C", "D", None])
    empty = pd.DataFrame(columns=["date", "demand_id", "supply_id", "rank", "contacted", "deal"])
    post = reputation_posterior(truth, empty, None)
    expected = 0.25 * (np.array([2, 1, 0, -1, -2, 0]) - 0.9)
    np.testing.assert_allclose(post.loc[[f"S{i}" for i in range(6)]].to_numpy(), expected)
    # a supplier other suppliers' history says nothing about keeps its prior too
    some = simulate(truth, 0, 50, seed=1)
    post = reputation_posterior(truth, some, None)
    np.testing.assert_allclose(post.loc[[f"S{i}" for i in range(1, 6)]].to_numpy(), expected[1:])
    assert post.loc["S0"] != pytest.approx(expected[0])


@pytest.mark.parametrize("true_value", [-1.2, 0.3, 1.1])
def test_many_interactions_recover_the_true_reputation(true_value):
    truth = tiny_truth(60, ["B", "M"])
    truth["enterprises"].loc["S0", "reputation"] = true_value
    inter = simulate(truth, 0, 6000, seed=3)
    frame = reputation_posterior_frame(truth, inter, None)
    assert frame.loc["S0", "n_interactions"] == 6000
    assert frame.loc["S0", "mean"] == pytest.approx(true_value, abs=max(0.12, 3 * frame.loc["S0", "sd"]))
    assert frame.loc["S0", "sd"] < 0.1 < TASTE_SD["reputation"]
    # the prior is far from the truth in the outer cases: the data, not the prior, decided
    assert abs(frame.loc["S0", "prior_mean"] - true_value) > 0.2


def test_only_interactions_before_the_cut_are_used():
    truth = tiny_truth(30, ["A", "C"])
    inter = pd.concat([simulate(truth, 0, 300, seed=4), simulate(truth, 1, 300, seed=5)], ignore_index=True)
    cut = pd.Timestamp("2025-02-15")
    early = inter[pd.to_datetime(inter["date"]) < cut]
    assert 0 < len(early) < len(inter)
    base = reputation_posterior(truth, inter, cut)
    pd.testing.assert_series_equal(base, reputation_posterior(truth, early, None))
    # rewriting every outcome on/after the cut (incl. the cut day itself) changes nothing …
    late = (pd.to_datetime(inter["date"]) >= cut).to_numpy()
    flipped = inter.copy()
    flipped.loc[late, "contacted"] = True
    flipped.loc[late, "deal"] = True
    pd.testing.assert_series_equal(base, reputation_posterior(truth, flipped, cut))
    # … while without a cut the same rewrite moves both suppliers up
    assert (reputation_posterior(truth, flipped, None).loc[["S0", "S1"]]
            > reputation_posterior(truth, inter, None).loc[["S0", "S1"]]).all()


def test_grid_equals_brute_force_integration():
    """A few interactions of one supplier: the posterior mean by numerical integration of prior ×
    the likelihood computed afresh at every reputation value with ``posting_pair_utility``."""
    from scipy.integrate import quad

    truth = tiny_truth(8, ["A"], seed=2)
    inter = pd.DataFrame({"date": "2025-03-01", "demand_id": ["PD0", "PD1", "PD2", "PD3", "PD4"],
                          "supply_id": "PS0", "rank": [1, 2, 3, 5, 1],
                          "contacted": [True, True, False, True, False], "deal": [True, False, False, True, False]})
    mu, sd = 0.25 * (2 - 0.9), TASTE_SD["reputation"]
    pairs = inter[["demand_id", "supply_id"]]
    c, d, rank = inter["contacted"].to_numpy(), inter["deal"].to_numpy(), inter["rank"].to_numpy()

    def density(r: float) -> float:
        ent = truth["enterprises"].copy()
        ent.loc["S0", "reputation"] = r
        u = posting_pair_utility(pairs, truth["postings"], ent, truth["adjacency"])["utility"].to_numpy()
        pc = sigmoid(u - 2.6) / np.sqrt(rank)
        pd_ = sigmoid(u - 3.2)
        lik = np.where(c, pc * np.where(d, pd_, 1 - pd_), 1 - pc).prod()
        return lik * np.exp(-0.5 * ((r - mu) / sd) ** 2)

    lo, hi = mu - 8 * sd, mu + 8 * sd
    z = quad(density, lo, hi, epsabs=1e-12)[0]
    mean = quad(lambda r: r * density(r), lo, hi, epsabs=1e-12)[0] / z
    second = quad(lambda r: r * r * density(r), lo, hi, epsabs=1e-12)[0] / z
    frame = reputation_posterior_frame(truth, inter, None)
    assert frame.loc["S0", "mean"] == pytest.approx(mean, abs=1e-4)
    assert frame.loc["S0", "sd"] == pytest.approx(np.sqrt(second - mean**2), abs=1e-4)
    assert abs(mean - mu) > 0.05  # the interactions did move it
    values, weights, n = reputation_posterior_grid(truth, inter, None)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert n.tolist() == [5] + [0] * 8
    row = truth["enterprises"].index.get_loc("S0")
    # E[relevance] over the posterior, as the ceiling benchmark scores it, against the integral
    util0 = posting_pair_utility(pairs.iloc[:1], truth["postings"], truth["enterprises"].assign(reputation=0.0),
                                 truth["adjacency"])["utility"].iloc[0]

    def relevance(r: float) -> float:
        return float(sigmoid(util0 + r - 2.6) * (1 + sigmoid(util0 + r - 3.2)))

    exact = quad(lambda r: relevance(r) * density(r), lo, hi, epsabs=1e-12)[0] / z
    grid = sum(relevance(v) * w for v, w in zip(values[row], weights[row]))
    assert grid == pytest.approx(exact, abs=1e-5)


def test_bad_interactions_are_named():
    truth = tiny_truth(5, ["A"])
    good = simulate(truth, 0, 10, seed=6)
    with pytest.raises(ValueError, match="do not know|does not know"):
        reputation_posterior(truth, good.assign(supply_id="PX9"), None)
    with pytest.raises(ValueError, match="deal without contact"):
        reputation_posterior(truth, good.assign(contacted=False, deal=True), None)
    with pytest.raises(ValueError, match="rank"):
        reputation_posterior(truth, good.assign(rank=0), None)
    with pytest.raises(ValueError, match="missing column"):
        reputation_posterior(truth, good.drop(columns="deal"), None)


def test_enterprises_with_reputation_scores_with_the_replacement():
    truth = tiny_truth(10, ["A", "D"])
    post = pd.Series({"S0": 1.5})
    ent = enterprises_with_reputation(truth, post, zero_latent=True)
    assert ent.loc["S0", "reputation"] == 1.5
    assert ent.loc["S1", "reputation"] == pytest.approx(0.25 * (-2 - 0.9))  # not given → prior
    assert (ent[["w0", "w1"]] == 0).all().all()
    assert truth["enterprises"]["w0"].ne(0).all()  # the truth is untouched
    pairs = pd.DataFrame({"demand_id": ["PD0", "PD1"], "supply_id": ["PS0", "PS0"]})
    a = posting_pair_utility(pairs, truth["postings"], ent, truth["adjacency"])["utility"]
    ent2 = ent.copy()
    ent2.loc["S0", "reputation"] = 0.5
    b = posting_pair_utility(pairs, truth["postings"], ent2, truth["adjacency"])["utility"]
    np.testing.assert_allclose(a - b, 1.0)
    kept = enterprises_with_reputation(truth, post)
    pd.testing.assert_series_equal(kept["w0"], truth["enterprises"]["w0"])


def test_the_joint_mode_recovers_w_where_the_history_is_rich_and_keeps_the_prior_where_there_is_none():
    """Many interactions between every supplier and buyer: the bilinear term w_d·w_s is recovered (up to
    the posterior's rotation, which the product does not see); no interactions: the prior (w = 0)."""
    from ceilings.reputation_posterior import latent_posterior_mode

    truth = tiny_truth(30, ["B", "A", "M", "C", "B", "A"], seed=2)
    rich = pd.concat([simulate(truth, i, 3000, seed=10 + i) for i in range(6)], ignore_index=True)
    mode = latent_posterior_mode(truth, rich, None)
    ent = truth["enterprises"]
    sup = [f"S{i}" for i in range(6)]
    buy = [f"B{i}" for i in range(30)]
    true_prod = ent.loc[buy, ["w0", "w1"]].to_numpy() @ ent.loc[sup, ["w0", "w1"]].to_numpy().T
    est_prod = mode.loc[buy, ["w0", "w1"]].to_numpy() @ mode.loc[sup, ["w0", "w1"]].to_numpy().T
    assert np.corrcoef(true_prod.ravel(), est_prod.ravel())[0, 1] > 0.8
    np.testing.assert_allclose(mode.loc[sup, "reputation"], ent.loc[sup, "reputation"], atol=0.35)
    assert (mode.loc[sup, "n_interactions"] == 3000).all()
    empty = rich.iloc[:0]
    none = latent_posterior_mode(truth, empty, None)
    assert (none[["w0", "w1"]] == 0).all().all()
    np.testing.assert_allclose(none["reputation"], reputation_prior_mean(ent))


def test_postings_of_enterprises_the_truth_does_not_know_are_refused_by_id():
    """Both posteriors refuse an interaction whose posting belongs to no truth enterprise, naming it."""
    from ceilings.reputation_posterior import latent_posterior_mode

    truth = tiny_truth(5, ["A", "B"])
    inter = simulate(truth, 0, 20, seed=7)
    orphan_supply = {**truth, "postings": truth["postings"].assign(
        uscc=truth["postings"]["uscc"].where(truth["postings"].index != "PS0", "NOBODY"))}
    orphan_demand = {**truth, "postings": truth["postings"].assign(
        uscc=truth["postings"]["uscc"].where(truth["postings"].index != inter["demand_id"].iloc[0], "NOBODY"))}
    with pytest.raises(ValueError, match=r"supplies \['PS0'\] belong to enterprises the truth does not know"):
        reputation_posterior(orphan_supply, inter, None)
    with pytest.raises(ValueError, match=r"supplies \['PS0'\] belong to enterprises the truth does not know"):
        latent_posterior_mode(orphan_supply, inter, None)
    with pytest.raises(ValueError, match=rf"demands \['{inter['demand_id'].iloc[0]}'\] belong to enterprises"):
        latent_posterior_mode(orphan_demand, inter, None)
    with pytest.raises(ValueError, match="deal without contact"):
        latent_posterior_mode(truth, inter.assign(contacted=False, deal=True), None)
