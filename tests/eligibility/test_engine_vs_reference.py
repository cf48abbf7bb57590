"""The engine (bitmaps, normal form, codes) agrees with the row-by-row reference evaluator on random
books and random enterprises — missing values, coarse industry and district codes included."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from eligibility_reference import U, near_miss_atoms, settling_fields, verdict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quanhuiqi.eligibility import evaluate
from quanhuiqi.policy import load_book

AS_OF = dt.date(2025, 7, 1)

# field → (ops, operand pool, row-value pool)
SPEC = {
    "revenue": (
        ["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "between", "exists", "missing"],
        [0, 50, 100, 200.5],
        [0.0, 50.0, 75.0, 100.0, 200.5, 300.0],
    ),
    "established_on": (
        ["gt", "ge", "lt", "le", "between", "eq", "exists"],
        ["2015-01-01", "2020-06-30", "2023-01-01"],
        ["2015-01-01", "2018-03-04", "2020-06-30", "2024-02-02"],
    ),
    "tax_credit_rating": (
        ["eq", "ne", "in", "gt", "ge", "lt", "le", "between", "missing"],
        ["A", "B", "M", "C", "D"],
        ["A", "B", "M", "C", "D", "Z"],
    ),
    "status": (
        ["eq", "ne", "in", "not_in", "exists"],
        ["active", "suspended", "revoked"],
        ["active", "suspended", "revoked", "cancelled", "weird"],
    ),
    "enterprise_type": (
        ["eq", "ne", "in", "not_in"],
        ["有限责任公司", "个人独资企业"],
        ["有限责任公司", "个人独资企业", "合伙企业"],
    ),
    "industry_code": (
        ["eq", "ne", "in", "not_in", "under", "not_under", "exists"],
        ["3911", "3912", "4011", "0111"],  # eq/in compare whole class codes (coarser ones: under, UNDER_POOL)
        ["C", "39", "391", "3911", "3919", "4011", "A", "01", "0111", "G"],
    ),
    "district_code": (
        ["eq", "ne", "in", "under", "not_under", "missing"],
        ["370102", "370112", "110101"],  # county-level codes (a prefecture is refused: use under)
        ["370102", "370112", "370100", "370000", "110101"],
    ),
    "serious_dishonest": (["eq", "ne", "exists"], [True, False], [True, False]),
    "certifications": (
        ["has", "has_any", "has_all", "exists", "missing"],
        ["high_tech", "tech_sme", "gazelle"],
        ["", "high_tech", "gazelle;high_tech", "gazelle;high_tech;tech_sme", "tech_sme"],
    ),
}
# supplied facts are valid and as specific as the standard goes
FULL = {
    "industry_code": ["3911", "3919", "4011", "0111", "5211"],
    "district_code": ["370102", "370112", "110101"],
    "tax_credit_rating": ["A", "B", "M", "C", "D"],
    "status": ["active", "suspended", "revoked", "cancelled"],
}
UNDER_POOL = {
    "industry_code": ["C", "39", "391", "3911", "40", "A", "01"],
    "district_code": ["37", "3701", "370102", "370112", "11"],
}


@st.composite
def atoms(draw):
    name = draw(st.sampled_from(sorted(SPEC)))
    ops, pool, _ = SPEC[name]
    op = draw(st.sampled_from(ops))
    node = {"field": name, "op": op}
    if op in ("exists", "missing"):
        return node
    if op in ("under", "not_under"):
        node["value"] = draw(st.lists(st.sampled_from(UNDER_POOL[name]), min_size=1, max_size=2, unique=True))
    elif op in ("in", "not_in", "has_any", "has_all"):
        node["value"] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    elif op == "between":
        a, b = sorted(
            draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2)),
            key=lambda v: ["D", "C", "M", "B", "A"].index(v) if isinstance(v, str) and len(v) == 1 else v,
        )
        node["value"] = [a, b]
    else:
        node["value"] = draw(st.sampled_from(pool))
    return node


trees = st.recursive(
    atoms(),
    lambda kids: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(kids, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(kids, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, kids),
    ),
    max_leaves=7,
)


@st.composite
def rows(draw):
    row = {}
    for name, (_, _, values) in SPEC.items():
        row[name] = draw(st.one_of(st.none(), st.sampled_from(values)))
    return row


def frame(rs: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rs)
    out = pd.DataFrame(
        {
            "uscc": pd.array([f"U{i:03d}" for i in range(len(rs))], dtype="string"),
            "name": pd.array([f"企业{i}" for i in range(len(rs))], dtype="string"),
        }
    )
    out["revenue"] = df["revenue"].astype("float64")
    out["established_on"] = pd.to_datetime(df["established_on"])
    for c in (
        "tax_credit_rating",
        "status",
        "enterprise_type",
        "industry_code",
        "district_code",
        "certifications",
    ):
        out[c] = df[c].astype("string")
    out["serious_dishonest"] = df["serious_dishonest"].astype("boolean")
    return out


def write_book(dir_: Path, conds: list, windows: list) -> None:
    docs = []
    for i, (cond, (a, b)) in enumerate(zip(conds, windows, strict=True)):
        doc = {
            "id": f"P{i}",
            "title": f"政策{i}",
            "mode": ["auto", "instant", "apply"][i % 3],
            "eligibility": cond,
        }
        if a is not None:
            doc["valid_from"] = a
        if b is not None:
            doc["valid_to"] = b
        docs.append(doc)
    (dir_ / "book.yaml").write_text(yaml.safe_dump(docs, allow_unicode=True), encoding="utf-8")


windows = st.tuples(
    st.sampled_from([None, dt.date(2025, 1, 1), dt.date(2025, 7, 1), dt.date(2025, 7, 2)]),
    st.sampled_from([None, dt.date(2025, 6, 30), dt.date(2025, 7, 1), dt.date(2026, 1, 1)]),
).filter(lambda w: w[0] is None or w[1] is None or w[0] <= w[1])


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    conds=st.lists(trees, min_size=1, max_size=4),
    rs=st.lists(rows(), min_size=1, max_size=10),
    data=st.data(),
)
def test_engine_agrees_with_reference(conds, rs, data):
    ws = [data.draw(windows) for _ in conds]
    with tempfile.TemporaryDirectory() as d:
        write_book(Path(d), conds, ws)
        book = load_book(d)
    prof = frame(rs)
    res = evaluate(book, prof, AS_OF)
    got = {(r.uscc, r.policy_id): (r.verdict, r.unknown) for r in res.pairs.itertuples()}
    want = {}
    nm_want = {}
    records = prof.to_dict("records")
    for row in records:
        for p in book.items:
            v = verdict(p, book.fields, row, AS_OF)
            if v:
                unknown = ";".join(sorted(settling_fields(book.fields, p.condition, row))) if v == U else ""
                want[(row["uscc"], p.id)] = ("eligible" if v == 2 else "undetermined", unknown)
            elif p.active(AS_OF):
                paths = near_miss_atoms(p, book.fields, row)
                if paths:
                    nm_want[(row["uscc"], p.id)] = paths
    assert got == want
    # near misses: exactly the pairs one flip away, each naming a test the reference agrees on
    nm_got = {(r.uscc, r.policy_id): r.field for r in res.near_misses.itertuples()}
    assert set(nm_got) == set(nm_want)
    fields_by_path = {(p.id, a.path): a.field for p in book.items for a in _atoms(p.condition)}
    for k, f in nm_got.items():
        assert f in {fields_by_path[(k[1], path)] for path in nm_want[k]}
    # online: the same compiled book answers one enterprise at a time
    for row in records:
        m = book.match(pd.Series(row), AS_OF)
        online = {(r.uscc, r.policy_id): (r.verdict, r.unknown) for r in m.itertuples()}
        assert online == {k: v for k, v in want.items() if k[0] == row["uscc"]}
    # 免申即享: auto policies, eligible only
    auto = set(zip(res.auto_grants["uscc"], res.auto_grants["policy_id"], strict=True))
    modes = {p.id: p.mode for p in book.items}
    assert auto == {k for k, v in want.items() if v[0] == "eligible" and modes[k[1]] == "auto"}


def _atoms(node):
    from quanhuiqi.policy.model import iter_atoms

    return list(iter_atoms(node))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cond=trees, row=rows())
def test_unknown_facts_settle_the_verdict(cond, row):
    """Whatever values the listed facts take, the verdict is decided; the facts left out cannot
    change that (the set is what the data must supply)."""
    with tempfile.TemporaryDirectory() as d:
        write_book(Path(d), [cond], [(None, None)])
        book = load_book(d)
    prof = frame([row])
    res = evaluate(book, prof, AS_OF)
    und = res.pairs[res.pairs["verdict"] == "undetermined"]
    if und.empty:
        return
    fields = und["unknown"].iloc[0].split(";")
    assert fields and all(fields)
    pools = [FULL.get(f, SPEC[f][2]) for f in fields]
    base = prof.to_dict("records")[0]
    for combo in itertools.islice(itertools.product(*pools), 300):
        r = dict(base)
        r.update(dict(zip(fields, combo, strict=True)))
        r = frame([{k: r[k] for k in SPEC}]).to_dict("records")[0]
        assert verdict(book.items[0], book.fields, r, AS_OF) != U, (fields, combo)


def test_large_random_population_matches_reference():
    """A few thousand enterprises through several blocks of 64-row words (odd sizes, padding)."""
    rng = np.random.default_rng(7)
    n = 3001
    rs = [
        {k: (None if rng.random() < 0.15 else SPEC[k][2][rng.integers(len(SPEC[k][2]))]) for k in SPEC}
        for _ in range(n)
    ]
    conds = [
        {
            "all": [
                {"field": "status", "op": "eq", "value": "active"},
                {"field": "district_code", "op": "under", "value": ["370102"]},
            ]
        },
        {
            "any": [
                {"field": "industry_code", "op": "under", "value": ["3911"]},
                {"not": {"field": "revenue", "op": "lt", "value": 100}},
            ]
        },
        {
            "all": [
                {"field": "certifications", "op": "has_any", "value": ["gazelle", "tech_sme"]},
                {"field": "tax_credit_rating", "op": "ge", "value": "B"},
            ]
        },
    ]
    with tempfile.TemporaryDirectory() as d:
        write_book(Path(d), conds, [(None, None)] * 3)
        book = load_book(d)
    prof = frame(rs)
    from quanhuiqi.eligibility.batch import evaluate_compiled

    res = evaluate_compiled(book.compiled, prof, AS_OF, block_rows=640)
    got = {(r.uscc, r.policy_id): r.verdict for r in res.pairs.itertuples()}
    want = {}
    for row in prof.to_dict("records"):
        for p in book.items:
            v = verdict(p, book.fields, row, AS_OF)
            if v:
                want[(row["uscc"], p.id)] = "eligible" if v == 2 else "undetermined"
    assert got == want
    assert res.counts["eligible"].sum() + res.counts["undetermined"].sum() == len(want)
