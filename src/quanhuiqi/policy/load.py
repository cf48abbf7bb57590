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
from pathlib import Path
from typing import Any

import yaml

from quanhuiqi.policy.model import (
    COMBINATORS,
    MODES,
    OPERATORS,
    OPS_BY_TYPE,
    VERDICTS,
    Atom,
    Combo,
    Node,
    Policy,
    PolicyTest,
)
from quanhuiqi.profile.fields import BUILTIN_FIELDS, FIELD_TYPES, Field
from quanhuiqi.tables.io import InputError

FIELDS_FILE = "fields.yaml"
POLICY_KEYS = {
    "id", "title", "department", "mode", "valid_from", "valid_to", "benefit", "eligibility", "tests",
    "ref", "description", "summary", "source", "url", "tags", "keywords", "notes", "document", "category", "level",
}  # fmt: skip
BENEFIT_KEYS = {"kind", "max_amount", "rate", "base", "description", "unit"}
ATOM_KEYS = {"field", "op", "value", "ref", "note"}
TEST_KEYS = {"facts", "expect", "as_of", "name", "note"}
FIELD_KEYS = {"name", "type", "unit", "description", "values", "hierarchy"}
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
        if isinstance(doc, dict) and "fields" in doc:
            doc = doc["fields"]
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
            fields[name] = Field(
                name, ftype, None if unit is None else str(unit), str(item.get("description") or ""),
                hierarchy=hierarchy, values=tuple(values) if values else None,
            )  # fmt: skip
        return fields

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
    ) -> Atom | None:
        at = f"{where}: {path}"
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
        benefit = self.benefit(where, doc.get("benefit"), fields)
        if "eligibility" not in doc:
            self.err(where, "eligibility missing")
            cond = None
        else:
            cond = self.node(where, "eligibility", doc["eligibility"], fields)
        tests = self.tests(where, doc.get("tests"), fields)
        if len(self.errors) > n_before or cond is None:
            return None
        extra = {
            k: doc[k]
            for k in ("ref", "summary", "source", "url", "tags", "keywords", "category", "level")
            if k in doc
        }
        return Policy(
            id=pid, title=title.strip(), department=str(doc.get("department") or ""), mode=mode,
            valid_from=dates["valid_from"], valid_to=dates["valid_to"], condition=cond, file=file,
            tests=tests, description=str(doc.get("description") or ""), extra=extra, **benefit,
        )  # fmt: skip

    def benefit(self, where: str, doc: Any, fields: dict[str, Field]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "benefit_kind": None,
            "max_amount": None,
            "amount_rate": None,
            "amount_base": None,
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
        return out

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


def parse_book(directory: str | Path) -> tuple[list[Policy], dict[str, Field], str, list[str]]:
    """All policies, the field catalogue, the content hash and every error found."""
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
            seen[pol.id] = str(path)
            policies.append(pol)
    return policies, fields, digest.hexdigest()[:16], chk.errors
