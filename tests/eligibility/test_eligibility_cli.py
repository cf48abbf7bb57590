"""``quanhuiqi eligibility`` and ``quanhuiqi policy check`` end to end on small files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from quanhuiqi.policy import check_book, load_book
from quanhuiqi.tables import make_uscc, org_check_char, read_table

ROOT = Path(__file__).resolve().parents[2]
CITY_POLICIES = ROOT / "src" / "quanhuiqi" / "synth" / "data" / "policies"


def uscc(n: int) -> str:
    org = f"MA{n:06d}"
    return make_uscc("91370100" + org + org_check_char(org))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quanhuiqi.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture
def enterprises(tmp_path) -> Path:
    rows = [
        {"uscc": uscc(1), "name": "济南甲科技有限公司", "status": "存续", "district_code": "370102", "industry_code": "C3911", "revenue": "3200",
         "certifications": "高新技术企业", "serious_dishonest": "否", "insured_months": "14", "layoff_rate": "0.1", "insured_employees": "25"},
        {"uscc": uscc(2), "name": "济南乙商贸有限公司", "status": "在业", "district_code": "370112", "revenue": "", "serious_dishonest": "false"},
        {"uscc": "NOT-A-USCC", "name": "坏行", "status": "存续"},
        {"uscc": uscc(3), "name": "济南丙制造厂", "status": "吊销", "district_code": "370000", "revenue": "-5"},
    ]  # fmt: skip
    path = tmp_path / "ent.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_cli_eligibility_with_rejects(tmp_path, enterprises):
    out, nm, rej = tmp_path / "pairs.parquet", tmp_path / "nm.csv", tmp_path / "rej.csv"
    r = run("eligibility", "--enterprises", str(enterprises), "--policies", str(CITY_POLICIES), "--as-of", "2025-07-01",
            "--out", str(out), "--near-miss", str(nm), "--rejects", str(rej))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "4 enterprises (1 rejected)" in r.stdout
    pairs = pd.read_parquet(out)
    assert list(pairs.columns[:6]) == ["uscc", "policy_id", "verdict", "unknown", "evidence", "mode"]
    assert set(pairs["verdict"]) <= {"eligible", "undetermined"}
    assert uscc(1) in set(pairs["uscc"])
    assert "NOT-A-USCC" not in set(pairs["uscc"])
    rejects = read_table(rej)
    assert (rejects["row"].astype(int) == 3).any() and "row_rejected" in set(rejects["action"])
    assert (rejects["column"] == "revenue").any()  # negative money cleared, row kept
    assert read_table(nm).columns.tolist()[:4] == ["uscc", "policy_id", "failed", "gap"]
    # the 稳岗返还 example of DESIGN.md: eligible with 25 insured employees
    book = load_book(CITY_POLICIES)
    assert set(pairs["policy_id"]) <= set(book.policies["policy_id"])


def test_cli_refuses_a_bad_book_and_leaves_no_output(tmp_path, enterprises):
    bad = tmp_path / "book"
    bad.mkdir()
    (bad / "p.yaml").write_text(
        yaml.safe_dump({"id": "X", "title": "x", "mode": "auto", "eligibility": {"all": []}}),
        encoding="utf-8",
    )
    out = tmp_path / "pairs.csv"
    r = run(
        "eligibility",
        "--enterprises",
        str(enterprises),
        "--policies",
        str(bad),
        "--as-of",
        "2025-07-01",
        "--out",
        str(out),
    )
    assert r.returncode == 1
    assert "policy X: eligibility.all" in r.stderr and "empty combinator" in r.stderr
    assert not out.exists()


def test_cli_policy_check(tmp_path):
    r = run("policy", "check", str(CITY_POLICIES))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 error(s)" in r.stdout
    bad = tmp_path / "book"
    bad.mkdir()
    (bad / "p.yaml").write_text(
        "id: X\ntitle: x\nmode: sometimes\neligibility: {field: revenue, op: ge, value: 1}\n",
        encoding="utf-8",
    )
    r = run("policy", "check", str(bad))
    assert r.returncode == 1 and "unknown mode 'sometimes'" in r.stdout


def test_city_policies_pass_check_with_two_tests_each():
    rep = check_book(CITY_POLICIES)
    assert rep.ok, rep.text()
    book = load_book(CITY_POLICIES)
    assert (book.policies["n_tests"] >= 2).all(), book.policies.loc[
        book.policies["n_tests"] < 2, "policy_id"
    ].tolist()
    assert rep.n_tests == rep.n_passed == int(book.policies["n_tests"].sum())
