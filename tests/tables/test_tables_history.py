"""History and state tables: push history, grants, suppressions, posting interactions."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanhuiqi.tables import (
    InputError,
    Validated,
    read_grants,
    read_posting_interactions,
    read_push_history,
    read_suppressions,
    validate_grants,
    validate_history,
    validate_posting_interactions,
    validate_push_history,
    validate_suppressions,
)
from quanhuiqi.tables import history as h
from quanhuiqi.tables.uscc import REASON_CHECK, REASON_LENGTH, make_uscc, org_check_char

AS_OF = "2025-06-30"
AFTER = "date after as_of 2025-06-30"


def code(org8: str) -> str:
    return make_uscc("91370102" + org8 + org_check_char(org8))


U1, U2 = code("MA3C0001"), code("MA3C0002")

READERS = {
    "push_history": (read_push_history, validate_push_history),
    "grants": (read_grants, validate_grants),
    "suppressions": (read_suppressions, validate_suppressions),
    "posting_interactions": (read_posting_interactions, validate_posting_interactions),
}
GOOD = {
    "push_history": {
        "date": "2025-06-01",
        "uscc": U1,
        "policy_id": "P1",
        "rank": "1",
        "score": "0.8",
        "mode": "auto",
        "clicked": "true",
        "applied": "true",
        "approved": "false",
    },
    "grants": {"uscc": U1, "policy_id": "P1", "granted_on": "2025-03-01", "amount": "12.5"},
    "suppressions": {
        "uscc": U1,
        "policy_id": "P1",
        "reason": "企业异议",
        "created_on": "2025-05-01",
        "expires_on": "2025-12-31",
    },
    "posting_interactions": {
        "date": "2025-06-01",
        "demand_id": "D1",
        "supply_id": "S1",
        "rank": "2",
        "contacted": "true",
        "deal": "false",
    },
}
# a second good row that differs in its key
OTHER = {
    "push_history": {"policy_id": "P2"},
    "grants": {"policy_id": "P2"},
    "suppressions": {"policy_id": "P2"},
    "posting_interactions": {"supply_id": "S2"},
}

KEY2 = {
    "push_history": {"policy_id": "P7"},
    "grants": {"policy_id": "P7"},
    "suppressions": {"policy_id": "P7"},
    "posting_interactions": {"supply_id": "S7"},
}


def write_csv(path: Path, records: list[dict]) -> Path:
    cols = list(dict.fromkeys(c for r in records for c in r))
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in records:
            w.writerow({c: ("" if r.get(c) is None else r[c]) for c in cols})
    return path


def check(v: Validated, n: int) -> None:
    v.check_invariant()
    kept = set(v.clean["row"])
    rejected = set(v.rejects.loc[v.rejects["action"] == "row_rejected", "row"])
    assert kept.isdisjoint(rejected) and kept | rejected == set(range(1, n + 1))


def run(tmp_path: Path, kind: str, bad: dict) -> Validated:
    """Good row 1, the bad row 2, good row 3 (each its own key unless ``bad`` says otherwise), via a CSV file."""
    good = GOOD[kind]
    records = [dict(good), {**good, **KEY2[kind], **bad}, {**good, **OTHER[kind]}]
    reader, validate = READERS[kind]
    v = validate(reader(write_csv(tmp_path / f"{kind}.csv", records)), AS_OF)
    check(v, 3)
    return v


CASES = [
    # kind, bad cells, column, reason, action
    ("push_history", {"uscc": None}, "uscc", h.MISSING_REQUIRED, "row_rejected"),
    ("push_history", {"uscc": "123"}, "uscc", REASON_LENGTH, "row_rejected"),
    (
        "push_history",
        {"uscc": U1[:-1] + ("0" if U1[-1] != "0" else "1")},
        "uscc",
        REASON_CHECK,
        "row_rejected",
    ),
    ("push_history", {"policy_id": " "}, "policy_id", h.MISSING_REQUIRED, "row_rejected"),
    ("push_history", {"date": None}, "date", h.MISSING_REQUIRED, "row_rejected"),
    ("push_history", {"date": "June first"}, "date", h.UNPARSEABLE_DATE, "row_rejected"),
    ("push_history", {"date": "2025-07-01"}, "date", AFTER, "row_rejected"),
    ("push_history", {"mode": "sometimes"}, "mode", h.UNKNOWN_MODE, "value_cleared"),
    ("push_history", {"rank": "0"}, "rank", h.NOT_A_RANK, "value_cleared"),
    ("push_history", {"rank": "1.5"}, "rank", h.NOT_A_RANK, "value_cleared"),
    ("push_history", {"score": "high"}, "score", h.NOT_A_NUMBER, "value_cleared"),
    ("push_history", {"clicked": "maybe"}, "clicked", h.NOT_A_BOOL, "value_cleared"),
    ("push_history", {"approved": "2"}, "approved", h.NOT_A_BOOL, "value_cleared"),
    (
        "push_history",
        {"clicked": "false", "applied": "true"},
        "clicked",
        "clicked=false but applied=true",
        "value_cleared",
    ),
    (
        "push_history",
        {"applied": "false", "approved": "true"},
        "applied",
        "applied=false but approved=true",
        "value_cleared",
    ),
    (
        "push_history",
        {"policy_id": "P1", "rank": "3"},
        "date,uscc,policy_id",
        "duplicate key (date, uscc, policy_id): row 1 kept",
        "row_rejected",
    ),
    ("grants", {"uscc": "x"}, "uscc", REASON_LENGTH, "row_rejected"),
    ("grants", {"granted_on": "2025-08-01"}, "granted_on", AFTER, "row_rejected"),
    ("grants", {"granted_on": "soon", "policy_id": "P3"}, "granted_on", h.UNPARSEABLE_DATE, "value_cleared"),
    ("grants", {"amount": "-1"}, "amount", h.NEGATIVE, "value_cleared"),
    ("grants", {"amount": "lots"}, "amount", h.NOT_A_NUMBER, "value_cleared"),
    ("grants", {"paid_on": "2025-07-05"}, "paid_on", h.STAGE_NOT_YET, "value_cleared"),
    ("grants", {"applied_on": "someday"}, "applied_on", h.UNPARSEABLE_DATE, "value_cleared"),
    (
        "grants",
        {"applied_on": "2025-03-09", "approved_on": "2025-03-02"},
        "applied_on",
        "applied_on after approved_on",
        "value_cleared",
    ),
    (
        "grants",
        {"policy_id": "P1", "amount": "3"},
        "uscc,policy_id,granted_on",
        "duplicate key (uscc, policy_id, granted_on): row 1 kept",
        "row_rejected",
    ),
    ("suppressions", {"policy_id": None}, "policy_id", h.MISSING_REQUIRED, "row_rejected"),
    (
        "suppressions",
        {"created_on": "2026-01-01", "expires_on": "2026-12-31"},
        "created_on",
        AFTER,
        "row_rejected",
    ),
    ("suppressions", {"expires_on": "2025-01-01"}, "expires_on", h.EXPIRES_BEFORE_CREATED, "row_rejected"),
    (
        "suppressions",
        {"expires_on": "never", "policy_id": "P3"},
        "expires_on",
        h.UNPARSEABLE_DATE,
        "value_cleared",
    ),
    ("posting_interactions", {"demand_id": None}, "demand_id", h.MISSING_REQUIRED, "row_rejected"),
    ("posting_interactions", {"supply_id": "D1"}, "supply_id", h.SELF_PAIR, "row_rejected"),
    ("posting_interactions", {"date": "2025-13-01"}, "date", h.UNPARSEABLE_DATE, "row_rejected"),
    ("posting_interactions", {"date": "2025-07-02"}, "date", AFTER, "row_rejected"),
    (
        "posting_interactions",
        {"contacted": "否", "deal": "是"},
        "contacted",
        "contacted=false but deal=true",
        "value_cleared",
    ),
    ("posting_interactions", {"deal": "perhaps"}, "deal", h.NOT_A_BOOL, "value_cleared"),
    ("posting_interactions", {"rank": "-2"}, "rank", h.NOT_A_RANK, "value_cleared"),
]


@pytest.mark.parametrize("kind, bad, column, reason, action", CASES)
def test_every_reason(tmp_path, kind, bad, column, reason, action):
    v = run(tmp_path, kind, bad)
    assert len(v.rejects) == 1, v.rejects
    rec = v.rejects.iloc[0]
    assert (rec["source"], rec["row"], rec["column"], rec["reason"], rec["action"]) == (
        kind,
        2,
        column,
        reason,
        action,
    )
    if action == "row_rejected":
        assert v.clean["row"].tolist() == [1, 3]
    else:
        assert v.clean["row"].tolist() == [1, 2, 3]
        assert pd.isna(v.clean.loc[1, column])  # cleared = unknown, never 0 or false
        assert rec["value"] == bad[column]


def test_clean_types(tmp_path):
    v = run(
        tmp_path, "push_history", {"policy_id": "P9", "mode": "免申即享", "clicked": "否", "applied": None}
    )
    c = v.clean
    assert c["date"].dtype == "datetime64[ns]"
    assert c["rank"].dtype == "Int64" and c["score"].dtype == "float64"
    assert c["clicked"].dtype == "boolean"
    assert c.loc[1, "mode"] == "auto"
    assert c.loc[1, "clicked"] == False  # noqa: E712
    assert pd.isna(c.loc[1, "applied"])  # missing stays missing
    assert v.rejects.empty


def test_missing_optional_columns_are_unknown(tmp_path):
    path = write_csv(tmp_path / "push.csv", [{"date": "2025-06-01", "uscc": U1, "policy_id": "P1"}])
    v = validate_push_history(read_push_history(path), AS_OF)
    row = v.clean.iloc[0]
    for c in ["rank", "score", "mode", "clicked", "applied", "approved"]:
        assert pd.isna(row[c]), c


def test_grant_without_date_still_counts(tmp_path):
    v = run(tmp_path, "grants", {"granted_on": None, "policy_id": "P5"})
    assert v.clean["row"].tolist() == [1, 2, 3]
    assert v.rejects.empty


def test_grant_stage_dates_are_kept_in_order_and_cleared_when_impossible(tmp_path):
    """Stages are optional; a stage dated before an earlier one clears the earlier date (as the funnel flags
    do), a stage after as_of had not happened (cleared, the grant kept)."""
    stages = {"eligible_on": "2025-01-10", "applied_on": "2025-02-01", "approved_on": "2025-03-01",
              "paid_on": "2025-03-20"}
    v = run(tmp_path, "grants", {**stages, "eligible_on": "2025-04-01", "paid_on": "2025-09-01"})
    row = v.clean.set_index("row").loc[2]
    assert pd.isna(row["eligible_on"]) and pd.isna(row["paid_on"])
    assert row["applied_on"] == pd.Timestamp("2025-02-01") and row["approved_on"] == pd.Timestamp("2025-03-01")
    assert sorted(v.rejects["reason"]) == sorted(["eligible_on after applied_on", h.STAGE_NOT_YET])
    assert (v.rejects["action"] == "value_cleared").all()
    # a table without the stage columns reads as before, the stages unknown
    assert v.clean.loc[v.clean["row"] == 1, h.GRANT_STAGE_COLUMNS].isna().all(axis=None)


def test_parquet_push_history(tmp_path):
    df = pd.DataFrame(
        {
            "date": pd.to_datetime(["2025-06-01", "2025-06-02", "2025-07-09"]),
            "uscc": [U1, U2, U1],
            "policy_id": ["P1", "P1", "P1"],
            "rank": [1, 2, 1],
            "score": [0.5, 0.4, 0.1],
            "mode": ["auto", "apply", "instant"],
            "clicked": [True, False, True],
            "applied": [True, True, False],
            "approved": pd.array([None, None, None], dtype="boolean"),
        }
    )
    df.to_parquet(tmp_path / "push_history.parquet", index=False)
    v = validate_push_history(read_push_history(tmp_path / "push_history.parquet"), AS_OF)
    check(v, 3)
    assert v.clean["row"].tolist() == [1, 2]
    assert v.rejects["reason"].tolist() == ["clicked=false but applied=true", AFTER]
    assert v.clean["rank"].tolist() == [1, 2]
    assert pd.isna(v.clean.loc[1, "clicked"]) and v.clean.loc[1, "applied"]


@pytest.mark.parametrize("kind", list(READERS))
def test_missing_key_column_names_the_file(tmp_path, kind):
    rec = {k: v for k, v in GOOD[kind].items() if k != h.SPECS[kind].required[-1]}
    path = write_csv(tmp_path / f"my_{kind}.csv", [rec])
    with pytest.raises(InputError, match=rf"my_{kind}\.csv.*{h.SPECS[kind].required[-1]}"):
        READERS[kind][0](path)


def test_unreadable_history_file(tmp_path):
    p = tmp_path / "push_history.parquet"
    p.write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"push_history\.parquet"):
        read_push_history(p)


def test_validate_history_by_name(tmp_path):
    raw = pd.DataFrame([GOOD["grants"]])
    assert len(validate_history("grants", raw, AS_OF).clean) == 1
    with pytest.raises(ValueError, match="unknown history table"):
        validate_history("nope", raw, AS_OF)


CELLS = {
    "date": ["2025-06-01", "2025/6/2", "2025-07-01", "bad", None],
    "uscc": [U1, U2, "bad", None],
    "policy_id": ["P1", "P2", None, " "],
    "rank": ["1", "0", "x", None],
    "score": ["0.1", "x", None],
    "mode": ["auto", "apply", "x", None],
    "clicked": ["true", "false", "x", None],
    "applied": ["true", "false", None],
    "approved": ["true", "false", "?", None],
}


@given(
    st.integers(0, 20).flatmap(
        lambda n: st.fixed_dictionaries(
            {c: st.lists(st.sampled_from(v), min_size=n, max_size=n) for c, v in CELLS.items()}
        )
    )
)
@settings(max_examples=50, deadline=None)
def test_push_history_invariant(data):
    raw = pd.DataFrame(data, dtype="string")
    v = validate_push_history(raw, AS_OF)
    check(v, len(raw))
    assert not v.clean.duplicated(["date", "uscc", "policy_id"]).any()


def test_rejects_summary_folds_row_numbers(tmp_path):
    from quanhuiqi.tables.rejects import rejects_summary

    good = GOOD["push_history"]
    records = [dict(good), dict(good), dict(good), {**good, "policy_id": "P2", "clicked": "x"}]
    v = validate_push_history(read_push_history(write_csv(tmp_path / "p.csv", records)), AS_OF)
    s = rejects_summary(v.rejects)
    assert s[["reason", "action", "records", "rows"]].values.tolist() == [
        ["duplicate key (date, uscc, policy_id): row N kept", "row_rejected", 2, 2],
        [h.NOT_A_BOOL, "value_cleared", 1, 1],
    ]
    assert rejects_summary(v.rejects.iloc[:0]).empty
