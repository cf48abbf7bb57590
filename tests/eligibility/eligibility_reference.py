"""A slow, obviously-correct evaluator: one enterprise, one policy, recursion over the tree as
written (no normal form, no codes, no bitmaps), straight from DESIGN.md's semantics.

Kleene values: 2 true, 1 unknown, 0 false.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from quanhuiqi.policy.model import Atom
from quanhuiqi.reference.industries import could_lie_under, lookup_industry

T, U, F = 2, 1, 0


def _na(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return False


def fact(field, v):
    """The row's value as a plain Python value in the policy's terms; None when unknown."""
    t = field.type
    if t == "set":
        return frozenset() if _na(v) else frozenset(x for x in str(v).split(";") if x)
    if _na(v) or (isinstance(v, str) and not v.strip()):
        return None
    if t == "number":
        return float(v)
    if t == "date":
        d = pd.Timestamp(v).date()
        return float((d - dt.date(1970, 1, 1)).days)
    if t == "ordinal":
        return float(field.values.index(v)) if v in field.values else None
    if t == "bool":
        return bool(v)
    if t == "code" and field.hierarchy == "industry":
        try:
            return lookup_industry(str(v)).code
        except KeyError:
            return None
    if t == "code" and field.hierarchy == "district":
        return str(v) if len(str(v)) == 6 and str(v).isdigit() else None
    if field.values is not None and str(v) not in field.values:
        return None
    return str(v)


def district_prefix(code: str) -> str:
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def k_not(v: int) -> int:
    return 2 - v


def k_or(vs) -> int:
    return max(vs, default=F)


def code_eq(field, x: str, v: str) -> int:
    if x == v:
        return T
    if field.hierarchy == "industry":
        return U if could_lie_under(v, x) is True else F  # x is a coarser ancestor of v
    if field.hierarchy == "district":
        return U if v.startswith(district_prefix(x)) else F
    return F


def code_under(field, x: str, p: str) -> int:
    if field.hierarchy == "industry":
        r = could_lie_under(x, p)
        return T if r is True else (U if r is None else F)
    kp = district_prefix(x)
    if kp.startswith(p):
        return T
    return U if p.startswith(kp) else F


def atom_value(fields, atom: Atom, row) -> int:
    field = fields[atom.field]
    x = fact(field, row.get(atom.field))
    op, v = atom.op, atom.value
    if op == "exists":
        raw = row.get(atom.field)
        return (
            F
            if _na(raw)
            or (field.type != "set" and isinstance(raw, str) and not raw.strip())
            or (field.type != "set" and x is None)
            else T
        )
    if op == "missing":
        return k_not(atom_value(fields, Atom(atom.field, "exists", None, atom.path), row))
    if field.type == "set":
        if op == "has":
            return T if v in x else F
        if op == "has_any":
            return T if set(v) & x else F
        if op == "has_all":
            return T if set(v) <= x else F
    if x is None:
        return U
    if op in ("eq", "ne"):
        r = code_eq(field, x, v) if field.type == "code" else (T if x == v else F)
        return r if op == "eq" else k_not(r)
    if op in ("in", "not_in"):
        r = k_or(code_eq(field, x, e) if field.type == "code" else (T if x == e else F) for e in v)
        return r if op == "in" else k_not(r)
    if op in ("under", "not_under"):
        r = k_or(code_under(field, x, p) for p in v)
        return r if op == "under" else k_not(r)
    if op == "gt":
        return T if x > v else F
    if op == "ge":
        return T if x >= v else F
    if op == "lt":
        return T if x < v else F
    if op == "le":
        return T if x <= v else F
    if op == "between":
        return T if v[0] <= x <= v[1] else F
    raise AssertionError(op)


def node_value(fields, node, row, force: dict | None = None) -> int:
    if isinstance(node, Atom):
        if force and node.path in force:
            return force[node.path]
        return atom_value(fields, node, row)
    vs = [node_value(fields, c, row, force) for c in node.children]
    if node.kind == "not":
        return k_not(vs[0])
    return min(vs) if node.kind == "all" else max(vs)


def settling_fields(fields, node, row) -> set[str]:
    """Fields of the unknown tests on all-unknown paths: the facts to supply."""
    v = node_value(fields, node, row)
    if v != U:
        return set()
    if isinstance(node, Atom):
        return {node.field}
    out: set[str] = set()
    for c in node.children:
        out |= settling_fields(fields, c, row)
    return out


def atoms_with_parity(node, parity: int = 0):
    if isinstance(node, Atom):
        yield node, parity
    else:
        for c in node.children:
            yield from atoms_with_parity(c, parity ^ (node.kind == "not"))


def verdict(policy, fields, row, as_of: dt.date) -> int:
    if not policy.active(as_of):
        return F
    return node_value(fields, policy.condition, row)


def near_miss_atoms(policy, fields, row) -> list[str]:
    """Paths of the false tests whose flip alone (to what the tree needs) makes the policy true."""
    if node_value(fields, policy.condition, row) != F:
        return []
    out = []
    for atom, parity in atoms_with_parity(policy.condition):
        want = F if parity else T
        if (
            atom_value(fields, atom, row) == k_not(want)
            and node_value(fields, policy.condition, row, {atom.path: want}) == T
        ):
            out.append(atom.path)
    return out
