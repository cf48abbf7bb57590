"""DESIGN's semantics, case by case: Kleene truth tables, coarse codes, ordinal ratings, closed-world
sets, exists/missing, the validity window, evidence, missing facts, near-miss gaps, 免申即享."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from quanhuiqi.eligibility import evaluate, verdict_matrix
from quanhuiqi.policy import load_book

AS_OF = dt.date(2025, 7, 1)
ROOT = Path(__file__).resolve().parents[2]


def book_of(tmp_path: Path, conds: dict, **extra) -> object:
    docs = [
        {"id": pid, "title": pid, "mode": "auto", "eligibility": c, **extra.get(pid, {})}
        for pid, c in conds.items()
    ]
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(docs, allow_unicode=True), encoding="utf-8")
    return load_book(tmp_path)


def prof(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    df = pd.DataFrame(
        {
            "uscc": pd.array([f"E{i}" for i in range(n)], dtype="string"),
            "name": pd.array([f"企业{i}" for i in range(n)], dtype="string"),
        }
    )
    for k, v in cols.items():
        df[k] = v
    return df


# revenue ≥ 100 is true for 150, false for 50, unknown for NaN
KLEENE = {"T": 150.0, "F": 50.0, "U": np.nan}
CODE = {"T": 2, "U": 1, "F": 0}


def test_kleene_truth_tables(tmp_path):
    a = {"field": "revenue", "op": "ge", "value": 100}
    b = {"field": "employees", "op": "ge", "value": 100}
    combos = list(itertools.product("TUF", repeat=2))
    book = book_of(tmp_path, {"AND": {"all": [a, b]}, "OR": {"any": [a, b]}, "NOT": {"not": a}})
    p = prof(revenue=[KLEENE[x] for x, _ in combos], employees=[KLEENE[y] for _, y in combos])
    m = verdict_matrix(book.compiled, p)
    for i, (x, y) in enumerate(combos):
        assert m[i, 0] == min(CODE[x], CODE[y]), ("all", x, y)
        assert m[i, 1] == max(CODE[x], CODE[y]), ("any", x, y)
        assert m[i, 2] == 2 - CODE[x], ("not", x)


@pytest.mark.parametrize(
    ("known", "prefix", "expected"),
    [
        ("39", "3911", 1),
        ("39", "40", 0),
        ("C", "3911", 1),
        ("3911", "39", 2),
        ("C3911", "C", 2),
        ("A", "3911", 0),
        ("391", "3912", 1),
        ("3912", "3911", 0),
        (None, "39", 1),
    ],
)
def test_industry_under_with_coarse_codes(tmp_path, known, prefix, expected):
    book = book_of(
        tmp_path,
        {
            "P": {"field": "industry_code", "op": "under", "value": [prefix]},
            "Q": {"field": "industry_code", "op": "not_under", "value": [prefix]},
        },
    )
    m = verdict_matrix(book.compiled, prof(industry_code=pd.array([known], dtype="string")))
    assert m[0, 0] == expected and m[0, 1] == 2 - expected


@pytest.mark.parametrize(
    ("known", "prefix", "expected"),
    [
        ("370102", "3701", 2),
        ("370100", "3701", 2),
        ("370100", "370102", 1),
        ("370000", "3701", 1),
        ("110101", "3701", 0),
        ("370102", "370112", 0),
        ("370000", "11", 0),
    ],
)
def test_district_under_with_coarse_codes(tmp_path, known, prefix, expected):
    book = book_of(tmp_path, {"P": {"field": "district_code", "op": "under", "value": [prefix]}})
    assert (
        verdict_matrix(book.compiled, prof(district_code=pd.array([known], dtype="string")))[0, 0] == expected
    )


def test_ordinal_tax_credit_rating(tmp_path):
    book = book_of(
        tmp_path,
        {
            "GE_B": {"field": "tax_credit_rating", "op": "ge", "value": "B"},
            "LT_M": {"field": "tax_credit_rating", "op": "lt", "value": "M"},
        },
    )
    m = verdict_matrix(
        book.compiled, prof(tax_credit_rating=pd.array(["A", "B", "M", "C", "D", None], dtype="string"))
    )
    assert m[:, 0].tolist() == [2, 2, 0, 0, 0, 1]
    assert m[:, 1].tolist() == [0, 0, 0, 2, 2, 1]


def test_sets_are_closed_world_and_exists_is_never_unknown(tmp_path):
    book = book_of(
        tmp_path,
        {
            "HAS": {"field": "certifications", "op": "has", "value": "high_tech"},
            "ALL": {"field": "certifications", "op": "has_all", "value": ["high_tech", "gazelle"]},
            "NONE": {"not": {"field": "certifications", "op": "has_any", "value": ["high_tech", "gazelle"]}},
            "EX": {"field": "revenue", "op": "exists"},
            "MI": {"field": "revenue", "op": "missing"},
        },
    )
    p = prof(
        certifications=pd.array(["", "high_tech", "gazelle;high_tech", None], dtype="string"),
        revenue=[1.0, np.nan, 0.0, np.nan],
    )
    m = verdict_matrix(book.compiled, p)
    assert m[:, 0].tolist() == [0, 2, 2, 0]
    assert m[:, 1].tolist() == [0, 0, 2, 0]
    assert m[:, 2].tolist() == [2, 0, 0, 2]
    assert m[:, 3].tolist() == [2, 0, 2, 0]
    assert m[:, 4].tolist() == [0, 2, 0, 2]


def test_unknown_status_text_is_unknown_not_active(tmp_path):
    book = book_of(tmp_path, {"P": {"field": "status", "op": "eq", "value": "active"}})
    m = verdict_matrix(
        book.compiled, prof(status=pd.array(["active", "revoked", "unknown", None], dtype="string"))
    )
    assert m[:, 0].tolist() == [2, 0, 1, 1]


def test_validity_window_against_as_of(tmp_path):
    cond = {"field": "revenue", "op": "ge", "value": 0}
    book = book_of(
        tmp_path,
        {"OPEN": cond, "PAST": cond, "FUTURE": cond, "EDGE": cond},
        PAST={"valid_from": dt.date(2024, 1, 1), "valid_to": dt.date(2025, 6, 30)},
        FUTURE={"valid_from": dt.date(2025, 7, 2)},
        EDGE={"valid_from": dt.date(2025, 7, 1), "valid_to": dt.date(2025, 7, 1)},
    )
    res = evaluate(book, prof(revenue=[5.0]), AS_OF)
    assert sorted(res.pairs["policy_id"]) == ["EDGE", "OPEN"]
    assert res.counts.set_index("policy_id")["active"].to_dict() == {
        "OPEN": True,
        "PAST": False,
        "FUTURE": False,
        "EDGE": True,
    }


def test_evidence_unknown_near_miss_and_auto_list(tmp_path):
    cond = {
        "all": [
            {"field": "status", "op": "eq", "value": "active"},
            {"field": "revenue", "op": "ge", "value": 2000},
            {
                "any": [
                    {"field": "employees", "op": "le", "value": 30},
                    {"field": "certifications", "op": "has", "value": "high_tech"},
                ]
            },
        ]
    }
    book = book_of(
        tmp_path,
        {"AUTO": cond, "APPLY": cond},
        APPLY={
            "mode": "apply",
            "benefit": {"kind": "subsidy", "max_amount": 50, "rate": 0.01, "base": "revenue"},
        },
    )
    p = prof(
        status=pd.array(["active", "active", "active", "revoked"], dtype="string"),
        revenue=[3200.0, 1880.0, np.nan, 3000.0],
        employees=[20.0, 20.0, np.nan, 10.0],
        certifications=pd.array(["", "", "", ""], dtype="string"),
    )
    res = evaluate(book, p, AS_OF)
    pairs = res.pairs.set_index(["uscc", "policy_id"])
    assert pairs.loc[("E0", "AUTO"), "verdict"] == "eligible"
    ev = pairs.loc[("E0", "AUTO"), "evidence"]
    assert (
        "营业收入≥2000万元（3200万元）" in ev
        and "经营状态=在营（开业）" in ev  # the value would repeat the test: not shown again
        and "从业人数≤30人（20人）" in ev
        and "active" not in ev
    )
    assert pairs.loc[("E0", "APPLY"), "amount"] == pytest.approx(32.0)
    assert pairs.loc[("E2", "AUTO"), "verdict"] == "undetermined"
    assert (
        pairs.loc[("E2", "AUTO"), "unknown"] == "employees;revenue"
    )  # certifications are closed-world: no help
    assert ("E1", "AUTO") not in pairs.index
    nm = res.near_misses.set_index(["uscc", "policy_id"])
    assert nm.loc[("E1", "AUTO"), "gap"] == "营业收入差 120万元"
    assert nm.loc[("E1", "AUTO"), "gap_value"] == pytest.approx(120.0)
    assert nm.loc[("E3", "AUTO"), "field"] == "status"
    assert nm.loc[("E3", "AUTO"), "gap"] == "现为吊销，需经营状态=在营（开业）"
    assert set(zip(res.auto_grants["uscc"], res.auto_grants["policy_id"], strict=True)) == {("E0", "AUTO")}
    assert res.auto_grants["name"].tolist() == ["企业0"]
    one = book.match(p.iloc[0], AS_OF)
    assert sorted(one["policy_id"]) == ["APPLY", "AUTO"] and (one["verdict"] == "eligible").all()
    assert one.set_index("policy_id").loc["APPLY", "amount"] == pytest.approx(32.0)


def test_extra_fields_are_coerced_per_declared_type(tmp_path):
    (tmp_path / "fields.yaml").write_text(
        "fields:\n  - {name: ip_count, type: number, unit: 件}\n  - {name: is_listed, type: bool}\n  - {name: listed_on, type: date}\n",
        encoding="utf-8",
    )
    book = book_of(
        tmp_path,
        {
            "IP": {"field": "ip_count", "op": "ge", "value": 3},
            "LISTED": {"field": "is_listed", "op": "eq", "value": True},
            "EARLY": {"field": "listed_on", "op": "lt", "value": "2020-01-01"},
        },
    )
    p = prof(
        ip_count=pd.array(["5", "2", "many", None], dtype="string"),
        is_listed=pd.array(["是", "false", "maybe", None], dtype="string"),
        listed_on=pd.array(["2019-05-01", "2021-01-01", "not a date", None], dtype="string"),
    )
    m = verdict_matrix(book.compiled, p)
    assert m[:, 0].tolist() == [2, 0, 1, 1]
    assert m[:, 1].tolist() == [2, 0, 1, 1]
    assert m[:, 2].tolist() == [2, 0, 1, 1]


def test_policy_path_never_executes_or_unpickles():
    """Policy files are data: no eval/exec/query/pickle on the policy and eligibility packages."""
    pattern = re.compile(
        r"\b(eval|exec|pickle|compile|__import__)\s*\(|\.query\(|import pickle|yaml\.load\((?![^)]*_SAFE_LOADER)|yaml\.unsafe_load|FullLoader|UnsafeLoader"
    )
    offenders = []
    for pkg in ("policy", "eligibility"):
        for path in (ROOT / "src" / "quanhuiqi" / pkg).rglob("*.py"):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if pattern.search(code):
                    offenders.append(f"{path.name}:{i}: {line.strip()}")
    assert offenders == []


def test_grep_test_would_catch_eval(tmp_path):
    pattern = re.compile(r"\b(eval|exec|pickle|compile|__import__)\s*\(|\.query\(")
    assert (
        pattern.search("x = eval(text)")
        and pattern.search("df.query(cond)")
        and not pattern.search("evaluate(book)")
    )
