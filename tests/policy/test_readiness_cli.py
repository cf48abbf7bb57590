"""``quanhuiqi policy readiness``: the files it writes, bad input refused by name, and its HTML page rendered
in a real headless browser."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from readiness_city import DAY, make_readiness_city  # noqa: E402


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    return make_readiness_city(tmp_path_factory.mktemp("readiness-cli") / "data")


@pytest.fixture(scope="module")
def cli_run(city, tmp_path_factory):
    out = tmp_path_factory.mktemp("readiness-out")
    code = main(["policy", "readiness", "--policies", str(city / "policies"), "--data", str(city), "--as-of", DAY,
                 "--out", str(out / "readiness.parquet"), "--html", str(out / "readiness.html")])
    return code, out


def test_the_command_writes_the_policy_table_the_actions_and_the_page(cli_run, capsys):
    code, out = cli_run
    assert code == 0
    table = pd.read_parquet(out / "readiness.parquet")
    actions = pd.read_parquet(out / "readiness.actions.parquet")  # beside --out by default
    assert set(table["policy_id"]) == {f"JN-T-00{i}" for i in range(1, 7)}
    assert {"title", "department", "decided_share", "source", "system", "source_department", "decided_pairs",
            "eligible_est", "eligible_low", "eligible_high"} <= set(table.columns)
    per_policy = table.drop_duplicates("policy_id").set_index("policy_id")
    assert (per_policy["evaluated"] == 300).all()
    assert (per_policy["eligible"] + per_policy["ineligible"] + per_policy["undetermined"] == 300).all()
    assert table.loc[table["source"] == "tax", "source_department"].iloc[0] == "国家税务总局济南市税务局"
    assert list(actions["rank"]) == list(range(1, len(actions) + 1)) and actions.iloc[0]["action"] == "customs"
    page = (out / "readiness.html").read_text(encoding="utf-8")
    assert "免申即享就绪度" in page and "<script" not in page


def test_csv_by_extension_and_an_explicit_actions_file(city, tmp_path):
    assert main(["policy", "readiness", "--policies", str(city / "policies"), "--data", str(city), "--as-of", DAY,
                 "--out", str(tmp_path / "r.csv"), "--actions", str(tmp_path / "a.csv"), "--donors", "500"]) == 0
    assert pd.read_csv(tmp_path / "r.csv")["policy_id"].nunique() == 6
    assert pd.read_csv(tmp_path / "a.csv")["departments"].str.contains("局").any()


def test_bad_input_is_refused_by_name(city, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["policy", "readiness", "--as-of", DAY, "--out", str(tmp_path / "r.csv")]
    assert main(args + ["--policies", str(city / "policies"), "--data", str(empty)]) == 1
    assert "enterprises.csv" in capsys.readouterr().err
    assert main(args + ["--policies", str(city / "policies"), "--data", str(tmp_path / "nowhere")]) == 1
    assert "data directory not found" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(city / "policies", broken)
    (broken / "book.yaml").write_text("- id: X\n  title: [unclosed\n", encoding="utf-8")
    assert main(args + ["--policies", str(broken), "--data", str(city)]) == 1
    err = capsys.readouterr().err
    assert "book.yaml" in err and "not valid YAML" in err
    bad_sources = tmp_path / "sources.csv"
    bad_sources.write_text("key,source\nfield:export_revenue,nowhere\n", encoding="utf-8")
    assert main(args + ["--policies", str(city / "policies"), "--data", str(city), "--sources", str(bad_sources)]) == 1
    assert "new source 'nowhere' needs its system and department" in capsys.readouterr().err
    assert main(args[:-1] + [str(tmp_path / "r.txt"), "--policies", str(city / "policies"), "--data", str(city)]) == 1
    assert "unsupported output type" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()  # nothing written when the input is refused


# --- the page in a real browser ----------------------------------------------------------------------------

def test_the_page_renders_in_chromium(cli_run, tmp_path, headless_chromium):
    _, out = cli_run
    url = (out / "readiness.html").resolve().as_uri()
    dom = headless_chromium("--dump-dom", url).stdout
    actions = pd.read_parquet(out / "readiness.actions.parquet")
    assert "<h1>免申即享就绪度（数据截至 2025-07-01）</h1>" in dom
    assert 'data-chart="actions"' in dom and dom.count('class="action-row"') == min(15, len(actions))
    assert 'data-chart="decided-share"' in dom and dom.count('class="share-row"') == 2  # the two auto policies
    for text in ("济南海关", "国家税务总局济南市税务局", "市人力资源社会保障局", "稳岗返还（测试）", "出口信保补贴（测试）",
                 "数字化改造投入（来源未登记）", "需企业声明", "须人工核定", "排名方法", "估计方法"):
        assert text in dom, text
    assert "http://" not in dom.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in dom
    shot = tmp_path / "readiness.png"
    headless_chromium("--window-size=1200,1800", f"--screenshot={shot}", url)
    pytest.importorskip("PIL", reason="Pillow reads the screenshot")
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    counts = {c: n for n, c in img.getcolors(maxcolors=1 << 20)}
    assert counts.get((0x1B, 0x7F, 0x3B), 0) > 500  # the 免申即享 bars are painted
    assert counts.get((0x2E, 0x86, 0xC1), 0) > 200  # instant bars and the one-source part of the shares
