"""The routing model on synthetic appeals: features, calibrated top-3, abstention, reasons, triage, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.appeals import (
    AppealsModel,
    AppealTextVectorizer,
    OnlineRouter,
    TriageRules,
    apply_triage,
    route_appeals,
    train_appeals,
    validate_appeals,
)
from quanhuiqi.appeals.columns import ROUTE_COLUMNS
from quanhuiqi.tables.io import InputError


def test_dictionary_words_match_jieba():
    jieba = pytest.importorskip("jieba")
    texts = ["我公司申请贷款被银行拒绝，希望政府协调解决融资难问题", "园区频繁停电影响生产线正常运转",
             "政府部门拖欠中小企业工程款至今未付", "申请高新技术企业认定需要哪些材料"]
    v = AppealTextVectorizer().fit(pd.Series(texts), pd.Series([""] * 4))
    for t in texts:
        want = [w for w in jieba.lcut(t, HMM=False)]
        assert v.segment(t) == want


def test_vectorizer_state_is_plain_arrays_and_round_trips(synthetic):
    raw, _ = synthetic
    titles, bodies = raw["title"].head(200), raw["body"].head(200)
    v = AppealTextVectorizer()
    X = v.fit_transform(titles, bodies)
    arrays = v.to_arrays()
    assert all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays.values())
    w = AppealTextVectorizer.from_arrays(v.config(), arrays)
    assert abs(w.transform(titles, bodies) - X).max() == 0
    assert X.shape[1] == v.n_features and np.allclose(np.sqrt(X.multiply(X).sum(axis=1)).A.ravel()[:5], 3 ** 0.5)


def test_trained_model_routes_with_top3_reasons_and_masked_text(trained, synthetic):
    model, report = trained
    raw, truth = synthetic
    v = validate_appeals(raw)
    out = route_appeals(model, v.clean, history=v.clean)
    assert list(out.columns[: len(ROUTE_COLUMNS)]) == ROUTE_COLUMNS and len(out) == len(v.clean)
    p = out[[f"suggestion_{k}_probability" for k in (1, 2, 3)]].to_numpy()
    assert (np.diff(p, axis=1) <= 1e-9).all() and (p.sum(axis=1) <= 1 + 1e-6).all()
    auto = out["dispatch"] == "auto"
    assert (out.loc[auto, "category_probability"] >= model.threshold).all()
    assert (out.loc[~auto, "reason"].str.contains("人工分拨")).all() and out.loc[~auto, "department"].isna().all()
    assert out.loc[auto, "department"].notna().all() and out.loc[auto, "reason"].str.startswith("依据").all()
    assert out["triage"].isin(["direct", "coordinated", "escalated"]).all() and out["triage_reason"].notna().all()
    t = truth.set_index("appeal_id").reindex(out["appeal_id"])
    acc = (out["category"].to_numpy() == t["category_true"].to_numpy()).mean()
    assert acc > 0.85, acc  # trained on these appeals' labels: a sanity floor, the honest numbers are the cv ones
    assert report["validation_macro_f1"] > 0.8 and 0 < report["validation_threshold"] < 1
    # no planted mobile number survives in the masked text
    assert not out["masked_body"].str.contains(r"(?<![0-9A-Z])1[3-9]\d{9}(?![0-9A-Z])", regex=True).fillna(False).any()
    # the words that drove a suggestion are words of that appeal (as the model reads it)
    from quanhuiqi.appeals import model_text

    for _, row in out[auto].head(50).iterrows():
        text = model_text(pd.Series([row["masked_title"] + "。" + row["masked_body"]])).iloc[0]
        assert all(w in text for w in row["suggestion_1_words"].split("、") if w)


def test_threshold_decides_abstention(trained, synthetic):
    model, _ = trained
    clean = validate_appeals(synthetic[0].head(200)).clean
    none = route_appeals(model, clean, threshold=1.01)
    assert (none["dispatch"] == "manual").all()
    every = route_appeals(model, clean, threshold=0.0)
    assert (every["dispatch"] == "auto").mean() > 0.95


def test_save_load_gives_the_same_routes(trained, synthetic, tmp_path):
    model, _ = trained
    clean = validate_appeals(synthetic[0].head(150)).clean
    model.save(tmp_path / "m")
    back = AppealsModel.load(tmp_path / "m")
    pd.testing.assert_frame_equal(route_appeals(model, clean), route_appeals(back, clean))


def test_online_router_answers_like_the_batch(trained, synthetic):
    model, _ = trained
    clean = validate_appeals(synthetic[0].head(20)).clean
    batch = route_appeals(model, clean)
    online = OnlineRouter(model)
    for i in range(5):
        r = clean.iloc[i]
        one = online.route(r["title"], r["body"], appeal_id=r["appeal_id"], district_code=r["district_code"],
                           uscc=r["uscc"], received_at=r["received_at"], channel=r["channel"])
        b = batch.iloc[i]
        for c in ("category", "category_probability", "department", "dispatch", "reason", "masked_body"):
            assert (pd.isna(one[c]) and pd.isna(b[c])) or one[c] == b[c], c


def test_department_labels_alone_train_a_department_model(synthetic):
    raw, _ = synthetic
    clean = validate_appeals(raw.drop(columns=["category"]).head(600), require_received=False).clean
    model, report = train_appeals(clean, grid=(0.7,))
    assert report["target"] == "department" and model.target == "department"
    out = route_appeals(model, clean.head(50))
    assert out["category"].isna().all() and out["department"].notna().any()


def test_no_labels_is_refused_by_name(synthetic):
    clean = validate_appeals(synthetic[0].drop(columns=["category", "department"]).head(50)).clean
    with pytest.raises(InputError, match="no labels"):
        train_appeals(clean)


def test_triage_rules_fire_with_reasons_and_the_model_can_only_raise():
    rules = TriageRules.load()
    texts = pd.Series(["公司已停产", "拖欠工资涉及100余名工人聚集", "欠款1.2亿元", "咨询政策", "几个部门相互推诿",
                       "咨询政策"])
    deps = pd.Series(["A", "A", "A", "A", "A", "A;B"])
    proba = pd.DataFrame({"direct": [1, 1, 1, 0.1, 1, 1.0], "coordinated": [0, 0, 0, 0.1, 0, 0],
                          "escalated": [0, 0, 0, 0.8, 0, 0]})
    out = apply_triage(texts, deps, rules, model_proba=proba)
    assert out["triage"].tolist() == ["escalated", "escalated", "escalated", "escalated", "coordinated", "coordinated"]
    assert "停产" in out["triage_reason"][0] and "12000万元" in out["triage_reason"][2]
    assert "模型判为重大紧急（0.80）" in out["triage_reason"][3] and out["triage_rules"][3] == "model"
    assert out["triage_reason"][5].startswith("协同办：涉及多个部门")


def test_amounts_in_full_width_digits_count_like_ascii_ones():
    """Copied text often carries full-width digits (１２００万元): the large-sum rule must see them, on the
    column path (more than four texts) and the one-appeal path alike."""
    from quanhuiqi.appeals.triage import largest_amount

    texts = ["拖欠货款１２００万元至今未付", "欠款300万元", "无金额", "共计１.５亿", "拖欠　８００　万"]
    np.testing.assert_array_equal(largest_amount(pd.Series(texts)), [1200.0, 300.0, np.nan, 15000.0, 800.0])
    assert [largest_amount(pd.Series([t]))[0] for t in texts[:2]] == [1200.0, 300.0]


def test_repeated_problems_of_one_enterprise_escalate():
    rules = TriageRules.load()
    when = pd.Series(pd.to_datetime(["2025-03-01", "2025-04-01", "2025-05-01", "2025-05-02"]))
    out = apply_triage(pd.Series(["问题"] * 4), pd.Series(["A"] * 4), rules, uscc=pd.Series(["U1"] * 4),
                       received=when, case_id=pd.Series(["a", "b", "c", "d"]),
                       categories=pd.Series(["税费", "税费", "税费", "环境保护"]))
    assert out["triage"].tolist() == ["direct", "direct", "escalated", "direct"]
    assert "3次/90天" in out["triage_reason"][2]


@pytest.mark.parametrize("doc,match", [
    ({"escalated": [{"name": "x"}]}, "name and a reason"),
    ({"escalated": [{"name": "x", "reason": "y", "any": ["a"], "all": [["b"]]}]}, "exactly one"),
    ({"escalated": [{"name": "x", "reason": "y", "words": ["a"]}]}, "unknown key"),
])
def test_bad_triage_rules_are_refused_by_name(doc, match):
    with pytest.raises(InputError, match=match):
        TriageRules.from_dict(doc)


def test_one_document_and_many_segment_alike(synthetic):
    """The online path (one document, Python recursion) and the batch path (numpy over documents) agree."""
    from quanhuiqi.appeals.features import _code_points, _han_or_alnum, model_text, segment_ids

    raw, _ = synthetic
    texts = model_text(raw["title"].head(60) + "。" + raw["body"].head(60).fillna("")).tolist()
    v = AppealTextVectorizer().fit(raw["title"].head(300), raw["body"].head(300))
    cp = _code_points(texts, 500)
    d, s, k = segment_ids(v.alphabet_.ids(cp), _han_or_alnum(cp), v.lexicon_, (cp != 0).sum(axis=1))
    for i, t in enumerate(texts):
        one = v.segment(t[:500])
        assert one == [t[a:a + b] for a, b in zip(s[d == i], k[d == i])]


def test_one_appeal_features_equal_the_batch_row(synthetic):
    """``transform_one`` (dict look-ups, Python segmentation) gives exactly the batch matrix's row — the
    online answer is the batch answer, not an approximation of it."""
    from quanhuiqi.appeals.privacy import mask_personal_data

    raw, _ = synthetic
    v = AppealTextVectorizer().fit(raw["title"].head(300), raw["body"].head(300))
    titles = mask_personal_data(raw["title"].iloc[300:360].reset_index(drop=True))
    bodies = mask_personal_data(raw["body"].iloc[300:360].reset_index(drop=True))
    titles.iloc[0], bodies.iloc[1] = None, None  # a missing title, a missing body
    X = v.transform(titles, bodies)
    for i in range(len(titles)):
        one = v.transform_one(titles.iloc[i], bodies.iloc[i])
        assert np.array_equal(one.indices, X[i].indices) and np.array_equal(one.data, X[i].data), i


def test_vectorised_held_out_split_keeps_groups_whole_and_label_shares():
    from quanhuiqi.appeals.model import proportional_grouped_split

    rng = np.random.default_rng(3)
    groups = rng.integers(0, 4000, 6000)
    y = np.array(["甲", "乙", "丙"])[groups % 3]
    tr, va = proportional_grouped_split(groups, y, 5, seed=1)
    assert len(tr) + len(va) == len(y) and not set(groups[tr]) & set(groups[va])
    for label in ("甲", "乙", "丙"):
        assert abs((y[va] == label).sum() / (y == label).sum() - 0.2) < 0.03


def test_routing_in_worker_processes_gives_the_same_table(trained, synthetic, monkeypatch):
    """Routing is per appeal: chunks in two forked processes, concatenated in order, give the one-process
    table cell for cell (the repeat rule and the reasons still see the whole batch)."""
    from quanhuiqi.appeals import route as route_mod

    model, _ = trained
    raw, _ = synthetic
    v = validate_appeals(raw)
    one = route_appeals(model, v.clean, history=v.clean)
    monkeypatch.setattr(route_mod, "PARALLEL_MIN_ROWS", max(1, len(v.clean) // 5))  # small chunks, several per worker
    two = route_appeals(model, v.clean, history=v.clean, workers=2)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
