"""``evaluate``: every active policy × every enterprise, three-valued, with evidence, the facts
that would settle an undetermined verdict, near misses and the 免申即享 lists."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quanhuiqi.eligibility.compiled import CompiledBook
from quanhuiqi.eligibility.engine import (
    Encoded,
    Planes,
    encode,
    evaluate_planes,
    leaf_values,
    pairs_of,
    support,
    tree_values,
)
from quanhuiqi.eligibility.explain import (
    describe,
    display,
    display_arrow,
    evidence_piece,
    gap_text,
)

PAIR_COLUMNS = ["uscc", "policy_id", "verdict", "unknown", "evidence", "mode", "amount", "amount_max"]
BLOCKED_COLUMNS = ["uscc", "policy_id", "verdict", "rule", "blocking_policy", "granted_on"]
NEAR_MISS_COLUMNS = ["uscc", "policy_id", "failed", "gap", "field", "gap_value"]
AUTO_COLUMNS = ["policy_id", "uscc", "name", "evidence", "amount"]
REVIEW_PREFIX = "须经审定（{}）"
VERDICT_NAMES = np.array(["ineligible", "undetermined", "eligible"], dtype=object)


@dataclass
class EligibilityResult:
    """The day's verdicts.

    - ``pairs``: eligible and undetermined pairs only (ineligible is the rest), with ``unknown`` (the
      facts whose values would settle an undetermined verdict whatever they are), ``evidence`` (the
      true tests that carry the verdict, with the enterprise's values) and an estimated ``amount``.
    - ``near_misses``: ineligible pairs one test short — making that single false test true would
      make the pair eligible (for a plain ``all``: exactly one test false, every other true); the
      first such test in document order is named, with the gap (``营业收入差 120万元``).
    - ``auto_grants``: the 免申即享 lists — ``mode: auto`` and eligible, never undetermined.
    - ``counts``: one row per policy of the book (active or not).
    - ``blocked``: pairs the data proves (or may prove) eligible but a cross-policy rule rules out — granted
      once already (``once``), or another policy of the same exclusive group granted (就高不重复) — with the
      grant that blocks each.
    """

    pairs: pd.DataFrame
    near_misses: pd.DataFrame
    auto_grants: pd.DataFrame
    counts: pd.DataFrame
    book_version: str
    as_of: dt.date
    timings: dict[str, float] = field(default_factory=dict)
    blocked: pd.DataFrame = field(default_factory=lambda: empty_blocked())

    def auto_list(self, policy_id: str) -> pd.DataFrame:
        """The 免申即享 list of one auto policy."""
        return self.auto_grants[self.auto_grants["policy_id"] == policy_id].reset_index(drop=True)


def as_date(value: str | dt.date | pd.Timestamp) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"as_of {value!r} is not a date (expected YYYY-MM-DD)") from exc


def empty_blocked() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "granted_on" else "string")
                         for c in BLOCKED_COLUMNS})


def derived_for(cb: CompiledBook, profile: pd.DataFrame, facts, as_of: dt.date) -> dict[str, pd.Series]:
    """Columns of the book's derived fields: computed from ``facts`` when given; otherwise the profile's own
    columns of those names are used (a profile that already carries them), computed fields are computed from
    the profile, and record, yearly and attest facts are unknown (their tables were not supplied)."""
    if not cb.derived_fields:
        return {}
    if facts is not None and as_of is None:
        raise ValueError("derived facts need an as_of date")
    from quanhuiqi.eligibility.derive import derive_columns
    from quanhuiqi.policy.derived import ComputedFact

    if facts is None:
        todo = [f for f in cb.derived_fields if f.name not in profile.columns or isinstance(f.derived, ComputedFact)]
        return derive_columns(todo, profile, None, as_of)
    return derive_columns(cb.derived_fields, profile, facts, as_of)


def blocked_mask(
    cb: CompiledBook, profile: pd.DataFrame, rows: np.ndarray, pol_pos: np.ndarray, grants: pd.DataFrame | None,
    as_of: dt.date,
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Which pairs a cross-policy rule rules out, and (for those) the blocking grant.

    ``once``: a grant of the same policy (ever, or in the policy's year); ``exclusive``: a grant of another
    policy of the same group (in the year, or ever).  The policy's year is its own ``year`` or ``as_of``'s."""
    ruled = [i for i, cp in enumerate(cb.policies) if cp.policy.once or cp.policy.exclusive_group]
    if grants is None or not len(grants) or not ruled or not rows.size:
        return np.zeros(rows.size, dtype=bool), None
    pid_pos = {cp.policy.id: i for i, cp in enumerate(cb.policies)}
    g = pd.DataFrame({
        "row": pd.Index(profile["uscc"].astype("string")).get_indexer(grants["uscc"].astype("string")),
        "gpos": grants["policy_id"].astype("string").map(pid_pos).astype("float64").fillna(-1).astype(np.int64),
        "gpid": grants["policy_id"].astype("string"),
        "granted_on": pd.to_datetime(grants.get("granted_on", pd.Series(pd.NaT, index=grants.index)), errors="coerce"),
    })  # fmt: skip
    g = g[g["row"] >= 0]
    gyear = g["granted_on"].dt.year
    parts = []
    groups: dict[str, list[int]] = {}
    for i in ruled:
        grp = cb.policies[i].policy.exclusive_group
        if grp:
            groups.setdefault(grp, []).append(i)
    for i in ruled:
        pol = cb.policies[i].policy
        year = pol.year or as_of.year
        if pol.once:
            hit = g[(g["gpos"] == i) & ((pol.once == "lifetime") | (gyear == year))]
            parts.append(hit.assign(bpos=i, rule=f"once_{pol.once}"))
        if pol.exclusive_group:
            others = [j for j in groups[pol.exclusive_group] if j != i]
            others_ids = {cb.policies[j].policy.id for j in others}
            sel = g["gpid"].isin(others_ids) & ((pol.exclusive_per == "lifetime") | (gyear == year))
            parts.append(g[sel].assign(bpos=i, rule=f"exclusive:{pol.exclusive_group}"))
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.zeros(rows.size, dtype=bool), None
    b = pd.concat(parts, ignore_index=True).sort_values(["row", "bpos", "granted_on"], kind="stable")
    b = b.drop_duplicates(["row", "bpos"], keep="last")  # the latest blocking grant is named
    n_pol = len(cb.policies)
    bkey = b["row"].to_numpy(np.int64) * n_pol + b["bpos"].to_numpy(np.int64)
    pkey = rows.astype(np.int64) * n_pol + pol_pos.astype(np.int64)
    mask = np.isin(pkey, bkey)
    return mask, b.set_index(bkey)


def arrow_strings(values: np.ndarray | pd.Series | pd.Index) -> pa.Array:
    """``values`` as an Arrow string array (a pandas Arrow-backed column is used as it is)."""
    if isinstance(values, pd.Series | pd.Index):
        arr = pa.array(values.astype("string"), from_pandas=True)
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def take_strings(values: np.ndarray | pd.Series | pa.Array, index: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[index]`` as a pandas ``string`` array, gathered in Arrow (no Python object per row)."""
    src = values if isinstance(values, pa.Array) else arrow_strings(values)
    return pd.array(src.take(pa.array(np.asarray(index, dtype=np.int64))), dtype="string")


def active_index(cb: CompiledBook, as_of: dt.date) -> np.ndarray:
    return np.array([i for i, cp in enumerate(cb.policies) if cp.policy.active(as_of)], dtype=np.int64)


def _segments(keys: np.ndarray):
    """(key, start, stop) of runs of equal values in a sorted array."""
    if keys.size == 0:
        return
    cuts = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [keys.size]])
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        yield int(keys[a]), a, b


def _amount(cb: CompiledBook, enc: Encoded, cp, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(amount the facts prove, the most it can be): a cap, rate × base capped, or the tiers — the highest
    tier proven true, and the highest not proven false."""
    pol = cp.policy
    if cp.tiers:
        low = np.full(rows.size, np.nan)
        high = np.full(rows.size, np.nan)
        for amount, root, leaves in cp.tiers:
            lv = {lf.leaf_id: leaf_values(cb, enc, lf, rows) for lf in leaves}
            v = tree_values(root, lv, {})
            low = np.where(v == 2, np.fmax(low, amount), low)
            high = np.where(v >= 1, np.fmax(high, amount), high)
        return low, high
    cap = np.inf if pol.max_amount is None else pol.max_amount
    if pol.amount_rate is None:
        a = np.full(rows.size, np.nan if pol.max_amount is None else pol.max_amount)
        return a, a
    x = enc.numeric(cb, pol.amount_base)
    if x is None:
        a = np.full(rows.size, np.nan)
        return a, np.full(rows.size, np.nan if pol.max_amount is None else pol.max_amount)
    a = np.minimum(pol.amount_rate * x[rows], cap)
    return a, np.where(np.isnan(a), np.nan if pol.max_amount is None else pol.max_amount, a)


def _leaf_tables(cb: CompiledBook, enc: Encoded, cp) -> list[tuple[int, str, np.ndarray]]:
    """Per tested field of a policy (and word): a table over the field's codes packing the Kleene codes of
    the policy's leaves on it, two bits per leaf (leaf ``i`` at bits ``2 (i mod 31)`` of word ``i // 31``):
    a pair's *pattern* is the or of its fields' entries.  Built per policy over the codes (a few hundred
    entries), never per pair."""
    by_field: dict[tuple[int, str], np.ndarray] = {}
    for i, lf in enumerate(cp.leaves):
        name = cb.atom_keys[lf.atom][0]
        pos = int(cb.atom_field_pos[lf.atom])
        v = enc.t[name][:, pos].astype(np.int64) * 2 + enc.u[name][:, pos].astype(np.int64)
        v = 2 - v if lf.neg else v
        key = (i // LEAVES_PER_WORD, name)
        by_field[key] = by_field.get(key, 0) | (v << (2 * (i % LEAVES_PER_WORD)))
    return [(w, name, table) for (w, name), table in by_field.items()]


def _groups(pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group of each pair, the groups' patterns): pairs with the same leaf values share an explanation.
    ``pattern`` is (pairs, words); one word of small values is grouped by a lookup, without a sort."""
    if pattern.shape[1] == 1:
        p = pattern[:, 0]
        if p.size and p.max() < 1 << 16:
            seen = np.zeros(1 << 16, dtype=bool)
            seen[p] = True
            reps = np.flatnonzero(seen)
            lut = np.empty(1 << 16, dtype=np.int32)
            lut[reps] = np.arange(reps.size, dtype=np.int32)
            return lut[p], reps.astype(np.int64)[:, None]
        reps, ids = np.unique(p, return_inverse=True)
        return ids.astype(np.int32), reps[:, None]
    reps, ids = np.unique(pattern, axis=0, return_inverse=True)
    return ids.reshape(-1).astype(np.int32), reps


LEAVES_PER_WORD = 31


def _pair_patterns(cb: CompiledBook, enc: Encoded, cp, r: np.ndarray) -> np.ndarray:
    """Each pair's leaf values packed two bits a leaf, 31 leaves a word: (pairs, words) int64."""
    words = max(1, -(-len(cp.leaves) // LEAVES_PER_WORD))
    pattern = np.zeros((r.size, words), dtype=np.int64)
    for w, name, table in _leaf_tables(cb, enc, cp):
        pattern[:, w] |= table[enc.codes[name][r]]
    return pattern


def _leaf_piece(cb: CompiledBook, lf) -> tuple[str, bool, str]:
    """:func:`evidence_piece` of a leaf, once per base test of a book."""
    cache = cb.__dict__.setdefault("_leaf_pieces", {})
    key = (lf.atom, lf.neg, lf.source.raw if not isinstance(lf.source.raw, list) else tuple(lf.source.raw))
    if key not in cache:
        cache[key] = evidence_piece(cb.fields, lf.source, lf.neg)
    return cache[key]


class Displays:
    """Each field's values as people read them, for every enterprise of a profile, built on first use: the
    texts (Arrow) and their codes (equal texts, equal codes) — the evidence of millions of pairs gathers from
    these, and pairs whose shown values are the same share one text.  A test's piece of evidence
    (``营业收入≥2000万元（`` value ``）``) is built once per distinct value of its field (:meth:`pieces`)."""

    def __init__(self, cb: CompiledBook, enc: Encoded):
        self.cb, self.enc = cb, enc
        self._text: dict[str, pa.Array] = {}
        self._codes: dict[str, tuple[np.ndarray, int]] = {}
        self._values: dict[str, pa.Array] = {}
        self._pieces: dict[tuple[str, str, str], pa.Array] = {}

    def text(self, name: str) -> pa.Array:
        if name not in self._text:
            codes, _ = self.codes(name)
            self._text[name] = self._values[name].take(pa.array(codes))
        return self._text[name]

    def codes(self, name: str) -> tuple[np.ndarray, int]:
        """(each enterprise's code, how many distinct texts): the texts (``_values``) are built per distinct
        value of the field — a million enterprises hold a few thousand — in order of first appearance, so
        the codes are those a dictionary encoding of every enterprise's text gives."""
        if name not in self._codes:
            values = self.enc.columns[name]
            num = self.enc.numeric(self.cb, name) if self.cb.fields[name].type == "number" else None
            if num is not None:  # numbers by their bits: -0.0 shows as -0, not as 0
                bits = np.ascontiguousarray(num, dtype=np.float64).view(np.int64)
                codes, uniques = pd.factorize(bits, use_na_sentinel=False)
                shown = display_arrow(self.cb.fields, name, pd.Series(np.zeros(len(uniques))),
                                      np.asarray(uniques, dtype=np.int64).view(np.float64))
            else:
                codes, uniques = pd.factorize(values, use_na_sentinel=False)  # missing is a value: 未知
                shown = display_arrow(self.cb.fields, name, pd.Series(uniques, dtype=values.dtype), None)
            d = pc.dictionary_encode(shown)  # distinct values may read alike (rounding, labels)
            self._values[name] = d.dictionary
            index = d.indices.to_numpy(zero_copy_only=False).astype(np.int32)  # gathered per pair: half of int64
            self._codes[name] = (index[codes], len(d.dictionary))
        return self._codes[name]

    def pieces(self, name: str, before: str, after: str) -> pa.Array:
        """``before + value + after`` for every distinct shown value of ``name`` (indexed by :meth:`codes`)."""
        key = (name, before, after)
        if key not in self._pieces:
            self.codes(name)
            string = pa.large_string()
            self._pieces[key] = pc.binary_join_element_wise(
                pa.scalar(before, string), self._values[name].cast(string), pa.scalar(after, string), pa.scalar("", string))
        return self._pieces[key]

    def pieces_at(self, name: str, before: str, after: str, rows: np.ndarray) -> pa.Array:
        """:meth:`pieces` of the enterprises ``rows``: gathered from the pieces of every distinct value when those
        are built already or cost no more than these rows' own, else joined for these rows alone — a field of
        numbers holds a value per enterprise or so, and the book tests it at many thresholds (``营业收入≥2000万元（``,
        ``营业收入≥3000万元（`` …): building each test's piece for every distinct value is work (and memory) for
        values no pair of that policy shows."""
        codes, card = self.codes(name)
        at = pa.array(codes[rows])
        if (name, before, after) in self._pieces or card <= rows.size:
            return self.pieces(name, before, after).take(at)
        string = pa.large_string()
        return pc.binary_join_element_wise(pa.scalar(before, string), self._values[name].cast(string).take(at),
                                           pa.scalar(after, string), pa.scalar("", string))


@dataclass
class Explained:
    """One policy's pairs explained, in the order written (``order``: positions into the pairs as given).
    ``unknown`` holds codes into ``unknown_names``; ``evidence`` indices into its distinct texts."""

    order: np.ndarray
    unknown: np.ndarray
    unknown_names: list[str]
    amount: np.ndarray
    amount_max: np.ndarray
    evidence: pa.DictionaryArray | None


def _distinct(columns: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(which distinct combination each pair has, one representative pair per combination) of integer
    columns given with their cardinalities — one hash pass, or a sort when the product overflows."""
    n = columns[0][0].size
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for codes, card in columns:
        card = max(int(card), 1)
        if span * card >= 1 << 62:  # too many combinations for one integer: group the columns
            _, first, inv = np.unique(np.stack([c for c, _ in columns], axis=1), axis=0, return_index=True,
                                      return_inverse=True)
            return inv.reshape(-1).astype(np.int32), first
        np.multiply(key, card, out=key)  # in place: no temporary per column the size of the pairs
        np.add(key, codes, out=key)
        span *= card
    inv, uniq = pd.factorize(key)
    first = np.empty(len(uniq), dtype=np.int64)
    first[inv] = np.arange(n)  # any pair of a combination shows its text (the last one scattered)
    return inv.astype(np.int32), first


def _unique_rows(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows of a boolean matrix, which one each row is) — rows packed to bytes first: ``np.unique``
    over a few packed columns, not a structured sort over many."""
    packed = np.packbits(m, axis=1) if m.shape[1] else np.zeros((m.shape[0], 1), np.uint8)
    if packed.shape[1] <= 8:
        key = np.zeros(m.shape[0], dtype=np.uint64)
        for k in range(packed.shape[1]):
            key = (key << np.uint64(8)) | packed[:, k].astype(np.uint64)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inv = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    return m[first], inv.reshape(-1)


def _unknown_lists(cp, unk: dict[int, np.ndarray], groups: int) -> tuple[list[str], np.ndarray]:
    """(the distinct unknown-fact lists in order of first appearance, each group's list): a field is listed
    when any of its leaves must be settled; fields in name order, ``;``-joined."""
    names = sorted({lf.source.field for lf in cp.leaves})
    at = {n: k for k, n in enumerate(names)}
    m = np.zeros((groups, len(names)), dtype=bool)
    for lf in cp.leaves:
        m[:, at[lf.source.field]] |= np.asarray(unk[lf.leaf_id], dtype=bool)
    rows, of_group = _unique_rows(m)
    first = np.full(len(rows), groups, dtype=np.int64)
    np.minimum.at(first, of_group, np.arange(groups))
    rank = np.empty(len(rows), dtype=np.int32)
    rank[np.argsort(first, kind="stable")] = np.arange(len(rows), dtype=np.int32)
    texts = [""] * len(rows)
    for k in range(len(rows)):
        texts[rank[k]] = ";".join(n for n, on in zip(names, rows[k], strict=True) if on)
    return texts, rank[of_group]


def explain_policy(cb: CompiledBook, enc: Encoded, cp, r: np.ndarray, displays: Displays | None) -> Explained:
    """``unknown``, ``evidence`` (when ``displays`` is given), ``amount`` and ``amount_max`` of one policy's pairs
    (``r``: their rows), in the order given.

    Which leaves prove a verdict and which must be settled depends only on the pair's leaf values, and a
    policy's pairs share a handful of those *patterns*: the tree is walked once per pattern, not per pair.
    Evidence depends on the tests shown and the values they show, so pairs alike in both share one text: the
    distinct texts are built — for all of them at once, one array per test (its value's piece gathered from
    :meth:`Displays.pieces`, or its literal text, null where the text does not show it) and one null-skipping
    Arrow join — and each pair points to its own."""
    ids, reps = _groups(_pair_patterns(cb, enc, cp, r))
    lv = {lf.leaf_id: ((reps[:, i // LEAVES_PER_WORD] >> (2 * (i % LEAVES_PER_WORD))) & 3).astype(np.int8)
          for i, lf in enumerate(cp.leaves)}
    vals: dict[int, np.ndarray] = {}
    root = tree_values(cp.root, lv, vals)
    ev: dict[int, np.ndarray] = {}
    unk: dict[int, np.ndarray] = {}
    support(cp.root, vals, root != 0, root == 1, ev, unk)
    unknown_names, group_unknown = _unknown_lists(cp, unk, root.size)
    lo, hi = _amount(cb, enc, cp, r)
    order = np.arange(r.size)
    unknown = group_unknown[ids]
    if displays is None:
        return Explained(order, unknown, unknown_names, lo, hi, None)
    # which tests each pattern shows; the fields whose values they show
    shown = np.stack([ev[lf.leaf_id] for lf in cp.leaves], axis=1) if cp.leaves else np.zeros((root.size, 0), bool)
    sets, set_of_pattern = _unique_rows(shown)
    set_of_pair = set_of_pattern[ids]
    pieces = [_leaf_piece(cb, lf) for lf in cp.leaves]
    valued = np.array([with_value for _, with_value, _ in pieces], dtype=bool)
    value_fields = sorted({lf.source.field for lf, v in zip(cp.leaves, valued, strict=True)
                           if v and shown[:, lf.leaf_id].any()})
    # a pair's text is fixed by its set of shown tests and the values those show: a field's value counts
    # only where the set shows it, so distinct combinations are distinct texts (the dictionary written
    # holds each text once — Parquet keeps a dictionary with repeats only as plain strings)
    columns = [(set_of_pair, len(sets))] if len(sets) > 1 else []
    for f in value_fields:
        codes, card = displays.codes(f)
        on = sets[:, [i for i, lf in enumerate(cp.leaves) if valued[i] and lf.source.field == f]].any(axis=1)
        # a field every set shows needs no "not shown" code: one gather, no mask
        columns.append((codes[r], card) if on.all() else (np.where(on[set_of_pair], codes[r], card), card + 1))
    inv, first = _distinct(columns or [(set_of_pair, 1)])
    # the distinct texts: every test's piece where that text shows it (null elsewhere: a validity bitmap over
    # a plain gather), joined skipping the nulls in one Arrow call; a text that shows nothing is the review
    # head alone, or "" (a piece valid on that text only: the join gives null for a row of nulls)
    at_rows = r[first]
    at_show = shown[ids[first]]
    parts = []
    if cp.policy.review:  # a discretionary step: the pair says it is subject to review
        parts.append(_literal(REVIEW_PREFIX.format(cp.policy.review), np.ones(first.size, dtype=bool)))
    else:
        none = ~at_show.any(axis=1)
        if none.any():
            parts.append(_literal("", none))
    for i, (lf, (before, with_value, after)) in enumerate(zip(cp.leaves, pieces, strict=True)):
        show = at_show[:, i]
        if not show.any():
            continue
        if not with_value:
            parts.append(_literal(before, show))
            continue
        parts.append(_valid_where(displays.pieces_at(lf.source.field, before, after, at_rows), show))
    string = pa.large_string()
    texts = (pc.binary_join_element_wise(*parts, pa.scalar("；", string), null_handling="skip") if len(parts) > 1
             else parts[0])
    return Explained(order, unknown, unknown_names, lo, hi, pa.DictionaryArray.from_arrays(pa.array(inv), texts))


def _valid_where(values: pa.Array, valid: np.ndarray) -> pa.Array:
    """``values`` (no nulls) null where not ``valid``: a validity bitmap laid over the same buffers."""
    if valid.all():
        return values
    if values.offset:  # the bitmap is laid from the buffers' first value
        values = pa.concat_arrays([values])
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    _, offsets, data = values.buffers()
    return pa.Array.from_buffers(values.type, len(values), [bitmap, offsets, data])


def _literal(text: str, where: np.ndarray) -> pa.Array:
    """``text`` where ``where``, null elsewhere (a large_string array built from its buffers)."""
    raw = text.encode()
    offsets = np.zeros(where.size + 1, dtype=np.int64)
    np.cumsum(where * len(raw), out=offsets[1:])
    data = pa.py_buffer(raw * int(where.sum()))
    bitmap = None if where.all() else pa.py_buffer(np.packbits(where, bitorder="little"))
    return pa.Array.from_buffers(pa.large_string(), where.size, [bitmap, pa.py_buffer(offsets), data])


def explain_pairs(
    cb: CompiledBook, enc: Encoded, pol_pos: np.ndarray, rows: np.ndarray, *, evidence: bool = True
):
    """``unknown`` (fields to supply), ``evidence``, ``amount`` and ``amount_max`` for pairs sorted by policy,
    and the order they come in (``perm``: positions into the pairs given): :func:`explain_policy` per policy.
    The order never depends on the options.  ``unknown`` is a Categorical: millions of pairs share a few
    hundred field lists."""
    unknown_code = np.zeros(rows.size, dtype=np.int32)
    unknown_texts: dict[str, int] = {"": 0}
    displays = Displays(cb, enc) if evidence else None
    ev_parts: list[pa.Array] = []
    amount = np.full(rows.size, np.nan)
    amount_max = np.full(rows.size, np.nan)
    perm = np.arange(rows.size, dtype=np.int64)
    for pi, a, b in _segments(pol_pos):
        x = explain_policy(cb, enc, cb.policies[pi], rows[a:b], displays)
        perm[a:b] = a + x.order
        codes = np.array([unknown_texts.setdefault(t, len(unknown_texts)) for t in x.unknown_names], dtype=np.int32)
        unknown_code[a:b], amount[a:b], amount_max[a:b] = codes[x.unknown], x.amount, x.amount_max
        if x.evidence is not None:
            ev_parts.append(x.evidence.dictionary.take(x.evidence.indices))
    unknown = pd.Categorical.from_codes(unknown_code, categories=pd.Index(list(unknown_texts), dtype="string"))
    if not evidence:
        return unknown, pd.array(np.full(rows.size, "", dtype=object), dtype="string"), amount, amount_max, perm
    text = pa.chunked_array(ev_parts, type=pa.large_string()) if ev_parts else pa.chunked_array([], pa.large_string())
    return unknown, pd.array(text, dtype="string"), amount, amount_max, perm


def _keep_best_near_misses(
    cb: CompiledBook, planes: Planes, rows: np.ndarray, pj: np.ndarray, leaf: np.ndarray, per_enterprise: int
) -> np.ndarray:
    """Which near misses to keep: each enterprise's ``per_enterprise`` with the largest policy benefit
    (``max_amount``, unknown last), ties by the book's policy order — a city-scale list stays readable."""
    amount = np.array(
        [np.nan if cb.policies[i].policy.max_amount is None else cb.policies[i].policy.max_amount
         for i in planes.policy_index.tolist()],
        dtype=float,
    )
    # one integer key: enterprise row, then the policy's priority rank (benefit desc, book order), then leaf
    prio_of_pj = np.lexsort((planes.policy_index, np.nan_to_num(-amount, nan=np.inf)))
    rank_of_pj = np.empty_like(prio_of_pj)
    rank_of_pj[prio_of_pj] = np.arange(prio_of_pj.size)
    n_leaf = int(leaf.max()) + 1
    key = (rows.astype(np.int64) * prio_of_pj.size + rank_of_pj[pj]) * n_leaf + leaf
    order = np.argsort(key)  # keys are distinct (one near miss per enterprise and policy)
    r = rows[order]
    starts = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
    within = np.arange(r.size) - np.repeat(starts, np.diff(np.r_[starts, r.size]))
    keep = np.zeros(rows.size, dtype=bool)
    keep[order[within < per_enterprise]] = True
    return keep


def near_miss_frame(
    cb: CompiledBook, enc: Encoded, planes: Planes, uscc: np.ndarray, per_enterprise: int | None = None
) -> pd.DataFrame:
    if not planes.near_miss:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64" if c == "gap_value" else "string") for c in NEAR_MISS_COLUMNS}
        )
    rows, pj, leaf = planes.near_miss[0]
    if per_enterprise is not None and per_enterprise > 0 and rows.size:
        keep = _keep_best_near_misses(cb, planes, rows, pj, leaf, per_enterprise)
        rows, pj, leaf = rows[keep], pj[keep], leaf[keep]
    order = np.lexsort((rows, leaf, pj))
    rows, pj, leaf = rows[order], pj[order], leaf[order]
    key = pj.astype(np.int64) * 100_000 + leaf
    failed = np.empty(rows.size, dtype=object)
    gap = np.empty(rows.size, dtype=object)
    gap_value = np.full(rows.size, np.nan)
    fields_col = np.empty(rows.size, dtype=object)
    shown_all: dict[str, np.ndarray] = {}  # each field displayed once for every enterprise, then gathered
    for k, a, b in _segments(key):
        cp = cb.policies[int(planes.policy_index[k // 100_000])]
        lf = cp.leaves[k % 100_000]
        r = rows[a:b]
        fname = lf.source.field
        ftype = cb.fields[fname].type
        num = enc.numeric(cb, fname) if ftype in ("number", "date", "ordinal") else None
        x = None if num is None else num[r]
        if fname not in shown_all:
            shown_all[fname] = display(cb.fields, fname, enc.columns[fname], num if ftype == "number" else None)
        shown = shown_all[fname][r]
        failed[a:b] = describe(cb.fields, lf.source, lf.neg)
        gap[a:b], gap_value[a:b] = gap_text(
            cb.fields, lf.source, lf.neg, x if ftype != "ordinal" else None, shown
        )
        fields_col[a:b] = fname
    pids = np.array([cb.policies[i].policy.id for i in planes.policy_index.tolist()], dtype=object)
    return pd.DataFrame(
        {
            "uscc": take_strings(uscc, rows),
            "policy_id": take_strings(pids, pj),
            "failed": pd.array(failed, dtype="string"),
            "gap": pd.array(gap, dtype="string"),
            "field": pd.array(fields_col, dtype="string"),
            "gap_value": gap_value,
        }
    )


def evaluate_compiled(
    cb: CompiledBook,
    profile: pd.DataFrame,
    as_of: str | dt.date,
    *,
    book_version: str = "",
    near_misses: bool = True,
    evidence: bool = True,
    near_miss_per_enterprise: int | None = None,
    categorical: bool = False,
    block_rows: int = 1 << 18,
    facts=None,
    grants: pd.DataFrame | None = None,
) -> EligibilityResult:
    as_of = as_date(as_of)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if "uscc" not in profile.columns:
        raise ValueError("profile has no uscc column")
    derived = derived_for(cb, profile, facts, as_of)
    timings["derive_s"] = time.perf_counter() - t0
    bases = tuple({cp.policy.amount_base for cp in cb.policies if cp.policy.amount_base})
    enc = encode(cb, profile, bases, derived)
    timings["encode_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    active = active_index(cb, as_of)
    planes = evaluate_planes(cb, enc, active, near_misses=near_misses, block_rows=block_rows)
    timings["evaluate_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    pj, rows, verdict = pairs_of(planes)
    pol_pos = active[pj] if active.size else pj.astype(np.int64)
    uscc = profile["uscc"].astype("string")
    blocked = empty_blocked()
    stop, why = blocked_mask(cb, profile, rows, pol_pos, grants, as_of)
    if stop.any():
        n_pol = len(cb.policies)
        key = rows[stop].astype(np.int64) * n_pol + pol_pos[stop].astype(np.int64)
        hit = why.loc[key]
        blocked = pd.DataFrame({
            "uscc": take_strings(uscc, rows[stop]),
            "policy_id": take_strings(np.array([cp.policy.id for cp in cb.policies], dtype=object), pol_pos[stop]),
            "verdict": take_strings(VERDICT_NAMES, verdict[stop]),
            "rule": pd.array(hit["rule"].to_numpy(dtype=object), dtype="string"),
            "blocking_policy": pd.array(hit["gpid"].to_numpy(dtype=object), dtype="string"),
            "granted_on": hit["granted_on"].to_numpy(dtype="datetime64[ns]"),
        })  # fmt: skip
        pj, rows, verdict, pol_pos = pj[~stop], rows[~stop], verdict[~stop], pol_pos[~stop]
    timings["pairs_s"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    unknown, ev_text, amount, amount_max, perm = explain_pairs(cb, enc, pol_pos, rows, evidence=evidence)
    rows, verdict, pol_pos = rows[perm], verdict[perm], pol_pos[perm]  # the order the evidence was written in
    pids = np.array([cp.policy.id for cp in cb.policies], dtype=object)
    modes = np.array([cp.policy.mode for cp in cb.policies], dtype=object)
    if categorical:  # codes into the profile's usccs and the book's ids: no string per pair
        mode_code, mode_names = pd.factorize(pd.Series(modes, dtype="string"))
        pairs = pd.DataFrame(
            {
                "uscc": pd.Categorical.from_codes(rows, categories=pd.Index(uscc, dtype="string")),
                "policy_id": pd.Categorical.from_codes(pol_pos, categories=pd.Index(pids, dtype="string")),
                "verdict": pd.Categorical.from_codes(verdict, categories=pd.Index(VERDICT_NAMES, dtype="string")),
                "unknown": unknown,
                "evidence": ev_text,
                "mode": pd.Categorical.from_codes(mode_code[pol_pos], categories=pd.Index(mode_names, dtype="string")),
                "amount": amount,
                "amount_max": amount_max,
            }
        )
    else:
        uscc_arrow = arrow_strings(uscc)
        pairs = pd.DataFrame(
            {
                "uscc": take_strings(uscc_arrow, rows),
                "policy_id": take_strings(pids, pol_pos),
                "verdict": take_strings(VERDICT_NAMES, verdict),
                "unknown": take_strings(unknown.categories, unknown.codes),
                "evidence": ev_text,
                "mode": take_strings(modes, pol_pos),
                "amount": amount,
                "amount_max": amount_max,
            }
        )
    timings["explain_s"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    nm = (
        near_miss_frame(cb, enc, planes, uscc, near_miss_per_enterprise)
        if near_misses
        else near_miss_frame(cb, enc, Planes(active, np.zeros((0, 2, 0), dtype=np.uint64), 0), uscc)
    )
    timings["near_miss_s"] = time.perf_counter() - t4
    auto_sel = (verdict == 2) & (modes[pol_pos] == "auto")
    if categorical:  # the caller builds its own lists from the categorical pairs
        auto_sel = np.zeros(verdict.size, dtype=bool)
    names = profile["name"] if "name" in profile.columns else pd.Series(pd.NA, index=profile.index, dtype="string")
    at = np.flatnonzero(auto_sel)
    auto = pd.DataFrame(
        {
            "policy_id": take_strings(pids, pol_pos[at]),
            "uscc": take_strings(uscc_arrow if not categorical else uscc, rows[at]),
            "name": take_strings(names, rows[at]),
            "evidence": pairs["evidence"].iloc[at].reset_index(drop=True).astype("string"),
            "amount": amount[at],
        }
    )
    n_pol = len(cb.policies)
    nm_pos = pol_pos[:0] if not planes.near_miss else active[planes.near_miss[0][1]]
    counts = pd.DataFrame(
        {
            "policy_id": pd.array(pids, dtype="string"),
            "mode": pd.array(modes, dtype="string"),
            "active": np.isin(np.arange(n_pol), active),
            "eligible": np.bincount(pol_pos[verdict == 2], minlength=n_pol),
            "undetermined": np.bincount(pol_pos[verdict == 1], minlength=n_pol),
            "near_miss": np.bincount(nm_pos, minlength=n_pol),
            "blocked": np.bincount(
                pd.Index(pids).get_indexer(blocked["policy_id"].astype("string").to_numpy(dtype=object)),
                minlength=n_pol) if len(blocked) else np.zeros(n_pol, dtype=np.int64),
        }
    )
    timings["total_s"] = time.perf_counter() - t0
    return EligibilityResult(pairs, nm, auto, counts, book_version, as_of, timings, blocked)


def verdict_matrix(cb: CompiledBook, profile: pd.DataFrame, facts=None, as_of: dt.date | None = None,
                   grants: pd.DataFrame | None = None) -> np.ndarray:
    """Kleene codes (0 ineligible, 1 undetermined, 2 eligible), rows × all policies, ignoring the
    validity window — for policy tests and small checks (a pair a cross-policy rule blocks is 0)."""
    as_of = None if as_of is None else as_date(as_of)
    enc = encode(cb, profile, (), derived_for(cb, profile, facts, as_of))
    idx = np.arange(len(cb.policies), dtype=np.int64)
    planes = evaluate_planes(cb, enc, idx)
    out = np.zeros((len(profile), len(idx)), dtype=np.int8)
    if len(profile) == 0 or idx.size == 0:
        return out
    t = np.unpackbits(np.ascontiguousarray(planes.true).view(np.uint8), axis=1, bitorder="little")[
        :, : len(profile)
    ]
    u = np.unpackbits(np.ascontiguousarray(planes.unknown).view(np.uint8), axis=1, bitorder="little")[
        :, : len(profile)
    ]
    out = (2 * t + u).T.astype(np.int8)
    if grants is not None and len(grants):
        if as_of is None:
            raise ValueError("cross-policy rules need an as_of date")
        rows, pols = np.nonzero(out)
        stop, _ = blocked_mask(cb, profile, rows, pols, grants, as_of)
        out[rows[stop], pols[stop]] = 0
    return out


def evidence_for(cb: CompiledBook, profile: pd.DataFrame, rows: np.ndarray, policy_ids: np.ndarray,
                 facts=None, as_of: dt.date | None = None) -> pd.array:
    """The evidence text of chosen pairs only (``rows`` into ``profile``, ``policy_ids`` of the book).

    A city-wide run asks for evidence only on the pairs it publishes (pushed, 免申即享): building it for
    every candidate pair costs more than the verdicts themselves.  Same text as ``evaluate`` gives.
    """
    rows = np.asarray(rows, dtype=np.int64)
    pos = pd.Index([cp.policy.id for cp in cb.policies]).get_indexer(pd.Index(np.asarray(policy_ids, dtype=object)))
    if (pos < 0).any():
        bad = np.asarray(policy_ids, dtype=object)[pos < 0][0]
        raise ValueError(f"policy {bad!r} is not in the policy book")
    if rows.size == 0:
        return pd.array([], dtype="string")
    bases = tuple({cp.policy.amount_base for cp in cb.policies if cp.policy.amount_base})
    derived = derived_for(cb, profile, facts, None if as_of is None else as_date(as_of))
    enc = encode(cb, profile, bases, derived)
    order = np.lexsort((rows, pos))
    _, ev, _, _, perm = explain_pairs(cb, enc, pos[order].astype(np.int64), rows[order], evidence=True)
    order = order[perm]
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    return pd.array(pa.chunked_array([pa.array(ev, type=pa.large_string())]).take(pa.array(back)), dtype="string")
