"""The synthetic grants' stage dates (what the payout lead times read) and the true payout of any policy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from quanhuiqi.tables import read_grants, validate_grants
from quanhuiqi.tables.columns import GRANT_STAGE_COLUMNS

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = "2025-07-01"


def test_stage_dates_are_valid_and_tell_a_plausible_story():
    v = validate_grants(read_grants(SAMPLES / "grants.csv"), DAY)
    assert v.rejects.empty  # consistent by construction: nothing cleared
    g = v.clean
    assert list(g.columns[1:9]) == ["uscc", "policy_id", "granted_on", "amount", *GRANT_STAGE_COLUMNS]
    assert (g["approved_on"] == g["granted_on"]).all()
    assert g["eligible_on"].notna().all()
    for a, b in zip(GRANT_STAGE_COLUMNS, GRANT_STAGE_COLUMNS[1:], strict=False):
        both = g[a].notna() & g[b].notna()
        assert (g.loc[both, a] <= g.loc[both, b]).all(), (a, b)
    assert (g["paid_on"].dropna() < pd.Timestamp(DAY)).all()
    modes = pd.read_parquet(SAMPLES / "truth" / "policies_true.parquet").set_index("policy_id")["mode"]
    mode = g["policy_id"].map(modes)
    auto_granted = (mode == "auto") & g["applied_on"].isna()
    assert auto_granted.sum() > 1000  # 免申即享 batches: no application
    assert g.loc[mode != "auto", "applied_on"].notna().all()
    assert 0.5 < g["paid_on"].notna().mean() < 0.95  # recent approvals are not paid yet
    pay = (g["paid_on"] - g["approved_on"]).dt.days
    by_dept = pay.groupby(g["policy_id"].map(pd.read_parquet(SAMPLES / "truth" / "policies_true.parquet")
                                             .set_index("policy_id")["department"])).median()
    assert by_dept.max() > 2 * by_dept.min()  # departments pay at different speeds


def test_true_payout_agrees_with_the_recorded_true_eligibility():
    from quanhuiqi.policy import load_book
    from quanhuiqi.synth.payout_truth import true_payout

    book = load_book(SAMPLES / "policies")
    tp = true_payout(book.items, book.fields, SAMPLES, DAY).set_index("policy_id")
    et = pd.read_parquet(SAMPLES / "truth" / "eligible_true.parquet").groupby("policy_id").size()
    assert (tp["eligible"].reindex(et.index) == et).all()
    assert (tp.loc[~tp.index.isin(et.index), "eligible"] == 0).all()
    caps = book.policies.set_index("policy_id")["max_amount"]
    rated = book.policies.set_index("policy_id")["amount_rate"].notna()
    plain = tp.index[~rated.reindex(tp.index).to_numpy()]
    assert (tp.loc[plain, "payout"] == tp.loc[plain, "eligible"] * caps.reindex(plain)).all()
    assert (tp["payout"] <= tp["eligible"] * caps.reindex(tp.index) + 1e-9).all()
