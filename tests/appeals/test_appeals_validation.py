"""Validation of the appeals table: every bad input rejected or cleared by name, nothing lost; copies linked."""

from __future__ import annotations

import pandas as pd
import pytest

from quanhuiqi.appeals import cases, link_duplicates, parse_datetimes, validate_appeals
from quanhuiqi.tables.io import InputError
from quanhuiqi.tables.uscc import make_uscc, org_check_char

USCC = make_uscc("91370102MA3C4D5E" + org_check_char("MA3C4D5E"))


def table(**cols) -> pd.DataFrame:
    n = max(len(v) for v in cols.values())
    base = {"appeal_id": [f"A{i}" for i in range(n)], "received_at": ["2025-06-02 10:00"] * n,
            "title": ["申请贷款被拒"] * n, "body": [f"第{i}件：银行拒绝放款，请协调。" for i in range(n)]}
    base.update(cols)
    return pd.DataFrame(base, dtype="string")


def reasons(v, column):
    r = v.rejects
    return dict(zip(r.loc[r["column"] == column, "row"], r.loc[r["column"] == column, "reason"]))


def test_each_bad_input_is_rejected_or_cleared_by_name():
    raw = table(
        appeal_id=["A0", "A1", None, "A3", "A4", "A5", "A6", "A0"],
        received_at=["2025-06-02 10:00", "not a date", "2025-06-02 10:00", "2025-06-02", "2025/6/2 9:05",
                     "2025-06-02 10:00", "2025-06-03 08:00", "2025-06-02 10:00"],
        channel=["平台", "热线", "平台", "微信群", "12345", "窗口", "走访", "平台"],
        uscc=[USCC, None, None, USCC[:-1] + ("0" if USCC[-1] != "0" else "1"), None, None, None, None],
        resolved_at=[None, None, None, "2025-06-01 10:00", "2025-02-30 10:00", None, None, None],
        title=["申请贷款被拒", "a", "b", "c", "d", None, "f", "g"],
        body=["…", "…", "…", "…", "…", None, "…", "…"],
    )
    v = validate_appeals(raw, as_of="2025-06-02 23:00")
    assert v.rows_in == 8 and len(v.clean) + v.rows_rejected == 8  # nothing lost
    rej = v.rejects.set_index(["row", "column"])
    assert rej.loc[(2, "received_at"), "reason"].startswith("received_at is not a date-time")
    assert rej.loc[(3, "appeal_id"), "reason"] == "missing required value appeal_id"
    assert rej.loc[(6, "title"), "reason"] == "no text: title and body are both empty"
    assert rej.loc[(7, "received_at"), "reason"] == "received after as_of"
    assert rej.loc[(8, "appeal_id"), "reason"].startswith("duplicate appeal_id")
    assert rej.loc[(4, "channel"), "action"] == "value_cleared" and "unknown channel" in rej.loc[(4, "channel"), "reason"]
    assert "check character" in rej.loc[(4, "uscc"), "reason"]
    assert rej.loc[(4, "resolved_at"), "reason"] == "resolved_at (办结) before received_at (受理)"
    assert len(v.rejects) == 9 and set(v.rejects["action"]) == {"row_rejected", "value_cleared"}
    assert rej.loc[(5, "resolved_at"), "reason"].startswith("resolved_at is not a date-time")
    clean = v.clean.set_index("appeal_id")
    assert pd.isna(clean.loc["A3", "channel"]) and pd.isna(clean.loc["A3", "uscc"]) and pd.isna(clean.loc["A3", "resolved_at"])
    assert clean.loc["A4", "received_at"] == pd.Timestamp("2025-06-02 09:05")
    assert clean.loc["A0", "uscc"] == USCC
    assert list(clean.index) == ["A0", "A3", "A4"]  # A1 unreadable date, A5 no text, A6 after as_of


def test_received_after_as_of_is_rejected_and_later_stages_cleared():
    raw = table(appeal_id=["A0", "A1"], received_at=["2025-06-02 10:00", "2025-06-05 10:00"],
                closed_at=["2025-06-04 10:00", None])
    v = validate_appeals(raw, as_of="2025-06-03")
    assert v.rejects.loc[v.rejects["row"] == 2, "reason"].tolist() == ["received after as_of"]
    assert v.rejects.loc[v.rejects["row"] == 1, "reason"].tolist() == ["closed_at after as_of"]
    assert v.clean["closed_at"].isna().all()


def test_required_columns_and_text_column():
    with pytest.raises(InputError, match="received_at"):
        validate_appeals(pd.DataFrame({"appeal_id": ["a"], "title": ["x"]}))
    with pytest.raises(InputError, match="title or body"):
        validate_appeals(pd.DataFrame({"appeal_id": ["a"], "received_at": ["2025-01-01"]}))
    # training data may lack the time
    v = validate_appeals(pd.DataFrame({"appeal_id": ["a"], "title": ["x"]}), require_received=False)
    assert len(v.clean) == 1


@pytest.mark.parametrize("text,expected", [
    ("2025-07-01 09:30", "2025-07-01 09:30"), ("2025/7/1 9:30:15", "2025-07-01 09:30:15"),
    ("2025年7月1日 9时30分", "2025-07-01 09:30"), ("2025-07-01T01:30:00Z", "2025-07-01 09:30"),
    ("2025-07-01T09:30:00+08:00", "2025-07-01 09:30"), ("２０２５-０７-０１", "2025-07-01"),
])
def test_datetime_forms(text, expected):
    t, bad = parse_datetimes(pd.Series([text], dtype="string"))
    assert not bad[0] and t.iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["2025-13-01", "2025-02-30 10:00", "上周三下午", "2025-07-01 25:00"])
def test_unreadable_datetimes(text):
    t, bad = parse_datetimes(pd.Series([text], dtype="string"))
    assert bad[0] and pd.isna(t.iloc[0])


def test_copies_of_one_appeal_become_one_case():
    body = "我公司承建的道路工程已验收三个月，业主单位拖欠工程款500万元，请协调。联系人张伟，电话13812345678。"
    other = make_uscc("91370102MA3C4D5F" + org_check_char("MA3C4D5F"))
    raw = table(
        appeal_id=["A0", "A1", "A2", "A3", "A4", "A5"],
        received_at=["2025-06-02 10:00", "2025-06-04 15:00", "2025-06-30 10:00", "2025-06-02 11:00",
                     "2025-06-03 09:00", "2025-06-03 09:30"],
        uscc=[USCC, USCC, USCC, other, None, None],
        district_code=["370102"] * 6,
        title=["拖欠工程款"] * 6,
        body=[body, "再次反映：" + body.replace("13812345678", "13900001111"), body, body, body, body],
    )
    clean = validate_appeals(raw).clean.set_index("appeal_id")
    assert clean.loc["A1", "duplicate_of"] == "A0"  # edited copy, two days later
    assert pd.isna(clean.loc["A2", "duplicate_of"])  # the same text four weeks later: a new case
    assert pd.isna(clean.loc["A3", "duplicate_of"])  # another enterprise
    assert clean.loc["A5", "duplicate_of"] == "A4"  # no USCC: the same district and the same text
    assert clean.loc["A0", "case_size"] == 2
    c = cases(clean.reset_index())
    assert len(c) == 4 and c.set_index("case_id").loc["A0", "linked_ids"] == "A1"


def test_linked_cases_merge_workflow_times():
    raw = table(appeal_id=["A0", "A1"], received_at=["2025-06-02 10:00", "2025-06-02 12:00"], uscc=[USCC, USCC],
                body=["同一内容的诉求"] * 2, closed_at=[None, "2025-06-05 10:00"])
    c = cases(validate_appeals(raw).clean)
    assert len(c) == 1 and c["closed_at"].iloc[0] == pd.Timestamp("2025-06-05 10:00")


def test_link_duplicates_on_an_empty_table():
    out = link_duplicates(validate_appeals(table(appeal_id=[]), link=False).clean)
    assert len(out) == 0 and {"case_id", "duplicate_of", "case_size"} <= set(out.columns)


def test_synthetic_copies_are_found(synthetic):
    raw, truth = synthetic
    clean = validate_appeals(raw).clean
    t = truth.set_index("appeal_id")
    linked = clean.set_index("appeal_id")["duplicate_of"]
    copies = t["duplicate_of_true"].dropna()
    copies = copies[copies.index.isin(linked.index) & copies.isin(linked.index)]
    found = (linked.reindex(copies.index) == copies).mean()
    false_links = linked.dropna().index.difference(t["duplicate_of_true"].dropna().index)
    assert found >= 0.95, found
    assert len(false_links) <= 0.01 * len(clean)
