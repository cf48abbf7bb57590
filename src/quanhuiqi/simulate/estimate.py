"""How likely an undetermined pair is to be eligible: the central estimate of the payout.

An undetermined pair is described by its *key*: the state (true, false, unknown) of every test of its
policy.  Three estimators, all explicit:

- ``data`` — the complete-case rate.  Among enterprises of a sample of the city whose facts decide every
  test of the policy, those that agree with the pair on its known tests: the share that is eligible
  (``e / c``).  It assumes the missing facts are distributed like the known ones among enterprises that
  look the same on what is known (missing at random); shrunk toward the product of the tests' own rates
  (independent tests) with ``PRIOR_PAIRS`` pseudo-pairs when few enterprises agree.
- ``calibrated`` (the default) — the data rate scaled by how often such pairs turned out eligible in the past.
  The application history shows which undetermined pairs applied and which were approved; a truly eligible
  applicant is approved at the rate ``r`` that proven-eligible applicants of the same mode are approved (so
  approvals / r estimates the eligible ones); applications still within the decision lag are left out.  With
  ``A`` approvals among a group's undetermined applicants and ``Ê = r · Σ q_data`` the approvals the data rate
  expects of them, the group's factor is the Gamma–Poisson posterior mean ``(A + κ) / (Ê + κ)``, level by level
  (``CALIBRATION_LEVELS``): the whole history (pooled), each policy, each policy × set of missing facts — each
  shrunk toward the level above, its κ set by the method of moments (``prior_strength``).  A policy without
  history (a draft) gets the pooled factor.  ``q = min(1, q_data · factors)``.
- ``history`` — the history alone: per policy and set of unknown tests, approvals / r over applications,
  shrunk toward the policy's rate, and that toward the pooled rate of the whole book (``PRIOR_PAIRS``
  pseudo-applications each); the data rate only where there is no history at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quanhuiqi.eligibility.engine import (
    Encoded,
    Leaf,
    atom_planes,
    evaluate_planes,
    leaf_values,
    support,
    tree_values,
)

PRIOR_PAIRS = 5.0  # pseudo-pairs of the shrinkage (complete cases, applications)
PRIOR_APPROVALS = 10.0  # the least weight of the calibration prior, in expected approvals
MAX_KAPPA = 1e4
CALIBRATION_LEVELS = ("pid", "cell")  # policy, then policy × missing facts (each shrunk toward the level above)  # the most (the history shows no spread beyond chance: every factor is the pooled one)
ESTIMATORS = ("calibrated", "data", "history")


def subset(enc: Encoded, rows: np.ndarray) -> Encoded:
    """The encoded profile restricted to ``rows`` (codes gathered; value tables shared)."""
    return Encoded(len(rows), {k: v[rows] for k, v in enc.codes.items()}, enc.t, enc.u,
                   {k: v.iloc[rows] for k, v in enc.columns.items()})


def unpack(words: np.ndarray, n: int) -> np.ndarray:
    """Packed rows (64 a word, little-endian bits) as booleans."""
    return np.unpackbits(np.ascontiguousarray(words).view(np.uint8), bitorder="little")[:n].astype(bool)


def states_of(cb, enc: Encoded, cp, rows: np.ndarray) -> np.ndarray:
    """(len(rows), L) Kleene codes of a policy's leaves (0 false, 1 unknown, 2 true) at ``rows``."""
    out = np.empty((rows.size, len(cp.leaves)), dtype=np.int8)
    for i, lf in enumerate(cp.leaves):
        out[:, i] = leaf_values(cb, enc, lf, rows)
    return out


class LeafTables:
    """Per test (atom) of a compiled book, its Kleene code (0 false, 1 unknown, 2 true) per value code of its
    field, as one small int8 table: a leaf's state at some rows is one gather.  Tests are shared by policies and
    variants, so each table is built once."""

    def __init__(self, cb, enc: Encoded):
        self.cb, self.enc = cb, enc
        self._t: dict[int, np.ndarray] = {}

    def __call__(self, atom: int) -> np.ndarray:
        t = self._t.get(atom)
        if t is None:
            name = self.cb.atom_keys[atom][0]
            pos = int(self.cb.atom_field_pos[atom])
            t = self._t[atom] = (self.enc.t[name][:, pos].astype(np.int8) * 2 + self.enc.u[name][:, pos].astype(np.int8))
        return t


def undetermined_keys(cb, enc: Encoded, cp, rows: np.ndarray, tables: LeafTables | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys (K, L), index of each row's key): each test's state at ``rows`` folded into one integer
    per row (base 3), factorised by hashing — no (rows × tests) matrix."""
    L = len(cp.leaves)
    if L > 39:
        return key_codes(states_of(cb, enc, cp, rows))
    tables = tables or LeafTables(cb, enc)
    small = L <= 19  # 3^19 < 2^31: the code fits 32 bits
    code = np.zeros(rows.size, dtype=np.int32 if small else np.int64)
    gathered: dict[str, np.ndarray] = {}
    mul = 1
    for lf in cp.leaves:
        name = cb.atom_keys[lf.atom][0]
        c = gathered.get(name)
        if c is None:
            c = gathered[name] = enc.codes[name][rows]
        v = tables(lf.atom)[c]
        if lf.neg:
            v = 2 - v
        code += v.astype(code.dtype) * code.dtype.type(mul) if mul > 1 else v
        mul *= 3
    inv, uniq = pd.factorize(code)
    uniq = np.asarray(uniq, dtype=np.int64)
    digits = (uniq[:, None] // (3 ** np.arange(L, dtype=np.int64))[None, :]) % 3
    return digits.astype(np.int8), inv


def key_codes(states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct leaf-state rows, inverse index) — one integer per row when it fits, else row-wise unique."""
    n, L = states.shape
    if L <= 39:  # 3^39 < 2^63
        code = states.astype(np.int64) @ (3 ** np.arange(L, dtype=np.int64))
        u, inv = np.unique(code, return_inverse=True)
        digits = (u[:, None] // (3 ** np.arange(L, dtype=np.int64))[None, :]) % 3
        return digits.astype(np.int8), inv.ravel()
    u, inv = np.unique(states, axis=0, return_inverse=True)
    return u, inv.ravel()


def prob_tree(node, p: dict[int, np.ndarray]) -> np.ndarray:
    """P(true) of a tree whose leaves are independent with the given probabilities."""
    if isinstance(node, Leaf):
        return p[node.leaf_id]
    kids = [prob_tree(c, p) for c in node.children]
    if node.kind == "all":
        return np.prod(kids, axis=0)
    return 1.0 - np.prod([1.0 - k for k in kids], axis=0)


def relevant_unknown(cp, states: np.ndarray) -> np.ndarray:
    """(K, L) bool: the unknown leaves that would settle each key (the engine's notion of facts to supply)."""
    lv = {lf.leaf_id: states[:, i].astype(np.int8) for i, lf in enumerate(cp.leaves)}
    vals: dict[int, np.ndarray] = {}
    root = tree_values(cp.root, lv, vals)
    ev: dict[int, np.ndarray] = {}
    unk: dict[int, np.ndarray] = {}
    support(cp.root, vals, root != 0, root == 1, ev, unk)
    out = np.zeros(states.shape, dtype=bool)
    for i, lf in enumerate(cp.leaves):
        out[:, i] = np.broadcast_to(unk.get(lf.leaf_id, False), (states.shape[0],))
    return out


class SamplePlanes:
    """A sample of the city's rows, encoded: every test's true/false planes and every entry's verdict planes.

    Complete-case rates are counted on it (AND of a few packed planes per key), so their cost does not grow
    with the city.  With the whole city as the sample (small cities) the rates are exact."""

    def __init__(self, cb, enc: Encoded, rows: np.ndarray):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.n = int(self.rows.size)
        es = subset(enc, self.rows)
        self.enc = es
        at, af = atom_planes(cb, es, 0, max(self.n, 1))
        self.at, self.af = at.copy(), af.copy()
        planes = evaluate_planes(cb, es, np.arange(len(cb.policies), dtype=np.int64), block_rows=max(self.n, 64))
        self.E = np.ascontiguousarray(planes.true)
        self.U = np.ascontiguousarray(planes.unknown)
        self.n_true = np.bitwise_count(self.at).sum(axis=1, dtype=np.int64)
        self.n_false = np.bitwise_count(self.af).sum(axis=1, dtype=np.int64)

    def leaf_planes(self, cp) -> np.ndarray:
        """(L, 3, W): per leaf, the rows where it is false, known, true (state 0, 1, 2 select them)."""
        L = len(cp.leaves)
        out = np.empty((L, 3, self.at.shape[1]), dtype=np.uint64)
        for i, lf in enumerate(cp.leaves):
            t, f = (self.af[lf.atom], self.at[lf.atom]) if lf.neg else (self.at[lf.atom], self.af[lf.atom])
            out[i, 0], out[i, 1], out[i, 2] = f, t | f, t
        return out

    def leaf_rates(self, cp) -> np.ndarray:
        """P(leaf true | known) per leaf on the sample (0.5 where no row knows it)."""
        out = np.empty(len(cp.leaves))
        for i, lf in enumerate(cp.leaves):
            t, f = self.n_true[lf.atom], self.n_false[lf.atom]
            if lf.neg:
                t, f = f, t
            out[i] = t / (t + f) if t + f else 0.5
        return out

    def matching(self, cp, states: np.ndarray, chunk: int = 64) -> np.ndarray:
        """(K, W) planes: sample rows that know every test and agree with each key on its known tests."""
        sel = self.leaf_planes(cp)
        L = len(cp.leaves)
        out = np.empty((states.shape[0], sel.shape[2]), dtype=np.uint64)
        idx = np.arange(L)[None, :]
        for a in range(0, states.shape[0], chunk):
            s = states[a : a + chunk].astype(np.int64)
            out[a : a + chunk] = np.bitwise_and.reduce(sel[idx, s], axis=1)
        return out

    def data_rates(self, cp, j: int, states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(q_data, matching counts, the matching planes) for keys ``states`` (K, L) of entry ``j``."""
        m = self.matching(cp, states)
        c = np.bitwise_count(m).sum(axis=1, dtype=np.int64)
        e = np.bitwise_count(m & self.E[j][None, :]).sum(axis=1, dtype=np.int64)
        rates = self.leaf_rates(cp)
        p = {lf.leaf_id: np.where(states[:, i] == 2, 1.0, np.where(states[:, i] == 0, 0.0, rates[i]))
             for i, lf in enumerate(cp.leaves)}
        q_ind = np.broadcast_to(prob_tree(cp.root, p), (states.shape[0],)).astype(float)
        return (e + PRIOR_PAIRS * q_ind) / (c + PRIOR_PAIRS), c, m


@dataclass
class History:
    """Applications and approvals of the past, per base policy: what calibrates the data rate.

    Per policy id: ``und`` — undetermined applicants (their key states, approved flags); ``elig_applied`` /
    ``elig_approved`` — proven-eligible applicants.  ``r`` per mode: the approval rate of eligible applicants."""

    und_states: dict[str, np.ndarray] = field(default_factory=dict)
    und_approved: dict[str, np.ndarray] = field(default_factory=dict)
    elig_applied: dict[str, int] = field(default_factory=dict)
    elig_approved: dict[str, int] = field(default_factory=dict)
    r: dict[str, float] = field(default_factory=dict)
    r_pooled: float = 1.0
    applications: int = 0

    @property
    def empty(self) -> bool:
        return self.applications == 0


def decision_lags(push_history: pd.DataFrame, grants: pd.DataFrame | None, quantile: float = 0.95) -> dict[str, float]:
    """Days from a push to the approval it led to, per mode (the ``quantile``): applications younger than that
    may still be under review, so their missing approval is not yet an outcome."""
    if grants is None or grants.empty or "granted_on" not in grants:
        return {}
    ok = push_history[push_history["approved"].fillna(False).astype(bool)]
    g = grants[["uscc", "policy_id", "granted_on"]].dropna()
    m = ok.merge(g.astype({"uscc": "string", "policy_id": "string"}),
                 left_on=[ok["uscc"].astype("string"), ok["policy_id"].astype("string")],
                 right_on=["uscc", "policy_id"], how="inner", suffixes=("", "_g"))
    if m.empty:
        return {}
    lag = (pd.to_datetime(m["granted_on"]) - pd.to_datetime(m["date"])).dt.days
    m = m.assign(lag=lag)[lag >= 0]
    out = {str(k): float(v) for k, v in m.groupby("mode", observed=True)["lag"].quantile(quantile).items()}
    out[""] = float(m["lag"].quantile(quantile)) if len(m) else 0.0
    return out


def applications(push_history: pd.DataFrame | None, profile: pd.DataFrame, grants: pd.DataFrame | None = None,
                 as_of=None) -> pd.DataFrame:
    """Decided applications of the push history: one row per enterprise × policy (approved if any push was),
    with the profile row of the enterprise.  Applications made within the decision lag before ``as_of``
    (``decision_lags``) are left out — still under review, not refused — and so are enterprises not in the
    profile."""
    cols = {"row": pd.Series(dtype="int64"), "policy_id": pd.Series(dtype="string"),
            "approved": pd.Series(dtype=bool)}
    if push_history is None or push_history.empty or "applied" not in push_history:
        return pd.DataFrame(cols)
    h = push_history[push_history["applied"].fillna(False).astype(bool)]
    if h.empty:
        return pd.DataFrame(cols)
    if as_of is not None:
        lags = decision_lags(push_history, grants)
        if lags:
            mode = h["mode"].astype("string").fillna("") if "mode" in h else pd.Series("", index=h.index)
            lag = mode.map(lags).fillna(lags[""]).to_numpy(float)
            age = (pd.Timestamp(as_of) - pd.to_datetime(h["date"])).dt.days.to_numpy(float)
            h = h[age >= lag]
    h = (h.assign(approved=h["approved"].fillna(False).astype(bool))
         .groupby(["uscc", "policy_id"], observed=True, sort=False)["approved"].any().reset_index())
    rows = pd.Index(profile["uscc"].astype("string")).get_indexer(pd.Index(h["uscc"].astype("string")))
    keep = rows >= 0
    return pd.DataFrame({"row": rows[keep].astype(np.int64), "policy_id": h["policy_id"].astype("string")[keep].to_numpy(),
                         "approved": h["approved"].to_numpy(dtype=bool)[keep]})


def read_history(cb, enc: Encoded, apps: pd.DataFrame, base_entry: dict[str, int]) -> History:
    """Each applied pair's verdict and key today (its facts as the data holds them now)."""
    hist = History()
    if apps.empty:
        return hist
    modes: dict[str, list[int]] = {}
    for pid, g in apps.groupby("policy_id", sort=True):
        j = base_entry.get(str(pid))
        if j is None:
            continue
        cp = cb.policies[j]
        rows = g["row"].to_numpy(np.int64)
        ok = g["approved"].to_numpy(bool)
        st = states_of(cb, enc, cp, rows)
        vals: dict[int, np.ndarray] = {}
        root = tree_values(cp.root, {lf.leaf_id: st[:, i] for i, lf in enumerate(cp.leaves)}, vals)
        root = np.broadcast_to(root, (rows.size,))
        hist.und_states[str(pid)] = st[root == 1]
        hist.und_approved[str(pid)] = ok[root == 1]
        hist.elig_applied[str(pid)] = int((root == 2).sum())
        hist.elig_approved[str(pid)] = int((ok & (root == 2)).sum())
        m = modes.setdefault(cp.policy.mode, [0, 0])
        m[0] += hist.elig_applied[str(pid)]
        m[1] += hist.elig_approved[str(pid)]
        hist.applications += int(rows.size)
    tot_a = sum(v[0] for v in modes.values())
    tot_ok = sum(v[1] for v in modes.values())
    hist.r_pooled = tot_ok / tot_a if tot_a else 1.0
    # per mode, shrunk toward the pooled rate (PRIOR_PAIRS pseudo-applications)
    hist.r = {mode: (ok + PRIOR_PAIRS * hist.r_pooled) / (a + PRIOR_PAIRS) for mode, (a, ok) in modes.items()}
    return hist


@dataclass
class Calibration:
    """The history's verdict on the data rate: approvals among undetermined applicants against the approvals the data
    rate expected of them — per set of missing facts (pooled over the book), then per policy id on top."""

    approved: dict[str, int] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    pooled: float = 1.0
    # the history estimator's pieces: per policy id {unknown-set bitmask: (applications, approvals)}
    by_set: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)
    pooled_rate: float | None = None  # approvals / r over applications, whole book
    # per level (CALIBRATION_LEVELS): (κ, {group: factor}); a group the history never saw has factor 1
    levels: dict[str, tuple[float, dict[str, float]]] = field(default_factory=dict)

    @property
    def factor(self) -> dict[str, float]:
        return self.levels.get("pid", (0.0, {}))[1]

    @property
    def kappa(self) -> float:
        return self.levels.get("pid", (PRIOR_APPROVALS, {}))[0]

    def factors(self, pid: str, facts: np.ndarray) -> np.ndarray:
        """The calibration of keys of policy ``pid`` whose missing facts are ``facts``: the pooled factor × each
        level's factor of the key's group."""
        out = np.full(len(facts), self.pooled)
        for level, (_, f) in self.levels.items():
            if level == "pid":
                out *= f.get(pid, 1.0)
            elif level == "facts":
                out *= np.array([f.get(x, 1.0) for x in facts], dtype=float)
            else:
                out *= np.array([f.get(pid + "\x1f" + x, 1.0) for x in facts], dtype=float)
        return out

    def rate_of(self, pid: str, r: float, unknown_sets: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """The ``history`` estimator for keys with ``unknown_sets`` of policy ``pid``."""
        if self.pooled_rate is None:
            return fallback
        n = self.applied.get(pid, 0)
        a = self.approved.get(pid, 0)
        q_pol = (a / r + PRIOR_PAIRS * self.pooled_rate) / (n + PRIOR_PAIRS)
        sets = self.by_set.get(pid, {})
        na = np.array([sets.get(int(s), (0, 0))[0] for s in unknown_sets], dtype=float)
        ok = np.array([sets.get(int(s), (0, 0))[1] for s in unknown_sets], dtype=float)
        return np.clip((ok / r + PRIOR_PAIRS * q_pol) / (na + PRIOR_PAIRS), 0.0, 1.0)


def unknown_set(states: np.ndarray) -> np.ndarray:
    """Bitmask of the unknown leaves of each key (the history estimator's cells)."""
    L = states.shape[1]
    if L > 62:
        return np.zeros(states.shape[0], dtype=np.int64)
    return (states == 1).astype(np.int64) @ (np.int64(1) << np.arange(L, dtype=np.int64))


def prior_strength(approved: np.ndarray, expected: np.ndarray, c: float) -> float:
    """κ of a Gamma prior on factors, by the method of moments: ``A/Ê`` varies across cells by Poisson noise
    (variance ``c/Ê``) plus the true spread ``τ²``; ``κ = c / τ²`` in expected approvals.  No spread beyond
    noise (the history agrees with the prior mean everywhere) gives a large κ: every factor ≈ ``c``.  At least
    ``PRIOR_APPROVALS``, at most ``MAX_KAPPA``."""
    keep = expected >= 1.0
    if keep.sum() < 3:
        return PRIOR_APPROVALS
    e, a = expected[keep], approved[keep]
    tau2 = float(np.average((a / e - c) ** 2 - c / e, weights=e))
    if tau2 <= 0:
        return MAX_KAPPA
    return float(np.clip(c / tau2, PRIOR_APPROVALS, MAX_KAPPA))


def facts_text(cp, keys: np.ndarray) -> np.ndarray:
    """Per key, the facts that would settle it (field names, ``;``-joined): the cell the history pools."""
    rel = relevant_unknown(cp, keys)
    names = np.array([lf.source.field for lf in cp.leaves], dtype=object)
    return np.array([";".join(sorted(set(names[row]))) for row in rel], dtype=object)


def calibrate(cb, sample: SamplePlanes, hist: History, base_entry: dict[str, int]) -> Calibration:
    """Two levels, each a Gamma–Poisson posterior mean with an empirical-Bayes weight: first per set of missing
    facts, pooled over the whole book (enterprises that do not report a fact may differ from those that do — the
    history shows it for every policy at once); then per policy, on top of that."""
    cal = Calibration()
    rows = []  # per undetermined applicant: policy, facts missing, approvals, expected approvals at the data rate
    tot_n, tot_q = 0, 0.0
    for pid, st in hist.und_states.items():
        j = base_entry[pid]
        cp = cb.policies[j]
        ok = hist.und_approved[pid]
        r = hist.r.get(cp.policy.mode, hist.r_pooled) or 1.0
        cal.applied[pid] = int(st.shape[0])
        cal.approved[pid] = int(ok.sum())
        sets = unknown_set(st)
        cal.by_set[pid] = {int(x): (int((sets == x).sum()), int(ok[sets == x].sum())) for x in np.unique(sets)}
        tot_n += int(st.shape[0])
        tot_q += ok.sum() / r
        if not st.shape[0]:
            continue
        keys, inv = key_codes(st)
        q, _, _ = sample.data_rates(cp, j, keys)
        rows.append(pd.DataFrame({"pid": pid, "facts": facts_text(cp, keys)[inv], "ok": ok.astype(float),
                                  "e": r * q[inv]}))
    cal.pooled_rate = min(1.0, tot_q / tot_n) if tot_n else None
    if not rows:
        return cal
    h = pd.concat(rows, ignore_index=True)
    h["cell"] = h["pid"] + "\x1f" + h["facts"]
    cal.pooled = (float(h["ok"].sum()) + PRIOR_APPROVALS) / (float(h["e"].sum()) + PRIOR_APPROVALS)
    e = h["e"] * cal.pooled
    for level in CALIBRATION_LEVELS:
        g = h.assign(e=e).groupby(level, sort=True)[["ok", "e"]].sum()
        kappa = prior_strength(g["ok"].to_numpy(), g["e"].to_numpy(), 1.0)
        f = ((g["ok"] + kappa) / (g["e"] + kappa)).to_dict()
        cal.levels[level] = (kappa, {str(k): float(v) for k, v in f.items()})
        e = e * h[level].map(f)
    for pid, r in h.groupby("pid", sort=True)["e"].sum().items():
        cal.expected[str(pid)] = float(r)
    return cal
