"""The main job's answer on data_samples is fixed (what ``make run`` computes): any change that moves a
push, a 免申即享 grant, a near miss, a pair, a reject or a count of the report shows up here.

Golden files in ``data/golden_day/`` (Parquet, and the report's numbers as JSON). After a change that is
*meant* to move them, regenerate with ``QUANHUIQI_UPDATE_GOLDEN=1 pytest tests/push/test_golden_day.py``
and review the diff the test prints before committing them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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


# --- the report as a city official opens it: a real headless browser ---------------------------------------

def test_the_report_reads_in_chinese_in_a_browser(day, tmp_path, headless_chromium):
    """Chinese headings and labels, district names beside codes, policy titles and departments beside ids, the
    last 30 days beside today; no internal names (enterprises_read, eligible, cooldown, daily push) on the page."""

    def chromium(*args: str) -> str:
        return headless_chromium(*args).stdout

    url = day.files["report_html"].resolve().as_uri()
    dom = chromium("--dump-dom", url)
    assert "<h1>泉惠企每日推送报告（2025-07-01）</h1>" in dom and 'lang="zh-CN"' in dom
    for heading in ("概况", "近30天趋势", "读入的数据", "各区县推送条数", "各政策推送条数（前30）", "符合但暂不推送，按原因",
                    "免申即享就绪度", "涉企诉求"):
        assert f"<h2>{heading}</h2>" in dom, heading
    for text in ("读入企业", "历下区（370102）", "济南高新技术产业开发区（370176）", "应急转贷资金费率优惠（JN-CZ-2025-004·市财政局）",
                 "冷却期内已推送", "符合全部条件", "即申即享", "国家法定节假日与调休", "提级办",
                 "企业名录：统一社会信用代码校验位错误", "资质证书：企业不在有效企业名录中（未知或已拒收）",
                 "涉企诉求：未配置分拨模型，新诉求转人工分拨"):
        assert text in dom, text
    visible = re.sub(r"<title>.*?</title>|<[^>]+>", " ", dom)
    for internal in ("enterprises_read", "daily push", "eligible", "undetermined", "cooldown", "held_back", "instant",
                     "Summary", "per_district", "invalid uscc", "no such enterprise",
                     "routing model"):
        assert internal not in visible, internal
    # the trend: four series, a column per day (applications and approvals: none yet today)
    trend = day.report["trend"]
    assert [r["date"] for r in trend][-1] == "2025-07-01" and len(trend) == 31
    assert dom.count('class="trend"') == 4 and dom.count('class="day"') == 31 + 31 + 30 + 30
    assert sum(r["pushes"] for r in trend[:-1]) == 12_345  # the sample history's June pushes
    shot = tmp_path / "report.png"
    chromium("--window-size=1100,1300", f"--screenshot={shot}", url)
    pytest.importorskip("PIL", reason="Pillow reads the screenshot")
    from PIL import Image

    pixels = {c: n for n, c in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)}
    for colour in ((0x2E, 0x86, 0xC1), (0x27, 0xAE, 0x60), (0xE6, 0x7E, 0x22), (0x8E, 0x44, 0xAD)):
        assert pixels.get(colour, 0) > 2000, colour  # each series' columns are painted in the first screen
