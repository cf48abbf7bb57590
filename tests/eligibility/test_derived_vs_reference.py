"""Record tests, yearly figures and declarations: the vectorised derivation, the batch engine and the online
matcher agree with the record-by-record reference (``derived_reference.py``) on random enterprises — records
with unknown levels, amounts and details, missing years, tables not supplied at all."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from derived_reference import attest_value, record_value, yearly_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanhuiqi.eligibility import evaluate
from quanhuiqi.eligibility.derive import FactIndex, derive_columns, derive_one
from quanhuiqi.policy import load_book
from quanhuiqi.policy.derived import AttestFact, RecordFact, YearlyFact
from quanhuiqi.tables import make_uscc, org_check_char
from quanhuiqi.tables.facts import FactTables, validate_fact_table

AS_OF = dt.date(2025, 7, 1)
N_ENT = 5

# atoms over derived facts (one policy each); windows relative and absolute, levels, where filters
ATOMS = [
    {"field": "certificate", "op": "held", "item": "high_tech"},
    {"field": "certificate", "op": "held", "item": ["high_tech", "tech_sme"], "level": "provincial"},
    {"field": "certificate", "op": "first_in", "item": "high_tech", "window": {"year": "this"}},
    {"field": "certificate", "op": "first_in", "item": "high_tech", "level": "national", "window": {"last_years": 3}},
    {"field": "certificate", "op": "first_in", "item": "tech_sme", "window": {"from": "2023-01-01", "to": "2024-06-30"}},
    {"field": "certificate", "op": "occurred_in", "item": "tech_sme", "level": "city", "window": {"year": "last"}},
    {"field": "certificate", "op": "first_in", "item": "high_tech", "level": "provincial", "window": {"year": "last"}},
    {"field": "penalty", "op": "first_in", "item": "administrative_penalty", "where": {"amount_gt": 4},
     "window": {"from": "2023-01-01", "to": "2024-12-31"}},
    {"field": "milestone", "op": "occurred_in", "item": "moved_in", "window": {"last_years": 2},
     "where": {"detail_not_under": ["3701"]}},
    {"field": "milestone", "op": "first_in", "item": "above_scale_entry", "window": {"year": 2024}},
    {"field": "penalty", "op": "count_le", "value": 0, "window": {"last_years": 3}, "where": {"amount_ge": 5}},
    {"field": "penalty", "op": "count_ge", "value": 2, "item": "administrative_penalty"},
    {"field": "penalty", "op": "occurred_in", "item": ["safety_accident"], "where": {"severity_ge": "serious"},
     "window": {"last_months": 18}},
    {"field": "revenue", "year": "last", "op": "ge", "value": 1000},
    {"field": "revenue", "year": 2023, "op": "lt", "value": 500},
    {"field": "revenue", "measure": "growth", "year": "last", "op": "ge", "value": 0.1},
    {"field": "revenue", "measure": "growth", "years": 2, "agg": "each", "op": "ge", "value": 0.1},
    {"field": "revenue", "measure": "growth", "years": 2, "agg": "some", "op": "ge", "value": 0.5},
    {"field": "revenue", "measure": "cagr", "years": 2, "op": "ge", "value": 0.2},
    {"field": "rd_expense", "years": 3, "agg": "sum", "op": "ge", "value": 100},
    {"field": "rd_expense", "years": 2, "agg": "min", "op": "gt", "value": 20},
    {"field": "rd_intensity", "years": 3, "agg": "sum", "op": "ge", "value": 0.05},
    {"field": "rd_intensity", "year": "last", "op": "ge", "value": 0.05},
    {"field": "revenue", "year": "last-1", "years": "all", "agg": "max", "op": "lt", "value": 1000},
    {"attest": "financial_system"},
]
FIELDS = {"fields": [{"name": "rd_intensity", "type": "number", "unit": "ratio", "yearly": True,
                      "formula": {"ratio": ["rd_expense", "revenue"]}}]}


def uscc(i: int) -> str:
    org = f"MA{i:06d}"
    return make_uscc("91370100" + org + org_check_char(org))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    d = tmp_path_factory.mktemp("derived_book")
    (d / "fields.yaml").write_text(yaml.safe_dump(FIELDS, allow_unicode=True), encoding="utf-8")
    pols = []
    for i, atom in enumerate(ATOMS):
        pols.append({"id": f"D-{i:02d}", "title": f"派生事实{i}", "department": "测试", "mode": "apply",
                     "eligibility": {"all": [atom]}})
        pols.append({"id": f"N-{i:02d}", "title": f"派生事实否定{i}", "department": "测试", "mode": "apply",
                     "eligibility": {"not": atom}})
    (d / "p.yaml").write_text(yaml.safe_dump(pols, allow_unicode=True), encoding="utf-8")
    return load_book(d)


days = st.integers(min_value=-2500, max_value=0)  # days before as_of
cert = st.fixed_dictionaries({
    "item": st.sampled_from(["high_tech", "tech_sme"]),
    "level": st.sampled_from(["national", "provincial", "city", "district", None]),
    "awarded": days, "valid_for": st.one_of(st.none(), st.integers(0, 1500)),
    "revoked_after": st.one_of(st.none(), st.none(), st.integers(0, 1500)),
})  # fmt: skip
mile = st.fixed_dictionaries({
    "item": st.sampled_from(["moved_in", "above_scale_entry"]), "day": days,
    "detail": st.sampled_from(["370102", "440115", None]),
})  # fmt: skip
pen = st.fixed_dictionaries({
    "item": st.sampled_from(["administrative_penalty", "safety_accident"]), "day": days,
    "amount": st.sampled_from([None, 1.0, 5.0, 10.0]), "severity": st.sampled_from([None, "general", "serious"]),
})  # fmt: skip
year_row = st.fixed_dictionaries({
    "revenue": st.sampled_from([None, 0.0, 400.0, 900.0, 1000.0, 1500.0, 3000.0]),
    "rd_expense": st.sampled_from([None, 10.0, 30.0, 60.0]),
})  # fmt: skip
enterprise = st.fixed_dictionaries({
    "certificates": st.lists(cert, max_size=3),
    "milestones": st.lists(mile, max_size=2),
    "penalties": st.lists(pen, max_size=3),
    "years": st.dictionaries(st.integers(2020, 2025), year_row, max_size=5),
    "declared": st.sampled_from([None, True, False]),
})  # fmt: skip
supplied = st.fixed_dictionaries({k: st.booleans() for k in
                                  ("certificates", "milestones", "penalties", "yearly", "declarations")})


def _day(offset: int) -> dt.date:
    return AS_OF + dt.timedelta(days=offset)


def _tables(ents: list[dict], sup: dict) -> tuple[FactTables, list[dict]]:
    """Raw rows → validated tables (as the daily job reads them), and per enterprise its records as plain dicts."""
    rows: dict[str, list[dict]] = {k: [] for k in sup}
    per: list[dict] = []
    for i, e in enumerate(ents):
        u = uscc(i)
        mine: dict = {"certificate": [], "milestone": [], "penalty": [], "years": {}, "declarations": []}
        for c in e["certificates"]:
            aw = _day(c["awarded"])
            vt = None if c["valid_for"] is None else aw + dt.timedelta(days=c["valid_for"])
            rv = None if c["revoked_after"] is None else aw + dt.timedelta(days=c["revoked_after"])
            rv = None if rv is not None and rv > AS_OF else rv  # a future revocation has not happened (cleared)
            rec = {"item": c["item"], "level": c["level"], "awarded_on": aw, "valid_to": vt, "revoked_on": rv}
            if any(r["item"] == rec["item"] and r["level"] == rec["level"] and r["awarded_on"] == aw
                   for r in mine["certificate"]):
                continue  # a duplicated key keeps its first row
            mine["certificate"].append(rec)
            rows["certificates"].append({"uscc": u, **{k: v for k, v in rec.items()}})
        for m in e["milestones"]:
            rec = {"item": m["item"], "occurred_on": _day(m["day"]), "detail": m["detail"]}
            if any(r["item"] == rec["item"] and r["occurred_on"] == rec["occurred_on"] for r in mine["milestone"]):
                continue
            mine["milestone"].append(rec)
            rows["milestones"].append({"uscc": u, **rec})
        for k, p in enumerate(e["penalties"]):
            rec = {"item": p["item"], "occurred_on": _day(p["day"]), "amount": p["amount"],
                   "severity": p["severity"], "case_no": f"C{i}-{k}"}
            mine["penalty"].append(rec)
            rows["penalties"].append({"uscc": u, **rec})
        for y, vals in e["years"].items():
            if y > AS_OF.year:
                continue
            mine["years"][y] = dict(vals)
            rows["yearly"].append({"uscc": u, "year": y, **vals})
        if e["declared"] is not None or i % 2:
            rec = {"item": "financial_system", "declared_on": _day(-30), "value": e["declared"]}
            mine["declarations"].append(rec)
            rows["declarations"].append({"uscc": u, **rec})
        per.append(mine)
    facts = FactTables()
    for kind, on in sup.items():
        if not on:
            continue
        raw = pd.DataFrame(rows[kind]) if rows[kind] else pd.DataFrame(
            {"uscc": [], **({"year": []} if kind == "yearly" else {"item": [], "awarded_on": [], "occurred_on": [],
                                                                   "declared_on": []})})
        raw = raw.astype(object).where(raw.notna(), None).astype("string")
        v = validate_fact_table(kind, raw, AS_OF, None, kind)
        assert (v.rejects["action"] == "row_rejected").sum() == 0, v.rejects
        setattr(facts, kind, v.clean)
    return facts, per


def _reference(book, atom_field: str, mine: dict, sup: dict) -> int:
    fld = book.fields[atom_field]
    d = fld.derived
    if isinstance(d, RecordFact):
        table = {"certificate": "certificates", "milestone": "milestones", "penalty": "penalties"}[d.table]
        return record_value(d, mine[d.table] if sup[table] else None, AS_OF)
    if isinstance(d, AttestFact):
        return attest_value(d, mine["declarations"] if sup["declarations"] else None, AS_OF)
    assert isinstance(d, YearlyFact)
    x = yearly_value(d, mine["years"] if sup["yearly"] else None, AS_OF)
    return x


def _kleene_of_atom(book, atom, value) -> int:
    if isinstance(value, float):
        if math.isnan(value):
            return 1
        v = atom.value
        ok = {"ge": value >= v, "gt": value > v, "lt": value < v, "le": value <= v}[atom.op]
        return 2 if ok else 0
    return value if atom.value is True else 2 - value


def _expected(book, pol, mine, sup) -> int:
    node = pol.condition
    neg = node.kind == "not"
    inner = node.children[0]
    if hasattr(inner, "kind") and inner.kind == "all" and len(inner.children) == 1:
        inner = inner.children[0]

    def val(n) -> int:
        if hasattr(n, "kind"):
            vs = [val(c) for c in n.children]
            return 2 - vs[0] if n.kind == "not" else (min(vs) if n.kind == "all" else max(vs))
        return _kleene_of_atom(book, n, _reference(book, n.field, mine, sup))

    v = val(inner)
    return 2 - v if neg else v


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(ents=st.lists(enterprise, min_size=N_ENT, max_size=N_ENT), sup=supplied)
def test_batch_and_online_agree_with_the_reference(book, ents, sup):
    facts, per = _tables(ents, sup)
    prof = pd.DataFrame({"uscc": pd.array([uscc(i) for i in range(N_ENT)], dtype="string"),
                         "name": pd.array([f"企业{i}" for i in range(N_ENT)], dtype="string")})
    res = evaluate(book, prof, AS_OF, facts=facts, near_misses=False)
    got = {(u, p): 2 if v == "eligible" else 1 for u, p, v in
           zip(res.pairs["uscc"], res.pairs["policy_id"], res.pairs["verdict"], strict=True)}
    for i in range(N_ENT):
        on = None
        if i < 2:  # online: the same answers for one enterprise and its own records
            online = book.match(prof.iloc[i], AS_OF, facts=facts.for_usccs([uscc(i)]))
            on = {p: 2 if v == "eligible" else 1 for p, v in zip(online["policy_id"], online["verdict"], strict=True)}
        for pol in book.items:
            want = _expected(book, pol, per[i], sup)
            assert got.get((uscc(i), pol.id), 0) == want, (pol.id, i, per[i], sup)
            assert on is None or on.get(pol.id, 0) == want, (pol.id, i, "online")


def test_derived_values_match_the_reference_numbers(book):
    """Yearly figures as numbers (not only verdicts): growth, CAGR, ratios of sums, all-years maxima."""
    rng = np.random.default_rng(7)
    ents = []
    for _ in range(40):
        years = {y: {"revenue": float(rng.choice([np.nan, 0, 300, 800, 1200, 5000])),
                     "rd_expense": float(rng.choice([np.nan, 5, 40, 90]))}
                 for y in rng.choice(np.arange(2019, 2026), size=rng.integers(0, 6), replace=False).tolist()}
        years = {y: {k: (None if np.isnan(v) else v) for k, v in r.items()} for y, r in years.items()}
        ents.append({"certificates": [], "milestones": [], "penalties": [], "years": years, "declared": None})
    facts, per = _tables(ents, {"certificates": False, "milestones": False, "penalties": False, "yearly": True,
                                "declarations": False})
    prof = pd.DataFrame({"uscc": pd.array([uscc(i) for i in range(len(ents))], dtype="string")})
    yearly = [f for f in book.fields.values() if isinstance(f.derived, YearlyFact)]
    cols = derive_columns(yearly, prof, facts, AS_OF, FactIndex(prof, facts))
    for f in yearly:
        for i in range(len(ents)):
            want = yearly_value(f.derived, per[i]["years"], AS_OF)
            got = cols[f.name].iloc[i]
            assert (math.isnan(want) and math.isnan(got)) or math.isclose(got, want, rel_tol=1e-9), (f.name, i)


def test_a_table_not_supplied_leaves_its_facts_unknown_for_everyone(book):
    prof = pd.DataFrame({"uscc": pd.array([uscc(0), uscc(1)], dtype="string"), "name": ["甲", "乙"]})
    res = evaluate(book, prof, AS_OF, facts=FactTables(), near_misses=False)
    assert set(res.pairs["verdict"]) == {"undetermined"}
    assert len(res.pairs) == 2 * len(book.items)  # every policy and its negation: unknown both ways
    assert Path(book.directory).exists()


def test_every_small_world_of_certificates_and_penalties(book):
    """Exhaustive, not sampled: every set of up to three records drawn from a small pool (dates inside and
    outside each window, known and unknown levels and amounts) — the corner cases a random search can miss,
    such as a record that may match lying before the window while the sure first award lies after it."""
    import itertools

    cert_pool = [
        {"item": "high_tech", "level": lv, "awarded_on": d, "valid_to": vt, "revoked_on": None}
        for d in (dt.date(2021, 5, 1), dt.date(2024, 3, 1), dt.date(2025, 2, 1))
        for lv in ("national", None, "city")
        for vt in (None, dt.date(2027, 1, 1))
    ]
    pen_pool = [
        {"item": "administrative_penalty", "occurred_on": d, "amount": a, "severity": None}
        for d in (dt.date(2022, 6, 1), dt.date(2024, 3, 1), dt.date(2025, 5, 1)) for a in (None, 3.0, 6.0)
    ]
    worlds = [("certificates", "certificate", list(c)) for k in range(4) for c in itertools.combinations(cert_pool, k)
              if len({(r["level"], r["awarded_on"]) for r in c}) == len(c)]  # no duplicated key (the first wins)
    worlds += [("penalties", "penalty", list(c)) for k in range(4) for c in itertools.combinations(pen_pool, k)]
    rows: dict[str, list[dict]] = {"certificates": [], "penalties": []}
    for i, (kind, _, recs) in enumerate(worlds):
        for j, r in enumerate(recs):
            rows[kind].append({"uscc": uscc(i), **r, **({"case_no": f"{i}-{j}"} if kind == "penalties" else {})})
    facts = FactTables()
    for kind in rows:
        raw = pd.DataFrame(rows[kind]).astype(object)
        raw = raw.where(raw.notna(), None).astype("string")
        setattr(facts, kind, validate_fact_table(kind, raw, AS_OF, None, kind).clean)
    prof = pd.DataFrame({"uscc": pd.array([uscc(i) for i in range(len(worlds))], dtype="string")})
    fields = [f for f in book.fields.values() if isinstance(f.derived, RecordFact)
              and f.derived.table in ("certificate", "penalty")]
    cols = derive_columns(fields, prof, facts, AS_OF)
    per_world = [facts.for_usccs([uscc(i)]) for i in range(len(worlds))]
    one = [derive_one(fields, per_world[i], {}, AS_OF) for i in range(len(worlds))]  # the online path
    for f in fields:
        for i, (_, table, recs) in enumerate(worlds):
            mine = recs if table == f.derived.table else []
            want = record_value(f.derived, mine, AS_OF)
            v = cols[f.name].iloc[i]
            got = 1 if v is pd.NA else (2 if v else 0)
            assert got == want, (f.name, recs)
            o = one[i][f.name]
            assert (1 if o is None else 2 if o else 0) == want, (f.name, recs, "one enterprise")


def test_the_integer_join_on_enterprise_rows_gives_what_the_uscc_join_gives(book):
    """Fact tables validated against the enterprise table carry ``enterprise_row``; derived facts join on it — and
    fall back to the usccs when the rows do not name the same enterprises (tables from another snapshot)."""
    ents = [{"certificates": [{"item": "high_tech", "level": "national", "awarded": -100, "valid_for": 900,
                               "revoked_after": None}], "milestones": [], "penalties": [],
             "years": {2024: {"revenue": 1500.0 * (i + 1), "rd_expense": 60.0}, 2023: {"revenue": 1000.0,
                                                                                     "rd_expense": 30.0}},
             "declared": True} for i in range(N_ENT)]
    on = {k: True for k in ("certificates", "milestones", "penalties", "yearly", "declarations")}
    facts, _ = _tables(ents, on)
    prof = pd.DataFrame({"uscc": pd.array([uscc(i) for i in range(N_ENT)], dtype="string"),
                         "row": np.arange(10, 10 + N_ENT, dtype=np.int64)})
    fields = book.derived_fields
    plain = derive_columns(fields, prof, facts, AS_OF)
    keyed = FactTables(**{k: getattr(facts, k).assign(
        enterprise_row=getattr(facts, k)["uscc"].map({uscc(i): 10 + i for i in range(N_ENT)}).astype("int64"))
        for k in facts.supplied()})
    wrong = FactTables(**{k: getattr(keyed, k).assign(enterprise_row=getattr(keyed, k)["enterprise_row"] + 1)
                          for k in keyed.supplied()})
    for other in (keyed, wrong):
        got = derive_columns(fields, prof, other, AS_OF)
        for name, col in plain.items():
            pd.testing.assert_series_equal(got[name], col, check_names=False)
    assert FactIndex(prof, keyed)._pos(keyed.yearly).tolist() == list(
        np.repeat(np.arange(N_ENT), 2))  # the integer path itself
