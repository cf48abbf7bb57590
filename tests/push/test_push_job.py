"""The daily job end to end on a small hand-made city: outputs, rules, identity, re-runs, crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.push import run_daily
from quanhuiqi.push.rules import PUSH_LIST_COLUMNS
from quanhuiqi.tables.io import InputError

sys.path.insert(0, str(Path(__file__).parent))
from push_city import DAY, make_city  # noqa: E402

CONFIG = {"paths": {"optional": ["postings", "posting_interactions"]}}
DATA_FILES = ["push_list", "auto_grant", "near_miss", "postings_pairs", "held_back", "rejects"]
CSV_FILES = ["push_list", "auto_grant", "postings_pairs", "rejects"]  # outputs.csv_tables by default


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    return make_city(tmp_path_factory.mktemp("city") / "data", n=400)


@pytest.fixture(scope="module")
def first(city, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return run_daily(DAY, city, out, config=CONFIG)


def snapshot(day_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(day_dir.iterdir()) if not p.name.startswith("report.")}


def test_outputs_and_summary(first):
    d = first.out_dir
    for name in DATA_FILES:
        assert (d / f"{name}.parquet").exists()
        assert (d / f"{name}.csv").exists() == (name in CSV_FILES)
    for name in ("report.json", "report.html", "manifest.json"):
        assert (d / name).exists()
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".")]
    text = first.summary()
    assert str(first.files["push_list"]) in text and str(first.files["report_html"]) in text
    push = pd.read_parquet(first.files["push_list"])
    assert list(push.columns) == PUSH_LIST_COLUMNS
    assert (push["date"] == DAY).all() and len(push) > 100


def test_push_rules_hold_on_the_real_run(first, city):
    push = pd.read_parquet(first.files["push_list"])
    held = pd.read_parquet(first.out_dir / "held_back.parquet")
    new_policy = "JN-SW-2025-004"  # valid_from 2025-06-28: announced beyond the cap
    per = push[push["policy_id"] != new_policy].groupby("uscc").size()
    assert per.max() <= 3
    assert (push.groupby("uscc")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1)))).all()
    assert push.duplicated(["uscc", "policy_id"]).sum() == 0
    pairs = set(zip(push["uscc"], push["policy_id"]))
    grants = pd.read_csv(city / "grants.csv")
    granted = set(zip(grants["uscc"], grants["policy_id"]))
    assert not pairs & granted
    sup = pd.read_csv(city / "suppressions.csv", dtype=str)
    live = sup[(sup["expires_on"].isna() | (sup["expires_on"] >= DAY)) & sup["policy_id"].notna()]
    assert not pairs & set(zip(live["uscc"], live["policy_id"]))
    hist = pd.read_parquet(city / "push_history.parquet").dropna(subset=["uscc"])
    recent = hist[pd.to_datetime(hist["date"]) > pd.Timestamp(DAY) - pd.Timedelta(days=30)]
    repeated = pairs & set(zip(recent["uscc"], recent["policy_id"]))
    assert not repeated  # the history has no verdicts, so nothing counts as changed
    assert set(held["rule"]) <= {"inactive", "granted", "suppressed", "auto_grant", "undetermined", "cooldown",
                                 "shortlist", "cap"}
    assert {"cooldown", "granted", "auto_grant"} <= set(held["rule"])
    report = json.loads((first.out_dir / "report.json").read_text())
    assert report["summary"]["candidates"] == len(push) + len(held)  # every eligible pair accounted for
    auto = pd.read_parquet(first.files["auto_grant"])
    assert list(auto.columns) == ["policy_id", "uscc", "name", "evidence"]
    assert (auto["policy_id"] == "JN-RS-2025-001").all() and auto["evidence"].str.len().min() > 0
    assert not set(zip(auto["uscc"], auto["policy_id"])) & granted


def test_bad_rows_go_to_rejects_and_the_run_goes_on(first):
    rej = pd.read_parquet(first.out_dir / "rejects.parquet")
    by = rej.set_index(["source", "row", "column"])
    assert by.loc[("enterprises", 4, "uscc"), "action"] == "row_rejected"
    assert by.loc[("enterprises", 6, "uscc"), "action"] == "row_rejected"
    assert by.loc[("enterprises", 8, "layoff_rate"), "action"] == "value_cleared"
    assert by.loc[("push_history", 1, "uscc"), "action"] == "row_rejected"
    assert by.loc[("suppressions", 1, "created_on"), "action"] == "value_cleared"
    assert by.loc[("suppressions", 2, "policy_id"), "action"] == "row_rejected"  # a suppression names its policy
    report = json.loads((first.out_dir / "report.json").read_text())
    assert report["inputs"]["enterprises"]["rows"] == 400
    assert report["inputs"]["enterprises"]["clean"] == 398
    assert report["inputs"]["push_history"]["rows_rejected"] >= 1  # the blank uscc (and random duplicate keys)


def test_report_records_read_rejected_computed_written(first):
    report = json.loads((first.out_dir / "report.json").read_text())
    for key in ("inputs", "rejects", "summary", "outputs", "timings_s", "push", "changes_vs_previous", "model"):
        assert key in report
    assert set(report["push"]) >= {"per_policy", "per_district", "per_verdict", "per_mode", "held_back_by_rule"}
    assert {"read", "validate", "partitions", "partitions.eligibility", "partitions.rank"} <= set(report["timings_s"])
    assert report["model"]["used"] == "rules"
    page = (first.out_dir / "report.html").read_text()
    assert page.count("<svg") >= 8 and "<script" not in page and "src=" not in page
    assert "济南测试企业" not in page  # counts only, never a record
    manifest = json.loads((first.out_dir / "manifest.json").read_text())
    assert set(manifest["outputs"]) == {f"{n}.parquet" for n in DATA_FILES} | {f"{n}.csv" for n in CSV_FILES}
    assert manifest["inputs"]["enterprises"]["sha256"] and manifest["policy_book_version"]


def test_same_inputs_byte_identical(first, city, tmp_path):
    again = run_daily(DAY, city, tmp_path, config=CONFIG)
    assert snapshot(again.out_dir) == snapshot(first.out_dir)


def test_rerun_replaces_the_day_and_next_day_sees_it_once(city, tmp_path):
    out = tmp_path / "out"
    r1 = run_daily(DAY, city, out, config=CONFIG)
    before = snapshot(r1.out_dir)
    r1b = run_daily(DAY, city, out, config=CONFIG)  # the date's own outputs are not history for itself
    assert snapshot(r1b.out_dir) == before
    assert sorted(p.name for p in out.iterdir()) == [DAY]

    # the next day: the pairs pushed yesterday are in their cool-down …
    nxt = "2025-07-02"
    r2 = run_daily(nxt, city, out, config=CONFIG)
    push1 = pd.read_parquet(r1.files["push_list"])
    push2 = pd.read_parquet(r2.files["push_list"])
    assert not set(zip(push1["uscc"], push1["policy_id"])) & set(zip(push2["uscc"], push2["policy_id"]))
    assert r2.report["changes_vs_previous"]["available"] is True
    # … and when the platform has also appended yesterday's pushes to its history, nothing counts twice
    data2 = tmp_path / "data2"
    data2.mkdir()
    for p in city.iterdir():
        (data2 / p.name).symlink_to(p)
    (data2 / "push_history.parquet").unlink()
    hist = pd.read_parquet(city / "push_history.parquet")
    appended = push1[["date", "uscc", "policy_id", "rank", "score", "mode"]].assign(
        date=pd.to_datetime(push1["date"]).dt.date, clicked=False, applied=False, approved=False
    )
    pd.concat([hist, appended], ignore_index=True).to_parquet(data2 / "push_history.parquet", index=False)
    out2 = tmp_path / "out2"
    (out2 / DAY).mkdir(parents=True)
    for p in r1.out_dir.iterdir():
        (out2 / DAY / p.name).write_bytes(p.read_bytes())
    r2b = run_daily(nxt, data2, out2, config=CONFIG)
    pd.testing.assert_frame_equal(pd.read_parquet(r2b.files["push_list"]), push2)


def test_missing_table_is_a_clear_error(city, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for p in city.iterdir():
        if p.name != "grants.csv":
            (data / p.name).symlink_to(p)
    with pytest.raises(InputError, match=r"grants\.csv: input table 'grants' not found"):
        run_daily(DAY, data, tmp_path / "out", config=CONFIG)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    from quanhuiqi.cli import main

    assert main(["push", "--date", DAY, "--data", str(data), "--out", str(tmp_path / "out")]) == 1


def test_model_falls_back_loudly_to_the_rule_scorer(first, city, tmp_path, caplog):
    r = run_daily(DAY, city, tmp_path, model="no-such-ranker@champion", config=CONFIG)
    assert r.report["model"]["fallback"] is True and r.report["model"]["used"] == "rules"
    assert any("no-such-ranker@champion" in w for w in r.report["warnings"])
    assert "WARNING" in r.summary()
    assert any("model_fallback" in rec.getMessage() for rec in caplog.records)
    assert pd.read_parquet(r.files["push_list"]).equals(pd.read_parquet(first.files["push_list"]))
    with pytest.raises(InputError, match="cannot be loaded"):
        run_daily(DAY, city, tmp_path / "strict", model="no-such-ranker@champion",
                  config={**CONFIG, "model": {"fallback_to_rules": False}})


def test_structured_log_lines_without_records(city, tmp_path, caplog):
    caplog.set_level("INFO", logger="quanhuiqi.push")
    run_daily(DAY, city, tmp_path, config=CONFIG)
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "quanhuiqi.push"]
    assert any(line.startswith("event=stage_done") and "stage=partitions" in line for line in lines)
    assert all("济南测试企业" not in line and "91370102" not in line for line in lines)


def _cli(args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "quanhuiqi.cli", "push", *args], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("stage", ["partition", "write:push_list", "swap"])
def test_sigkill_mid_run_leaves_the_previous_day_intact(first, city, tmp_path, stage):
    out = tmp_path / "out"
    (out / DAY).mkdir(parents=True)
    for p in first.out_dir.iterdir():
        (out / DAY / p.name).write_bytes(p.read_bytes())
    before = {p.name: p.read_bytes() for p in (out / DAY).iterdir()}
    cfg = tmp_path / "k1.yaml"  # a different K: a finished run would change the outputs
    cfg.write_text("push:\n  max_per_enterprise: 1\npaths:\n  optional: [postings, posting_interactions]\n", encoding="utf-8")
    args = ["--date", DAY, "--data", str(city), "--out", str(out), "--config", str(cfg)]
    proc = _cli(args, {"QUANHUIQI_TEST_CRASH_AFTER": stage})
    assert proc.returncode == -9, proc.stderr[-2000:]
    leftovers = [p.name for p in out.iterdir() if p.name != DAY]
    assert all(n.startswith((".staging-", ".previous-")) for n in leftovers)
    if (out / DAY).exists():  # killed before the swap: the day is untouched
        assert {p.name: p.read_bytes() for p in (out / DAY).iterdir()} == before
    else:  # killed inside the swap: the previous day waits in .previous-<date>
        assert stage == "swap"
    run_daily(DAY, city, out, config=cfg)  # the next run recovers, then publishes
    assert sorted(p.name for p in out.iterdir()) == [DAY]
    push = pd.read_parquet(out / DAY / "push_list.parquet")
    assert push[push["policy_id"] != "JN-SW-2025-004"].groupby("uscc").size().max() == 1


def test_sample_city_run_reads_posting_interactions(tmp_path):
    """The matcher's history features get the day's posting interactions (validated, counted in the manifest)."""
    import json
    from pathlib import Path

    from quanhuiqi.push import run_daily

    samples = Path(__file__).resolve().parents[2] / "data_samples"
    result = run_daily("2025-07-01", samples, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "2025-07-01" / "manifest.json").read_text(encoding="utf-8"))
    seen = manifest["inputs"]["posting_interactions"]
    assert seen["clean"] > 0 and seen["rows"] == seen["clean"] + seen["rows_rejected"]
    assert "push_list" in result.summary()


def test_the_sample_data_on_a_day_after_its_book_ends(tmp_path):
    """The sample folder run in December of the last year the holiday calendar knows (as it was on the day
    this was found, 2026-12-06): every policy has ended and the appeals clock's room reaches the next year.
    The day runs: nothing pushed or granted, a warning says why, the readiness tables are empty but whole,
    and the clock counts on the official calendar (both failed before)."""
    from quanhuiqi.appeals.clock import _holiday_years

    samples = Path(__file__).resolve().parents[2] / "data_samples"
    day = f"{_holiday_years()[1]}-12-06"
    r = run_daily(day, samples, tmp_path / "out")
    assert r.report["summary"]["pushed"] == 0 and len(pd.read_parquet(r.files["auto_grant"])) == 0
    assert [w for w in r.report["warnings"] if "policies: none of the book's" in w and day in w]
    assert r.report["readiness"]["active_policies"] == 0 and r.report["readiness"]["actions"] == []
    assert r.report["appeals"]["calendar"] == "calendar: China's official holidays and adjusted working days"
    assert [w for w in r.report["warnings"] if "holiday calendar" in w and f"from {int(day[:4]) + 1}-01-01" in w]
    overdue = pd.read_parquet(r.out_dir / "appeals_overdue.parquet")
    assert len(overdue) > 0 and not overdue["deadline_provisional"].any()  # the sample's cases are of 2025
    assert "push list" in r.summary()


def test_streamed_tables_one_row_group_per_partition_sorted_within(city, tmp_path):
    import pyarrow.parquet as pq

    from quanhuiqi.push.partition import partition_of

    r = run_daily(DAY, city, tmp_path, config={**CONFIG, "run": {"partitions": 3}, "rank": {"shortlist": 2}})
    held = pq.ParquetFile(r.out_dir / "held_back.parquet")
    assert held.metadata.num_row_groups == 3
    seen = []
    for g in range(held.metadata.num_row_groups):
        part = held.read_row_group(g).to_pandas()
        assert part["uscc"].is_monotonic_increasing
        assert (part.groupby("uscc")["policy_id"].apply(lambda s: s.is_monotonic_increasing)).all()
        parts = set(partition_of(part["uscc"], 3).tolist())
        assert len(parts) == 1 and not parts & set(seen)
        seen += list(parts)
    assert seen == sorted(seen)
    table = pd.read_parquet(r.out_dir / "held_back.parquet")
    assert all(str(table[c].dtype).startswith("str") for c in ("uscc", "policy_id", "rule", "detail"))
    assert "shortlist" in set(table["rule"]) and table.loc[table["rule"] == "shortlist", "score"].isna().all()
    # the 免申即享 CSV (Arrow's writer) holds exactly the Parquet rows
    pq_rows = pd.read_parquet(r.files["auto_grant"])
    csv_rows = pd.read_csv(r.out_dir / "auto_grant.csv", dtype=str, keep_default_na=False)
    assert len(csv_rows) == len(pq_rows) > 0
    assert (csv_rows["uscc"].to_numpy() == pq_rows["uscc"].to_numpy()).all()
    assert (csv_rows["evidence"].to_numpy() == pq_rows["evidence"].fillna("").to_numpy()).all()
    report = r.report
    assert report["summary"]["candidates"] == report["summary"]["pushed"] + report["summary"]["held_back"]


def test_no_clean_enterprise_gives_well_formed_empty_outputs(tmp_path):
    city = make_city(tmp_path / "data", n=30)
    e = pd.read_csv(city / "enterprises.csv", dtype=str)
    e.assign(uscc="BAD").to_csv(city / "enterprises.csv", index=False)
    r = run_daily(DAY, city, tmp_path / "out", config=CONFIG)
    assert r.report["summary"]["enterprises_clean"] == 0 and r.report["summary"]["pushed"] == 0
    for name in DATA_FILES:
        frame = pd.read_parquet(r.out_dir / f"{name}.parquet")
        assert len(frame) == 0 or name == "rejects"
    assert list(pd.read_parquet(r.files["push_list"]).columns) == PUSH_LIST_COLUMNS
    assert len(pd.read_parquet(r.out_dir / "rejects.parquet")) >= 30  # every row accounted for


def test_a_registered_ranker_with_firm_effects_ranks_the_sample_day(mlflow_uri, tmp_path):
    """Train on data_samples' history, register, run the day with the model: the firm effects it was tuned
    with are loaded and used (scores equal the loaded scorer's on the day's history), and the run repeats
    byte for byte."""
    from quanhuiqi.rank import load_ranker
    from quanhuiqi.rank.train import train_ranker_cli

    samples = Path(__file__).resolve().parents[2] / "data_samples"
    train_ranker_cli(samples, register="policy-ranker", alias="champion", threads=1)
    scorer = load_ranker("policy-ranker@champion")
    assert scorer.firm_effect_weight > 0 and scorer.builder.firm_effect_tau is not None
    a = run_daily("2025-07-01", samples, tmp_path / "a", model="policy-ranker@champion")
    assert a.report["model"]["used"] == "policy-ranker@champion" and a.report["model"]["fallback"] is False
    push = pd.read_parquet(a.files["push_list"])
    assert len(push) > 1000 and push["reason"].str.len().gt(4).all()
    rules = run_daily("2025-07-01", samples, tmp_path / "rules")
    assert not push.equals(pd.read_parquet(rules.files["push_list"]))
    b = run_daily("2025-07-01", samples, tmp_path / "b", model="policy-ranker@champion")
    assert snapshot(a.out_dir) == snapshot(b.out_dir)
