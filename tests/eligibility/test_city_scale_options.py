"""The engine's options for city-scale jobs give the same answers as the full evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.eligibility import evaluate, evidence_for
from quanhuiqi.policy import load_book
from quanhuiqi.profile import profile
from quanhuiqi.tables import read_enterprises, validate_enterprises

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
DAY = "2025-07-01"


@pytest.fixture(scope="module")
def city():
    book = load_book(SAMPLES / "policies")
    clean = validate_enterprises(read_enterprises(SAMPLES / "enterprises.csv").iloc[:1500], DAY, "enterprises").clean
    prof = profile(clean, DAY)
    return book, prof, evaluate(book, prof, DAY)


def test_evidence_for_chosen_pairs_equals_the_full_evaluation(city):
    book, prof, full = city
    sub = full.pairs.sample(min(800, len(full.pairs)), random_state=3)
    got = evidence_for(book, prof, sub[["uscc", "policy_id"]])
    assert list(got) == list(sub["evidence"])
    assert len(evidence_for(book, prof, sub.iloc[:0])) == 0
    with pytest.raises(ValueError, match="not in the profile"):
        evidence_for(book, prof, pd.DataFrame({"uscc": ["91370100MA0000000X"], "policy_id": [sub["policy_id"].iloc[0]]}))
    with pytest.raises(ValueError, match="not in the policy book"):
        evidence_for(book, prof, sub.iloc[:1].assign(policy_id="NO-SUCH-POLICY"))


def test_categorical_pairs_hold_the_same_values(city):
    book, prof, full = city
    cat = evaluate(book, prof, DAY, categorical=True, evidence=False, near_misses=False).pairs
    for col in ("uscc", "policy_id", "verdict", "unknown", "mode"):
        assert isinstance(cat[col].dtype, pd.CategoricalDtype), col
        assert list(cat[col].astype("string")) == list(full.pairs[col]), col
    np.testing.assert_array_equal(cat["amount"].to_numpy(), full.pairs["amount"].to_numpy())


def test_near_misses_capped_per_enterprise_keep_the_largest_benefits(city):
    book, prof, full = city
    capped = evaluate(book, prof, DAY, near_miss_per_enterprise=2).near_misses
    assert capped.groupby("uscc").size().max() <= 2
    # every enterprise with a near miss keeps min(2, its count) of them, with the same texts
    per = full.near_misses.groupby("uscc").size()
    assert capped.groupby("uscc").size().reindex(per.index).fillna(0).eq(per.clip(upper=2)).all()
    merged = capped.merge(full.near_misses, on=["uscc", "policy_id"], suffixes=("", "_all"))
    assert len(merged) == len(capped) and (merged["gap"] == merged["gap_all"]).all()
    # the kept ones have the largest max_amount of the enterprise's near misses (unknown amounts last)
    amount = book.policies.set_index("policy_id")["max_amount"].astype(float).fillna(-np.inf)
    kept_min = capped.assign(a=capped["policy_id"].map(amount)).groupby("uscc")["a"].min()
    dropped = full.near_misses.merge(capped[["uscc", "policy_id"]], how="left", indicator=True)
    dropped = dropped[dropped["_merge"] == "left_only"]
    dropped_max = dropped.assign(a=dropped["policy_id"].map(amount)).groupby("uscc")["a"].max()
    both = pd.concat([kept_min, dropped_max], axis=1, keys=["kept", "dropped"]).dropna()
    assert (both["kept"] >= both["dropped"]).all()


@pytest.mark.parametrize("suffix,threads", [(".parquet", 2), (".csv", 1)])
def test_streamed_pairs_equal_the_full_evaluation(city, tmp_path, suffix, threads):
    """``quanhuiqi eligibility`` writes policy by policy (threads ahead of the writer): the same pairs, in the
    same order, with the same unknown facts, evidence and amounts as ``evaluate``; near misses too."""
    from quanhuiqi.eligibility.stream import write_pairs
    from quanhuiqi.tables import read_table

    book, prof, full = city
    out, nm = tmp_path / f"pairs{suffix}", tmp_path / "nm.parquet"
    done = write_pairs(book.compiled, prof, DAY, out, near_miss=nm, threads=threads)
    got = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype=str, keep_default_na=False)
    want = full.pairs.reset_index(drop=True)
    assert len(got) == len(want) == done.pairs
    for col in ("uscc", "policy_id", "verdict", "unknown", "evidence", "mode"):
        assert got[col].astype(str).fillna("").tolist() == want[col].astype(str).fillna("").tolist(), col
    for col in ("amount", "amount_max"):
        np.testing.assert_allclose(pd.to_numeric(got[col]).to_numpy(), want[col].to_numpy(), equal_nan=True)
    c = full.counts.set_index("policy_id")
    assert done.eligible.tolist() == c["eligible"].tolist() and done.undetermined.tolist() == c["undetermined"].tolist()
    assert done.near_misses == len(full.near_misses)
    assert read_table(nm)[["uscc", "policy_id", "gap"]].astype(str).values.tolist() == (
        full.near_misses[["uscc", "policy_id", "gap"]].astype(str).values.tolist())


def test_streamed_evidence_holds_each_text_once_per_row_group(city, tmp_path):
    """Each policy's row group stores its distinct evidence texts once, as a Parquet dictionary: a dictionary
    with repeats makes the writer fall back to plain strings (on a 100k city 259 of 437 row groups did, and
    the evidence written nearly doubled).  The content read back is ``evaluate``'s (test above)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from quanhuiqi.eligibility.stream import write_pairs

    book, prof, _ = city
    out = tmp_path / "pairs.parquet"
    write_pairs(book.compiled, prof, DAY, out, threads=1)
    f = pq.ParquetFile(out, read_dictionary=["evidence"])
    col = f.schema_arrow.names.index("evidence")
    assert f.metadata.num_row_groups > 10
    for i in range(f.metadata.num_row_groups):
        assert "RLE_DICTIONARY" in f.metadata.row_group(i).column(col).encodings, i
        for chunk in f.read_row_group(i, columns=["evidence"]).column(0).chunks:
            assert len(pc.unique(chunk.dictionary)) == len(chunk.dictionary), i


def test_displays_built_per_distinct_value_read_as_per_enterprise(city):
    """The evidence's shown values are built once per distinct value of a field: the same texts, and the same
    codes in the same order, as a dictionary encoding of every enterprise's own text."""
    import datetime as dt

    import pyarrow.compute as pc

    from quanhuiqi.eligibility.batch import Displays, derived_for
    from quanhuiqi.eligibility.engine import encode
    from quanhuiqi.eligibility.explain import display_arrow

    book, prof, _ = city
    prof = prof.copy()
    prof.loc[prof.index[:4], "revenue"] = [0.0, -0.0, -0.00001, 0.0]  # -0.0 reads -0, as a row of its own would
    cb = book.compiled
    bases = tuple({cp.policy.amount_base for cp in cb.policies if cp.policy.amount_base})
    enc = encode(cb, prof, bases, derived_for(cb, prof, None, dt.date.fromisoformat(DAY)))
    displays = Displays(cb, enc)
    names = [n for n in enc.columns if n in cb.fields]
    assert {"number", "bool", "set", "code", "category"} <= {cb.fields[n].type for n in names}
    for name in names:
        number = enc.numeric(cb, name) if cb.fields[name].type == "number" else None
        want = pc.dictionary_encode(display_arrow(cb.fields, name, enc.columns[name], number))
        codes, card = displays.codes(name)
        assert card == len(want.dictionary) and displays._values[name].equals(want.dictionary), name
        np.testing.assert_array_equal(codes, want.indices.to_numpy(zero_copy_only=False), err_msg=name)
        assert displays.text(name).equals(want.dictionary.take(want.indices)), name


def test_pieces_for_chosen_rows_read_as_the_pieces_of_every_value(city):
    """A test's piece of evidence for some enterprises (``Displays.pieces_at``) is the same text whether it is
    gathered from the pieces of every distinct value (built when that costs no more than the rows asked) or
    joined for those rows alone (a field with more distinct values than rows asked)."""
    import datetime as dt

    from quanhuiqi.eligibility.batch import Displays, derived_for
    from quanhuiqi.eligibility.engine import encode

    book, prof, _ = city
    cb = book.compiled
    enc = encode(cb, prof, (), derived_for(cb, prof, None, dt.date.fromisoformat(DAY)))
    rng = np.random.default_rng(5)
    for name, before, after in (("revenue", "营业收入≥2000万元（", "）"), ("district_code", "区县=", "")):
        _, card = Displays(cb, enc).codes(name)
        for size in (3, card + 50):  # fewer rows than values: joined per row; more: gathered from every value
            rows = rng.integers(0, len(prof), size)
            displays = Displays(cb, enc)
            got = displays.pieces_at(name, before, after, rows)
            assert ((name, before, after) in displays._pieces) == (card <= size), (name, size)
            want = Displays(cb, enc).pieces(name, before, after).take(displays.codes(name)[0][rows])
            assert got.equals(want), (name, size)
            assert got.to_pylist()[0].startswith(before) and got.to_pylist()[0].endswith(after)
