"""The weekly analysis report: CLI → JSON and HTML with the same content, privacy rules, a real browser."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"

@pytest.fixture(scope="module")
def report_run(planted_city, sample_enterprises, tmp_path_factory, write_clean_appeals):
    from quanhuiqi.cli import main
    from quanhuiqi.tables import write_table

    clean, _ = planted_city
    d = tmp_path_factory.mktemp("report")
    write_clean_appeals(clean, d / "appeals.csv")
    ent = sample_enterprises.head(1200).astype("string")
    bad = ent.iloc[[0]].assign(uscc="91370100NOTAUSCC")  # one refused row: it must reach rejects.csv
    write_table(pd.concat([ent, bad], ignore_index=True), d / "enterprises.csv")
    assert main(["appeals", "report", "--appeals", str(d / "appeals.csv"), "--enterprises", str(d / "enterprises.csv"),
                 "--policies", str(SAMPLES / "policies"), "--week", "2025-06-25", "--out", str(d / "out")]) == 0
    return clean, d / "out"


def test_report_keeps_refused_enterprise_rows_in_rejects(report_run):
    from quanhuiqi.tables import read_table

    _, out = report_run
    rej = read_table(out / "rejects.csv")
    ent = rej[(rej["source"] == "enterprises.csv") & (rej["action"] == "row_rejected")]
    mine = ent[ent["row"].astype(int) == 1201]  # (data_samples carries a few refused rows of its own)
    assert list(mine["column"]) == ["uscc"] and list(mine["value"]) == ["91370100NOTAUSCC"]
    assert "91370100NOTAUSCC" not in (out / "report.json").read_text(encoding="utf-8")


def test_report_json_content_and_privacy(report_run):
    clean, out = report_run
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert rep["week"] == {"start": "2025-06-23", "end": "2025-06-29"}
    wk = clean[(clean["received_at"] >= "2025-06-23") & (clean["received_at"] < "2025-06-30")]
    assert rep["summary"]["appeals_week"] == len(wk)
    assert rep["heat"] and rep["segments"] and rep["departments"]
    for r in rep["heat"] + rep["rising"]:
        assert {"appeals_recent", "enterprises_recent", "growth", "support"} <= set(r)  # kept apart
        if r["enterprises"] < 3:
            assert r["identifying_detail_hidden"] and "｜" not in (r["label"] or "")
    hidden = {r["issue_id"] for r in rep["heat"] + rep["rising"] if r["identifying_detail_hidden"]}
    assert not hidden & {r["issue_id"] for r in rep["affected"]["segments"]}
    assert all(r["enterprises"] >= 3 for r in rep["segments"])
    first = rep["segments_weekly"]["rows"][0]  # counts over time: this week's count is the heat table's
    assert len(first["weekly"]) == 8 and first["weekly"][-1] == rep["segments"][0]["appeals_recent"]
    text = (out / "report.json").read_text(encoding="utf-8") + (out / "report.html").read_text(encoding="utf-8")
    usccs = clean["uscc"].dropna().astype(str)
    assert not any(u in text for u in usccs.head(300))  # no enterprise identifier anywhere
    assert not pd.Series(list(clean["body"].dropna().astype(str).str.slice(0, 30).head(200))).map(
        lambda b: b in text).any()  # no raw appeal text


def test_report_renders_in_chromium(report_run, tmp_path, headless_chromium):
    _, out = report_run
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    url = (out / "report.html").resolve().as_uri()
    dom = headless_chromium("--dump-dom", url).stdout
    assert "<h1>涉企诉求分析周报（2025-06-23 至 2025-06-29）</h1>" in dom
    assert dom.count('class="heat-row"') == len(rep["heat"]) > 0
    assert dom.count('class="series"') == len(rep["rising_series"]["series"])
    assert dom.count('class="segment-row"') == len(rep["segments"])
    assert dom.count('class="segment-week-row"') == len(rep["segments_weekly"]["rows"])
    assert 'data-chart="heat"' in dom and 'data-chart="reply-completeness"' in dom
    for r in rep["heat"][:3]:
        assert str(r["appeals_recent"]) in dom
    assert "<script" not in dom and "http://" not in dom.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_reply_quality_counts_only_replies_given_by_the_weeks_end(planted_city):
    """A report made again for a past week scores the replies known then, not the ones written later."""
    from quanhuiqi.appeals.issues import group_appeals
    from quanhuiqi.appeals.report import build_report, week_bounds

    clean, _ = planted_city
    grouped, state = group_appeals(clean)
    week = "2025-06-25"
    rep = build_report(clean, grouped, state, week)
    assert rep["reply_quality"]["departments"]  # the four weeks before have scored replies
    _, end = week_bounds(week)
    later = clean.copy()
    for col in ("closed_at", "resolved_at"):  # every answer given a day after the week
        later[col] = later[col].where(later[col].isna(), end + pd.Timedelta(days=1))
    rep_later = build_report(later, grouped, state, week)
    assert rep_later["reply_quality"]["departments"] == [] and rep_later["reply_quality"]["issues"] == []
    assert rep_later["summary"] == rep["summary"]  # nothing else depends on when the answers came
