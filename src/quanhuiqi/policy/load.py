"""Load a folder of YAML policies plus its fields file, checking everything before any scoring.

Every problem is collected (not just the first) and names the file, the policy id and the path in
the condition tree (``eligibility.all[4].any[1]``).  Only ``yaml.safe_load`` touches the files:
a policy is data, nothing in it is executed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from quanhuiqi.policy import derived as dv
from quanhuiqi.policy.model import (
    COMBINATORS,
    MODES,
    ONCE,
    OPERATORS,
    OPS_BY_TYPE,
    STATUSES,
    VERDICTS,
    Atom,
    Combo,
    Node,
    Policy,
    PolicyTest,
    iter_atoms,
)
from quanhuiqi.profile.fields import BUILTIN_FIELDS, FIELD_TYPES, Field
from quanhuiqi.tables.io import InputError

FIELDS_FILE = "fields.yaml"
POLICY_KEYS = {
    "id", "title", "department", "mode", "valid_from", "valid_to", "benefit", "eligibility", "tests",
    "ref", "description", "summary", "source", "url", "tags", "keywords", "notes", "document", "category", "level",
    "year", "review", "once", "exclusive", "status", "todo", "confidence",
}  # fmt: skip
BENEFIT_KEYS = {"kind", "max_amount", "rate", "base", "description", "unit", "tiers"}
TIER_KEYS = {"amount", "when", "ref", "note"}
ATOM_KEYS = {"field", "op", "value", "ref", "note", "confidence"}
RECORD_KEYS = ATOM_KEYS | {"item", "level", "where", "window"}
YEARLY_KEYS = ATOM_KEYS | {"year", "years", "measure", "agg"}
ATTEST_KEYS = {"attest", "ref", "note", "confidence"}
TEST_KEYS = {"facts", "expect", "as_of", "name", "note"}
FIELD_KEYS = {"name", "type", "unit", "description", "values", "hierarchy", "label", "formula", "yearly"}
FIELDS_FILE_KEYS = {"fields", "lists", "record_items", "attestations"}
TEST_RECORD_KEYS = {"certificates", "milestones", "penalties", "yearly", "declarations", "grants"}
INDUSTRY_LEVEL_FIELDS = {
    "industry_section": 1,
    "industry_division": 2,
    "industry_group": 3,
    "industry_class": 4,
}
EPOCH = dt.date(1970, 1, 1)


# The C implementation of the *safe* loader (same constructors as ``yaml.safe_load``: plain data
# only, no Python objects) — 20× faster on a 2,000-policy book.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str):
    """``yaml.safe_load`` semantics: mappings, lists, strings, numbers, booleans, dates only."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a SafeLoader, never the full loader


class PolicyError(InputError):
    """A policy book was refused; ``errors`` lists every problem found, one line each."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        head = f"{len(self.errors)} error(s) in the policy book"
        super().__init__(head + ":\n" + "\n".join("  " + e for e in self.errors))


def day_number(value: dt.date) -> float:
    """Days since 1970-01-01: dates compare as numbers in the engine."""
    return float((value - EPOCH).days)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


class _Checker:
    """Collects errors for one book; each method returns a normalised value or None on error."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.virtual: dict[str, Field] = {}  # virtual fields the book's record/yearly/attest atoms compile to
        self.lists: dict[str, dict] = {}  # a city's own industry lists (fields.yaml)
        self.items: dict[str, dict[str, str]] = {t: dict(v) for t, v in dv.RECORD_TABLES.items()}
        self.attestations: dict[str, str] = dict(dv.ATTESTATIONS)
        self.policy_year: int | None = None  # of the policy being checked

    def err(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    # ---- fields -----------------------------------------------------------------------------
    def load_fields(self, path: Path) -> dict[str, Field]:
        fields = {f.name: f for f in BUILTIN_FIELDS}
        if not path.exists():
            return fields
        try:
            doc = safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:  # ValueError: 2025-13-01
            self.err(str(path), f"not valid YAML ({_yaml_reason(exc)})")
            return fields
        if isinstance(doc, dict):
            unknown = set(doc) - FIELDS_FILE_KEYS
            if unknown:
                self.err(str(path), f"unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                                    f"(expected {', '.join(sorted(FIELDS_FILE_KEYS))})")
            self.load_vocabularies(path, doc)
            doc = doc.get("fields")
        if doc is None:
            return fields
        if not isinstance(doc, list):
            self.err(str(path), "expected a list of fields {name, type, unit, description}")
            return fields
        for i, item in enumerate(doc):
            where = f"{path}: fields[{i}]"
            if not isinstance(item, dict):
                self.err(where, "expected a mapping {name, type, unit, description}")
                continue
            unknown = set(item) - FIELD_KEYS
            if unknown:
                self.err(where, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            name, ftype = item.get("name"), item.get("type")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                self.err(where, f"name {name!r} must be a snake_case identifier")
                continue
            if name in fields:
                self.err(
                    where,
                    f"field {name!r} is already defined"
                    + (" (built in)" if name in {f.name for f in BUILTIN_FIELDS} else ""),
                )
                continue
            if ftype not in FIELD_TYPES:
                self.err(
                    where,
                    f"field {name!r}: unknown type {ftype!r} (expected one of {', '.join(FIELD_TYPES)})",
                )
                continue
            values = item.get("values")
            if values is not None and (
                not isinstance(values, list) or not all(isinstance(v, str) for v in values) or not values
            ):
                self.err(where, f"field {name!r}: values must be a non-empty list of strings")
                continue
            if ftype == "ordinal" and not values:
                self.err(where, f"field {name!r}: an ordinal field needs its values, lowest first")
                continue
            if values is not None and ftype in ("number", "date", "bool"):
                self.err(where, f"field {name!r}: values apply to ordinal, category, code, set and text fields, "
                                f"not to a {ftype} field")
                continue
            hierarchy = item.get("hierarchy")
            if hierarchy is not None and ftype != "code":
                self.err(where, f"field {name!r}: hierarchy applies to code fields only, not to a {ftype} field")
                continue
            if ftype == "code" and hierarchy not in (None, "industry", "district"):
                self.err(where, f"field {name!r}: hierarchy must be industry or district")
                continue
            unit = item.get("unit")
            unit = None if unit is None else str(unit)
            formula = None
            yearly = bool(item.get("yearly", False))
            if "formula" in item:
                formula, unit = self.formula(where, name, ftype, unit, item["formula"], fields, yearly)
                if formula is None:
                    continue
            elif yearly and ftype != "number":
                self.err(where, f"field {name!r}: a yearly figure is a number, not a {ftype}")
                continue
            label = item.get("label")
            fields[name] = Field(
                name, ftype, unit, str(item.get("description") or ""),
                hierarchy=hierarchy, values=tuple(values) if values else None,
                label=None if label is None else str(label), formula=formula, yearly=yearly,
                derived=dv.ComputedFact(name, formula) if formula is not None and not yearly else None,
            )  # fmt: skip
        return fields

    def load_vocabularies(self, path: Path, doc: dict) -> None:
        """A city's own industry lists, record items and attestations (fields.yaml)."""
        from quanhuiqi.reference.industries import lookup_industry
        from quanhuiqi.reference.industry_lists import SHIPPED_LISTS

        lists = doc.get("lists") or []
        if not isinstance(lists, list):
            self.err(f"{path}: lists", "expected a list of {name, title, codes, partial}")
            lists = []
        for i, item in enumerate(lists):
            where = f"{path}: lists[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                self.err(where, "expected a mapping {name, title, codes, partial}")
                continue
            name = item["name"]
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in SHIPPED_LISTS or name in self.lists:
                self.err(where, f"list name {name!r} must be a new snake_case name (shipped: {', '.join(SHIPPED_LISTS)})")
                continue
            unknown = set(item) - {"name", "title", "codes", "partial", "description"}
            if unknown:
                self.err(where, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            ok = True
            for key in ("codes", "partial"):
                codes = item.get(key) or []
                if not isinstance(codes, list) or not all(isinstance(c, str | int) for c in codes):
                    self.err(where, f"{key} must be a list of GB/T 4754-2017 codes")
                    ok = False
                    continue
                for c in codes:
                    try:
                        lookup_industry(str(c))
                    except KeyError:
                        self.err(where, f"list {name}: industry code {str(c)!r} does not exist in GB/T 4754-2017")
                        ok = False
            if ok and not (item.get("codes") or item.get("partial")):
                self.err(where, f"list {name}: no codes")
                ok = False
            if ok:
                self.lists[name] = {"title": item.get("title") or name, "codes": [str(c) for c in item.get("codes") or []],
                                    "partial": [str(c) for c in item.get("partial") or []]}
        items = doc.get("record_items") or {}
        if not isinstance(items, dict):
            self.err(f"{path}: record_items", "expected {table: [{name, label}]}")
            items = {}
        for table, entries in items.items():
            if table not in self.items:
                self.err(f"{path}: record_items.{table}", f"unknown record table (expected {', '.join(self.items)})")
                continue
            for name, label in self._named(f"{path}: record_items.{table}", entries):
                self.items[table][name] = label
        for name, label in self._named(f"{path}: attestations", doc.get("attestations") or []):
            self.attestations[name] = label

    def _named(self, where: str, entries: Any) -> list[tuple[str, str]]:
        if not isinstance(entries, list):
            self.err(where, "expected a list of {name, label}")
            return []
        out = []
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not re.fullmatch(r"[a-z][a-z0-9_]*", e["name"]):
                self.err(f"{where}[{i}]", "expected {name: snake_case, label: 中文}")
                continue
            out.append((e["name"], str(e.get("label") or e["name"])))
        return out

    def formula(self, where: str, name: str, ftype: str, unit: str | None, doc: Any, fields: dict[str, Field],
                yearly: bool) -> tuple[tuple | None, str | None]:
        """A computed field's formula, checked for types and units: (formula, unit)."""
        from quanhuiqi.reference.records import YEARLY_METRICS

        def unit_of(f: str) -> tuple[bool, str | None]:
            if yearly:
                if f in YEARLY_METRICS:
                    return True, YEARLY_METRICS[f][0]
                self.err(where, f"field {name!r}: {f!r} is not a yearly metric ({', '.join(YEARLY_METRICS)})")
                return False, None
            if f not in fields:
                self.err(where, f"field {name!r}: formula names unknown field {f!r}" + _suggest(f, fields))
                return False, None
            if fields[f].type != "number":
                self.err(where, f"field {name!r}: formula input {f!r} is a {fields[f].type} field, not a number")
                return False, None
            return True, fields[f].unit

        if ftype != "number":
            self.err(where, f"field {name!r}: a computed field is a number, not a {ftype}")
            return None, None
        if not isinstance(doc, dict) or len(doc) != 1 or next(iter(doc)) not in ("sum", "ratio"):
            self.err(where, f"field {name!r}: formula must be {{sum: [{{field, weight}}, …]}} or {{ratio: [num, den]}}")
            return None, None
        kind, body = next(iter(doc.items()))
        if kind == "ratio":
            if not isinstance(body, list) or len(body) != 2 or not all(isinstance(x, str) for x in body):
                self.err(where, f"field {name!r}: ratio takes [numerator, denominator] field names")
                return None, None
            (ok1, u1), (ok2, u2) = unit_of(body[0]), unit_of(body[1])
            if not (ok1 and ok2):
                return None, None
            want = "ratio" if u1 == u2 else f"{u1}/{u2}"
            if unit is not None and unit != want:
                self.err(where, f"field {name!r}: {body[0]} ({u1}) / {body[1]} ({u2}) has unit {want!r}, not {unit!r}")
                return None, None
            return ("ratio", (body[0], body[1])), want
        if not isinstance(body, list) or not body:
            self.err(where, f"field {name!r}: sum takes a non-empty list of {{field, weight}}")
            return None, None
        terms, units = [], set()
        for t in body:
            f, w = (t, 1.0) if isinstance(t, str) else ((t.get("field"), t.get("weight", 1)) if isinstance(t, dict) else (None, None))
            if not isinstance(f, str) or not _is_number(w):
                self.err(where, f"field {name!r}: a sum term is a field name or {{field, weight: number}}")
                return None, None
            ok, u = unit_of(f)
            if not ok:
                return None, None
            units.add(u)
            terms.append((f, float(w)))
        if len(units) > 1:
            self.err(where, f"field {name!r}: a sum adds fields of one unit (found {', '.join(sorted(map(str, units)))})")
            return None, None
        term_unit = next(iter(units))
        weighted = any(w != 1.0 for _, w in terms)
        if unit is None:
            if weighted:
                self.err(where, f"field {name!r}: a weighted sum is a score: declare its unit (e.g. 分)")
                return None, None
            unit = term_unit
        elif not weighted and unit != term_unit:
            self.err(where, f"field {name!r}: the sum of {term_unit} fields has unit {term_unit!r}, not {unit!r}")
            return None, None
        return ("sum", tuple(terms)), unit

    # ---- values -----------------------------------------------------------------------------
    def scalar(self, where: str, fld: Field, value: Any) -> Any:
        """One operand value checked against the field's type; None (and an error) when wrong."""
        t = fld.type
        if t == "number":
            if _is_number(value):
                return float(value)
            return self._bad(where, fld, value, "a number")
        if t == "date":
            d = _as_date(value)
            if d is None:
                return self._bad(where, fld, value, "an ISO date YYYY-MM-DD")
            return day_number(d)
        if t == "bool":
            if isinstance(value, bool):
                return value
            return self._bad(where, fld, value, "true or false")
        if t == "ordinal":
            if isinstance(value, str) and value in (fld.values or ()):
                return float(fld.values.index(value))
            return self._bad(where, fld, value, f"one of {', '.join(fld.values or ())}")
        if isinstance(value, bool) or not isinstance(value, str | int):
            return self._bad(where, fld, value, "a string")
        text = str(value).strip()
        if t == "code":
            return self.code(where, fld, text, prefix=False)
        if fld.name in INDUSTRY_LEVEL_FIELDS:
            from quanhuiqi.reference.industries import industry_table

            tab = industry_table()
            level = INDUSTRY_LEVEL_FIELDS[fld.name]
            if text not in tab.index or int(tab.loc[text, "level"]) != level:
                self.err(where, f"{fld.name} code {text!r} does not exist in GB/T 4754-2017 at that level")
                return None
            return text
        if fld.values is not None and text not in fld.values:
            return self._bad(where, fld, value, f"one of {', '.join(fld.values)}")
        return text

    def code(self, where: str, fld: Field, text: str, *, prefix: bool) -> str | None:
        if fld.hierarchy == "industry":
            from quanhuiqi.reference.industries import lookup_industry

            try:
                found = lookup_industry(text)
            except KeyError:
                self.err(where, f"industry code {text!r} does not exist in GB/T 4754-2017")
                return None
            if not prefix and found.level < 4:
                # eq/ne/in/not_in compare whole codes: a section, division or group matches no
                # enterprise's class code, and against a coarse record it would be neither true nor false
                level = {1: "section", 2: "division", 3: "group"}[found.level]
                self.err(where, f"industry code {text!r} is a {level}: {fld.name} compared whole is a class "
                                f"(4 digits) — use under / not_under for everything under a {level}")
                return None
            return found.code
        if fld.hierarchy == "district":
            from quanhuiqi.reference.districts import is_district_code

            ok = re.fullmatch(r"\d{2}|\d{4}|\d{6}", text) if prefix else re.fullmatch(r"\d{6}", text)
            if not ok or not is_district_code(text.ljust(6, "0")):
                what = "district prefix (2, 4 or 6 digits)" if prefix else "district code"
                self.err(where, f"{what} {text!r} does not exist in GB/T 2260")
                return None
            if not prefix and text.endswith("00"):
                level = "province" if text.endswith("0000") else "prefecture"
                self.err(where, f"district code {text!r} is a {level}: {fld.name} compared whole is a county-level "
                                f"code — use under / not_under {text[:4] if level == 'prefecture' else text[:2]!r} "
                                f"for everything under it")
                return None
            return text
        return text

    def _bad(self, where: str, fld: Field, value: Any, expected: str) -> None:
        shown = repr(value) if len(repr(value)) < 60 else repr(value)[:57] + "..."
        self.err(where, f"value {shown} for {fld.name} ({fld.type}) must be {expected}")
        return None

    # ---- condition tree ---------------------------------------------------------------------
    def node(self, where: str, path: str, doc: Any, fields: dict[str, Field]) -> Node | None:
        if not isinstance(doc, dict):
            self.err(f"{where}: {path}", "expected a mapping (a test {field, op, value} or all/any/not)")
            return None
        combos = [k for k in doc if k in COMBINATORS]
        ref = doc.get("ref")
        ref = None if ref is None else str(ref)
        if "attest" in doc and not combos:
            return self.attest_atom(f"{where}: {path}", path, doc, ref)
        if combos:
            if len(combos) > 1 or set(doc) - {combos[0], "ref", "note"}:
                extra = sorted(map(str, set(doc) - {combos[0], "ref", "note"}))
                self.err(
                    f"{where}: {path}",
                    f"a combinator node holds exactly one of all/any/not (also found {', '.join(extra)})",
                )
                return None
            kind = combos[0]
            body = doc[kind]
            if kind == "not":
                if isinstance(body, list):
                    if len(body) != 1:
                        self.err(f"{where}: {path}.not", "not takes exactly one condition")
                        return None
                    body = body[0]
                child = self.node(where, f"{path}.not", body, fields)
                return None if child is None else Combo("not", (child,), path, ref)
            if not isinstance(body, list) or not body:
                self.err(
                    f"{where}: {path}.{kind}",
                    f"empty combinator: {kind} needs a non-empty list of conditions",
                )
                return None
            children = [self.node(where, f"{path}.{kind}[{i}]", c, fields) for i, c in enumerate(body)]
            if any(c is None for c in children):
                return None
            return Combo(kind, tuple(children), path, ref)
        return self.atom(where, path, doc, fields, ref)

    def atom(
        self, where: str, path: str, doc: dict, fields: dict[str, Field], ref: str | None
    ) -> Node | None:
        at = f"{where}: {path}"
        name = doc.get("field")
        if isinstance(name, str) and name in dv.RECORD_TABLES:
            return self.record_atom(at, path, doc, ref)
        if set(doc) & {"year", "years", "measure", "agg"}:
            return self.yearly_atom(at, path, doc, fields, ref)
        unknown = set(doc) - ATOM_KEYS
        if unknown:
            self.err(
                at,
                f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (a test is {{field, op, value, ref}}; combinators are all/any/not)",
            )
            return None
        name, op = doc.get("field"), doc.get("op")
        if not isinstance(name, str) or name not in fields:
            self.err(at, f"unknown field {name!r}" + _suggest(name, fields))
            return None
        if op not in OPERATORS:
            self.err(at, f"unknown operator {op!r} (expected one of {', '.join(OPERATORS)})")
            return None
        fld = fields[name]
        if op not in OPS_BY_TYPE[fld.type]:
            self.err(
                at,
                f"operator {op} does not apply to {name} ({fld.type}; allowed: {', '.join(OPS_BY_TYPE[fld.type])})",
            )
            return None
        if fld.type == "code" and op in ("under", "not_under") and fld.hierarchy is None:
            self.err(at, f"operator {op} needs a hierarchical code field; {name} has no hierarchy")
            return None
        if op in ("in_list", "not_in_list"):
            if fld.hierarchy != "industry":
                self.err(at, f"operator {op} applies to industry codes; {name} is not one")
                return None
            lst = self.industry_list(at, doc.get("value"))
            return None if lst is None else Atom(name, op, lst, path, ref, doc.get("value"))
        if fld.yearly:
            self.err(at, f"{name} is a yearly figure: give year/years (e.g. year: last)")
            return None
        raw = doc.get("value")
        value = self.operand(at, fld, op, raw, "value" in doc)
        if value is None and op not in ("exists", "missing"):
            return None
        return Atom(name, op, value, path, ref, raw)

    def operand(self, at: str, fld: Field, op: str, raw: Any, present: bool) -> Any:
        if op in ("exists", "missing"):
            if present and raw is not None and raw is not True:  # not `in (None, True)`: 1 == True
                self.err(at, f"{op} takes no value")
            return None
        if not present or raw is None:
            self.err(at, f"{op} on {fld.name} needs a value")
            return None
        if op in ("in", "not_in", "has_any", "has_all", "under", "not_under"):
            items = raw if isinstance(raw, list) else ([raw] if op in ("under", "not_under") else None)
            if not items:
                self.err(at, f"{op} needs a non-empty list of values")
                return None
            out = []
            for v in items:
                if op in ("under", "not_under"):
                    if isinstance(v, bool) or not isinstance(v, str | int):
                        self._bad(at, fld, v, "a code")
                        return None
                    c = self.code(at, fld, str(v).strip(), prefix=True)
                elif op in ("has_any", "has_all"):
                    c = self.token(at, fld, v)
                else:
                    c = self.scalar(at, fld, v)
                if c is None:
                    return None
                out.append(c)
            return tuple(sorted(set(out), key=str))
        if op == "between":
            if not isinstance(raw, list) or len(raw) != 2:
                self.err(at, "between needs a list [low, high]")
                return None
            lo, hi = self.scalar(at, fld, raw[0]), self.scalar(at, fld, raw[1])
            if lo is None or hi is None:
                return None
            if lo > hi:
                self.err(at, f"between: low {_shown(raw[0])} is above high {_shown(raw[1])}")
                return None
            return (lo, hi)
        if op == "has":
            return self.token(at, fld, raw)
        if isinstance(raw, list):
            self._bad(at, fld, raw, "a single value (use in / not_in for lists)")
            return None
        return self.scalar(at, fld, raw)

    # ---- the additions real policies need (docs/policy_language.md) -------------------------------
    def industry_list(self, at: str, raw: Any) -> Any:
        """``in_list`` operand: one list reference or several, resolved to one IndustryList."""
        from quanhuiqi.reference.industry_lists import IndustryList, resolve_list

        refs = raw if isinstance(raw, list) else [raw]
        if not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            self.err(at, "in_list needs a list name (sei_2018, sei_2018/1.1, a city list) or a list of them")
            return None
        full, partial, titles = set(), set(), []
        for r in refs:
            try:
                lst = resolve_list(r.strip(), self.lists)
            except KeyError as exc:
                self.err(at, str(exc.args[0]))
                return None
            full |= set(lst.full)
            partial |= set(lst.partial)
            titles.append(lst.title)
        return IndustryList(";".join(r.strip() for r in refs), "、".join(titles), tuple(sorted(full)),
                            tuple(sorted(partial - full)))

    def _virtual(self, fact: Any, unit: str | None = None) -> str:
        name = fact.name
        if name not in self.virtual:
            self.virtual[name] = Field(name, fact.type, unit, "", label=fact.label(True), derived=fact)
        return name

    def attest_atom(self, at: str, path: str, doc: dict, ref: str | None) -> Atom | None:
        unknown = set(doc) - ATTEST_KEYS
        if unknown:
            self.err(at, f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (an attest atom is {{attest, ref}})")
            return None
        item = doc.get("attest")
        if not isinstance(item, str) or item not in self.attestations:
            self.err(at, f"unknown attestation {item!r} (known: {', '.join(sorted(self.attestations))}; "
                         "a city adds its own under attestations in fields.yaml)")
            return None
        name = self._virtual(dv.AttestFact(item, self.attestations[item]))
        return Atom(name, "eq", True, path, ref, True)

    def window(self, at: str, raw: Any) -> dv.Window | None:
        if raw is None:
            return dv.Window()
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = {"year": raw}
        if not isinstance(raw, dict) or not raw:
            self.err(at, "window must be {year: this|last|YYYY}, {last_years: N}, {last_months: N} or {from, to}")
            return None
        keys = set(raw)
        if keys in ({"year"}, {"year", "years"}):  # a calendar year, or the N calendar years ending with it
            y = raw["year"]
            n = raw.get("years")
            if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 30):
                self.err(at, f"window years {n!r} must be a whole number 1–30 (calendar years ending with year)")
                return None
            n = None if n in (None, 1) else n
            rel = {"this": 0, "last": -1}.get(y) if isinstance(y, str) else None
            if rel is not None:
                if self.policy_year is not None:
                    return dv.Window("year", year=self.policy_year + rel, n=n)
                return dv.Window("year", rel=rel, n=n)
            if isinstance(y, int) and not isinstance(y, bool) and 1900 <= y <= 2200:
                return dv.Window("year", year=y, n=n)
            self.err(at, f"window year {y!r} must be this, last or a year such as 2024")
            return None
        if keys in ({"last_years"}, {"last_months"}):
            k = next(iter(keys))
            n = raw[k]
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                self.err(at, f"window {k} must be a whole number ≥ 1, not {n!r}")
                return None
            return dv.Window(k, n=n)
        if keys and keys <= {"from", "to"}:
            a = None if raw.get("from") is None else _as_date(raw["from"])
            b = None if raw.get("to") is None else _as_date(raw["to"])
            if (raw.get("from") is not None and a is None) or (raw.get("to") is not None and b is None):
                self.err(at, "window from/to must be ISO dates YYYY-MM-DD")
                return None
            if a and b and a > b:
                self.err(at, f"window from {a.isoformat()} is after to {b.isoformat()}")
                return None
            return dv.Window("range", start=a, end=b)
        self.err(at, f"window {raw!r}: expected one of year, last_years, last_months or from/to")
        return None

    def record_atom(self, at: str, path: str, doc: dict, ref: str | None) -> Node | None:
        from quanhuiqi.reference.records import LEVELS

        table = doc["field"]
        unknown = set(doc) - RECORD_KEYS
        if unknown:
            self.err(at, f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (a record test is "
                         "{field, op, item, level, where, window, value})")
            return None
        op = doc.get("op")
        if op not in dv.RECORD_TESTS:
            self.err(at, f"operator {op!r} does not apply to the {table} records (allowed: {', '.join(dv.RECORD_TESTS)})")
            return None
        raw_items = doc.get("item")
        items = raw_items if isinstance(raw_items, list) else [raw_items] if raw_items is not None else []
        vocab = self.items[table]
        if not items and table != "penalty":  # no item on penalties: any penalty, accident or violation
            self.err(at, f"{table} test needs an item (one of {', '.join(sorted(vocab))})")
            return None
        for it in items:
            if not isinstance(it, str) or it not in vocab:
                self.err(at, f"unknown {table} item {it!r} (known: {', '.join(sorted(vocab))}; a city adds its own "
                             "under record_items in fields.yaml)")
                return None
        level = doc.get("level")
        if level is not None and (table != "certificate" or level not in LEVELS):
            self.err(at, f"level {level!r}: only certificate tests take a level ({', '.join(LEVELS)})")
            return None
        if op == "held" and table != "certificate":
            self.err(at, f"held applies to certificates; for {table} records use occurred_in or count_le")
            return None
        where = self.where(at, table, doc.get("where"))
        if where is None:
            return None
        window = self.window(at, doc.get("window"))
        if window is None:
            return None
        if op == "held" and doc.get("window") is not None:
            self.err(at, "held is tested on as_of: it takes no window")
            return None
        value = doc.get("value")
        threshold = 1
        if op in ("count_ge", "count_le"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                self.err(at, f"{op} needs a whole number ≥ 0 as value, not {value!r}")
                return None
            threshold = value if op == "count_ge" else value + 1
            if op == "count_ge" and value == 0:
                self.err(at, "count_ge 0 always holds: remove it, or use count_ge 1")
                return None
        elif "value" in doc and value is not None:
            self.err(at, f"{op} takes no value")
            return None
        test = "count_ge" if op in ("count_ge", "count_le") else op
        items = tuple(sorted(set(items)))
        fact = dv.RecordFact(table, test, items, level, where, window, threshold,
                             item_labels=tuple(vocab.get(i, i) for i in items))
        name = self._virtual(fact)
        positive = op != "count_le"
        return Atom(name, "eq", positive, path, ref, positive)

    def where(self, at: str, table: str, raw: Any) -> tuple | None:
        from quanhuiqi.reference.records import SEVERITIES

        if raw is None:
            return ()
        if not isinstance(raw, dict):
            self.err(at, f"where must be a mapping ({', '.join(dv.WHERE_KEYS)})")
            return None
        out = []
        for k, v in sorted(raw.items()):
            if k not in dv.WHERE_KEYS:
                self.err(at, f"unknown where key {k!r} (expected {', '.join(dv.WHERE_KEYS)})")
                return None
            kind = dv.WHERE_KEYS[k]
            if kind == "number":
                if table != "penalty" or not _is_number(v) or v < 0:
                    self.err(at, f"where {k} applies to penalties and needs a non-negative amount in 万元, not {v!r}")
                    return None
                out.append((k, float(v)))
            elif kind == "severity":
                if table != "penalty" or v not in SEVERITIES:
                    self.err(at, f"where {k} needs one of {', '.join(SEVERITIES)} (penalties only), not {v!r}")
                    return None
                out.append((k, v))
            else:
                vals = v if isinstance(v, list) else [v]
                if table != "milestone" or not vals:
                    self.err(at, f"where {k} applies to milestones (a list of district prefixes)")
                    return None
                codes = []
                for x in vals:
                    c = self.code(at, Field("detail", "code", hierarchy="district"), str(x).strip(), prefix=True)
                    if c is None:
                        return None
                    codes.append(c)
                out.append((k, tuple(sorted(set(codes)))))
        return tuple(out)

    def year_ref(self, at: str, raw: Any) -> tuple[int | None, int | None] | None:
        """(relative offset, absolute year) of a yearly atom's ``year``."""
        if raw is None:
            raw = "last"
        if isinstance(raw, int) and not isinstance(raw, bool):
            if 1900 <= raw <= 2200:
                return None, raw
        elif isinstance(raw, str):
            m = re.fullmatch(r"\s*(this|last)\s*(?:-\s*(\d+))?\s*", raw)
            if m:
                rel = (0 if m.group(1) == "this" else -1) - int(m.group(2) or 0)
                if self.policy_year is not None:
                    return None, self.policy_year + rel
                return rel, None
        self.err(at, f"year {raw!r} must be this, last, last-1 (…) or a year such as 2024")
        return None

    def yearly_atom(self, at: str, path: str, doc: dict, fields: dict[str, Field], ref: str | None) -> Node | None:
        from quanhuiqi.reference.records import YEARLY_METRICS

        unknown = set(doc) - YEARLY_KEYS
        if unknown:
            self.err(at, f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (a yearly test is "
                         "{field, year, years, measure, agg, op, value})")
            return None
        name = doc.get("field")
        computed = fields.get(name) if isinstance(name, str) else None
        if computed is not None and computed.yearly:  # a city's own yearly figure: computed, or a yearly.csv column
            unit, label, formula = computed.unit, computed.label or computed.description or name, computed.formula
        elif isinstance(name, str) and name in YEARLY_METRICS:
            unit, label = YEARLY_METRICS[name]
            formula = None
        else:
            self.err(at, f"{name!r} is not a yearly metric (known: {', '.join(YEARLY_METRICS)}, or a yearly "
                         "computed field of fields.yaml)")
            return None
        measure = doc.get("measure", "value")
        if measure not in dv.YEARLY_MEASURES:
            self.err(at, f"measure {measure!r} must be one of {', '.join(dv.YEARLY_MEASURES)}")
            return None
        years = doc.get("years", 1)
        if years != "all" and (not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= 30):
            self.err(at, f"years {years!r} must be a whole number 1–30 or all")
            return None
        agg = doc.get("agg", "value" if years == 1 or measure == "cagr" else None)
        if agg not in dv.YEARLY_AGGS:
            self.err(at, f"agg {agg!r} must be one of {', '.join(a for a in dv.YEARLY_AGGS if a != 'value')} "
                         "(a window of several years needs one)")
            return None
        if measure == "cagr":
            if years == "all":
                self.err(at, "cagr needs years: N (the growth over N years)")
                return None
            agg = "value"
        elif years != 1 and agg == "value":
            self.err(at, "a window of several years needs agg: sum, mean, min, max, each or some")
            return None
        if agg in ("each", "some") and years == "all":
            self.err(at, f"agg {agg} needs years: N")
            return None
        yr = self.year_ref(at, doc.get("year"))
        if yr is None:
            return None
        rel, absolute = yr
        if formula is not None and formula[0] == "ratio" and measure != "value":
            self.err(at, f"{name} is a ratio: measure {measure} does not apply")
            return None
        op = doc.get("op")
        num = Field(name, "number", unit)
        if op not in OPS_BY_TYPE["number"]:
            self.err(at, f"operator {op!r} does not apply to a yearly figure (allowed: {', '.join(OPS_BY_TYPE['number'])})")
            return None
        if measure in ("growth", "cagr") or (formula is not None and formula[0] == "ratio"):
            num = Field(name, "number", "ratio")
        value = self.operand(at, num, op, doc.get("value"), "value" in doc)
        if value is None and op not in ("exists", "missing"):
            return None

        def one(end_rel: int | None, end_abs: int | None, n: int | str, a: str) -> Atom:
            fact = dv.YearlyFact(name, measure, end_rel, end_abs, n, a, formula, label, num.unit)
            return Atom(self._virtual(fact, num.unit), op, value, path, ref, doc.get("value"))

        if agg in ("each", "some"):
            kids = tuple(
                one(None if rel is None else rel - k, None if absolute is None else absolute - k, 1, "value")
                for k in range(int(years))
            )
            return Combo("all" if agg == "each" else "any", kids, path, ref)
        return one(rel, absolute, years if measure != "cagr" else years, agg)

    def token(self, at: str, fld: Field, value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip() or ";" in value:
            self._bad(at, fld, value, "a non-empty token without ';'")
            return None
        if fld.values is not None and value.strip() not in fld.values:
            self._bad(at, fld, value, f"one of {', '.join(fld.values)}")
            return None
        return value.strip()

    # ---- policy -----------------------------------------------------------------------------
    def policy(self, file: str, doc: Any, index: int | None, fields: dict[str, Field]) -> Policy | None:
        label = f"{file}" + (f"[{index}]" if index is not None else "")
        if not isinstance(doc, dict):
            self.err(label, "expected a policy mapping")
            return None
        pid = doc.get("id")
        if not isinstance(pid, str) or not pid.strip():
            self.err(label, f"policy id missing or not a string ({pid!r})")
            return None
        pid = pid.strip()
        where = f"{file}: policy {pid}"
        n_before = len(self.errors)
        unknown = set(doc) - POLICY_KEYS
        if unknown:
            self.err(where, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        title = doc.get("title")
        if title is None or (isinstance(title, str) and not title.strip()):
            self.err(where, "title missing")
        elif not isinstance(title, str):
            self.err(where, f"title {title!r} must be text")
        mode = doc.get("mode")
        if mode not in MODES:
            self.err(f"{where}: mode", f"unknown mode {mode!r} (expected auto, instant or apply)")
        dates = {}
        for key in ("valid_from", "valid_to"):
            v = doc.get(key)
            dates[key] = None if v is None else _as_date(v)
            if v is not None and dates[key] is None:
                self.err(f"{where}: {key}", f"{v!r} is not an ISO date YYYY-MM-DD")
        if dates["valid_from"] and dates["valid_to"] and dates["valid_from"] > dates["valid_to"]:
            self.err(where, f"valid_from {dates['valid_from']} is after valid_to {dates['valid_to']}")
        year = doc.get("year")
        self.policy_year = None
        if year is not None:
            if isinstance(year, int) and not isinstance(year, bool) and 1900 <= year <= 2200:
                self.policy_year = year
            else:
                self.err(f"{where}: year", f"{year!r} must be a year such as 2024")
        rules = self.cross_policy(where, doc)
        review = doc.get("review")
        if isinstance(review, dict):
            if set(review) - {"text", "ref", "note"} or "text" not in review:
                self.err(f"{where}: review", "expected the text of the discretionary step, or {text, ref}")
            review = review.get("text")
        if review is not None and (not isinstance(review, str) or not review.strip()):
            self.err(f"{where}: review", "review is the text of the discretionary step (经审定后确定, 择优支持)")
            review = None
        status = doc.get("status", "reviewed")
        if status not in STATUSES:
            self.err(f"{where}: status", f"unknown status {status!r} (expected reviewed or draft)")
        benefit = self.benefit(where, doc.get("benefit"), fields)
        if "eligibility" not in doc:
            self.err(where, "eligibility missing")
            cond = None
        else:
            cond = self.node(where, "eligibility", doc["eligibility"], fields)
        tests = self.tests(where, doc.get("tests"), fields)
        if mode == "auto":
            self.auto_provable(where, cond, review, benefit.get("tiers", ()))
        if len(self.errors) > n_before or cond is None:
            return None
        extra = {
            k: doc[k]
            for k in ("ref", "summary", "source", "url", "tags", "keywords", "category", "level")
            if k in doc
        }
        if "todo" in doc:
            extra["todo"] = doc["todo"]
        return Policy(
            id=pid, title=title.strip(), department=str(doc.get("department") or ""), mode=mode,
            valid_from=dates["valid_from"], valid_to=dates["valid_to"], condition=cond, file=file,
            tests=tests, description=str(doc.get("description") or ""), extra=extra, year=self.policy_year,
            review=None if review is None else review.strip(), status=status, **rules, **benefit,
        )  # fmt: skip

    def cross_policy(self, where: str, doc: dict) -> dict[str, Any]:
        """``once`` and ``exclusive`` (就高不重复), enforced against the grants history."""
        out: dict[str, Any] = {"once": None, "exclusive_group": None, "exclusive_per": "year"}
        once = doc.get("once")
        if once is not None:
            if once not in ONCE:
                self.err(f"{where}: once", f"{once!r} must be lifetime or year")
            else:
                out["once"] = once
        ex = doc.get("exclusive")
        if ex is not None:
            if isinstance(ex, str):
                ex = {"group": ex}
            if not isinstance(ex, dict) or not isinstance(ex.get("group"), str) or not ex["group"].strip() or \
                    set(ex) - {"group", "per", "ref"} or ex.get("per", "year") not in ONCE:
                self.err(f"{where}: exclusive", "expected a group name or {group: NAME, per: year | lifetime}")
            else:
                out["exclusive_group"] = ex["group"].strip()
                out["exclusive_per"] = ex.get("per", "year")
        return out

    def auto_provable(self, where: str, cond: Node | None, review: str | None, tiers: tuple) -> None:
        """免申即享 grants on data alone: no declaration (attest) and no discretionary review."""
        if review is not None:
            self.err(f"{where}: review", "a policy with a discretionary review cannot be mode auto (免申即享)")
        nodes = [] if cond is None else [cond]
        nodes += [t[1] for t in tiers]
        for n in nodes:
            for a in iter_atoms(n):
                if a.field.startswith("attest."):
                    self.err(f"{where}: {a.path}", f"attest {a.field.removeprefix('attest.')} cannot be proven from "
                                                   "data: a mode auto (免申即享) policy cannot hold it")

    def benefit(self, where: str, doc: Any, fields: dict[str, Field]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "benefit_kind": None,
            "max_amount": None,
            "amount_rate": None,
            "amount_base": None,
            "tiers": (),
        }
        if doc is None:
            return out
        if not isinstance(doc, dict):
            self.err(f"{where}: benefit", "expected a mapping {kind, max_amount, rate, base}")
            return out
        unknown = set(doc) - BENEFIT_KEYS
        if unknown:
            self.err(f"{where}: benefit", f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        out["benefit_kind"] = None if doc.get("kind") is None else str(doc["kind"])
        if "tiers" in doc:
            out["tiers"] = self.tiers(where, doc["tiers"], fields)
            if doc.get("rate") is not None:
                self.err(f"{where}: benefit", "tiers and rate × base exclude each other")
        refused = False
        for key, dest in (("max_amount", "max_amount"), ("rate", "amount_rate")):
            v = doc.get(key)
            if v is None:
                continue
            if not _is_number(v) or v < 0:
                self.err(f"{where}: benefit.{key}", f"{v!r} must be a non-negative number")
                refused = refused or key == "rate"
            else:
                out[dest] = float(v)
        base = doc.get("base")
        if base is not None:
            if not isinstance(base, str) or base not in fields or fields[base].type != "number":
                self.err(f"{where}: benefit.base", f"{base!r} must name a number field")
                refused = True
            else:
                out["amount_base"] = base
        # one fault, one line: a refused rate or base is not also reported as missing its partner
        if not refused and (out["amount_rate"] is None) != (out["amount_base"] is None):
            self.err(
                f"{where}: benefit", "rate and base go together (amount = rate × base, capped by max_amount)"
            )
        if out.get("tiers") and out["max_amount"] is None:
            out["max_amount"] = max(a for a, _ in out["tiers"])
        return out

    def tiers(self, where: str, doc: Any, fields: dict[str, Field]) -> tuple:
        if not isinstance(doc, list) or not doc:
            self.err(f"{where}: benefit.tiers", "expected a non-empty list of {amount, when}")
            return ()
        out = []
        for i, t in enumerate(doc):
            at = f"{where}: benefit.tiers[{i}]"
            if not isinstance(t, dict) or set(t) - TIER_KEYS or "amount" not in t or "when" not in t:
                self.err(at, "expected {amount: 万元, when: condition}")
                continue
            if not _is_number(t["amount"]) or t["amount"] < 0:
                self.err(at, f"amount {t['amount']!r} must be a non-negative number (万元)")
                continue
            cond = self.node(where, f"benefit.tiers[{i}].when", t["when"], fields)
            if cond is not None:
                out.append((float(t["amount"]), cond))
        return tuple(out)

    def tests(self, where: str, doc: Any, fields: dict[str, Field]) -> tuple[PolicyTest, ...]:
        if doc is None:
            return ()
        if not isinstance(doc, list):
            self.err(f"{where}: tests", "expected a list of {facts, expect}")
            return ()
        out = []
        for i, t in enumerate(doc):
            at = f"{where}: tests[{i}]"
            if not isinstance(t, dict):
                self.err(at, "expected a mapping {facts, expect}")
                continue
            unknown = set(t) - TEST_KEYS
            if unknown:
                self.err(at, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            facts, expect = t.get("facts"), t.get("expect")
            if not isinstance(facts, dict):
                self.err(at, "facts must be a mapping of enterprise columns to values")
                continue
            if expect not in VERDICTS:
                self.err(at, f"expect {expect!r} must be one of {', '.join(VERDICTS)}")
                continue
            as_of = t.get("as_of")
            d = None if as_of is None else _as_date(as_of)
            if as_of is not None and d is None:
                self.err(at, f"as_of {as_of!r} is not an ISO date")
                continue
            for key in TEST_RECORD_KEYS & set(facts):
                recs = facts[key]
                if not isinstance(recs, list) or not all(isinstance(r, dict) for r in recs):
                    self.err(at, f"facts.{key} must be a list of records (mappings)")
            out.append(PolicyTest({str(k): v for k, v in facts.items()}, expect, f"tests[{i}]", d))
        return tuple(out)


def _shown(value: Any) -> str:
    """A value as a message shows it: dates as ISO text (not ``datetime.date(2020, 1, 1)``)."""
    return value.isoformat() if isinstance(value, dt.date) else repr(value)


def _suggest(name: Any, fields: dict[str, Field]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), list(fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _yaml_reason(exc: Exception) -> str:
    if not isinstance(exc, yaml.YAMLError | UnicodeDecodeError):  # a value YAML itself could not build
        return f"impossible value: {exc}"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def policy_files(directory: Path) -> list[Path]:
    files = [p for p in directory.rglob("*") if p.suffix.lower() in (".yaml", ".yml") and p.is_file()]
    return sorted(p for p in files if not (p.parent == directory and p.name == FIELDS_FILE))


@dataclass
class ParsedBook:
    """What a folder of policies holds: policies, the field catalogue (with the virtual fields of record,
    yearly and attest atoms), the content hash, every error found and the book's own vocabularies."""

    policies: list[Policy]
    fields: dict[str, Field]
    version: str
    errors: list[str]
    vocabularies: dict[str, Any]


def parse_book(
    directory: str | Path, *, allow_drafts: bool = False
) -> tuple[list[Policy], dict[str, Field], str, list[str]]:
    """All policies, the field catalogue, the content hash and every error found."""
    p = parse(directory, allow_drafts=allow_drafts)
    return p.policies, p.fields, p.version, p.errors


def parse(directory: str | Path, *, allow_drafts: bool = False) -> ParsedBook:
    """Read and check a folder of policies; a ``status: draft`` policy is an error unless ``allow_drafts``."""
    d = Path(directory)
    if not d.is_dir():
        raise PolicyError([f"{d}: not a folder of policy files"])
    chk = _Checker()
    digest = hashlib.sha256()
    fields_path = d / FIELDS_FILE
    if fields_path.exists():
        digest.update(b"fields\0" + fields_path.read_bytes())
    fields = chk.load_fields(fields_path)
    files = policy_files(d)
    if not files:
        chk.err(str(d), "no policy files (*.yaml)")
    policies: list[Policy] = []
    seen: dict[str, str] = {}
    for path in files:
        rel = path.relative_to(d).as_posix()
        data = path.read_bytes()
        digest.update(rel.encode() + b"\0" + data + b"\0")
        try:
            doc = safe_load(data.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:  # ValueError: 2025-13-01
            chk.err(str(path), f"not valid YAML ({_yaml_reason(exc)})")
            continue
        docs = doc if isinstance(doc, list) else [doc]
        if doc is None or not docs:
            chk.err(str(path), "empty policy file")
            continue
        for i, item in enumerate(docs):
            pol = chk.policy(str(path), item, i if isinstance(doc, list) else None, fields)
            if pol is None:
                continue
            if pol.id in seen:
                chk.err(f"{path}: policy {pol.id}", f"duplicate id (also in {seen[pol.id]})")
                continue
            if pol.status == "draft" and not allow_drafts:
                chk.err(f"{path}: policy {pol.id}", "status draft: a drafted policy is refused until a person "
                                                     "reviews it and sets status: reviewed")
                continue
            seen[pol.id] = str(path)
            policies.append(pol)
    fields.update(chk.virtual)
    vocab = {"lists": chk.lists, "record_items": chk.items, "attestations": chk.attestations}
    return ParsedBook(policies, fields, digest.hexdigest()[:16], chk.errors, vocab)
