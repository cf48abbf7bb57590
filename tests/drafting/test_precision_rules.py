"""What a clause says that is *not* a condition, or not the condition it looks like: one test per rule of
policy language the drafter follows for precision.  Clauses written for these tests, in our own words."""

from drafting_helpers import atoms_of, has_atom

from quanhuiqi.drafting.segment import items, section_at, sections


def fields(d):
    return [a.get("field") or a.get("attest") for a in atoms_of(d)]


# ---- parts of a text: conditions, benefit, procedure ---------------------------------------------

def test_sections_from_bare_and_numbered_headings():
    t = "一、申报条件\n(一)在本区注册;\n二、申报材料\n1.营业执照;\n2.审计报告。\n三、支持标准\n给予10万元奖励。"
    secs = sections(t, items(t))
    assert [s.kind for s in secs] == ["conditions", "procedure", "benefit"]
    assert section_at(secs, t.index("审计报告")) == "procedure"
    assert section_at(secs, t.index("给予")) == "benefit"
    bare = "申报条件:在本区注册。\n补助标准:1.每户5000元;2.每人1000元。"
    assert section_at(sections(bare), bare.index("每人")) == "benefit"  # a bare heading runs to the end


def test_application_materials_hold_no_condition(draft):
    d = draft("申报条件：上年度研发费用不低于100万元。\n申报材料：\n1.上年度研发费用专项审计报告；\n"
              "2.高新技术企业证书复印件（如有）；\n3.近三年纳税证明。")
    assert atoms_of(d) == [{"field": "rd_expense", "year": "last", "op": "ge", "value": 100}] or \
        fields(d) == ["rd_expense"]
    assert not any("证书" in t.text or "审计" in t.text for t in d.todos)


def test_benefit_section_restating_a_condition_adds_no_gate(draft):
    d = draft("申报条件：申报单位须为国家高新技术企业。\n奖励标准：对首次认定的高新技术企业奖励20万元；"
              "对重新认定的高新技术企业奖励5万元。")
    # one designation, held; 首次认定 pays more but the renewal tier pays too: no first-award gate
    assert fields(d) == ["certificate"]
    assert not has_atom(d, op="first_in")


def test_a_payer_without_conditions_makes_the_others_tiers(draft):
    d = draft("支持标准：对符合条件的企业给予一次性奖励10万元；其中年营业收入超过5亿元的，再给予10万元。")
    assert not has_atom(d, field="revenue")
    d = draft("资金支持：按照上年度研发投入的15%给予支持；获得省级专精特新中小企业称号的，支持比例提高至20%。")
    assert not has_atom(d, item="specialized_sme") and not has_atom(d, value="specialized_sme")


def test_a_cap_is_no_payer(draft):
    # '每家企业最高不超过100万元' caps the amount: the sentence's own conditions still gate
    d = draft("对年度采购额达到500万元以上的企业，给予采购额2%的补贴，每家企业最高不超过100万元。")
    assert has_atom(d, field="local_purchases", op="ge", value=500)


def test_paying_items_are_tiers_and_meeting_bands_gate_at_their_union(draft):
    d = draft("申报条件：上年度在本市纳税总额不低于800万元。\n奖励标准：\n1.纳税总额800万元(含)至2000万元的，"
              "奖励100万元；\n2.纳税总额2000万元以上的，奖励300万元。")
    assert [a for a in atoms_of(d) if a.get("field") == "tax_paid"] == [{"field": "tax_paid", "op": "ge", "value": 800}]
    d = draft("奖励标准：\n1.销售额1亿元以上的批发企业，奖励20万元；\n2.销售额2000万元以上的零售企业，奖励10万元。")
    tree = d.policy["eligibility"]
    assert "any" in tree and len(tree["any"]) == 2  # one case per kind of trade, not both at once


# ---- explanations --------------------------------------------------------------------------------------

def test_a_defining_bracket_is_no_condition(draft):
    d = draft("支持对象为在本市注册的中小企业（按照《中小企业划型标准规定》确定，其中工业企业从业人员1000人以下"
              "或营业收入4亿元以下）。", jurisdiction="5101")
    assert not has_atom(d, field="employees") and not has_atom(d, field="revenue")
    assert not has_atom(d, field="industry_code")
    assert has_atom(d, field="size_class", op="in", value=["medium", "small", "micro"])


def test_examples_notes_and_definitions_are_no_conditions(draft):
    d = draft("企业属于本市重点产业（如智能制造、新材料等）；上年度纳税总额不低于300万元（注：纳税总额含增值税、"
              "企业所得税，不含个人所得税）。本办法所称新认定，是指在政策有效期内首次获得高新技术企业认定。",
              jurisdiction="3301")
    assert fields(d) == ["tax_paid"]
    d = draft("例如：上年度营业收入5000万元以上的高新技术企业。企业须在本区注册。", jurisdiction="330106")
    assert not has_atom(d, field="revenue") and not has_atom(d, value="high_tech")


def test_brackets_that_exclude_or_clarify_stay_conditions(draft):
    d = draft("支持本区工业企业（不含房地产开发企业），从业人员不少于20人（含20人）。", jurisdiction="330106")
    assert has_atom(d, field="industry_code", op="not_under", value=["70"])
    assert has_atom(d, field="employees", op="ge", value=20)


def test_a_preference_is_no_gate(draft):
    d = draft("申报单位应在本市注册。同等条件下，优先支持高新技术企业和专精特新中小企业。", jurisdiction="4201")
    assert not any(a.get("field") in ("certifications", "certificate") for a in atoms_of(d))


# ---- negative lists ---------------------------------------------------------------------------------------

def test_a_negative_list_is_read_as_exclusions(draft):
    d = draft("申报条件：在本市注册的企业。\n有下列情形之一的，不予支持：\n（一）被列入经营异常名录的；\n"
              "（二）近两年发生重大安全生产事故的；\n（三）属于房地产企业的。", jurisdiction="4201")
    assert has_atom(d, field="abnormal_operation", op="eq", value=False)
    assert has_atom(d, field="penalty", op="count_le", value=0, window={"last_years": 2})
    assert has_atom(d, field="industry_code", op="not_under", value=["70"])
    assert "any" not in d.policy["eligibility"]  # none of them — not one of them


def test_neither_of_two_lists(draft):
    d = draft("下列企业不得申报：被列入经营异常名录或严重失信主体名单的企业。")
    assert has_atom(d, field="abnormal_operation", value=False) and has_atom(d, field="serious_dishonest", value=False)
    assert "any" not in d.policy["eligibility"]


def test_a_refusing_sentence(draft):
    d = draft("列入经营异常名录的企业，不予受理。")
    assert atoms_of(d) == [{"field": "abnormal_operation", "op": "eq", "value": False}]


# ---- words that look like a condition of another kind ----------------------------------------------------

def test_renewal_is_not_a_first_award(draft):
    d = draft("对重新认定的高新技术企业给予奖励。")
    assert not has_atom(d, op="first_in")
    assert has_atom(d, field="certifications", value="high_tech")


def test_a_pool_is_not_the_designation(draft):
    d = draft("已进入市小巨人企业库的企业。")
    assert not has_atom(d, value="little_giant") and not has_atom(d, item="little_giant")
    assert any(t.kind == "certification_held" for t in d.todos)


def test_industry_words_inside_other_names(draft):
    for text in ("上年度工业总产值5000万元以上。", "项目已在工业和信息化部门备案。", "企业位于工业园区内。"):
        assert not has_atom(draft(text), field="industry_code"), text


def test_a_window_is_not_an_age(draft):
    d = draft("注册地在本市、近两年内获得股权投资的企业。", jurisdiction="6101")
    assert not has_atom(d, field="age_years")
    d = draft("企业正常经营6个月以上。")
    assert has_atom(d, field="age_years", op="ge", value=0.5)


def test_insurance_of_each_hire_is_not_the_enterprise_s(draft):
    d = draft("企业新招用登记失业人员，并为其缴纳社会保险费满6个月。")
    assert not has_atom(d, field="insured_months")
    d = draft("企业足额缴纳失业保险费12个月以上。")
    assert has_atom(d, field="insured_months", op="ge", value=12)


def test_an_increment_is_not_the_level(draft):
    d = draft("企业上年度新增吸纳就业人数10人以上。")
    assert not has_atom(d, field="employees")
    assert any(t.kind == "per_hire_conditions" for t in d.todos)


def test_a_negation_reaches_every_item_of_its_list(draft):
    d = draft("支持对象为非房地产、金融类企业。")
    assert atoms_of(d) == [{"field": "industry_code", "op": "not_under", "value": ["70", "J"]}]


def test_a_listing_on_a_named_exchange(draft):
    d = draft("企业已在上海证券交易所上市。")
    assert has_atom(d, field="milestone", item="listed")


def test_industry_name_found_inside_a_longer_run(draft):
    d = draft("在本区纳税的软件和信息技术服务业企业。", jurisdiction="4601")
    assert has_atom(d, field="industry_code", op="under", value=["65"])


# ---- repeats and structure ------------------------------------------------------------------------------

def test_a_scope_restated_narrower_is_one_condition(draft):
    d = draft("第一条 支持对象为本区制造业和建筑业企业。\n第二条 申报企业须为规模以上制造业企业。", jurisdiction="440115")
    inds = [a for a in atoms_of(d) if a.get("field") == "industry_code"]
    assert inds == [{"field": "industry_code", "op": "under", "value": ["C"]}]


def test_a_negated_designation_said_twice_is_said_once(draft):
    d = draft("(一)对新设立的非总部型企业，纳税总额500万元以上的给予奖励。\n"
              "(二)对已设立的非总部型企业，纳税总额500万元以上的给予奖励。")
    nots = [k for k in d.policy["eligibility"].get("all", []) if "not" in k]
    assert len(nots) == 1


def test_designations_listed_together_are_alternatives(draft):
    d = draft("企业获得国家级专精特新“小巨人”企业、省级专精特新中小企业等称号。")
    tree = d.policy["eligibility"]
    assert "any" in tree and len(tree["any"]) == 2


def test_band_edges_claimed_by_the_next_band(draft):
    d = draft("研发投入占营业收入比重达到以下要求：\n（一）营业收入5亿元以下的企业，比例不低于3%；\n"
              "（二）营业收入5亿元（含）以上的企业，比例不低于2%。")
    tree = d.policy["eligibility"]
    assert "any" in tree and len(tree["any"]) == 2
    first = [a for a in tree["any"][0]["all"] if a.get("field") == "revenue"]
    assert first[0]["op"] == "lt" and first[0]["value"] == 50000  # (含) on the second band: 以下 excludes
    second = [a for a in tree["any"][1]["all"] if a.get("field") == "revenue"]
    assert second[0]["op"] == "ge"


# ---- a third round: names, look-alike ratios, people, side-by-side industries ---------------------------

def test_words_inside_a_document_title_are_names(draft):
    d = draft("企业属于《某市总部企业认定办法》规定的情形，注册地在本市。", jurisdiction="3502")
    assert not any(a.get("item") == "headquarters" for a in atoms_of(d))
    assert has_atom(d, field="district_code", value=["3502"])


def test_a_programme_is_not_the_designation(draft):
    d = draft("列入专精特新企业培育计划的企业。")
    assert not atoms_of(d)


def test_another_ratio_named_after_revenue_is_not_growth(draft):
    d = draft("上年度营业收入利润率不低于5%。")
    assert not has_atom(d, field="revenue_growth")
    assert any(t.kind == "profitability" for t in d.todos)
    d = draft("上年度营业收入同比增长8%以上。")
    assert has_atom(d, field="revenue_growth", op="ge", value=0.08)


def test_bringing_in_people_is_no_relocation(draft):
    d = draft("2024年度新引进全日制博士研究生，并签订3年以上劳动合同。")
    assert not has_atom(d, field="milestone")
    d = draft("2024年新引进落户本区的企业。", jurisdiction="320506")
    assert has_atom(d, field="milestone", item="moved_in")


def test_industries_named_side_by_side_are_one_scope(draft):
    d = draft("支持对象为规模以上工业企业和限额以上批发零售企业。")
    inds = [a for a in atoms_of(d) if a.get("field") == "industry_code"]
    assert len(inds) == 1 and set(inds[0]["value"]) == {"B", "C", "D", "F"}
    assert has_atom(d, field="above_scale", value=True)


def test_standard_names_with_a_pause_mark(draft):
    d = draft("本区注册的工业企业（不含电力、热力生产和供应业企业）。", jurisdiction="370602")
    assert has_atom(d, field="industry_code", op="not_under", value=["44"])


def test_small_enterprises_and_individual_businesses(draft):
    d = draft("支持对象为小微企业、个体工商户。")
    tree = d.policy["eligibility"]
    assert "any" in tree and {"field": "enterprise_type", "op": "in", "value": ["个体工商户"]}.items() <= \
        tree["any"][1].items()


def test_no_serious_dishonest_conduct(draft):
    d = draft("企业无严重违法失信行为。")
    assert has_atom(d, field="serious_dishonest", op="eq", value=False)


# ---- a fourth round ----------------------------------------------------------------------------------------

def test_one_of_two_tax_credit_grades(draft):
    d = draft("申请人上年度纳税信用等级为A级或B级。")
    assert atoms_of(d) == [{"field": "tax_credit_rating", "op": "in", "value": ["A", "B"]}]


def test_a_designation_said_twice_is_one_condition(draft):
    d = draft("申请人为国家高新技术企业，且高新技术企业资格在有效期内。")
    assert atoms_of(d) == [{"field": "certificate", "op": "held", "item": "high_tech", "level": "national"}]


def test_the_subject_of_a_further_requirement_restricts_nothing(draft):
    d = draft("限额以上住宿和餐饮业企业；住宿企业须为三星级及以上旅游饭店。")
    assert [a["value"] for a in atoms_of(d) if a.get("field") == "industry_code"] == [["H"]]


def test_exclusions_said_twice_are_one(draft):
    d = draft("申请人不属于房地产、金融、类金融企业。")
    assert atoms_of(d) == [{"field": "industry_code", "op": "not_under", "value": ["70", "J"]}]


def test_an_alternative_after_a_comma(draft):
    d = draft("上一年度研发投入不低于1000万元，或研发投入占营业收入比例不低于5%。")
    tree = d.policy["eligibility"]
    assert "any" in tree and len(tree["any"]) == 2


def test_a_bracket_that_defines_for_the_rest_of_the_text(draft):
    d = draft("支持对象为规模以上工业企业（年主营业务收入2000万元及以上的工业企业，下同）。")
    assert not has_atom(d, field="revenue")
    assert has_atom(d, field="above_scale", value=True)


# ---- a fifth round -----------------------------------------------------------------------------------------

def test_a_foreign_currency_is_no_unit_slip(draft):
    d = draft("上年度出口额不低于500万美元。")
    assert not has_atom(d, field="exports")


def test_a_ratio_said_against_its_base(draft):
    d = draft("研发费用不低于营业收入的3%。")
    assert atoms_of(d) == [{"field": "rd_ratio", "op": "ge", "value": 0.03}]
    d = draft("裁员率不高于职工总数的20%。")
    assert atoms_of(d) == [{"field": "layoff_rate", "op": "le", "value": 0.2}]
    d = draft("按营业收入的1%给予奖励。")  # a rate that pays, no condition
    assert not atoms_of(d)


def test_a_relaxed_bound_is_a_branch(draft):
    d = draft("上年度营业收入不低于3000万元，对获得国家级专精特新“小巨人”称号的企业，可放宽至1000万元。")
    tree = d.policy["eligibility"]
    assert "any" in tree and tree["any"][0]["value"] == 3000
    relaxed = tree["any"][1]["all"]
    assert {a.get("field") for a in relaxed} == {"certificate", "revenue"}
    assert [a["value"] for a in relaxed if a.get("field") == "revenue"] == [1000]


def test_a_review_step_in_the_procedure_is_kept(draft):
    d = draft("申报条件：在本市注册的企业。\n申报程序：\n（一）企业申报；\n（二）市工信局组织专家评审。", jurisdiction="4303")
    assert "review" in d.policy


def test_first_entry_into_a_pool_and_a_grant_not_had_before(draft):
    d = draft("对首次入库的科技型中小企业给予2万元奖励，已享受同类奖励的不再支持。")
    assert has_atom(d, field="certificate", op="first_in", item="tech_sme")
    d = draft("企业须未享受过同类奖励。")
    assert "exclusive" in d.policy


def test_taxes_handed_in(draft):
    d = draft("上年度上缴税收不低于300万元。")
    assert has_atom(d, field="tax_paid", op="ge", value=300)


def test_the_applicant_defined_keeps_its_conditions(draft):
    d = draft("本办法所称企业，是指在本区注册、具有独立法人资格的企业。", jurisdiction="330106")
    assert has_atom(d, field="district_code", value=["330106"]) and has_atom(d, field="enterprise_type")


def test_industries_far_apart_are_not_joined(draft):
    # two scopes in different sentences are not a list: the drafter does not guess their union
    d = draft("支持对象为工业企业。申报单位须为批发零售企业。")
    assert len([a for a in atoms_of(d) if a.get("field") == "industry_code"]) == 2


# ---- batch 6: what the words around a figure, a date or a list say ----------------------------------

def test_a_mean_over_years_is_no_single_year_growth(draft):
    d = draft("申报条件：近三年营业收入年均增长15%以上。")
    assert not has_atom(d, field="revenue_growth")
    assert any(t.kind == "revenue_growth" for t in d.todos)


def test_a_growth_without_its_figure_takes_the_figure_named_before(draft):
    d = draft("申报条件：上年度营业收入达到5000万元以上，且同比增长不低于10%。")
    assert has_atom(d, field="revenue", op="ge", value=5000)
    assert has_atom(d, field="revenue_growth", op="ge", value=0.1)
    d = draft("申报条件：上年度研发人员不少于10人，且同比增长不低于10%。")
    assert not has_atom(d, field="revenue_growth")  # only a revenue figure lends its growth


def test_a_date_before_founding_words_bounds_the_founding(draft):
    d = draft("申报条件：2024年1月1日以后在本市新注册设立的企业。")
    assert has_atom(d, field="established_on", op="ge", value="2024-01-01")
    d = draft("申报条件：2020年12月31日(不含)之前注册的企业。")
    assert has_atom(d, field="established_on", op="lt", value="2020-12-31")
    d = draft("申报条件：2024年1月1日以后新注册或从市外迁入本市的企业。")
    assert not has_atom(d, field="established_on")  # the date bounds an arrival as well


def test_every_industry_of_an_excluded_list_with_its_noun(draft):
    d = draft("申报条件：企业在本市注册，属于房地产业、金融业的企业除外。")
    assert has_atom(d, field="industry_code", op="not_under")
    assert not has_atom(d, field="industry_code", op="under")
    vals = [set(a["value"]) for a in atoms_of(d) if a.get("op") == "not_under"]
    assert set().union(*vals) == {"70", "J"}
    # an exception about someone else (the hires) is no exclusion of the applicant's class
    d = draft("申报条件：本市注册的小微企业招用高校毕业生(派遣到小微企业的除外)。")
    assert not has_atom(d, field="size_class", op="not_in")


def test_dishonesty_in_a_negative_list(draft):
    d = draft("申报条件：在本市注册。\n有下列情形之一的，不予受理：(一)存在严重失信行为的；(二)存在欠缴税款行为的。")
    assert has_atom(d, field="serious_dishonest", op="eq", value=False)
    assert any(t.kind == "credit_specific" for t in d.todos)


def test_a_purpose_before_listed_conditions_gates_nothing(draft):
    d = draft("为推动规模以上工业企业研发机构全覆盖，对符合下列条件的企业给予奖励：\n（一）在本市注册的工业企业；\n"
              "（二）上年度研发费用占营业收入比重达到2%。")
    assert not has_atom(d, field="above_scale")
    assert has_atom(d, field="rd_ratio", op="ge", value=0.02)
    d = draft("为支持规模以上工业企业加大研发投入，给予每家企业10万元奖励。")  # no list of its own: the purpose says who
    assert has_atom(d, field="above_scale", value=True)


def test_each_class_of_applicant_with_its_own_cap_is_an_alternative(draft):
    d = draft("支持对象为年营业收入2000万元以下的小微企业和年营业收入500万元以下的个体工商户。")
    tree = d.policy["eligibility"]
    assert "any" in tree and len(tree["any"]) == 2
    assert has_atom(d, field="enterprise_type", op="in", value=["个体工商户"])


def test_two_bounds_of_one_figure_are_both_kept(draft):
    d = draft("申报条件：上年度营业收入在1000万元以上、2000万元以下。")
    assert has_atom(d, field="revenue", op="ge", value=1000) and has_atom(d, field="revenue", op="le", value=2000)


def test_first_crossing_said_with_shixian(draft):
    d = draft("申报条件：上年度首次实现营业收入超过2000万元。")
    assert has_atom(d, field="revenue", op="le", agg="max")  # every earlier year at or below the bound


def test_a_list_of_trades_after_de_keeps_its_first_item_and_leaves_no_todo(draft):
    d = draft("申报条件：2025年新纳入限额以上统计的批发、零售、住宿、餐饮企业。")
    vals = [set(a["value"]) for a in atoms_of(d) if a.get("field") == "industry_code"]
    assert vals == [{"51", "52", "H"}]
    assert not any(t.kind == "industry_scope" for t in d.todos)  # the items merged into the list are read


def test_a_general_promise_of_lawful_business_is_no_condition(draft):
    d = draft("申报条件：在本市注册，依法诚信经营。")
    assert not any("attest" in a for a in atoms_of(d))


def test_two_non_enterprise_forms_with_an_industry_are_alternatives(draft):
    d = draft("申报条件：在本市注册的农民专业合作社、家庭农场或农业企业。")
    assert has_atom(d, field="enterprise_type", op="in", value=["农民专业合作社", "家庭农场"])
    assert "any" in str(d.policy["eligibility"])


def test_first_crossing_of_a_yearly_figure(draft):
    d = draft("申报条件：上年度建筑业总产值首次突破10亿元。")
    assert has_atom(d, field="output_value", op="lt", agg="max", value=100000)


def test_a_bracket_after_a_size_class_defines_it(draft):
    d = draft("支持对象：在本市注册的小微企业（工业企业年营业收入2000万元以下，服务业企业年营业收入1000万元以下）。")
    assert has_atom(d, field="size_class") and not has_atom(d, field="revenue")
    assert not has_atom(d, field="industry_code")


def test_a_figure_that_sets_the_term_of_the_benefit_gates_nothing(draft):
    d = draft("补贴标准：按企业实际缴纳的社会保险费给予补贴，企业职工人数在100人以上的，补贴期限最长3年。")
    assert not has_atom(d, field="employees")
    assert any(t.kind == "employees" for t in d.todos)  # read, and shown to the officer


def test_caps_said_with_buman_and_hires_beside_the_head_count(draft):
    d = draft("申报条件：成立不满3年，员工人数不足100人。")
    assert has_atom(d, field="age_years", op="lt", value=3) and has_atom(d, field="employees", op="lt", value=100)
    d = draft("申报条件：当年新增吸纳本市户籍人员就业10人以上，且企业上年末从业人员不少于50人。")
    assert [a.get("value") for a in atoms_of(d) if a.get("field") == "employees"] == [50]


def test_a_standard_to_reach_is_not_the_class(draft):
    d = draft("申报条件：个体工商户营业收入达到规模以上企业标准。")
    assert not has_atom(d, field="above_scale")
    assert any(t.kind == "above_scale" for t in d.todos)


def test_bare_bands_in_a_run_of_tiers_take_the_figure_named_first(draft):
    d = draft("奖励标准：上年度营业收入5亿元以上的，奖励30万元；2亿元以上不足5亿元的，奖励20万元；"
              "1亿元以上不足2亿元的，奖励10万元。")
    assert [a for a in atoms_of(d) if a.get("field") == "revenue"] == [{"field": "revenue", "op": "ge", "value": 10000}]
