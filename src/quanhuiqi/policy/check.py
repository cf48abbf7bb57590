"""``quanhuiqi policy check``: load, validate, and run every policy's embedded tests.

Test facts are raw enterprise facts (``status: 存续``), so they go through the same validation and
profile as the city's data before the engine judges them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from quanhuiqi.policy.model import VERDICTS, Policy

FALLBACK_AS_OF = dt.date(2025, 1, 1)


@dataclass
class CheckReport:
    directory: str
    n_policies: int = 0
    n_tests: int = 0
    n_passed: int = 0
    version: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self) -> str:
        head = (
            f"{self.directory}: {self.n_policies} policies, {self.n_tests} tests, "
            f"{self.n_passed} passed, {len(self.errors)} error(s)"
            + (f", version {self.version}" if self.version else "")
        )
        if self.ok:
            return head + " — OK"
        return head + "\n" + "\n".join("  " + e for e in self.errors)


def _test_as_of(policy: Policy, as_of: dt.date | None) -> dt.date:
    return as_of or policy.valid_from or policy.valid_to or FALLBACK_AS_OF


def run_policy_tests(book) -> tuple[int, int, list[str]]:
    """(tests run, passed, failure messages) for every policy's embedded tests."""
    from quanhuiqi.eligibility.batch import verdict_matrix
    from quanhuiqi.profile import profile
    from quanhuiqi.tables import make_uscc, org_check_char, validate_enterprises

    cases = [(pi, p, t) for pi, p in enumerate(book.items) for t in p.tests]
    if not cases:
        return 0, 0, []
    failures: list[str] = []
    passed = 0
    by_date: dict[tuple, list[int]] = {}
    for k, (_, p, t) in enumerate(cases):
        tables = tuple(sorted(RECORD_KEYS & set(t.facts)))  # a table no test names stays "not supplied"
        by_date.setdefault((_test_as_of(p, t.as_of), tables), []).append(k)
    cb = book.compiled
    for (as_of, tables), ks in by_date.items():
        rows = []
        records: dict[str, list[dict]] = {name: [] for name in tables}
        for n, k in enumerate(ks):
            facts = {
                c: (None if v is None else (v if not isinstance(v, list) else ";".join(map(str, v))))
                for c, v in cases[k][2].facts.items() if c not in RECORD_KEYS
            }
            facts = {c: ("true" if v is True else "false" if v is False else v) for c, v in facts.items()}
            org = f"MA{n:06d}"
            facts.setdefault("uscc", make_uscc("91370100" + org + org_check_char(org)))
            facts.setdefault("name", f"测试企业{n}")
            rows.append({c: (None if v is None else str(v)) for c, v in facts.items()})
            for name in tables:
                for rec in cases[k][2].facts.get(name) or []:
                    records[name].append({**{c: _text(v) for c, v in rec.items()}, "uscc": facts["uscc"],
                                          "__test__": n + 1})
        raw = pd.DataFrame(rows, dtype="string")
        val = validate_enterprises(raw, as_of, source="policy tests")
        rejected = (
            set(val.rejects.loc[val.rejects["action"] == "row_rejected", "row"].tolist())
            if len(val.rejects)
            else set()
        )
        fact_tables, grants, refused = _test_tables(book, records, as_of)
        prof = profile(val.clean, as_of)
        mat = (
            verdict_matrix(cb, prof, fact_tables, as_of, grants)
            if len(prof)
            else np.zeros((0, len(book.items)), dtype=np.int8)
        )
        row_of = {int(r): i for i, r in enumerate(val.clean["row"].tolist())}
        for n, k in enumerate(ks):
            pi, p, t = cases[k]
            where = f"{p.file}: policy {p.id}: {t.path}"
            if n + 1 in refused:
                failures.append(f"{where}: records refused by validation ({refused[n + 1][:200]})")
                continue
            if n + 1 in rejected or n + 1 not in row_of:
                reasons = val.rejects.loc[val.rejects["row"] == n + 1, "reason"].astype(str).tolist()
                failures.append(f"{where}: facts refused by validation ({'; '.join(reasons)[:200]})")
                continue
            got = VERDICTS[2 - int(mat[row_of[n + 1], pi])] if p.active(as_of) else "ineligible"
            if got == t.expect:
                passed += 1
            else:
                cleared = val.rejects.loc[val.rejects["row"] == n + 1, "column"].astype(str).tolist()
                note = f" (values cleared by validation: {', '.join(cleared)})" if cleared else ""
                failures.append(f"{where}: expected {t.expect}, got {got} as of {as_of}{note}")
    return len(cases), passed, failures


RECORD_KEYS = {"certificates", "milestones", "penalties", "yearly", "declarations", "grants"}


def _text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _test_tables(book, records: dict[str, list[dict]], as_of: dt.date):
    """The fact tables and grants the tests of one batch carry; rows a validator refuses, by test."""
    from quanhuiqi.tables import validate_grants
    from quanhuiqi.tables.facts import FactTables, validate_fact_table

    facts = FactTables()
    grants = None
    refused: dict[int, str] = {}
    vocab = book.table_vocabularies()
    for name, recs in records.items():
        raw = pd.DataFrame(recs).astype("string") if recs else pd.DataFrame({"uscc": pd.Series(dtype="string")})
        owner = raw["__test__"].astype("Int64").to_numpy() if "__test__" in raw else np.zeros(0, dtype=np.int64)
        raw = raw.drop(columns=["__test__"], errors="ignore")
        for c in {"certificates": ["item", "awarded_on"], "milestones": ["item", "occurred_on"],
                  "penalties": ["item", "occurred_on"], "yearly": ["year"], "declarations": ["item", "declared_on"],
                  "grants": ["policy_id"]}[name]:
            if c not in raw:
                raw[c] = pd.Series(pd.NA, index=raw.index, dtype="string")
        if name == "declarations":  # a test's declaration is made on its as_of unless it says when
            if "value" not in raw:
                raw["value"] = "true"
            raw["declared_on"] = raw["declared_on"].fillna(as_of.isoformat())
        v = validate_grants(raw, as_of, "grants") if name == "grants" else validate_fact_table(
            name, raw, as_of, None, name, vocab)
        bad = v.rejects[v.rejects["action"] == "row_rejected"]
        for r, why, col in zip(bad["row"].tolist(), bad["reason"].tolist(), bad["column"].tolist(), strict=True):
            refused.setdefault(int(owner[int(r) - 1]), f"{name}: {col}: {why}")
        if name == "grants":
            grants = v.clean
        else:
            setattr(facts, name, v.clean)
    return facts, grants, refused


def check_book(directory: str | Path, *, allow_drafts: bool = False) -> CheckReport:
    """Every load error at once, then every embedded test; ``.ok`` only when all pass.  ``allow_drafts``
    checks a folder of drafts (``status: draft``) in review instead of refusing them."""
    from quanhuiqi.policy.book import PolicyBook
    from quanhuiqi.policy.load import PolicyError, parse

    rep = CheckReport(str(directory))
    try:
        parsed = parse(directory, allow_drafts=allow_drafts)
    except PolicyError as exc:
        rep.errors = exc.errors
        return rep
    items = parsed.policies
    rep.n_policies, rep.version = len(items), parsed.version
    rep.errors.extend(parsed.errors)
    book = PolicyBook(items, parsed.fields, parsed.version, str(directory), parsed.vocabularies)
    try:
        n, passed, failures = run_policy_tests(book)
    except (ValueError, KeyError, TypeError) as exc:  # facts the validators could not take at all
        n, passed, failures = (
            sum(len(p.tests) for p in items),
            0,
            [f"{directory}: tests could not run ({type(exc).__name__}: {str(exc)[:200]})"],
        )
    rep.n_tests, rep.n_passed = n, passed
    rep.errors.extend(failures)
    return rep
