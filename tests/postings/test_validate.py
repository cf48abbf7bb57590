import pandas as pd
import pytest
from postings_helpers import AS_OF, frame, posting

from quanhuiqi.postings import validate_postings
from quanhuiqi.tables.io import InputError


def test_clean_rows_and_rejects_with_reasons(usccs):
    u = usccs
    rows = [
        posting("S1", u[0], "supply", "供应钢材", tags="鋼材", industry_code="C3130", district_code="370102",
                quantity="100", price_min="0.4", price_max="0.5"),
        posting("S2", "91370102MA3C0000XX", "supply", "供应钢材"),  # invalid USCC
        posting("S3", u[1], "offer?", "供应钢材"),  # unknown side
        posting("", u[1], "supply", "供应钢材"),  # missing posting_id
        posting("S1", u[2], "demand", "求购钢材"),  # duplicate id
        posting("D1", u[3], "需求", "求购钢材", industry_code="9999", district_code="379999", quantity="-5",
                price_min="2", price_max="1", posted_on="2025-13-01", expires_on="someday"),
        posting("D2", u[4], "demand", "求购板材", posted_on="2025-08-01", expires_on="2025-07-01"),
        posting("D3", u[5], "demand", ""),  # missing title
    ]
    v = validate_postings(frame(rows), AS_OF)
    v.check_invariant()
    c = v.clean
    assert list(c["posting_id"]) == ["S1", "D1", "D2"]
    assert list(c["row"]) == [1, 6, 7]
    assert c.loc[0, "industry_code"] == "3130" and c.loc[0, "tags"] == "钢材"
    assert c.loc[0, "price_max"] == 0.5 and c.loc[1, "side"] == "demand"
    r = v.rejects
    rejected = r[r["action"] == "row_rejected"].set_index("row")
    assert rejected.loc[2, "column"] == "uscc" and rejected.loc[2, "reason"].startswith("invalid uscc")
    assert rejected.loc[3, "column"] == "side"
    assert rejected.loc[4, "column"] == "posting_id" and "missing" in rejected.loc[4, "reason"]
    assert "duplicate" in rejected.loc[5, "reason"]
    assert rejected.loc[8, "column"] == "title"
    cleared = r[r["action"] == "value_cleared"]
    d1 = cleared[cleared["row"] == 6].set_index("column")
    assert set(d1.index) >= {"industry_code", "district_code", "quantity", "price_min", "price_max", "posted_on",
                             "expires_on"}
    assert d1.loc["quantity", "value"] == "-5"
    assert c.loc[1, ["industry_code", "district_code"]].isna().all()
    assert pd.isna(c.loc[1, "quantity"]) and pd.isna(c.loc[1, "price_min"]) and pd.isna(c.loc[1, "price_max"])
    d2 = cleared[cleared["row"] == 7]
    assert list(d2["column"]) == ["expires_on"] and "before posted_on" in d2["reason"].iloc[0]
    # a posting dated after as_of is kept as written: it is simply not open yet
    assert c.loc[2, "posted_on"] == pd.Timestamp("2025-08-01")
    assert v.rows_in == 8 and v.rows_rejected == 5


def test_missing_required_column_is_refused(usccs):
    raw = frame([posting("S1", usccs[0], "supply", "供应钢材")]).drop(columns="side")
    with pytest.raises(InputError, match="side"):
        validate_postings(raw, AS_OF)


def test_rejects_never_hold_whole_records(usccs):
    raw = frame([posting("S1", "BAD", "supply", "供应钢材", description="机密描述")])
    v = validate_postings(raw, AS_OF)
    assert v.rejects["value"].tolist() == ["BAD"]
