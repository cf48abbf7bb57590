"""Readiness counts and tables (the package docstring says what they mean): the undetermined pairs coded and
counted per (policy, unknown list, partial-class flags) — additive over slices of enterprises — and the
per-policy, per-source and ranked-action tables built from those counts."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from quanhuiqi.policy.readiness.sources import ACTION_KINDS, UNSETTLEABLE, SourceMap

# How the actions are ranked: decided pairs weighted by the policy's mode.  In an auto policy a decided pair is
# a provable 免申即享 grant (or a provable refusal) with no application at all; in an instant policy it is a
# one-step approval (即申即享); in an apply policy it only sharpens the push.
DEFAULT_WEIGHTS = {"auto": 4.0, "instant": 2.0, "apply": 1.0}
GROUP_KEYS = ["policy_id", "unknown", "partial", "maybe_partial"]
LEVEL_COLUMNS = [*GROUP_KEYS, "level", "pairs"]
Z90 = 1.6448536269514722  # two-sided 90 % normal quantile


def split_unknown(text: str) -> list[str]:
    """The fields of an ``unknown`` list: ``;`` joins them, but a record test's own name may hold ``;``
    inside its parentheses (``penalty.count_ge1(administrative_penalty;amount_ge=5)``)."""
    return list(_split(text))


@lru_cache(maxsize=1 << 16)  # a city has a few thousand distinct lists, met again in every partition
def _split(text: str) -> tuple[str, ...]:
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == ";" and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur.append(ch)
    out.append("".join(cur))
    return tuple(x for x in out if x)


# --- additive counts -------------------------------------------------------------------------------------


def _codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(codes, categories) of a categorical or plain column (factorised: codes into the uniques)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy(), pd.Index(s.cat.categories.astype("string"))
    codes, uniques = pd.factorize(s.astype("string"), use_na_sentinel=True)
    return codes, pd.Index(pd.array(uniques, dtype="string"))


@dataclass
class PairCodes:
    """The undetermined pairs as codes: profile row, policy position in the compiled book, unknown list,
    partial-class flags and group (an index into ``groups``: one row per (policy, unknown, partial,
    maybe_partial)).  ``partial``: the enterprise's industry class is known and only partly inside a list the
    policy names — no data settles it.  ``maybe_partial``: its code is coarse or missing and a class it could
    get lies only partly inside such a list — supplying the class decides the pair unless it is one of those."""

    rows: np.ndarray
    pol: np.ndarray
    group: np.ndarray
    groups: pd.DataFrame


def _full_code(values: pd.Series, hierarchy: str | None) -> np.ndarray:
    """Rows whose code is at the finest level (an industry class, a county-level district)."""
    s = values.astype("string")
    if hierarchy == "industry":
        return s.str.fullmatch(r"\d{4}").fillna(False).to_numpy(dtype=bool)
    return (s.str.fullmatch(r"\d{6}") & ~s.str.endswith("00")).fillna(False).to_numpy(dtype=bool)


def pair_codes(pairs: pd.DataFrame, profile: pd.DataFrame, book) -> PairCodes:
    """Code the undetermined pairs of ``pairs`` (categorical or plain) against ``profile`` and ``book``."""
    cb = book.compiled
    vcodes, vcats = _codes(pairs["verdict"])
    und = vcodes == int(vcats.get_loc("undetermined")) if "undetermined" in vcats else np.zeros(len(pairs), bool)
    sel = np.flatnonzero(und)
    ucodes, ucats = _codes(pairs["uscc"])
    prof_index = pd.Index(profile["uscc"].astype("string"))
    row_of = prof_index.get_indexer(ucats)
    rows = row_of[ucodes[sel]].astype(np.int64)
    if (rows < 0).any():
        raise ValueError(f"{int((rows < 0).sum())} undetermined pair(s) name an enterprise that is not in the profile")
    pcodes, pcats = _codes(pairs["policy_id"])
    pol_of = pd.Index([cp.policy.id for cp in cb.policies]).get_indexer(pcats)
    pol = pol_of[pcodes[sel]].astype(np.int64)
    if (pol < 0).any():
        raise ValueError(f"{int((pol < 0).sum())} undetermined pair(s) name a policy that is not in the book")
    kcodes, kcats = _codes(pairs["unknown"].astype("string").fillna("") if not isinstance(
        pairs["unknown"].dtype, pd.CategoricalDtype) else pairs["unknown"])
    unk = kcodes[sel].astype(np.int64)
    texts = [("" if pd.isna(t) else str(t)) for t in kcats]
    # a code field already at its finest level that is still unknown: only partly inside a named list
    partial = np.zeros(sel.size, dtype=bool)
    for name, f in book.fields.items():
        if f.type != "code" or name not in cb.codecs:
            continue
        has = np.array([name in split_unknown(t) for t in texts], dtype=bool)
        if has.any():
            col = profile[name] if name in profile.columns else pd.Series(pd.NA, index=profile.index)
            partial |= has[unk] & _full_code(col, f.hierarchy)[rows]
    maybe = _maybe_partial(book, profile, rows, pol, unk, texts) & ~partial
    key = ((pol * max(len(texts), 1) + unk) * 2 + partial) * 2 + maybe
    span = len(cb.policies) * max(len(texts), 1) * 4
    if span <= 1 << 24:  # a dense count and lookup are cheaper than hashing or sorting millions of keys
        gkeys = np.flatnonzero(np.bincount(key, minlength=span)).astype(np.int64)
        remap = np.empty(span, dtype=np.int32)
        remap[gkeys] = np.arange(gkeys.size, dtype=np.int32)
        gcode = remap[key]
    else:
        gcode, gkeys = pd.factorize(key, sort=True)
        gkeys = np.asarray(gkeys, dtype=np.int64)
    g_maybe = (gkeys % 2).astype(bool)
    g_part = ((gkeys // 2) % 2).astype(bool)
    g_unk = (gkeys // 4) % max(len(texts), 1)
    g_pol = (gkeys // 4) // max(len(texts), 1)
    groups = pd.DataFrame({
        "policy_id": pd.array([cb.policies[i].policy.id for i in g_pol.tolist()], dtype="string"),
        "pol": g_pol,
        "unknown": pd.array([texts[i] for i in g_unk.tolist()], dtype="string"),
        "partial": g_part,
        "maybe_partial": g_maybe,
        "pairs": np.bincount(gcode, minlength=gkeys.size).astype(np.int64),
    })  # fmt: skip
    return PairCodes(rows, pol, gcode.astype(np.int64), groups)


def _maybe_partial(book, profile: pd.DataFrame, rows: np.ndarray, pol: np.ndarray, unk: np.ndarray,
                   texts: list[str]) -> np.ndarray:
    """Pairs waiting on an industry code they know coarsely (or not at all) for a policy naming a list with
    classes only partly inside it, when such a class lies under their code: supplying the class may leave
    them undetermined.  Decided per distinct (policy, code), not per pair."""
    cb = book.compiled
    out = np.zeros(rows.size, dtype=bool)
    for fname, codec in cb.codecs.items():
        fld = book.fields.get(fname)
        if fld is None or fld.type != "code" or fld.hierarchy != "industry":
            continue
        per_pol: dict[int, set[str]] = {}
        for i, cp in enumerate(cb.policies):
            for lf in cp.leaves:
                a = lf.source
                if a.field == fname and a.op in ("in_list", "not_in_list") and getattr(a.value, "partial", ()):
                    per_pol.setdefault(i, set()).update(codec._key_one(c) for c in a.value.partial)
        if not per_pol:
            continue
        has = np.array([fname in split_unknown(t) for t in texts], dtype=bool)
        cand = np.flatnonzero(has[unk] & np.isin(pol, list(per_pol)))
        if not cand.size:
            continue
        col = profile[fname].astype("string") if fname in profile.columns else pd.Series(pd.NA, index=profile.index,
                                                                                         dtype="string")
        code_id, uniq = pd.factorize(col, use_na_sentinel=True)
        keys = codec._keys(pd.Series(uniq, dtype="string")).tolist() if len(uniq) else []
        m = len(uniq) + 1
        combo, inv = np.unique(pol[cand] * m + code_id[rows[cand]] + 1, return_inverse=True)

        def risky(pi: int, k: str | None, per_pol: dict[int, set[str]] = per_pol) -> bool:
            return k is None or any(p.startswith(k) or k.startswith(p) for p in per_pol[pi])

        res = np.array([risky(int(c) // m, None if c % m == 0 else keys[int(c) % m - 1]) for c in combo.tolist()],
                       dtype=bool)
        out[cand] |= res[inv]
    return out


@dataclass
class ReadinessCounts:
    """Additive counts of a slice of enterprises (a partition, or the whole city): summed over slices that
    split the enterprises they give the city's (:meth:`combine`).

    ``policies``: ``policy_id, eligible, undetermined`` per active policy (evaluated = ``enterprises``);
    ``groups``: ``policy_id, unknown, partial, maybe_partial, pairs`` (undetermined pairs); ``reach``: ``action,
    enterprises`` — enterprises with at least one pair the action (a source, or ``S+T``) would decide;
    ``levels``: the same groups' pairs by how coarsely their enterprise knows the code the list waits on (the
    estimator's cells: ``level`` 0 = not at all, industry 1–3, district 2 or 4)."""

    enterprises: int
    policies: pd.DataFrame
    groups: pd.DataFrame
    reach: pd.DataFrame
    levels: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {c: pd.Series(dtype="int64" if c in ("level", "pairs") else "bool" if "partial" in c else "string")
         for c in LEVEL_COLUMNS}))

    @staticmethod
    def combine(parts: list[ReadinessCounts]) -> ReadinessCounts:
        parts = [p for p in parts if p is not None]
        if not parts:
            raise ValueError("no readiness counts to combine")

        def total(frames: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
            cat = pd.concat([f for f in frames if len(f)] or [frames[0]], ignore_index=True)
            return cat.groupby(keys, sort=True, dropna=False).sum().reset_index()

        return ReadinessCounts(
            enterprises=int(sum(p.enterprises for p in parts)),
            policies=total([p.policies for p in parts], ["policy_id"]),
            groups=total([p.groups for p in parts], ["policy_id", "unknown", "partial", "maybe_partial"]),
            reach=total([p.reach for p in parts], ["action"]),
            levels=total([p.levels for p in parts], LEVEL_COLUMNS[:-1]),
        )


REQUIREMENT_COLUMNS = ["sources", "settleable", "needs_declaration", "n_sources"]


def requirements(unknown: pd.Series, partial: pd.Series, smap: SourceMap,
                 maybe_partial: pd.Series | None = None) -> pd.DataFrame:
    """Per (unknown, partial, maybe_partial): the sources that must be supplied (``sources``: ids joined by
    ``+`` in the map's order), whether data sharing can decide it at all (``settleable``), and whether it
    surely does (``sure``: not when the class supplied may be one only partly inside a list)."""
    order = {s: i for i, s in enumerate(smap.sources["source"].tolist())}
    kind = dict(zip(smap.sources["source"], smap.sources["kind"], strict=True))
    # worked out once per distinct (unknown list, partial): hundreds, however many groups share them
    code, uniq = pd.factorize(pd.Series(unknown.astype("string").fillna("").to_numpy(dtype=object)) + "\0"
                              + pd.Series(partial.to_numpy(dtype=bool)).map({True: "1", False: "0"}))
    out = []
    for both in uniq.tolist():
        text, part = both.rsplit("\0", 1)
        part = part == "1"
        srcs: set[str] = set()
        for f in split_unknown(text):
            srcs |= set(smap.by_field.get(f, (f"field:{f}",)))
        if part:
            srcs.add(UNSETTLEABLE)
        srcs_sorted = sorted(srcs, key=lambda s: (order.get(s, len(order)), s))
        settleable = bool(srcs) and all(kind.get(s, "unmapped") in ACTION_KINDS for s in srcs_sorted)
        out.append({"sources": "+".join(srcs_sorted), "settleable": settleable,
                    "needs_declaration": any(kind.get(s) == "declaration" for s in srcs_sorted),
                    "n_sources": len(srcs_sorted)})
    # typed even when there is no group (a day without undetermined pairs): a mask of these columns must
    # select rows, and an empty object column would select columns instead
    df = (pd.DataFrame(out, columns=REQUIREMENT_COLUMNS)
          .astype({"settleable": bool, "needs_declaration": bool, "n_sources": np.int64})
          .iloc[code].set_axis(unknown.index))
    maybe = np.zeros(len(df), bool) if maybe_partial is None else maybe_partial.to_numpy(dtype=bool)
    df["sure"] = df["settleable"].to_numpy(dtype=bool) & ~maybe
    return df


def _actions(smap: SourceMap) -> list[str]:
    """Every action counted: each actionable source, and each pair of them (``S+T``, in the map's order)."""
    act = smap.actionable
    return act + [f"{a}+{b}" for a, b in itertools.combinations(act, 2)]


def readiness_counts(pairs: pd.DataFrame, profile: pd.DataFrame, book, as_of: str | dt.date,
                     smap: SourceMap, codes: PairCodes | None = None) -> ReadinessCounts:
    """The additive counts of ``profile``'s enterprises from their pairs (``EligibilityResult.pairs``,
    categorical or plain; pairs blocked by once/exclusive are absent: decided, not eligible)."""
    from quanhuiqi.eligibility.batch import as_date

    day = as_date(as_of)
    cb = book.compiled
    codes = codes or pair_codes(pairs, profile, book)
    active = [cp.policy.id for cp in cb.policies if cp.policy.active(day)]
    vcodes, vcats = _codes(pairs["verdict"])
    pcodes, pcats = _codes(pairs["policy_id"])
    pos = pd.Index(active).get_indexer(pcats)
    n_act = len(active)

    def per_policy(verdict: str) -> np.ndarray:
        if verdict not in vcats:
            return np.zeros(n_act, dtype=np.int64)
        p = pos[pcodes[vcodes == vcats.get_loc(verdict)]]
        return np.bincount(p[p >= 0], minlength=n_act).astype(np.int64)

    policies = pd.DataFrame({"policy_id": pd.array(active, dtype="string"), "eligible": per_policy("eligible"),
                             "undetermined": per_policy("undetermined")})
    groups = codes.groups[["policy_id", "unknown", "partial", "maybe_partial", "pairs"]]
    groups = groups[pd.Index(active).get_indexer(groups["policy_id"]) >= 0].reset_index(drop=True)
    return ReadinessCounts(len(profile), policies, groups, _reach(codes, smap, len(profile)),
                           _levels(codes, profile, book, active))


def code_field(book, fields: list[str]) -> str | None:
    """The code field whose coarse knowledge splits an unknown list's pairs (an industry code first)."""
    codes = [f for f in fields if book.fields.get(f) is not None and book.fields[f].type == "code"
             and book.fields[f].hierarchy in ("industry", "district")]
    return next((f for f in codes if book.fields[f].hierarchy == "industry"), codes[0] if codes else None)


def code_level(values: pd.Series, hierarchy: str) -> np.ndarray:
    """How coarsely each value gives a code: industry 1 (section) / 2 / 3 / 4 (class), district 2 (province) /
    4 (prefecture) / 6 (county); 0 when missing."""
    s = values.astype("string")
    if hierarchy == "industry":
        lv = np.where(s.str.match(r"[A-Za-z]").fillna(False), 1, s.str.len().fillna(0).astype(int))
    else:
        lv = np.where(s.str.fullmatch(r"\d{2}0000").fillna(False), 2,
                      np.where(s.str.fullmatch(r"\d{4}00").fillna(False), 4, np.where(s.notna(), 6, 0)))
    return np.asarray(lv, dtype=np.int64)


def _levels(codes: PairCodes, profile: pd.DataFrame, book, active: list[str]) -> pd.DataFrame:
    """Undetermined pairs per group and coarse level of the code their unknown list waits on."""
    g = codes.groups
    cat, texts = pd.factorize(g["unknown"].astype("string").fillna(""))
    cf = [code_field(book, split_unknown(str(t))) for t in texts]
    level = np.zeros(codes.rows.size, dtype=np.int64)
    pair_cat = cat[codes.group]
    for name in {f for f in cf if f is not None}:
        has = np.array([f == name for f in cf], dtype=bool)[pair_cat]
        col = profile[name] if name in profile.columns else pd.Series(pd.NA, index=profile.index, dtype="string")
        level[has] = code_level(col, book.fields[name].hierarchy)[codes.rows[has]]
    n = np.bincount(codes.group * 8 + level, minlength=len(g) * 8).reshape(len(g), 8)
    gi, lv = np.nonzero(n)
    out = g.iloc[gi][GROUP_KEYS].reset_index(drop=True).assign(level=lv.astype(np.int64), pairs=n[gi, lv])
    return out[pd.Index(active).get_indexer(out["policy_id"]) >= 0].reset_index(drop=True)


def _reach(codes: PairCodes, smap: SourceMap, n_rows: int) -> pd.DataFrame:
    """Enterprises with at least one pair each action decides (vectorised: one bit row per requirement of
    one or two sources, then an OR of at most three rows per action)."""
    actions = _actions(smap)
    g = codes.groups
    req = requirements(g["unknown"], g["partial"], smap, g["maybe_partial"])
    small = req["sure"] & (req["n_sources"] <= 2)
    needs = req["sources"].where(small)
    uniq = sorted(set(needs.dropna()))
    counts = np.zeros(len(actions), dtype=np.int64)
    if uniq and codes.rows.size:
        r_of_group = pd.Index(uniq).get_indexer(needs.fillna("\0")).astype(np.int64)
        r = r_of_group[codes.group]
        keep = r >= 0
        hit = np.zeros((len(uniq), n_rows), dtype=bool)
        hit[r[keep], codes.rows[keep]] = True
        at = {u: i for i, u in enumerate(uniq)}
        for k, a in enumerate(actions):
            parts = a.split("+")
            wanted = [at[x] for x in ([a] if len(parts) == 1 else [parts[0], parts[1], a]) if x in at]
            if wanted:
                counts[k] = int(np.logical_or.reduce(hit[wanted], axis=0).sum())
    return pd.DataFrame({"action": pd.array(actions, dtype="string"), "enterprises": counts})


# --- the tables ------------------------------------------------------------------------------------------


@dataclass
class Readiness:
    """The readiness of a book on a city at a date.

    - ``policies``: one row per active policy — enterprises evaluated, eligible / ineligible / undetermined,
      ``decided_share``; undetermined pairs one source decides, all data together decides, that need a
      declaration, that no data settles; the best single source and what it decides.
    - ``by_source``: per policy × source, the undetermined pairs supplying that source alone decides (exact)
      and how many would be eligible (estimate with a 90 % range).
    - ``actions``: the ranked data-sharing actions across the book (single sources and pairs that decide much
      more together), with the ranking ``score``.
    - ``sources``: the sources of the book's facts (system, department, kind, the facts each holds).
    - ``groups``: undetermined pairs per (policy, unknown list), with their required sources.
    """

    policies: pd.DataFrame
    by_source: pd.DataFrame
    actions: pd.DataFrame
    sources: pd.DataFrame
    groups: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per policy × deciding source (policies with nothing undetermined: one row, no source), the
        policy's totals repeated — the file ``quanhuiqi policy readiness --out`` writes."""
        pol = self.policies
        cols = ["policy_id", "title", "department", "mode", "evaluated", "eligible", "ineligible", "undetermined",
                "decided_share", "needs_declaration", "unsettleable"]
        bs = self.by_source.drop(columns=[c for c in ("title", "mode") if c in self.by_source.columns])
        out = pol[cols].merge(bs, on="policy_id", how="left")
        out["decided_pairs"] = out["decided_pairs"].fillna(0).astype(np.int64)
        return out.sort_values(["policy_id", "decided_pairs", "source"], ascending=[True, False, True],
                               kind="stable").reset_index(drop=True)


def _agg(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Pairs, eligible estimate, its variance and the pairs without donors, summed per key.

    Groups with the same unknown list wait on the same enterprises' same facts, and their estimates share
    donors: their errors are taken as perfectly correlated (standard deviations add), groups of different
    lists as independent (variances add) — conservative where one list spans many policies."""
    f = frame.assign(eligible_sd=np.sqrt(frame["eligible_var"].astype("float64")))
    per_list = f.groupby(keys + ["unknown"], sort=False)[["pairs", "eligible_est", "eligible_sd", "unestimated"]].sum()
    per_list["eligible_var"] = per_list["eligible_sd"] ** 2
    cols = ["pairs", "eligible_est", "eligible_var", "unestimated"]
    return per_list.groupby(level=list(range(len(keys))), sort=False)[cols].sum().reset_index()


def _ranges(df: pd.DataFrame, n_col: str) -> pd.DataFrame:
    """``eligible_low``/``eligible_high``: est ± 1.645 sd, widened by the unestimated pairs (anything from
    none to all of them), clipped to [0, pairs]."""
    est = df["eligible_est"].astype("float64")
    sd = np.sqrt(df["eligible_var"].astype("float64").fillna(0.0))
    unest = df["unestimated"].astype("float64").fillna(0.0)
    n = df[n_col].astype("float64")
    have = est.notna()
    df["eligible_low"] = np.where(have, np.clip(est - Z90 * sd, 0, n), 0.0)
    df["eligible_high"] = np.where(have, np.clip(est + Z90 * sd + unest, 0, n), n)
    df["eligible_est"] = est.where(have & (unest < n), np.nan)
    return df


def readiness_tables(counts: ReadinessCounts, book, smap: SourceMap, estimates: pd.DataFrame | None = None, *,
                     weights: dict[str, float] | None = None, combo_share: float = 0.25,
                     max_combos: int = 20) -> Readiness:
    """The per-policy, per-source and action tables from additive ``counts``.

    ``estimates``: per (policy_id, unknown) group, ``eligible_est`` and ``eligible_var`` of the pairs
    (:func:`quanhuiqi.policy.readiness.estimate.estimate_eligible`); without them the eligible columns give
    the honest range [0, pairs].  Actions are ranked by ``score = Σ_mode weight[mode] × decided pairs``
    (``weights``: :data:`DEFAULT_WEIGHTS`), then by decided pairs, then by id.  A pair of sources is listed
    when the pairs only the two together decide (``beyond_each_alone``) are at least ``combo_share`` of what
    the lesser of the two decides alone (and at least one pair): the ``max_combos`` largest such gains; its
    score counts those pairs only (what the pair adds to the two single actions)."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    meta = book.policies.set_index("policy_id")
    src = smap.sources.set_index("source")
    g = counts.groups.copy()
    req = requirements(g["unknown"], g["partial"], smap, g["maybe_partial"])
    g = pd.concat([g, req], axis=1)
    g["mode"] = meta["mode"].reindex(g["policy_id"]).to_numpy(dtype=object)
    g["eligible_est"] = 0.0
    g["eligible_var"] = 0.0
    g["unestimated"] = g["pairs"].to_numpy()  # no estimate: anything in [0, pairs]
    if estimates is not None and len(estimates):
        keys = ["policy_id", "unknown", "partial", "maybe_partial"]
        e = estimates.set_index(keys)[["eligible_est", "eligible_var", "unestimated"]]
        hit = e.reindex(pd.MultiIndex.from_frame(g[keys]))
        ok = g["sure"].to_numpy() & hit["unestimated"].notna().to_numpy()
        g.loc[ok, "eligible_est"] = hit["eligible_est"].fillna(0.0).to_numpy()[ok]
        g.loc[ok, "eligible_var"] = hit["eligible_var"].fillna(0.0).to_numpy()[ok]
        g.loc[ok, "unestimated"] = hit["unestimated"].to_numpy()[ok].astype(np.int64)

    # per policy
    pol = counts.policies.copy()
    pol["evaluated"] = counts.enterprises
    pol["ineligible"] = pol["evaluated"] - pol["eligible"] - pol["undetermined"]
    pol["decided_share"] = np.where(pol["evaluated"] > 0,
                                    (pol["eligible"] + pol["ineligible"]) / pol["evaluated"].clip(lower=1), np.nan)
    single = g[g["sure"] & (g["n_sources"] == 1)]
    by_src = _agg(single.rename(columns={"sources": "source"}), ["policy_id", "source"])
    by_src = _ranges(by_src, "pairs").rename(columns={"pairs": "decided_pairs"})
    maybe1 = g[g["settleable"] & ~g["sure"] & (g["n_sources"] == 1)].groupby(["policy_id", "sources"])["pairs"].sum()
    by_src["unless_partial"] = maybe1.reindex(pd.MultiIndex.from_frame(by_src[["policy_id", "source"]])).fillna(0) \
        .astype(np.int64).to_numpy()
    by_src = by_src.sort_values(["policy_id", "decided_pairs", "source"], ascending=[True, False, True], kind="stable")

    def per(mask: pd.Series) -> pd.Series:
        return g[mask].groupby("policy_id")["pairs"].sum().reindex(pol["policy_id"]).fillna(0).astype(np.int64)

    pol["one_source_decides"] = per(g["sure"] & (g["n_sources"] == 1)).to_numpy()
    pol["all_data_decides"] = per(g["sure"]).to_numpy()
    pol["unless_partial"] = per(g["settleable"] & ~g["sure"]).to_numpy()
    pol["needs_declaration"] = per(g["needs_declaration"]).to_numpy()
    pol["unsettleable"] = per(g["partial"] & ~g["needs_declaration"]).to_numpy()  # disjoint from the above
    pol["decided_share_all_data"] = np.where(
        pol["evaluated"] > 0, (pol["eligible"] + pol["ineligible"] + pol["all_data_decides"]) / pol["evaluated"].clip(lower=1),
        np.nan)
    best = by_src.drop_duplicates("policy_id").set_index("policy_id")
    pol["best_source"] = best["source"].reindex(pol["policy_id"]).to_numpy()
    pol["best_source_decides"] = best["decided_pairs"].reindex(pol["policy_id"]).fillna(0).astype(np.int64).to_numpy()
    pol["best_source_eligible_est"] = best["eligible_est"].reindex(pol["policy_id"]).to_numpy()
    for c, m in (("title", "title"), ("department", "department"), ("mode", "mode")):
        pol[c] = meta[m].reindex(pol["policy_id"]).to_numpy()
    pol_cols = ["policy_id", "title", "department", "mode", "evaluated", "eligible", "ineligible", "undetermined",
                "decided_share", "one_source_decides", "all_data_decides", "decided_share_all_data",
                "unless_partial", "needs_declaration", "unsettleable", "best_source", "best_source_decides", "best_source_eligible_est"]
    pol = pol[pol_cols]
    pol["best_source_label"] = src["label"].reindex(pol["best_source"]).to_numpy()

    by_src["system"] = src["system"].reindex(by_src["source"]).to_numpy()
    by_src["source_department"] = src["department"].reindex(by_src["source"]).to_numpy()
    by_src["mode"] = meta["mode"].reindex(by_src["policy_id"]).to_numpy()
    by_src["title"] = meta["title"].reindex(by_src["policy_id"]).to_numpy()
    und = pol.set_index("policy_id")["undetermined"]
    by_src["share_of_undetermined"] = by_src["decided_pairs"] / und.reindex(by_src["policy_id"]).clip(lower=1).to_numpy()
    by_src = by_src[["policy_id", "title", "mode", "source", "system", "source_department", "decided_pairs",
                     "unless_partial", "share_of_undetermined", "eligible_est", "eligible_low", "eligible_high"]].reset_index(drop=True)

    actions = _rank_actions(g, counts, smap, weights, combo_share, max_combos, meta)
    summary = {
        "enterprises": counts.enterprises,
        "active_policies": len(pol),
        "pairs_evaluated": int(counts.enterprises * len(pol)),
        "eligible": int(pol["eligible"].sum()),
        "undetermined": int(pol["undetermined"].sum()),
        "decided_share": float((pol["eligible"].sum() + pol["ineligible"].sum()) / max(1, counts.enterprises * len(pol))),
        "one_source_decides": int(pol["one_source_decides"].sum()),
        "all_data_decides": int(pol["all_data_decides"].sum()),
        "unless_partial": int(pol["unless_partial"].sum()),
        "needs_declaration": int(pol["needs_declaration"].sum()),
        "unsettleable": int(pol["unsettleable"].sum()),
        "weights": weights,
        "ranking": ranking_text(weights),
        "estimated": estimates is not None,
    }
    return Readiness(pol, by_src, actions, _source_table(smap, g), g, summary)


def ranking_text_zh(weights: dict[str, float]) -> str:
    w = {**DEFAULT_WEIGHTS, **weights}
    return (f"得分 = {w['auto']:g} × 免申即享政策新判定的配对 + {w['instant']:g} × 即申即享 + {w['apply']:g} × 申报类；"
            "两个来源合并的行动只计两者各自都不能单独判定、合在一起才能判定的配对。得分相同时按新判定配对数，再按编号。"
            "一个待定配对计入某项行动，当且仅当它缺的每一项事实都由该行动的来源掌握（这些事实一旦取得，无论取值如何，结论都能判定）。")


def ranking_text(weights: dict[str, float]) -> str:
    w = {**DEFAULT_WEIGHTS, **weights}
    return (f"score = {w['auto']:g} × decided pairs of auto (免申即享) policies + {w['instant']:g} × instant (即申即享) "
            f"+ {w['apply']:g} × apply, counting for two sources together only the pairs neither decides alone; ties "
            "by decided pairs, then by id. A pair counts for an action when every fact it waits on is held by the "
            "action's source(s).")


def _rank_actions(g: pd.DataFrame, counts: ReadinessCounts, smap: SourceMap, weights: dict[str, float],
                  combo_share: float, max_combos: int, meta: pd.DataFrame) -> pd.DataFrame:
    act = smap.actionable
    bit = {s: 1 << i for i, s in enumerate(act)}
    ok = g["sure"].to_numpy(dtype=bool)
    maybe = (g["settleable"] & ~g["sure"]).to_numpy(dtype=bool)
    bits = np.array([sum(bit.get(s, 0) for s in x.split("+")) if o else 0
                     for x, o in zip(g["sources"].tolist(), (ok | maybe).tolist(), strict=True)], dtype=object)
    reach = counts.reach.set_index("action")["enterprises"]

    def covered(a: str) -> np.ndarray:
        want = sum(bit[s] for s in a.split("+"))
        return np.array([b != 0 and (b & ~want) == 0 for b in bits.tolist()], dtype=bool)

    def rows_for(a: str) -> np.ndarray:
        return ok & covered(a)

    candidates = [(s, rows_for(s)) for s in act]
    alone = {s: int(g.loc[m, "pairs"].sum()) for s, m in candidates}
    exact = {x: int(n) for x, n in g[ok].groupby("sources")["pairs"].sum().items()}
    combos = []
    for a, b in itertools.combinations(act, 2):
        gain = exact.get(f"{a}+{b}", 0)
        if gain >= 1 and gain >= combo_share * min(alone[a], alone[b]):
            combos.append((gain, f"{a}+{b}"))
    combos = sorted(combos, key=lambda t: (-t[0], t[1]))[:max_combos]
    candidates += [(c, rows_for(c)) for _, c in combos]
    src = smap.sources.set_index("source")
    out = []
    for a, m in candidates:
        sub = g[m]
        if not len(sub):
            continue
        by_mode = sub.groupby("mode")["pairs"].sum()
        parts = a.split("+")
        # the score counts what the action adds: all a source decides; for two together, what neither decides alone
        adds = by_mode if len(parts) == 1 else g[ok & (g["sources"] == a).to_numpy()].groupby("mode")["pairs"].sum()
        agg = _agg(sub.assign(_all=0), ["_all"]).iloc[0]
        auto = sub[sub["mode"] == "auto"]
        unless = int(g.loc[maybe & covered(a), "pairs"].sum())
        top = sub.groupby("policy_id")["pairs"].sum().sort_values(ascending=False, kind="stable").head(3)
        out.append({
            "action": a, "kind": "single" if len(parts) == 1 else "combined",
            "systems": "；".join(src.loc[p, "system"] for p in parts),
            "departments": "；".join(dict.fromkeys(src.loc[p, "department"] for p in parts)),
            "source_kind": "；".join(dict.fromkeys(src.loc[p, "kind"] for p in parts)),
            "decided_pairs": int(agg["pairs"]),
            "decided_auto": int(by_mode.get("auto", 0)), "decided_instant": int(by_mode.get("instant", 0)),
            "decided_apply": int(by_mode.get("apply", 0)), "unless_partial": unless,
            "beyond_each_alone": int(agg["pairs"]) - sum(alone[p] for p in parts) if len(parts) > 1 else 0,
            "enterprises": int(reach.get(a, 0)), "policies": int(sub["policy_id"].nunique()),
            "top_policies": "；".join(f"{p}（{meta.at[p, 'title']}）{n:,}" for p, n in top.items()),
            "eligible_est": float(agg["eligible_est"]), "eligible_var": float(agg["eligible_var"]),
            "unestimated": int(agg["unestimated"]),
            "auto_eligible_est": (float(auto["eligible_est"].sum())
                                  if int(auto["unestimated"].sum()) < int(auto["pairs"].sum()) or not len(auto) else np.nan),
            "score": sum(weights.get(k, 1.0) * int(v) for k, v in adds.items()),
        })  # fmt: skip
    cols = ["rank", "action", "kind", "systems", "departments", "source_kind", "score", "decided_pairs",
            "decided_auto", "decided_instant", "decided_apply", "unless_partial", "beyond_each_alone", "enterprises",
            "policies",
            "eligible_est", "eligible_low", "eligible_high", "auto_eligible_est", "top_policies"]
    if not out:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    df = pd.DataFrame(out)
    df = _ranges(df, "decided_pairs").drop(columns=["eligible_var", "unestimated"])
    df = df.sort_values(["score", "decided_pairs", "action"], ascending=[False, False, True], kind="stable")
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df[cols].reset_index(drop=True)


def _source_table(smap: SourceMap, g: pd.DataFrame) -> pd.DataFrame:
    """The sources of the book's facts, the facts each holds, and the undetermined pairs waiting on it."""
    facts = smap.fields.groupby("source")["label"].agg(lambda s: "、".join(dict.fromkeys(s)))
    waiting = {}
    for x, n in g.groupby("sources")["pairs"].sum().items():
        for s in str(x).split("+"):
            waiting[s] = waiting.get(s, 0) + int(n)
    out = smap.sources.copy()
    out["facts"] = facts.reindex(out["source"]).fillna("").to_numpy()
    out["pairs_waiting"] = [waiting.get(s, 0) for s in out["source"]]
    return out.reset_index(drop=True)


def report_section(r: Readiness, top: int = 10) -> dict[str, Any]:
    """The daily report's readiness section: the totals, the ``top`` actions and every active auto policy's
    decided share (counts only; the same on any partitioning)."""
    s = r.summary
    keep = ["enterprises", "active_policies", "pairs_evaluated", "eligible", "undetermined", "decided_share",
            "one_source_decides", "all_data_decides", "unless_partial", "needs_declaration", "unsettleable", "ranking"]
    out: dict[str, Any] = {k: (round(s[k], 6) if isinstance(s[k], float) else s[k]) for k in keep}
    cols = ["rank", "action", "systems", "departments", "score", "decided_pairs", "decided_auto", "decided_instant",
            "decided_apply", "beyond_each_alone", "enterprises", "policies"]
    out["actions"] = [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                      for row in r.actions.head(top)[cols].to_dict("records")]
    auto = r.policies[r.policies["mode"] == "auto"].sort_values("policy_id", kind="stable")
    out["auto_policies"] = [
        {"policy_id": p["policy_id"], "title": p["title"], "department": p["department"],
         "evaluated": int(p["evaluated"]), "eligible": int(p["eligible"]), "undetermined": int(p["undetermined"]),
         "decided_share": round(float(p["decided_share"]), 6),
         "decided_share_all_data": round(float(p["decided_share_all_data"]), 6),
         "best_source": None if pd.isna(p["best_source"]) else p["best_source"],
         "best_source_label": None if pd.isna(p["best_source_label"]) else p["best_source_label"],
         "best_source_decides": int(p["best_source_decides"])}
        for p in auto.to_dict("records")
    ]  # fmt: skip
    return out


# --- the whole city --------------------------------------------------------------------------------------
