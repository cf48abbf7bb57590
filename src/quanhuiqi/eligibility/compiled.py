"""A policy book compiled once: distinct base tests shared across policies, trees in negation
normal form (negation pushed to the leaves, which in Kleene logic just swaps true and false),
one codec per tested field, and a flat level-by-level layout for the online path."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quanhuiqi.eligibility.codecs import Codec, make_codec
from quanhuiqi.policy.model import Atom, Node, Policy


@dataclass(frozen=True)
class Leaf:
    atom: int  # index of the base test
    neg: bool
    source: Atom  # as written (for evidence and gaps)
    leaf_id: int  # index among the policy's leaves


@dataclass(frozen=True)
class Gate:
    kind: str  # all | any
    children: tuple
    gid: int = -1  # structurally equal gates (across policies) share an id (for memoised evaluation)


CNode = Leaf | Gate


def _skey(node: CNode, gates: dict) -> tuple:
    return ("L", node.atom, node.neg) if isinstance(node, Leaf) else ("G", node.gid)


def _nnf(node: Node, neg: bool, atoms: dict, leaves: list, gates: dict) -> CNode:
    if isinstance(node, Atom):
        key = node.key
        idx = atoms.setdefault(key, len(atoms))
        leaf = Leaf(idx, node.negated != neg, node, len(leaves))
        leaves.append(leaf)
        return leaf
    if node.kind == "not":
        return _nnf(node.children[0], not neg, atoms, leaves, gates)
    kind = node.kind if not neg else ("any" if node.kind == "all" else "all")
    kids = tuple(_nnf(c, neg, atoms, leaves, gates) for c in node.children)
    skey = (kind, tuple(sorted(_skey(k, gates) for k in kids)))
    return Gate(kind, kids, gates.setdefault(skey, len(gates)))


@dataclass
class CompiledPolicy:
    policy: Policy
    root: CNode
    leaves: list[Leaf]
    tiers: list[tuple[float, CNode, list[Leaf]]] = field(default_factory=list)  # amount tiers (not gates)


class CompiledBook:
    """Everything the engine needs, built once per book."""

    def __init__(self, policies: list[Policy], fields: dict):
        self.fields = fields
        atoms: dict[tuple, int] = {}
        gates: dict[tuple, int] = {}
        self.policies: list[CompiledPolicy] = []
        for p in policies:
            leaves: list[Leaf] = []
            root = _nnf(p.condition, False, atoms, leaves, gates)
            cp = CompiledPolicy(p, root, leaves)
            for amount, cond in p.tiers:
                tl: list[Leaf] = []
                cp.tiers.append((amount, _nnf(cond, False, atoms, tl, gates), tl))
            self.policies.append(cp)
        self.n_gates = len(gates)
        self.atom_keys: list[tuple] = [None] * len(atoms)  # type: ignore[list-item]
        for key, i in atoms.items():
            self.atom_keys[i] = key
        by_field: dict[str, list[int]] = {}
        for i, (fname, _, _) in enumerate(self.atom_keys):
            by_field.setdefault(fname, []).append(i)
        # virtual and computed fields: derived from the fact tables before encoding
        self.derived_fields = [fields[f] for f in by_field if getattr(fields[f], "derived", None) is not None]
        self.codecs: dict[str, Codec] = {}
        self.codec_atoms: dict[str, np.ndarray] = {}
        self.atom_field_pos = np.zeros(len(self.atom_keys), dtype=np.int64)
        for fname, idxs in by_field.items():
            self.codecs[fname] = make_codec(
                fields[fname], [(self.atom_keys[i][1], self.atom_keys[i][2]) for i in idxs]
            )
            self.codec_atoms[fname] = np.array(idxs, dtype=np.int64)
            self.atom_field_pos[idxs] = np.arange(len(idxs))
        self._build_levels()

    @property
    def n_atoms(self) -> int:
        return len(self.atom_keys)

    def _build_levels(self) -> None:
        """Flatten every tree into gates grouped by height, children contiguous, for reduceat.

        Values are Kleene codes 0 false, 1 unknown, 2 true: all = min, any = max, a negated
        leaf is 2 − v.  Slots 0..n_leaves-1 hold the leaves of all policies.
        """
        leaf_atom, leaf_neg = [], []
        gates: list[tuple[int, str, list[int]]] = []  # (height, kind, child slots)
        n_leaf_slots = sum(len(cp.leaves) for cp in self.policies)
        slot_of_gate: list[int] = []
        next_leaf = 0
        roots = []

        def walk(node: CNode) -> tuple[int, int]:
            nonlocal next_leaf
            if isinstance(node, Leaf):
                leaf_atom.append(node.atom)
                leaf_neg.append(node.neg)
                next_leaf += 1
                return next_leaf - 1, 0
            kids = [walk(c) for c in node.children]
            height = 1 + max(h for _, h in kids)
            gates.append((height, node.kind, [s for s, _ in kids]))
            slot = n_leaf_slots + len(gates) - 1
            slot_of_gate.append(slot)
            return slot, height

        for cp in self.policies:
            roots.append(walk(cp.root)[0])
        self.leaf_atom = np.array(leaf_atom, dtype=np.int64)
        self.leaf_neg = np.array(leaf_neg, dtype=bool)
        self.n_slots = n_leaf_slots + len(gates)
        self.roots = np.array(roots, dtype=np.int64)
        levels = []
        for h in sorted({g[0] for g in gates}):
            for kind in ("all", "any"):
                sel = [i for i, g in enumerate(gates) if g[0] == h and g[1] == kind]
                if not sel:
                    continue
                child = np.concatenate([np.array(gates[i][2], dtype=np.int64) for i in sel])
                sizes = np.array([len(gates[i][2]) for i in sel])
                offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
                levels.append(
                    (kind, np.array([slot_of_gate[i] for i in sel], dtype=np.int64), child, offsets)
                )
        self.levels = levels
