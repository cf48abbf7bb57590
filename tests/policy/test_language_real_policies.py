"""The additions real 申报条件 need (docs/policy_language.md): every new construct loads, and every wrong use
is refused by name — file, policy, path in the tree and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanhuiqi.policy import PolicyError, check_book, load_book

HEAD = """id: R-1
title: 测试政策
department: 测试局
mode: {mode}
valid_from: 2025-01-01
valid_to: 2025-12-31
"""


def book_dir(tmp_path: Path, body: str, mode: str = "apply", fields: str | None = None, extra: str = "") -> Path:
    d = tmp_path / "book"
    d.mkdir(exist_ok=True)
    (d / "p.yaml").write_text(HEAD.format(mode=mode) + extra + body, encoding="utf-8")
    if fields is not None:
        (d / "fields.yaml").write_text(fields, encoding="utf-8")
    return d


def tree(*atoms: str) -> str:
    return "eligibility:\n  all:\n" + "".join(f"    - {a}\n" for a in atoms)


def refused(d: Path) -> list[str]:
    with pytest.raises(PolicyError) as err:
        load_book(d)
    return err.value.errors


GOOD = [
    "{field: certificate, op: held, item: high_tech}",
    "{field: certificate, op: held, item: [high_tech, tech_sme], level: provincial}",
    "{field: certificate, op: first_in, item: high_tech, window: {year: this}}",
    "{field: certificate, op: first_in, item: little_giant, window: {year: 2024}}",
    "{field: milestone, op: first_in, item: moved_in, window: {from: 2017-01-01, to: 2017-12-31}, "
    "where: {detail_not_under: ['4401']}}",
    "{field: milestone, op: occurred_in, item: above_scale_entry, window: {last_years: 2}}",
    "{field: penalty, op: count_le, value: 0, window: {last_years: 3}, where: {amount_ge: 5}}",
    "{field: penalty, op: count_le, value: 0, item: [safety_accident], where: {severity_ge: major}}",
    "{field: penalty, op: count_ge, value: 2, window: {last_months: 6}}",
    "{field: revenue, year: last, op: ge, value: 10000}",
    "{field: main_revenue, year: 2024, op: ge, value: 10000}",
    "{field: revenue, measure: growth, year: last, op: ge, value: 0.15}",
    "{field: revenue, measure: growth, years: 2, agg: each, op: ge, value: 0.15}",
    "{field: revenue, measure: cagr, years: 2, op: ge, value: 0.2}",
    "{field: rd_expense, years: 3, agg: sum, op: ge, value: 200}",
    "{field: main_revenue, year: last-1, years: all, agg: max, op: lt, value: 100000}",
    "{field: industry_code, op: in_list, value: sei_2018}",
    "{field: industry_code, op: in_list, value: [sei_2018/1, digital_economy_2021/01]}",
    "{field: industry_code, op: not_in_list, value: hightech_manufacturing_2017}",
    "{field: tax_district_code, op: under, value: ['370112']}",
    "{field: stats_district_code, op: under, value: ['3701']}",
    "{field: ownership, op: eq, value: private}",
    "{field: largest_shareholder_share, op: ge, value: 0.3}",
    "{attest: financial_system, ref: 第一条}",
]


def test_every_new_construct_loads(tmp_path):
    book = load_book(book_dir(tmp_path, tree(*GOOD)))
    pol = book.items[0]
    assert len(book.derived_fields) >= 14
    labels = {f.label for f in book.derived_fields}
    assert "当年首次认定高新技术企业" in labels
    assert "上年度营业收入" in labels
    assert any(lab.startswith("近3年") and "5万元" in lab for lab in labels)
    assert pol.condition.children[12].kind == "all"  # agg: each → one test per year


def test_review_once_exclusive_tiers_year_and_status_are_read(tmp_path):
    body = """year: 2024
review: 经审定后择优支持
once: lifetime
exclusive: {group: gx_reward, per: lifetime}
benefit:
  kind: reward
  tiers:
    - {amount: 50, when: {field: revenue, year: last, op: ge, value: 10000}}
    - {amount: 100, when: {field: revenue, year: last, op: ge, value: 100000}}
""" + tree("{field: certificate, op: first_in, item: high_tech, window: {year: this}}")
    book = load_book(book_dir(tmp_path, body))
    p = book.items[0]
    assert (p.year, p.review, p.once, p.exclusive_group, p.exclusive_per) == (2024, "经审定后择优支持", "lifetime",
                                                                             "gx_reward", "lifetime")
    assert [a for a, _ in p.tiers] == [50.0, 100.0] and p.max_amount == 100.0
    # the policy's own year fixes relative windows and years: "this" is 2024, "last" is 2023
    names = {f.name for f in book.derived_fields}
    assert "certificate.first_in(high_tech)@year:2024" in names
    assert "revenue@2023" in names
    row = book.policies.iloc[0]
    assert row["review"] == "经审定后择优支持" and row["n_tiers"] == 2


FIELDS_OK = """fields:
  - {name: patent_score, type: number, unit: 分, formula: {sum: [{field: invention_patents, weight: 5},
      {field: utility_patents, weight: 2}, {field: design_patents, weight: 1}]}}
  - {name: ip_total, type: number, formula: {sum: [invention_patents, utility_patents]}}
  - {name: capital_ratio, type: number, unit: ratio, formula: {ratio: [paid_in_capital, registered_capital]}}
  - {name: rd_intensity, type: number, yearly: true, formula: {ratio: [rd_expense, revenue]}}
lists:
  - {name: top10, title: 十大千亿产业, codes: [C39, I65], partial: ['2710']}
record_items:
  certificate: [{name: gold_medal, label: 金质奖章}]
attestations:
  - {name: postdoc_founder, label: 博士后创办}
"""


def test_a_fields_file_declares_computed_fields_lists_items_and_attestations(tmp_path):
    body = tree("{field: patent_score, op: ge, value: 20}", "{field: ip_total, op: ge, value: 8}",
                "{field: rd_intensity, years: 3, agg: sum, op: ge, value: 0.05}",
                "{field: industry_code, op: in_list, value: top10}",
                "{field: certificate, op: held, item: gold_medal}", "{attest: postdoc_founder}")
    book = load_book(book_dir(tmp_path, body, fields=FIELDS_OK))
    assert book.fields["ip_total"].unit == "件" and book.fields["capital_ratio"].unit == "ratio"
    assert book.table_vocabularies()["certificates"]["gold_medal"] == "金质奖章"


BAD = {
    "attest_in_auto": (tree("{attest: financial_system}"), "auto", None,
                       ["eligibility.all[0]", "attest financial_system cannot be proven from data"]),
    "review_in_auto": ("review: 择优\n" + tree("{field: revenue, op: ge, value: 1}"), "auto", None,
                       ["review", "cannot be mode auto"]),
    "unknown_list": (tree("{field: industry_code, op: in_list, value: top_twenty}"), "apply", None,
                     ["eligibility.all[0]", "no industry list named 'top_twenty'"]),
    "unknown_list_item": (tree("{field: industry_code, op: in_list, value: sei_2018/99}"), "apply", None,
                          ["list 'sei_2018' has no item '99'"]),
    "in_list_on_district": (tree("{field: district_code, op: in_list, value: sei_2018}"), "apply", None,
                            ["in_list applies to industry codes"]),
    "unknown_record_item": (tree("{field: certificate, op: held, item: golden_goose}"), "apply", None,
                            ["unknown certificate item 'golden_goose'"]),
    "held_on_penalties": (tree("{field: penalty, op: held}"), "apply", None, ["held applies to certificates"]),
    "level_on_milestone": (tree("{field: milestone, op: occurred_in, item: moved_in, level: city}"), "apply", None,
                           ["only certificate tests take a level"]),
    "bad_window": (tree("{field: certificate, op: first_in, item: high_tech, window: {years: 3}}"), "apply", None,
                   ["window {'years': 3}: expected one of year"]),
    "window_reversed": (tree("{field: milestone, op: occurred_in, item: moved_in, window: {from: 2020-01-01, "
                             "to: 2019-01-01}}"), "apply", None, ["window from 2020-01-01 is after to 2019-01-01"]),
    "held_with_window": (tree("{field: certificate, op: held, item: high_tech, window: {year: 2024}}"), "apply",
                         None, ["held is tested on as_of: it takes no window"]),
    "count_without_value": (tree("{field: penalty, op: count_le}"), "apply", None,
                            ["count_le needs a whole number"]),
    "bad_where": (tree("{field: penalty, op: count_le, value: 0, where: {amount_over: 5}}"), "apply", None,
                  ["unknown where key 'amount_over'"]),
    "not_a_yearly_metric": (tree("{field: layoff_rate, year: last, op: le, value: 0.1}"), "apply", None,
                            ["'layoff_rate' is not a yearly metric"]),
    "window_needs_agg": (tree("{field: revenue, years: 3, op: ge, value: 1}"), "apply", None,
                         ["a window of several years needs"]),
    "bad_year": (tree("{field: revenue, year: next, op: ge, value: 1}"), "apply", None,
                 ["year 'next' must be this, last"]),
    "each_over_all": (tree("{field: revenue, years: all, agg: each, op: ge, value: 1}"), "apply", None,
                      ["agg each needs years: N"]),
    "yearly_value_type": (tree("{field: revenue, year: last, op: ge, value: many}"), "apply", None,
                          ["value 'many' for revenue (number) must be a number"]),
    "tiers_and_rate": ("benefit: {rate: 0.1, base: revenue, tiers: [{amount: 5, when: {field: revenue, op: ge, "
                       "value: 1}}]}\n" + tree("{field: revenue, op: ge, value: 1}"), "apply", None,
                       ["tiers and rate × base exclude each other"]),
    "tier_without_when": ("benefit: {tiers: [{amount: 5}]}\n" + tree("{field: revenue, op: ge, value: 1}"),
                          "apply", None, ["benefit.tiers[0]: expected {amount: 万元, when: condition}"]),
    "tier_bad_condition": ("benefit: {tiers: [{amount: 5, when: {field: revenu, op: ge, value: 1}}]}\n"
                           + tree("{field: revenue, op: ge, value: 1}"), "apply", None,
                           ["benefit.tiers[0].when: unknown field 'revenu'"]),
    "bad_once": ("once: twice\n" + tree("{field: revenue, op: ge, value: 1}"), "apply", None,
                 ["once: 'twice' must be lifetime or year"]),
    "bad_exclusive": ("exclusive: {group: g, per: decade}\n" + tree("{field: revenue, op: ge, value: 1}"), "apply",
                      None, ["exclusive: expected a group name"]),
    "bad_policy_year": ("year: soon\n" + tree("{field: revenue, op: ge, value: 1}"), "apply", None,
                        ["year: 'soon' must be a year"]),
    "unknown_attestation": (tree("{attest: good_vibes}"), "apply", None, ["unknown attestation 'good_vibes'"]),
    "draft_refused": ("status: draft\n" + tree("{field: revenue, op: ge, value: 1}"), "apply", None,
                      ["status draft: a drafted policy is refused"]),
    "weighted_sum_without_unit": (tree("{field: revenue, op: ge, value: 1}"), "apply",
                                  "fields:\n  - {name: s, type: number, formula: {sum: [{field: invention_patents, "
                                  "weight: 5}]}}\n", ["a weighted sum is a score: declare its unit"]),
    "sum_of_units": (tree("{field: revenue, op: ge, value: 1}"), "apply",
                     "fields:\n  - {name: s, type: number, formula: {sum: [revenue, employees]}}\n",
                     ["a sum adds fields of one unit"]),
    "ratio_unit_wrong": (tree("{field: revenue, op: ge, value: 1}"), "apply",
                         "fields:\n  - {name: s, type: number, unit: 万元, formula: {ratio: [revenue, employees]}}\n",
                         ["has unit '万元/人', not '万元'"]),
    "formula_unknown_field": (tree("{field: revenue, op: ge, value: 1}"), "apply",
                              "fields:\n  - {name: s, type: number, formula: {ratio: [revenu, employees]}}\n",
                              ["formula names unknown field 'revenu'"]),
    "list_with_bad_code": (tree("{field: revenue, op: ge, value: 1}"), "apply",
                           "lists:\n  - {name: mine, codes: ['9999']}\n", ["industry code '9999' does not exist"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_wrong_uses_are_refused_by_name(tmp_path, case):
    body, mode, fields, parts = BAD[case]
    d = book_dir(tmp_path, body, mode=mode, fields=fields)
    errors = refused(d)
    hits = [e for e in errors if all(p in e for p in parts)]
    assert hits, (parts, errors)
    assert hits[0].startswith(str(d)), hits[0]  # names the file (policy file or fields file)
    if fields is None:
        assert "policy R-1" in hits[0]


def test_drafts_load_in_review_and_check(tmp_path):
    d = book_dir(tmp_path, "status: draft\n" + tree("{field: revenue, op: ge, value: 1}")
                 + "tests:\n  - {facts: {revenue: 5}, expect: eligible}\n")
    assert load_book(d, allow_drafts=True).items[0].status == "draft"
    assert check_book(d, allow_drafts=True).ok
    assert not check_book(d).ok


def test_tests_carry_records_and_a_failing_expectation_is_reported(tmp_path):
    body = tree("{field: certificate, op: first_in, item: high_tech, window: {year: this}}") + """tests:
  - as_of: 2025-06-30
    facts: {certificates: [{item: 高新技术企业, level: 国家级, awarded_on: 2025-03-01}]}
    expect: eligible
  - as_of: 2025-06-30
    facts: {certificates: [{item: high_tech, awarded_on: 2023-03-01}]}
    expect: eligible
  - as_of: 2025-06-30
    facts: {status: 存续}
    expect: undetermined
  - as_of: 2025-06-30
    facts: {certificates: [{item: high_tech, awarded_on: 2025-03-01, revoked_on: 2024-01-01}]}
    expect: eligible
"""
    rep = check_book(book_dir(tmp_path, body))
    assert rep.n_tests == 4 and rep.n_passed == 2, rep.text()
    assert any("tests[1]: expected eligible, got ineligible" in e for e in rep.errors)
    assert any("tests[3]: records refused by validation (certificates: revoked_on: revoked_on before awarded_on)"
               in e for e in rep.errors)


def test_found_by_the_real_book(tmp_path):
    """A misspelt review mapping is refused (it must never vanish and leave an auto policy); a city's own record
    item is described by its label; a test's declaration without a date is made on the test's as_of."""
    d = book_dir(tmp_path, "review: {txt: 经审定后择优支持}\n" + tree("{field: revenue, op: ge, value: 1}"), mode="auto")
    assert any("review" in e and "{text, ref}" in e for e in refused(d))
    d2 = tmp_path / "b2"
    d2.mkdir()
    (d2 / "p.yaml").write_text(HEAD.format(mode="apply") + tree(
        "{field: milestone, op: occurred_in, item: pledge_loan}"), encoding="utf-8")
    (d2 / "fields.yaml").write_text("record_items:\n  milestone: [{name: pledge_loan, label: 专利权质押贷款}]\n",
                                    encoding="utf-8")
    assert "有专利权质押贷款" in {f.label for f in load_book(d2).derived_fields}
    d3 = tmp_path / "b3"
    d3.mkdir()
    (d3 / "p.yaml").write_text(HEAD.format(mode="apply") + tree("{attest: financial_system}") + """tests:
  - {facts: {status: 存续, declarations: [{item: financial_system, value: true}]}, expect: eligible}
""", encoding="utf-8")
    assert check_book(d3).ok, check_book(d3).text()


def test_calendar_year_windows_and_a_citys_own_yearly_figure(tmp_path):
    """自认定之年起3年内: the N calendar years ending with a year; 零售额: a yearly.csv column the book declares."""
    fields = "fields:\n  - {name: retail_sales, type: number, unit: 万元, yearly: true, label: 零售额}\n"
    body = tree("{field: certificate, op: first_in, item: high_tech, window: {year: this, years: 3}}",
                "{field: retail_sales, year: last, op: ge, value: 500}") + """tests:
  - as_of: 2025-06-30
    facts: {certificates: [{item: high_tech, awarded_on: 2023-01-05}], yearly: [{year: 2024, retail_sales: 800}]}
    expect: eligible
  - as_of: 2025-06-30
    facts: {certificates: [{item: high_tech, awarded_on: 2022-12-30}], yearly: [{year: 2024, retail_sales: 800}]}
    expect: ineligible
  - as_of: 2025-06-30
    facts: {certificates: [{item: high_tech, awarded_on: 2023-01-05}], yearly: [{year: 2024, retail_sales: lots}]}
    expect: undetermined
"""
    d = book_dir(tmp_path, body, fields=fields)
    rep = check_book(d)
    assert rep.ok, rep.text()
    book = load_book(d)
    labels = {f.label for f in book.derived_fields}
    assert "3个年度内（截至当年）首次认定高新技术企业" in labels and "上年度零售额" in labels
    assert book.table_vocabularies()["yearly"] == {"retail_sales": "零售额"}
    (tmp_path / "x").mkdir()
    bad = book_dir(tmp_path / "x", tree("{field: certificate, op: first_in, item: high_tech, "
                                        "window: {year: this, years: 0}}"))
    assert any("window years 0" in e for e in refused(bad))


def test_the_check_command_refuses_drafts_unless_asked_to_check_them(tmp_path, capsys):
    from quanhuiqi.cli import main

    d = book_dir(tmp_path, "status: draft\n" + tree("{field: revenue, op: ge, value: 1}"))
    assert main(["policy", "check", str(d)]) == 1
    assert "status draft" in capsys.readouterr().out
    assert main(["policy", "check", str(d), "--drafts"]) == 0


def test_no_derived_field_name_holds_the_unknown_lists_separator(tmp_path):
    """Pairs list the facts to supply as ``;``-joined field names: a derived name must not contain ``;``."""
    book = load_book(book_dir(tmp_path, tree(*GOOD)))
    names = [f.name for f in book.derived_fields]
    assert names and not [n for n in names if ";" in n]
