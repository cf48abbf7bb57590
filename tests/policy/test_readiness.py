"""免申即享 readiness: where facts come from, "decided if supplied" checked by actually supplying the facts
and re-evaluating, additivity over slices of enterprises, the tables and the ranking, and the eligible
estimate against the synthetic city's truth."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanhuiqi.eligibility import evaluate
from quanhuiqi.eligibility.batch import verdict_matrix
from quanhuiqi.policy.readiness import (
    ReadinessCounts,
    pair_codes,
    read_city_sources,
    readiness,
    readiness_counts,
    readiness_tables,
    source_map,
    split_unknown,
    with_city_sources,
)
from quanhuiqi.profile.fields import BUILTIN_FIELDS
from quanhuiqi.reference.industries import industry_table
from quanhuiqi.reference.industry_lists import resolve_list
from quanhuiqi.reference.records import CERTIFICATE_ITEMS, MILESTONE_ITEMS, PENALTY_ITEMS, YEARLY_METRICS
from quanhuiqi.reference.sources import shipped_sources
from quanhuiqi.tables.io import InputError

sys.path.insert(0, str(Path(__file__).parent))
from readiness_city import DAY, load_city, make_readiness_city  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    return make_readiness_city(tmp_path_factory.mktemp("readiness") / "data")


@pytest.fixture(scope="module")
def loaded(city):
    return load_city(city)


@pytest.fixture(scope="module")
def result(loaded):
    book, prof, _, grants = loaded
    return evaluate(book, prof, DAY, near_misses=False, evidence=False, categorical=True, grants=grants)


@pytest.fixture(scope="module")
def ready(loaded, result):
    book, prof, _, _ = loaded
    return readiness(book, prof, DAY, result=result, donor_pool=4096)


# --- where facts come from ---------------------------------------------------------------------------------


def test_the_shipped_catalogue_covers_every_builtin_fact_with_a_department():
    cat = shipped_sources()
    missing = [f.name for f in BUILTIN_FIELDS if not cat.of(f"field:{f.name}")]
    missing += [f"{t}:{i}" for t, items in (("certificate", CERTIFICATE_ITEMS), ("milestone", MILESTONE_ITEMS),
                                            ("penalty", PENALTY_ITEMS)) for i in items if not cat.of(f"{t}:{i}")]
    missing += [f"yearly:{m}" for m in YEARLY_METRICS if not cat.of(f"yearly:{m}")]
    missing += [f"table:{t}" for t in ("certificates", "milestones", "penalties", "yearly", "declarations")
                if not cat.of(f"table:{t}")]
    assert missing == []
    src = cat.sources
    assert src["department"].str.contains(r"[\u4e00-\u9fff]").all() and src["system"].str.contains(r"[\u4e00-\u9fff]").all()
    assert cat.of("field:tax_district_code") == ("tax",) and cat.of("field:insured_employees") == ("social_security",)
    assert src.loc["tax", "department"] == "国家税务总局济南市税务局"
    assert src.loc[cat.of("table:declarations")[0], "kind"] == "declaration"


def test_the_books_facts_map_to_their_sources(loaded):
    book = loaded[0]
    smap = source_map(book)
    by = smap.by_field
    assert by["tax_district_code"] == ("tax",)
    assert by["insured_employees"] == ("social_security",) and by["layoff_rate"] == ("social_security",)
    assert by["employees"] == ("statistics",) and by["industry_code"] == ("statistics",)
    assert by["certificate.held(high_tech)"] == ("science_tech",)
    assert by["revenue@last"] == ("tax",)  # a yearly figure: its metric's source
    assert by["attest.financial_system"] == ("declaration",)
    assert [v for k, v in by.items() if k.startswith("penalty.")] == [("credit",)]
    assert by["export_revenue"] == ("customs",)  # the book's own sources.csv
    assert by["digital_investment"] == ("field:digital_investment",)  # unmapped: its own source, flagged
    kinds = smap.sources.set_index("source")["kind"]
    assert kinds["field:digital_investment"] == "unmapped" and kinds["declaration"] == "declaration"
    assert "field:digital_investment" in smap.actionable and "declaration" not in smap.actionable


def test_split_unknown_keeps_a_record_tests_own_semicolons():
    text = "attest.financial_system;penalty.count_ge1(administrative_penalty;amount_ge=5)@last_years:3;revenue@last"
    assert split_unknown(text) == ["attest.financial_system",
                                   "penalty.count_ge1(administrative_penalty;amount_ge=5)@last_years:3", "revenue@last"]


@pytest.mark.parametrize("text, message", [
    ("key,source\nfield:ip_count,nowhere\n", "new source 'nowhere' needs its system and department"),
    ("key,source\nfoo:ip_count,tax\n", "unknown prefix"),
    ("key,source,colour\nfield:ip_count,tax,red\n", "unknown column(s) colour"),
    ("key,source,department\nfield:ip_count,tax,市财政局\n", "differs from the shipped"),
    ("source\ntax\n", "missing required column(s) key"),
])  # fmt: skip
def test_a_city_sources_file_is_refused_by_name(tmp_path, text, message):
    p = tmp_path / "sources.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        with_city_sources(shipped_sources(), p)
    assert str(p) in str(exc.value) and message in str(exc.value)


def test_a_city_source_of_its_own_is_added(tmp_path):
    p = tmp_path / "sources.csv"
    p.write_text("key,source,system,department\nfield:ip_count,ip_platform,知识产权运营平台,市知识产权运营中心\n",
                 encoding="utf-8")
    cat = with_city_sources(shipped_sources(), read_city_sources(p))
    assert cat.of("field:ip_count") == ("ip_platform",)
    assert cat.sources.loc["ip_platform", "department"] == "市知识产权运营中心"


# --- decided if supplied: exact ----------------------------------------------------------------------------

CLASSES = industry_table()
CLASSES = CLASSES[CLASSES["level"].astype(int) == 4]
SEI = resolve_list("sei_2018")  # the list the test book names

def _under(members: tuple[str, ...]) -> pd.Series:
    """Classes under a member of ``members`` (a member may be a section, division, group or class)."""
    c = CLASSES["code"]
    return c.isin(members) | c.str[:3].isin(members) | c.str[:2].isin(members) | CLASSES["section"].isin(members)


IN_LIST = _under(SEI.full)
OUT_LIST = ~IN_LIST & ~_under(SEI.partial)
DISTRICTS = np.array(["370102", "370112", "370202", "110101", "320102"])


def _pick(pool: pd.DataFrame, want: pd.Series, rng: np.random.Generator) -> str:
    sub = pool[want.reindex(pool.index).to_numpy()]
    sub = sub if len(sub) else pool
    return sub["code"].iloc[int(rng.integers(len(sub)))]


def _value(atom, side: str, known, rng: np.random.Generator):
    """A value of ``atom``'s field that makes it true (``pass``) or false (``fail``) — or, for a named list, a
    class only partly inside it (``partial``) — consistent with what the row already knows (a coarse code)."""
    op, v = atom.op, atom.value
    if op in ("ge", "gt", "le", "lt"):
        up = (op in ("ge", "gt")) == (side == "pass")
        return float(v) + 1.0 if up else float(v) - 1.0
    if op == "eq" and isinstance(v, bool | np.bool_):
        return bool(v) if side == "pass" else not bool(v)
    if op == "eq":
        return v if side == "pass" else "revoked"
    if op == "under":
        prefix = known.rstrip("0")[:4] if isinstance(known, str) else None
        options = [d for d in DISTRICTS if prefix is None or d.startswith(prefix)] or [known[:4] + "01"]
        good = [d for d in options if any(d.startswith(x) for x in v)]
        bad = [d for d in options if d not in good]
        return (good or bad)[0] if side == "pass" else (bad or good)[0]
    if op == "in_list":
        pool = CLASSES if not isinstance(known, str) else CLASSES[CLASSES["code"].str.startswith(known)
                                                                  | (CLASSES["section"] == known)]
        want = {"pass": IN_LIST, "fail": OUT_LIST, "partial": ~(IN_LIST | OUT_LIST)}[side]
        return _pick(pool, want, rng)
    raise AssertionError(f"no value for {atom}")


def _supply(prof: pd.DataFrame, book, policy, fields: list[str], sides: dict[str, str], rng) -> pd.DataFrame:
    """``prof`` with every unknown (or coarse) value of ``fields`` supplied, passing or failing ``policy``'s
    test of that field as ``sides`` says."""
    from quanhuiqi.policy.model import iter_atoms

    out = prof.copy()
    atoms = {a.field: a for a in iter_atoms(policy.condition)}
    for f in fields:
        if f not in atoms:
            continue
        fld, col = book.fields[f], out[f]
        if fld.type == "code":
            full = col.astype("string").str.fullmatch(r"\d{4}" if fld.hierarchy == "industry" else r"\d{4}(?!00)\d{2}")
            todo = ~full.fillna(False).to_numpy(dtype=bool)
        else:
            todo = col.isna().to_numpy(dtype=bool)
        vals = col.astype(object).to_numpy(na_value=None).copy()
        for i in np.flatnonzero(todo):  # a test helper over 300 rows
            vals[i] = _value(atoms[f], sides[f], vals[i], rng)
        dtype = {"number": "float64", "bool": "boolean"}.get(fld.type, "string")
        out[f] = pd.Series(vals, index=col.index).astype(dtype)
    return out


def _decided_whatever_supplied(book, prof, grants, codes, fields, sides=("pass", "fail")) -> np.ndarray:
    """Per undetermined pair: decided for every combination of passing and failing values of ``fields``
    (each field passing or failing its policy's test of it)."""
    import itertools

    from quanhuiqi.policy.model import iter_atoms

    rng = np.random.default_rng(0)
    decided = np.ones(codes.rows.size, dtype=bool)
    for pi in np.unique(codes.pol).tolist():
        policy = book.compiled.policies[pi].policy
        mine = codes.pol == pi
        tested = [f for f in fields if f in {a.field for a in iter_atoms(policy.condition)}]
        if not tested:  # supplying facts the policy does not test changes nothing
            decided[mine] = False
            continue
        for combo in itertools.product(sides, repeat=len(tested)):
            m = verdict_matrix(book.compiled, _supply(prof, book, policy, tested, dict(zip(tested, combo, strict=True)),
                                                      rng), as_of=DAY, grants=grants)
            decided[mine] &= m[codes.rows[mine], pi] != 1
    return decided


def test_pairs_counted_for_a_source_are_exactly_those_its_facts_decide(loaded, result, ready):
    """Supply a source's facts — every unknown or coarse value of every fact it holds, with every combination
    of values passing and failing the policy's tests — and re-evaluate: the pairs counted for it are decided
    every time, and no other pair is.  Pairs whose industry class may come out only partly inside the list
    the policy names are counted apart (``unless_partial``): decided whenever the class supplied is wholly in
    or out of the list, and not when it is one of those."""
    book, prof, _, grants = loaded
    smap = source_map(book)
    codes = pair_codes(result.pairs, prof, book)
    keys = ["policy_id", "unknown", "partial", "maybe_partial"]
    need = ready.groups.set_index(keys).reindex(pd.MultiIndex.from_frame(codes.groups[keys]))
    sources = need["sources"].to_numpy()[codes.group]
    sure = need["sure"].to_numpy(dtype=bool)[codes.group]
    maybe = (need["settleable"] & ~need["sure"]).to_numpy(dtype=bool)[codes.group]
    assert maybe.sum() > 10
    checked = 0
    row = ready.actions.set_index("action")
    for action in smap.actionable + ["market_registry+social_security", "tax+social_security"]:
        parts = action.split("+")
        fields = [f for f, ss in smap.by_field.items() if set(ss) & set(parts) and f in prof.columns]
        inside = np.array([set(s.split("+")) <= set(parts) for s in sources])
        counted, unless = sure & inside, maybe & inside
        decided = _decided_whatever_supplied(book, prof, grants, codes, fields)
        assert (decided == (counted | unless)).all(), (action, int((counted & ~decided).sum()),
                                                       int((decided & ~(counted | unless)).sum()))
        if unless.any():
            risky = _decided_whatever_supplied(book, prof, grants, codes, fields, sides=("pass", "fail", "partial"))
            assert risky[counted].all() and not risky[unless].any()
        if action in row.index:
            assert row.at[action, "decided_pairs"] == counted.sum() and row.at[action, "unless_partial"] == unless.sum()
        checked += int(counted.sum())
    assert checked > 300
    # a pair waiting on a declaration, or on a class known and only partly inside the list, stays undetermined
    # with every other fact supplied (passing)
    stuck = ~(sure | maybe)
    s = ready.summary
    assert stuck.sum() == s["undetermined"] - s["all_data_decides"] - s["unless_partial"] > 0
    everything = [f for f in smap.by_field if f in prof.columns and not f.startswith("attest.")]
    assert not (_decided_whatever_supplied(book, prof, grants, codes, everything, sides=("pass",)) & stuck).any()


def test_counts_are_additive_over_slices_of_enterprises(loaded, result, ready):
    book, prof, _, grants = loaded
    smap = source_map(book)
    parts = []
    for rows in (np.arange(0, 110), np.arange(110, 300)):
        half = prof.iloc[rows].reset_index(drop=True)
        res = evaluate(book, half, DAY, near_misses=False, evidence=False, categorical=True, grants=grants)
        parts.append(readiness_counts(res.pairs, half, book, DAY, smap))
    whole = readiness_counts(result.pairs, prof, book, DAY, smap)
    summed = ReadinessCounts.combine(parts)
    assert summed.enterprises == whole.enterprises == len(prof)
    for name in ("policies", "groups", "reach"):
        a, b = getattr(summed, name), ReadinessCounts.combine([whole]).__getattribute__(name)
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)
    t1 = readiness_tables(summed, book, smap)
    t2 = readiness_tables(whole, book, smap)
    pd.testing.assert_frame_equal(t1.policies, t2.policies)
    pd.testing.assert_frame_equal(t1.actions, t2.actions)


def test_a_slice_without_undetermined_pairs(loaded, result):
    """A partition or a day where every pair is decided (the sample data run on a day after its book ends):
    no group waits on a fact, and the tables are still whole (the requirements of no group once had no
    columns, and the daily job failed)."""
    book, prof, _, _ = loaded
    smap = source_map(book)
    decided = result.pairs[result.pairs["verdict"] == "eligible"].reset_index(drop=True)
    counts = readiness_counts(decided, prof, book, DAY, smap)
    assert len(counts.groups) == 0 and len(counts.policies) > 0
    tables = readiness_tables(counts, book, smap)
    p = tables.policies.set_index("policy_id")
    assert (p["eligible"] == result.counts.set_index("policy_id")["eligible"].reindex(p.index)).all()
    assert (p[["undetermined", "all_data_decides", "unless_partial", "needs_declaration", "unsettleable"]] == 0).all().all()
    assert len(tables.actions) == 0 and tables.summary["undetermined"] == 0


def test_the_policy_table_adds_up(ready, result):
    p = ready.policies.set_index("policy_id")
    assert (p["eligible"] + p["ineligible"] + p["undetermined"] == p["evaluated"]).all()
    counts = result.counts.set_index("policy_id")
    assert (p["eligible"] == counts["eligible"].reindex(p.index)).all()
    assert (p["undetermined"] == counts["undetermined"].reindex(p.index)).all()
    assert (p["one_source_decides"] <= p["all_data_decides"]).all() and (p["all_data_decides"] <= p["undetermined"]).all()
    assert (p["all_data_decides"] + p["unless_partial"] + p["needs_declaration"] + p["unsettleable"]
            == p["undetermined"]).all()
    assert p.at["JN-T-003", "needs_declaration"] > 0 and p.at["JN-T-004", "unsettleable"] > 0
    assert p.at["JN-T-003", "decided_share_all_data"] < 1 and p.at["JN-T-001", "decided_share_all_data"] == 1
    by = ready.by_source.groupby("policy_id")["decided_pairs"].sum()
    assert (by.reindex(p.index).fillna(0) == p["one_source_decides"]).all()
    assert p.at["JN-T-001", "best_source"] == ready.by_source[ready.by_source["policy_id"] == "JN-T-001"].iloc[0]["source"]


def test_actions_are_ranked_by_the_stated_score(ready):
    a = ready.actions
    w = ready.summary["weights"]
    single = a["kind"] == "single"
    assert np.allclose(a.loc[single, "score"], (w["auto"] * a["decided_auto"] + w["instant"] * a["decided_instant"]
                                                + w["apply"] * a["decided_apply"])[single])
    g = ready.groups[ready.groups["sure"]]
    for _, r in a[~single].iterrows():  # two together: scored on what neither decides alone
        both = g[g["sources"] == r["action"]]
        assert r["score"] == sum(w[m] * n for m, n in both.groupby("mode")["pairs"].sum().items())
        assert both["pairs"].sum() == r["beyond_each_alone"]
    assert (a["decided_pairs"] == a["decided_auto"] + a["decided_instant"] + a["decided_apply"]).all()
    assert list(a["rank"]) == list(range(1, len(a) + 1)) and a["score"].is_monotonic_decreasing
    assert a.iloc[0]["action"] == "customs"  # 69 auto pairs × 4 outrank 94 instant/apply pairs
    assert a["score"].is_monotonic_decreasing
    combos = a[a["kind"] == "combined"].set_index("action")
    single = a[a["kind"] == "single"].set_index("action")["decided_pairs"]
    assert len(combos) > 0
    for act, r in combos.iterrows():
        x, y = act.split("+")
        assert r["decided_pairs"] == single.get(x, 0) + single.get(y, 0) + r["beyond_each_alone"]
        assert r["beyond_each_alone"] >= 0.25 * min(single.get(x, 0), single.get(y, 0))
    assert (a["enterprises"] <= a["decided_pairs"]).all() and (a["enterprises"] > 0).all()
    assert (a["eligible_low"] <= a["eligible_est"] + 1e-9).all() and (a["eligible_est"] <= a["eligible_high"] + 1e-9).all()
    assert (a["eligible_high"] <= a["decided_pairs"] + 1e-9).all()


def test_without_an_estimate_the_range_is_everything(loaded, result):
    book, prof, _, _ = loaded
    r = readiness(book, prof, DAY, result=result, estimate=False)
    assert r.actions["eligible_est"].isna().all() and (r.actions["eligible_low"] == 0).all()
    assert (r.actions["eligible_high"] == r.actions["decided_pairs"]).all()


# --- the estimate against the synthetic truth ------------------------------------------------------------


@pytest.mark.skipif(not (SAMPLES / "truth" / "enterprises_true.parquet").exists(), reason="data_samples not generated")
def test_the_eligible_estimate_holds_against_the_synthetic_truth():
    """Supply each source's true facts (``truth/``) and count how many of the pairs it decides are eligible:
    the estimate's 90 % range holds the true count, and the estimate is within 5 % overall.

    Not checked here: the statistics source (the profile derives the size class from partial inputs when they
    decide it, so its unknowns are not missing at random) and the market registry (33 enterprises have no
    true status)."""
    import quanhuiqi as q
    from quanhuiqi.eligibility import with_facts
    from quanhuiqi.tables.facts import FactTables, load_fact_tables

    book = q.load_book(SAMPLES / "policies")
    clean = q.validate_enterprises(q.read_enterprises(SAMPLES / "enterprises.csv"), DAY).clean
    facts, _ = load_fact_tables(SAMPLES, DAY, clean["uscc"], book.table_vocabularies())
    prof = with_facts(book, q.profile(clean, DAY), facts, DAY)
    res = evaluate(book, prof, DAY, near_misses=False, evidence=False, categorical=True)
    r = readiness(book, prof, DAY, result=res, donor_pool=4096)
    true_raw = pd.read_parquet(SAMPLES / "truth" / "enterprises_true.parquet")
    cols = [c for c in pd.read_csv(SAMPLES / "enterprises.csv", nrows=0).columns if c in true_raw.columns]
    raw = true_raw[cols].astype("string").assign(name="x")
    true = q.profile(q.validate_enterprises(raw, DAY).clean, DAY)
    tables = {k: pd.read_parquet(SAMPLES / "truth" / f"{k}_true.parquet")
              for k in ("certificates", "milestones", "penalties", "yearly", "declarations")}
    true = with_facts(book, true, FactTables(**tables), DAY)
    true = true.set_index(true["uscc"].astype(str)).reindex(prof["uscc"].astype(str))
    smap = source_map(book)
    codes = pair_codes(res.pairs, prof, book)
    need = r.groups.set_index(["policy_id", "unknown", "partial"]).reindex(
        pd.MultiIndex.from_frame(codes.groups[["policy_id", "unknown", "partial"]]))
    got, want = 0.0, 0
    for s in ("tax", "social_security", "customs", "ip", "credit", "science_tech"):
        fields = [f for f, ss in smap.by_field.items() if s in ss and f in prof.columns]
        supplied = prof.copy()
        for f in fields:
            supplied[f] = true[f].to_numpy()
        v = verdict_matrix(book.compiled, supplied)[codes.rows, codes.pol]
        mine = ((need["sources"] == s) & need["settleable"]).to_numpy(dtype=bool)[codes.group]
        assert (v[mine] != 1).all(), s  # supplied: every pair counted for it is decided
        truly = int((v[mine] == 2).sum())
        a = r.actions.set_index("action").loc[s]
        assert a["eligible_low"] <= truly <= a["eligible_high"], (s, truly, a["eligible_low"], a["eligible_high"])
        got += a["eligible_est"]
        want += truly
    assert abs(got - want) / want < 0.05, (got, want)
