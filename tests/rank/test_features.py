"""Pair features: sklearn conventions, as-of correctness (no leakage), hand-checked statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.rank import FEATURES, PairFeatureBuilder, assemble_pairs, specificity


@pytest.fixture
def small(simulated_pushes):
    s = simulated_pushes
    day = s.pushes["date"].max()
    cand = s.population.drop(columns=["utility"]).assign(date=day).reset_index(drop=True)
    return s, cand, day


def test_sklearn_conventions(small):
    s, cand, day = small
    pairs = assemble_pairs(cand, s.profile, s.policies)
    b = PairFeatureBuilder().set_output(transform="pandas")
    out = b.fit_transform(pairs, history=s.pushes, profile=s.profile)
    assert list(b.get_feature_names_out()) == FEATURES
    assert list(out.columns) == FEATURES and len(out) == len(cand)
    assert all(out.dtypes == "float64")
    assert b.get_params()["smoothing"] == 20.0
    with pytest.raises(RuntimeError, match="not fitted"):
        PairFeatureBuilder().transform(pairs)


def test_no_leakage_from_same_day_or_future_history(small):
    s, cand, day = small
    pairs = assemble_pairs(cand, s.profile, s.policies)
    past = s.pushes.loc[s.pushes["date"] < day]
    f_past = PairFeatureBuilder().fit(pairs, history=past, profile=s.profile).transform(pairs)
    f_all = PairFeatureBuilder().fit(pairs, history=s.pushes, profile=s.profile).transform(pairs)
    pd.testing.assert_frame_equal(f_past, f_all)
    # a future where every push was clicked and applied changes nothing today
    future = s.pushes.loc[s.pushes["date"] >= day].assign(clicked=True, applied=True)
    f_fake = PairFeatureBuilder().fit(pairs, history=pd.concat([past, future]), profile=s.profile).transform(pairs)
    pd.testing.assert_frame_equal(f_past, f_fake)
    # … while the past does matter
    f_none = PairFeatureBuilder().fit(pairs).transform(pairs)
    assert f_none["policy_apply_rate"].isna().all()
    assert not f_all["policy_apply_rate"].isna().any()
    assert f_all["ent_dept_click_rate"].notna().any() and f_all["ent_mode_apply_rate"].notna().any()


def test_history_counts_by_hand():
    pairs = pd.DataFrame(
        {"uscc": ["E1", "E1", "E2"], "policy_id": ["P1", "P2", "P1"], "date": ["2025-03-10"] * 3,
         "verdict": ["eligible", "undetermined", "eligible"], "unknown": ["", "revenue;employees", ""],
         "industry_division": ["39", "39", "13"], "valid_to": ["2025-03-20"] * 3, "valid_from": ["2025-01-01"] * 3}
    )
    history = pd.DataFrame(
        {"date": ["2025-03-01", "2025-03-05", "2025-03-10"], "uscc": ["E1", "E1", "E1"],
         "policy_id": ["P1", "P1", "P2"], "clicked": [True, False, True], "applied": [True, False, True]}
    )
    f = PairFeatureBuilder(smoothing=0.0).fit(pairs, history=history).transform(pairs)
    assert f["ent_pushes"].tolist() == [2.0, 2.0, 0.0]  # the 03-10 push is not before 03-10
    assert f["pair_prev_pushes"].tolist() == [2.0, 0.0, 0.0]
    assert f["pair_prev_clicked"].tolist() == [1.0, 0.0, 0.0]
    assert f.loc[0, "policy_apply_rate"] == pytest.approx(0.5)  # P1: 1 of 2, no smoothing
    assert f.loc[0, "ent_days_since_click"] == 9.0
    assert f["is_eligible"].tolist() == [1.0, 0.0, 1.0]
    assert f["n_unknown"].tolist() == [0.0, 2.0, 0.0]
    assert f["days_to_deadline"].tolist() == [10.0] * 3


def test_specificity_by_hand():
    pairs = pd.DataFrame(
        {"uscc": ["A", "B", "C", "D", "A", "B"], "policy_id": ["P", "P", "P", "P", "Q", "Q"],
         "date": pd.to_datetime(["2025-03-01"] * 6),
         "industry_division": ["39", "39", "13", "13", "39", "39"],
         "chains": ["ai", "ai", "", "", "ai", "ai"]}
    )
    s = specificity(pairs)
    assert s["policy_reach"].tolist() == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    # Q's candidates are all in division 39, which is half the population: lift 2
    assert s.loc[4, "lift_industry"] == pytest.approx(2.0)
    assert s.loc[0, "lift_industry"] == pytest.approx(1.0)
    assert s.loc[4, "chain_overlap"] == pytest.approx(1.0)
    assert s.loc[0, "chain_overlap"] == pytest.approx(0.5)
    assert s.loc[2, "chain_overlap"] == 0.0


def test_missing_facts_stay_unknown(small):
    s, cand, day = small
    prof = s.profile.drop(columns=["revenue", "size_class"])
    f = PairFeatureBuilder().fit_transform(assemble_pairs(cand, prof, s.policies))
    assert f["log_revenue"].isna().all() and f["size_class"].isna().all()
    assert np.isfinite(f["log_max_amount"]).all()


def test_assemble_keeps_every_candidate(small):
    s, cand, day = small
    extra = pd.DataFrame({"uscc": ["UNKNOWN"], "policy_id": ["NO-SUCH"], "verdict": ["eligible"], "date": [day]})
    pairs = assemble_pairs(pd.concat([cand, extra], ignore_index=True), s.profile, s.policies)
    assert len(pairs) == len(cand) + 1
    assert pd.isna(pairs.iloc[-1]["max_amount"])


def test_policy_targets_from_a_real_book():
    from importlib import resources

    from quanhuiqi.policy import load_book
    from quanhuiqi.rank.features import policy_frame, policy_targets

    book = load_book(resources.files("quanhuiqi.synth") / "data" / "policies")
    t = policy_targets(book)
    assert len(t) == len(book.policies) and t["policy_id"].is_unique
    assert (t["target_districts"].str.len() > 0).all()  # every policy tests district_code under …
    assert t["target_certifications"].str.contains("high_tech").any()
    frame = policy_frame(book)
    assert {"target_industries", "target_chains", "max_amount"} <= set(frame.columns)


def test_target_matches_by_hand():
    pairs = pd.DataFrame(
        {"uscc": ["A", "B", "C", "D"], "policy_id": ["P", "P", "Q", "R"], "date": ["2025-03-01"] * 4,
         "industry_code": ["3911", "1310", pd.NA, "6510"], "industry_section": ["C", "C", pd.NA, "I"],
         "district_code": ["370102", "370112", "370102", "370102"],
         "certifications": ["high_tech", "", "tech_sme", ""], "chains": ["", "", "ai", ""],
         "target_industries": ["39;I", "39;I", "39", ""], "target_certifications": ["high_tech", "high_tech", "", ""],
         "target_chains": ["", "", "ai;software_it", ""], "target_districts": ["370102", "370102", "3701", "3701"]}
    )
    f = PairFeatureBuilder().fit_transform(pairs)
    assert f["industry_match"].tolist()[:2] == [1.0, 0.0]
    assert np.isnan(f.loc[2, "industry_match"])  # industry unknown
    assert np.isnan(f.loc[3, "industry_match"])  # policy names no industry
    assert f["cert_match"].tolist()[:2] == [1.0, 0.0]
    assert f.loc[2, "chain_match"] == 1.0
    assert f["district_match"].tolist()[:2] == [1.0, 0.0]
    assert np.isnan(f.loc[2, "district_match"])  # city-wide policy targets no district


def test_amount_estimate_uses_rate_times_base():
    pairs = pd.DataFrame(
        {"uscc": ["A", "B", "C"], "policy_id": ["P", "P", "P"], "date": ["2025-03-01"] * 3,
         "max_amount": [100.0] * 3, "amount_rate": [0.1] * 3, "amount_base": ["rd_expense"] * 3,
         "rd_expense": [50.0, 5000.0, np.nan]}
    )
    f = PairFeatureBuilder().fit_transform(pairs)
    np.testing.assert_allclose(np.expm1(f["log_amount_est"]), [5.0, 100.0, 100.0])


def test_department_key_joins_city_and_district_bureaus():
    from quanhuiqi.rank.features import department_key

    got = department_key(pd.Series(["市商务局", "历下区商务局", "章丘区工业和信息化局", "市工业和信息化局", None]))
    assert got.iloc[0] == got.iloc[1] == "商务局"
    assert got.iloc[2] == got.iloc[3] == "工业和信息化局"
    assert pd.isna(got.iloc[4])


def test_revealed_preference_by_hand_and_strictly_before():
    """A firm that applied to 人社 subsidies before scores higher on the next 人社 policy than on a 科技 one;
    the push on the row's own date and anything later never count."""
    pol = pd.DataFrame({"policy_id": ["RS1", "RS2", "KJ1", "KJ2"],
                        "department": ["市人力资源社会保障局", "历下区人力资源社会保障局", "市科技局", "市科技局"],
                        "benefit_kind": ["subsidy", "subsidy", "reward", "reward"],
                        "mode": ["apply", "apply", "instant", "instant"]})
    pairs = pd.DataFrame({"uscc": ["E1", "E1"], "policy_id": ["RS2", "KJ2"], "date": ["2025-03-10"] * 2,
                          "industry_division": ["39", "39"]}).merge(pol, on="policy_id", how="left")
    history = pd.DataFrame({"date": ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-10", "2025-03-11"],
                            "uscc": ["E1"] * 5, "policy_id": ["RS1", "KJ1", "RS1", "KJ1", "KJ1"],
                            "clicked": [True, False, True, True, True], "applied": [True, False, True, True, True]})
    f = PairFeatureBuilder().fit(pairs, history=history, policies=pol).transform(pairs)
    assert f["ent_dept_pushes"].tolist() == [2.0, 1.0]  # 市/区 人社 are one bureau; 03-10 and 03-11 not counted
    assert f.loc[0, "ent_dept_apply_rate"] > f.loc[1, "ent_dept_apply_rate"]
    assert f.loc[0, "ent_mode_apply_rate"] > f.loc[1, "ent_mode_apply_rate"]
    assert f.loc[0, "ent_kind_click_rate"] > f.loc[1, "ent_kind_click_rate"]
    assert f.loc[0, "seg_dept_apply_rate"] > f.loc[1, "seg_dept_apply_rate"]
    # rewriting the same-day and future outcomes changes nothing
    h2 = history.assign(clicked=[True, False, True, False, False], applied=[True, False, True, False, False])
    f2 = PairFeatureBuilder().fit(pairs, history=h2, policies=pol).transform(pairs)
    pd.testing.assert_frame_equal(f, f2)
    # without history the revealed features are unknown, never zero
    f0 = PairFeatureBuilder().fit(pairs).transform(pairs)
    assert f0[[c for c in FEATURES if c.startswith(("ent_dept", "ent_kind", "ent_mode", "seg_dept"))]].isna().all().all()
