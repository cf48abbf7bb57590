"""`quanhuiqi appeals report` with a bad --enterprises or --policies: a clear error naming the file and the
reason, exit 1, and nothing written — no out folder, no state, an earlier week's report untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_inputs")
    lines = (SAMPLES / "appeals.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "appeals.csv").write_text("".join(lines[:41]), encoding="utf-8")  # 40 appeals: the run never gets far
    (d / "no_uscc.csv").write_text("name,industry_code\n某公司,C13\n", encoding="utf-8")
    (d / "binary.csv").write_bytes(b"\x00\x01PK\x03\x04")
    (d / "pol_yaml").mkdir()
    (d / "pol_yaml" / "bad.yaml").write_text("policies:\n  - id: [unclosed\n", encoding="utf-8")
    return d


CASES = {
    "enterprises missing": (["--enterprises", "{d}/absent.csv"], ["absent.csv", "not found"]),
    "enterprises without uscc": (["--enterprises", "{d}/no_uscc.csv"], ["no_uscc.csv", "missing required column",
                                                                       "uscc"]),
    "enterprises binary": (["--enterprises", "{d}/binary.csv"], ["binary.csv", "binary file"]),
    "policies not a folder": (["--policies", "{d}/absent_dir"], ["absent_dir", "not a folder"]),
    "policies bad yaml": (["--policies", "{d}/pol_yaml"], ["bad.yaml", "not valid YAML"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_file_is_named_and_nothing_is_written(case, inputs, tmp_path, capsys):
    from quanhuiqi.cli import main

    extra, expected = CASES[case]
    extra = [a.format(d=inputs) for a in extra]
    out, state = tmp_path / "out", tmp_path / "state"
    rc = main(["appeals", "report", "--appeals", str(inputs / "appeals.csv"), "--week", "2025-03-05",
               "--out", str(out), "--state", str(state), *extra])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("quanhuiqi: ") and "Traceback" not in err
    for word in expected:
        assert word in err, (word, err)
    assert not out.exists() and not state.exists()


def test_bad_input_leaves_last_weeks_report_untouched(inputs, tmp_path, capsys):
    from quanhuiqi.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"week": "last"}', encoding="utf-8")
    rc = main(["appeals", "report", "--appeals", str(inputs / "appeals.csv"), "--week", "2025-03-05",
               "--out", str(out), "--enterprises", str(inputs / "no_uscc.csv")])
    assert rc == 1 and "no_uscc.csv" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["report.json"]
    assert (out / "report.json").read_text(encoding="utf-8") == '{"week": "last"}'
    shutil.rmtree(out)
