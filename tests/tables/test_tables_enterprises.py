"""The enterprise table: every rejection reason from a small bad file, the contract, the invariant."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanhuiqi.tables import InputError, Validated, is_valid_uscc, read_enterprises, validate_enterprises
from quanhuiqi.tables import enterprises as ent
from quanhuiqi.tables.columns import ENTERPRISE_COLUMNS
from quanhuiqi.tables.uscc import (
    REASON_ADMIN,
    REASON_AUTHORITY,
    REASON_CHARSET,
    REASON_CHECK,
    REASON_LENGTH,
    REASON_ORG_CHECK,
    make_uscc,
    org_check_char,
)
from quanhuiqi.text import normalize_text, normalize_text_series

AS_OF = "2025-06-30"


def code(org8: str, prefix: str = "91370102") -> str:
    return make_uscc(prefix + org8 + org_check_char(org8))


U1, U2, U3 = code("MA3C0001"), code("MA3C0002"), code("MA3C0003")

GOOD = {
    "uscc": U1,
    "name": "济南泉城科技有限公司",
    "industry_code": "C3911",
    "industry_name": "计算机整机制造",
    "district_code": "370102",
    "status": "存续",
    "established_on": "2015-04-01",
    "enterprise_type": "有限责任公司",
    "registered_capital": "500",
    "employees": "40",
    "insured_employees": "35",
    "insured_months": "24",
    "layoff_rate": "0.02",
    "revenue": "1200",
    "revenue_prev": "1000",
    "total_assets": "3000",
    "rd_expense": "90",
    "tax_paid": "60",
    "tax_credit_rating": "A",
    "certifications": "high_tech",
    "abnormal_operation": "false",
    "serious_dishonest": "false",
}


def write_csv(path: Path, records: list[dict]) -> Path:
    cols = list(dict.fromkeys(c for r in records for c in r))
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in records:
            w.writerow({c: ("" if r.get(c) is None else r[c]) for c in cols})
    return path


def run(tmp_path: Path, records: list[dict], name: str = "enterprises.csv") -> Validated:
    raw = read_enterprises(write_csv(tmp_path / name, records))
    v = validate_enterprises(raw, AS_OF)
    assert_nothing_lost(v, len(records))
    return v


def assert_nothing_lost(v: Validated, n: int) -> None:
    v.check_invariant()
    assert v.rows_in == n
    kept = set(v.clean["row"])
    rejected = set(v.rejects.loc[v.rejects["action"] == "row_rejected", "row"])
    assert kept.isdisjoint(rejected)
    assert kept | rejected == set(range(1, n + 1))
    assert v.clean["row"].is_monotonic_increasing
    assert list(v.rejects.columns) == ["source", "row", "column", "value", "reason", "action"]


def three_rows(**bad) -> list[dict]:
    """Good row 1, row 2 with the bad cells, good row 3 (distinct USCCs)."""
    return [dict(GOOD), {**GOOD, "uscc": U2, **bad}, {**GOOD, "uscc": U3}]


def fix_check(body17: str) -> str:
    from stdnum.cn import uscc

    return body17 + uscc.calc_check_digit(body17)


WRONG_ORG = "0" if org_check_char("MA3C0002") != "0" else "1"

ROW_REASONS = [
    ({"uscc": None}, "uscc", ent.MISSING_REQUIRED, None),
    ({"uscc": "   "}, "uscc", ent.MISSING_REQUIRED, None),
    ({"uscc": "9137010212345"}, "uscc", REASON_LENGTH, "9137010212345"),
    ({"uscc": "91370102MA3C0002IO"}, "uscc", REASON_CHARSET, "91370102MA3C0002IO"),
    ({"uscc": fix_check("97370102MA3C0002" + org_check_char("MA3C0002"))}, "uscc", REASON_AUTHORITY, None),
    ({"uscc": fix_check("9137A102MA3C0002" + org_check_char("MA3C0002"))}, "uscc", REASON_ADMIN, None),
    ({"uscc": fix_check("91370102MA3C0002" + WRONG_ORG)}, "uscc", REASON_ORG_CHECK, None),
    ({"uscc": U2[:-1] + ("0" if U2[-1] != "0" else "1")}, "uscc", REASON_CHECK, None),
    ({"name": None}, "name", ent.MISSING_REQUIRED, None),
    ({"name": " \u3000 "}, "name", ent.MISSING_REQUIRED, None),
]


@pytest.mark.parametrize("bad, column, reason, value", ROW_REASONS)
def test_row_rejections(tmp_path, bad, column, reason, value):
    v = run(tmp_path, three_rows(**bad))
    assert v.clean["row"].tolist() == [1, 3]
    r = v.rejects
    assert len(r) == 1
    rec = r.iloc[0]
    assert (rec["source"], rec["row"], rec["column"], rec["reason"], rec["action"]) == (
        "enterprises",
        2,
        column,
        reason,
        "row_rejected",
    )
    expected_value = bad[column] if value is None and reason != ent.MISSING_REQUIRED else value
    if reason == ent.MISSING_REQUIRED:
        assert pd.isna(rec["value"])
    else:
        assert rec["value"] == expected_value


def test_duplicate_uscc_keeps_the_first_and_names_it(tmp_path):
    records = [
        dict(GOOD),
        {**GOOD, "uscc": U2},
        {**GOOD, "name": "另一家"},
        {**GOOD, "uscc": " " + U1.lower()},
    ]
    v = run(tmp_path, records)
    assert v.clean["row"].tolist() == [1, 2]
    r = v.rejects
    assert r["row"].tolist() == [3, 4]
    assert (r["reason"] == "duplicate uscc: row 1 kept").all()
    assert (r["action"] == "row_rejected").all()
    assert r["value"].tolist() == [U1, " " + U1.lower()]


def test_duplicate_of_a_rejected_row_is_kept(tmp_path):
    """The first occurrence has no name and is out, so the second is the one kept."""
    v = run(tmp_path, [{**GOOD, "name": None}, dict(GOOD)])
    assert v.clean["row"].tolist() == [2]
    assert v.rejects["reason"].tolist() == [ent.MISSING_REQUIRED]


CLEARED = [
    ("industry_code", "9999", ent.UNKNOWN_INDUSTRY),
    ("industry_code", "Z01", ent.UNKNOWN_INDUSTRY),
    ("district_code", "999999", ent.UNKNOWN_DISTRICT),
    ("district_code", "3701", ent.UNKNOWN_DISTRICT),
    ("established_on", "not a date", ent.UNPARSEABLE_DATE),
    ("established_on", "2019-02-30", ent.UNPARSEABLE_DATE),
    ("established_on", "2030-01-01", "date after as_of 2025-06-30"),
    ("established_on", "2025年7月1日", "date after as_of 2025-06-30"),
    ("registered_capital", "-5", ent.NEGATIVE),
    ("revenue", "abc", ent.NOT_A_NUMBER),
    ("revenue_prev", "inf", ent.NOT_A_NUMBER),
    ("total_assets", "-0.5", ent.NEGATIVE),
    ("rd_expense", "-1", ent.NEGATIVE),
    ("tax_paid", "--3", ent.NOT_A_NUMBER),
    ("employees", "-1", ent.NEGATIVE),
    ("insured_employees", "十", ent.NOT_A_NUMBER),
    ("insured_months", "-2", ent.NEGATIVE),
    ("layoff_rate", "1.5", ent.RATE_OUT_OF_RANGE),
    ("layoff_rate", "-0.1", ent.RATE_OUT_OF_RANGE),
    ("layoff_rate", "150%", ent.RATE_OUT_OF_RANGE),
    ("tax_credit_rating", "Z", ent.UNKNOWN_RATING),
    ("tax_credit_rating", "AA", ent.UNKNOWN_RATING),
    ("abnormal_operation", "maybe", ent.NOT_A_BOOL),
    ("serious_dishonest", "2", ent.NOT_A_BOOL),
]


@pytest.mark.parametrize("column, bad, reason", CLEARED)
def test_value_cleared(tmp_path, column, bad, reason):
    v = run(tmp_path, three_rows(**{column: bad}))
    assert v.clean["row"].tolist() == [1, 2, 3]
    r = v.rejects
    assert len(r) == 1
    rec = r.iloc[0]
    assert (rec["row"], rec["column"], rec["value"], rec["reason"], rec["action"]) == (
        2,
        column,
        bad,
        reason,
        "value_cleared",
    )
    cleared = v.clean.loc[1, column]
    assert pd.isna(cleared)  # unknown: never 0 or False
    assert cleared is not False and not (isinstance(cleared, float) and cleared == 0)
    assert pd.notna(v.clean.loc[0, column]) and pd.notna(v.clean.loc[2, column])


def test_unknown_certification_token_dropped_and_reported(tmp_path):
    v = run(tmp_path, three_rows(certifications="高新技术企业；火箭企业、瞪羚"))
    assert v.clean["certifications"].tolist() == ["high_tech", "gazelle;high_tech", "high_tech"]
    rec = v.rejects.iloc[0]
    assert len(v.rejects) == 1
    assert (rec["row"], rec["column"], rec["value"], rec["reason"], rec["action"]) == (
        2,
        "certifications",
        "火箭企业",
        ent.UNKNOWN_CERTIFICATION,
        "value_cleared",
    )


@pytest.mark.parametrize(
    "raw, tokens",
    [
        ("high_tech;tech_sme", "high_tech;tech_sme"),
        ("TECH_SME , high_tech", "high_tech;tech_sme"),
        ("高新技术企业", "high_tech"),
        ("高新技術企業", "high_tech"),
        ("专精特新", "specialized_sme"),
        ('专精特新"小巨人"', "little_giant"),
        ("专精特新“小巨人”企业", "little_giant"),
        ("小巨人", "little_giant"),
        ("科技型中小企业", "tech_sme"),
        ("瞪羚", "gazelle"),
        ("独角兽企业", "unicorn"),
        ("创新型中小企业", "innovative_sme"),
        ("单项冠军", "single_champion"),
        (
            "瞪羚，独角兽、专精特新；小巨人,高新技术企业",
            "gazelle;high_tech;little_giant;specialized_sme;unicorn",
        ),
        ("high_tech;high_tech;高新技术企业", "high_tech"),
        ("", ""),
        (None, ""),
    ],
)
def test_certification_forms(tmp_path, raw, tokens):
    v = run(tmp_path, [{**GOOD, "certifications": raw}])
    assert v.clean["certifications"].iloc[0] == tokens
    assert v.rejects.empty


def test_certifications_absent_column_is_unknown(tmp_path):
    v = run(tmp_path, [{"uscc": U1, "name": "甲"}])
    assert pd.isna(v.clean["certifications"].iloc[0])


@pytest.mark.parametrize(
    "raw", ["2019-03-05", "2019/3/5", "2019年3月5日", "20190305", "２０１９－０３－０５", "2019.3.5"]
)
def test_date_forms(tmp_path, raw):
    v = run(tmp_path, [{**GOOD, "established_on": raw}])
    assert v.clean["established_on"].iloc[0] == pd.Timestamp("2019-03-05")
    assert v.rejects.empty


@pytest.mark.parametrize(
    "raw, value",
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("是", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("否", False),
    ],
)
def test_boolean_forms(tmp_path, raw, value):
    v = run(tmp_path, [{**GOOD, "abnormal_operation": raw}])
    assert (
        v.clean["abnormal_operation"].iloc[0] is np.bool_(value)
        or v.clean["abnormal_operation"].iloc[0] == value
    )
    assert v.rejects.empty


def test_missing_stays_missing(tmp_path):
    v = run(tmp_path, [{"uscc": U1, "name": "甲", **{c: None for c in GOOD if c not in ("uscc", "name")}}])
    row = v.clean.iloc[0]
    for c in ENTERPRISE_COLUMNS:
        if c in ("uscc", "name"):
            continue
        if c == "certifications":
            assert row[c] == ""  # closed world: none listed
        else:
            assert pd.isna(row[c]), c
    assert v.rejects.empty


def test_contract_columns_and_types(tmp_path):
    v = run(tmp_path, [{**GOOD, "ip_count": "3", "note": " as written "}])
    c = v.clean
    assert list(c.columns[:4]) == ["row", "uscc", "name", "name_norm"]
    assert set(ENTERPRISE_COLUMNS) <= set(c.columns)
    assert c["row"].dtype == "int64"
    for col in [
        "uscc",
        "name",
        "name_norm",
        "industry_code",
        "industry_name",
        "district_code",
        "status",
        "enterprise_type",
        "tax_credit_rating",
        "certifications",
    ]:
        assert pd.api.types.is_string_dtype(c[col].dtype), col
    assert c["established_on"].dtype == "datetime64[ns]"
    for col in ["registered_capital", "employees", "layoff_rate", "revenue", "tax_paid", "insured_months"]:
        assert c[col].dtype == "float64", col
    for col in ["abnormal_operation", "serious_dishonest"]:
        assert c[col].dtype == "boolean", col
    row = c.iloc[0]
    assert row["industry_code"] == "3911" and row["district_code"] == "370102"
    assert row["revenue"] == 1200.0 and row["layoff_rate"] == 0.02
    assert not row["abnormal_operation"]
    # undeclared columns pass through untouched
    assert list(c.columns[-2:]) == ["ip_count", "note"]
    assert row["ip_count"] == "3" and row["note"] == " as written "


def test_normalisation_keeps_the_original(tmp_path):
    rec = {
        **GOOD,
        "uscc": " " + "".join(chr(ord(ch) + 0xFEE0) for ch in U1.lower()) + " ",  # full-width, lower-case
        "name": "  濟南　泉城科技（集團）有限公司 ",
        "district_code": "３７０１８１",  # 章丘市 → 章丘区
        "industry_code": "ｃ３９１１",
        "status": " 在業 ",
        "enterprise_type": "有限責任公司",
        "registered_capital": "１，０００",
        "tax_credit_rating": "a级",
        "layoff_rate": "5%",
    }
    v = run(tmp_path, [rec])
    row = v.clean.iloc[0]
    assert row["uscc"] == U1
    assert row["name"] == rec["name"]
    assert row["name_norm"] == "济南 泉城科技(集团)有限公司"
    assert row["district_code"] == "370114"
    assert row["industry_code"] == "3911"
    assert row["status"] == "在业"
    assert row["enterprise_type"] == "有限责任公司"
    assert row["registered_capital"] == 1000.0
    assert row["tax_credit_rating"] == "A"
    assert row["layoff_rate"] == pytest.approx(0.05)
    assert v.rejects.empty


def test_parquet_input_gives_the_same_clean_table(tmp_path):
    records = three_rows(revenue="-3")
    csv_v = run(tmp_path, records)
    typed = pd.read_csv(tmp_path / "enterprises.csv", dtype=str, keep_default_na=False, na_values=[""])
    typed["established_on"] = pd.to_datetime(typed["established_on"])
    for c in ["registered_capital", "revenue", "employees", "layoff_rate"]:
        typed[c] = pd.to_numeric(typed[c])
    typed["employees"] = typed["employees"].astype("int64")
    typed["abnormal_operation"] = typed["abnormal_operation"] == "true"
    typed.to_parquet(tmp_path / "enterprises.parquet", index=False)
    raw = read_enterprises(tmp_path / "enterprises.parquet")
    pq_v = validate_enterprises(raw, AS_OF)
    assert_nothing_lost(pq_v, 3)
    pd.testing.assert_frame_equal(pq_v.clean, csv_v.clean)
    assert pq_v.rejects[["row", "column", "reason", "action"]].equals(
        csv_v.rejects[["row", "column", "reason", "action"]]
    )


def test_missing_required_column_names_the_file(tmp_path):
    path = write_csv(tmp_path / "ents.csv", [{"uscc": U1, "title": "x"}])
    with pytest.raises(InputError, match=r"ents\.csv.*name"):
        read_enterprises(path)
    with pytest.raises(InputError, match="name"):
        validate_enterprises(pd.DataFrame({"uscc": [U1]}), AS_OF)


def test_unreadable_files(tmp_path):
    bad_csv = tmp_path / "latin.csv"
    bad_csv.write_bytes(b"uscc,name\n" + "济南".encode("gb18030") + b",\xff\xfe\n")  # GBK, then bytes of neither
    with pytest.raises(InputError, match=r"latin\.csv: neither UTF-8 nor GB18030/GBK text .*offset 15"):
        read_enterprises(bad_csv)
    bad_pq = tmp_path / "broken.parquet"
    bad_pq.write_bytes(b"not a parquet file at all")
    with pytest.raises(InputError, match=r"broken\.parquet.*unreadable"):
        read_enterprises(bad_pq)
    with pytest.raises(InputError, match=r"absent\.csv.*not found"):
        read_enterprises(tmp_path / "absent.csv")
    (tmp_path / "x.xlsx").write_bytes(b"")
    with pytest.raises(InputError, match="unsupported"):
        read_enterprises(tmp_path / "x.xlsx")


def test_bad_as_of():
    with pytest.raises(ValueError, match="as_of"):
        validate_enterprises(pd.DataFrame({"uscc": [U1], "name": ["a"]}), "yesterday")


def test_empty_table(tmp_path):
    (tmp_path / "e.csv").write_text("uscc,name,revenue\n", encoding="utf-8")
    v = validate_enterprises(read_enterprises(tmp_path / "e.csv"), AS_OF)
    assert len(v.clean) == 0 and v.rejects.empty and v.rows_in == 0
    assert set(ENTERPRISE_COLUMNS) <= set(v.clean.columns)


def test_input_index_is_irrelevant():
    raw = pd.DataFrame({"uscc": [U1, "bad", U2], "name": ["a", "b", "c"]}, index=[10, 5, 7])
    v = validate_enterprises(raw, AS_OF)
    assert v.clean["row"].tolist() == [1, 3]
    assert v.clean.index.tolist() == [0, 1]
    assert v.rejects["row"].tolist() == [2]


# --- text normalisation, and the invariant over random messy frames -----------------------------

TEXT = st.text(
    alphabet=st.sampled_from(
        list("济南濟華電腦有限公司ＡＢＣabc１２３ \u3000\t\n\x0b\x1c\u2028\u00a0(（）)")
    ),
    max_size=12,
)


@given(st.lists(st.one_of(st.none(), TEXT), max_size=20))
@settings(max_examples=80, deadline=None)
def test_normalize_names_equals_normalize_text_per_value(values):
    s = pd.Series(values, dtype="string")
    expected = pd.Series([normalize_text(v) for v in values], dtype="string")
    pd.testing.assert_series_equal(ent.normalize_names(s), expected, check_names=False)
    pd.testing.assert_series_equal(normalize_text_series(s), expected, check_names=False)


VALID = [code(f"MA3C{i:04d}") for i in range(1, 9)]
CELLS = {
    "uscc": VALID + [None, "", "123", "9137010" + "2MA3C0001" + "0X", VALID[0].lower(), " " + VALID[1]],
    "name": ["甲", "濟南乙", "", None, "  ", "ＡＢＣ"],
    "industry_code": ["C3911", "39", "9999", None, "", "ｃ"],
    "district_code": ["370102", "370181", "999999", None, "abc"],
    "established_on": ["2019-03-05", "2019/3/5", "2031-01-01", "bad", None, "20200230"],
    "revenue": ["100", "-1", "abc", None, "1,000", "５"],
    "employees": ["3", "-3", None, "x"],
    "layoff_rate": ["0.1", "2", "-0.5", "5%", None],
    "tax_credit_rating": ["A", "b", "Z", None, "M级"],
    "certifications": ["high_tech", "foo;bar", "瞪羚、独角兽", "", None],
    "abnormal_operation": ["true", "否", "maybe", None, "1"],
    "extra": ["x", None],
}


@st.composite
def messy_frames(draw):
    n = draw(st.integers(0, 25))
    cols = draw(st.sets(st.sampled_from([c for c in CELLS if c not in ("uscc", "name")])))
    data = {
        c: draw(st.lists(st.sampled_from(CELLS[c]), min_size=n, max_size=n))
        for c in ["uscc", "name", *sorted(cols)]
    }
    return pd.DataFrame(data, dtype="string")


@given(messy_frames())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_rows_in_equals_rows_out_plus_rows_rejected(raw):
    v = validate_enterprises(raw, AS_OF)
    assert_nothing_lost(v, len(raw))
    assert is_valid_uscc(v.clean["uscc"]).all()
    assert v.clean["uscc"].is_unique
    assert len(v.clean) + v.rows_rejected == len(raw)
    # a cleared value is missing in clean, and every reject names a real row and column
    cleared = v.rejects[v.rejects["action"] == "value_cleared"]
    assert set(cleared["row"]) <= set(v.clean["row"])
    by_row = v.clean.set_index("row")
    for rec in cleared.itertuples():
        if rec.column != "certifications":
            assert pd.isna(by_row.loc[rec.row, rec.column])
    assert v.rejects["value"].isna().sum() == (v.rejects["reason"] == ent.MISSING_REQUIRED).sum()
