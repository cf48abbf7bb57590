"""The main job's answer on data_samples is fixed (what ``make run`` computes): any change that moves a
push, a 免申即享 grant, a near miss, a pair, a reject or a count of the report shows up here.

Golden files in ``data/golden_day/`` (Parquet, and the report's numbers as JSON). After a change that is
*meant* to move them, regenerate with ``QUANHUIQI_UPDATE_GOLDEN=1 pytest tests/push/test_golden_day.py``
and review the diff the test prints before committing them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.push import run_daily

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
GOLDEN = Path(__file__).parent / "data" / "golden_day"
DAY = "2025-07-01"
TABLES = ["push_list", "auto_grant", "near_miss", "rejects",  # postings pairs: tests/postings/test_golden.py
          "appeals_routed", "appeals_at_risk", "appeals_overdue", "appeals_department_stats"]
UPDATE = os.environ.get("QUANHUIQI_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    # appeals routed without a model (appeals.model: null): what a city gets before it trains one
    return run_daily(DAY, SAMPLES, tmp_path_factory.mktemp("out"), config={"appeals": {"model": None}})


def _numbers(report: dict) -> dict:
    """The report without what legitimately changes between runs (timings, paths, versions of tools)."""
    keep = ["summary", "inputs", "eligibility", "push", "auto_grant", "near_miss", "rejects", "policy_book_version",
            "readiness", "appeals"]
    return json.loads(json.dumps({k: report[k] for k in keep if k in report}, ensure_ascii=False, default=str))


def _diff(got: pd.DataFrame, want: pd.DataFrame) -> str:
    if list(got.columns) != list(want.columns):
        return f"columns {list(got.columns)} != golden {list(want.columns)}"
    if len(got) != len(want):
        return f"{len(got)} rows, golden has {len(want)}"
    bad = {c: int((got[c].astype("string").fillna("<NA>") != want[c].astype("string").fillna("<NA>")).sum())
           for c in want.columns}
    bad = {c: n for c, n in bad.items() if n}
    return f"cells differ per column: {bad}" if bad else ""


@pytest.mark.parametrize("name", TABLES)
def test_each_output_table_matches_its_golden_file(day, name):
    got = pd.read_parquet(day.out_dir / f"{name}.parquet")
    path = GOLDEN / f"{name}.parquet"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        got.to_parquet(path, index=False)
    want = pd.read_parquet(path)
    assert len(want) > 0
    assert not (d := _diff(got, want)), f"{name}: {d}"


def test_the_reports_numbers_match_the_golden_ones(day):
    got = _numbers(json.loads((day.out_dir / "report.json").read_text(encoding="utf-8")))
    path = GOLDEN / "report_numbers.json"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    want = json.loads(path.read_text(encoding="utf-8"))
    assert got == want


def test_a_gbk_export_of_the_same_city_gives_the_same_day(day, tmp_path):
    """Every CSV of data_samples re-encoded as GBK (real double-byte bytes; Parquet and the book copied): the
    same tables as the golden day, the same report numbers, and each input's encoding recorded in the report."""
    import shutil

    data = tmp_path / "gbk"
    shutil.copytree(SAMPLES, data)
    for p in sorted(data.glob("*.csv")):
        p.write_bytes(p.read_bytes().decode("utf-8-sig").encode("gbk"))
    assert "济南".encode("gbk") in (data / "enterprises.csv").read_bytes()
    got = run_daily(DAY, data, tmp_path / "out", config={"appeals": {"model": None}})
    for name in TABLES:
        want = pd.read_parquet(day.out_dir / f"{name}.parquet")
        assert not (d := _diff(pd.read_parquet(got.out_dir / f"{name}.parquet"), want)), f"{name}: {d}"
    report = json.loads((got.out_dir / "report.json").read_text(encoding="utf-8"))
    want = json.loads((day.out_dir / "report.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in _numbers(report).items() if k != "inputs"} == {
        k: v for k, v in _numbers(want).items() if k != "inputs"}
    enc = {name: i.get("encoding") for name, i in report["inputs"].items() if i.get("path")}
    assert enc["enterprises"] == enc["appeals"] == enc["certificates"] == "gb18030"
    assert enc["push_history"] == "parquet" and want["inputs"]["enterprises"]["encoding"] == "utf-8"
