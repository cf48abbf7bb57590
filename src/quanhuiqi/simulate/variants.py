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
    fields: dict = dataclasses.field(default_factory=dict)  # derived fields the variant adds (a record count)


@dataclass(frozen=True)
class Sweep:
    """One entry of the sweep file: a policy, a path and its variants (in the file's order)."""

    policy_id: str
    path: str
    what: str  # the varied test or amount rule as a person reads it (``revenue gt``, ``max_amount``)
    unit: str | None
    current: Any  # the policy's own value at that path, as written
    variants: tuple[Variant, ...]
    current_x: float | None = None  # the current value on the curve


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


def trees(policy: Policy) -> list[Node]:
    """The policy's condition trees: eligibility, then each amount tier's condition (``benefit.tiers[i].when``)."""
    return [policy.condition] + [cond for _, cond in getattr(policy, "tiers", ()) or ()]


def find_any(policy: Policy, path: str) -> Node | None:
    for root in trees(policy):
        hit = find_node(root, path)
        if hit is not None:
            return hit
    return None


def with_node(policy: Policy, path: str, new: Node) -> Policy:
    """The policy with the node at ``path`` (in its eligibility tree or a tier's condition) replaced."""
    if find_node(policy.condition, path) is not None:
        return dataclasses.replace(policy, condition=replace_node(policy.condition, path, new))
    tiers = tuple((a, replace_node(c, path, new)) for a, c in policy.tiers)
    return dataclasses.replace(policy, tiers=tiers)


def _record_fact(fld):
    d = getattr(fld, "derived", None)
    return d if type(d).__name__ == "RecordFact" else None


def _atom_variant(policy: Policy, atom: Atom, raw: Any, fields: dict, where: str
                  ) -> tuple[Policy | None, dict, str | None]:
    """(the varied policy, new fields it needs, error)."""
    fld = fields[atom.field]
    fact = _record_fact(fld)
    if fact is not None:  # a record count: the threshold lives in the derived field
        return _count_variant(policy, atom, fld, fact, raw, where)
    value = raw
    if fld.type == "number":
        value, err = _with_units(raw, fld.unit, atom.op)
        if err:
            return None, {}, f"{where}: {err}"
    if hasattr(raw, "isoformat") or fld.type == "date":
        value = raw.isoformat() if hasattr(raw, "isoformat") else raw
    chk = _checker()
    norm = chk.operand(where, fld, atom.op, value, True)
    if chk.errors:
        return None, {}, chk.errors[0]
    if norm is None:
        return None, {}, f"{where}: value {raw!r} is not valid for {atom.field} {atom.op}"
    new = dataclasses.replace(atom, value=norm, raw=value)
    return with_node(policy, atom.path, new), {}, None


def _count_variant(policy: Policy, atom: Atom, fld, fact, raw: Any, where: str) -> tuple[Policy | None, dict, str | None]:
    """``count_le V`` / ``count_ge V`` over a record table: the loader writes them as ``count_ge{N} eq false``
    (N = V + 1) and ``count_ge{V} eq true``; a new value makes a new derived field."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or float(raw) != int(raw) or raw < 0:
        return None, {}, f"{where}: {raw!r} must be a whole number of records (≥ 0)"
    negative = atom.value is False  # count_le: "not at least V + 1"
    threshold = int(raw) + 1 if negative else int(raw)
    if threshold < 1:
        return None, {}, f"{where}: count_ge 0 holds for every enterprise: nothing would be tested"
    new_fact = dataclasses.replace(fact, threshold=threshold)
    new_field = dataclasses.replace(fld, name=new_fact.name, derived=new_fact, label=new_fact.label())
    new = dataclasses.replace(atom, field=new_fact.name, raw=raw)
    return with_node(policy, atom.path, new), {new_fact.name: new_field}, None


def _amount_variant(policy: Policy, attr: str, raw: Any, where: str) -> tuple[Policy | None, dict, str | None]:
    x, err = number_in_unit(raw, "万元" if attr != "amount_rate" else "ratio")
    if err:
        return None, {}, f"{where}: {err}"
    if x is None or x < 0:
        return None, {}, f"{where}: {raw!r} must be a non-negative number"
    m = _TIER_AMOUNT.fullmatch(attr)
    if m:
        i = int(m.group(1))
        tiers = tuple((x if k == i else a, c) for k, (a, c) in enumerate(policy.tiers))
        return dataclasses.replace(policy, tiers=tiers, max_amount=max(a for a, _ in tiers)), {}, None
    return dataclasses.replace(policy, **{attr: x}), {}, None


_TIER_AMOUNT = re.compile(r"benefit\.tiers\[(\d+)\]\.amount")


def _x(policy: Policy, path: str, fields: dict) -> float | None:
    """Where a variant sits on the curve: its number in the field's unit (None for codes, categories, lists)."""
    if path in AMOUNT_PATHS:
        return getattr(policy, AMOUNT_PATHS[path])
    m = _TIER_AMOUNT.fullmatch(path)
    if m:
        return float(policy.tiers[int(m.group(1))][0])
    node = find_any(policy, path)
    fact = _record_fact(fields.get(node.field))
    if fact is not None and fact.test == "count_ge":
        return float(node.raw) if isinstance(node.raw, int | float) and not isinstance(node.raw, bool) else None
    v = getattr(node, "value", None)
    if fields[node.field].type != "number" or isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _paths_of(policy: Policy) -> list[str]:
    tests = [a.path for root in trees(policy) for a in iter_atoms(root)]
    amounts = list(AMOUNT_PATHS) + [f"benefit.tiers[{i}].amount" for i in range(len(getattr(policy, "tiers", ()) or ()))]
    return tests + amounts


def _target(policy: Policy, path: str, fields: dict, where: str) -> tuple[tuple | None, str | None]:
    """What a path names: ('amount', attr, unit, current) or ('atom', node, field, current); else an error."""
    tiers = getattr(policy, "tiers", ()) or ()
    m = _TIER_AMOUNT.fullmatch(path)
    if m:
        i = int(m.group(1))
        if i >= len(tiers):
            return None, f"{where}: the policy has {len(tiers)} amount tier(s)" + (
                f" (benefit.tiers[0] … benefit.tiers[{len(tiers) - 1}])" if tiers else "")
        return ("amount", path, "万元", tiers[i][0]), None
    if path in AMOUNT_PATHS:
        attr = AMOUNT_PATHS[path]
        if attr == "amount_rate" and policy.amount_base is None:
            return None, (f"{where}: the policy's amount rule has no base field (benefit.base): a rate × base needs one "
                          f"— vary benefit.max_amount, or give the policy a rate and a base first")
        if tiers:
            return None, f"{where}: the policy pays by tiers: vary benefit.tiers[i].amount instead"
        return ("amount", attr, "万元" if attr == "max_amount" else "ratio", getattr(policy, attr)), None
    node = find_any(policy, path)
    if node is None:
        tests = _paths_of(policy)
        close = difflib.get_close_matches(path, tests, n=1)
        return None, (f"{where}: no such node in the policy's tree" + (f" (did you mean {close[0]}?)" if close else "")
                      + f"; its tests and amounts: {', '.join(tests[:14])}" + (" …" if len(tests) > 14 else ""))
    if isinstance(node, Combo):
        kids = [c.path for c in node.children]
        article = "an" if node.kind in ("all", "any") else "a"
        return None, (f"{where}: is {article} {node.kind} combinator, not a test; sweep one of its tests: "
                      f"{', '.join(kids[:6])}")
    if node.op in ("exists", "missing"):
        return None, f"{where}: {node.field} {node.op} takes no value: there is nothing to vary"
    fld = fields[node.field]
    fact = _record_fact(fld)
    kind = type(getattr(fld, "derived", None)).__name__
    if kind == "AttestFact":
        return None, f"{where}: {fld.label or node.field} is a declaration (attest): nothing in the data to vary"
    if fact is not None and fact.test != "count_ge":
        return None, (f"{where}: {fld.label or node.field} is a record test ({fact.table} {fact.test}) without a number "
                      f"to vary; record counts (count_le, count_ge) and row or yearly thresholds can be swept")
    if fact is not None:
        op = "count_le" if node.value is False else "count_ge"
        current = fact.threshold - 1 if node.value is False else fact.threshold
        return ("atom", node, fld, f"{fact.table} {op}", None, current), None
    return ("atom", node, fld, f"{node.field} {node.op}", fld.unit, node.raw), None


def build_sweeps(doc: Any, book, source: str = "sweep") -> list[Sweep]:
    """Check a parsed sweep document against ``book``; every problem is collected, then refused at once.

    ``path`` is one path, or a list of paths moved together (a clause the policy states twice, in its conditions
    and in an amount tier, say); they must name the same kind of thing."""
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
        paths = path if isinstance(path, list) else [path]
        where = f"{at}: policy {pid}: {'&'.join(map(str, paths))}"
        if not isinstance(values, list) or not values:
            errors.append(f"{where}: values must be a non-empty list")
            continue
        seen = [_shown(v) for v in values]
        dup = sorted({s for s in seen if seen.count(s) > 1})
        if dup:
            errors.append(f"{where}: value(s) {', '.join(dup)} listed twice")
            continue
        if not paths or not all(isinstance(p, str) for p in paths):
            errors.append(f"{at}: policy {pid}: path {path!r} must be text such as eligibility.all[2] (or a list of them)")
            continue
        targets = [_target(policy, p, book.fields, f"{at}: policy {pid}: {p}") for p in paths]
        bad = [e for _, e in targets if e]
        if bad:
            errors += bad
            continue
        kinds = {(t[0], t[4] if t[0] == "atom" else t[2], t[2].type if t[0] == "atom" else None) for t, _ in targets}
        if len(kinds) > 1:
            errors.append(f"{where}: the paths moved together must name the same kind of value (one type and unit)")
            continue
        first = targets[0][0]
        if first[0] == "amount":
            what = "tier_amount" if _TIER_AMOUNT.fullmatch(first[1]) else first[1]
            unit, current = first[2], first[3]
        else:
            what, unit, current = first[3], first[4], first[5]
        current_x = (float(current) if isinstance(current, int | float) and not isinstance(current, bool)
                     and (first[0] == "amount" or first[2].type == "number" or _record_fact(first[2])) else None)
        made, extra_fields = [], []
        for v in values:
            p, new_fields, err = policy, {}, None
            for path_text, (t, _) in zip(paths, targets, strict=True):
                vwhere = f"{at}: policy {pid}: {path_text}={_shown(v)}"
                if t[0] == "amount":
                    p, nf, err = _amount_variant(p, t[1], v, vwhere)
                else:
                    p, nf, err = _atom_variant(p, find_any(p, t[1].path), v, {**book.fields, **new_fields}, vwhere)
                if err:
                    break
                new_fields.update(nf)
            if err:
                errors.append(err)
            made.append(p)
            extra_fields.append(new_fields)
        if len(errors) and any(m is None for m in made):
            continue
        label_path = "&".join(paths)
        variants = tuple(
            Variant(pid, label_path, v, f"{label_path}={_shown(v)}", p, _x(p, paths[0], {**book.fields, **nf}), nf)
            for v, p, nf in zip(values, made, extra_fields, strict=True)
        )
        sweeps.append(Sweep(pid, label_path, what, unit, current, variants, current_x))
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
