"""Per-enterprise effects (GLMix): what a firm's own pushes reveal, shrunk, read strictly before the cut."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from quanhuiqi.rank import PairFeatureBuilder, load_ranker
from quanhuiqi.rank.firm_effects import FirmEffects

POLICIES = pd.DataFrame({
    "policy_id": ["P1", "P2", "P3", "P4"],
    "department": ["市商务局", "历下区商务局", "市科技局", "市财政局"],
    "benefit_kind": ["subsidy", "subsidy", "reward", "loan_interest"],
    "mode": ["apply", "instant", "apply", "auto"],
})


def _history(rng: np.random.Generator, n_firms: int = 40, days: int = 30) -> pd.DataFrame:
    """Random pushes; firm F0 clicks and applies to every 商务局 policy and nothing else."""
    rows = []
    for f in range(n_firms):
        for d in range(days):
            if rng.random() < 0.4:
                p = rng.choice(POLICIES["policy_id"])
                if f == 0:
                    click = p in ("P1", "P2")
                    apply = click
                else:
                    click = rng.random() < 0.25
                    apply = click and rng.random() < 0.3
                rows.append((pd.Timestamp("2025-05-01") + pd.Timedelta(days=d), f"F{f}", p, click, apply))
    h = pd.DataFrame(rows, columns=["date", "uscc", "policy_id", "clicked", "applied"])
    return h.merge(POLICIES[["policy_id", "mode"]], on="policy_id")


def test_a_firm_that_only_reads_one_bureau_gets_a_positive_effect_for_it():
    h = _history(np.random.default_rng(0))
    fe = FirmEffects(tau=0.5).fit(h, POLICIES)
    pairs = pd.DataFrame({"uscc": ["F0"] * 4, "policy_id": POLICIES["policy_id"]}).merge(POLICIES, on="policy_id")
    eta = fe.effect(pairs)
    # the city and district 商务局 share the bureau key: both well above the other bureaus' policies
    # (P3 shares P1's mode, so it is not pushed below zero; its bureau's own effect is)
    assert min(eta[0], eta[1]) > max(eta[2], eta[3]) + 1.0
    table = fe.table()
    row = table[(table["uscc"] == "F0") & (table["group"] == "dept_key")].set_index("level")["effect"]
    others = row.drop("商务局")
    assert row["商务局"] > 0 and len(others) and (others < 0).all()


def test_no_history_unknown_firms_and_unknown_levels_give_zero():
    fe = FirmEffects().fit(_history(np.random.default_rng(1)).iloc[:0], POLICIES)
    pairs = pd.DataFrame({"uscc": ["F0", "X"], "policy_id": ["P1", "P3"]})
    np.testing.assert_array_equal(fe.effect(pairs, POLICIES), [0.0, 0.0])
    fe = FirmEffects().fit(_history(np.random.default_rng(1)), POLICIES)
    new_policy = pd.DataFrame({"uscc": ["nobody", "F0"], "policy_id": ["P1", "P9"], "department": ["市商务局", "市新局"],
                               "benefit_kind": ["subsidy", "new_kind"], "mode": ["apply", "new_mode"]})
    eta = fe.effect(new_policy)
    assert eta[0] == 0.0 and eta[1] == 0.0


def test_only_pushes_strictly_before_the_cut_are_read():
    h = _history(np.random.default_rng(2))
    cut = pd.Timestamp("2025-05-20")
    a = FirmEffects(tau=0.4).fit(h, POLICIES, before=cut)
    b = FirmEffects(tau=0.4).fit(h[h["date"] < cut], POLICIES)
    later = h[h["date"] >= cut].assign(clicked=~h["clicked"], applied=False)  # rewrite the future entirely
    c = FirmEffects(tau=0.4).fit(pd.concat([h[h["date"] < cut], later]), POLICIES, before=cut)
    pairs = h[["uscc", "policy_id"]].drop_duplicates()
    np.testing.assert_array_equal(a.effect(pairs, POLICIES), b.effect(pairs, POLICIES))
    np.testing.assert_array_equal(a.effect(pairs, POLICIES), c.effect(pairs, POLICIES))
    assert not np.array_equal(a.effect(pairs, POLICIES), FirmEffects(tau=0.4).fit(h, POLICIES).effect(pairs, POLICIES))


def test_more_evidence_moves_the_effect_further_and_a_tighter_prior_less():
    h = _history(np.random.default_rng(3))
    short = h[h["date"] < pd.Timestamp("2025-05-08")]
    pairs = pd.DataFrame({"uscc": ["F0"], "policy_id": ["P1"]})
    e_short = FirmEffects(tau=0.5).fit(short, POLICIES).effect(pairs, POLICIES)[0]
    e_long = FirmEffects(tau=0.5).fit(h, POLICIES).effect(pairs, POLICIES)[0]
    e_tight = FirmEffects(tau=0.1).fit(h, POLICIES).effect(pairs, POLICIES)[0]
    assert 0 < e_short < e_long and 0 < e_tight < e_long


def test_graded_relevance_gives_the_same_effects_as_the_flags():
    h = _history(np.random.default_rng(4))
    graded = h.drop(columns=["clicked", "applied"]).assign(
        relevance=np.select([h["applied"], h["clicked"]], [2, 1], 0))
    pairs = h[["uscc", "policy_id"]].drop_duplicates()
    np.testing.assert_allclose(FirmEffects().fit(graded, POLICIES).effect(pairs, POLICIES),
                               FirmEffects().fit(h, POLICIES).effect(pairs, POLICIES), rtol=0, atol=0)


def test_the_fit_is_the_posterior_mode():
    """Against a direct optimiser over every β of every firm (same offsets, same likelihood, same prior)."""
    from quanhuiqi.rank.firm_effects import RATE_SMOOTHING, _logit

    h = _history(np.random.default_rng(5), n_firms=6, days=25)
    tau = 0.6
    fe = FirmEffects(tau=tau, sweeps=200).fit(h, POLICIES)
    groups = h.merge(POLICIES.drop(columns="mode"), on="policy_id")
    groups["dept_key"] = groups["department"].str.replace(r"^(市|历下区)", "", regex=True)
    cols = {"dept_key": "dept_key", "benefit_kind": "benefit_kind", "mode": "mode"}
    firms = sorted(h["uscc"].unique())
    levels = {g: sorted(groups[c].unique()) for g, c in cols.items()}
    sizes = [len(firms) * len(levels[g]) for g in cols]
    idx = {g: np.array([firms.index(u) * len(levels[g]) + levels[g].index(v)
                        for u, v in zip(groups["uscc"], groups[c])]) for g, c in cols.items()}
    y1 = groups["clicked"].to_numpy(float)
    y2 = (groups["applied"] & groups["clicked"]).to_numpy(float)
    pid = groups["policy_id"].to_numpy()
    r = {}
    for p in np.unique(pid):
        m = pid == p
        r[p] = ((y1[m].sum() + RATE_SMOOTHING * y1.mean()) / (m.sum() + RATE_SMOOTHING),
                (y2[m].sum() + RATE_SMOOTHING * y2.sum() / y1.sum()) / (y1[m].sum() + RATE_SMOOTHING))
    o1 = _logit(np.array([r[p][0] for p in pid]))
    o2 = _logit(np.array([r[p][1] for p in pid]))

    def neg_log_post(beta):
        parts = np.split(beta, np.cumsum(sizes)[:-1])
        eta = sum(b[idx[g]] for b, g in zip(parts, cols))
        ll = y1 * (o1 + eta) - np.logaddexp(0, o1 + eta)
        ll += y1 * (y2 * (o2 + eta) - np.logaddexp(0, o2 + eta))
        return -ll.sum() + 0.5 * (beta**2).sum() / tau**2

    best = minimize(neg_log_post, np.zeros(sum(sizes)), method="L-BFGS-B", options={"gtol": 1e-10, "maxiter": 5000})
    parts = np.split(best.x, np.cumsum(sizes)[:-1])
    for b, g in zip(parts, cols):
        ours = pd.DataFrame(fe.effects_[g], index=fe.firms_.astype(str), columns=fe.levels_[g].astype(str))
        ours = ours.reindex(index=firms, columns=levels[g]).to_numpy()
        np.testing.assert_allclose(ours, b.reshape(len(firms), -1), atol=2e-4)


def test_bad_parameters_and_inputs_are_refused():
    with pytest.raises(ValueError, match="tau must be a positive"):
        FirmEffects(tau=0)
    with pytest.raises(ValueError, match="missing column"):
        FirmEffects().fit(pd.DataFrame({"uscc": ["a"], "policy_id": ["P1"], "clicked": [True]}))
    with pytest.raises(ValueError, match="clicked/applied"):
        FirmEffects().fit(pd.DataFrame({"date": ["2025-01-01"], "uscc": ["a"], "policy_id": ["P1"]}))
    with pytest.raises(RuntimeError, match="not fitted"):
        FirmEffects().effect(pd.DataFrame({"uscc": ["a"], "policy_id": ["P1"]}))
    h = _history(np.random.default_rng(6))
    with pytest.raises(ValueError, match=r"unreadable date in row\(s\) \[3\]"):
        FirmEffects().fit(h.astype({"date": object}).assign(date=lambda f: f["date"].where(f.index != 3, "someday")),
                          POLICIES, before="2025-05-20")
    graded = h.drop(columns=["clicked", "applied"]).assign(relevance=1).astype({"relevance": object})
    graded.loc[5, "relevance"] = "clicked"
    with pytest.raises(ValueError, match=r"relevance is not a number in row\(s\) \[5\]"):
        FirmEffects().fit(graded, POLICIES)
    with pytest.raises(ValueError, match="tau must be a positive"):  # a builder checks it even without history
        PairFeatureBuilder(firm_effect_tau=-1.0).fit(pd.DataFrame({"uscc": ["a"], "policy_id": ["P1"]}),
                                                     policies=POLICIES, as_of="2025-06-01")


# -- in the feature builder, the ranker, training, the registry ---------------------------------------

def _with_effects(trained, tau: float = 0.3, weight: float = 0.7):
    """The trained ranker's booster with firm effects switched on (what tuning does when they help)."""
    from quanhuiqi.rank import LambdaRanker, PairFeatureBuilder

    return LambdaRanker.from_booster(trained.ranker.booster_, threads=1, firm_effect_weight=weight,
                                     builder=PairFeatureBuilder(**dict(trained.ranker.builder.config(),
                                                                       firm_effect_tau=tau)))


def test_the_builder_appends_the_effect_fitted_before_its_day(day_inputs):
    from quanhuiqi.rank import FEATURES, PairFeatureBuilder, assemble_pairs

    s, cand, d = day_inputs
    pairs = assemble_pairs(cand.assign(date=d), s.profile, s.policies)
    plain = PairFeatureBuilder().fit(pairs, history=s.pushes, profile=s.profile, policies=s.policies, as_of=d)
    with_fe = PairFeatureBuilder(firm_effect_tau=0.3).fit(pairs, history=s.pushes, profile=s.profile,
                                                          policies=s.policies, as_of=d)
    a, b = plain.transform(pairs), with_fe.transform(pairs)
    assert list(a.columns) == list(FEATURES) and list(b.columns) == list(FEATURES) + ["firm_effect"]
    assert list(with_fe.get_feature_names_out()) == list(b.columns)
    pd.testing.assert_frame_equal(a, b.iloc[:, :-1])
    want = FirmEffects(0.3).fit(s.pushes, s.policies, before=d).effect(pairs)
    np.testing.assert_array_equal(b["firm_effect"].to_numpy(), want)
    assert (want != 0).mean() > 0.5  # most enterprises of the day have pushes before it
    assert with_fe.config()["firm_effect_tau"] == 0.3 and "firm_effect_tau" not in plain.config()
    # without history there is nothing to reveal: the column is there, all zero
    none = PairFeatureBuilder(firm_effect_tau=0.3).fit(pairs, profile=s.profile, policies=s.policies, as_of=d)
    assert (none.transform(pairs)["firm_effect"] == 0).all()


def test_the_ranker_adds_the_weighted_effect_and_explains_it(trained_ranker, day_inputs):
    s, cand, d = day_inputs
    plain = trained_ranker.ranker
    ranker = _with_effects(trained_ranker, weight=0.7)
    feats = ranker.features(cand, s.profile, s.policies, d, history=s.pushes)
    eta = feats["firm_effect"].to_numpy()
    base = plain.score(cand, s.profile, s.policies, d, history=s.pushes)
    np.testing.assert_allclose(ranker.score(cand, s.profile, s.policies, d, history=s.pushes), base + 0.7 * eta,
                               rtol=1e-12, atol=1e-12)
    contrib = ranker.contributions(feats.head(300))
    np.testing.assert_allclose(contrib.sum(axis=1), ranker.predict(feats.head(300)), atol=1e-9)
    # a firm whose own history dominates gets it named as a reason
    loud = _with_effects(trained_ranker, weight=50.0)
    reasons = loud.reasons(cand, s.profile, s.policies, d, history=s.pushes)
    assert reasons.str.contains("贵企以往对同类政策反馈积极").any()
    # the signature check still guards the model's own columns
    with pytest.raises(ValueError, match="signature"):
        ranker.predict(feats.drop(columns=["policy_apply_rate"]))


def test_training_tunes_the_effects_on_the_validation_window(ranker_data):
    from quanhuiqi.rank import train_ranker

    result = train_ranker(ranker_data, threads=1, num_boost_round=30, early_stopping_rounds=10)
    fe = result.firm_effects
    assert set(fe) == {"tau", "weight", "valid_ndcg", "valid_ndcg_without"}
    assert fe["valid_ndcg"] >= fe["valid_ndcg_without"]
    if fe["weight"] > 0:
        assert result.ranker.builder.firm_effect_tau == fe["tau"]
        assert result.ranker.firm_effect_weight == fe["weight"]
        assert "model_global" in result.report.index
    else:
        assert result.ranker.firm_effect_weight == 0 and "model_global" not in result.report.index
    assert "firm_effects.weight" in result.metrics
    off = train_ranker(ranker_data, threads=1, num_boost_round=30, early_stopping_rounds=10, firm_effects=False)
    assert off.firm_effects is None and off.ranker.firm_effect_weight == 0
    assert off.ranker.builder.firm_effect_tau is None and "model_global" not in off.report.index
    assert off.ranker.model_string() == result.ranker.model_string()  # the booster is the same either way


def test_the_tuned_effects_help_on_the_sample_city():
    """data_samples: the validation window picks effects, and they raise the test window's truth NDCG@5."""
    from pathlib import Path

    from quanhuiqi.rank import build_training_data, train_ranker
    from quanhuiqi.synth.truth import PolicyTruth

    samples = Path(__file__).resolve().parents[2] / "data_samples"
    result = train_ranker(build_training_data(samples), threads=1, truth=PolicyTruth.of_city(samples))
    assert result.firm_effects["weight"] > 0
    truth = result.truth_report["ndcg@5"]
    assert truth["model"] > truth["model_global"] + 0.003


def test_registry_round_trip_keeps_the_effects(mlflow_uri, trained_ranker, day_inputs):
    from quanhuiqi import registry

    ranker = _with_effects(trained_ranker, tau=0.4, weight=0.6)
    ranker.params, ranker.num_boost_round = trained_ranker.ranker.params, trained_ranker.ranker.num_boost_round
    ranker.early_stopping_rounds = trained_ranker.ranker.early_stopping_rounds
    run = registry.log_ranker(ranker, run_name="fe")
    registry.set_alias("fe-ranker", "champion", registry.register(run.model_uri, "fe-ranker"))
    loaded = load_ranker("fe-ranker@champion")
    assert loaded.firm_effect_weight == 0.6 and loaded.builder.firm_effect_tau == 0.4
    s, cand, d = day_inputs
    np.testing.assert_array_equal(loaded.score(cand, s.profile, s.policies, d, history=s.pushes),
                                  ranker.score(cand, s.profile, s.policies, d, history=s.pushes))
    from mlflow import MlflowClient

    params = MlflowClient(tracking_uri=mlflow_uri).get_run(run.run_id).data.params
    assert params["firm_effect_weight"] == "0.6" and params["firm_effect_tau"] == "0.4"



def test_a_registered_weight_without_a_builder_tau_is_refused(mlflow_uri, trained_ranker):
    """A model whose score needs firm effects its builder would never compute cannot be loaded."""
    from quanhuiqi import registry
    from quanhuiqi.rank import LambdaRanker

    plain = {k: v for k, v in trained_ranker.ranker.builder.config().items() if k != "firm_effect_tau"}
    broken = LambdaRanker.from_booster(trained_ranker.ranker.booster_, builder=PairFeatureBuilder(**plain),
                                       threads=1, firm_effect_weight=0.5)
    broken.params, broken.num_boost_round = trained_ranker.ranker.params, trained_ranker.ranker.num_boost_round
    broken.early_stopping_rounds = trained_ranker.ranker.early_stopping_rounds
    registry.set_alias("broken", "champion", registry.register(registry.log_ranker(broken, run_name="b").model_uri,
                                                               "broken"))
    with pytest.raises(ValueError, match="broken@champion: carries a firm-effect weight but its feature builder no"):
        load_ranker("broken@champion")
