"""``simulate``: who would qualify for each policy (draft or live), what it would cost, and how a threshold moves both.

Every policy of the book is simulated over the whole city as the data holds it, whatever its validity window (a
draft's window has usually not begun: the window decides *when* it pays, not *who* qualifies), together with the
variants of the sweeps.  Per policy and variant: eligible, undetermined and ineligible enterprises (by district,
industry section, size class and chain), the payout — the sum of the amounts of eligible pairs, and for
undetermined pairs a range (none qualifies … every one does) and a central estimate (``estimate``) — the overlap
with the policies in force, and the payout lead times the grants history shows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.simulate.city import CityData, read_city
from quanhuiqi.simulate.dims import chain_labels, dimensions, district_labels, section_labels, size_labels
from quanhuiqi.simulate.estimate import (
    ESTIMATORS,
    SamplePlanes,
    applications,
    calibrate,
    read_history,
)
from quanhuiqi.simulate.kernel import Amounts, Entry, _Rates, amount_rule, run_pass
from quanhuiqi.simulate.language import blocked, derived_columns, encode, has_rules
from quanhuiqi.simulate.leadtime import lead_times
from quanhuiqi.simulate.overlap import OVERLAP_COLUMNS, PARTNER_COLUMNS, exclusive_group, overlap
from quanhuiqi.simulate.variants import Sweep, read_sweeps

SIMULATION_COLUMNS = ["policy_id", "variant", "eligible", "undetermined", "ineligible", "payout_low",
                      "payout_central", "payout_high"]
BASE = "base"
SAMPLE_ROWS = 1 << 17


@dataclass
class SimulationResult:
    """The simulation's tables (money in 万元) and what they rest on (``meta``)."""

    summary: pd.DataFrame  # simulation.csv: SIMULATION_COLUMNS, one row per policy and variant
    policies: pd.DataFrame  # the same rows described: title, department, mode, amount rule, rate, overlap …
    breakdown: pd.DataFrame  # policy_id, variant, dimension, code, label, eligible, undetermined, ineligible, payout
    undetermined: pd.DataFrame  # undetermined pairs by the facts that would settle them
    sweeps: pd.DataFrame  # one row per sweep value (and the policy's current value)
    overlap: pd.DataFrame  # in-force partners sharing eligible enterprises
    lead_times: pd.DataFrame  # per policy
    lead_times_department: pd.DataFrame
    estimates: pd.DataFrame  # per policy: the history behind the central estimate
    meta: dict[str, Any] = field(default_factory=dict)
    rejects: pd.DataFrame | None = None

    def row(self, policy_id: str, variant: str = BASE) -> pd.Series:
        s = self.summary
        hit = s[(s["policy_id"] == policy_id) & (s["variant"] == variant)]
        if hit.empty:
            raise KeyError(f"no simulated row for {policy_id} {variant}")
        return hit.iloc[0]

    def to_json(self) -> dict[str, Any]:
        from quanhuiqi.simulate.report import to_json

        return to_json(self)

    def html(self) -> str:
        from quanhuiqi.simulate.report import render_html

        return render_html(self)

    def write(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """``simulation.csv`` and the breakdowns as CSV, ``simulation.json`` and ``report.html`` (each atomically)."""
        from quanhuiqi.simulate.report import write_outputs

        return write_outputs(self, Path(out_dir))


def _same(a, b) -> bool:
    return dataclasses.replace(a, file="", tests=()) == dataclasses.replace(b, file="", tests=())


def build_entries(book, sweeps: list[Sweep], in_force, day: dt.date) -> list[Entry]:
    """The book's policies and the sweeps' variants (simulated), then in-force policies evaluated for overlap only."""
    entries = [Entry(p, BASE, True, in_force is None and p.active(day)) for p in book.items]
    entries += [Entry(v.policy, v.label, True, False) for s in sweeps for v in s.variants]
    if in_force is not None:
        base = {e.policy.id: j for j, e in enumerate(entries) if e.variant == BASE}
        kinds = {e.policy.benefit_kind or "" for e in entries}
        groups = {exclusive_group(e.policy) for e in entries} - {None}
        for q in in_force.items:
            # only what overlap compares with: the same benefit kind, or the same exclusive group
            if not q.active(day) or ((q.benefit_kind or "") not in kinds and exclusive_group(q) not in groups):
                continue
            j = base.get(q.id)
            if j is not None and _same(entries[j].policy, q):
                entries[j] = dataclasses.replace(entries[j], in_force=True)
            else:
                entries.append(Entry(q, "in_force", False, True))
    return entries


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    """Rows of the estimation sample in random order (so any prefix of it is a random subset too)."""
    rng = np.random.default_rng([seed, 19])
    if n <= size:
        return rng.permutation(n).astype(np.int64)
    return rng.choice(n, size, replace=False).astype(np.int64)


def simulate(
    book,
    data: CityData | str | os.PathLike,
    as_of: str | dt.date,
    vary: list[Sweep] | str | os.PathLike | list[dict] | None = None,
    *,
    in_force=None,
    estimator: str = "calibrated",
    sample_rows: int = SAMPLE_ROWS,
    seed: int = 0,
    top_partners: int = 5,
    chunk: int = 128,
) -> SimulationResult:
    """Simulate every policy of ``book`` (and the variants of ``vary``) over the city of ``data`` at ``as_of``.

    ``data``: a :class:`CityData` (``read_city``) or a data folder; ``vary``: a sweep file, its parsed list, or
    sweeps from ``read_sweeps``; ``in_force``: the book of policies in force for overlap (default: the data
    folder's ``policies/``, else the book's own policies valid on ``as_of``); ``estimator``: the central
    estimate, ``calibrated`` (default), ``data`` or ``history`` (see ``quanhuiqi.simulate.estimate``);
    ``sample_rows``: rows behind the complete-case rates and partner screening (the whole city when smaller).
    """
    from quanhuiqi.eligibility.batch import as_date
    from quanhuiqi.eligibility.compiled import CompiledBook

    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator {estimator!r}: expected one of {', '.join(ESTIMATORS)}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    day = as_date(as_of)
    city = data if isinstance(data, CityData) else read_city(data, day)
    if city.as_of != day:
        raise ValueError(f"the city was read as of {city.as_of}, the simulation asks for {day}: profiles depend on "
                         f"the date (ages, insurance months); read it again with read_city(..., {day.isoformat()!r})")
    timings["read_s"] = time.perf_counter() - t0
    sweeps = [] if vary is None else (vary if _is_sweeps(vary) else read_sweeps(vary, book))
    force_book = in_force if in_force is not None else city.in_force
    entries = build_entries(book, sweeps, force_book, day)
    fields = {**(force_book.fields if force_book is not None else {}), **book.fields,
              **{k: f for sw in sweeps for v in sw.variants for k, f in v.fields.items()}}
    t = time.perf_counter()
    cb = CompiledBook([e.policy for e in entries], fields)
    prof = city.profile
    n = len(prof)
    bases = tuple(sorted({e.policy.amount_base for e in entries if e.policy.amount_base}))
    dims = city.cached("dimensions", lambda: dimensions(prof))
    # the pass reads the rows sorted by breakdown cell: counts per cell come straight from the planes
    order, inverse, sdims, bounds = city.cached("cell_order", lambda: _cell_order(dims))
    enc = permuted(encode(cb, prof, bases, derived_columns(cb, prof, city.facts, day)), order, bases)
    timings["encode_s"] = time.perf_counter() - t
    t = time.perf_counter()
    sample = SamplePlanes(cb, enc, inverse[_sample(n, sample_rows, seed)])
    cal_book = force_book if force_book is not None else book
    cal, hist = city.cached(("calibration", _fingerprint(cal_book), sample_rows, seed),
                            lambda: calibration(cal_book, city, sample_rows, seed))
    timings["estimate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    amounts = Amounts(cb, enc)
    rates = _Rates(cb, sample, amounts, cal, hist, estimator)
    chain_codes, chain_names = chain_labels()
    usccs = prof["uscc"].iloc[order].reset_index(drop=True)
    ruled = np.array([has_rules(e.policy) for e in entries], dtype=bool)
    # the grants decide which pairs of a policy with a cross-policy rule are blocked
    blocker = (partial(blocked, cb, usccs, grants=city.grants, as_of=day)
               if ruled.any() and city.grants is not None and len(city.grants) else None)
    res = run_pass(cb, enc, entries, sdims, rates, amounts, len(chain_codes) - 1, bounds, chunk=chunk,
                   ruled=ruled, blocker=blocker)
    timings["pass_s"] = time.perf_counter() - t
    timings.update(res.timings)
    t = time.perf_counter()
    sim = [j for j, e in enumerate(entries) if e.simulated]

    def pair_amounts(j: int, rows: np.ndarray) -> np.ndarray:
        lo, hi, fixed = amounts.known(j, rows)
        return np.where(fixed, lo, np.clip(rates.fallback_amount(j, lo[fixed]), lo, hi))

    granted = {k: m[order] for k, m in _granted_by_kind(city, entries, force_book, book).items()}
    ov_summary, ov_pairs = overlap(entries, res.eligible_planes, sample.E, n, pair_amounts, granted, top=top_partners)
    timings["overlap_s"] = time.perf_counter() - t
    del res.eligible_planes
    ids = pd.array([entries[j].policy.id for j in sim], dtype="string")
    variants = pd.array([entries[j].variant for j in sim], dtype="string")
    summary = pd.DataFrame({
        "policy_id": ids, "variant": variants, "eligible": res.eligible[sim], "undetermined": res.undetermined[sim],
        "ineligible": n - res.eligible[sim] - res.undetermined[sim], "payout_low": res.low[sim].round(4),
        "payout_central": res.central[sim].round(4), "payout_high": res.high[sim].round(4)})
    pos = {j: i for i, j in enumerate(sim)}
    described = _describe(entries, sim, res, ov_summary, pos, ids, variants)
    t = time.perf_counter()
    policies_all = _policy_frame(book, force_book)
    lt_pol, lt_dep = lead_times(city.grants, city.push_history, policies_all, day)
    timings["lead_times_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    meta = {
        "as_of": day.isoformat(), "enterprises": n, "book_version": book.version, "policies": len(book),
        "variants": sum(len(s.variants) for s in sweeps), "in_force_policies": sum(e.in_force for e in entries),
        "in_force_book": None if force_book is None else getattr(force_book, "version", None),
        "estimator": estimator, "sample_rows": sample.n, "history_applications": hist.applications,
        "approval_rate_eligible": hist.r, "calibration_pooled": round(cal.pooled, 4),
        "calibration_kappa": {level: round(k, 2) for level, (k, _) in cal.levels.items()},
        "source": city.source, "inputs": city.inputs, "timings": {k: round(v, 3) for k, v in timings.items()},
        "unit": "万元",
    }
    return SimulationResult(
        summary=summary, policies=described, breakdown=_breakdown(res, dims, sim, ids, variants, n),
        undetermined=_undetermined(res.keys, pos, ids, variants), sweeps=_sweep_table(sweeps, summary, book),
        overlap=_partners(ov_pairs, pos, ids, variants), lead_times=lt_pol, lead_times_department=lt_dep,
        estimates=_estimates(book, cal, hist), meta=meta, rejects=city.rejects)


def load_drafts(path: str | os.PathLike):
    """A book for simulation: drafts (``status: draft``) are what a simulation is for, so they are accepted."""
    import inspect

    from quanhuiqi.policy import load_book

    if "allow_drafts" in inspect.signature(load_book).parameters:
        return load_book(path, allow_drafts=True)
    return load_book(path)


def simulate_dir(policies: str | os.PathLike, data: str | os.PathLike, as_of: str | dt.date,
                 out: str | os.PathLike, vary: str | os.PathLike | None = None, estimator: str = "calibrated",
                 encoding: str | None = None) -> str:
    """What ``quanhuiqi policy simulate`` runs: the book and the sweeps are checked before the city is read; the
    outputs are written only when everything succeeded.  ``encoding``: the data folder's CSV tables' (default
    detected per file).  Returns a short summary."""
    from quanhuiqi.eligibility.batch import as_date

    day = as_date(as_of)
    book = load_drafts(policies)
    sweeps = read_sweeps(vary, book) if vary is not None else None
    city = read_city(data, day, encoding=encoding)
    res = simulate(book, city, day, vary=sweeps, estimator=estimator)
    files = res.write(out)
    s = res.summary
    base = s[s["variant"] == BASE]
    lines = [f"quanhuiqi policy simulate {day}: {len(base)} policies, {len(s) - len(base)} variants over "
             f"{res.meta['enterprises']:,} enterprises in {res.meta['timings']['total_s']:.1f} s",
             f"  eligible pairs {int(base['eligible'].sum()):,}, undetermined {int(base['undetermined'].sum()):,}; "
             f"payout {base['payout_low'].sum():,.1f} … {base['payout_high'].sum():,.1f} 万元, central "
             f"{base['payout_central'].sum():,.1f} ({estimator})",
             f"  simulation: {files['summary']}", f"  report:     {files['html']}",
             "  read as: " + ", ".join(f"{k} {r['encoding']}" for k, r in city.inputs.items() if "encoding" in r)]
    return "\n".join(lines)


def _cell_order(dims):
    """(order, its inverse, the dimensions in that order, where each cell starts): rows sorted by cell."""
    order = np.argsort(dims.cell, kind="stable")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    sdims = dims.take(order)
    bounds = np.searchsorted(sdims.cell, np.arange(dims.n_cells + 1))
    return order, inverse, sdims, bounds


def permuted(enc, order: np.ndarray, keep: tuple[str, ...]):
    """The encoded profile with its rows in ``order`` (codes gathered; of the raw columns only ``keep``, the
    amount bases, which the amounts read)."""
    from quanhuiqi.eligibility.engine import Encoded

    return Encoded(enc.n, {k: v[order] for k, v in enc.codes.items()}, enc.t, enc.u,
                   {k: enc.columns[k].iloc[order] for k in keep if k in enc.columns})


def _fingerprint(book) -> str:
    """The calibration's cache key: a loaded book's version is the hash of its files; a book built by hand (no
    directory) may carry any version text, so its policies are hashed."""
    import hashlib

    if getattr(book, "directory", None):
        return f"{book.directory}:{book.version}"
    return hashlib.sha256(repr(book.items).encode()).hexdigest()


def calibration(book, city: CityData, sample_rows: int = SAMPLE_ROWS, seed: int = 0):
    """(Calibration, History) of the city's application history against ``book`` (the book in force): computed
    once per city and book, so a policy's central estimate does not depend on what else is simulated with it.

    Only the rows it needs are encoded: the estimation sample (the same rows ``simulate`` samples) and the
    enterprises of past applications."""
    from quanhuiqi.eligibility.compiled import CompiledBook

    prof = city.profile
    apps = city.cached("applications", lambda: applications(city.push_history, prof, city.grants, city.as_of))
    sample_rows_idx = _sample(len(prof), sample_rows, seed)
    need = np.unique(np.concatenate([sample_rows_idx, apps["row"].to_numpy(np.int64)]))
    pos = np.full(len(prof), -1, dtype=np.int64)
    pos[need] = np.arange(need.size)
    cb = CompiledBook(list(book.items), book.fields)
    bases = tuple(sorted({p.amount_base for p in book.items if p.amount_base}))
    sub = prof.iloc[need].reset_index(drop=True)
    enc = encode(cb, sub, bases, derived_columns(cb, sub, city.facts, city.as_of))
    sample = SamplePlanes(cb, enc, pos[sample_rows_idx])
    base_entry = {p.id: j for j, p in enumerate(book.items)}
    hist = read_history(cb, enc, apps.assign(row=pos[apps["row"].to_numpy(np.int64)]), base_entry)
    return calibrate(cb, sample, hist, base_entry), hist


def _is_sweeps(vary) -> bool:
    return isinstance(vary, list) and all(isinstance(s, Sweep) for s in vary) and len(vary) > 0


def _granted_by_kind(city: CityData, entries, force_book, book) -> dict[str, np.ndarray]:
    """Enterprises holding a grant of a policy of each benefit kind (the kinds of the book and the in-force book)."""
    grants, prof = city.grants, city.profile
    if grants is None or grants.empty:
        return {}
    kinds = {p.id: (p.benefit_kind or "") for p in book.items}
    if force_book is not None:
        kinds.update({p.id: (p.benefit_kind or "") for p in force_book.items})
    rows = city.cached("grant_rows", lambda: pd.Index(prof["uscc"].astype("string")).get_indexer(
        pd.Index(grants["uscc"].astype("string"))))
    kind = grants["policy_id"].astype("string").map(kinds)
    out: dict[str, np.ndarray] = {}
    for k in sorted(kind.dropna().unique()):
        m = np.zeros(len(prof), dtype=bool)
        r = rows[(kind == k).fillna(False).to_numpy(dtype=bool) & (rows >= 0)]
        m[r] = True
        out[str(k)] = m
    return out


def _describe(entries, sim, res, ov_summary, pos, ids, variants) -> pd.DataFrame:
    rows = []
    for j in sim:
        e = entries[j]
        p = e.policy
        rows.append({
            "title": p.title, "department": p.department, "mode": p.mode, "benefit_kind": p.benefit_kind,
            "in_force": e.in_force, "valid_from": p.valid_from.isoformat() if p.valid_from else None,
            "valid_to": p.valid_to.isoformat() if p.valid_to else None, "amount_rule": amount_rule(p),
            "max_amount": p.max_amount, "amount_rate": p.amount_rate, "amount_base": p.amount_base,
            "exclusive_group": exclusive_group(p), "once": getattr(p, "once", None),
            "blocked": int(res.blocked[j]), "undetermined_rate": res.mean_rate[j],
            "payout_eligible": round(float(res.central_eligible[j]), 4),
            "payout_sd": round(float(np.sqrt(res.central_var[j])), 4)})
    d = pd.DataFrame(rows)
    d.insert(0, "policy_id", ids)
    d.insert(1, "variant", variants)
    ov = ov_summary.set_index("entry").reindex(sim)
    for c in OVERLAP_COLUMNS[2:]:
        d[c] = ov[c].to_numpy()
    return d


def _breakdown(res, dims, sim, ids, variants, n) -> pd.DataFrame:
    parts = []
    pop_cells = np.bincount(dims.cell, minlength=dims.n_cells)
    sims = np.asarray(sim, dtype=np.int64)
    elig = dims.marginals(res.cells[sims, 0])
    und = dims.marginals(res.cells[sims, 1])
    pay = dims.marginals(res.cell_pay[sims])
    pop = dims.marginals(pop_cells[None, :])
    labels = {"district": district_labels(), "section": section_labels(), "size": size_labels()}
    for dim, (codes, names) in labels.items():
        k = len(codes)
        parts.append(pd.DataFrame({
            "policy_id": np.repeat(np.asarray(ids, dtype=object), k), "variant": np.repeat(np.asarray(variants, dtype=object), k),
            "dimension": dim, "code": np.tile(codes, len(sims)), "label": np.tile(names, len(sims)),
            "enterprises": np.tile(pop[dim][0], len(sims)), "eligible": elig[dim].ravel(),
            "undetermined": und[dim].ravel(), "payout_central": pay[dim].ravel().round(4)}))
    codes, names = chain_labels()
    members = np.array([int(((dims.chains >> k) & 1).sum()) for k in range(len(codes) - 1)] + [int((dims.chains == 0).sum())])
    parts.append(pd.DataFrame({
        "policy_id": np.repeat(np.asarray(ids, dtype=object), len(codes)),
        "variant": np.repeat(np.asarray(variants, dtype=object), len(codes)), "dimension": "chain",
        "code": np.tile(codes, len(sims)), "label": np.tile(names, len(sims)),
        "enterprises": np.tile(members, len(sims)), "eligible": res.chains[sims, 0].ravel(),
        "undetermined": res.chains[sims, 1].ravel(), "payout_central": np.nan}))
    b = pd.concat(parts, ignore_index=True)
    b["ineligible"] = b["enterprises"] - b["eligible"] - b["undetermined"]
    b = b[(b["eligible"] + b["undetermined"]) > 0].reset_index(drop=True)
    for c in ("policy_id", "variant", "dimension", "code", "label"):
        b[c] = b[c].astype("string")
    return b[["policy_id", "variant", "dimension", "code", "label", "enterprises", "eligible", "undetermined",
              "ineligible", "payout_central"]]


def _undetermined(keys: pd.DataFrame, pos, ids, variants) -> pd.DataFrame:
    cols = ["policy_id", "variant", "unknown", "pairs", "rate", "payout_high", "payout_central"]
    if keys.empty:
        return pd.DataFrame({c: pd.Series(dtype="string" if c in ("policy_id", "variant", "unknown") else float)
                             for c in cols})
    g = keys.groupby(["entry", "unknown"], sort=True).agg(pairs=("pairs", "sum"), payout_high=("payout_high", "sum"),
                                                          payout_central=("payout_central", "sum")).reset_index()
    w = keys.assign(qw=keys["rate"] * keys["pairs"]).groupby(["entry", "unknown"], sort=True)["qw"].sum().to_numpy()
    g["rate"] = (w / g["pairs"]).round(4)
    i = g["entry"].map(pos).to_numpy()
    g.insert(0, "policy_id", pd.array(np.asarray(ids, dtype=object)[i], dtype="string"))
    g.insert(1, "variant", pd.array(np.asarray(variants, dtype=object)[i], dtype="string"))
    g["unknown"] = g["unknown"].astype("string")
    g = g.sort_values(["policy_id", "variant", "pairs"], ascending=[True, True, False], kind="stable")
    for c in ("payout_high", "payout_central"):
        g[c] = g[c].round(4)
    return g[cols].reset_index(drop=True)


def _partners(pairs: pd.DataFrame, pos, ids, variants) -> pd.DataFrame:
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in PARTNER_COLUMNS})
    i = pairs["entry"].map(pos).to_numpy()
    out = pairs.drop(columns="entry")
    out.insert(0, "policy_id", pd.array(np.asarray(ids, dtype=object)[i], dtype="string"))
    out.insert(1, "variant", pd.array(np.asarray(variants, dtype=object)[i], dtype="string"))
    out["share_of_eligible"] = out["share_of_eligible"].astype(float).round(4)
    return out[PARTNER_COLUMNS].reset_index(drop=True)


def _sweep_table(sweeps: list[Sweep], summary: pd.DataFrame, book) -> pd.DataFrame:
    from quanhuiqi.simulate.report import test_label

    cols = ["sweep", "policy_id", "path", "test", "label", "unit", "variant", "value", "x", "current",
            *SIMULATION_COLUMNS[2:]]
    rows = []
    idx = summary.set_index(["policy_id", "variant"])
    for i, s in enumerate(sweeps):
        base = idx.loc[(s.policy_id, BASE)]
        cur_x = s.current_x
        label = test_label(s.what, book.fields)
        rows.append({"sweep": i, "policy_id": s.policy_id, "path": s.path, "test": s.what, "label": label, "unit": s.unit,
                     "variant": BASE, "value": _text(s.current), "x": cur_x, "current": True,
                     **{c: base[c] for c in SIMULATION_COLUMNS[2:]}})
        for v in s.variants:
            r = idx.loc[(s.policy_id, v.label)]
            rows.append({"sweep": i, "policy_id": s.policy_id, "path": s.path, "test": s.what, "label": label,
                         "unit": s.unit, "variant": v.label, "value": _text(v.value), "x": v.x, "current": False,
                         **{c: r[c] for c in SIMULATION_COLUMNS[2:]}})
    t = pd.DataFrame(rows, columns=cols)
    for c in ("policy_id", "path", "test", "label", "unit", "variant", "value"):
        t[c] = t[c].astype("string")
    t["x"] = t["x"].astype(float)
    return t


def _text(v) -> str:
    from quanhuiqi.simulate.variants import _shown

    return "" if v is None else _shown(v)


def _estimates(book, cal, hist) -> pd.DataFrame:
    rows = []
    for p in book.items:
        pid = p.id
        rows.append({"policy_id": pid, "mode": p.mode,
                     "history_undetermined_applications": cal.applied.get(pid, 0),
                     "history_undetermined_approved": cal.approved.get(pid, 0),
                     "history_expected_approved": round(cal.expected.get(pid, 0.0), 3),
                     "history_eligible_applications": hist.elig_applied.get(pid, 0),
                     "history_eligible_approved": hist.elig_approved.get(pid, 0),
                     "approval_rate_eligible": round(hist.r.get(p.mode, hist.r_pooled), 4),
                     "calibration": round(cal.pooled * cal.factor.get(pid, 1.0), 4),
                     "calibration_from": "policy" if pid in cal.factor else "none"})
    out = pd.DataFrame(rows)
    for c in ("policy_id", "mode", "calibration_from"):
        out[c] = out[c].astype("string")
    return out


def _policy_frame(book, force_book) -> pd.DataFrame:
    frames = [book.policies[["policy_id", "title", "department", "valid_from"]]]
    if force_book is not None:
        frames.append(force_book.policies[["policy_id", "title", "department", "valid_from"]])
    return pd.concat(frames, ignore_index=True).drop_duplicates("policy_id")
