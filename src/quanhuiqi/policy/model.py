"""The policy language as plain data: condition trees, tests, policies.

Everything here is built by :mod:`quanhuiqi.policy.load` from YAML that was checked node by node;
nothing in a policy file is ever executed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

OPERATORS = (
    "eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "between",
    "under", "not_under", "has", "has_any", "has_all", "exists", "missing", "in_list", "not_in_list",
)  # fmt: skip
COMBINATORS = ("all", "any", "not")
MODES = ("auto", "instant", "apply")
VERDICTS = ("eligible", "undetermined", "ineligible")

# Which operators each field type accepts.
OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "number": ("eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "between", "exists", "missing"),
    "date": ("eq", "ne", "gt", "ge", "lt", "le", "between", "exists", "missing"),
    "ordinal": ("eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "between", "exists", "missing"),
    "category": ("eq", "ne", "in", "not_in", "exists", "missing"),
    "text": ("eq", "ne", "in", "not_in", "exists", "missing"),
    "code": ("eq", "ne", "in", "not_in", "under", "not_under", "exists", "missing", "in_list", "not_in_list"),
    "bool": ("eq", "ne", "exists", "missing"),
    "set": ("has", "has_any", "has_all", "exists", "missing"),
}

# Negation in Kleene logic swaps true and false and keeps unknown, so every operator is a base
# test or the negation of one: the engine evaluates each base test once and shares it.
BASE_OF: dict[str, tuple[str, bool]] = {
    "eq": ("in", False),
    "ne": ("in", True),
    "in": ("in", False),
    "not_in": ("in", True),
    "gt": ("gt", False),
    "le": ("gt", True),
    "ge": ("ge", False),
    "lt": ("ge", True),
    "between": ("between", False),
    "under": ("under", False),
    "not_under": ("under", True),
    "has": ("has_any", False),
    "has_any": ("has_any", False),
    "has_all": ("has_all", False),
    "exists": ("exists", False),
    "missing": ("exists", True),
    "in_list": ("in_list", False),  # a named industry list (value: a reference.industry_lists.IndustryList)
    "not_in_list": ("in_list", True),
}
ONCE = ("lifetime", "year")
STATUSES = ("reviewed", "draft")


@dataclass(frozen=True)
class Atom:
    """One test ``field op value`` as written; ``value`` is already normalised (floats, day numbers,
    canonical codes, sorted tuples)."""

    field: str
    op: str
    value: Any
    path: str
    ref: str | None = None
    raw: Any = None  # the value as written, for display

    @property
    def key(self) -> tuple[str, str, Any]:
        """The shared base test (field, base op, value); see :data:`BASE_OF`."""
        base, _ = BASE_OF[self.op]
        value = self.value
        if self.op in ("eq", "ne", "has"):
            value = (value,)
        if base == "has_all" and len(value) == 1:
            base = "has_any"
        return (self.field, base, value)

    @property
    def negated(self) -> bool:
        return BASE_OF[self.op][1]


@dataclass(frozen=True)
class Combo:
    kind: str  # all | any | not
    children: tuple[Node, ...]
    path: str
    ref: str | None = None


Node = Atom | Combo


@dataclass(frozen=True)
class PolicyTest:
    facts: dict[str, Any]
    expect: str
    path: str
    as_of: dt.date | None = None


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    department: str
    mode: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    condition: Node
    file: str
    benefit_kind: str | None = None
    max_amount: float | None = None
    amount_rate: float | None = None
    amount_base: str | None = None
    tests: tuple[PolicyTest, ...] = ()
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    year: int | None = None  # the policy's own reference year (申报年度): relative years resolve against it
    review: str | None = None  # a discretionary step (经审定, 择优): never auto; pairs say 须经审定
    once: str | None = None  # lifetime | year: granted at most once per enterprise
    exclusive_group: str | None = None  # 就高不重复: one grant among the policies of the group
    exclusive_per: str = "year"  # year | lifetime
    status: str = "reviewed"  # draft policies are refused by load_book
    tiers: tuple[tuple[float, Node], ...] = ()  # (amount, condition): the amount follows the highest proven tier

    def active(self, as_of: dt.date) -> bool:
        """``valid_from ≤ as_of ≤ valid_to`` (an open end is unbounded)."""
        return (self.valid_from is None or self.valid_from <= as_of) and (
            self.valid_to is None or as_of <= self.valid_to
        )


def iter_atoms(node: Node):
    """Leaves of a tree in document order."""
    if isinstance(node, Atom):
        yield node
    else:
        for c in node.children:
            yield from iter_atoms(c)
