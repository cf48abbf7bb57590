"""The clauses written for the drafter (tests/drafting/data/written_clauses.yaml), scored against their
hand-made gold with the benchmark's own scorer (benchmarks/policy_drafting.py).

The tune half was read for errors while the rules were written; the sealed half never was — its floors
are the scores measured once at the end, a regression guard and not a target."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = ROOT / "tests" / "drafting" / "data" / "written_clauses.yaml"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import policy_drafting
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return policy_drafting


@pytest.fixture(scope="module")
def scored(bench):
    recs = bench.load_written(WRITTEN)
    drafts = [bench.draft_record(r) for r in recs]
    rows = [bench.score_record(r, d, new_language=True) for r, d in zip(recs, drafts, strict=True)]
    return recs, rows


def test_records_are_well_formed(bench):
    recs = bench.load_written(WRITTEN)
    assert len({r["id"] for r in recs}) == len(recs) >= 30
    assert {r["split"] for r in recs} == {"tune", "sealed"}
    for r in recs:
        assert r["clause_text"].strip() and r["gold_conditions"], r["id"]
        assert bench.is_tune(r["id"]) == (r["split"] == "tune"), r["id"]
        for g in bench.flatten_gold(r["gold_conditions"]):
            assert "kind" in g and ("unmapped" in g or {"field", "op", "value"} <= set(g)), (r["id"], g)


def test_every_gold_quote_is_found_in_its_clause(scored):
    _, rows = scored
    assert all(row["unlocated_quotes"] == 0 for row in rows), [r["id"] for r in rows if r["unlocated_quotes"]]


@pytest.mark.parametrize(
    "split, prefix, precision, recall, todo_recall",
    [("tune", "WA-", 0.98, 0.96, 0.84),  # read while writing the rules (measured 0.997 / 0.983 / 0.871)
     # never read for errors: floors just under the scores measured at the end of a round of rules
     ("sealed", "WB-", 0.93, 0.86, 0.78),  # first sealed batch (measured 0.946 / 0.881 / 0.816)
     ("sealed", "WC-", 0.90, 0.95, 0.70)],  # second sealed batch, scored once (measured 0.919 / 1.000 / 0.727)
)
def test_scores(bench, scored, split, prefix, precision, recall, todo_recall):
    recs, rows = scored
    part = bench.aggregate([row for r, row in zip(recs, rows, strict=True)
                            if r["split"] == split and r["id"].startswith(prefix)])
    assert part["mapped_precision"] >= precision, part
    assert part["mapped_recall"] >= recall, part
    assert part["todo_recall"] >= todo_recall, part
