"""benchmarks/real_policy_coverage.py on a tiny dev set of its own: gold atoms numbered depth-first, classified,
and checked against a book — a counterpart of the wrong construct, a missing one and an unlisted gap are caught."""

from __future__ import annotations

import json
from pathlib import Path

import real_policy_coverage as cov

GOLD = [
    {"field": "district_code", "op": "under", "value": ["3701"], "kind": "registration_location"},
    {"unmapped": "纳税地在本市", "kind": "tax_location"},
    {"any": [{"unmapped": "财务制度健全", "kind": "financial_system"},
             {"all": [{"unmapped": "每名招用人员的条件", "kind": "per_hire_conditions"},
                      {"field": "certifications", "op": "has", "value": "no_such_token", "kind": "certification_held"}]}]},
]
DEV = [{"id": "JN-99", "gold_conditions": GOLD}]

GOOD = """- id: JN-99
  title: 测试
  department: 测试局
  mode: apply
  eligibility:
    all:
      - {field: district_code, op: under, value: ["3701"], ref: 一, note: gold 1}
      - {field: tax_district_code, op: under, value: ["3701"], ref: 一, note: "gold 2; approx: 税务登记地"}
      - any:
          - {attest: financial_system, ref: 二, note: gold 3}
          - all:
              - {attest: hires_ok, ref: 三, note: gold 4}
              - {field: certificate, op: held, item: high_tech, ref: 三, note: gold 5}
  notes:
    gaps: {4: 每名招用人员的条件}
"""
FIELDS = "attestations: [{name: hires_ok, label: 招用人员符合条件}]\n"


def run(tmp_path: Path, policy: str) -> dict:
    d = tmp_path / "book"
    d.mkdir(exist_ok=True)
    (d / "p.yaml").write_text(policy, encoding="utf-8")
    (d / "fields.yaml").write_text(FIELDS, encoding="utf-8")
    return cov.measure(DEV, cov.read_book(d))


def test_gold_atoms_are_numbered_depth_first():
    paths = [p for p, _ in cov.flatten(GOLD)]
    assert paths == ["[0]", "[1]", "[2].any[0]", "[2].any[1].all[0]", "[2].any[1].all[1]"]


def test_classes_shares_and_a_consistent_book(tmp_path):
    res = run(tmp_path, GOOD)
    assert res["by_class"] == {"data": 3, "attest": 1, "review": 0, "gap": 1}
    assert res["share_expressed"] == 0.8 and res["share_of_holdable_from_data"] == 0.75
    # mapped before: atoms 1 and 5; atom 5 names a certification the old set field does not have
    assert res["baseline"]["share_mapped"] == 0.4 and res["baseline"]["share_mapped_and_loads"] == 0.2
    bc = res["book_check"]
    assert bc["mismatches"] == [] and bc["stray"] == [] and bc["approximations"] == 1
    assert bc["constructs"] == {"row": 2, "record": 1} and bc["gap_stand_ins"] == {"attest": 1}
    assert not res["per_policy"][0]["whole"]


def test_the_check_catches_wrong_missing_and_unlisted_counterparts(tmp_path):
    bad = (GOOD.replace("{field: tax_district_code, op: under, value: [\"3701\"], ref: 一, note: \"gold 2; approx: 税务登记地\"}",
                        "{attest: financial_system, ref: 一, note: gold 2}")
           .replace(", note: gold 5}", "}")
           .replace("  notes:\n    gaps: {4: 每名招用人员的条件}\n", "")
           .replace("note: gold 1}", "note: gold 1 9}"))
    bc = run(tmp_path, bad)["book_check"]
    assert bc["mismatches"] == ["JN-99 gold 2: data encoded with attest", "JN-99 gold 4: a gap not listed under notes.gaps",
                                "JN-99 gold 5: no counterpart in the book"]
    assert bc["stray"] == ["JN-99: note gold 9 names no gold atom"]


def test_main_says_when_the_dev_set_is_absent_and_keeps_the_intro(tmp_path, capsys, monkeypatch):
    assert cov.main(["--dev", str(tmp_path / "nowhere.jsonl")]) == 2
    assert "dev set not found" in capsys.readouterr().err
    d = tmp_path / "book"
    d.mkdir()
    (d / "p.yaml").write_text(GOOD, encoding="utf-8")
    (d / "fields.yaml").write_text(FIELDS, encoding="utf-8")
    (d / "COVERAGE.md").write_text("# Intro by hand\n\n" + cov.MARKER + "\nold numbers\n", encoding="utf-8")
    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps(DEV[0], ensure_ascii=False) + "\n", encoding="utf-8")
    monkeypatch.setattr(cov, "RESULTS", tmp_path / "result.json")
    assert cov.main(["--dev", str(dev), "--book", str(d)]) == 0
    text = (d / "COVERAGE.md").read_text(encoding="utf-8")
    assert text.startswith("# Intro by hand\n\n" + cov.MARKER) and "old numbers" not in text
    assert "每名招用人员的条件" in text and json.loads((tmp_path / "result.json").read_text())["gold_atoms"] == 5
