"""Extra enterprise sources (``paths.extra``): facts joined by uscc give the same run as the same facts
in the enterprise table, and every bad row of a source lands in rejects with its reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from quanhuiqi.push import run_daily
from quanhuiqi.tables.io import InputError
from quanhuiqi.tables.uscc import make_uscc, org_check_char

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = "2025-07-01"
MOVED = ["ip_count", "innovation_score"]  # facts the sample book's fields.yaml declares and policies test
OUTPUTS = ["push_list", "auto_grant", "near_miss", "held_back"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("extra")
    city = base / "data"
    shutil.copytree(SAMPLES, city, ignore=shutil.ignore_patterns("truth"))
    ent = pd.read_csv(city / "enterprises.csv", dtype=str, keep_default_na=False).head(800)
    ent.to_csv(city / "enterprises.csv", index=False)
    with_facts = run_daily(DAY, city, base / "out_a")
    facts = ent[["uscc", *MOVED]]
    unknown = make_uscc("91370100MA3C0000" + org_check_char("MA3C0000"))  # valid, but no such enterprise
    extra_rows = pd.DataFrame({"uscc": [facts["uscc"].iloc[5], unknown, "bad", ""],
                               "ip_count": ["99", "1", "2", "3"], "innovation_score": ["1", "2", "3", "4"]})
    (city / "extra").mkdir()
    pd.concat([facts, extra_rows], ignore_index=True).to_csv(city / "extra" / "facts.csv", index=False)
    ent.drop(columns=MOVED).to_csv(city / "enterprises.csv", index=False)
    from_extra = run_daily(DAY, city, base / "out_b", config={"paths": {"extra": ["extra/facts.csv"]}})
    return with_facts, from_extra, len(facts), unknown, city


def test_facts_from_an_extra_source_give_the_same_run(runs) -> None:
    a, b, *_ = runs
    for name in OUTPUTS:
        assert (a.out_dir / f"{name}.parquet").read_bytes() == (b.out_dir / f"{name}.parquet").read_bytes(), name
    assert len(pd.read_parquet(a.out_dir / "push_list.parquet")) > 0


def test_every_bad_row_of_the_source_is_rejected_with_its_reason(runs) -> None:
    a, b, n_facts, unknown, _ = runs
    before = pd.read_parquet(a.out_dir / "rejects.parquet")
    after = pd.read_parquet(b.out_dir / "rejects.parquet")
    extra = after[after["source"] == "extra[0] extra/facts.csv"].reset_index(drop=True)
    assert len(after) == len(before) + len(extra)
    by_row = extra.set_index("row")["reason"]
    # the rows the enterprise table itself rejected for their uscc are rejected here too, with the reason
    bad_in_table = before.loc[(before["source"] == "enterprises") & (before["column"] == "uscc"), "row"]
    assert len(bad_in_table) and set(bad_in_table) <= set(by_row.index[by_row.index <= n_facts])
    assert by_row[n_facts + 1].startswith("duplicate uscc")  # the repeated enterprise: first row wins
    assert by_row[n_facts + 2].startswith("no such enterprise")
    assert extra.loc[extra["row"] == n_facts + 2, "value"].item() == unknown
    assert by_row[n_facts + 3].startswith("invalid uscc")
    assert by_row[n_facts + 4] == "uscc missing"
    assert (extra["action"] == "row_rejected").all()
    # nothing lost: every row of the source is merged or rejected
    merged = n_facts - len(by_row[by_row.index <= n_facts])
    assert merged + len(extra) == n_facts + 4


@pytest.mark.parametrize("content,message", [
    ("code,ip_count\n1,2\n", "missing required column uscc"),
    ("uscc,name\n913701761244222133,x\n", "already exist in the enterprise table"),
])
def test_a_malformed_source_is_refused_naming_it(runs, tmp_path, content, message) -> None:
    *_, city = runs
    (city / "extra" / "bad.csv").write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        run_daily(DAY, city, tmp_path / "out", config={"paths": {"extra": ["extra/bad.csv"]}})
    assert "extra/bad.csv" in str(err.value)


def test_a_missing_source_is_a_clear_error(runs, tmp_path) -> None:
    *_, city = runs
    with pytest.raises(InputError, match="extra enterprise source not found"):
        run_daily(DAY, city, tmp_path / "out", config={"paths": {"extra": ["extra/none.csv"]}})
