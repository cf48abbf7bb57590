import numpy as np
import pandas as pd
import pytest
from postings_helpers import AS_OF, frame, posting

from quanhuiqi.postings import (
    FEATURES,
    PostingFeatureBuilder,
    PostingModelScorer,
    PostingRuleScorer,
    build_index,
    generate_candidates,
    match_postings,
    match_postings_file,
    prepare_postings,
    validate_postings,
)
from quanhuiqi.postings.sample import sample_postings


@pytest.fixture
def city(usccs):
    """One demand for 钢材 and supplies that each trip exactly one rule."""
    u = usccs
    rows = [
        posting("D1", u[0], "demand", "求购不锈钢板", tags="不锈钢板", industry_code="3311", quantity="50"),
        posting("S_ok", u[1], "supply", "供应不锈钢板", tags="不锈钢板", industry_code="3140", quantity="60"),
        posting("S_expired", u[2], "supply", "供应不锈钢板", tags="不锈钢板", expires_on="2025-06-30"),
        posting("S_future", u[3], "supply", "供应不锈钢板", tags="不锈钢板", posted_on="2025-07-02"),
        posting("S_same", u[0], "supply", "供应不锈钢板", tags="不锈钢板"),
        posting("S_inactive", u[4], "supply", "供应不锈钢板", tags="不锈钢板"),
        posting("S_dishonest", u[5], "supply", "供应不锈钢板", tags="不锈钢板"),
        posting("D_lonely", u[6], "demand", "求购豆腐乳", tags="豆腐乳"),
        posting("D_dishonest", u[5], "demand", "求购不锈钢板", tags="不锈钢板"),
        posting("D_expired", u[7], "demand", "求购不锈钢板", tags="不锈钢板", posted_on="2025-05-01",
                expires_on="2025-06-01"),
    ]
    ent = pd.DataFrame({
        "uscc": u[:8],
        "status": ["active", "active", "active", "active", "revoked", "active", "active", "active"],
        "serious_dishonest": pd.array([False, False, False, False, False, True, False, False], dtype="boolean"),
        "tax_credit_rating": ["A", "A", "B", "B", "B", "B", "B", "B"],
    })
    return validate_postings(frame(rows), AS_OF).clean, ent


def test_every_exclusion_rule(city):
    clean, ent = city
    out = match_postings(clean, AS_OF, enterprises=ent)
    d1 = out[out["demand_id"] == "D1"]
    assert d1["supply_id"].tolist() == ["S_ok"]  # expired, not yet posted, same enterprise, inactive, dishonest: out
    cand = generate_candidates(prepare_postings(clean, AS_OF, ent))
    assert set(cand["supply_id"]) == {"S_ok"}
    # without the enterprise table only the status exclusions cannot apply
    loose = match_postings(clean, AS_OF)
    assert set(loose.loc[loose["demand_id"] == "D1", "supply_id"]) == {"S_ok", "S_inactive", "S_dishonest"}


def test_no_open_demand_is_lost(city):
    clean, ent = city
    out = match_postings(clean, AS_OF, enterprises=ent)
    assert set(out["demand_id"]) == {"D1", "D_lonely", "D_dishonest"}  # D_expired is not open
    lonely = out[out["demand_id"] == "D_lonely"]
    assert len(lonely) == 1 and lonely["supply_id"].isna().all() and lonely["rank"].isna().all()
    assert lonely["reasons"].iloc[0] == "暂无符合条件的供应信息"
    bad = out[out["demand_id"] == "D_dishonest"]
    assert bad["supply_id"].isna().all() and "严重失信" in bad["reasons"].iloc[0]


def test_no_demand_lost_at_scale_and_ranks_are_clean():
    raw = sample_postings(400, 800, seed=3)
    clean = validate_postings(raw, AS_OF).clean
    out = match_postings(clean, AS_OF, k=5)
    p = prepare_postings(clean, AS_OF)
    open_demands = set(p.loc[(p["side"] == "demand") & p["is_open"], "posting_id"])
    assert set(out["demand_id"]) == open_demands
    ranked = out.dropna(subset=["supply_id"])
    assert ranked.groupby("demand_id")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    assert ranked["rank"].max() <= 5
    assert not ranked.duplicated(["demand_id", "supply_id"]).any()
    assert (ranked.groupby("demand_id")["score"].diff().dropna() <= 1e-12).all()
    assert ranked["reasons"].str.len().gt(0).all()
    # the drawn tag is recovered: most top-1 supplies are about the same thing as the demand
    truth = raw.set_index("posting_id")["true_tag"]
    top1 = ranked[ranked["rank"] == 1]
    same = truth.reindex(top1["demand_id"]).to_numpy() == truth.reindex(top1["supply_id"]).to_numpy()
    assert same.mean() > 0.8
    assert out.equals(match_postings(clean, AS_OF, k=5))  # deterministic


def test_candidates_from_text_tags_and_chain(usccs):
    u = usccs
    rows = [
        posting("D", u[0], "demand", "求购冲压件一批", tags="", industry_code="3670", district_code="370112"),
        # same words, no tags → text
        posting("S_text", u[1], "supply", "冲压件加工一批", tags="", industry_code="3360"),
        # different words, same normalised tag → tags
        posting("S_tag", u[2], "supply", "五金件", tags="衝壓件", industry_code="3360"),
        # nothing shared but its division (31 钢材) feeds the buyer's (36 汽车) → chain
        posting("S_chain", u[3], "supply", "热卷现货", tags="热轧卷板", industry_code="3120",
                district_code="370112"),
        posting("S_none", u[4], "supply", "团餐配送", tags="餐饮服务", industry_code="6210"),
    ]
    clean = validate_postings(frame(rows), AS_OF).clean
    d_tags = prepare_postings(clean, AS_OF)
    d_tags.loc[0, "tags_norm"] = "冲压件"  # the demand names its tag too, so S_tag shares it
    d_tags.loc[0, "n_tags"] = 1
    cand = generate_candidates(build_index(d_tags)).set_index("supply_id")
    assert cand.loc["S_text", "via_text"] and cand.loc["S_text", "text_sim"] > 0.2
    assert cand.loc["S_tag", "via_tag"] and cand.loc["S_tag", "tag_shared"] == 1
    assert cand.loc["S_chain", "via_chain"] and not cand.loc["S_chain", "via_tag"]
    assert "S_none" not in cand.index


def test_feature_builder_follows_sklearn_conventions(city):
    clean, ent = city
    p = prepare_postings(clean, AS_OF, ent)
    fb = PostingFeatureBuilder(p).fit()
    assert list(fb.get_feature_names_out()) == FEATURES
    pairs = pd.DataFrame({"demand_id": ["D1", "D1"], "supply_id": ["S_ok", "S_inactive"]}, index=[7, 9])
    f = fb.set_output(transform="pandas").transform(pairs)
    assert list(f.columns) == FEATURES and list(f.index) == [7, 9]
    assert f.loc[7, "tag_shared"] == 1 and f.loc[7, "tag_jaccard"] == 1.0
    assert f.loc[7, "chain_relation"] == 2.0  # 31 steel feeds 33 metal products
    assert np.isnan(f.loc[9, "chain_relation"])  # no industry code: unknown, not 0
    assert f.loc[7, "qty_cover"] == 1.0 and f.loc[7, "qty_share"] == pytest.approx(50 / 60)
    assert f.loc[7, "supplier_credit"] == 4.0 and f.loc[7, "district_proximity"] == 1.0
    with pytest.raises(KeyError):
        fb.transform(pd.DataFrame({"demand_id": ["nope"], "supply_id": ["S_ok"]}))


def _features(**over):
    base = {f: 0.5 for f in FEATURES}
    base.update(chain_relation=1.0, supply_age_days=3.0, demand_age_days=3.0)
    rows = []
    for values in over.values():
        rows.append({**base, **values})
    return pd.DataFrame(rows, index=list(over))


def test_rule_scorer_is_reciprocal():
    f = _features(
        lopsided={"qty_cover": 1.0, "qty_share": 0.0, "supplier_credit": 4.0, "buyer_credit": 0.0},
        balanced={"qty_cover": 0.6, "qty_share": 0.6, "supplier_credit": 2.0, "buyer_credit": 2.0},
    )
    s = PostingRuleScorer().score_sides(f)
    assert s.loc["lopsided", "score_demand"] > s.loc["balanced", "score_demand"]  # the buyer alone prefers it
    assert s.loc["balanced", "score"] > s.loc["lopsided", "score"]  # but the pair must suit both


class _Booster:
    """A fixed booster (the real scorer interface, a known score) to test the combination."""

    def predict(self, X):
        return 4 * X[:, FEATURES.index("text_sim")] - 2


def test_model_scorer_is_reciprocal():
    # the model prefers S_star for the buyer, but S_star's seller side (its stock barely touched, a
    # weak buyer) is poor: the pair good for both wins
    f = _features(star={"text_sim": 0.9, "rule_supply": 0.1}, fair={"text_sim": 0.7, "rule_supply": 0.6})
    pairs = pd.DataFrame({"demand_id": ["D1", "D1"], "supply_id": ["S_star", "S_fair"]}, index=f.index)
    s = PostingModelScorer(_Booster(), FEATURES).score_sides(f, pairs)
    assert s.loc["star", "score_demand"] > s.loc["fair", "score_demand"]
    assert s.loc["fair", "score"] > s.loc["star", "score"]
    assert ((s["score"] >= 0) & (s["score"] <= 1)).all()


def test_file_entry_point_reads_registry_status_text(city, usccs, tmp_path):
    """The enterprise table as the registry writes it (存续, 吊销) excludes through the profile."""
    clean, _ = city
    u = usccs
    postings = tmp_path / "postings.csv"
    clean.drop(columns="row").to_csv(postings, index=False)
    ent = pd.DataFrame({"uscc": u[:8], "name": [f"济南测试{i}有限公司" for i in range(8)],
                        "status": ["存续", "在业", "存续", "存续", "吊销，未注销", "存续", "存续", "存续"],
                        "serious_dishonest": ["否", "否", "否", "否", "否", "是", "否", "否"]})
    ent.to_csv(tmp_path / "enterprises.csv", index=False)
    out = tmp_path / "pairs.parquet"
    text = match_postings_file(postings, AS_OF, out, enterprises=tmp_path / "enterprises.csv",
                               rejects=tmp_path / "rejects.csv")
    pairs = pd.read_parquet(out)
    assert set(pairs.loc[pairs["demand_id"] == "D1", "supply_id"]) == {"S_ok"}
    assert "open demands at 2025-07-01: 3" in text and "no --enterprises" not in text


def test_edge_cases_only_demands_and_empty(usccs):
    u = usccs
    only_demands = validate_postings(frame([posting("D1", u[0], "demand", "求购钢材"),
                                            posting("D2", u[1], "demand", "求购钢材")]), AS_OF).clean
    out = match_postings(only_demands, AS_OF)
    assert out["demand_id"].tolist() == ["D1", "D2"] and out["supply_id"].isna().all()
    empty = validate_postings(frame([posting("S1", u[0], "supply", "供应钢材")]).iloc[:0], AS_OF).clean
    out = match_postings(empty, AS_OF)
    assert out.empty and list(out.columns[:5]) == ["demand_id", "supply_id", "rank", "score", "reasons"]
