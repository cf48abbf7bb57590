"""The taste posterior behind benchmarks/rank_ceiling.py: prior without history, the truth with a lot
of it, the date cut, and a true maximum of the log posterior."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ceilings.taste_posterior import (
    DEPT,
    TASTES,
    design,
    taste_posterior,
    taste_prior,
    with_tastes,
    without_tastes,
)

from quanhuiqi.synth.preference import (
    APPLY_OFFSET,
    APPLY_SHIFT,
    CLICK_OFFSET,
    load_truth,
    policy_pair_utility,
    sigmoid,
)

TRUTH = Path(__file__).resolve().parents[2] / "data_samples" / "truth"


@cache
def truth() -> dict:
    return load_truth(TRUTH)


def simulate(firm: str, n: int, seed: int, start: str = "2025-03-01") -> pd.DataFrame:
    """``n`` pushes of random policies to one firm, outcomes drawn with the generator's likelihood."""
    t = truth()
    rng = np.random.default_rng(seed)
    pol = t["policies"]
    ids = pol.index.to_numpy()[rng.integers(0, len(pol), n)]
    dates = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 100, n), unit="D")
    pairs = pd.DataFrame({"uscc": firm, "policy_id": ids})
    out = policy_pair_utility(pairs, t["enterprises"], pol, t["dept_affinity"], pd.Series(dates))
    clicked = rng.random(n) < out["p_click"].to_numpy()
    applied = clicked & (rng.random(n) < out["p_apply"].to_numpy())
    return pd.DataFrame({"date": dates, "uscc": firm, "policy_id": ids,
                         "mode": pol.loc[ids, "mode"].astype(str).to_numpy(), "clicked": clicked, "applied": applied})


def test_without_history_every_firm_keeps_its_prior() -> None:
    t = truth()
    empty = pd.DataFrame({"date": [], "uscc": [], "policy_id": [], "mode": [], "clicked": [], "applied": []})
    post = taste_posterior(t, empty)
    mean, var = taste_prior(t["enterprises"])
    np.testing.assert_allclose(post.to_numpy(), mean)
    assert list(post.columns) == TASTES and (var > 0).all()
    # the section prior is centred on the others of the section, not on the firm itself
    ent = t["enterprises"]
    sec = ent["section"].iloc[0]
    others = ent.loc[(ent["section"] == sec).to_numpy(), DEPT[0]].iloc[1:]
    assert mean[0, 0] == pytest.approx(others.mean() * (len(others) / 0.49) / (len(others) / 0.49 + 1 / 0.25))


def test_a_long_history_recovers_the_firms_own_tastes() -> None:
    """Judged on the utility the tastes add to each policy (a family taste and a kind taste can trade a
    constant, so single tastes are not identified; their sum per policy is)."""
    t = truth()
    firm = t["enterprises"].index[7]
    pushes = simulate(firm, 6000, seed=1)
    post = taste_posterior(t, pushes).loc[firm].to_numpy()
    true = t["enterprises"].loc[firm, TASTES].to_numpy(float)
    prior = taste_prior(t["enterprises"])[0][7]
    every_policy = design(pd.DataFrame({"uscc": firm, "policy_id": t["policies"].index}), t["policies"])
    err = np.abs(every_policy @ (post - true))
    assert err.mean() < 0.15 and err.max() < 0.5, (err.mean(), err.max())
    assert err.mean() < 0.5 * np.abs(every_policy @ (prior - true)).mean()


def test_only_pushes_before_the_cut_are_read() -> None:
    t = truth()
    firm = t["enterprises"].index[3]
    early = simulate(firm, 200, seed=2, start="2025-01-01")
    late = simulate(firm, 2000, seed=3, start="2025-06-01")
    cut = pd.Timestamp("2025-05-01")
    assert (early["date"] < cut).all() and (late["date"] >= cut).all()
    a = taste_posterior(t, early, before=cut)
    b = taste_posterior(t, pd.concat([early, late], ignore_index=True), before=cut)
    pd.testing.assert_frame_equal(a, b)
    c = taste_posterior(t, pd.concat([early, late], ignore_index=True))
    assert not np.allclose(c.loc[firm].to_numpy(), a.loc[firm].to_numpy())


def test_the_answer_maximises_the_log_posterior() -> None:
    t = truth()
    ent = t["enterprises"]
    firm = ent.index[11]
    pushes = simulate(firm, 40, seed=4)
    post = taste_posterior(t, pushes).loc[firm].to_numpy()
    i = ent.index.get_loc(firm)
    mean, var = (m[i] for m in taste_prior(ent))
    pairs = pushes[["uscc", "policy_id"]]
    base = policy_pair_utility(pairs, without_tastes(ent), t["policies"], t["dept_affinity"],
                               pd.Series(pushes["date"].to_numpy()))["utility"].to_numpy()
    x = design(pairs, t["policies"])
    shift = pushes["mode"].map(APPLY_SHIFT).to_numpy(float)
    c, a = pushes["clicked"].to_numpy(), pushes["applied"].to_numpy()

    def log_post(theta: np.ndarray) -> float:
        u = base + x @ theta
        pc, pa = sigmoid(u - CLICK_OFFSET), sigmoid(u - APPLY_OFFSET + shift)
        ll = np.where(c, np.log(pc), np.log1p(-pc)) + np.where(c, np.where(a, np.log(pa), np.log1p(-pa)), 0.0)
        return float(ll.sum() - 0.5 * (((theta - mean) ** 2) / var).sum())

    best = log_post(post)
    rng = np.random.default_rng(5)
    for _ in range(20):
        assert log_post(post + rng.normal(0, 0.05, len(post))) < best
    # and the utility with the posterior tastes equals the truth's with the same tastes put in
    table = with_tastes(ent, np.where(np.arange(len(ent))[:, None] == i, post, ent[TASTES].to_numpy()))
    u = policy_pair_utility(pairs, table, t["policies"], t["dept_affinity"],
                            pd.Series(pushes["date"].to_numpy()))["utility"].to_numpy()
    np.testing.assert_allclose(u, base + x @ post, atol=1e-9)


def test_a_push_history_it_cannot_read_is_refused_naming_why() -> None:
    t = truth()
    pushes = simulate(t["enterprises"].index[0], 5, seed=6)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['clicked'\]"):
        taste_posterior(t, pushes.drop(columns="clicked"))
    bad = pushes.assign(date=pushes["date"].astype(str))
    bad.loc[2, "date"] = "not a date"
    with pytest.raises(ValueError, match=r"unreadable date in row\(s\) \[2\]"):
        taste_posterior(t, bad)


def test_laplace_draws_centre_on_the_mode_and_narrow_with_history() -> None:
    """Draws: prior spread for a firm without pushes; around the mode, tighter the more pushes it had."""
    from ceilings.taste_posterior import taste_posterior_draws

    t = truth()
    ents = t["enterprises"].index
    few, many = simulate(ents[0], 15, seed=1), simulate(ents[1], 3000, seed=2)
    pushes = pd.concat([few, many], ignore_index=True)
    draws = taste_posterior_draws(t, pushes, draws=4000, seed=3, firms=ents[:3])
    mode = taste_posterior(t, pushes).to_numpy()[:3]
    _, var = taste_prior(t["enterprises"])
    assert draws.shape == (4000, 3, len(TASTES))
    i_few, i_many, i_none = 0, 1, 2
    np.testing.assert_allclose(draws[:, i_none].mean(axis=0), mode[i_none], atol=0.06)
    np.testing.assert_allclose(draws[:, i_none].var(axis=0), var[i_none], rtol=0.1)
    np.testing.assert_allclose(draws[:, i_many].mean(axis=0), mode[i_many], atol=0.03)
    sd_few, sd_many = draws[:, i_few].std(axis=0), draws[:, i_many].std(axis=0)
    assert (sd_many < sd_few).all() and (sd_few <= np.sqrt(var[i_few]) * 1.05).all()
    # same seed, same draws
    np.testing.assert_array_equal(draws, taste_posterior_draws(t, pushes, draws=4000, seed=3, firms=ents[:3]))
    with pytest.raises(ValueError, match="not in the truth table"):
        taste_posterior_draws(t, pushes, firms=["nobody"])
