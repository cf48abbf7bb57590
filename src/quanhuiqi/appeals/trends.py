"""Heat, trends and bursts of issues (热点 · 趋势 · 新发问题).

* :func:`issue_daily` — appeals, distinct enterprises and support per issue and day (the long table every
  trend reads).
* :func:`day_factors` — the city's rhythm: how many appeals a day of each kind (Monday … Friday, a weekend,
  an official holiday, a 调休 working weekend) brings relative to an average day, estimated from all appeals.
* :func:`detect_bursts` — a count model per issue: the expected count of a day is the issue's level times the
  day's factor; the level has a Gamma prior (a new issue is expected to be rare) updated by the issue's
  history (the ``history`` days before the tested window), so the next counts follow a negative binomial.
  A day is flagged when the count of the window of the last 1, 2, 3 or 4 days is improbably high under that
  law (upper tail < ``alpha``), at least ``min_count`` and at least ``min_ratio`` × expected.  A new problem
  has no history (level ≈ the prior's), so a handful of appeals in its first days is a burst; an issue that
  always runs at 5 a day needs many more.  Kleinberg's two-state automaton was the alternative; the count
  model was chosen because its baseline knows weekends and holidays and its alarms have a stated
  probability (measured: ``benchmarks/appeals_issues.py``).
* :func:`heat_table` — per issue (or any segment): volume, breadth (distinct enterprises), growth and support
  side by side — never mixed into one opaque number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_KINDS = ["mon", "tue", "wed", "thu", "fri", "weekend", "holiday", "workday_weekend"]


def day_kinds(days: pd.DatetimeIndex) -> np.ndarray:
    """The kind of each day: a weekday's name, ``weekend``, ``holiday`` (an official holiday on a weekday) or
    ``workday_weekend`` (调休: a Saturday or Sunday worked).  Outside the years chinese-calendar knows, plain
    weekdays and weekends."""
    import chinese_calendar as cc

    dow = days.day_of_week.to_numpy()
    kind = np.where(dow >= 5, "weekend", np.array(_KINDS[:5], dtype=object)[np.minimum(dow, 4)]).astype(object)
    for i, d in enumerate(days):
        try:
            if dow[i] < 5 and cc.is_holiday(d.date()):
                kind[i] = "holiday"
            elif dow[i] >= 5 and cc.is_workday(d.date()):
                kind[i] = "workday_weekend"
        except NotImplementedError:
            pass
    return kind


def day_factors(daily_totals: pd.Series, workday_weekend_borrow: float = 0.5) -> pd.Series:
    """Factor of each day (index: the days of ``daily_totals``, the city's appeals per day, zeros included):
    the mean count of days of its kind over the mean count of all days.  A kind with fewer than 2 days
    observed borrows: a holiday counts as a weekend, a 调休 working weekend as the mix of a weekday and a
    weekend with weight ``workday_weekend_borrow`` on the weekend — a worked Saturday brings fewer appeals than
    a weekday (0.72 of an ordinary working day on the real 问政 messages, weekend 0.54:
    ``benchmarks/results/appeals_day_rhythm.json``), and a span of a few months holds one or two of them
    (0.0: a weekday, issue-18 v7)."""
    days = pd.DatetimeIndex(daily_totals.index)
    kinds = day_kinds(days)
    counts = daily_totals.to_numpy(dtype=float)
    mean_all = counts.mean() if len(counts) and counts.mean() > 0 else 1.0
    frame = pd.DataFrame({"kind": kinds, "n": counts})
    by = frame.groupby("kind")["n"].agg(["mean", "size"])
    f = (by["mean"] / mean_all).where(by["size"] >= 2)
    weekday = f.reindex(_KINDS[:5]).mean()
    weekday = 1.0 if pd.isna(weekday) else weekday
    weekend = f.get("weekend", np.nan)
    weekend = 0.4 * weekday if pd.isna(weekend) else weekend
    tiaoxiu = (1.0 - workday_weekend_borrow) * weekday + workday_weekend_borrow * weekend
    fill = {"workday_weekend": tiaoxiu, "holiday": weekend, "weekend": weekend, **dict.fromkeys(_KINDS[:5], weekday)}
    out = np.array([f.get(k, np.nan) if not pd.isna(f.get(k, np.nan)) else fill[k] for k in kinds], dtype=float)
    return pd.Series(np.maximum(out, 0.05), index=days, name="factor")


def issue_daily(grouped: pd.DataFrame, key: str | list[str] = "issue_id") -> pd.DataFrame:
    """``key…, day, appeals, enterprises, voices, support`` — per key and calendar day of ``received_at``.

    ``grouped`` has ``received_at`` and the key column(s); ``uscc`` (distinct enterprises; missing ones are
    not counted) and ``support`` (summed) when present.  ``voices`` counts distinct enterprises plus the
    appeals without one: an enterprise re-filing its appeal five times in a day is one voice, not a burst."""
    keys = [key] if isinstance(key, str) else list(key)
    g = grouped.dropna(subset=keys).copy()
    g["day"] = pd.to_datetime(g["received_at"]).dt.normalize()
    if "uscc" not in g.columns:
        g["uscc"] = pd.NA
    if "support" not in g.columns:
        g["support"] = 0
    g["support"] = pd.to_numeric(g["support"], errors="coerce").fillna(0)
    gb = g.groupby([*keys, "day"], sort=True, observed=True)
    out = gb.agg(appeals=("day", "size"), enterprises=("uscc", "nunique"), support=("support", "sum")).reset_index()
    anon = g["uscc"].isna().groupby([g[k] for k in keys] + [g["day"]], sort=True, observed=True).sum()
    out["voices"] = out["enterprises"].to_numpy() + anon.to_numpy().astype(np.int64)
    out["support"] = out["support"].astype("int64")
    return out


@dataclass(frozen=True)
class BurstParams:
    """The count model's settings (defaults chosen on the planted bursts of seeds 1-3 and 101-110 only, then
    measured on held-out seeds 4-21 and 201-215 and, for v8, fresh seeds 301-320: ``benchmarks/appeals_issues.py``,
    docs/appeals.md)."""

    history: int = 56  # days of history that estimate a young issue's level (and make an issue young)
    windows: tuple[int, ...] = (1, 2, 3, 4)  # the last w days tested (4: a burst's first four days, onset … +3)
    alpha: float = 3e-4  # upper-tail probability of a window's count that flags it
    min_count: int = 3  # appeals in the window, at least
    min_ratio: float = 2.5  # count ≥ this × expected
    prior_appeals: float = 0.5  # Gamma prior of the level: as if this many appeals …
    prior_days: float = 3.0  # … had come in this many average days
    warmup: int = 14  # no flags in the first days of the data (no issue has a history yet)
    min_issue_appeals: int = 3  # issues with fewer appeals in all are not tested
    dispersion: float | None = None  # day-to-day extra variance φ (var = μ + φμ²); None: estimated from the data
    parent_similarity: float | None = 0.14  # a young issue this close to its parent topic borrows its history
    # (None: never) — the middle of the plateau 0.10-0.18 where seeds 1-3 keep their recall and lose most
    # false alarms; a background split's founding cosine to its parent is ~0.2, a new problem's ~0.09
    young_family: bool = True  # a young issue without a close parent counts its close children with it
    parent_share: bool = True  # a young issue borrows only its share of the parent's appeals before its founding
    # (its share of the pair's appeals since founding, one pseudo-appeal leaning to all when nothing is known
    # yet); False: the parent's whole flow over the history window, before and after founding (issue-18 v6)
    old_family: bool = True  # an established issue without a close parent counts its close children with it
    # too: a problem the grouping split in two keeps its one rate, whatever the split's share does
    long_history: int | None = 112  # an established issue (founded ≥ ``history`` days before the window) takes
    # its level from up to this many days since its founding (None: ``history`` days, as a young one) — a
    # quiet issue's rate of 0.1 a day is 5 appeals in 56 days, too few to tell it from 0.2
    parent_pair: bool = True  # a young issue with a close parent, founded after its history ends, is tested on
    # the pair's sum (itself + its parent, window and history; its own count still ≥ ``min_count``): its share of
    # the parent is unknown then, a split that only relabels the parent's flow keeps the pair's sum, and a new
    # problem founded beside the topic adds to it (False: the share rule alone, issue-18 v7)
    workday_weekend_borrow: float = 0.5  # the day factors' 调休 rule when estimated here (:func:`day_factors`)


def _matrix(daily: pd.DataFrame, key: str, days: pd.DatetimeIndex, min_total: int, count: str):
    tot = daily.groupby(key, observed=True)[count].sum()
    keep = tot.index[tot >= min_total]
    d = daily[daily[key].isin(keep)]
    rows = pd.Index(keep)
    r = rows.get_indexer(d[key])
    c = days.get_indexer(d["day"])
    m = np.zeros((len(rows), len(days)), dtype=np.float64)
    np.add.at(m, (r, c), d[count].to_numpy(dtype=float))
    return rows, m


def _cumulative(m: np.ndarray) -> np.ndarray:
    """``cm[:, t]`` = the sum of days < t."""
    return np.concatenate([np.zeros((len(m), 1)), np.cumsum(m, axis=1)], axis=1)


def estimate_dispersion(m: np.ndarray, f: np.ndarray, history: int, prior_appeals: float, prior_days: float
                        ) -> float:
    """Method-of-moments extra-Poisson dispersion φ of the daily counts ``m`` (issues × days, day factors
    ``f``) around each issue's trailing level: Σ[(x − μ)² − μ − μ²/a] / Σμ² over the days that have a full
    ``history`` (so the level's own uncertainty μ²/a is not counted twice).  Appeals come in waves (a
    news item, a deadline, a meeting) that a Poisson count ignores; φ puts them into the law."""
    n_days = m.shape[1]
    if n_days <= history or len(m) == 0:
        return 0.0
    cm, cf = _cumulative(m), np.concatenate([[0.0], np.cumsum(f)])
    t = np.arange(history, n_days)
    a = prior_appeals + (cm[:, t] - cm[:, t - history])
    b = prior_days + (cf[t] - cf[t - history])[None, :]
    mu = a * f[t][None, :] / b
    x = m[:, t]
    live = cm[:, t] > 0  # an issue not yet founded says nothing about the spread of counts
    num = ((x - mu) ** 2 - mu - mu ** 2 / a)[live].sum()
    den = (mu ** 2)[live].sum()
    return float(max(num / den, 0.0)) if den > 0 else 0.0


def _families(rows: pd.Index, issues: pd.DataFrame | None, days: pd.DatetimeIndex, threshold: float | None,
              daily: pd.DataFrame, key: str, count: str
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(each tested issue's parent counts — zeros without a parent close enough —, its founding day's index,
    its close children's counts summed, whether it has a close parent).

    ``issues`` is the issue state's table (``issue_id, founded_on, parent_id, parent_similarity``)."""
    zeros = np.zeros((len(rows), len(days)))
    kids = np.zeros((len(rows), len(days)))
    founded = np.full(len(rows), -(10 ** 9), dtype=np.int64)
    has = np.zeros(len(rows), dtype=bool)
    if issues is None or threshold is None or "parent_id" not in issues.columns or len(rows) == 0:
        return zeros, founded, kids, has
    # children: issues whose parent (close enough) is a tested row — a new problem the grouping split in two
    all_sim = pd.to_numeric(issues["parent_similarity"], errors="coerce").fillna(-1).to_numpy()
    close = issues[(all_sim >= threshold) & issues["parent_id"].astype("string").isin(set(rows.astype(str))).to_numpy()]
    if len(close):
        of = dict(zip(close["issue_id"].astype(str), close["parent_id"].astype(str)))
        cd = daily[daily[key].astype(str).isin(set(of))]
        prow_k = rows.astype(str).get_indexer(cd[key].astype(str).map(of))
        np.add.at(kids, (prow_k, days.get_indexer(cd["day"])), cd[count].to_numpy(float))
    info = issues.drop_duplicates("issue_id").set_index(issues.drop_duplicates("issue_id")["issue_id"].astype(str))
    info = info.reindex(rows.astype(str))
    fo = pd.to_datetime(info["founded_on"], errors="coerce")
    founded = np.where(fo.notna(), (fo - days[0]).dt.days.fillna(0).to_numpy(dtype=np.int64), founded)
    sim = pd.to_numeric(info["parent_similarity"], errors="coerce").fillna(-1).to_numpy()
    parent = info["parent_id"].astype("string").where(sim >= threshold)
    want = parent.dropna()
    has = parent.notna().to_numpy()
    if want.empty:
        return zeros, founded, kids, has
    pd_ = daily[daily[key].astype(str).isin(set(want.astype(str)))]
    prow = pd.Index(pd.unique(want.astype(str)))
    pm = np.zeros((len(prow), len(days)))
    np.add.at(pm, (prow.get_indexer(pd_[key].astype(str)), days.get_indexer(pd_["day"])), pd_[count].to_numpy(float))
    zeros[has] = pm[prow.get_indexer(parent[has].astype(str))]
    return zeros, founded, kids, has


def detect_bursts(daily: pd.DataFrame, params: BurstParams | None = None, key: str = "issue_id",
                  factors: pd.Series | None = None, last: int | None = None, count: str | None = None,
                  issues: pd.DataFrame | None = None) -> pd.DataFrame:
    """Flagged (key, day) pairs: ``key, day, window, count, expected, p_value, ratio, level`` — one row per
    flagged day (the window with the smallest tail probability).  ``daily`` is :func:`issue_daily`'s table;
    ``factors`` the day factors (default: estimated from ``daily`` itself); ``last`` tests only the last
    ``last`` days (the daily job: ``last=1``).  ``count`` is the column counted (default ``voices`` when
    present, else ``appeals``).

    The law of a window's count is a negative binomial with the Gamma posterior's uncertainty of the level
    and, with ``params.dispersion`` (``None``: estimated, :func:`estimate_dispersion`), the days' own extra
    spread.  ``issues`` (the issue state's table, with ``parent_id`` and ``parent_similarity`` recorded at
    founding) lets a *young* issue — founded inside the history window — whose parent topic is at least
    ``params.parent_similarity`` close take its history from issue and parent together: its appeals came
    from somewhere, and before it existed they were in the parent, not absent — but only its share of them
    (``params.parent_share``: the child's share of the pair's appeals since founding), so a problem founded
    beside a big topic does not inherit that topic's rate; while it has no history of its own yet (founded
    after the history ends) that share is unknown, and it is tested on the pair's sum instead
    (``params.parent_pair``: a split that only relabels its parent's flow leaves the pair's sum where it was,
    a new problem founded beside the topic adds to it).  An issue without such a parent keeps its zeros
    before founding: a problem nobody wrote about is the emerging issue we look for; it counts, window and
    history, the appeals of its own close children with it (``params.young_family`` while young,
    ``params.old_family`` later): a new problem the grouping split into two issues is one burst.  An
    established issue's level comes from up to ``params.long_history`` days of its life."""
    from scipy import stats

    p = params or BurstParams()
    cols = [key, "day", "window", "count", "expected", "p_value", "ratio", "level"]
    if daily.empty:
        return pd.DataFrame(columns=cols)
    days = pd.date_range(daily["day"].min(), daily["day"].max(), freq="D")
    if factors is None:
        factors = day_factors(daily.groupby("day")["appeals"].sum().reindex(days, fill_value=0),
                              p.workday_weekend_borrow)
    f = factors.reindex(days).fillna(1.0).to_numpy(dtype=float)
    count = count or ("voices" if "voices" in daily.columns else "appeals")
    rows, m = _matrix(daily, key, days, p.min_issue_appeals, count)
    if len(rows) == 0:
        return pd.DataFrame(columns=cols)
    phi = (estimate_dispersion(m, f, p.history, p.prior_appeals, p.prior_days) if p.dispersion is None
           else float(p.dispersion))
    parent_m, founded, kids_m, has_parent = _families(rows, issues, days, p.parent_similarity, daily, key, count)
    n_days = len(days)
    cm = _cumulative(m)
    orphan = ~has_parent  # no close parent: a candidate new problem
    ckids = cm + _cumulative(kids_m) if p.young_family else cm
    cpar = _cumulative(parent_m)
    cfam = cm + cpar
    rix = np.arange(len(rows))[:, None]
    fidx = np.clip(founded, 0, n_days)[:, None]
    cf = np.concatenate([[0.0], np.cumsum(f)])
    cf2 = np.concatenate([[0.0], np.cumsum(f * f)])
    start = max(p.warmup, 0) if last is None else max(n_days - last, 0)
    t = np.arange(start, n_days)
    best_p = np.ones((len(rows), len(t)))
    best = {k: np.zeros((len(rows), len(t))) for k in ("window", "count", "expected", "ratio", "level")}
    for w in p.windows:
        lo = np.maximum(t - w + 1, 0)  # window [lo, t]
        hi_h, lo_h = lo, np.maximum(lo - p.history, 0)  # history [lo_h, lo)
        young = founded[:, None] > lo_h[None, :]  # the history reaches back before the issue existed
        # an issue without a close parent counts its close children with it (the grouping split it): while
        # young always (young_family), later too with old_family
        fam = (young | p.old_family) & orphan[:, None]
        x = np.where(fam, ckids[:, t + 1] - ckids[:, lo], cm[:, t + 1] - cm[:, lo])
        if p.parent_share:
            # before founding the parent's appeals held the child's; since founding the two are apart, and
            # the child's share of the pair says how much of the parent's earlier flow was its own
            split = np.clip(fidx, lo_h[None, :], hi_h[None, :])
            own_post = cm[:, hi_h] - cm[rix, split]
            par_post = cpar[:, hi_h] - cpar[rix, split]
            share = (own_post + 1.0) / (own_post + par_post + 1.0)
            borrowed = cm[:, hi_h] - cm[:, lo_h] + share * (cpar[rix, split] - cpar[:, lo_h])
        else:
            borrowed = cfam[:, hi_h] - cfam[:, lo_h]
        fh = np.broadcast_to((cf[hi_h] - cf[lo_h])[None, :], young.shape)
        if p.long_history is not None and p.long_history > p.history:
            # an old issue's quiet level is known from all its life, not the last weeks only
            lo_l = np.clip(np.maximum(lo[None, :] - p.long_history, fidx), 0, lo_h[None, :])
            s_old = np.where(fam, ckids[:, hi_h] - ckids[rix, lo_l], cm[:, hi_h] - cm[rix, lo_l])
            fh = np.where(young, fh, cf[hi_h][None, :] - cf[lo_l])
        else:
            s_old = np.where(fam, ckids[:, hi_h] - ckids[:, lo_h], cm[:, hi_h] - cm[:, lo_h])
        s = np.where(young, np.where(fam, ckids[:, hi_h] - ckids[:, lo_h], borrowed), s_old)
        own = x  # the issue's own voices (with its close children when it heads a family): the evidence
        if p.parent_pair:
            fresh = has_parent[:, None] & (founded[:, None] >= hi_h[None, :])  # no history of its own yet
            x = np.where(fresh, x + (cpar[:, t + 1] - cpar[:, lo]), x)
            s = np.where(fresh, cfam[:, hi_h] - cfam[:, lo_h], s)
        fw = (cf[t + 1] - cf[lo])[None, :]
        fw2 = (cf2[t + 1] - cf2[lo])[None, :]
        a = p.prior_appeals + s
        b = p.prior_days + fh
        expected = a * fw / b
        # negative binomial of the window's count: variance μ + μ²/a (the level's uncertainty) + φ·μ²·Σf²/(Σf)²
        # (the days' own spread), matched by its size r
        r = np.broadcast_to(1.0 / (1.0 / a + phi * (fw2 / np.maximum(fw * fw, 1e-12))), x.shape)
        ratio = x / np.maximum(expected, 1e-9)
        ok = (own >= p.min_count) & (ratio >= p.min_ratio)
        pv = np.ones_like(ratio)  # the tail only where the evidence rules pass (a few % of issue-days)
        pv[ok] = stats.nbinom.sf(x[ok] - 1, r[ok], r[ok] / (r[ok] + expected[ok]))
        better = pv < best_p
        best_p = np.where(better, pv, best_p)
        for k, v in (("window", np.full_like(pv, w)), ("count", x), ("expected", expected), ("ratio", ratio),
                     ("level", a / b)):
            best[k] = np.where(better, v, best[k])
    hit_r, hit_c = np.nonzero(best_p < p.alpha)
    out = pd.DataFrame({key: rows.to_numpy()[hit_r], "day": days[t[hit_c]],
                        "window": best["window"][hit_r, hit_c].astype(int),
                        "count": best["count"][hit_r, hit_c].astype(int),
                        "expected": np.round(best["expected"][hit_r, hit_c], 3),
                        "p_value": best_p[hit_r, hit_c], "ratio": np.round(best["ratio"][hit_r, hit_c], 2),
                        "level": np.round(best["level"][hit_r, hit_c], 4)})
    out.attrs["dispersion"] = phi
    return out.sort_values([key, "day"], ignore_index=True)


def burst_episodes(flags: pd.DataFrame, key: str = "issue_id", gap: int = 3) -> pd.DataFrame:
    """Flagged days joined into episodes (flags of one key no more than ``gap`` days apart):
    ``key, onset, last_day, days_flagged, peak_count, min_p_value`` — what an analyst is alerted to once."""
    if flags.empty:
        return pd.DataFrame(columns=[key, "onset", "last_day", "days_flagged", "peak_count", "min_p_value"])
    f = flags.sort_values([key, "day"])
    new = (f[key] != f[key].shift()) | ((f["day"] - f["day"].shift()).dt.days > gap)
    f = f.assign(_ep=new.cumsum())
    return (f.groupby("_ep").agg(**{key: (key, "first"), "onset": ("day", "min"), "last_day": ("day", "max"),
                                    "days_flagged": ("day", "size"), "peak_count": ("count", "max"),
                                    "min_p_value": ("p_value", "min")})
            .reset_index(drop=True))


def heat_table(daily: pd.DataFrame, as_of, key: str | list[str] = "issue_id", recent: int = 7,
               before: int = 28) -> pd.DataFrame:
    """Per key: ``appeals`` (all time up to ``as_of``), ``appeals_recent`` (the last ``recent`` days),
    ``appeals_before`` (the ``before`` days preceding), ``growth`` (recent daily rate over the earlier one,
    smoothed by one appeal per ``before`` days) and ``support``; distinct enterprises need the appeal rows
    (:func:`heat_from_appeals`).  The columns stay apart: a big,
    old, quiet issue and a small, fast-growing one are both visible as what they are."""
    keys = [key] if isinstance(key, str) else list(key)
    end = pd.Timestamp(as_of).normalize()
    d = daily[daily["day"] <= end]
    rec = d[d["day"] > end - pd.Timedelta(days=recent)]
    prev = d[(d["day"] <= end - pd.Timedelta(days=recent)) & (d["day"] > end - pd.Timedelta(days=recent + before))]
    out = d.groupby(keys, observed=True).agg(appeals=("appeals", "sum"), support=("support", "sum"),
                                             first_day=("day", "min"), last_day=("day", "max"))
    out["appeals_recent"] = rec.groupby(keys, observed=True)["appeals"].sum().reindex(out.index, fill_value=0)
    out["appeals_before"] = prev.groupby(keys, observed=True)["appeals"].sum().reindex(out.index, fill_value=0)
    out["growth"] = ((out["appeals_recent"] / recent + 1.0 / before)
                     / (out["appeals_before"] / before + 1.0 / before)).round(2)
    return out.reset_index()


def heat_from_appeals(appeals: pd.DataFrame, as_of, key: str | list[str] = "issue_id", recent: int = 7,
                      before: int = 28) -> pd.DataFrame:
    """:func:`heat_table` with exact distinct enterprises (all time and recent) from the appeal rows
    (``received_at``, ``uscc``, the key columns, optional ``support``)."""
    keys = [key] if isinstance(key, str) else list(key)
    a = appeals.dropna(subset=keys)
    a = a[pd.to_datetime(a["received_at"]) < pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)]
    heat = heat_table(issue_daily(a, keys), as_of, keys, recent, before)
    u = a["uscc"] if "uscc" in a.columns else pd.Series(pd.NA, index=a.index)
    recent_mask = pd.to_datetime(a["received_at"]) >= pd.Timestamp(as_of).normalize() - pd.Timedelta(days=recent - 1)
    ent = a.assign(_u=u).groupby(keys, observed=True)["_u"].nunique().rename("enterprises")
    ent_r = a[recent_mask].assign(_u=u[recent_mask]).groupby(keys, observed=True)["_u"].nunique()
    heat = heat.merge(ent.reset_index(), on=keys, how="left")
    heat["enterprises_recent"] = ent_r.reindex(pd.MultiIndex.from_frame(heat[keys]) if len(keys) > 1
                                               else heat[keys[0]]).fillna(0).astype(int).to_numpy()
    return heat


__all__ = ["BurstParams", "burst_episodes", "day_factors", "day_kinds", "detect_bursts", "emerging_for_day",
           "estimate_dispersion",
           "heat_from_appeals",
           "heat_table", "issue_daily"]


def emerging_for_day(clean: pd.DataFrame, day, state: str | None = None, new_days: float = 1.0,
                     params: BurstParams | None = None) -> dict:
    """The daily job's emerging issues: group the appeals received before ``day`` (attaching to the issue
    state folder ``state`` and saving it, when given), then test the last ``new_days`` days for bursts.

    Returns ``{"issues": n grouped issues, "emerging": [{issue_id, label, day, count, expected, p_value,
    enterprises}]}``; an issue with fewer than 3 distinct enterprises is labelled by key terms only."""
    from quanhuiqi.appeals.issues import IssueState, group_appeals, issue_table

    end = pd.Timestamp(day)
    c = clean[clean["received_at"] < end]
    st = IssueState.open(state)
    g, st = group_appeals(c, st)
    if state is not None:
        st.save(state)
    g = g.assign(uscc=c["uscc"].to_numpy() if "uscc" in c.columns else pd.NA)
    daily = issue_daily(g)
    last = int(np.ceil(float(new_days)))
    flags = detect_bursts(daily[daily["day"] < end.normalize() + pd.Timedelta(days=1)], params, last=last,
                          issues=st.issues)
    if flags.empty:
        return {"issues": int(g["issue_id"].nunique()), "emerging": []}
    best = flags.sort_values("p_value").drop_duplicates("issue_id")
    ent = g[g["issue_id"].isin(best["issue_id"])].groupby("issue_id")["uscc"].nunique()
    lab = issue_table(st, best["issue_id"]).set_index("issue_id")
    rows = []
    for r in best.itertuples():
        n_ent = int(ent.get(r.issue_id, 0))
        label = lab.at[r.issue_id, "label"] if n_ent >= 3 else lab.at[r.issue_id, "key_terms"]
        rows.append({"issue_id": r.issue_id, "label": str(label), "day": str(r.day.date()), "count": int(r.count),
                     "expected": float(r.expected), "p_value": float(f"{r.p_value:.3g}"), "enterprises": n_ent})
    return {"issues": int(g["issue_id"].nunique()), "emerging": rows}
