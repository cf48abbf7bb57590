"""Overlap with the policies already in force: the same enterprises funded twice.

For each simulated policy: how many of its eligible enterprises are also eligible for another in-force
policy of the same benefit kind (补贴 and 补贴, 奖励 and 奖励: funded twice for the same thing); how many
already hold a grant of that kind (the grants history); and its in-force partners
sharing most eligible enterprises, exactly counted.  Partners are screened on the estimation sample (a
packed AND per pair of policies), then the best few counted on the whole city.  Exclusive groups (就高不重复,
one grant within the group) are named when the book declares them; every in-force member of the policy's
group is then a partner whatever its overlap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.simulate.estimate import unpack
from quanhuiqi.simulate.kernel import Entry, pack

SCREEN_WORDS = 256  # 16,384 random rows of the sample screen the partners
SCREEN_MIN = 30  # eligible sample rows below which partners are screened on the whole city
EXACT_MAX = 400  # ... when there are at most this many candidates
OVERLAP_COLUMNS = ["policy_id", "variant", "overlap_same_kind", "overlap_same_kind_payout", "granted_same_kind"]
PARTNER_COLUMNS = ["policy_id", "variant", "other_policy_id", "other_title", "other_department", "same_kind",
                   "exclusive_group", "both_eligible", "share_of_eligible"]


def exclusive_group(policy) -> str | None:
    """The policy's exclusive group (就高不重复), when the book declares one (the policy language's ``exclusive``,
    read by the loader into ``Policy.exclusive_group``)."""
    ex = getattr(policy, "exclusive_group", None) or getattr(policy, "exclusive", None)
    if ex is None:
        ex = (policy.extra or {}).get("exclusive")
    if isinstance(ex, dict):
        ex = ex.get("group")
    if ex is None:
        return None
    return str(getattr(ex, "group", ex))


def _kind(p) -> str:
    return p.benefit_kind or ""


def _unions(E: np.ndarray, members: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(at least one, at least two) of the members' eligible planes."""
    one = np.zeros(E.shape[1], dtype=np.uint64)
    two = np.zeros(E.shape[1], dtype=np.uint64)
    for j in members:
        two |= one & E[j]
        one |= E[j]
    return one, two


def overlap(entries: list[Entry], E: np.ndarray, sample_E: np.ndarray, n: int, pair_amounts, granted: dict[str, np.ndarray],
            top: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per simulated entry summary, partner pairs).

    ``pair_amounts(j, rows)`` gives the central amounts of entry ``j``'s eligible pairs at ``rows``; ``granted``
    maps a benefit kind to the enterprises (booleans over the profile) holding a grant of an in-force policy of
    that kind."""
    in_force = [j for j, e in enumerate(entries) if e.in_force]
    by_kind: dict[str, list[int]] = {}
    for j in in_force:
        by_kind.setdefault(_kind(entries[j].policy), []).append(j)
    unions = {k: _unions(E, m) for k, m in by_kind.items()}
    kind_members = {k: np.array(m, dtype=np.int64) for k, m in by_kind.items()}
    kind_ids = {k: np.array([entries[q].policy.id for q in m], dtype=object) for k, m in by_kind.items()}
    granted_planes = {k: pack(v) for k, v in granted.items()}
    group_of = {j: exclusive_group(entries[j].policy) for j in range(len(entries))}
    members: dict[str, list[int]] = {}
    for j in in_force:
        if group_of[j] is not None:
            members.setdefault(group_of[j], []).append(j)
    screen_E = sample_E[:, :SCREEN_WORDS]  # the sample's rows are in random order: its first words are a random subset
    rows_out, partners = [], []
    for j, e in enumerate(entries):
        if not e.simulated:
            continue
        p = e.policy
        k = _kind(p)
        one, two = unions.get(k, (None, None))
        if one is None:
            same = np.zeros_like(E[j])
        else:
            same = E[j] & (two if e.in_force else one)
        n_same = int(np.bitwise_count(same).sum())
        pay = 0.0
        if n_same:
            if p.amount_rate is None:
                pay = n_same * (p.max_amount if p.max_amount is not None else np.nan)
            else:
                pay = float(pair_amounts(j, np.flatnonzero(unpack(same, n))).sum())
        g = granted_planes.get(k)
        rows_out.append({"entry": j, "overlap_same_kind": n_same, "overlap_same_kind_payout": pay,
                         "granted_same_kind": int(np.bitwise_count(E[j] & g).sum()) if g is not None else 0})
        group = group_of[j]
        c = kind_members.get(k, np.zeros(0, dtype=np.int64))
        c = c[kind_ids[k] != p.id] if c.size else c
        grouped = [q for q in members.get(group, []) if entries[q].policy.id != p.id] if group is not None else []
        chosen: list[int] = list(grouped)
        if c.size:
            if np.bitwise_count(screen_E[j]).sum() < SCREEN_MIN and c.size <= EXACT_MAX:
                screen = np.bitwise_count(E[c] & E[j][None, :]).sum(axis=1)  # too few in the sample: count all
            else:
                screen = np.bitwise_count(screen_E[c] & screen_E[j][None, :]).sum(axis=1)
            screen = screen.astype(np.int64)  # popcounts are unsigned: negating them would wrap around
            for i in np.lexsort((c, -screen))[:top]:
                if screen[i] > 0 and int(c[i]) not in chosen:
                    chosen.append(int(c[i]))
        if not chosen:
            continue
        both = np.bitwise_count(E[chosen] & E[j][None, :]).sum(axis=1)
        n_elig = int(np.bitwise_count(E[j]).sum())
        for q, b in zip(chosen, both.tolist(), strict=True):
            if b == 0 and q not in grouped:
                continue
            o = entries[q].policy
            partners.append({"entry": j, "other_policy_id": o.id, "other_title": o.title, "other_department": o.department,
                             "same_kind": _kind(o) == k, "exclusive_group": group if q in grouped else None,
                             "both_eligible": int(b), "share_of_eligible": b / n_elig if n_elig else np.nan})
    summary = pd.DataFrame(rows_out, columns=["entry", *OVERLAP_COLUMNS[2:]])
    pairs = pd.DataFrame(partners, columns=["entry", *PARTNER_COLUMNS[2:]])
    if len(pairs):
        pairs = pairs.sort_values(["entry", "both_eligible", "other_policy_id"], ascending=[True, False, True],
                                  kind="stable").reset_index(drop=True)
    return summary, pairs
