import pandas as pd
import pytest

from quanhuiqi.reference.districts import canonical_district_code, district_prefix, jinan_districts
from quanhuiqi.reference.industries import (
    canonical_industry_code,
    could_lie_under,
    industry_hierarchy,
    level_counts,
    lookup_industry,
)
from quanhuiqi.reference.sme import sme_industry_key, sme_thresholds


def test_industry_counts_match_the_standard():
    assert level_counts() == {"section": 20, "division": 97, "group": 473, "class": 1381}


@pytest.mark.parametrize(
    "raw, canon",
    [("C3911", "3911"), ("3911", "3911"), ("391", "391"), ("39", "39"), ("C", "C"), (" ３９１１ ", "3911"),
     ("c3911", "3911"), ("C39", "39")],
)
def test_industry_code_forms(raw, canon):
    assert canonical_industry_code(pd.Series([raw])).iloc[0] == canon


@pytest.mark.parametrize("raw", ["A3911", "9999", "X", "0000", "39111", ""])
def test_industry_code_that_does_not_exist(raw):
    assert pd.isna(canonical_industry_code(pd.Series([raw])).iloc[0])
    if raw:
        with pytest.raises(KeyError, match="does not exist"):
            lookup_industry(raw)


def test_industry_hierarchy_levels():
    h = industry_hierarchy(pd.Series(["3911", "391", "39", "C", None], dtype="string"))
    assert h["industry_section"].tolist()[:4] == ["C"] * 4
    assert h["industry_class"].iloc[0] == "3911" and pd.isna(h["industry_class"].iloc[1])
    assert h["industry_level"].tolist()[:4] == [4, 3, 2, 1]
    assert h.iloc[4].isna().all()


def test_under_is_three_valued_for_coarse_codes():
    assert could_lie_under("3911", "39") is True
    assert could_lie_under("39", "3911") is None
    assert could_lie_under("39", "40") is False
    assert could_lie_under("C", "3911") is None
    assert could_lie_under("A", "3911") is False


def test_district_successors_and_zones():
    got = canonical_district_code(
        pd.Series(["370122", "370181", "370111", "371202", "371203", "371200", "370176", "999999", "３７０１０２"])
    ).tolist()
    assert got[:7] == ["370114", "370114", "370100", "370116", "370117", "370100", "370176"]
    assert pd.isna(got[7])
    assert got[8] == "370102"


def test_district_prefix_levels():
    assert district_prefix(pd.Series(["370102", "370100", "370000"])).tolist() == ["370102", "3701", "37"]


def test_jinan_has_its_current_districts():
    codes = set(jinan_districts()["code"])
    assert {"370102", "370112", "370114", "370116", "370117", "370124", "370126", "370176"} <= codes
    assert "370181" not in codes


def test_sme_thresholds_and_scope():
    th = sme_thresholds()
    assert len(th) == 30 and th["industry_key"].nunique() == 16
    h = industry_hierarchy(canonical_industry_code(pd.Series(["5211", "F", "51", "7040", "7010", "59", "5920", "J"])))
    code = h["industry_class"].fillna(h["industry_group"]).fillna(h["industry_division"])
    keys = sme_industry_key(h["industry_section"], code).tolist()
    assert keys[0] == "retail" and pd.isna(keys[1]) and keys[2] == "wholesale"
    assert keys[3] == "other_unlisted" and keys[4] == "real_estate_development"
    assert pd.isna(keys[5]) and keys[6] == "warehousing" and keys[7] == "other_unlisted"


def test_record_vocabularies_cover_the_enterprise_table_and_the_industry_lists_resolve():
    from quanhuiqi.reference.industry_lists import resolve_list, shipped_list_names
    from quanhuiqi.reference.records import CERTIFICATE_ITEMS, CERTIFICATE_SYNONYMS, LEVELS
    from quanhuiqi.reference.vocabularies import CERTIFICATION_NAMES, CERTIFICATIONS

    assert set(CERTIFICATIONS) <= set(CERTIFICATE_ITEMS)  # every certification has its record item
    assert set(CERTIFICATE_SYNONYMS.values()) <= set(CERTIFICATE_ITEMS)
    assert all(CERTIFICATE_SYNONYMS[k] == v for k, v in CERTIFICATION_NAMES.items())
    assert list(LEVELS) == ["district", "city", "provincial", "national"]  # lowest first: "at least" compares
    for name in shipped_list_names():
        lst = resolve_list(name)
        assert lst.full or lst.partial
        assert not set(lst.full) & set(lst.partial)
    sei = resolve_list("sei_2018")
    assert "3911" in sei.full and "3919" in sei.partial  # 计算机整机制造 wholly in; 其他计算机制造 only partly
    assert resolve_list("sei_2018/1").title.endswith("新一代信息技术产业")
    core = resolve_list("digital_economy_2021/01")
    assert set(core.full) < set(resolve_list("digital_economy_2021").full)
