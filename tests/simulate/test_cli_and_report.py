"""``quanhuiqi policy simulate`` end to end on data_samples (a golden simulation.csv), its refusals, and the report:
the HTML loaded in a real headless Chromium (DOM and screenshot), the JSON beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.cli import main
from quanhuiqi.simulate import SIMULATION_COLUMNS

from .conftest import DAY, SAMPLES

GOLDEN = Path(__file__).parent / "data" / "golden_simulation.csv"
UPDATE = os.environ.get("QUANHUIQI_UPDATE_GOLDEN") == "1"
SWEEP = """\
- policy: JN-CZ-2025-004
  path: eligibility.all[3]          # revenue > 0 万元: what if it were 300, 500, 800?
  values: [300, 500, 800]
- policy: JN-KJ-2025-004
  path: benefit.max_amount
  values: [100, 300]
"""


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sim")
    (tmp / "vary.yaml").write_text(SWEEP, encoding="utf-8")
    out = tmp / "out"
    code = main(["policy", "simulate", "--policies", str(SAMPLES / "policies"), "--data", str(SAMPLES),
                 "--as-of", DAY, "--out", str(out), "--vary", str(tmp / "vary.yaml")])
    return code, out


def test_cli_writes_the_contract_and_its_breakdowns(cli_run):
    code, out = cli_run
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {"simulation.csv", "breakdown.csv", "undetermined.csv", "sweeps.csv", "overlap.csv", "lead_times.csv",
            "lead_times_department.csv", "estimates.csv", "policies.csv", "rejects.csv", "simulation.json",
            "report.html"} <= names
    assert not [n for n in names if n.startswith(".")]  # no staging left behind
    s = pd.read_csv(out / "simulation.csv", dtype={"policy_id": str, "variant": str})
    assert list(s.columns) == SIMULATION_COLUMNS
    assert len(s) == 68 + 5
    sw = pd.read_csv(out / "sweeps.csv")
    assert len(sw) == 2 + 5 and sw["current"].sum() == 2


def test_cli_simulation_matches_its_golden_file(cli_run):
    _, out = cli_run
    got = pd.read_csv(out / "simulation.csv", dtype={"policy_id": str, "variant": str})
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        got.to_csv(GOLDEN, index=False)
    want = pd.read_csv(GOLDEN, dtype={"policy_id": str, "variant": str})
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-6)


def test_json_is_the_reports_content(cli_run):
    _, out = cli_run
    doc = json.loads((out / "simulation.json").read_text(encoding="utf-8"))
    assert set(doc) >= {"meta", "method", "summary", "sweeps", "breakdown", "overlap", "lead_times",
                        "lead_times_department", "undetermined_top", "estimates"}
    assert doc["meta"]["unit"] == "万元" and doc["meta"]["as_of"] == DAY
    first = doc["summary"][0]
    assert {"title", "department", "payout_low", "payout_central", "payout_high"} <= set(first)
    assert "估计" in doc["method"]["central"]
    assert len(doc["sweeps"]) == 7


def test_cli_refuses_bad_input_by_name_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "vary.yaml"
    bad.write_text("- {policy: JN-CZ-2025-004, path: 'eligibility.all[2]', values: [300]}\n", encoding="utf-8")
    out = tmp_path / "out"
    code = main(["policy", "simulate", "--policies", str(SAMPLES / "policies"), "--data", str(SAMPLES), "--as-of", DAY,
                 "--out", str(out), "--vary", str(bad)])
    assert code == 1 and not out.exists()
    err = capsys.readouterr().err
    assert "vary.yaml[0]: policy JN-CZ-2025-004: eligibility.all[2]=300: value 300 for size_class (ordinal)" in err
    assert main(["policy", "simulate", "--policies", str(tmp_path / "none"), "--data", str(SAMPLES), "--as-of", DAY,
                 "--out", str(out)]) == 1
    assert "none: not a folder of policy files" in capsys.readouterr().err
    assert main(["policy", "simulate", "--policies", str(SAMPLES / "policies"), "--data", str(tmp_path / "nodata"),
                 "--as-of", DAY, "--out", str(out)]) == 1
    assert "nodata: data directory not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["policy", "simulate", "--policies", "x", "--data", "y", "--as-of", "2025-13-01", "--out", "z"])
    assert exc.value.code == 2


# --- the HTML report in a real browser --------------------------------------------------------------------

def test_report_renders_in_chromium(cli_run, tmp_path, headless_chromium):
    _, out = cli_run
    url = (out / "report.html").resolve().as_uri()
    dom = headless_chromium("--dump-dom", url).stdout
    assert "<h1>政策仿真与资金测算（数据截至 2025-07-01）</h1>" in dom
    assert dom.count('class="range-row"') >= 30  # one bar per policy shown
    assert 'data-chart="payout-range"' in dom
    assert dom.count('class="chart curve"') == 4  # two sweeps × (enterprises, payout)
    assert dom.count('class="series"') == 6
    for text in ("历下区", "高新区", "市财政局", "应急转贷资金费率优惠", "批发和零售业", "微型", "免申即享", "拨付", "资金中值"):
        assert text in dom, text
    assert "http://" not in dom.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in dom
    shot = tmp_path / "report.png"
    headless_chromium("--window-size=1200,2400", f"--screenshot={shot}", url)
    pytest.importorskip("PIL", reason="Pillow reads the screenshot")
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20)
    counts = {c: n for n, c in colours}
    assert len(colours) > 50  # text, tables and charts, not a blank page
    assert counts.get((0x90, 0xCA, 0xF9), 0) > 500  # the payout-range bars are painted
    assert counts.get((0x15, 0x65, 0xC0), 0) > 20  # the central-estimate marks
