"""generate_city: every file, internally consistent history, determinism, the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.synth import generate_city, policy_utility, posting_utility
from quanhuiqi.synth.postings import tag_vocabulary
from quanhuiqi.tables.columns import (
    DATA_FILES,
    ENTERPRISE_COLUMNS,
    GRANT_COLUMNS,
    POSTING_COLUMNS,
    POSTING_INTERACTION_COLUMNS,
    PUSH_HISTORY_COLUMNS,
    SUPPRESSION_COLUMNS,
)
from quanhuiqi.tables.io import read_table

AS_OF = pd.Timestamp("2025-07-01")
DAYS = 28


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A small city made through the command line, as a user would."""
    import contextlib
    import io

    from quanhuiqi.cli import main

    out = tmp_path_factory.mktemp("city")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["synth", "--out", str(out), "--enterprises", "800", "--seed", "1", "--as-of", "2025-07-01",
                   "--history-days", str(DAYS), "--appeal-issues", "3"])
    assert rc == 0
    return out, buf.getvalue()


def test_every_file_is_written_with_its_columns(city):
    out, summary = city
    assert "800 enterprises" in summary
    ent = read_table(out / DATA_FILES["enterprises"])
    assert list(ent.columns[: len(ENTERPRISE_COLUMNS)]) == ENTERPRISE_COLUMNS and len(ent) == 800
    assert list(read_table(out / DATA_FILES["postings"]).columns) == POSTING_COLUMNS
    assert list(read_table(out / DATA_FILES["push_history"]).columns) == PUSH_HISTORY_COLUMNS
    assert list(read_table(out / DATA_FILES["grants"]).columns) == GRANT_COLUMNS
    assert list(read_table(out / DATA_FILES["suppressions"]).columns) == SUPPRESSION_COLUMNS
    assert list(read_table(out / DATA_FILES["posting_interactions"]).columns) == POSTING_INTERACTION_COLUMNS
    assert (out / DATA_FILES["policies"] / "fields.yaml").exists()
    assert len(list((out / DATA_FILES["policies"]).glob("*.yaml"))) >= 6
    for name in ("enterprises_true.parquet", "policies_true.parquet", "eligible_true.parquet",
                 "postings_true.parquet", "department_affinity.csv", "params.json"):
        assert (out / "truth" / name).exists(), name


def test_appeal_issues_flag_plants_issues_in_the_appeals(city):
    """``--appeal-issues 3``: three planted issues, their appeals among the background ones, their truth written."""
    out, _ = city
    planted = read_table(out / "truth" / "appeal_issues_true.parquet")
    assert len(planted) == 3 and planted["appeals"].sum() > 0
    raw = read_table(out / "appeals.csv")
    truth = read_table(out / "truth" / "appeals_true.parquet")
    mine = truth[truth["issue_true"].notna()]
    assert set(mine["issue_true"]) <= set(planted["issue_true"]) and len(mine) == planted["appeals"].sum()
    assert raw["appeal_id"].isin(mine["appeal_id"]).sum() == len(mine)
    assert (raw["appeal_id"].str.contains("P")).sum() == len(mine)  # planted ids: SQ<seed>P…
    import json

    assert json.loads((out / "truth" / "params.json").read_text(encoding="utf-8"))["appeal_issues"] == 3


def test_push_history_is_internally_consistent(city):
    out, _ = city
    ph = pd.read_parquet(out / DATA_FILES["push_history"])
    assert len(ph) > 300
    assert not (ph["approved"] & ~ph["applied"]).any()
    assert not (ph["applied"] & ~ph["clicked"]).any()
    assert ph.groupby(["date", "uscc"]).size().max() <= 3
    assert set(ph["rank"]) <= {1, 2, 3}
    d = pd.to_datetime(ph["date"])
    assert d.min() >= AS_OF - pd.Timedelta(days=DAYS) and d.max() < AS_OF
    # only a fraction of enterprises pushed per day
    assert ph.groupby("date")["uscc"].nunique().max() < 0.2 * 800
    pol = pd.read_parquet(out / "truth" / "policies_true.parquet")
    assert set(ph["policy_id"]) <= set(pol["policy_id"])
    # an approval needs true eligibility
    elig = pd.read_parquet(out / "truth" / "eligible_true.parquet")
    ok = set(zip(elig["uscc"], elig["policy_id"]))
    approved = ph[ph["approved"]]
    assert len(approved) > 0
    assert np.mean([(u, p) in ok for u, p in zip(approved["uscc"], approved["policy_id"])]) > 0.95
    # no pair is pushed again inside the 30-day cool-down
    ph = ph.sort_values("date")
    gaps = pd.to_datetime(ph["date"]).groupby([ph["uscc"], ph["policy_id"]]).diff().dropna()
    assert (gaps >= pd.Timedelta(days=30)).all()
    # every approval is a grant
    g = pd.read_csv(out / DATA_FILES["grants"], dtype=str)
    gk = set(zip(g["uscc"], g["policy_id"]))
    assert all((u, p) in gk for u, p in zip(approved["uscc"], approved["policy_id"]))
    assert (g["amount"].astype(float) >= 0).all()
    sup = pd.read_csv(out / DATA_FILES["suppressions"], dtype=str)
    assert (pd.to_datetime(sup["expires_on"]) > pd.to_datetime(sup["created_on"])).all()


def test_outcomes_follow_the_latent_model(city):
    out, _ = city
    ph = pd.read_parquet(out / DATA_FILES["push_history"])
    o = policy_utility(ph[["uscc", "policy_id", "date"]], out / "truth")
    assert o["expected_relevance"].notna().all()
    assert o.loc[ph["clicked"].to_numpy(), "p_click"].mean() > o.loc[~ph["clicked"].to_numpy(), "p_click"].mean() + 0.03
    assert ((o["expected_relevance"] >= 0) & (o["expected_relevance"] <= 3)).all()
    unknown = policy_utility(pd.DataFrame({"uscc": ["X"], "policy_id": ["JN-RS-2025-001"]}), out / "truth")
    assert unknown["expected_relevance"].isna().all()


def test_postings_and_their_interactions(city):
    out, _ = city
    posts = read_table(out / DATA_FILES["postings"])
    assert posts["posting_id"].is_unique and set(posts["side"]) == {"supply", "demand"}
    truth = pd.read_parquet(out / "truth" / "postings_true.parquet")
    vocab = set(tag_vocabulary()["tag"])
    assert set(";".join(truth["tags_true"]).split(";")) <= vocab
    raw_tags = set(";".join(posts["tags"].str.replace("；", ";")).split(";"))
    assert raw_tags - vocab  # synonyms, full-width, free tags
    pmin, pmax = posts["price_min"].astype(float), posts["price_max"].astype(float)
    assert (pmin.isna() | pmax.isna() | (pmin <= pmax)).all()
    assert (pd.to_datetime(posts["posted_on"]) <= pd.to_datetime(posts["expires_on"]).fillna(pd.Timestamp.max)).all()
    inter = pd.read_parquet(out / DATA_FILES["posting_interactions"])
    assert len(inter) > 50
    assert not (inter["deal"] & ~inter["contacted"]).any()
    side = posts.set_index("posting_id")["side"]
    assert (side.reindex(inter["demand_id"]).to_numpy() == "demand").all()
    assert (side.reindex(inter["supply_id"]).to_numpy() == "supply").all()
    assert inter["rank"].between(1, 5).all()
    u = posting_utility(inter[["demand_id", "supply_id"]], out / "truth")
    assert u["expected_relevance"].notna().all()
    assert u.loc[inter["contacted"].to_numpy(), "utility"].mean() > u.loc[~inter["contacted"].to_numpy(), "utility"].mean()


def test_same_seed_same_city_other_seed_other_city(tmp_path):
    a = generate_city(tmp_path / "a", n_enterprises=300, seed=9, history_days=14)
    b = generate_city(tmp_path / "b", n_enterprises=300, seed=9, history_days=14)
    generate_city(tmp_path / "c", n_enterprises=300, seed=10, history_days=14, history=False)
    assert a.split(";")[0].replace(str(tmp_path / "a"), "") == b.split(";")[0].replace(str(tmp_path / "b"), "")
    for name in ("enterprises.csv", "postings.csv", "grants.csv", "suppressions.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name in ("push_history.parquet", "posting_interactions.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / name), pd.read_parquet(tmp_path / "b" / name))
    assert (tmp_path / "a" / "enterprises.csv").read_bytes() != (tmp_path / "c" / "enterprises.csv").read_bytes()


def test_a_city_for_a_day_after_its_book_ends(tmp_path):
    """The synthetic book keeps its templates' windows (2025): a city generated for a later day — today's, say —
    is made all the same, with no push or grant to simulate, and its summary says no policy is in force (the
    empty grants once failed in pandas 3's Series.map)."""
    summary = generate_city(tmp_path / "late", n_enterprises=200, seed=4, as_of="2026-12-06", history_days=14)
    assert "(0 in force on 2026-12-06)" in summary and " 0 pushes " in summary and " 0 grants" in summary
    assert list(read_table(tmp_path / "late" / DATA_FILES["grants"]).columns) == GRANT_COLUMNS
    assert len(read_table(tmp_path / "late" / DATA_FILES["enterprises"])) == 200
    normal = generate_city(tmp_path / "normal", n_enterprises=200, seed=4, history_days=14)
    assert "policies (" in normal and "(0 in force" not in normal


def test_revealed_tastes_and_exploration_logs(city):
    """The tastes history reveals are in truth/, move the utility as documented, and the loggers'
    exploration slots are recorded."""
    from quanhuiqi.synth.preference import (
        FAMILIES,
        KINDS,
        TW,
        department_family,
        load_truth,
        policy_pair_utility,
    )

    out, _ = city
    t = load_truth(out / "truth")
    ent = t["enterprises"]
    cols = [f"dept_taste_{i}" for i in range(len(FAMILIES))] + [f"kind_taste_{j}" for j in range(len(KINDS))]
    assert set(cols + ["apply_taste", "reputation"]) <= set(ent.columns)
    assert 0.6 < ent["dept_taste_0"].std() < 1.2  # √(0.5² + 0.7²) ≈ 0.86
    assert t["params"]["model"]["taste_weights"] == TW
    # one pair, the firm's taste for the policy's bureau family raised by 1 → utility up by TW
    pol = t["policies"].iloc[0]
    fam = FAMILIES.index(department_family(pol["department"]))
    pair = pd.DataFrame({"uscc": [ent.index[0]], "policy_id": [pol["policy_id"]]})
    base = policy_pair_utility(pair, ent, t["policies"], t["dept_affinity"], AS_OF)["utility"].iloc[0]
    ent2 = ent.copy()
    ent2.loc[ent.index[0], f"dept_taste_{fam}"] += 1.0
    up = policy_pair_utility(pair, ent2, t["policies"], t["dept_affinity"], AS_OF)["utility"].iloc[0]
    assert up - base == pytest.approx(TW["dept_taste"])
    # exploration: every logged push says whether it was a random slot; about 20 % of the lists were
    ph = pd.read_parquet(out / DATA_FILES["push_history"])
    log = t["push_logging"]
    assert len(log) == len(ph) and (log["uscc"].to_numpy() == ph["uscc"].to_numpy()).all()
    assert 0.1 < log["explored"].mean() < 0.32
    plog = t["posting_logging"]
    assert len(plog) == len(pd.read_parquet(out / DATA_FILES["posting_interactions"]))
    assert 0.1 < plog.drop_duplicates("demand_id")["explored"].mean() < 0.45


def test_truth_list_metrics_grade_every_candidate(city):
    """The postings target's yardstick: the oracle's order scores NDCG 1, the reverse order less."""
    from quanhuiqi.synth.truth import truth_list_metrics

    out, _ = city
    inter = pd.read_parquet(out / DATA_FILES["posting_interactions"])[["demand_id", "supply_id"]]
    rel = posting_utility(inter, out / "truth")["expected_relevance"].to_numpy()
    for ascending, expect_one in ((False, True), (True, False)):
        r = inter.assign(_r=rel).sort_values(["demand_id", "_r"], ascending=[True, ascending], kind="stable")
        r["rank"] = r.groupby("demand_id").cumcount() + 1
        m = truth_list_metrics(r.drop(columns="_r"), out / "truth", k=2)
        assert (m["truth_ndcg@2"] == pytest.approx(1.0)) is expect_one
        assert 0 < m["truth_deal_recall@2"] <= 1
