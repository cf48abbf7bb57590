"""Sweep files: checked against the book by the loader's own value checker, refused by name, units converted."""

from __future__ import annotations

import pytest

from quanhuiqi.simulate import VariationError, read_sweeps
from quanhuiqi.simulate.variants import number_in_unit


def _one(book, path, values, policy="JN-CZ-2025-004"):
    return read_sweeps([{"policy": policy, "path": path, "values": values}], book)[0]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"policy": "JN-CZ-2025-044", "path": "eligibility.all[3]", "values": [300]},
         r"\[0\]: policy 'JN-CZ-2025-044' is not in the policy book \(did you mean 'JN-CZ-2025-004'\?\)"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[9]", "values": [300]},
         r"policy JN-CZ-2025-004: eligibility.all\[9\]: no such node in the policy's tree .*its tests and amounts: "
         r"eligibility.all\[0\].*benefit.max_amount"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility", "values": [1]},
         r"eligibility: is an all combinator, not a test; sweep one of its tests"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[2]", "values": [300]},
         r"eligibility.all\[2\]=300: value 300 for size_class \(ordinal\) must be one of micro, small, medium, large"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": ["abc"]},
         r"eligibility.all\[3\]=abc: 'abc' is not a number"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": ["300人"]},
         r"'300人' is in 人, the field is in 万元"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": [True]},
         r"True is not a number"),
        ({"policy": "JN-CZ-2025-004", "path": "benefit.rate", "values": [0.1]},
         r"benefit.rate: the policy's amount rule has no base field \(benefit.base\)"),
        ({"policy": "JN-CZ-2025-004", "path": "benefit.max_amount", "values": [-5]},
         r"benefit.max_amount=-5: -5 must be a non-negative number"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": [300, 300.0]},
         r"value\(s\) 300 listed twice"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": []},
         r"values must be a non-empty list"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]"}, r"\[0\]: missing values"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": [1], "step": 2},
         r"unknown key\(s\) step"),
        ({"policy": "JN-CZ-2025-004", "path": "eligibility.all[1]", "values": [["9999"]]},
         r"district prefix \(2, 4 or 6 digits\) '9999' does not exist in GB/T 2260"),
    ],
)
def test_bad_sweeps_are_refused_by_name(book, entry, message):
    with pytest.raises(VariationError, match=message):
        read_sweeps([entry], book)


def test_every_problem_is_listed_at_once(book):
    with pytest.raises(VariationError) as exc:
        read_sweeps([{"policy": "NOPE", "path": "x", "values": [1]},
                     {"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": ["1吨", "2吨"]}], book)
    assert len(exc.value.errors) == 3
    assert str(exc.value).startswith("3 error(s) in the sweep file")


def test_an_exists_test_has_nothing_to_vary(tmp_path):
    import yaml

    from quanhuiqi.policy import load_book

    doc = [{"id": "P1", "title": "t", "mode": "apply",
            "eligibility": {"all": [{"field": "revenue", "op": "exists"}, {"field": "revenue", "op": "ge", "value": 1}]}}]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(VariationError, match=r"eligibility.all\[0\]: revenue exists takes no value: there is nothing to vary"):
        _one(load_book(tmp_path), "eligibility.all[0]", [1], "P1")


def test_units_are_converted_into_the_fields_unit(book):
    sw = _one(book, "eligibility.all[3]", ["3亿元", "500万元", "2000000元", 800])
    assert [v.x for v in sw.variants] == [30000.0, 500.0, 200.0, 800.0]
    assert [v.label for v in sw.variants][:2] == ["eligibility.all[3]=3亿元", "eligibility.all[3]=500万元"]
    assert sw.what == "revenue gt" and sw.unit == "万元" and sw.current == 0
    assert number_in_unit("15%", "ratio") == (0.15, None)
    assert number_in_unit("12个月", "月") == (12.0, None)
    assert number_in_unit(" 7 ", "人") == (7.0, None)
    assert number_in_unit("5分", None)[1] == "'5分' carries a unit (分); the field has none: write a plain number"


def test_a_variant_changes_that_value_only(book):
    sw = _one(book, "eligibility.all[3]", [800])
    p0, p1 = book.by_id["JN-CZ-2025-004"], sw.variants[0].policy
    assert p1.id == p0.id and p1.title == p0.title and p1.max_amount == p0.max_amount
    a0, a1 = p0.condition.children, p1.condition.children
    assert a1[3].value == 800.0 and a1[3].raw == 800.0 and a0[3].value == 0.0
    assert [c for i, c in enumerate(a1) if i != 3] == [c for i, c in enumerate(a0) if i != 3]
    cap = _one(book, "benefit.max_amount", [1.5]).variants[0].policy
    assert cap.max_amount == 1.5 and cap.condition == p0.condition


def test_code_and_ordinal_values_sweep_too(book):
    sw = _one(book, "eligibility.all[2]", ["small", "micro"])
    assert [v.x for v in sw.variants] == [None, None]
    d = read_sweeps([{"policy": "JN-CZ-2025-004", "path": "eligibility.all[1]", "values": [["370102"], ["370112", "370176"]]}],
                    book)[0]
    assert d.variants[1].label == "eligibility.all[1]=[370112, 370176]"


def test_sweep_file_errors_name_the_file(book, tmp_path):
    from quanhuiqi.tables.io import InputError

    with pytest.raises(InputError, match=r"nowhere\.yaml: sweep file not found"):
        read_sweeps(tmp_path / "nowhere.yaml", book)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- policy: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.yaml: not valid YAML"):
        read_sweeps(bad, book)
    f = tmp_path / "v.yaml"
    f.write_text("- {policy: JN-CZ-2025-004, path: 'eligibility.all[7]', values: [1]}\n", encoding="utf-8")
    with pytest.raises(VariationError, match=r"v\.yaml\[0\]: policy JN-CZ-2025-004: eligibility.all\[7\]"):
        read_sweeps(f, book)
