"""How many of the pairs a data-sharing action decides would turn out eligible: an estimate.

An undetermined pair waits on its unknown facts U; everything else the policy tests is known and leaves the
verdict hanging on U.  The estimator asks the enterprises that *do* have U on record: among those which would
be in the same position without it — undetermined on that policy once U is hidden, decided with it — what
share is eligible?  Per group of pairs with the same policy and the same U:

1. **Donors**: up to ``donor_pool`` enterprises (a seeded random sample) whose every fact of U is known (a
   code at its finest level).
2. **Comparable donors**: each donor is evaluated twice, as it is and with U hidden — for an industry or
   district code, cut to the coarse level the pair's enterprise knows (``C39`` → ``39``), else missing.
   Donors undetermined with U hidden and decided with it are in the pair's position.
3. **Rate**: the group's N pairs × (eligible comparable donors / comparable donors), per coarse level of the
   code, summed.

Conditioning on the policy's own other tests is what keeps the estimate honest where a fact correlates with
them (an innovation score among the firms that pass a high-tech policy's other tests is not the city's): a
plain hot-deck from all donors measured 28–38 eligible where the truth was 90 on the synthetic city.  The
assumption left is missing at random given the policy's other facts.  Variance: N²·p̃(1 − p̃)/n for the rate
from n comparable donors (p̃ = (e + ½)/(n + 1), so a small all-0 or all-1 sample keeps some spread) plus
N·p(1 − p) for the count itself around its expectation.  A group (or level) without a comparable donor has
no estimate: its pairs are counted in ``unestimated`` and the tables give them the range [0, N].

Vectorised: donors of many unknown lists are evaluated in batches of ``batch_rows`` rows, every policy of
the batch at once, and counted on the packed verdict planes (popcounts), never per pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.policy.readiness.counts import (
    GROUP_KEYS,
    ReadinessCounts,
    _full_code,
    code_field,
    requirements,
    split_unknown,
)
from quanhuiqi.policy.readiness.sources import SourceMap

ESTIMATE_COLUMNS = ["policy_id", "unknown", "partial", "maybe_partial", "pairs", "donors", "comparable", "eligible_share", "eligible_est",
                    "eligible_var", "unestimated"]
NA_LEVEL = 0  # the pair's enterprise does not know the code at all


class _Keys:
    """Per-profile arrays shared by every unknown list, computed once: which rows know a field, and how
    coarsely each row knows a code field."""

    def __init__(self, profile: pd.DataFrame, book):
        self.profile, self.book = profile, book
        self._known: dict[str, np.ndarray] = {}
        self._level: dict[str, np.ndarray] = {}

    def hierarchy(self, name: str) -> str | None:
        f = self.book.fields.get(name)
        return f.hierarchy if f is not None and f.type == "code" and f.hierarchy in ("industry", "district") else None

    def known(self, name: str) -> np.ndarray:
        """Rows whose value of ``name`` is known well enough to settle any test of it."""
        if name not in self._known:
            f = self.book.fields.get(name)
            col = self.profile[name]
            if self.hierarchy(name):
                self._known[name] = _full_code(col, f.hierarchy)
            elif f is not None and f.type == "set":
                self._known[name] = np.ones(len(col), dtype=bool)
            else:
                self._known[name] = col.notna().to_numpy(dtype=bool)
        return self._known[name]

    def cut(self, name: str, rows: np.ndarray, level: int) -> pd.Series:
        """The code of ``rows`` as known at ``level`` (``C`` / ``39`` / ``391``; ``370100``)."""
        if self.hierarchy(name) == "industry" and level == 1:
            if "industry_section" not in self.profile.columns:
                return pd.Series(pd.NA, index=range(rows.size), dtype="string")
            return self.profile["industry_section"].astype("string").iloc[rows].reset_index(drop=True)
        s = self.profile[name].astype("string").iloc[rows].reset_index(drop=True)
        return s.str[:level] if self.hierarchy(name) == "industry" else s.str[:level] + "0" * (6 - level)


def estimate_eligible(book, profile: pd.DataFrame, counts: ReadinessCounts, smap: SourceMap, *, seed: int = 0,
                      donor_pool: int = 8192, batch_rows: int = 1 << 17) -> pd.DataFrame:
    """Per (policy, unknown list) group that data sharing surely decides: the estimated eligible pairs, their
    variance and the pairs left without an estimate (see the module docstring).  ``profile`` is the whole
    city's, with the book's derived columns (``with_facts``), as the pairs were evaluated on it; ``counts``
    its :class:`~quanhuiqi.policy.readiness.ReadinessCounts` (the groups and their pairs per coarse level)."""
    if donor_pool < 1:
        raise ValueError("donor_pool must be at least 1")
    g = counts.groups.reset_index(drop=True)
    if not len(g):
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in ESTIMATE_COLUMNS})
    cb = book.compiled
    pol_of = pd.Index([cp.policy.id for cp in cb.policies]).get_indexer(g["policy_id"])
    req = requirements(g["unknown"], g["partial"], smap, g["maybe_partial"])
    estimable = req["sure"].to_numpy(dtype=bool)
    rng = np.random.default_rng(seed)
    cat, texts = pd.factorize(g["unknown"].astype("string").fillna(""))
    keys = _Keys(profile, book)
    n_g = len(g)
    recip = np.zeros((n_g, 8), dtype=np.int64)
    lv = counts.levels
    gi = pd.MultiIndex.from_frame(g[GROUP_KEYS]).get_indexer(pd.MultiIndex.from_frame(lv[GROUP_KEYS])) \
        if len(lv) else np.zeros(0, dtype=np.int64)
    np.add.at(recip, (gi[gi >= 0], lv["level"].to_numpy()[gi >= 0]), lv["pairs"].to_numpy()[gi >= 0])
    jobs = []
    est_groups = np.flatnonzero(estimable)
    first = pd.Series(pol_of[est_groups]).groupby(cat[est_groups]).min()
    for c in first.sort_values(kind="stable").index.tolist():  # by policy: batches share their policies
        fields = split_unknown(str(texts[c]))
        if not fields or any(f not in profile.columns for f in fields):
            continue
        gids = est_groups[cat[est_groups] == c]
        cf = code_field(book, fields)
        top = 0 if cf is None else 4 if keys.hierarchy(cf) == "industry" else 6
        levels = [NA_LEVEL] if cf is None else [int(v) for v in np.flatnonzero(recip[gids].sum(axis=0)) if v < top]
        pool = np.flatnonzero(np.logical_and.reduce([keys.known(f) for f in fields]))
        if pool.size > donor_pool:
            pool = np.sort(rng.choice(pool, donor_pool, replace=False))
        jobs.append({"cat": c, "fields": fields, "code": cf, "levels": levels, "pool": pool, "groups": gids,
                     "pols": pol_of[gids]})
    comp = np.zeros((n_g, 8), dtype=np.int64)
    elig = np.zeros((n_g, 8), dtype=np.int64)
    donors = np.zeros(n_g, dtype=np.int64)
    base = _Base(book, profile, keys, {j["code"] for j in jobs if j["code"] is not None})
    batch, size = [], 0
    for job in jobs:
        donors[job["groups"]] = job["pool"].size
        if not job["pool"].size or not job["levels"]:
            continue
        batch.append(job)
        size += _padded(job["pool"].size) * (1 + len(job["levels"]))
        if size >= batch_rows:
            _count_batch(book, base, keys, batch, comp, elig)
            batch, size = [], 0
    if batch:
        _count_batch(book, base, keys, batch, comp, elig)
    N = recip.astype(float)
    n = comp.astype(float)
    have = n > 0
    p = np.where(have, elig / np.maximum(n, 1), 0.0)
    p_t = (elig + 0.5) / (n + 1)
    est = (N * p * have).sum(axis=1)
    var = (have * (N**2 * p_t * (1 - p_t) / np.maximum(n, 1) + N * p * (1 - p))).sum(axis=1)
    unest = (N * ~have).sum(axis=1).astype(np.int64)
    pairs = g["pairs"].to_numpy()
    out = pd.DataFrame({
        **{k: g[k] for k in GROUP_KEYS}, "pairs": pairs, "donors": donors, "comparable": comp.sum(axis=1),
        "eligible_share": np.where(unest < pairs, est / np.maximum(pairs - unest, 1), np.nan),
        "eligible_est": np.where(unest < pairs, est, np.nan), "eligible_var": np.where(unest < pairs, var, np.nan),
        "unestimated": unest,
    })  # fmt: skip
    return out[estimable].reset_index(drop=True)


def _padded(n: int) -> int:
    return -(-n // 64) * 64


class _Base:
    """The profile encoded once for the book, plus rows for what donors are given instead of their facts:
    one row of nothing known, and one per coarse cut of a code (``C``, ``39``, ``391``, ``370100``).  A block
    of donors is then only a gather of codes (no re-encoding per block)."""

    def __init__(self, book, profile: pd.DataFrame, keys: _Keys, code_fields: set[str]):
        from quanhuiqi.eligibility.engine import encode

        cb = book.compiled
        self.cb = cb
        self._tested: dict[int, list[str]] = {}
        self.columns = [c for c in cb.codecs if c in profile.columns]
        n = len(profile)
        cuts: dict[tuple[str, int], pd.Index] = {}
        for f in sorted(code_fields):
            for level in ((1, 2, 3) if keys.hierarchy(f) == "industry" else (2, 4)):
                cuts[(f, level)] = pd.Index(keys.cut(f, np.arange(n), level).dropna().unique())
        k = 1 + sum(len(v) for v in cuts.values())
        extra = {c: profile[c].array.take(np.full(k, -1), allow_fill=True) for c in self.columns}
        self.na_row = n
        self.cut_at: dict[tuple[str, int], tuple[pd.Index, int]] = {}
        at = n + 1
        for (f, level), values in cuts.items():
            if f in extra:
                arr = extra[f].copy()
                arr[at - n: at - n + len(values)] = values.to_numpy(dtype=object)
                extra[f] = arr
            self.cut_at[(f, level)] = (values, at)
            at += len(values)
        aug = pd.DataFrame({c: pd.concat([profile[c].reset_index(drop=True), pd.Series(extra[c])],
                                         ignore_index=True) for c in self.columns})
        self.enc = encode(cb, aug)

    def tested(self, pi: int) -> list[str]:
        """The fields policy ``pi`` tests (cached)."""
        if pi not in self._tested:
            self._tested[pi] = sorted({lf.source.field for lf in self.cb.policies[pi].leaves})
        return self._tested[pi]

    def cut_rows(self, keys: _Keys, name: str, rows: np.ndarray, level: int) -> np.ndarray:
        values, at = self.cut_at[(name, level)]
        pos = values.get_indexer(keys.cut(name, rows, level))
        return np.where(pos >= 0, at + pos, self.na_row)

    def gather(self, src: dict[str, np.ndarray], default: np.ndarray):
        from quanhuiqi.eligibility.engine import Encoded

        e = self.enc
        return Encoded(default.size, {c: v[src.get(c, default)] for c, v in e.codes.items()}, e.t, e.u)


def _count_batch(book, base: _Base, keys: _Keys, batch: list[dict], comp: np.ndarray, elig: np.ndarray) -> None:
    """Evaluate a batch of donor blocks at once — each job's donors as they are, then once per coarse level
    with the job's facts hidden — and add the comparable and eligible donors of each (group, level).

    A donor is comparable for a policy when, with U hidden, it is undetermined, with U it is decided, and it
    knows every other fact the policy tests: then U is all it waits on, as for the pairs.  (A donor missing
    another fact could only ever be decided by U *failing*, and would bias the rate down.)  Missing at random,
    the donors that know the policy's other facts are a fair sample.  Everything is counted on whole 64-bit
    words of the packed planes (blocks start on word boundaries): popcounts, never one step per donor."""
    from quanhuiqi.eligibility.engine import evaluate_planes

    cb = book.compiled
    default: list[np.ndarray] = []
    hid: dict[str, list[tuple[int, np.ndarray]]] = {}  # column → (start, rows given instead)
    layout = []
    start = 0
    for job in batch:
        pool = job["pool"]
        block = np.concatenate([pool, np.full(_padded(pool.size) - pool.size, pool[0], dtype=np.int64)])
        orig = start
        default.append(block)
        start += block.size
        hidden = []
        for level in job["levels"]:
            hidden.append((level, start))
            default.append(block)
            for f in job["fields"]:
                given = np.full(block.size, base.na_row, dtype=np.int64)
                if f == job["code"] and level != NA_LEVEL:
                    given = base.cut_rows(keys, f, block, level)
                hid.setdefault(f, []).append((start, given))
            start += block.size
        layout.append((job, orig, hidden, block))
    rows = np.concatenate(default)
    src = {}
    for f, parts in hid.items():
        src[f] = rows.copy()
        for a, given in parts:
            src[f][a:a + given.size] = given
    planes = evaluate_planes(cb, base.gather(src, rows), P := np.unique(np.concatenate([j["pols"] for j in batch])))
    for job, orig, hidden, block in layout:
        n = job["pool"].size
        w = block.size // 64
        valid = np.zeros(block.size, dtype=bool)
        valid[:n] = True
        known = {}  # field → packed bits: the donor knows it
        complete = np.empty((job["pols"].size, w), dtype=np.uint64)
        for i, pi in enumerate(job["pols"].tolist()):
            bits = _pack(valid)
            for f in base.tested(pi):
                if f not in job["fields"]:
                    if f not in known:
                        known[f] = _pack(keys.known(f)[block] if f in keys.profile.columns else
                                         np.zeros(block.size, dtype=bool))
                    bits = bits & known[f]
            complete[i] = bits
        j = np.searchsorted(P, job["pols"])
        o_t = planes.both[j, 0, orig // 64: orig // 64 + w]
        o_u = planes.both[j, 1, orig // 64: orig // 64 + w]
        for level, h in hidden:
            c_bits = planes.both[j, 1, h // 64: h // 64 + w] & ~o_u & complete
            comp[job["groups"], level] += np.bitwise_count(c_bits).sum(axis=1, dtype=np.int64)
            elig[job["groups"], level] += np.bitwise_count(c_bits & o_t).sum(axis=1, dtype=np.int64)


def _pack(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask, bitorder="little").view(np.uint64)
