"""``profile_enterprises_file`` and ``quanhuiqi profile``: read → validate → profile → write, nothing lost."""

from __future__ import annotations

import pandas as pd
import pytest

from quanhuiqi.cli import main
from quanhuiqi.profile import profile_enterprises_file
from quanhuiqi.tables import InputError
from quanhuiqi.tables.uscc import make_uscc, org_check_char


def _uscc(i: int) -> str:
    body = f"MA{i:06d}"
    return make_uscc("91370100" + body + org_check_char(body))


@pytest.fixture
def enterprises_csv(tmp_path):
    rows = [
        {"uscc": _uscc(1), "name": "济南一号科技有限公司", "industry_code": "I6513", "status": "存续",
         "established_on": "2020-01-01", "employees": "30", "revenue": "500", "certifications": "高新技术企业"},
        {"uscc": _uscc(2), "name": "济南二号商贸有限公司", "industry_name": "批發業", "status": "吊销，未注销",
         "established_on": "2030-01-01", "employees": "-3", "revenue": "40"},
        {"uscc": _uscc(3), "name": "济南三号", "industry_code": "9999", "status": "待核实"},
        {"uscc": "123", "name": "坏代码"},
        {"uscc": _uscc(1), "name": "重复"},
    ]
    path = tmp_path / "enterprises.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_file_profile_writes_output_and_rejects(enterprises_csv, tmp_path):
    out = tmp_path / "out" / "profile.parquet"
    summary = profile_enterprises_file(enterprises_csv, "2025-07-01", out)
    prof = pd.read_parquet(out)
    rejects = pd.read_parquet(tmp_path / "out" / "profile.rejects.parquet")
    rejected_rows = set(rejects.loc[rejects["action"] == "row_rejected", "row"])
    assert len(prof) + len(rejected_rows) == 5
    assert prof["row"].tolist() == [1, 2, 3]  # input order kept
    assert prof["status"].tolist()[:2] == ["active", "revoked"] and pd.isna(prof["status"].iloc[2])
    assert prof["industry_code"].tolist()[:2] == ["6513", "51"] and pd.isna(prof["industry_code"].iloc[2])
    assert pd.isna(prof["age_years"].iloc[1])  # a date after as_of was cleared, not aged negative
    assert "profiled 3 of 5 rows (2 rejected" in summary and "unrecognised text 1" in summary
    assert "济南" not in summary  # counts only, never record content
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_cli_profile_csv_and_default_rejects(enterprises_csv, tmp_path, capsys):
    out = tmp_path / "p.csv"
    assert main(["profile", "--enterprises", str(enterprises_csv), "--as-of", "2025-07-01", "--out", str(out)]) == 0
    assert "profiled 3 of 5" in capsys.readouterr().out
    assert (tmp_path / "p.rejects.csv").exists()
    assert len(pd.read_csv(out)) == 3


def test_refused_input_leaves_no_output(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"uscc": [_uscc(1)]}).to_csv(bad, index=False)  # no name column
    out = tmp_path / "out.parquet"
    assert main(["profile", "--enterprises", str(bad), "--as-of", "2025-07-01", "--out", str(out)]) == 1
    assert "name" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(InputError):
        profile_enterprises_file(tmp_path / "missing.csv", "2025-07-01", out)
