"""How many of the pairs a data-sharing action decides would turn out eligible: an estimate.

The estimator, per group of undetermined pairs with the same policy and the same unknown facts U:

1. **Sample** pairs by coordinated Poisson sampling: each enterprise draws one permanent random number u, and a
   pair of a group of N pairs is sampled when u < min(1, per_group / N) — every pair has the same inclusion
   probability within its group, and the sampled enterprises overlap across policies, so one imputed copy of
   an enterprise serves all its sampled pairs with the same U.
2. **Impute** U for each sampled enterprise, ``draws`` times, by hot-deck: copy U jointly from a donor, an
   enterprise where every fact of U is known (a code at its finest level).  Donors are drawn within a cell:
   under the enterprise's own coarse code when U holds an industry or district code it knows coarsely
   (``C39`` → a class under 39), else within its industry section (``strata``), falling back to every donor
   when the cell has fewer than ``min_donors``.
3. **Re-evaluate** the policy on the imputed copies (the same engine) and read each sampled pair's verdict.

With p̂ᵢ the share of draws in which sampled pair i is eligible, the group's estimate is N × mean(p̂ᵢ); its
variance adds the sampling error of that mean, N²(1 − n/N)·p̃(1 − p̃)/n with p̃ = (Σp̂ᵢ + ½)/(n + 1) (the
Bernoulli bound, smoothed so a small all-0 or all-1 sample keeps some spread), and the spread of the count
itself around its expectation, N·mean(p̂ᵢ(1 − p̂ᵢ)).  The assumption is the hot-deck one: within a cell, the
missing facts are distributed like the known ones (missing at random).  A group without any donor has no
estimate (the tables then give the honest range [0, N]).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quanhuiqi.policy.readiness import PairCodes, SourceMap, _full_code, requirements, split_unknown

ESTIMATE_COLUMNS = ["policy_id", "unknown", "pairs", "sampled", "trials", "eligible_share", "undecided_share",
                    "donors", "fallback_share", "eligible_est", "eligible_var"]


class _Keys:
    """Per-profile arrays the draws share, computed once: which rows know a field, each row's level of a
    code field, and integer cell codes of code prefixes and of the strata column."""

    def __init__(self, profile: pd.DataFrame, book, strata: str | None):
        self.profile, self.book, self.strata = profile, book, strata
        self._known: dict[str, np.ndarray] = {}
        self._level: dict[str, np.ndarray] = {}
        self._cells: dict[tuple[str, int], tuple[np.ndarray, int]] = {}

    def code_field(self, name: str) -> str | None:
        f = self.book.fields.get(name)
        return f.hierarchy if f is not None and f.type == "code" and f.hierarchy in ("industry", "district") else None

    def known(self, name: str) -> np.ndarray:
        """Rows whose value of ``name`` is known well enough to settle any test of it."""
        if name not in self._known:
            f = self.book.fields.get(name)
            col = self.profile[name]
            if self.code_field(name):
                self._known[name] = _full_code(col, f.hierarchy)
            elif f is not None and f.type == "set":
                self._known[name] = np.ones(len(col), dtype=bool)
            else:
                self._known[name] = col.notna().to_numpy(dtype=bool)
        return self._known[name]

    def level(self, name: str) -> np.ndarray:
        """How coarsely each row knows a code: industry 1 (section) / 2 / 3 / 4 (class), district 2
        (province) / 4 (prefecture) / 6; 0 when missing."""
        if name not in self._level:
            s = self.profile[name].astype("string")
            if self.code_field(name) == "industry":
                lv = np.where(s.str.match(r"[A-Za-z]").fillna(False), 1, s.str.len().fillna(0).astype(int))
            else:
                lv = np.where(s.str.fullmatch(r"\d{2}0000").fillna(False), 2,
                              np.where(s.str.fullmatch(r"\d{4}00").fillna(False), 4,
                                       np.where(s.notna(), 6, 0)))
            self._level[name] = np.asarray(lv, dtype=np.int64)
        return self._level[name]

    def cells(self, name: str, level: int) -> tuple[np.ndarray, int]:
        """(cell code per row, number of cells): the code cut at ``level`` (an industry section for level 1;
        ``name`` = ``""``: the strata column); −1 where missing."""
        key = (name, level)
        if key not in self._cells:
            if not name:
                s = self.profile[self.strata].astype("string")
            elif self.code_field(name) == "industry" and level == 1:
                s = (self.profile["industry_section"] if "industry_section" in self.profile.columns
                     else self.profile[name].str[:0].where(False)).astype("string")
            else:
                s = self.profile[name].astype("string").str[:level]
            codes, uniq = pd.factorize(s, use_na_sentinel=True)
            self._cells[key] = (codes.astype(np.int64), len(uniq))
        return self._cells[key]


def _draw(rng: np.random.Generator, keys: _Keys, fields: list[str], recipients: np.ndarray, pool: np.ndarray,
          draws: int, min_donors: int) -> tuple[np.ndarray, np.ndarray]:
    """Donor rows (recipients × draws) drawn within each recipient's cell, and whether it fell back to all
    donors (no cell known, or fewer than ``min_donors`` in it).

    The cell: when the facts to impute hold an industry (else district) code the recipient knows coarsely
    (``C39``), the donors whose code lies under it; otherwise the recipient's ``strata`` value."""
    out = pool[rng.integers(0, pool.size, size=(recipients.size, draws))]
    fallback = np.ones(recipients.size, dtype=bool)
    codes = [f for f in fields if keys.code_field(f)]
    code = next((f for f in codes if keys.code_field(f) == "industry"), codes[0] if codes else None)
    if code is not None:
        lv = keys.level(code)[recipients]
        plans = [(code, int(level), np.flatnonzero(lv == level)) for level in np.unique(lv)
                 if 0 < level < (4 if keys.code_field(code) == "industry" else 6)]
    elif keys.strata and keys.strata in keys.profile.columns and keys.strata not in fields:
        plans = [("", 0, np.arange(recipients.size))]
    else:
        plans = []
    for name, level, sel in plans:
        cell, n_cells = keys.cells(name, level)
        d = cell[pool]
        order = np.argsort(d, kind="stable")
        cnt = np.bincount(d[d >= 0], minlength=n_cells)
        start = np.searchsorted(d[order], np.arange(n_cells), side="left")
        rc = cell[recipients[sel]]
        ok = rc >= 0
        ok[ok] = cnt[rc[ok]] >= min_donors
        rows, c = sel[ok], rc[ok]
        if rows.size:
            u = rng.random((rows.size, draws))
            out[rows] = pool[order[start[c][:, None] + (u * cnt[c][:, None]).astype(np.int64)]]
            fallback[rows] = False
    return out, fallback


def estimate_eligible(book, profile: pd.DataFrame, codes: PairCodes, smap: SourceMap, *, draws: int = 4,
                      per_group: int = 64, seed: int = 0, strata: str | None = "industry_section",
                      min_donors: int = 20, donor_pool: int = 50_000, batch_rows: int = 1 << 17) -> pd.DataFrame:
    """Per (policy, unknown list) group that data sharing can decide: the estimated eligible pairs and their
    variance (see the module docstring).  ``profile`` must carry the book's derived columns (``with_facts``),
    as the pairs were evaluated on it; ``codes`` are its :func:`~quanhuiqi.policy.readiness.pair_codes`.
    Imputed copies are evaluated ``batch_rows`` at a time, every policy of the batch at once."""
    if draws < 1 or per_group < 1:
        raise ValueError("draws and per_group must be at least 1")
    g = codes.groups
    if not len(g) or not codes.rows.size:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in ESTIMATE_COLUMNS})
    req = requirements(g["unknown"], g["partial"], smap)
    estimable = req["settleable"].to_numpy(dtype=bool) & ~g["partial"].to_numpy(dtype=bool)
    rng = np.random.default_rng(seed)
    u_row = rng.random(len(profile))  # permanent random numbers: coordinated samples across policies
    pi = np.minimum(1.0, per_group / np.maximum(g["pairs"].to_numpy(dtype=float), 1.0))
    sampled = np.flatnonzero(estimable[codes.group] & (u_row[codes.rows] < pi[codes.group]))
    cat, cat_texts = pd.factorize(g["unknown"].astype("string").fillna(""))
    keys = _Keys(profile, book, strata)
    n_g = len(g)
    acc = {k: np.zeros(n_g) for k in ("elig", "elig_var", "undec", "n", "fallback")}
    donors_n = np.full(n_g, -1, dtype=np.int64)
    s_cat = cat[codes.group[sampled]]
    order = np.argsort(s_cat, kind="stable")
    cuts = np.flatnonzero(np.diff(s_cat[order])) + 1
    jobs, batch, size = [], [], 0
    for seg in (np.split(order, cuts) if order.size else []):
        fields = split_unknown(str(cat_texts[int(s_cat[seg[0]])]))
        idx = sampled[seg]
        if not fields or any(f not in profile.columns for f in fields):
            continue
        pool = np.flatnonzero(np.logical_and.reduce([keys.known(f) for f in fields]))
        donors_n[np.unique(codes.group[idx])] = pool.size
        if not pool.size:
            continue
        if pool.size > donor_pool:
            pool = np.sort(rng.choice(pool, donor_pool, replace=False))
        R, rpos = np.unique(codes.rows[idx], return_inverse=True)
        pick, fallback = _draw(rng, keys, fields, R, pool, draws, min_donors)
        batch.append((idx, R, rpos, fields, pick, fallback))
        size += R.size * draws
        if size >= batch_rows:
            jobs.append(batch)
            batch, size = [], 0
    if batch:
        jobs.append(batch)
    for batch in jobs:
        _evaluate_batch(book, profile, codes, batch, draws, acc)
    N = g["pairs"].to_numpy(dtype=float)
    n_s = acc["n"]
    have = (n_s > 0) & (donors_n > 0)
    ns = np.maximum(n_s, 1)
    share = acc["elig"] / ns
    p_t = (acc["elig"] + 0.5) / (n_s + 1)
    var = N**2 * np.clip(1 - n_s / np.maximum(N, 1), 0, 1) * p_t * (1 - p_t) / ns + N * acc["elig_var"] / ns
    out = pd.DataFrame({
        "policy_id": g["policy_id"], "unknown": g["unknown"], "pairs": g["pairs"], "sampled": n_s.astype(np.int64),
        "trials": (n_s * draws).astype(np.int64), "eligible_share": np.where(have, share, np.nan),
        "undecided_share": np.where(have, acc["undec"] / ns, np.nan), "donors": donors_n,
        "fallback_share": np.where(have, acc["fallback"] / ns, np.nan),
        "eligible_est": np.where(have, N * share, np.nan), "eligible_var": np.where(have, var, np.nan),
    })  # fmt: skip
    return out[estimable].reset_index(drop=True)


def _evaluate_batch(book, profile: pd.DataFrame, codes: PairCodes, batch: list, draws: int,
                    acc: dict[str, np.ndarray]) -> None:
    """Evaluate the imputed copies of a batch of unknown lists at once and add each sampled pair's share of
    eligible draws to its group.  Column by column, each imputed row takes its value from one profile row:
    itself, or for the facts being imputed, its donor — one ``take`` per column."""
    from quanhuiqi.eligibility.engine import encode, evaluate_planes

    cb = book.compiled
    rep = np.concatenate([np.repeat(R, draws) for _, R, _, _, _, _ in batch])
    src: dict[str, np.ndarray] = {}
    offset = 0
    offsets = []
    for _, R, _, fields, pick, _ in batch:
        n = R.size * draws
        for f in fields:
            src.setdefault(f, rep.copy())[offset:offset + n] = pick.ravel()
        offsets.append(offset)
        offset += n
    columns = [c for c in cb.codecs if c in profile.columns]
    frame = pd.DataFrame({c: profile[c].iloc[src.get(c, rep)].reset_index(drop=True) for c in columns})
    pol = np.concatenate([codes.pol[idx] for idx, *_ in batch])
    P = np.unique(pol)
    planes = evaluate_planes(cb, encode(cb, frame), P.astype(np.int64))
    for (idx, _, rpos, _, _, fallback), off in zip(batch, offsets, strict=True):
        grp = codes.group[idx]
        j = np.searchsorted(P, codes.pol[idx])
        i = (off + rpos[:, None] * draws + np.arange(draws)[None, :]).astype(np.int64)
        shift = (i & 63).astype(np.uint64)
        is_e = ((planes.both[j[:, None], 0, i >> 6] >> shift) & np.uint64(1)).astype(bool)
        is_u = ((planes.both[j[:, None], 1, i >> 6] >> shift) & np.uint64(1)).astype(bool)
        p_hat = is_e.mean(axis=1)
        np.add.at(acc["elig"], grp, p_hat)
        np.add.at(acc["elig_var"], grp, p_hat * (1 - p_hat))
        np.add.at(acc["undec"], grp, is_u.mean(axis=1))
        np.add.at(acc["n"], grp, 1.0)
        np.add.at(acc["fallback"], grp, fallback[rpos].astype(float))
