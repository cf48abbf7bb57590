"""Every load-time error has a bad policy file here, and its message names file, policy and path."""

from __future__ import annotations

import textwrap

import pytest

from quanhuiqi.policy import PolicyError, check_book, load_book
from quanhuiqi.tables import InputError

HEAD = """\
id: BAD-1
title: 测试政策
department: 测试局
mode: auto
valid_from: 2025-01-01
valid_to: 2025-12-31
"""

OK_TREE = """\
eligibility:
  all:
    - {field: status, op: eq, value: active}
"""

CASES = {
    "unknown_field": (
        HEAD
        + "eligibility:\n  all:\n    - {field: status, op: eq, value: active}\n    - {field: revenu, op: ge, value: 1}\n",
        ["policy BAD-1: eligibility.all[1]", "unknown field 'revenu'", "did you mean 'revenue'"],
    ),
    "unknown_operator": (
        HEAD + "eligibility:\n  all:\n    - {field: revenue, op: gte, value: 1}\n",
        ["policy BAD-1: eligibility.all[0]", "unknown operator 'gte'"],
    ),
    "unknown_mode": (
        HEAD.replace("mode: auto", "mode: automatic") + OK_TREE,
        ["policy BAD-1: mode", "unknown mode 'automatic'"],
    ),
    "wrong_value_type": (
        HEAD + "eligibility:\n  all:\n    - {field: revenue, op: ge, value: 'lots'}\n",
        ["policy BAD-1: eligibility.all[0]", "value 'lots' for revenue (number) must be a number"],
    ),
    "bool_type": (
        HEAD + "eligibility:\n  all:\n    - {field: serious_dishonest, op: eq, value: 'no'}\n",
        ["eligibility.all[0]", "must be true or false"],
    ),
    "industry_code_does_not_exist": (
        HEAD + "eligibility:\n  all:\n    - {field: industry_code, op: under, value: ['3999']}\n",
        ["policy BAD-1: eligibility.all[0]", "industry code '3999' does not exist in GB/T 4754-2017"],
    ),
    "district_code_does_not_exist": (
        HEAD + "eligibility:\n  all:\n    - {field: district_code, op: under, value: ['3799']}\n",
        [
            "policy BAD-1: eligibility.all[0]",
            "district prefix (2, 4 or 6 digits) '3799' does not exist in GB/T 2260",
        ],
    ),
    "empty_combinator": (
        HEAD + "eligibility:\n  all:\n    - {field: status, op: eq, value: active}\n    - any: []\n",
        ["policy BAD-1: eligibility.all[1].any", "empty combinator"],
    ),
    "deep_path": (
        HEAD
        + textwrap.dedent(
            """\
            eligibility:
              all:
                - {field: status, op: eq, value: active}
                - {field: status, op: eq, value: active}
                - {field: status, op: eq, value: active}
                - {field: status, op: eq, value: active}
                - any:
                    - {field: revenue, op: ge, value: 1}
                    - {field: revenue, op: between, value: [10, 1]}
            """
        ),
        ["policy BAD-1: eligibility.all[4].any[1]", "between: low 10 is above high 1"],
    ),
    "valid_from_after_valid_to": (
        HEAD.replace("valid_to: 2025-12-31", "valid_to: 2024-12-31") + OK_TREE,
        ["policy BAD-1", "valid_from 2025-01-01 is after valid_to 2024-12-31"],
    ),
    "operator_not_for_type": (
        HEAD + "eligibility:\n  all:\n    - {field: revenue, op: under, value: ['1']}\n",
        ["eligibility.all[0]", "operator under does not apply to revenue (number"],
    ),
    "ordinal_value": (
        HEAD + "eligibility:\n  all:\n    - {field: tax_credit_rating, op: ge, value: AA}\n",
        ["eligibility.all[0]", "value 'AA' for tax_credit_rating (ordinal) must be one of D, C, M, B, A"],
    ),
    "category_value": (
        HEAD + "eligibility:\n  all:\n    - {field: status, op: eq, value: 存续}\n",
        ["eligibility.all[0]", "value '存续' for status (category) must be one of active"],
    ),
    "set_token": (
        HEAD + "eligibility:\n  all:\n    - {field: certifications, op: has, value: hightech}\n",
        ["eligibility.all[0]", "value 'hightech' for certifications (set)"],
    ),
    "missing_value": (
        HEAD + "eligibility:\n  all:\n    - {field: revenue, op: ge}\n",
        ["eligibility.all[0]", "ge on revenue needs a value"],
    ),
    "not_with_two": (
        HEAD
        + "eligibility:\n  not: [{field: revenue, op: ge, value: 1}, {field: revenue, op: ge, value: 2}]\n",
        ["eligibility.not", "not takes exactly one condition"],
    ),
    "two_combinators": (
        HEAD
        + "eligibility:\n  all: [{field: revenue, op: ge, value: 1}]\n  any: [{field: revenue, op: ge, value: 1}]\n",
        ["policy BAD-1: eligibility", "exactly one of all/any/not"],
    ),
    "unknown_key": (
        HEAD + "eligibility:\n  all:\n    - {field: revenue, op: ge, value: 1, unit: 元}\n",
        ["eligibility.all[0]", "unknown key(s) unit"],
    ),
    "bad_benefit": (
        HEAD + "benefit: {kind: subsidy, max_amount: -5}\n" + OK_TREE,
        ["policy BAD-1: benefit.max_amount", "must be a non-negative number"],
    ),
    "bad_test_expect": (
        HEAD + OK_TREE + "tests:\n  - facts: {status: 存续}\n    expect: yes\n",
        ["policy BAD-1: tests[0]", "expect True must be one of eligible, undetermined, ineligible"],
    ),
    "missing_eligibility": (HEAD, ["policy BAD-1", "eligibility missing"]),
    "no_id": ("title: x\nmode: auto\n" + OK_TREE, ["bad.yaml", "policy id missing"]),
    "not_yaml": (HEAD + "eligibility: [unclosed\n", ["bad.yaml", "not valid YAML"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_policy_file_is_refused_with_its_location(tmp_path, name):
    text, expected = CASES[name]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_book(tmp_path)
    msg = str(err.value)
    assert isinstance(err.value, InputError)
    assert str(path) in msg
    for part in expected:
        assert part in msg, (part, msg)


def test_duplicate_id_names_both_files(tmp_path):
    (tmp_path / "a.yaml").write_text(HEAD + OK_TREE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(HEAD + OK_TREE, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_book(tmp_path)
    assert f"{tmp_path / 'b.yaml'}: policy BAD-1: duplicate id (also in {tmp_path / 'a.yaml'})" in str(
        err.value
    )


def test_all_errors_are_reported_at_once(tmp_path):
    (tmp_path / "one.yaml").write_text(CASES["unknown_field"][0], encoding="utf-8")
    (tmp_path / "two.yaml").write_text(
        CASES["industry_code_does_not_exist"][0].replace("BAD-1", "BAD-2"), encoding="utf-8"
    )
    (tmp_path / "three.yaml").write_text(CASES["unknown_mode"][0].replace("BAD-1", "BAD-3"), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_book(tmp_path)
    assert len(err.value.errors) == 3
    rep = check_book(tmp_path)
    assert not rep.ok and len(rep.errors) == 3
    assert "BAD-1" in rep.text() and "BAD-2" in rep.text() and "BAD-3" in rep.text()


def test_fields_file_errors(tmp_path):
    (tmp_path / "fields.yaml").write_text(
        "fields:\n  - {name: ip_count, type: integer, unit: 件}\n  - {name: revenue, type: number}\n  - {name: score, type: ordinal}\n",
        encoding="utf-8",
    )
    (tmp_path / "p.yaml").write_text(HEAD + OK_TREE, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_book(tmp_path)
    msg = str(err.value)
    assert "fields.yaml: fields[0]: field 'ip_count': unknown type 'integer'" in msg
    assert "fields.yaml: fields[1]: field 'revenue' is already defined (built in)" in msg
    assert "fields.yaml: fields[2]: field 'score': an ordinal field needs its values" in msg


def test_extra_fields_become_testable(tmp_path):
    (tmp_path / "fields.yaml").write_text(
        "fields:\n  - {name: ip_count, type: number, unit: 件, description: 知识产权数}\n", encoding="utf-8"
    )
    (tmp_path / "p.yaml").write_text(
        HEAD + "eligibility:\n  all:\n    - {field: ip_count, op: ge, value: 3}\n", encoding="utf-8"
    )
    book = load_book(tmp_path)
    assert book.fields["ip_count"].unit == "件"
    assert book.policies.loc[0, "n_conditions"] == 1


def test_version_is_a_content_hash(tmp_path):
    (tmp_path / "p.yaml").write_text(HEAD + OK_TREE, encoding="utf-8")
    v1 = load_book(tmp_path).version
    assert load_book(tmp_path).version == v1
    (tmp_path / "p.yaml").write_text(HEAD.replace("测试政策", "测试政策二") + OK_TREE, encoding="utf-8")
    assert load_book(tmp_path).version != v1


def test_failing_embedded_test_is_reported(tmp_path):
    text = (
        HEAD
        + OK_TREE
        + "tests:\n  - facts: {status: 存续}\n    expect: eligible\n  - facts: {status: 注销}\n    expect: eligible\n"
    )
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    rep = check_book(tmp_path)
    assert rep.n_tests == 2 and rep.n_passed == 1
    assert not rep.ok
    assert f"{tmp_path / 'p.yaml'}: policy BAD-1: tests[1]: expected eligible, got ineligible" in rep.text()
