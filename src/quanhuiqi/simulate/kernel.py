"""The pass over the city: verdict planes of every entry (a policy or a variant of one), counts by verdict and
breakdown, and the payout range with its central estimate — without one Python step per enterprise or pair.

Entries are evaluated a chunk at a time (``evaluate_planes``: every distinct test once, shared by every
policy and variant that uses it, so a sweep costs one policy's tests plus the varied one per value); the pairs
of a chunk are extracted as arrays (``pairs_of``) and aggregated with ``bincount``; an undetermined pair is
reduced to its key (the state of each test of its policy), and each key gets its rate once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quanhuiqi.eligibility.engine import WORD, Encoded, Planes, evaluate_planes, pairs_of
from quanhuiqi.policy.model import Policy
from quanhuiqi.simulate.dims import Dimensions
from quanhuiqi.simulate.estimate import (
    Calibration,
    History,
    LeafTables,
    SamplePlanes,
    facts_text,
    undetermined_keys,
    unknown_set,
    unpack,
)
from quanhuiqi.simulate.language import tier_bounds

MIN_AMOUNT_SUPPORT = 3  # sample rows behind a key's conditional mean amount before it is used


@dataclass(frozen=True)
class Entry:
    """One row of ``simulation.csv``: a policy (``variant`` base) or a variant of it; or an in-force policy
    evaluated only to measure overlap (``simulated`` False)."""

    policy: Policy
    variant: str
    simulated: bool = True
    in_force: bool = False


def amount_rule(p: Policy) -> str:
    if getattr(p, "tiers", None):
        return "tiers"
    if p.amount_rate is not None:
        return "rate"
    return "cap" if p.max_amount is not None else "none"


class Amounts:
    """Each pair's amount under its policy's rule (万元) as bounds ``(low, high)``: equal when the facts fix it
    (a cap; rate × a known base, capped), apart when they do not (an unknown base: ``low`` NaN, ``high`` the
    cap; NaN where nothing bounds it).  The central amount of an open pair is estimated (``_Rates``)."""

    def __init__(self, cb, enc: Encoded):
        self.cb, self.enc = cb, enc
        self._x: dict[str, np.ndarray | None] = {}

    def base(self, name: str) -> np.ndarray | None:
        if name not in self._x:
            self._x[name] = self.enc.numeric(self.cb, name)
        return self._x[name]

    def bounds(self, j: int, rows: np.ndarray, values: dict[str, np.ndarray] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """``values``: the base fields already gathered at ``rows`` (the sample's, kept between entries)."""
        tiers = tier_bounds(self.cb, self.enc, self.cb.policies[j], rows)
        if tiers is not None:
            return tiers
        p = self.cb.policies[j].policy
        cap = np.nan if p.max_amount is None else p.max_amount
        if p.amount_rate is None:
            a = np.full(rows.size, cap)
            return a, a
        x = self.base(p.amount_base)
        if x is None:
            return np.full(rows.size, np.nan), np.full(rows.size, cap)
        a = p.amount_rate * (values[p.amount_base] if values is not None else x[rows])
        if p.max_amount is not None:
            a = np.minimum(a, p.max_amount)
        return a, np.where(np.isnan(a), cap, a)

    def constant(self, j: int) -> float | None:
        """The amount when every pair of entry ``j`` gets the same (a cap alone; NaN without any rule), else None."""
        p = self.cb.policies[j].policy
        if p.amount_rate is not None or getattr(self.cb.policies[j], "tiers", None):
            return None
        return np.nan if p.max_amount is None else float(p.max_amount)

    def known(self, j: int, rows: np.ndarray, values: dict[str, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(low bound ≥ 0, high bound — ``upper`` where nothing in the facts bounds it —, amount fixed?)."""
        lo, hi = self.bounds(j, rows, values)
        open_lo = np.isnan(lo)
        fixed = ~open_lo & (lo == hi)
        return np.where(open_lo, 0.0, lo), np.where(np.isnan(hi), self.upper(j), hi), fixed

    def upper(self, j: int) -> float:
        """The most one pair can get when the facts do not bound it: the cap; unbounded for a rate without one."""
        p = self.cb.policies[j].policy
        if getattr(self.cb.policies[j], "tiers", None):
            return 0.0  # no tier left possible: nothing is paid
        if p.max_amount is not None:
            return p.max_amount
        return np.inf if p.amount_rate is not None else np.nan


@dataclass
class PassResult:
    eligible: np.ndarray
    undetermined: np.ndarray
    low: np.ndarray
    central: np.ndarray
    high: np.ndarray
    central_eligible: np.ndarray  # the central payout of the eligible pairs alone
    central_var: np.ndarray  # Σ q(1−q)·a² over undetermined pairs: the spread of which of them qualify
    blocked: np.ndarray  # pairs a cross-policy rule blocks (granted once already, or another of the group)
    cells: np.ndarray  # (P, 2, n_cells) eligible / undetermined counts
    cell_pay: np.ndarray  # (P, n_cells) central payout
    chains: np.ndarray  # (P, 2, n_chains + 1) counts; the last: no chain
    eligible_planes: np.ndarray  # (P, W) packed
    keys: pd.DataFrame  # undetermined pairs by key: entry, unknown, pairs, rate, payout_high, payout_central
    mean_rate: np.ndarray  # pair-weighted rate of undetermined pairs per entry
    timings: dict[str, float] = field(default_factory=dict)


class _Clock:
    """Seconds per stage of the pass, accumulated into ``timings`` (``pass.<stage>_s``)."""

    def __init__(self, timings: dict[str, float]):
        self.timings, self.t = timings, time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        key = f"pass.{stage}_s"
        self.timings[key] = self.timings.get(key, 0.0) + now - self.t
        self.t = now


def _unblocked(out: PassResult, blocker, gidx, pj, rows, verdict, cell, chains, n_chains):
    """Pairs a cross-policy rule blocks leave the counts (taken from the planes) and the pairs."""
    mask = blocker(rows, gidx[pj])
    if mask is None or not mask.any():
        return pj, rows, verdict
    j, u, r = gidx[pj[mask]], (verdict[mask] == 1).astype(np.int64), rows[mask]
    np.add.at(out.blocked, j, 1)
    np.subtract.at(out.cells, (j, u, cell[r]), 1)
    np.subtract.at(out.eligible, j[u == 0], 1)
    np.subtract.at(out.undetermined, j[u == 1], 1)
    bits = chains[r]
    for k in range(n_chains):
        hit = (bits >> k) & 1 == 1
        np.subtract.at(out.chains, (j[hit], u[hit], k), 1)
    none = bits == 0
    np.subtract.at(out.chains, (j[none], u[none], n_chains), 1)
    keep = ~mask
    return pj[keep], rows[keep], verdict[keep]


def pack(mask: np.ndarray) -> np.ndarray:
    """Booleans packed 64 rows a word (little-endian bits, as the engine's planes)."""
    pad = -mask.size % WORD
    if pad:
        mask = np.concatenate([mask, np.zeros(pad, dtype=bool)])
    return np.packbits(mask, bitorder="little").view(np.uint64)


def chain_planes(dims: Dimensions, n_chains: int) -> np.ndarray:
    """(n_chains + 1, W) packed: members of each chain, then enterprises of none."""
    masks = [(dims.chains >> k) & 1 == 1 for k in range(n_chains)] + [dims.chains == 0]
    return np.stack([pack(m) for m in masks])


class _Rates:
    """Rates and conditional amounts of one entry's undetermined keys."""

    def __init__(self, cb, sample: SamplePlanes, amounts: Amounts, cal: Calibration, hist: History, estimator: str):
        self.cb, self.sample, self.amounts, self.cal, self.hist, self.estimator = (
            cb, sample, amounts, cal, hist, estimator)
        self._sample_amounts: dict[int, np.ndarray] = {}
        self._sample_bases: dict[str, np.ndarray] = {}

    def sample_amounts(self, j: int) -> np.ndarray:
        """The fixed amount of each sample row under entry ``j``'s rule (NaN where the facts leave it open)."""
        if j not in self._sample_amounts:
            base = self.cb.policies[j].policy.amount_base
            if base is not None and base not in self._sample_bases:
                x = self.amounts.base(base)
                if x is not None:
                    self._sample_bases[base] = x[self.sample.rows]
            values = self._sample_bases if base in self._sample_bases else None
            lo, _, fixed = self.amounts.known(j, self.sample.rows, values)
            self._sample_amounts = {j: np.where(fixed, lo, np.nan)}  # one entry at a time: keep the last
        return self._sample_amounts[j]

    def rates(self, j: int, keys: np.ndarray, facts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cp = self.cb.policies[j]
        q_data, support, m = self.sample.data_rates(cp, j, keys)
        pid = cp.policy.id
        if self.estimator == "data":
            q = q_data
        elif self.estimator == "history":
            r = self.hist.r.get(cp.policy.mode, self.hist.r_pooled) or 1.0
            q = self.cal.rate_of(pid, r, unknown_set(keys), q_data)
        else:
            q = np.minimum(1.0, q_data * self.cal.factors(pid, facts))
        return q, support, m

    def conditional_amounts(self, j: int, m: np.ndarray, need: np.ndarray, fallback: float) -> np.ndarray:
        """Mean amount of eligible sample rows agreeing with each key (for keys whose amount is unknown)."""
        out = np.full(m.shape[0], fallback)
        if not need.any():
            return out
        a = self.sample_amounts(j)
        # the eligible sample rows with a fixed amount, then which of them agree with each key (a bit test each)
        r = np.flatnonzero(unpack(self.sample.E[j], self.sample.n) & np.isfinite(a))
        if r.size == 0:
            return out
        k = np.flatnonzero(need)
        bits = ((m[k][:, r >> 6] >> (r & 63).astype(np.uint64)) & np.uint64(1)).astype(np.float64)
        count = bits.sum(axis=1)
        total = bits @ a[r]
        ok = count >= MIN_AMOUNT_SUPPORT
        out[k[ok]] = total[ok] / count[ok]
        return out

    def fallback_amount(self, j: int, known_eligible: np.ndarray) -> float:
        """The central amount of a pair whose amount is unknown: the mean known amount of the entry's eligible
        pairs in the city, else of its eligible sample rows, else of every sample row, else the cap."""
        if known_eligible.size:
            return float(known_eligible.mean())
        p = self.cb.policies[j].policy
        a = self.sample_amounts(j)
        e = unpack(self.sample.E[j], self.sample.n) & np.isfinite(a)
        if e.any():
            return float(a[e].mean())
        if np.isfinite(a).any():
            return float(a[np.isfinite(a)].mean())
        return np.nan if p.max_amount is None else float(p.max_amount)


def cell_counts(both: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(P, 2, n_cells) set bits of each plane between consecutive ``bounds`` (row positions): with the rows sorted
    by cell, the verdict counts per cell without extracting a single pair — prefix popcounts at the boundaries."""
    p, v, w = both.shape
    padded = np.concatenate([both, np.zeros((p, v, 1), dtype=np.uint64)], axis=2)
    cum = np.zeros((p, v, w + 2), dtype=np.int64)
    np.cumsum(np.bitwise_count(padded), axis=2, out=cum[..., 1:])
    word, bit = bounds // WORD, (bounds % WORD).astype(np.uint64)
    low = (np.uint64(1) << bit) - np.uint64(1)  # the bits of the boundary word before the boundary
    prefix = cum[..., word] + np.bitwise_count(padded[..., word] & low[None, None, :])
    return np.diff(prefix, axis=2)


def run_pass(cb, enc: Encoded, entries: list[Entry], dims: Dimensions, rates: _Rates, amounts: Amounts,
             n_chains: int, bounds: np.ndarray, chunk: int = 128, ruled: np.ndarray | None = None,
             blocker=None) -> PassResult:
    """``enc`` and ``dims`` hold the city's rows sorted by cell (district × section × size); ``bounds`` the row
    where each cell starts (and the end): counts per cell come from the planes, and only the pairs whose amount
    varies (rate × base) or that are undetermined are extracted."""
    n = enc.n
    P = len(entries)
    w = -(-n // WORD)
    nc = dims.n_cells
    cell = dims.cell
    chains = chain_planes(dims, n_chains)
    out = PassResult(
        eligible=np.zeros(P, np.int64), undetermined=np.zeros(P, np.int64), low=np.zeros(P), central=np.zeros(P),
        high=np.zeros(P), central_eligible=np.zeros(P), central_var=np.zeros(P), blocked=np.zeros(P, np.int64), cells=np.zeros((P, 2, nc), np.int64), cell_pay=np.zeros((P, nc)),
        chains=np.zeros((P, 2, n_chains + 1), np.int64), eligible_planes=np.zeros((0, w), np.uint64),
        keys=pd.DataFrame(), mean_rate=np.full(P, np.nan))
    key_parts: list[pd.DataFrame] = []
    simulated = np.array([e.simulated for e in entries], dtype=bool)
    # every entry at once: each block of rows computes every test's planes once for all policies and variants
    clock = _Clock(out.timings)
    tables = LeafTables(cb, enc)
    cell = cell.astype(np.int32)
    planes = evaluate_planes(cb, enc, np.arange(P, dtype=np.int64))
    out.eligible_planes = planes.true
    clock("planes")
    for a in range(0, P, chunk):
        idx = np.arange(a, min(P, a + chunk), dtype=np.int64)
        local = np.flatnonzero(simulated[idx])
        if local.size == 0:
            continue
        both = planes.both[idx[local]]
        gidx = idx[local]
        tmp = np.empty_like(both)
        cnt = np.empty(both.shape, dtype=np.uint8)
        for k in range(n_chains + 1):  # into reused buffers: no fresh (chunk × 2 × W) array per chain
            np.bitwise_and(both, chains[k][None, None, :], out=tmp)
            np.bitwise_count(tmp, out=cnt)
            out.chains[gidx, :, k] = cnt.sum(axis=2, dtype=np.int64)
        del tmp, cnt
        clock("chains")
        pl = local.size
        counts = cell_counts(both, bounds)
        out.cells[gidx] = counts
        out.eligible[gidx] = counts[:, 0].sum(axis=1)
        out.undetermined[gidx] = counts[:, 1].sum(axis=1)
        const = np.array([amounts.constant(int(j)) is not None for j in gidx], dtype=bool)
        if blocker is not None and ruled is not None:
            const &= ~ruled[gidx]  # pairs a rule may block are listed, to be checked against the grants
        fallback: dict[int, float] = {}
        for i in np.flatnonzero(const):  # eligible pairs of a fixed amount: the counts say everything
            j = int(gidx[i])
            a = amounts.constant(j)
            total = a * out.eligible[j]
            out.low[j] += total
            out.high[j] += total
            out.central[j] += total
            out.central_eligible[j] += total
            out.cell_pay[j] += a * counts[i, 0]
            fallback[j] = a
        need = both.copy() if const.any() else both
        need[const, 0] = 0  # no rows wanted for them
        clock("cells")
        pj, rows, verdict = pairs_of(Planes(gidx, need, n))
        del both, need
        clock("pairs")
        if blocker is not None and ruled is not None and ruled[gidx].any():
            pj, rows, verdict = _unblocked(out, blocker, gidx, pj, rows, verdict, cell, dims.chains, n_chains)
        und = verdict == 1
        key_nc = pj * np.int32(nc) + cell[rows]  # int32: pl × n_cells stays far below 2^31
        weight = np.zeros(pj.size)
        seg = pj * np.int32(2) + und
        cuts = np.flatnonzero(np.diff(seg)) + 1
        starts, stops = (np.r_[0, cuts], np.r_[cuts, seg.size]) if seg.size else (np.zeros(0, int), np.zeros(0, int))
        clock("cells")
        for s, e in zip(starts.tolist(), stops.tolist(), strict=True):
            j = int(gidx[int(pj[s])])
            r = rows[s:e]
            const = amounts.constant(j)
            if not und[s]:  # eligible pairs whose amount varies: fixed, or between its bounds
                lo, hi, known = amounts.known(j, r)
                fb = fallback[j] = rates.fallback_amount(j, lo[known])
                weight[s:e] = np.where(known, lo, np.clip(fb, lo, hi))
                total = weight[s:e].sum()
                out.low[j] += lo.sum()
                out.high[j] += hi.sum()
                out.central[j] += total
                out.central_eligible[j] += total
                continue
            cp = cb.policies[j]
            clock("eligible")
            keys, inv = undetermined_keys(cb, enc, cp, r, tables)
            clock("keys")
            text = facts_text(cp, keys)
            q, sup, m = rates.rates(j, keys, text)
            clock("rates")
            n_k = np.bincount(inv, minlength=keys.shape[0])
            if const is not None:
                a_key = np.full(keys.shape[0], const)
                w_key = q * const
                weight[s:e] = w_key[inv]
                out.high[j] += const * r.size
                var = float((n_k * q * (1.0 - q)).sum() * const**2)
                high_key = n_k * const
                central_key = n_k * w_key
            else:
                fb = fallback.get(j)
                if fb is None:
                    fb = fallback[j] = rates.fallback_amount(j, np.zeros(0))
                lo, hi, known = amounts.known(j, r)
                unk_key = np.bincount(inv, weights=~known, minlength=keys.shape[0]) > 0
                a_key = rates.conditional_amounts(j, m, unk_key, fb)
                a_pair = np.where(known, lo, np.clip(a_key[inv], lo, hi))
                qp = q[inv]
                weight[s:e] = qp * a_pair
                out.high[j] += hi.sum()
                var = float((qp * (1.0 - qp) * a_pair**2).sum())
                high_key = np.bincount(inv, weights=hi, minlength=keys.shape[0])
                central_key = np.bincount(inv, weights=weight[s:e], minlength=keys.shape[0])
            out.central[j] += float(central_key.sum())
            out.central_var[j] += var
            out.mean_rate[j] = float((q * n_k).sum() / n_k.sum())
            key_parts.append((j, text, n_k, q, sup, high_key, central_key))
            clock("undetermined")
        clock("eligible")
        out.cell_pay[gidx] += np.bincount(key_nc, weights=weight, minlength=pl * nc).reshape(pl, nc)
    for j, e in enumerate(entries):
        if e.simulated and e.policy.max_amount is None and e.policy.amount_rate is None:
            out.low[j] = out.central[j] = out.high[j] = out.central_eligible[j] = np.nan
    out.keys = pd.DataFrame({
        "entry": np.concatenate([np.full(len(k[1]), k[0], dtype=np.int64) for k in key_parts] or [np.zeros(0, np.int64)]),
        "unknown": pd.array([t for k in key_parts for t in k[1]], dtype="string"),
        **{name: np.concatenate([k[i] for k in key_parts] or [np.zeros(0)])
           for i, name in ((2, "pairs"), (3, "rate"), (4, "complete_cases"), (5, "payout_high"), (6, "payout_central"))}})
    return out
