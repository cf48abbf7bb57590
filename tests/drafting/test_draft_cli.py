"""`quanhuiqi policy draft` on real files: every file reported, drafts refused by the loader until reviewed,
the review page checked in a headless browser."""

import json
import re

import pytest
import yaml

from quanhuiqi.cli import main
from quanhuiqi.policy import load_book
from quanhuiqi.policy.load import PolicyError

CLAUSE = ("申报条件：\n1．企业注册地、税务征管关系在济南市历下区；\n2．上年度营业收入不低于２０００万元，"
          "且研发费用占营业收入比重不低于3%；\n3．具有独立法人资格，有健全的财务制度。\n")
PLAIN = "申报条件：1.在济南市注册；2.上年度营业收入不低于2000万元；3.属于制造业企业。"


@pytest.fixture
def clauses(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.txt").write_text(CLAUSE, encoding="utf-8")
    (d / "plain.md").write_text(PLAIN, encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    (d / "bin.dat").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")
    (d / "gb.txt").write_bytes("对新认定的高新技术企业给予一次性20万元奖励。".encode("gb18030"))
    (d / "none.md").write_text("这是一段没有任何条件的说明文字。", encoding="utf-8")
    return d


def test_folder_run_reports_every_file(clauses, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["policy", "draft", "--text", str(clauses), "--out", str(out), "--html", str(out / "review.html")])
    text = capsys.readouterr().out
    assert rc == 1  # two files refused; the others are drafted all the same
    for name in ("a.txt", "plain.md", "empty.txt", "bin.dat", "gb.txt", "none.md"):
        assert name in text
    assert re.search(r"refused\s+\S*empty.txt: empty file", text)
    assert re.search(r"refused\s+\S*bin.dat: a binary file", text)
    assert "read as gb18030" in text and "no condition recognised" in text
    assert sorted(p.name for p in out.glob("*.yaml")) == ["a.yaml", "gb.yaml", "none.yaml", "plain.yaml"]
    doc = yaml.safe_load((out / "a.yaml").read_text(encoding="utf-8"))
    assert doc["status"] == "draft" and doc["id"] == "DRAFT-A"
    fields = [a.get("field") or a.get("attest") for a in doc["eligibility"]["all"]]
    assert fields == ["district_code", "tax_district_code", "revenue", "rd_ratio", "enterprise_type", "financial_system"]
    gb = yaml.safe_load((out / "gb.yaml").read_text(encoding="utf-8"))
    assert gb["benefit"]["max_amount"] == 20


def test_single_file_and_missing_path(tmp_path, capsys):
    f = tmp_path / "x.txt"
    f.write_text(PLAIN, encoding="utf-8")
    assert main(["policy", "draft", "--text", str(f), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "x.yaml").exists()
    assert main(["policy", "draft", "--text", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def _book(tmp_path, yaml_text, status):
    book = tmp_path / f"book_{status}"
    book.mkdir()
    doc = yaml.safe_load(yaml_text)
    doc["status"] = status
    (book / "p.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return book


def test_loader_refuses_a_draft(tmp_path):
    from quanhuiqi.drafting import draft_policy

    d = draft_policy(PLAIN, source="plain.md", jurisdiction="3701")
    with pytest.raises(PolicyError, match="status|draft"):
        load_book(_book(tmp_path, d.to_yaml(), "draft"))


def test_reviewed_draft_loads(tmp_path):
    from quanhuiqi.drafting import draft_policy

    d = draft_policy(CLAUSE, source="a.txt")
    with pytest.raises(PolicyError, match="draft"):
        load_book(_book(tmp_path, d.to_yaml(), "draft"))
    book = load_book(_book(tmp_path, d.to_yaml(), "reviewed"))
    assert len(book.policies) == 1


def test_a_plain_draft_marked_reviewed_loads(tmp_path):
    """A reviewer marks the draft reviewed; todo and notes stay as documentation the loader accepts."""
    from quanhuiqi.drafting import draft_policy

    d = draft_policy(PLAIN, source="plain.md")
    doc = yaml.safe_load(d.to_yaml())
    assert doc["status"] == "draft"
    doc["status"] = "reviewed"
    book = tmp_path / "b"
    book.mkdir()
    (book / "p.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert len(load_book(book).policies) == 1


def test_review_page_in_a_browser(clauses, tmp_path, headless_chromium):
    out = tmp_path / "out"
    main(["policy", "draft", "--text", str(clauses), "--out", str(out), "--html", str(out / "review.html")])
    dom = headless_chromium("--window-size=1400,1000", "--dump-dom", (out / "review.html").as_uri()).stdout
    m = re.search(r'data-review-check="([^"]+)"', dom)
    assert m, "the page's own check did not run in the browser"
    check = json.loads(m.group(1).replace("&quot;", '"'))
    n_atoms = sum(1 for _ in re.finditer(r"<li class=\"atom\"", dom))
    assert check["broken"] == 0 and check["atoms"] == n_atoms > 0
    assert check["linked"] >= n_atoms  # every atom's span is highlighted and points at it
    assert check["side_by_side"] is True  # the clause and the draft are laid out in two columns
    assert check["todo_marks"] >= 0
