"""Staged writing, the swap, recovery, and the report page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from quanhuiqi.push.outputs import DayWriter, recover
from quanhuiqi.push.report import changes_vs_previous, counts, render_html

DAY = "2025-07-01"


def write_day(out, value):
    with DayWriter(out, DAY) as w:
        w.table("push_list", pd.DataFrame({"uscc": ["A", "B"], "policy_id": ["P1", "P2"], "v": [value, value]}))
        w.json("report.json", {"t": 1.5}, record=False)
        return w.publish({"date": DAY})


def test_publish_replaces_the_day_and_leaves_nothing_else(tmp_path):
    final = write_day(tmp_path, 1)
    assert sorted(p.name for p in final.iterdir()) == ["manifest.json", "push_list.csv", "push_list.parquet", "report.json"]
    manifest = json.loads((final / "manifest.json").read_text())
    assert set(manifest["outputs"]) == {"push_list.csv", "push_list.parquet"}
    write_day(tmp_path, 2)
    assert pd.read_parquet(final / "push_list.parquet")["v"].tolist() == [2, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [DAY]


def test_same_content_same_bytes(tmp_path):
    a = write_day(tmp_path / "a", 1)
    b = write_day(tmp_path / "b", 1)
    for name in ("push_list.csv", "push_list.parquet", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_a_failure_inside_the_writer_leaves_no_staging(tmp_path):
    write_day(tmp_path, 1)
    with pytest.raises(RuntimeError), DayWriter(tmp_path, DAY) as w:
        w.table("push_list", pd.DataFrame({"x": [9]}))
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == [DAY]
    assert pd.read_parquet(tmp_path / DAY / "push_list.parquet")["v"].tolist() == [1, 1]


DRIVER = textwrap.dedent(
    """
    import sys, pandas as pd
    from quanhuiqi.push.outputs import DayWriter, recover
    out = sys.argv[1]
    recover(__import__("pathlib").Path(out), "2025-07-01")
    with DayWriter(out, "2025-07-01") as w:
        w.table("push_list", pd.DataFrame({"v": [2]}))
        w.publish({"date": "2025-07-01"})
    """
)


@pytest.mark.parametrize("stage", ["manifest", "swap"])
def test_sigkill_at_the_swap_keeps_or_restores_the_previous_day(tmp_path, stage):
    write_day(tmp_path, 1)
    env = dict(os.environ, QUANHUIQI_TEST_CRASH_AFTER=stage)
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path)], env=env, capture_output=True)
    assert proc.returncode == -9
    # after the kill: either the day is untouched, or recover() restores it
    recover(tmp_path, DAY)
    assert sorted(p.name for p in tmp_path.iterdir()) == [DAY]
    assert pd.read_parquet(tmp_path / DAY / "push_list.parquet")["v"].tolist() == [1, 1]
    # the next run (no crash) publishes normally
    env.pop("QUANHUIQI_TEST_CRASH_AFTER")
    subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path)], env=env, check=True)
    assert pd.read_parquet(tmp_path / DAY / "push_list.parquet")["v"].tolist() == [2]


def test_report_html_is_self_contained_and_escapes():
    report = {
        "date": DAY,
        "warnings": ["model x@y unavailable <b>"],
        "summary": {"pushed": 3},
        "model": {"used": "rules"},
        "inputs": {"enterprises": {"path": "enterprises.csv", "rows": 3, "sha256": "ab" * 32}},
        "push": {
            "per_policy": {"P<1>": 2, "P2": 1},
            "per_district": {"370102": 3},
            "per_verdict": {"eligible": 3},
            "per_mode": {"apply": 3},
            "held_back_by_rule": {"cap": 4},
        },
        "eligibility": {"per_verdict": {"eligible": 7}},
        "auto_grant": {"per_policy": {}},
        "near_miss": {"per_policy": {}},
        "rejects": {"by_reason": {"enterprises: invalid uscc": 1}},
        "changes_vs_previous": {"available": False, "previous_date": "2025-06-30"},
        "timings_s": {"read": 0.1, "partitions": 2.0},
        "outputs": {"push_list": 3},
    }
    page = render_html(report)
    assert page.count("<svg") >= 5
    assert "P&lt;1&gt;" in page and "P<1>" not in page
    assert "&lt;b&gt;" in page
    for external in ("<script", "src=", "href=", "http://cdn", "https://"):
        assert external not in page


def test_counts_and_changes():
    assert counts(pd.Series(["b", "a", "b", None])) == {"b": 2, "(unknown)": 1, "a": 1}
    today = pd.DataFrame({"uscc": ["A", "B"], "policy_id": ["P1", "P1"]})
    prev = pd.DataFrame({"uscc": ["A", "C", "C"], "policy_id": ["P1", "P2", "P1"]})
    ch = changes_vs_previous(today, prev, "2025-06-30")
    assert ch["new_pairs"] == 1 and ch["dropped_pairs"] == 2
    assert ch["per_policy_delta"] == {"P2": -1}
    assert changes_vs_previous(today, None, "2025-06-30")["available"] is False


def test_trend_counts_the_last_30_days_from_history_grants_and_earlier_runs(tmp_path):
    """Days the job ran take its manifest's counts; the others the history (pushes, applications and approvals
    per push date) and the grants of 免申即享 policies; today is last, its outcomes not known yet."""
    import json

    from quanhuiqi.push.report import trend

    hist = pd.DataFrame({"date": ["2025-06-30", "2025-06-30", "2025-06-29", "2025-05-31", "bad", "2025-07-01"],
                         "uscc": "x", "policy_id": "P", "applied": [True, False, True, True, True, True],
                         "approved": [True, False, False, True, True, True]})
    hist.to_parquet(tmp_path / "h.parquet", index=False)
    (tmp_path / "g.csv").write_text("uscc,policy_id,granted_on,applied_on\nx,A,2025-06-29,\nx,A,2025-06-29,2025-06-28\n"
                                    "x,B,2025-06-29,\nx,A,2025-06-01,\nx,A,2025-05-31,\n", encoding="utf-8")
    out = tmp_path / "out"
    (out / "2025-06-28").mkdir(parents=True)
    (out / "2025-06-28" / "manifest.json").write_text(json.dumps({"rows": {"push_list": 9, "auto_grant": 4}}))
    day = pd.Timestamp("2025-07-01")
    rows = trend(day, out, tmp_path / "h.parquet", tmp_path / "g.csv", {"pushes": 5, "auto_grants": 2}, {"A"})
    assert len(rows) == 31 and rows[0]["date"] == "2025-06-01" and rows[-1]["date"] == "2025-07-01"
    by = {r["date"]: r for r in rows}
    assert by["2025-06-30"] == {"date": "2025-06-30", "pushes": 2, "auto_grants": 0, "applications": 1,
                                "approvals": 1, "source": "history"}
    assert by["2025-06-29"]["pushes"] == 1 and by["2025-06-29"]["auto_grants"] == 2  # policy A only (B is not auto)
    assert by["2025-06-28"] == {"date": "2025-06-28", "pushes": 9, "auto_grants": 4, "applications": 0,
                                "approvals": 0, "source": "run"}
    assert by["2025-06-01"]["auto_grants"] == 1 and "2025-05-31" not in by  # 30 days before today, no more
    assert rows[-1] == {"date": "2025-07-01", "pushes": 5, "auto_grants": 2, "applications": None,
                        "approvals": None, "source": "today"}
    page = render_html({**_minimal_report(), "trend": rows})
    assert page.count("class=\"trend\"") == 4 and page.count('class="day"') == 31 * 2 + 30 * 2
    empty = trend(day, tmp_path / "none", None, None, {"pushes": 0, "auto_grants": 0}, set())
    assert sum(r["pushes"] or 0 for r in empty) == 0 and len(empty) == 31


def _minimal_report() -> dict:
    return {"date": DAY, "summary": {"pushed": 1}, "model": {"used": "rules"}, "inputs": {},
            "push": {"per_policy": {}, "per_district": {}, "per_verdict": {}, "per_mode": {}, "held_back_by_rule": {}},
            "eligibility": {"per_verdict": {}}, "auto_grant": {"per_policy": {}}, "near_miss": {"per_policy": {}},
            "rejects": {"by_reason": {}}, "changes_vs_previous": {"available": False, "previous_date": None},
            "timings_s": {}, "outputs": {}}


def test_warnings_and_reject_reasons_are_glossed_in_chinese_on_the_page():
    from quanhuiqi.push.report import reason_zh, warning_zh

    assert warning_zh("fact table penalties is absent: the facts it holds are unknown for everyone") == (
        "缺少事实表 行政处罚：其中的事实对所有企业都按未知处理")
    assert warning_zh("readiness: no known source for field(s) a_b, c_d (add them to sources.csv beside the "
                      "policy book)").startswith("免申即享就绪度：字段 a_b, c_d 没有")
    assert warning_zh("model r@x unavailable (InputError: gone); ranked with the rule scorer instead") == (
        "排序模型 r@x 不可用（InputError: gone），已改用规则打分")
    assert warning_zh("policies: none of the book's 61 policies is in force on 2026-12-06 (valid_from … valid_to): "
                      "nothing to push or grant") == "政策库的 61 项政策在 2026-12-06 均不在有效期内：今日无推送、无免申即享"
    assert warning_zh("appeals: the holiday calendar (chinese-calendar 1.11.0) knows years up to 2026; from "
                      "2027-01-01 the response clock refuses, and a daily job with appeals with it, until the package "
                      "knows 2027 (pip install -U chinese-calendar) or outside_known_years is set to weekdays") == (
        "涉企诉求：节假日日历（chinese-calendar）只收录到 2026 年；自 2027-01-01 起，2110 时限计时将拒绝运行（含本日常任务），"
        "请更新该软件包，或将 outside_known_years 设为 weekdays")
    assert warning_zh("a new kind of warning") == "a new kind of warning"  # unknown: shown as it is
    assert reason_zh("enterprises: duplicate uscc: row N kept") == "企业名录：统一社会信用代码重复（保留一行）"
    assert reason_zh("yearly: date after as_of 2025-07-01") == "年度经营数据：日期晚于数据日期 2025-07-01"
    assert reason_zh("certificates: unknown level (expected national, provincial, city or district)") == (
        "资质证书：未知的 level 取值")
    assert reason_zh("extra[0] x.csv: brand new reason") == "extra[0] x.csv：brand new reason"
    from quanhuiqi.push.report import _calendar_zh

    official = "calendar: China's official holidays and adjusted working days"
    assert _calendar_zh(official) == "国家法定节假日与调休"
    assert _calendar_zh(official + "; 2031 counted Monday-Friday (not known to chinese-calendar)") == (
        "国家法定节假日与调休（2031 年未收录，按周一至周五计）")
    assert _calendar_zh(official + "; 3 deadline(s) fall in 2027, not known to chinese-calendar: provisional "
                        "(deadline_provisional), counted Monday-Friday there") == (
        "国家法定节假日与调休（3 个时限落在未收录的 2027 年，暂按周一至周五计）")
    assert _calendar_zh("calendar: Monday-Friday, no holidays (calendar: weekdays)") == "周一至周五（不计节假日）"
    page = render_html({**_minimal_report(), "warnings": ["optional input grants is absent: counted as empty"]})
    assert "缺少可选输入 政策享受记录：按空表处理" in page


def test_the_merged_auto_grant_list_is_one_order_in_fixed_row_groups_whatever_the_parts(tmp_path, monkeypatch):
    """The 免申即享 parts (each sorted by policy, uscc) merge into the global order in row groups of
    ``MERGE_ROWS`` rows — also across a policy larger than a row group or a key batch — and the file's bytes
    do not depend on how the rows were split into partitions."""
    import numpy as np
    import pyarrow.parquet as pq

    from quanhuiqi.push import sink as sink_mod
    from quanhuiqi.push.partition import partition_of

    monkeypatch.setattr(sink_mod, "MERGE_ROWS", 7)
    monkeypatch.setattr(sink_mod, "KEY_ROWS", 20)
    rng = np.random.default_rng(3)
    uscc = pd.Series([f"91370100MA{i:08d}" for i in range(60)])
    policy = rng.choice(["P01", "P02", "P03", "P04"], size=(60, 4), p=[0.7, 0.1, 0.1, 0.1])
    rows = pd.DataFrame({"policy_id": policy.ravel(), "uscc": np.repeat(uscc.to_numpy(), 4)}).drop_duplicates()
    rows = rows.assign(name="企业" + rows["uscc"].str[-3:], evidence="条件" + rows["policy_id"]).reset_index(drop=True)

    def merged(parts: int) -> tuple[bytes, pq.ParquetFile]:
        out = tmp_path / f"p{parts}"
        with DayWriter(out, DAY) as w, sink_mod.PartitionSink(w, {n: ("parquet", "csv") for n in sink_mod.STREAMED}) as s:
            for _, part in rows.groupby(partition_of(rows["uscc"], parts), sort=True):
                s.streams["auto_grant"].add(part.sort_values(["policy_id", "uscc"]))
            s.close()
            return (w.staging / "auto_grant.parquet").read_bytes(), pq.ParquetFile(w.staging / "auto_grant.parquet")

    one, f = merged(1)
    got = f.read().to_pandas()
    want = rows.sort_values(["policy_id", "uscc"]).reset_index(drop=True)
    assert (got["policy_id"] + got["uscc"]).tolist() == (want["policy_id"] + want["uscc"]).tolist()
    assert (rows["policy_id"] == "P01").sum() > 20  # one policy spans several row groups and key batches
    sizes = [f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)]
    assert sizes == [7] * (len(rows) // 7) + ([len(rows) % 7] if len(rows) % 7 else [])
    assert merged(3)[0] == merged(5)[0] == one
