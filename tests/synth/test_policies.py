"""The hand-written policy book and its generated variants check themselves."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import yaml

from quanhuiqi.policy import check_book, load_book
from quanhuiqi.synth import generate_policies, policy_dir, template_policies, write_policies


def test_shipped_book_loads_and_every_embedded_test_passes():
    report = check_book(policy_dir())
    assert report.errors == []
    assert report.n_policies >= 55
    assert report.n_passed == report.n_tests >= 2 * report.n_policies


def test_book_shape_is_realistic():
    docs = template_policies()
    modes = pd.Series([d["mode"] for d in docs]).value_counts()
    assert set(modes.index) == {"auto", "instant", "apply"}
    assert modes.min() >= 8
    departments = {d["department"] for d in docs}
    assert {"市人力资源社会保障局", "市科技局", "市工业和信息化局", "市财政局", "市商务局", "市地方金融监管局"} <= departments
    titles = " ".join(d["title"] for d in docs)
    for name in ("稳岗返还", "一次性扩岗补助", "高新技术企业认定奖励", "专精特新", "科技型中小企业", "首次升规", "研发费用补助", "创业担保贷款贴息"):
        assert name in titles, name
    for d in docs:
        assert len(d["tests"]) >= 2, d["id"]
        assert d["benefit"]["max_amount"] > 0
        assert "ref" in yaml.safe_dump(d["eligibility"], allow_unicode=True), d["id"]
        assert {t["expect"] for t in d["tests"]} >= {"eligible", "undetermined"}, d["id"]


def test_windows_give_the_push_rules_work_around_2025_07_01():
    as_of = dt.date(2025, 7, 1)
    book = load_book(policy_dir())
    vf = {p.id: p.valid_from for p in book.items}
    vt = {p.id: p.valid_to for p in book.items}
    active = [i for i in vf if vf[i] <= as_of <= vt[i]]
    closing = [i for i in active if (vt[i] - as_of).days <= 10]
    new = [i for i in active if 0 <= (as_of - vf[i]).days <= 10]
    expired = [i for i in vf if vt[i] < as_of]
    assert len(active) >= 50
    assert len(closing) >= 3 and len(new) >= 3 and len(expired) >= 3


def test_variants_are_deterministic_and_still_check(tmp_path):
    a = generate_policies(40, seed=4)
    b = generate_policies(40, seed=4)
    assert a == b
    assert a != generate_policies(40, seed=5)
    assert len({p["id"] for p in a}) == 40
    out = write_policies(a, tmp_path / "book")
    report = check_book(out)
    assert report.errors == []
    assert report.n_policies == 40 and report.n_passed == report.n_tests
    # variants really vary: thresholds, districts and windows differ from their templates
    base = {d["id"]: d for d in template_policies()}
    changed = sum(yaml.safe_dump(p["eligibility"]) != yaml.safe_dump(base[p["id"].rsplit("-V", 1)[0]]["eligibility"])
                  for p in a)
    assert changed > 12
