"""Each construct of the policy language, drafted from a clause written for the test."""

import pytest
from drafting_helpers import has_atom


def test_places_with_roles_and_jurisdiction(draft):
    d = draft("企业工商注册地、税务征管关系及统计关系均在本区范围内。", jurisdiction="370112")
    assert has_atom(d, field="district_code", op="under", value=["370112"])
    assert has_atom(d, field="tax_district_code", op="under", value=["370112"])
    assert has_atom(d, field="stats_district_code", op="under", value=["370112"])
    assert all(a.kind in ("registration_location", "tax_location", "stats_location") for a in d.atoms)


def test_places_without_jurisdiction_stay_todo(draft):
    d = draft("企业注册地和纳税关系在本市。")
    assert not d.atoms
    assert {t.kind for t in d.todos} >= {"tax_location"}


def test_historical_and_zone_names(draft):
    d = draft("申报企业须在章丘市注册登记。")
    assert has_atom(d, field="district_code", op="under", value=["370114"])  # 章丘市 → 章丘区
    d = draft("在济南高新区注册并纳税的企业。")
    assert has_atom(d, field="district_code", value=["370176"])
    assert has_atom(d, field="tax_district_code", value=["370176"])
    d = draft("主要办公场所设在济南市行政区域内。")
    assert has_atom(d, field="office_district_code", value=["3701"])


def test_commitment_is_an_attestation_not_a_place(draft):
    d = draft("企业须承诺五年内不迁离本区、不减少注册资本。", jurisdiction="370102")
    assert has_atom(d, attest="stay_commitment")
    assert not any(a.atom.get("field", "").endswith("district_code") for a in d.atoms)


@pytest.mark.parametrize(
    "text, field, op, value",
    [
        ("上年度营业收入不低于1.5亿元", "revenue", "ge", 15000),
        ("营业收入在2000万元以上", "revenue", "ge", 2000),
        ("营业收入超过500万元", "revenue", "gt", 500),
        ("营业收入不足300万元", "revenue", "lt", 300),
        ("营业收入3000万元(含)以下", "revenue", "le", 3000),
        ("营业收入低于800万元(含)", "revenue", "le", 800),
        ("注册资本不高于500万元", "registered_capital", "le", 500),
        ("纳税总额达到200万元", "tax_paid", "ge", 200),
        ("研发费用占营业收入的比例不低于4%", "rd_ratio", "ge", 0.04),
        ("从业人员不少于50人", "employees", "ge", 50),
        ("成立时间满两年", "age_years", "ge", 2),
        ("注册成立时间在5年以内", "age_years", "le", 5),
        ("连续缴纳失业保险费6个月以上", "insured_months", "ge", 6),
        ("裁员率不高于5%", "layoff_rate", "le", 0.05),
        ("营业收入同比增长15%以上", "revenue_growth", "ge", 0.15),
        ("拥有发明专利2项以上", "invention_patents", "ge", 2),
        ("年销售额５０００万元以上", "revenue", "ge", 5000),
    ],
)
def test_thresholds_units_and_comparators(draft, text, field, op, value):
    d = draft(text + "。")
    assert has_atom(d, field=field, op=op, value=value), [a.atom for a in d.atoms]


def test_yearly_figures(draft):
    d = draft("近三年研发投入总额不低于300万元。")
    assert has_atom(d, field="rd_expense", years=3, agg="sum", op="ge", value=300)
    d = draft("2024年度营业收入达到1亿元。")
    assert has_atom(d, field="revenue", year=2024, op="ge", value=10000)
    d = draft("营业收入连续两年增长20%以上。")
    assert has_atom(d, field="revenue", measure="growth", years=2, agg="each", op="ge", value=0.2)
    d = draft("上年度对区级财政贡献50万元以上。")
    assert has_atom(d, field="tax_local", year="last", op="ge", value=50)
    d = draft("年主营业务收入首次突破1亿元的企业。")
    assert has_atom(d, field="main_revenue", year="last", op="ge", value=10000)
    assert has_atom(d, field="main_revenue", year="last-1", years="all", agg="max", op="lt", value=10000)


def test_bands_become_branches(draft):
    d = draft("销售收入3000万元(含)以下的企业，研发费用占销售收入比例不低于5%；"
              "销售收入在3000万元至2亿元(含)的企业，比例不低于4%。")
    tree = d.policy["eligibility"]
    assert "any" in tree and len(tree["any"]) == 2
    second = tree["any"][1]["all"]
    assert {"field": "revenue", "op": "gt", "value": 3000}.items() <= second[0].items()
    assert any(a.get("field") == "rd_ratio" and a.get("value") == 0.04 for a in second)


def test_industries(draft):
    d = draft("支持对象为制造业和建筑业企业（房地产企业除外）。")
    assert has_atom(d, field="industry_code", op="under", value=["C", "E"])
    assert has_atom(d, field="industry_code", op="not_under", value=["70"])
    d = draft("行业为批发业（行业代码51）。")
    assert has_atom(d, field="industry_code", op="under", value=["51"])
    d = draft("属于战略性新兴产业的工业企业。")
    assert has_atom(d, field="industry_code", op="in_list", value="sei_2018")
    assert has_atom(d, field="industry_code", op="under", value=["B", "C", "D"])


def test_definitions_stand_for_their_list(draft):
    d = draft("支持对象为重点服务业企业。注：重点服务业包括：G交通运输、仓储和邮政业，M科学研究和技术服务业。")
    assert has_atom(d, field="industry_code", op="under", value=["G", "M"])
    assert len(d.atoms) == 1


def test_certifications_levels_and_first_award(draft):
    d = draft("申报单位为高新技术企业。")
    assert has_atom(d, field="certifications", op="has", value="high_tech")
    d = draft("获得省级“专精特新”中小企业认定。")
    assert has_atom(d, field="certificate", op="held", item="specialized_sme", level="provincial")
    d = draft("对2024年度新认定的科技型中小企业给予奖励。")
    assert has_atom(d, field="certificate", op="first_in", item="tech_sme", window={"year": 2024})
    d = draft("对新认定的瞪羚企业或独角兽企业给予支持。")
    tree = d.policy["eligibility"]  # any over (held and first awarded) per designation
    assert "any" in tree and len(tree["any"]) == 2
    assert {a["item"] for br in tree["any"] for a in br["all"] if a.get("op") == "first_in"} == {"gazelle", "unicorn"}
    d = draft("申报单位为瞪羚企业或独角兽企业。")
    assert has_atom(d, field="certifications", op="has_any", value=["gazelle", "unicorn"])


def test_events(draft):
    d = draft("企业由济南市以外地区迁入，迁入时间在2023年1月1日至2023年12月31日之间。")
    assert has_atom(d, field="milestone", op="first_in", item="moved_in",
                    window={"from": "2023-01-01", "to": "2023-12-31"}, where={"detail_not_under": ["3701"]})
    d = draft("企业在全国中小企业股份转让系统挂牌，或于创业板上市。")
    assert has_atom(d, field="milestone", op="occurred_in", item="neeq_listed")
    assert has_atom(d, field="milestone", op="occurred_in", item="listed")
    assert not has_atom(d, field="size_class")
    d = draft("2023年首次纳入规模以上工业企业统计。")
    assert has_atom(d, field="milestone", op="first_in", item="above_scale_entry", window={"year": 2023})
    assert has_atom(d, field="above_scale", op="eq", value=True)


def test_attestations_penalties_and_credit(draft):
    d = draft("企业应具有独立法人资格，财务制度健全，实行独立核算，研发费用单独建账，近三年未发生重大安全事故，"
              "未被列入严重失信主体名单，未被列入经营异常名录。")
    assert has_atom(d, field="enterprise_type", op="not_in")
    for item in ("financial_system", "independent_accounting", "rd_bookkeeping"):
        assert has_atom(d, attest=item)
    assert has_atom(d, field="penalty", op="count_le", value=0, item=["safety_accident"],
                    where={"severity_ge": "serious"}, window={"last_years": 3})  # 重大 = serious, 较大 = major
    assert has_atom(d, field="serious_dishonest", op="eq", value=False)
    assert has_atom(d, field="abnormal_operation", op="eq", value=False)


def test_size_ownership_and_scale(draft):
    d = draft("支持对象为民营小微企业，须为规模以上企业。")
    assert has_atom(d, field="size_class", op="in", value=["small", "micro"])
    assert has_atom(d, field="ownership", op="eq", value="private")
    assert has_atom(d, field="above_scale", op="eq", value=True)
    d = draft("已在全国中小企业股份转让系统挂牌的企业。")
    assert not has_atom(d, field="size_class")


def test_policy_level_rules(draft):
    d = draft("符合条件的企业经专家评审后择优支持，与本区其他政策按照就高不重复的原则执行，同一企业只能享受一次。"
              "政策执行期限至2026年12月31日。")
    p = d.policy
    assert "review" in p and p["exclusive"]["per"] == "year" and p["once"] == "lifetime"
    assert p["valid_to"] == "2026-12-31"
    assert p["mode"] == "apply"


def test_structure_one_of_items(draft):
    d = draft("申报企业须满足以下条件之一：\n(1)高新技术企业；\n(2)上年度营业收入不低于5000万元；\n"
              "(3)拥有省级企业技术中心。\n")
    tree = d.policy["eligibility"]
    assert "any" in tree and len(tree["any"]) == 3


def test_or_inside_a_sentence(draft):
    d = draft("营业收入不低于1000万元或纳税总额不低于100万元，且具有独立法人资格。")
    tree = d.policy["eligibility"]
    assert "all" in tree
    assert any("any" in k and len(k["any"]) == 2 for k in tree["all"])


def test_amount_tiers_gate_at_the_lowest(draft):
    d = draft("纳税总额达到300万元的，奖励50万元；纳税总额达到500万元的，奖励100万元。")
    assert has_atom(d, field="tax_paid", op="ge", value=300)
    assert not has_atom(d, field="tax_paid", value=500)
    tiers = d.policy["benefit"]["tiers"]
    assert [t["amount"] for t in tiers] == [50, 100]
    assert d.policy["benefit"]["max_amount"] == 100


def test_every_atom_has_ref_span_and_confidence(draft):
    text = "第一条 申报条件\n（一）在历下区注册；\n（二）上年度营业收入不低于1000万元。"
    d = draft(text)
    assert d.atoms
    for a in d.atoms:
        node = a.to_yaml_node()
        assert node["ref"].endswith(f"@{a.start}-{a.end}")
        assert text[a.start : a.end] == a.quote
        assert 0 < a.confidence <= 1 and f"confidence {a.confidence:.2f}" in node["note"]
    assert d.atoms[1].clause == "第一条 (二)" or d.atoms[1].clause.endswith("(二)")


def test_unmapped_spans_become_todos_with_kinds(draft):
    d = draft("企业须拥有自主知识产权；管理团队能力较强；项目固定资产投资额在500万元以上。")
    kinds = {t.kind for t in d.todos}
    assert {"ip_count", "management_team"} <= kinds
    for t in d.todos:
        assert t.text and t.kind
    assert d.policy["todo"][0]["text"] == d.todos[0].text


def test_nothing_recognisable_gives_an_empty_draft(draft):
    d = draft("今天天气很好。")
    assert d.empty and d.policy["status"] == "draft" and d.policy["eligibility"] == {"all": []}


def test_other_industry_branch_negates_the_first(draft):
    d = draft("申报单位若为工业类企业，上年度营业收入不超过4亿元；若为其他类型企业，上年度营业收入不超过1亿元。")
    tree = d.policy["eligibility"]
    assert "any" in tree and len(tree["any"]) == 2
    second = tree["any"][1]["all"]
    assert second[0]["op"] == "not_under" and second[0]["value"] == ["B", "C", "D"]
    assert second[1]["value"] == 10000
    assert "&id" not in d.to_yaml()
