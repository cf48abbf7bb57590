"""The verdicts on the sample city's messy data against true eligibility: never a wrong proof of
eligibility (a 免申即享 grant must be right), and the few truly eligible pairs ruled out are the known
consequence of DESIGN's closed-world ``chains`` for coarse industry codes (docs/eligibility_truth.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from quanhuiqi.synth.verdict_accuracy import verdict_accuracy

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def _policies_testing_chains() -> set[str]:
    found = set()
    for path in (SAMPLES / "policies").glob("*.yaml"):
        if path.name == "fields.yaml":
            continue
        docs = yaml.safe_load(path.read_text(encoding="utf-8"))
        for doc in docs if isinstance(docs, list) else [docs]:
            if "'chains'" in repr(doc.get("eligibility")) or '"chains"' in repr(doc.get("eligibility")):
                found.add(doc["id"])
    return found


def test_no_pair_is_wrongly_proven_eligible_and_few_are_wrongly_ruled_out():
    counts, errors = verdict_accuracy(SAMPLES, "2025-07-01")
    assert counts["eligible"] > 15_000 and counts["truly_eligible_pairs"] > 30_000
    assert counts["wrongly_eligible"] == 0 and counts["eligible_precision"] == 1.0
    assert counts["truly_eligible_not_ruled_out"] > 0.999
    wrong_no = errors[errors["error"] == "wrongly_ineligible"]
    assert len(wrong_no) == counts["wrongly_ineligible"] <= 10
    # each one is a policy that tests chains, for an enterprise whose industry code is coarse or missing
    assert set(wrong_no["policy_id"]) <= _policies_testing_chains()
    ent = pd.read_csv(SAMPLES / "enterprises.csv", dtype=str, keep_default_na=False).set_index("uscc")
    codes = ent.loc[wrong_no["uscc"], "industry_code"].str.strip().str.lstrip("ABCDEFGHIJKLMNOPQRST")
    assert (codes.str.len() < 4).all()


def test_a_city_without_true_eligibility_is_refused(tmp_path):
    import shutil

    import pytest

    shutil.copytree(SAMPLES / "policies", tmp_path / "policies")
    shutil.copy(SAMPLES / "enterprises.csv", tmp_path / "enterprises.csv")
    (tmp_path / "truth").mkdir()
    pd.DataFrame({"uscc": pd.Series(dtype="string"), "policy_id": pd.Series(dtype="string")}).to_parquet(
        tmp_path / "truth" / "eligible_true.parquet")
    with pytest.raises(ValueError, match="no true eligibility recorded"):
        verdict_accuracy(tmp_path, "2025-07-01")


def test_the_real_book_with_the_fact_tables_proves_nothing_wrong():
    """The real book (records, yearly figures, declarations, city lists) on the exported fact tables — unreadable
    levels, missing validity, missing years and amounts, rows refused — against the same book on the complete
    true tables: no wrong proof and no wrong exclusion, and records decide many pairs."""
    counts, errors = verdict_accuracy(SAMPLES, "2025-07-01", SAMPLES / "policies_real")
    assert counts["wrongly_eligible"] == 0 and counts["wrongly_ineligible"] == 0, errors.head()
    assert counts["eligible"] > 1_000 and counts["truly_eligible_undetermined"] > 0
