"""Every bad-input branch of the policy loader, each with a small malformed book.

``test_policy_load_errors.py`` holds the headline cases (unknown field/operator/mode, wrong value
type, missing codes, …); this file covers the rest: the fields file, every wrong operand shape,
benefit and tests blocks, dates, non-mapping and empty files, an empty folder.  Each refusal must
be a ``PolicyError`` whose line names the file, the policy id (when there is one), the path in the
tree, and says the reason in words.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from test_policy_load_errors import HEAD, OK_TREE

from quanhuiqi.policy import PolicyError, check_book, load_book
from quanhuiqi.tables import InputError

# A code field without a hierarchy (``under`` cannot apply to it); declared beside every policy case.
EXTRA_FIELDS = "fields:\n  - {name: permit_no, type: code, description: 许可证号}\n"


def tree(*atoms: str) -> str:
    """``eligibility: all: [...]`` with one flow-mapping line per atom."""
    return "eligibility:\n  all:\n" + "".join(f"    - {a}\n" for a in atoms)


def refused(directory: Path) -> list[str]:
    """The error lines of a book that must be refused (by ``PolicyError``, an ``InputError``)."""
    with pytest.raises(PolicyError) as err:
        load_book(directory)
    assert isinstance(err.value, InputError)
    assert str(err.value).startswith(f"{len(err.value.errors)} error(s) in the policy book:\n")
    return err.value.errors


def line_with(errors: list[str], file: Path, parts: list[str]) -> str:
    """The one error line that starts with ``file`` and holds every part; fails if there is none."""
    hits = [
        e
        for e in errors
        if (e.startswith(f"{file}: ") or e.startswith(f"{file}[")) and all(p in e for p in parts)
    ]
    assert hits, (file, parts, errors)
    return hits[0]


# ---- policy files: (text of bad.yaml, parts of the one error line after the file name) -------------
POLICY_CASES: dict[str, tuple[str, list[str]]] = {
    # policy header
    "unknown_policy_key": (HEAD + "budget: 100\n" + OK_TREE, ["policy BAD-1: unknown key(s) budget"]),
    "title_missing": (HEAD.replace("title: 测试政策\n", "") + OK_TREE, ["policy BAD-1: title missing"]),
    "title_blank": (
        HEAD.replace("title: 测试政策", "title: '  '") + OK_TREE,
        ["policy BAD-1: title missing"],
    ),
    "title_not_text": (HEAD.replace("title: 测试政策", "title: 5") + OK_TREE, ["policy BAD-1: title 5 must be text"]),
    "valid_from_not_iso": (
        HEAD.replace("valid_from: 2025-01-01", "valid_from: '2025-13-01'") + OK_TREE,
        ["policy BAD-1: valid_from: '2025-13-01' is not an ISO date YYYY-MM-DD"],
    ),
    "valid_to_a_number": (
        HEAD.replace("valid_to: 2025-12-31", "valid_to: 20251231") + OK_TREE,
        ["policy BAD-1: valid_to: 20251231 is not an ISO date YYYY-MM-DD"],
    ),
    "not_a_mapping": ("just a sentence\n", [": expected a policy mapping"]),
    "list_item_not_a_mapping": (
        "- just a sentence\n",
        ["[0]: expected a policy mapping"],
    ),
    "list_item_without_id": (
        "- "
        + HEAD.replace("\n", "\n  ").rstrip()
        + "\n  "
        + OK_TREE.replace("\n", "\n  ").rstrip()
        + "\n- {title: 无编号, mode: auto}\n",
        ["[1]: policy id missing or not a string (None)"],
    ),
    # empty files
    "empty_file": ("", [": empty policy file"]),
    "comment_only_file": ("# 待补充\n", [": empty policy file"]),
    "empty_list_file": ("[]\n", [": empty policy file"]),
    # condition tree shape
    "eligibility_a_list": (
        HEAD + "eligibility:\n  - {field: status, op: eq, value: active}\n",
        ["policy BAD-1: eligibility: expected a mapping (a test {field, op, value} or all/any/not)"],
    ),
    "child_a_string": (
        HEAD + tree("revenue >= 100"),
        ["policy BAD-1: eligibility.all[0]: expected a mapping"],
    ),
    "not_list_child_bad": (
        HEAD + "eligibility:\n  not: [{field: revenu, op: ge, value: 1}]\n",
        ["policy BAD-1: eligibility.not: unknown field 'revenu'"],
    ),
    "not_of_nothing": (
        HEAD + "eligibility:\n  not:\n",
        ["policy BAD-1: eligibility.not: expected a mapping"],
    ),
    # operand types, by field type
    "date_value_not_iso": (
        HEAD + tree("{field: established_on, op: ge, value: soon}"),
        [
            "policy BAD-1: eligibility.all[0]",
            "value 'soon' for established_on (date) must be an ISO date YYYY-MM-DD",
        ],
    ),
    "category_value_a_bool": (
        HEAD + tree("{field: status, op: eq, value: true}"),
        ["policy BAD-1: eligibility.all[0]", "value True for status (category) must be a string"],
    ),
    "text_value_a_float": (
        HEAD + tree("{field: enterprise_type, op: eq, value: 1.5}"),
        ["policy BAD-1: eligibility.all[0]", "value 1.5 for enterprise_type (category) must be a string"],
    ),
    "industry_division_does_not_exist": (
        HEAD + tree("{field: industry_division, op: eq, value: '99'}"),
        [
            "policy BAD-1: eligibility.all[0]",
            "industry_division code '99' does not exist in GB/T 4754-2017 at that level",
        ],
    ),
    "industry_group_given_a_division": (
        HEAD + tree("{field: industry_group, op: in, value: ['131', '13']}"),
        [
            "policy BAD-1: eligibility.all[0]",
            "industry_group code '13' does not exist in GB/T 4754-2017 at that level",
        ],
    ),
    "under_on_code_without_hierarchy": (
        HEAD + tree("{field: permit_no, op: under, value: ['37']}"),
        [
            "policy BAD-1: eligibility.all[0]",
            "operator under needs a hierarchical code field; permit_no has no hierarchy",
        ],
    ),
    "exists_with_a_value": (
        HEAD + tree("{field: revenue, op: exists, value: 5}"),
        ["policy BAD-1: eligibility.all[0]: exists takes no value"],
    ),
    "missing_with_false": (
        HEAD + tree("{field: revenue, op: missing, value: false}"),
        ["policy BAD-1: eligibility.all[0]: missing takes no value"],
    ),
    "in_with_a_scalar": (
        HEAD + tree("{field: status, op: in, value: active}"),
        ["policy BAD-1: eligibility.all[0]: in needs a non-empty list of values"],
    ),
    "has_any_with_empty_list": (
        HEAD + tree("{field: certifications, op: has_any, value: []}"),
        ["policy BAD-1: eligibility.all[0]: has_any needs a non-empty list of values"],
    ),
    "under_with_a_bool": (
        HEAD + tree("{field: industry_code, op: under, value: [true]}"),
        ["policy BAD-1: eligibility.all[0]", "value True for industry_code (code) must be a code"],
    ),
    "not_under_with_a_float": (
        HEAD + tree("{field: district_code, op: not_under, value: [37.01]}"),
        ["policy BAD-1: eligibility.all[0]", "value 37.01 for district_code (code) must be a code"],
    ),
    "between_a_scalar": (
        HEAD + tree("{field: revenue, op: between, value: 5}"),
        ["policy BAD-1: eligibility.all[0]: between needs a list [low, high]"],
    ),
    "between_three_items": (
        HEAD + tree("{field: revenue, op: between, value: [1, 2, 3]}"),
        ["policy BAD-1: eligibility.all[0]: between needs a list [low, high]"],
    ),
    "between_low_not_a_number": (
        HEAD + tree("{field: revenue, op: between, value: [low, 5]}"),
        ["policy BAD-1: eligibility.all[0]", "value 'low' for revenue (number) must be a number"],
    ),
    "between_dates_reversed": (
        HEAD + tree("{field: established_on, op: between, value: [2020-01-01, 2019-01-01]}"),
        ["policy BAD-1: eligibility.all[0]", "between: low 2020-01-01 is above high 2019-01-01"],
    ),
    "eq_with_a_list": (
        HEAD + tree("{field: revenue, op: eq, value: [1, 2]}"),
        [
            "policy BAD-1: eligibility.all[0]",
            "value [1, 2] for revenue (number) must be a single value (use in / not_in for lists)",
        ],
    ),
    "has_token_with_semicolon": (
        HEAD + tree("{field: certifications, op: has, value: 'high_tech;gazelle'}"),
        [
            "policy BAD-1: eligibility.all[0]",
            "value 'high_tech;gazelle' for certifications (set) must be a non-empty token without ';'",
        ],
    ),
    "has_blank_token": (
        HEAD + tree("{field: tags, op: has, value: ' '}"),
        ["policy BAD-1: eligibility.all[0]", "value ' ' for tags (set) must be a non-empty token"],
    ),
    "has_all_number_token": (
        HEAD + tree("{field: chains, op: has_all, value: [ai, 3]}"),
        ["policy BAD-1: eligibility.all[0]", "value 3 for chains (set) must be a non-empty token"],
    ),
    "number_not_finite": (
        HEAD + tree("{field: revenue, op: ge, value: .nan}"),
        ["policy BAD-1: eligibility.all[0]", "value nan for revenue (number) must be a number"],
    ),
    # benefit
    "benefit_a_number": (
        HEAD + "benefit: 300\n" + OK_TREE,
        ["policy BAD-1: benefit: expected a mapping {kind, max_amount, rate, base}"],
    ),
    "benefit_unknown_key": (
        HEAD + "benefit: {kind: subsidy, cap: 300}\n" + OK_TREE,
        ["policy BAD-1: benefit: unknown key(s) cap"],
    ),
    "benefit_base_not_a_number_field": (
        HEAD + "benefit: {kind: subsidy, base: status}\n" + OK_TREE,
        ["policy BAD-1: benefit.base: 'status' must name a number field"],
    ),
    "benefit_base_unknown": (
        HEAD + "benefit: {kind: subsidy, base: turnover}\n" + OK_TREE,
        ["policy BAD-1: benefit.base: 'turnover' must name a number field"],
    ),
    "benefit_rate_without_base": (
        HEAD + "benefit: {kind: subsidy, rate: 0.1}\n" + OK_TREE,
        ["policy BAD-1: benefit: rate and base go together"],
    ),
    "benefit_base_without_rate": (
        HEAD + "benefit: {kind: subsidy, base: revenue}\n" + OK_TREE,
        ["policy BAD-1: benefit: rate and base go together"],
    ),
    "benefit_rate_a_percentage": (
        HEAD + "benefit: {kind: subsidy, rate: 10%}\n" + OK_TREE,
        ["policy BAD-1: benefit.rate: '10%' must be a non-negative number"],
    ),
    # embedded tests
    "tests_a_mapping": (
        HEAD + OK_TREE + "tests: {facts: {status: 存续}, expect: eligible}\n",
        ["policy BAD-1: tests: expected a list of {facts, expect}"],
    ),
    "test_a_string": (
        HEAD + OK_TREE + "tests: [eligible]\n",
        ["policy BAD-1: tests[0]: expected a mapping {facts, expect}"],
    ),
    "test_unknown_key": (
        HEAD + OK_TREE + "tests:\n  - {facts: {status: 存续}, expect: eligible, expected: eligible}\n",
        ["policy BAD-1: tests[0]: unknown key(s) expected"],
    ),
    "test_facts_a_list": (
        HEAD + OK_TREE + "tests:\n  - {facts: [status], expect: eligible}\n",
        ["policy BAD-1: tests[0]: facts must be a mapping of enterprise columns to values"],
    ),
    "test_without_facts": (
        HEAD + OK_TREE + "tests:\n  - {facts: {status: 存续}, expect: eligible}\n  - {expect: ineligible}\n",
        ["policy BAD-1: tests[1]: facts must be a mapping"],
    ),
    "test_as_of_not_a_date": (
        HEAD + OK_TREE + "tests:\n  - {facts: {status: 存续}, expect: eligible, as_of: someday}\n",
        ["policy BAD-1: tests[0]: as_of 'someday' is not an ISO date"],
    ),
}


@pytest.mark.parametrize("name", sorted(POLICY_CASES))
def test_bad_policy_is_refused_naming_file_policy_and_path(tmp_path, name):
    text, parts = POLICY_CASES[name]
    (tmp_path / "fields.yaml").write_text(EXTRA_FIELDS, encoding="utf-8")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    errors = refused(tmp_path)
    assert len(errors) == 1, errors  # one fault, one line: no cascade of follow-on errors
    line_with(errors, path, parts)


# ---- fields.yaml: (its text, parts of the one error line after the file name) --------------------
FIELDS_CASES: dict[str, tuple[str, list[str]]] = {
    "not_yaml": ("fields: [unclosed\n", [": not valid YAML (", "at line"]),
    "fields_a_mapping": (
        "fields: {name: ip_count, type: number}\n",
        [": expected a list of fields {name, type, unit, description}"],
    ),
    "a_scalar": ("ip_count\n", [": expected a list of fields"]),
    "item_a_string": (
        "fields:\n  - ip_count\n",
        [": fields[0]: expected a mapping {name, type, unit, description}"],
    ),
    "unknown_field_key": (
        "fields:\n  - {name: ip_count, type: number, units: 件}\n",
        [": fields[0]: unknown key(s) units"],
    ),
    "name_not_snake_case": (
        "fields:\n  - {name: ip_count, type: number}\n  - {name: IP-Count, type: number}\n",
        [": fields[1]: name 'IP-Count' must be a snake_case identifier"],
    ),
    "name_missing": (
        "fields:\n  - {type: number}\n",
        [": fields[0]: name None must be a snake_case identifier"],
    ),
    "duplicate_extra_field": (
        "fields:\n  - {name: ip_count, type: number}\n  - {name: ip_count, type: number}\n",
        [": fields[1]: field 'ip_count' is already defined"],
    ),
    "values_a_string": (
        "fields:\n  - {name: grade, type: category, values: a}\n",
        [": fields[0]: field 'grade': values must be a non-empty list of strings"],
    ),
    "values_empty": (
        "fields:\n  - {name: grade, type: ordinal, values: []}\n",
        [": fields[0]: field 'grade': values must be a non-empty list of strings"],
    ),
    "values_numbers": (
        "fields:\n  - {name: grade, type: ordinal, values: [1, 2, 3]}\n",
        [": fields[0]: field 'grade': values must be a non-empty list of strings"],
    ),
    "code_hierarchy_unknown": (
        "fields:\n  - {name: zone, type: code, hierarchy: country}\n",
        [": fields[0]: field 'zone': hierarchy must be industry or district"],
    ),
    "hierarchy_on_a_number": (
        "fields:\n  - {name: ip_count, type: number, hierarchy: industry}\n",
        [": fields[0]: field 'ip_count': hierarchy applies to code fields only, not to a number field"],
    ),
    "values_on_a_date": (
        "fields:\n  - {name: listed_on, type: date, values: [a, b]}\n",
        [": fields[0]: field 'listed_on': values apply to ordinal, category, code, set and text fields"],
    ),
}


@pytest.mark.parametrize("name", sorted(FIELDS_CASES))
def test_bad_fields_file_is_refused_naming_file_and_entry(tmp_path, name):
    text, parts = FIELDS_CASES[name]
    fields = tmp_path / "fields.yaml"
    fields.write_text(text, encoding="utf-8")
    (tmp_path / "p.yaml").write_text(HEAD + OK_TREE, encoding="utf-8")
    errors = refused(tmp_path)
    assert len(errors) == 1, errors
    line = line_with(errors, fields, parts)
    if "duplicate" in name:
        assert "(built in)" not in line  # only built-in names say so


@pytest.mark.parametrize("text", ["", "fields:\n", "# no extra fields yet\n"])
def test_empty_fields_file_means_builtin_fields_only(tmp_path, text):
    (tmp_path / "fields.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "p.yaml").write_text(HEAD + OK_TREE, encoding="utf-8")
    book = load_book(tmp_path)
    assert "revenue" in book.fields and "ip_count" not in book.fields


def test_fields_file_as_a_bare_list(tmp_path):
    (tmp_path / "fields.yaml").write_text(
        "- {name: grade, type: ordinal, values: [c, b, a]}\n", encoding="utf-8"
    )
    (tmp_path / "p.yaml").write_text(HEAD + tree("{field: grade, op: ge, value: b}"), encoding="utf-8")
    assert load_book(tmp_path).fields["grade"].values == ("c", "b", "a")


def test_unknown_field_in_a_policy_is_still_reported_when_fields_file_is_broken(tmp_path):
    """A broken fields file does not hide the policies' own errors (the built-ins stand in)."""
    (tmp_path / "fields.yaml").write_text("fields: [unclosed\n", encoding="utf-8")
    (tmp_path / "p.yaml").write_text(HEAD + tree("{field: revenu, op: ge, value: 1}"), encoding="utf-8")
    errors = refused(tmp_path)
    assert len(errors) == 2
    line_with(errors, tmp_path / "fields.yaml", ["not valid YAML"])
    line_with(errors, tmp_path / "p.yaml", ["policy BAD-1: eligibility.all[0]: unknown field 'revenu'"])


# ---- the folder itself -----------------------------------------------------------------------
def test_missing_folder(tmp_path):
    errors = refused(tmp_path / "nowhere")
    assert errors == [f"{tmp_path / 'nowhere'}: not a folder of policy files"]


def test_a_file_instead_of_a_folder(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(HEAD + OK_TREE, encoding="utf-8")
    assert refused(path) == [f"{path}: not a folder of policy files"]


@pytest.mark.parametrize("with_fields", [False, True], ids=["empty", "fields_only"])
def test_folder_without_policies(tmp_path, with_fields):
    if with_fields:
        (tmp_path / "fields.yaml").write_text(EXTRA_FIELDS, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a policy", encoding="utf-8")
    assert refused(tmp_path) == [f"{tmp_path}: no policy files (*.yaml)"]


def test_check_book_on_a_missing_folder_reports_instead_of_raising(tmp_path):
    rep = check_book(tmp_path / "nowhere")
    assert not rep.ok and rep.n_policies == 0
    assert rep.errors == [f"{tmp_path / 'nowhere'}: not a folder of policy files"]
    assert "1 error(s)" in rep.text()


def test_invalid_utf8_is_refused_as_not_yaml(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes(HEAD.encode("gbk") + OK_TREE.encode("gbk"))
    assert refused(tmp_path) == [f"{path}: not valid YAML (UnicodeDecodeError)"]


def test_two_documents_in_one_file_is_not_valid_yaml(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(HEAD + OK_TREE + "---\n" + HEAD + OK_TREE, encoding="utf-8")
    [line] = refused(tmp_path)
    assert line.startswith(f"{path}: not valid YAML (") and "at line" in line


# ---- many errors at once ----------------------------------------------------------------------
def test_every_independent_error_is_reported_at_once(tmp_path):
    """Faults in the fields file, in every section of one policy, and in other files: all listed;
    the good policy beside them is not."""
    (tmp_path / "fields.yaml").write_text(
        "fields:\n  - ip_count\n  - {name: zone, type: code, hierarchy: country}\n", encoding="utf-8"
    )
    many = (
        HEAD.replace("title: 测试政策\n", "").replace("valid_to: 2025-12-31", "valid_to: end of year")
        + "budget: 100\n"
        + "benefit: {kind: subsidy, rate: 0.1}\n"
        + tree("{field: revenue, op: between, value: [5, 1]}", "{field: status, op: in, value: active}")
        + "tests:\n  - {facts: [status], expect: eligible}\n  - {facts: {}, expect: eligible, as_of: someday}\n"
    )
    (tmp_path / "many.yaml").write_text(many, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(HEAD.replace("BAD-1", "GOOD-1") + OK_TREE, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "empty.yml").write_text("", encoding="utf-8")
    (tmp_path / "sub" / "list.yaml").write_text("- 42\n", encoding="utf-8")

    errors = refused(tmp_path)
    fields, pol = tmp_path / "fields.yaml", tmp_path / "many.yaml"
    expected = [
        (fields, ["fields[0]: expected a mapping"]),
        (fields, ["fields[1]: field 'zone': hierarchy must be industry or district"]),
        (pol, ["policy BAD-1: unknown key(s) budget"]),
        (pol, ["policy BAD-1: title missing"]),
        (pol, ["policy BAD-1: valid_to: 'end of year' is not an ISO date"]),
        (pol, ["policy BAD-1: benefit: rate and base go together"]),
        (pol, ["policy BAD-1: eligibility.all[0]: between: low 5 is above high 1"]),
        (pol, ["policy BAD-1: eligibility.all[1]: in needs a non-empty list of values"]),
        (pol, ["policy BAD-1: tests[0]: facts must be a mapping"]),
        (pol, ["policy BAD-1: tests[1]: as_of 'someday' is not an ISO date"]),
        (tmp_path / "sub" / "empty.yml", ["empty policy file"]),
        (tmp_path / "sub" / "list.yaml", ["[0]: expected a policy mapping"]),
    ]
    for file, parts in expected:
        line_with(errors, file, parts)
    assert len(errors) == len(expected), errors
    assert not any("GOOD-1" in e for e in errors)

    rep = check_book(tmp_path)
    assert rep.errors == errors and rep.n_policies == 1  # the good one still counts


def test_long_values_are_shortened_in_messages(tmp_path):
    """A pasted paragraph as a value is not echoed whole (messages stay one readable line)."""
    blob = "营业收入不低于" * 40
    (tmp_path / "p.yaml").write_text(
        HEAD + tree(f"{{field: revenue, op: ge, value: '{blob}'}}"), encoding="utf-8"
    )
    [line] = refused(tmp_path)
    assert "must be a number" in line and "..." in line and blob not in line


# ---- accepted forms next to the error branches ------------------------------------------------
def test_accepted_forms_load(tmp_path):
    """Timestamps count as their date; ``not`` takes a one-item list; a code field without a
    hierarchy takes plain ``eq``; a book answers len, repr, active and subset."""
    (tmp_path / "fields.yaml").write_text(EXTRA_FIELDS, encoding="utf-8")
    one = (
        HEAD.replace("valid_from: 2025-01-01", "valid_from: 2025-01-01 08:30:00")
        + "eligibility:\n  not: [{field: permit_no, op: eq, value: 'XK-001'}]\n"
        + "tests:\n  - {facts: {status: 存续}, expect: eligible, as_of: 2025-03-01T09:00:00}\n"
    )
    (tmp_path / "one.yaml").write_text(one, encoding="utf-8")
    two = (
        HEAD.replace("BAD-1", "LATER-1")
        .replace("2025-01-01", "2026-01-01")
        .replace("2025-12-31", "2026-12-31")
    )
    (tmp_path / "two.yaml").write_text(two + OK_TREE, encoding="utf-8")

    book = load_book(tmp_path)
    pol = book.by_id["BAD-1"]
    assert pol.valid_from == dt.date(2025, 1, 1) and not isinstance(pol.valid_from, dt.datetime)
    assert pol.tests[0].as_of == dt.date(2025, 3, 1)
    assert pol.condition.kind == "not" and pol.condition.children[0].value == "XK-001"
    assert len(book) == 2 and repr(book) == f"PolicyBook(2 policies, version {book.version})"
    assert [p.id for p in book.active("2025-06-30")] == ["BAD-1"]
    assert [p.id for p in book.active(dt.date(2026, 6, 30))] == ["LATER-1"]
    sub = book.subset(["LATER-1", "NO-SUCH"])
    assert [p.id for p in sub.items] == ["LATER-1"] and sub.version == book.version
    with pytest.raises(ValueError, match="as_of 'soon' is not a date"):
        book.active("soon")


def test_check_book_reports_ok_and_refused_facts(tmp_path):
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "p.yaml").write_text(
        HEAD + OK_TREE + "tests:\n  - {facts: {status: 存续}, expect: eligible}\n", encoding="utf-8"
    )
    rep = check_book(tmp_path / "ok")
    assert rep.ok and rep.n_tests == rep.n_passed == 1
    assert rep.text().endswith(" — OK")

    (tmp_path / "bad").mkdir()
    path = tmp_path / "bad" / "p.yaml"
    path.write_text(
        HEAD + OK_TREE + "tests:\n  - {facts: {uscc: not-a-code, status: 存续}, expect: eligible}\n",
        encoding="utf-8",
    )
    rep = check_book(tmp_path / "bad")
    assert not rep.ok and rep.n_tests == 1 and rep.n_passed == 0
    [line] = rep.errors
    assert line.startswith(f"{path}: policy BAD-1: tests[0]: facts refused by validation (")
    assert "uscc" in line


# ---- known wrong behaviour: the loader crashes instead of reporting -----------------------------
@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("bad.yaml", HEAD.replace("valid_from: 2025-01-01", "valid_from: 2025-13-01") + OK_TREE),
        (
            "bad.yaml",
            HEAD + OK_TREE + "tests:\n  - {facts: {status: 存续}, expect: eligible, as_of: 2025-02-30}\n",
        ),
        ("fields.yaml", "fields:\n  - {name: ip_count, type: number, description: 2025-02-30}\n"),
    ],
    ids=["valid_from", "test_as_of", "fields_file"],
)
def test_impossible_unquoted_date_is_reported_with_its_file(tmp_path, file, text):
    if file != "bad.yaml":
        (tmp_path / "bad.yaml").write_text(HEAD + OK_TREE, encoding="utf-8")
    (tmp_path / file).write_text(text, encoding="utf-8")
    errors = refused(tmp_path)
    line_with(errors, tmp_path / file, ["not valid YAML (impossible value:"])


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (HEAD + tree("{field: [revenue], op: ge, value: 1}"), "policy BAD-1: eligibility.all[0]"),
        (HEAD + "eligibility: {field: {name: revenue}, op: ge, value: 1}\n", "policy BAD-1: eligibility"),
        (HEAD + "benefit: {rate: 0.1, base: [revenue]}\n" + OK_TREE, "policy BAD-1: benefit.base"),
    ],
    ids=["field_a_list", "field_a_mapping", "benefit_base_a_list"],
)
def test_unhashable_field_name_is_reported(tmp_path, text, where):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    line_with(refused(tmp_path), path, [where])


def test_exists_with_value_one_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + tree("{field: revenue, op: exists, value: 1}"), encoding="utf-8")
    line_with(refused(tmp_path), path, ["policy BAD-1: eligibility.all[0]: exists takes no value"])


@pytest.mark.parametrize("benefit", ["{rate: 10%, base: revenue}", "{rate: 0.1, base: status}"])
def test_one_bad_benefit_amount_gives_one_error(tmp_path, benefit):
    (tmp_path / "bad.yaml").write_text(HEAD + f"benefit: {benefit}\n" + OK_TREE, encoding="utf-8")
    errors = refused(tmp_path)
    assert not any("go together" in e for e in errors), errors


@pytest.mark.parametrize(("node", "message"), [
    ("{field: industry_code, op: eq, value: '39'}", "industry code '39' is a division"),
    ("{field: industry_code, op: in, value: ['3911', C]}", "industry code 'C' is a section"),
    ("{field: industry_code, op: ne, value: '391'}", "industry code '391' is a group"),
    ("{field: district_code, op: eq, value: '370100'}", "district code '370100' is a prefecture"),
    ("{field: district_code, op: not_in, value: ['370000']}", "district code '370000' is a province"),
])
def test_whole_code_comparisons_need_whole_codes(tmp_path, node, message):
    """eq / ne / in / not_in on a hierarchical code compare whole codes: a coarser code is refused with
    the operator to use instead (it would match no class, and a coarse record neither way)."""
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + tree(node), encoding="utf-8")
    line = line_with(refused(tmp_path), path, ["policy BAD-1: eligibility.all[0]", message])
    assert "use under / not_under" in line


def test_whole_codes_and_coarse_prefixes_load(tmp_path):
    (tmp_path / "ok.yaml").write_text(HEAD + tree(
        "{field: industry_code, op: in, value: ['3911', '0111']}",
        "{field: district_code, op: eq, value: '370102'}",
        "{field: industry_code, op: under, value: [C, '39']}",
        "{field: district_code, op: not_under, value: ['3701']}",
    ), encoding="utf-8")
    from quanhuiqi.policy import load_book

    assert len(load_book(tmp_path).items) == 1
