"""The fact tables: every row ends in the clean table or in the rejects with its reason (rows in = out +
rejected); a bad row is refused by name, a bad cell is cleared, never turned into 0 or false."""

from __future__ import annotations

import pandas as pd
import pytest

from quanhuiqi.tables import InputError, make_uscc, org_check_char
from quanhuiqi.tables.facts import FactTables, load_fact_tables, validate_fact_table

AS_OF = "2025-07-01"


def u(i: int) -> str:
    org = f"MA{i:06d}"
    return make_uscc("91370100" + org + org_check_char(org))


KNOWN = pd.Series([u(0), u(1)], dtype="string")


def table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).astype("string")


def reasons(v) -> dict[int, str]:
    r = v.rejects[v.rejects["action"] == "row_rejected"]
    return dict(zip(r["row"].tolist(), r["reason"].tolist(), strict=True))


def test_certificates_refuse_unknown_enterprises_future_dates_and_revocations_before_the_award():
    raw = table([
        {"uscc": u(0), "item": "高新技术企业", "level": "国家级", "awarded_on": "2024-11-20", "valid_to": "2027-11-19"},
        {"uscc": u(9), "item": "high_tech", "level": "national", "awarded_on": "2024-11-20"},  # unknown enterprise
        {"uscc": u(0), "item": "high_tech", "level": "national", "awarded_on": "2025-12-01"},  # after as_of
        {"uscc": u(1), "item": "tech_sme", "level": "city", "awarded_on": "2024-05-01", "revoked_on": "2023-01-01"},
        {"uscc": u(1), "item": "golden_goose", "awarded_on": "2024-05-01"},  # unknown item
        {"uscc": u(1), "item": "tech_sme", "level": "galactic", "awarded_on": "2024-06-01"},  # level cleared
        {"uscc": u(0), "item": "高新技术企业", "level": "国家级", "awarded_on": "2024-11-20"},  # duplicate of row 1
        {"uscc": "91370100MA0000000X", "item": "high_tech", "awarded_on": "2024-05-01"},  # bad check character
        {"uscc": u(1), "item": "tech_sme", "level": "city", "awarded_on": "2024-05-02", "revoked_on": "2026-01-01"},
    ])
    v = validate_fact_table("certificates", raw, AS_OF, KNOWN)
    v.check_invariant()
    why = reasons(v)
    assert "no such enterprise" in why[2]
    assert why[3] == "date after as_of 2025-07-01"
    assert why[4] == "revoked_on before awarded_on"
    assert why[5].startswith("unknown certificate item")
    assert why[7].startswith("duplicate key")
    assert 8 in why
    assert sorted(v.clean["row"].tolist()) == [1, 6, 9]
    clean = v.clean.set_index("row")
    assert clean.loc[1, "item"] == "high_tech" and clean.loc[1, "level"] == "national"
    assert pd.isna(clean.loc[6, "level"])  # unknown level cleared, row kept
    assert pd.isna(clean.loc[9, "revoked_on"])  # a revocation after as_of has not happened yet
    cleared = v.rejects[v.rejects["action"] == "value_cleared"]
    assert set(cleared["column"]) == {"level", "revoked_on"}
    assert (clean.loc[1, "valid_from"] == pd.Timestamp("2024-11-20"))  # valid_from defaults to the award


def test_yearly_figures_refuse_a_duplicated_enterprise_year_and_a_future_year():
    raw = table([
        {"uscc": u(0), "year": "2024", "revenue": "12,000", "rd_expense": "600"},
        {"uscc": u(0), "year": "2024", "revenue": "13000"},  # duplicated (enterprise, year)
        {"uscc": u(0), "year": "2026", "revenue": "1"},  # after the as_of year
        {"uscc": u(1), "year": "二〇二三", "revenue": "1"},
        {"uscc": u(1), "year": "2023", "revenue": "-5", "employees": "many"},  # values cleared
    ])
    v = validate_fact_table("yearly", raw, AS_OF, KNOWN)
    why = reasons(v)
    assert why[2].startswith("duplicate key (uscc, year): row 1 kept")
    assert why[3].startswith("year is not a whole number") and why[4].startswith("year is not a whole number")
    assert v.clean["revenue"].tolist()[0] == 12000.0
    last = v.clean.set_index("row").loc[5]
    assert pd.isna(last["revenue"]) and pd.isna(last["employees"])  # unknown, never 0
    assert len(v.clean) + v.rows_rejected == len(raw)


def test_penalties_milestones_and_declarations():
    pen = validate_fact_table("penalties", table([
        {"uscc": u(0), "item": "行政处罚", "occurred_on": "2024-03-01", "amount": "6", "severity": "一般"},
        {"uscc": u(0), "item": "安全事故", "occurred_on": "", "amount": "1"},  # no date: cannot be placed
        {"uscc": u(1), "item": "administrative_penalty", "occurred_on": "2024-03-01", "severity": "cosmic"},
    ]), AS_OF, KNOWN)
    assert reasons(pen)[2] == "missing required value"
    assert pen.clean["item"].tolist() == ["administrative_penalty", "administrative_penalty"]
    assert pen.clean["severity"].tolist()[0] == "general" and pd.isna(pen.clean["severity"].tolist()[1])
    mil = validate_fact_table("milestones", table([
        {"uscc": u(0), "item": "迁入", "occurred_on": "2023-05-05", "detail": "440115"},
        {"uscc": u(0), "item": "moved_out", "occurred_on": "2023-05-05"},
    ]), AS_OF, KNOWN)
    assert mil.clean["item"].tolist() == ["moved_in"] and reasons(mil)[2].startswith("unknown milestone item")
    dec = validate_fact_table("declarations", table([
        {"uscc": u(0), "item": "financial_system", "declared_on": "2025-01-01", "value": "是"},
        {"uscc": u(0), "item": "postdoc_founder", "declared_on": "2025-01-01", "value": "true"},
    ]), AS_OF, KNOWN, vocabularies={"declarations": {"postdoc_founder": "博士后创办"}})
    # the vocabulary given is the whole vocabulary (a book passes the shipped one plus its own)
    assert dec.clean["item"].tolist() == ["postdoc_founder"] and reasons(dec)[1].startswith("unknown declaration")
    assert dec.clean["value"].tolist() == [True]
    dec2 = validate_fact_table("declarations", table([
        {"uscc": u(0), "item": "postdoc_founder", "declared_on": "2025-01-01", "value": "true"},
    ]), AS_OF, KNOWN)
    assert len(dec2.clean) == 0 and reasons(dec2)[1].startswith("unknown declaration item")


def test_a_data_folder_supplies_only_the_tables_it_holds(tmp_path):
    table([{"uscc": u(0), "year": "2024", "revenue": "5"}]).to_csv(tmp_path / "yearly.csv", index=False)
    facts, rejects = load_fact_tables(tmp_path, AS_OF, KNOWN)
    assert facts.supplied() == ["yearly"] and facts.certificates is None and len(rejects) == 0
    assert FactTables().supplied() == []
    (tmp_path / "penalties.csv").write_text("uscc,occurred_on\n", encoding="utf-8")
    with pytest.raises(InputError, match="penalties.csv.*item"):
        load_fact_tables(tmp_path, AS_OF, KNOWN)
