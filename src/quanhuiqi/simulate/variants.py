"""Threshold sweeps (``--vary FILE``): a policy, a path in it and the values to try.

```yaml
- policy: JN-CZ-2025-004
  path: eligibility.all[3]          # a test of the tree, as the loader's messages write the path
  values: [300, 500, 800]           # each value checked like the policy file's own (type, unit, codes)
- policy: JN-RS-2025-001
  path: benefit.max_amount          # or benefit.rate: the amount rule
  values: [100, 200, 300]
```

Each value gives one variant of the policy: the same policy with that one value replaced, checked by the
policy loader's own checker, so a value the book would refuse is refused here, by name.  A number may be
written with its unit (``300万元``, ``3亿元``, ``15%``, ``20人``): it is converted to the field's unit, and a
unit that does not fit the field (``300人`` for a revenue) is refused.  Nothing in the file is executed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanhuiqi.policy.model import Atom, Combo, Node, Policy, iter_atoms
from quanhuiqi.tables.io import InputError

SWEEP_KEYS = {"policy", "path", "values", "note"}
AMOUNT_PATHS = {"benefit.max_amount": "max_amount", "benefit.rate": "amount_rate"}

# Conversions into a field's unit: {field unit: {unit as written: factor}}.
UNIT_FACTORS: dict[str, dict[str, float]] = {
    "万元": {"万元": 1.0, "万": 1.0, "元": 1e-4, "千元": 0.1, "百万元": 100.0, "百万": 100.0, "亿元": 1e4, "亿": 1e4},
    "ratio": {"%": 0.01, "％": 0.01, "‰": 0.001},
    "月": {"月": 1.0, "个月": 1.0},
    "年": {"年": 1.0},
    "人": {"人": 1.0, "名": 1.0},
}
_NUMBER_WITH_UNIT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([^\d\s.+-][^\s]*)?\s*$")


class VariationError(InputError):
    """A sweep file was refused; ``errors`` lists every problem, each naming the entry, policy and path."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} error(s) in the sweep file:\n" + "\n".join("  " + e for e in self.errors))


@dataclass(frozen=True)
class Variant:
    """One value of a sweep: the policy with that value in place."""

    policy_id: str
    path: str
    value: Any  # as written in the file
    label: str  # ``PATH=VALUE``: the ``variant`` column of the outputs
    policy: Policy
    x: float | None  # the value as a number on the curve (threshold, amount); None for codes and lists


@dataclass(frozen=True)
class Sweep:
    """One entry of the sweep file: a policy, a path and its variants (in the file's order)."""

    policy_id: str
    path: str
    what: str  # the varied test or amount rule as a person reads it (``revenue gt``, ``max_amount``)
    unit: str | None
    current: Any  # the policy's own value at that path, as written
    variants: tuple[Variant, ...]


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def tree_paths(node: Node) -> list[str]:
    """Every node path of a tree in document order (combinators and tests)."""
    out = [node.path]
    if isinstance(node, Combo):
        for c in node.children:
            out += tree_paths(c)
    return out


def find_node(node: Node, path: str) -> Node | None:
    if node.path == path:
        return node
    if isinstance(node, Combo) and path.startswith(node.path):
        for c in node.children:
            hit = find_node(c, path)
            if hit is not None:
                return hit
    return None


def replace_node(node: Node, path: str, new: Node) -> Node:
    """The tree with the node at ``path`` replaced (frozen dataclasses: the path to it is rebuilt)."""
    if node.path == path:
        return new
    if isinstance(node, Combo) and path.startswith(node.path):
        return dataclasses.replace(node, children=tuple(replace_node(c, path, new) for c in node.children))
    return node


def number_in_unit(value: Any, unit: str | None) -> tuple[float | None, str | None]:
    """(number in the field's unit, error) for a value that may carry a unit (``300万元``, ``15%``)."""
    if isinstance(value, bool):
        return None, f"{value!r} is not a number"
    if isinstance(value, int | float):
        return (float(value), None) if math.isfinite(float(value)) else (None, f"{value!r} is not a finite number")
    if not isinstance(value, str):
        return None, f"{value!r} is not a number"
    m = _NUMBER_WITH_UNIT.match(value)
    if not m:
        return None, f"{value!r} is not a number (a unit may follow it: 300万元, 15%)"
    number, written = float(m.group(1)), (m.group(2) or "")
    if not written:
        return number, None
    factors = UNIT_FACTORS.get(unit or "", {})
    if written == unit:
        return number, None
    if written in factors:
        return number * factors[written], None
    accepted = ", ".join(sorted({unit or "", *factors} - {""}))
    return None, (f"{value!r} is in {written}, the field is in {unit}" + (f" (accepted: {accepted})" if accepted else "")
                  if unit else f"{value!r} carries a unit ({written}); the field has none: write a plain number")


def _with_units(raw: Any, unit: str | None, op: str) -> tuple[Any, str | None]:
    """Numbers written with units converted (lists element by element)."""
    if isinstance(raw, list):
        out = []
        for v in raw:
            x, err = number_in_unit(v, unit)
            if err:
                return None, err
            out.append(x)
        return out, None
    return number_in_unit(raw, unit)


def _checker():
    # the loader's own value checker: a value the book would refuse is refused here, with the same words
    from quanhuiqi.policy.load import _Checker

    return _Checker()


def _atom_variant(policy: Policy, atom: Atom, raw: Any, fields: dict, where: str) -> tuple[Policy | None, str | None]:
    fld = fields[atom.field]
    value = raw
    if fld.type == "number":
        value, err = _with_units(raw, fld.unit, atom.op)
        if err:
            return None, f"{where}: {err}"
    if hasattr(raw, "isoformat") or fld.type == "date":
        value = raw.isoformat() if hasattr(raw, "isoformat") else raw
    chk = _checker()
    norm = chk.operand(where, fld, atom.op, value, True)
    if chk.errors:
        return None, chk.errors[0]
    if norm is None:
        return None, f"{where}: value {raw!r} is not valid for {atom.field} {atom.op}"
    new = dataclasses.replace(atom, value=norm, raw=value)
    return dataclasses.replace(policy, condition=replace_node(policy.condition, atom.path, new)), None


def _amount_variant(policy: Policy, attr: str, raw: Any, where: str) -> tuple[Policy | None, str | None]:
    x, err = number_in_unit(raw, "万元" if attr == "max_amount" else "ratio")
    if err:
        return None, f"{where}: {err}"
    if x is None or x < 0:
        return None, f"{where}: {raw!r} must be a non-negative number"
    return dataclasses.replace(policy, **{attr: x}), None


def _x(policy: Policy, path: str, fields: dict) -> float | None:
    """Where a variant sits on the curve: its number in the field's unit (None for codes, categories, lists)."""
    if path in AMOUNT_PATHS:
        return getattr(policy, AMOUNT_PATHS[path])
    node = find_node(policy.condition, path)
    v = getattr(node, "value", None)
    if fields[node.field].type != "number" or isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def build_sweeps(doc: Any, book, source: str = "sweep") -> list[Sweep]:
    """Check a parsed sweep document against ``book``; every problem is collected, then refused at once."""
    errors: list[str] = []
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list) or not doc:
        raise VariationError([f"{source}: expected a list of {{policy, path, values}}"])
    sweeps: list[Sweep] = []
    for i, entry in enumerate(doc):
        at = f"{source}[{i}]"
        if not isinstance(entry, dict):
            errors.append(f"{at}: expected a mapping {{policy, path, values}}")
            continue
        unknown = sorted(map(str, set(entry) - SWEEP_KEYS))
        if unknown:
            errors.append(f"{at}: unknown key(s) {', '.join(unknown)} (a sweep is {{policy, path, values}})")
        missing = [k for k in ("policy", "path", "values") if k not in entry]
        if missing:
            errors.append(f"{at}: missing {', '.join(missing)}")
            continue
        pid, path, values = entry["policy"], entry["path"], entry["values"]
        if not isinstance(pid, str) or pid not in book.by_id:
            close = difflib.get_close_matches(str(pid), list(book.by_id), n=1)
            errors.append(f"{at}: policy {pid!r} is not in the policy book"
                          + (f" (did you mean {close[0]!r}?)" if close else ""))
            continue
        policy = book.by_id[pid]
        where = f"{at}: policy {pid}: {path}"
        if not isinstance(values, list) or not values:
            errors.append(f"{where}: values must be a non-empty list")
            continue
        seen = [_shown(v) for v in values]
        dup = sorted({s for s in seen if seen.count(s) > 1})
        if dup:
            errors.append(f"{where}: value(s) {', '.join(dup)} listed twice")
            continue
        if not isinstance(path, str):
            errors.append(f"{at}: policy {pid}: path {path!r} must be text such as eligibility.all[2]")
            continue
        if path in AMOUNT_PATHS:
            attr = AMOUNT_PATHS[path]
            if attr == "amount_rate" and policy.amount_base is None:
                errors.append(f"{where}: the policy's amount rule has no base field (benefit.base): a rate × base "
                              f"needs one — vary benefit.max_amount, or give the policy a rate and a base first")
                continue
            what, unit, current = attr, ("万元" if attr == "max_amount" else "ratio"), getattr(policy, attr)
            made = [_amount_variant(policy, attr, v, f"{where}={_shown(v)}") for v in values]
        else:
            node = find_node(policy.condition, path)
            if node is None:
                tests = [a.path for a in iter_atoms(policy.condition)]
                close = difflib.get_close_matches(path, tests, n=1)
                errors.append(f"{where}: no such node in the policy's tree"
                              + (f" (did you mean {close[0]}?)" if close else "")
                              + f"; its tests: {', '.join(tests[:12])}" + (" …" if len(tests) > 12 else "")
                              + f"; amount rules: {', '.join(AMOUNT_PATHS)}")
                continue
            if isinstance(node, Combo):
                kids = [c.path for c in node.children]
                errors.append(f"{where}: is a{'n' if node.kind == 'all' or node.kind == 'any' else ''} "
                              f"{node.kind} combinator, not a test; sweep one of its tests: {', '.join(kids[:6])}")
                continue
            if node.op in ("exists", "missing"):
                errors.append(f"{where}: {node.field} {node.op} takes no value: there is nothing to vary")
                continue
            fld = book.fields[node.field]
            what, unit, current = f"{node.field} {node.op}", fld.unit, node.raw
            made = [_atom_variant(policy, node, v, book.fields, f"{where}={_shown(v)}") for v in values]
        bad = [e for _, e in made if e]
        if bad:
            errors += bad
            continue
        variants = tuple(
            Variant(pid, path, v, f"{path}={_shown(v)}", p, _x(p, path, book.fields))
            for v, (p, _) in zip(values, made, strict=True)
        )
        sweeps.append(Sweep(pid, path, what, unit, current, variants))
    if errors:
        raise VariationError(errors)
    labels = [(v.policy_id, v.label) for s in sweeps for v in s.variants]
    twice = sorted({f"{p} {lab}" for p, lab in labels if labels.count((p, lab)) > 1})
    if twice:
        raise VariationError([f"{source}: variant {t} appears in two sweeps" for t in twice])
    return sweeps


def read_sweeps(source: str | os.PathLike | list | dict, book) -> list[Sweep]:
    """Sweeps from a YAML file (or an already parsed list of ``{policy, path, values}``), checked against
    ``book``; ``VariationError`` names every entry it refuses."""
    if isinstance(source, list | dict):
        return build_sweeps(source, book, "vary")
    p = Path(source)
    if not p.is_file():
        raise InputError(f"{p}: sweep file not found")
    from quanhuiqi.policy.load import safe_load

    try:
        doc = safe_load(p.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - YAML errors, bad UTF-8, impossible dates: all refuse the file
        raise InputError(f"{p}: not valid YAML ({type(exc).__name__}: {str(exc)[:160]})") from exc
    return build_sweeps(doc, book, str(p))
