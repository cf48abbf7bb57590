"""The daily report's 免申即享 readiness section: summed from the partitions' additive counts, so the same
on one or several partitions, and the same as the library computes on the whole city at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from quanhuiqi.policy.readiness import readiness, report_section
from quanhuiqi.push import run_daily

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))
from readiness_city import DAY, load_city, make_readiness_city  # noqa: E402

OPTIONAL = {"optional": ["postings", "posting_interactions", "push_history", "suppressions"]}


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    return make_readiness_city(tmp_path_factory.mktemp("readiness-day") / "data")


@pytest.fixture(scope="module")
def runs(city, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return {k: run_daily(DAY, city, out / str(k), config={"paths": OPTIONAL, "run": {"partitions": k}})
            for k in (1, 4)}


def test_one_or_several_partitions_give_the_same_readiness(runs):
    one, four = runs[1].report, runs[4].report
    assert one["summary"]["partitions"] == 1 and four["summary"]["partitions"] == 4
    assert one["readiness"] == four["readiness"]
    r = one["readiness"]
    assert r["enterprises"] == 300 and r["active_policies"] == 6
    assert [a["rank"] for a in r["actions"]] == list(range(1, len(r["actions"]) + 1))
    assert [p["policy_id"] for p in r["auto_policies"]] == ["JN-T-001", "JN-T-005"]


def test_the_section_equals_the_library_on_the_whole_city(runs, city):
    book, prof, _, grants = load_city(city)
    whole = report_section(readiness(book, prof, DAY, grants=grants, estimate=False))
    assert runs[1].report["readiness"] == whole


def test_the_report_page_shows_the_section_and_the_job_warns_of_unmapped_facts(runs):
    page = runs[4].files["report_html"].read_text(encoding="utf-8")
    assert "免申即享就绪度" in page and "data-chart='readiness-actions'" in page and "data-chart='readiness-auto'" in page
    assert "稳岗返还（测试）（JN-T-001）" in page and "济南海关" in page
    assert any("digital_investment" in w and "sources.csv" in w for w in runs[1].report["warnings"])


def test_the_section_can_be_turned_off(city, tmp_path):
    r = run_daily(DAY, city, tmp_path, config={"paths": OPTIONAL, "outputs": {"readiness": False}})
    assert "readiness" not in r.report and "免申即享就绪度" not in r.files["report_html"].read_text(encoding="utf-8")
