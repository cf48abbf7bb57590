"""The push rules: which eligible pairs reach an enterprise today, and why the others do not.

Pure functions over DataFrames.  Every candidate pair ends either on the push list or in
``held_back`` with the first rule that held it back, so the day's accounting always closes:
``len(candidates) == len(push_list) + len(held_back)``.

Rules, in the order they are tried (the first that applies is recorded):

``inactive``       the enterprise's canonical status is known and not ``active``
``granted``        the pair was already granted (grants table, granted on or before the date)
``suppressed``     the pair is on the suppression list and the suppression has not expired
``exclusive``      就高不重复: another policy of the same exclusive group pays this enterprise more today
``auto_grant``     mode ``auto`` and eligible: it goes on the 免申即享 list, not on the push list
``undetermined``   undetermined pairs are not pushed (only when configured so)
``cooldown``       pushed within the cool-down and the verdict did not change since
``shortlist``      not among the enterprise's N best open pairs by a cheap pre-score, so not ranked
                   (only when the job is configured with a shortlist; see ``shortlist``)
``cap``            the enterprise already has K better-ranked items today
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quanhuiqi.tables.in_force import active_suppressions, grants_in_force

RULES = ("inactive", "granted", "suppressed", "exclusive", "auto_grant", "undetermined", "cooldown", "shortlist",
         "cap")

CANDIDATE_COLUMNS = ["uscc", "policy_id", "verdict", "score", "mode", "valid_from", "valid_to", "evidence"]
PUSH_LIST_COLUMNS = ["date", "uscc", "policy_id", "rank", "score", "mode", "reason", "verdict"]
HELD_BACK_COLUMNS = ["date", "uscc", "policy_id", "verdict", "mode", "score", "rule", "detail"]
AUTO_GRANT_COLUMNS = ["policy_id", "uscc", "name", "evidence"]


@dataclass(frozen=True)
class PushRules:
    """The knobs of the push rules (``push:`` in the configuration)."""

    max_per_enterprise: int = 3
    cooldown_days: int = 30
    repeat_if_verdict_changed: bool = True
    include_undetermined: bool = True
    push_auto_grants: bool = False
    skip_inactive: bool = True
    skip_unknown_status: bool = False
    closing_soon_days: int = 14
    closing_soon_boost: float = 0.5
    new_policy_days: int = 7
    new_policy_boost: float = 0.25
    announce_new_policies: bool = True

    @classmethod
    def from_config(cls, cfg: dict) -> PushRules:
        return cls(**cfg["push"])


@dataclass
class PushDecision:
    """The outcome of the rules for one day."""

    push_list: pd.DataFrame
    held_back: pd.DataFrame
    auto_grant: pd.DataFrame


def _ts(as_of: dt.date | str | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize()


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")


class PairKeys:
    """Integer codes of the candidates' (uscc, policy_id): lookups in the other tables are integer
    searches instead of string joins (a partition holds millions of pairs).  Codes follow the
    strings' sort order, so sorting by code is sorting by text."""

    def __init__(self, c: pd.DataFrame):
        self.ucode, self.uscc = sorted_codes(c["uscc"])
        self.pcode, self.policy = sorted_codes(c["policy_id"])
        self.n_policy = max(1, len(self.policy))
        self.key = self.ucode.astype(np.int64) * self.n_policy + self.pcode
        self._where: pd.Index | None = None

    def of(self, other: pd.DataFrame) -> np.ndarray:
        """The key of each row of ``other`` (-1 where its pair is not a candidate)."""
        u = self.uscc.get_indexer(pd.Index(other["uscc"].astype("string")))
        p = self.policy.get_indexer(pd.Index(other["policy_id"].astype("string")))
        return np.where((u >= 0) & (p >= 0), u.astype(np.int64) * self.n_policy + p, -1)

    def lookup(self, other: pd.DataFrame, value: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Which candidates appear in ``other`` (and ``value`` of their first row there).

        The other table is small next to the candidates: each of its rows finds its candidate in a
        hash index of the candidate keys (built once)."""
        if self._where is None:
            self._where = pd.Index(self.key)
        okey = self.of(other)
        at = np.full(okey.size, -1, dtype=np.int64)
        ok = okey >= 0
        if ok.any():
            at[ok] = self._where.get_indexer(okey[ok])
        found = np.flatnonzero(at >= 0)
        hit = np.zeros(self.key.size, dtype=bool)
        hit[at[found]] = True
        if value is None:
            return hit, None
        out = np.full(self.key.size, None, dtype=object)
        out[at[found[::-1]]] = np.asarray(value, dtype=object)[found[::-1]]  # the first row wins
        return hit, out


def sorted_codes(values: pd.Series, required: bool = True) -> tuple[np.ndarray, pd.Index]:
    """Codes in the sort order of the texts (a Categorical's codes are remapped, not re-hashed);
    ``required=False`` lets missing values through as -1."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pd.Index(values.cat.categories.astype("string"))
        order = np.argsort(cats.to_numpy(dtype=object), kind="stable")
        rank = np.empty(len(cats), dtype=np.int64)
        rank[order] = np.arange(len(cats))
        codes = values.cat.codes.to_numpy()
        if (codes < 0).any():
            if required:
                raise ValueError("candidates have a missing uscc or policy_id")
            return np.where(codes >= 0, rank[codes], -1), cats[order]
        return rank[codes], cats[order]
    codes, uniq = pd.factorize(values.astype("string"), sort=True)
    return codes, pd.Index(uniq, dtype="string")


def last_pushes(history: pd.DataFrame, as_of: dt.date | str, cooldown_days: int) -> pd.DataFrame:
    """The last push of each pair within the cool-down before ``as_of`` (``date < as_of``).

    Pushes dated on or after ``as_of`` are ignored, so re-running a date never counts that
    date's own pushes (or a later run's) as history.  Duplicated history rows collapse.
    """
    day = _ts(as_of)
    cols = ["uscc", "policy_id", "last_pushed", "last_verdict"]
    if history is None or history.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in cols}).astype({"last_pushed": "datetime64[ns]"})
    h = pd.DataFrame(
        {
            "uscc": history["uscc"].astype("string"),
            "policy_id": history["policy_id"].astype("string"),
            "last_pushed": _dates(history["date"]),
            "last_verdict": (
                history["verdict"].astype("string") if "verdict" in history else pd.Series(pd.NA, index=history.index, dtype="string")
            ),
        }
    )
    lo = day - pd.Timedelta(days=cooldown_days)
    h = h[(h["last_pushed"] < day) & (h["last_pushed"] > lo)]
    h = h.sort_values(["uscc", "policy_id", "last_pushed"], kind="stable")
    return h.drop_duplicates(["uscc", "policy_id"], keep="last").reset_index(drop=True)


def _boost_flags(c: pd.DataFrame, day: pd.Timestamp, rules: PushRules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    valid_to = _dates(c["valid_to"])
    valid_from = _dates(c["valid_from"])
    days_left = (valid_to - day).dt.days
    days_since = (day - valid_from).dt.days
    closing = (days_left >= 0) & (days_left <= rules.closing_soon_days)
    new = (days_since >= 0) & (days_since < rules.new_policy_days)
    return (
        closing.fillna(False).to_numpy(bool),
        new.fillna(False).to_numpy(bool),
        days_left.fillna(-1).to_numpy(np.int64),
    )


class Holds:
    """Which rule holds each candidate back (0 = none yet), with its detail — the day's accounting.

    Built in two steps so a city-scale job can rank only what is still open: ``hold_before_ranking``
    applies every rule that does not depend on the score, ``apply_push_rules`` the K cap.  Details are
    stored as codes into ``texts`` (millions of pairs share a handful of sentences).
    """

    def __init__(self, c: pd.DataFrame, day: pd.Timestamp, rules: PushRules):
        n = len(c)
        self.n = n
        self.keys = PairKeys(c)
        self.rule = np.zeros(n, dtype=np.int8)  # 0 = not held; i + 1 = RULES[i]
        self.detail = np.full(n, -1, dtype=np.int32)
        self.texts: list[str] = []
        self.closing, self.new, self.days_left = _boost_flags(c, day, rules)
        self.eligible = (c["verdict"] == "eligible").to_numpy(dtype=bool, na_value=False)
        self.undetermined = (c["verdict"] == "undetermined").to_numpy(dtype=bool, na_value=False)
        self.is_auto = (c["mode"] == "auto").to_numpy(dtype=bool, na_value=False) & self.eligible

    @property
    def open(self) -> np.ndarray:
        return self.rule == 0

    def hold(self, mask: np.ndarray, name: str, text: Callable[[np.ndarray], np.ndarray] | str) -> None:
        """Record ``name`` for the pairs of ``mask`` no earlier rule holds; ``text`` builds their detail."""
        take = mask & (self.rule == 0)
        if not take.any():
            return
        self.rule[take] = RULES.index(name) + 1
        if callable(text):
            codes, uniq = pd.factorize(np.asarray(text(take), dtype=object))
            self.detail[take] = codes + len(self.texts)
            self.texts.extend(str(u) for u in uniq)
        else:
            self.detail[take] = len(self.texts)
            self.texts.append(text)


def hold_before_ranking(
    candidates: pd.DataFrame,
    *,
    as_of: dt.date | str,
    rules: PushRules | None = None,
    history: pd.DataFrame | None = None,
    grants: pd.DataFrame | None = None,
    suppressions: pd.DataFrame | None = None,
    status: pd.DataFrame | None = None,
    unique: bool = False,
    exclusive_groups: dict[str, str] | None = None,
) -> Holds:
    """The rules that do not depend on the score: inactive, granted, suppressed, exclusive (就高), 免申即享,
    undetermined, cool-down.  What stays open is what the ranker has to order.

    ``exclusive_groups`` (policy_id → group): of an enterprise's open pairs in one group, only the one with
    the largest amount stays (then the proven verdict, then the policy id); the others are held back."""
    rules = rules or PushRules()
    day = _ts(as_of)
    c = candidates
    missing = [col for col in ("uscc", "policy_id", "verdict", "mode", "valid_from", "valid_to") if col not in c.columns]
    if missing:
        raise ValueError(f"candidates lack column(s) {missing}")
    h = Holds(c, day, rules)
    if not unique and not pd.Index(h.keys.key).is_unique:  # unique=True: the caller guarantees it (evaluate does)
        raise ValueError("candidates hold a (uscc, policy_id) pair more than once")
    n = h.n

    # inactive enterprises
    if status is not None and (rules.skip_inactive or rules.skip_unknown_status):
        st = status[["uscc", "status"]].astype({"uscc": "string", "status": "string"}).drop_duplicates("uscc")
        pos = pd.Index(st["uscc"]).get_indexer(h.keys.uscc)
        st_u = np.where(pos >= 0, st["status"].fillna("").to_numpy(dtype=object)[pos], "")
        st_text = np.where(st_u == "", "unknown", st_u)[h.keys.ucode]
        known = (st_u != "")[h.keys.ucode]
        inactive = np.zeros(n, bool)
        if rules.skip_inactive:
            inactive |= known & (st_text != "active")
        if rules.skip_unknown_status:
            inactive |= ~known
        h.hold(inactive, "inactive", lambda m: "status " + st_text[m].astype(object))

    # granted
    g = grants_in_force(grants, day)
    if g is not None and len(g):
        h.hold(h.keys.lookup(g)[0], "granted", "already granted")

    # suppressed (an officer or the enterprise disputed the pair; in force until it expires)
    sup = active_suppressions(suppressions, day)
    if len(sup):
        m_pair, why = h.keys.lookup(sup, sup["reason"].to_numpy(dtype=object))
        h.hold(m_pair, "suppressed", lambda m: np.array([f"suppressed: {'' if pd.isna(w) else w}" for w in why[m]], dtype=object))

    if exclusive_groups:
        _hold_exclusive(h, c, exclusive_groups)

    if not rules.push_auto_grants:
        h.hold(h.is_auto, "auto_grant", "on the 免申即享 list")
    if not rules.include_undetermined:
        h.hold(h.undetermined, "undetermined", "undetermined pairs are not pushed")

    # cool-down, unless the verdict changed since the last push
    last = last_pushes(history, day, rules.cooldown_days)
    if len(last):
        hit, when = h.keys.lookup(last, last["last_pushed"].to_numpy(dtype="datetime64[ns]"))
        _, lv = h.keys.lookup(last, last["last_verdict"].fillna("").to_numpy(dtype=object))
        changed = np.zeros(n, bool)
        if rules.repeat_if_verdict_changed and hit.any():
            at = np.flatnonzero(hit)
            verdict = c["verdict"].iloc[at].astype("string").fillna("").to_numpy(dtype=object)
            changed[at] = (lv[at] != "") & (lv[at] != verdict) & (lv[at] != None)  # noqa: E711 - object array
        since = np.full(n, -1, dtype=np.int64)
        if hit.any():
            since[hit] = ((day.to_datetime64() - when[hit].astype("datetime64[ns]")) // np.timedelta64(1, "D")).astype(np.int64)
        h.hold(hit & ~changed, "cooldown", lambda m: np.array([f"pushed {d} days ago" for d in since[m]], dtype=object))
    return h


def _hold_exclusive(h: Holds, c: pd.DataFrame, groups: dict[str, str]) -> None:
    """就高不重复 within one day: per enterprise and exclusive group, keep the open pair paying most."""
    names = sorted(set(groups.values()))
    gcode = np.array([names.index(groups[p]) if p in groups else -1 for p in h.keys.policy.tolist()],
                     dtype=np.int64)[h.keys.pcode]
    m = (gcode >= 0) & h.open
    if m.sum() < 2:
        return
    idx = np.flatnonzero(m)
    amount = c["amount"].to_numpy(dtype="float64", na_value=np.nan)[idx] if "amount" in c else np.zeros(idx.size)
    high = c["amount_max"].to_numpy(dtype="float64", na_value=np.nan)[idx] if "amount_max" in c else amount
    best = np.nan_to_num(np.fmax(amount, high), nan=-1.0)
    order = np.lexsort((h.keys.pcode[idx], ~h.eligible[idx], -best, gcode[idx], h.keys.ucode[idx]))
    grp = h.keys.ucode[idx].astype(np.int64) * (len(names) + 1) + gcode[idx]
    first = _within_group_position(grp, order) == 1
    kept_pol = np.empty(idx.size, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(grp[order]) != 0])
    kept_pol[order] = np.repeat(h.keys.pcode[idx][order][starts], np.diff(np.r_[starts, order.size]))
    lose = np.zeros(h.n, dtype=bool)
    lose[idx[order][~first]] = True
    keep_of = np.full(h.n, -1, dtype=np.int64)
    keep_of[idx] = kept_pol
    pol = h.keys.policy.to_numpy(dtype=object)
    h.hold(lose, "exclusive", lambda mm: np.array([f"就高不重复: {pol[k]}" for k in keep_of[mm]], dtype=object))


def _within_group_position(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """1-based position of each element of ``order`` within its run of equal ``group[order]``."""
    g = group[order]
    if g.size == 0:
        return np.zeros(0, np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    return np.arange(g.size) - np.repeat(starts, np.diff(np.r_[starts, g.size])) + 1


def shortlist(holds: Holds, prescore: np.ndarray, per_enterprise: int, rules: PushRules) -> np.ndarray:
    """Hold back, per enterprise, the open pairs beyond its ``per_enterprise`` best by a cheap pre-score
    (new policies to announce are always kept).  Returns the mask of pairs the ranker must score."""
    open_ = holds.open
    if per_enterprise <= 0:
        return open_
    exempt = open_ & holds.new & holds.eligible & rules.announce_new_policies
    cand = np.flatnonzero(open_ & ~exempt)
    adj = prescore + rules.closing_soon_boost * holds.closing + rules.new_policy_boost * holds.new
    order = cand[np.lexsort((holds.keys.pcode[cand], -np.nan_to_num(adj[cand], nan=-np.inf), holds.keys.ucode[cand]))]
    pos = np.zeros(holds.n, np.int64)
    pos[order] = _within_group_position(holds.keys.ucode, order)
    holds.hold(open_ & ~exempt & (pos > per_enterprise), "shortlist",
               f"not among the enterprise's {per_enterprise} best by the pre-score")
    return holds.open


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="string"))


def apply_push_rules(
    candidates: pd.DataFrame,
    *,
    as_of: dt.date | str,
    rules: PushRules | None = None,
    history: pd.DataFrame | None = None,
    grants: pd.DataFrame | None = None,
    suppressions: pd.DataFrame | None = None,
    status: pd.DataFrame | None = None,
    names: pd.DataFrame | None = None,
    holds: Holds | None = None,
) -> PushDecision:
    """Decide the day's pushes.

    ``candidates``: one row per (uscc, policy_id) with ``CANDIDATE_COLUMNS`` and optionally
    ``reason`` (the ranker's explanation).  ``status``: ``uscc, status`` (canonical; NA = unknown).
    ``names``: ``uscc, name`` for the 免申即享 list.  History, grants and suppressions use the
    columns of ``quanhuiqi.tables.columns``; ``history`` may carry ``verdict``.  ``holds``: the result
    of ``hold_before_ranking`` (and ``shortlist``) on these same candidates, when already computed.
    A missing score ranks last; ``held_back`` keeps it missing.  ``held_back`` columns are
    categorical (millions of rows share few values); its rows are sorted by uscc, policy_id.
    """
    rules = rules or PushRules()
    day = _ts(as_of)
    date_text = day.date().isoformat()
    c = candidates.reset_index(drop=True)
    missing = [col for col in CANDIDATE_COLUMNS if col not in c.columns]
    if missing:
        raise ValueError(f"candidates lack column(s) {missing}")
    if holds is None:
        holds = hold_before_ranking(c, as_of=day, rules=rules, history=history, grants=grants,
                                    suppressions=suppressions, status=status)
    elif holds.n != len(c):
        raise ValueError("holds were computed for other candidates")
    h, keys = holds, holds.keys
    score = pd.to_numeric(c["score"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    adjusted = score + rules.closing_soon_boost * h.closing + rules.new_policy_boost * h.new

    # the K cap: rank what is left per enterprise; new policies are announced beyond it
    open_ = h.open
    exempt = open_ & h.new & h.eligible & rules.announce_new_policies
    capped = np.flatnonzero(open_ & ~exempt)
    order = capped[np.lexsort((keys.pcode[capped], -np.nan_to_num(adjusted[capped], nan=-np.inf), keys.ucode[capped]))]
    pos = np.zeros(h.n, np.int64)
    pos[order] = _within_group_position(keys.ucode, order)
    h.hold(open_ & ~exempt & (pos > rules.max_per_enterprise), "cap",
           "beyond the top " + str(rules.max_per_enterprise) + " of the day")

    pushed = h.open
    pi, hi = np.flatnonzero(pushed), np.flatnonzero(~pushed)

    def take(col: str, idx: np.ndarray) -> pd.Series:
        return c[col].iloc[idx].astype("string").reset_index(drop=True)

    # reasons of the pushed pairs: the ranker's sentence, tagged with what boosted it
    base_reason = c["reason"] if "reason" in c else c["evidence"]
    reason = base_reason.iloc[pi].astype("string").fillna("").to_numpy(dtype=object)
    cl, nw = h.closing[pi], h.new[pi]
    reason[cl] = np.array([f"【即将截止·剩{d}天】" for d in h.days_left[pi][cl]], dtype=object) + reason[cl]
    reason[nw] = "【新发布政策】" + reason[nw]
    p = pd.DataFrame(
        {
            "date": pd.array([date_text] * len(pi), dtype="string"),
            "uscc": take("uscc", pi),
            "policy_id": take("policy_id", pi),
            "adj": -np.nan_to_num(adjusted[pi], nan=-np.inf),
            "score": adjusted[pi],
            "mode": take("mode", pi),
            "reason": pd.array(reason, dtype="string"),
            "verdict": take("verdict", pi),
        }
    )
    p = p.sort_values(["uscc", "adj", "policy_id"], kind="stable")
    p["rank"] = (p.groupby("uscc", sort=False).cumcount() + 1).astype("int64")
    push_list = p[PUSH_LIST_COLUMNS].reset_index(drop=True)

    hi = hi[np.argsort(keys.key[hi], kind="stable")]
    verdict_codes, verdict_names = sorted_codes(c["verdict"], required=False)
    mode_codes, mode_names = sorted_codes(c["mode"], required=False)
    held_back = pd.DataFrame(
        {
            "date": _categorical(np.zeros(hi.size, np.int8), [date_text]),
            "uscc": _categorical(keys.ucode[hi], keys.uscc),
            "policy_id": _categorical(keys.pcode[hi], keys.policy),
            "verdict": _categorical(verdict_codes[hi], verdict_names),
            "mode": _categorical(mode_codes[hi], mode_names),
            "score": adjusted[hi],
            "rule": _categorical(h.rule[hi] - 1, list(RULES)),
            "detail": _categorical(h.detail[hi], h.texts),
        }
    )

    ag_idx = np.flatnonzero((h.rule == RULES.index("auto_grant") + 1) | (h.is_auto & pushed))
    ag = c.loc[ag_idx, ["policy_id", "uscc", "evidence"]]
    if names is not None:
        ag = ag.merge(names[["uscc", "name"]].astype("string").drop_duplicates("uscc"), on="uscc", how="left")
    else:
        ag = ag.assign(name=pd.NA)
    auto_grant = (
        ag[AUTO_GRANT_COLUMNS]
        .astype("string")
        .sort_values(["policy_id", "uscc"], kind="stable")
        .reset_index(drop=True)
    )
    return PushDecision(push_list=push_list, held_back=held_back, auto_grant=auto_grant)
