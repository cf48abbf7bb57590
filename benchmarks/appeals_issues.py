"""Benchmark: issue mining on synthetic cities with planted issues and planted bursts (issue 18).

    .venv/bin/python benchmarks/appeals_issues.py [--seeds 1 2 3] [--n 6000] [--days 120] [--issues 16]

For each seed: the data_samples enterprises write ``n`` background appeals over ``days`` days, plus ``issues``
planted issues (``synth/appeals_issues.py``: steady, emerging or flaring, in their own words, from their own
segment).  Measured:

* grouping — B-cubed precision / recall / F1 over the appeals of planted issues (a cluster counts all its
  members, so background appeals pulled into a planted issue's cluster lower its precision);
* stable ids — a one-shot run and a day-by-day run (state saved to and read from a folder between days)
  give the same issue id for every appeal;
* bursts — the count model of ``quanhuiqi.appeals.trends`` against Kleinberg's two-state automaton run online
  on the same voices (a few (s, gamma) settings); a planted burst is found when the issue holding most of its appeals is flagged on a day within
  3 days of the onset; every flag on an issue with no planted burst, or outside [onset − 3, onset + burst
  length + 3] of a planted one, is a false alarm, counted per 100 issues (with ≥ 3 appeals) per 30 days.
  Also: the trade-off over ``alpha``, an ablation (the previous model: Poisson days, no parent topics,
  alpha 1e-4; each change alone) and a bound — the planted bursts that reach 3 distinct enterprises in some
  1-3 day window ending by onset + 3 (with true membership: perfect grouping), the most any detector that
  asks 3 voices of evidence can find.

The detector's settings were chosen on seeds 1-3 and 101-110 (the design seeds); seeds 4-21 and 201-215 were
held out until they had been measured (now seen); seeds 301-320 are the fresh check of v8.

Writes ``benchmarks/results/appeals_issues.json`` (with the machine load and CPU seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
KLEINBERG = [(3.0, 1.0), (4.0, 1.0), (4.0, 2.0), (6.0, 2.0)]  # (burst-rate multiplier s, transition cost gamma)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def city(seed: int, n: int, days: int, issues: int, as_of: str):
    from quanhuiqi.appeals import validate_appeals
    from quanhuiqi.synth.appeals import generate_appeals
    from quanhuiqi.tables import read_table

    raw, truth = generate_appeals(read_table(HERE.parent / "data_samples" / "enterprises.csv"), seed=seed,
                                  as_of=as_of, days=days, n=n, issues=issues)
    planted = pd.DataFrame(truth.attrs["planted_issues"])
    return validate_appeals(raw).clean, truth, planted


def incremental(clean: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """Day by day, the state saved to and read back from ``folder`` between days (as the daily job does)."""
    from quanhuiqi.appeals.issues import IssueState, group_appeals

    day = clean["received_at"].dt.strftime("%Y-%m-%d")
    outs = []
    for d in sorted(day.unique()):
        st = IssueState.open(folder)
        g, st = group_appeals(clean[day == d], st)
        st.save(folder)
        outs.append(g)
    return pd.concat(outs, ignore_index=True)


V7 = {"parent_pair": False, "workday_weekend_borrow": 0.0}  # issue-18 v7
V6 = {**V7, "windows": (1, 2, 3), "long_history": None, "old_family": False, "parent_share": False}  # issue-18 v6
ABLATION = {"previous (Poisson days, no parents, alpha 1e-4; v6 otherwise)": {**V6, "dispersion": 0.0,
                                                                             "parent_similarity": None,
                                                                             "alpha": 1e-4},
            "v6 (windows 1-3, 56-day history, parent's whole flow, young families)": V6,
            "v6 + parent share": {**V6, "parent_share": True},
            "v6 + windows 1-4": {**V6, "windows": (1, 2, 3, 4)},
            "v6 + 112-day history of established issues": {**V6, "long_history": 112},
            "v6 + old families": {**V6, "old_family": True},
            "v7 (all four)": V7,
            "v7 + parent pair": {**V7, "parent_pair": True},
            "v7 + 调休 between weekday and weekend": {**V7, "workday_weekend_borrow": 0.5},
            "v8 (default: v7 + parent pair + 调休 rule)": {}}
ALPHAS = (1e-2, 3e-3, 1e-3, 5e-4, 3e-4, 2e-4, 1e-4, 3e-5)


def oracle_p_values(grouped, truth, planted, daily) -> list[float]:
    """Per planted burst, the smallest Poisson tail probability an *oracle* sees: perfect grouping (the true
    members), the issue's true pre-onset rate (its voices per average day before the onset), the city's day
    factors, windows of 1-3 days ending on onset … onset + 3 with at least 3 voices.  No count detector on
    these windows can flag a burst whose oracle probability is above its alpha: the bound on recall."""
    from scipy import stats

    from quanhuiqi.appeals.trends import day_factors

    days = pd.date_range(daily["day"].min(), daily["day"].max(), freq="D")
    f = day_factors(daily.groupby("day")["appeals"].sum().reindex(days, fill_value=0))
    t = truth.set_index("appeal_id")["issue_true"].reindex(grouped["appeal_id"]).to_numpy()
    g = grouped.assign(issue_true=t, day=pd.to_datetime(grouped["received_at"]).dt.normalize())
    out = []
    for b in planted[planted["onset"].notna()].itertuples():
        onset = pd.Timestamp(b.onset)
        v = g[g["issue_true"] == b.issue_true].groupby("day")["uscc"].nunique().reindex(days, fill_value=0)
        before = days[days < onset]
        rate = v[before].sum() / max(float(f[before].sum()), 1e-9)
        best = 1.0
        for e in pd.date_range(onset, onset + pd.Timedelta(days=3)):
            for w in (1, 2, 3):
                win = pd.date_range(e - pd.Timedelta(days=w - 1), e)
                x = int(v.reindex(win, fill_value=0).sum())
                mu = rate * float(f.reindex(win, fill_value=1.0).sum())
                if x >= 3:
                    best = min(best, float(stats.poisson.sf(x - 1, mu)) if mu > 0 else 0.0)
        out.append(best)
    return out


FA_BUDGET_PER_DAY = 1.0 / 3000  # the bar: ≤ 1 false alarm per 100 issues per 30 days


def budget_oracle_p_values(grouped, truth, planted, windows=(1, 2, 3, 4), rhythm: str = "true") -> list[dict]:
    """Per planted burst, the smallest Poisson tail probability a *budget oracle* sees — one that knows more than
    any detector can: the true members (perfect grouping), the issue's true rhythm (the generator's day factors,
    ``synth.appeals.day_rhythm``; before the generator's background shared it, the city's totals did not show
    it) and its pre-onset level estimated from all its pre-onset days under that rhythm.
    It tests windows of ``windows`` days ending on onset … onset + 3.  A per-day flag probability under the
    null at most ``FA_BUDGET_PER_DAY`` keeps its false alarms within the bar (≤ 1 per 100 issue-months); a test
    per window at alpha = that budget is the most any such test can spend (all windows of a day perfectly
    correlated), at budget / windows it is certainly within it (Bonferroni) — the recall at the first alpha
    bounds every detector that sees one issue's counts in such windows.  ``p_any``: no minimum count; ``p3``:
    at least 3 voices, as the detector asks.  ``rhythm="city"``: the day factors estimated from the city's
    totals instead (what a detector can know)."""
    from scipy import stats

    from quanhuiqi.synth.appeals import day_rhythm

    g = grouped.assign(issue_true=truth.set_index("appeal_id")["issue_true"].reindex(grouped["appeal_id"]).to_numpy(),
                       day=pd.to_datetime(grouped["received_at"]).dt.normalize())
    days = pd.date_range(g["day"].min(), g["day"].max(), freq="D")
    if rhythm == "city":
        from quanhuiqi.appeals.trends import day_factors

        f = day_factors(g.groupby("day").size().reindex(days, fill_value=0))
    else:
        f = pd.Series(day_rhythm(days), index=days)
    out = []
    for b in planted[planted["onset"].notna()].itertuples():
        onset = pd.Timestamp(b.onset)
        v = g[g["issue_true"] == b.issue_true].groupby("day")["uscc"].nunique().reindex(days, fill_value=0)
        before = days[days < onset]
        rate = v[before].sum() / max(float(f[before].sum()), 1e-9)
        p_any, p3 = 1.0, 1.0
        for e in pd.date_range(onset, onset + pd.Timedelta(days=3)):
            for w in windows:
                win = pd.date_range(e - pd.Timedelta(days=w - 1), e)
                x = int(v.reindex(win, fill_value=0).sum())
                mu = rate * float(f.reindex(win, fill_value=1.0).sum())
                pv = (float(stats.poisson.sf(x - 1, mu)) if mu > 0 else 0.0) if x >= 1 else 1.0
                p_any = min(p_any, pv)
                if x >= 3:
                    p3 = min(p3, pv)
        out.append({"issue_true": b.issue_true, "shape": b.shape, "p_any": p_any, "p3": p3})
    return out


def burst_benchmark(flags, grouped, truth, planted, daily, params) -> dict:
    """Planted bursts found within 3 days of onset; false-alarm episodes per 100 tested issues per 30 days."""
    from quanhuiqi.appeals.trends import burst_episodes

    eps = burst_episodes(flags)
    t = truth.set_index("appeal_id").reindex(grouped["appeal_id"])
    g = grouped.assign(issue_true=t["issue_true"].to_numpy(), day=pd.to_datetime(grouped["received_at"]).dt.normalize())
    bursts = planted[planted["onset"].notna()]
    found, details, explained = 0, [], np.zeros(len(eps), dtype=bool)
    for b in bursts.itertuples():
        onset = pd.Timestamp(b.onset)
        inside = g[(g["issue_true"] == b.issue_true) & (g["day"] >= onset) & (g["day"] <= onset + pd.Timedelta(days=10))]
        share = inside["issue_id"].value_counts(normalize=True)
        holders = set(share.index[share >= 0.2])
        mine = eps["issue_id"].isin(holders).to_numpy()
        ok_window = ((eps["onset"] >= onset - pd.Timedelta(days=3)) & (eps["onset"] <= onset + pd.Timedelta(days=13))).to_numpy()
        explained |= mine & ok_window
        hit = eps[mine & (eps["onset"] >= onset - pd.Timedelta(days=1)) & (eps["onset"] <= onset + pd.Timedelta(days=3))]
        delay = int((hit["onset"].min() - onset).days) if len(hit) else None
        found += bool(len(hit))
        mine = g[g["issue_true"] == b.issue_true]  # true membership, whatever the grouping made of it
        evidence = max(mine[(mine["day"] > e - pd.Timedelta(days=3)) & (mine["day"] <= e)]["uscc"].nunique()
                       for e in pd.date_range(onset, onset + pd.Timedelta(days=3)))
        details.append({"issue_true": b.issue_true, "shape": b.shape, "onset": b.onset, "detected_after_days": delay,
                        "appeals_in_10_days": len(inside), "max_enterprises_3_days": int(evidence)})
    days = daily["day"].nunique() if len(daily) else 0
    tested = int((daily.groupby("issue_id")["appeals"].sum() >= params.min_issue_appeals).sum())
    issue_months = tested * max(days - params.warmup, 0) / 30.0
    false = eps[~explained]
    return {"planted_bursts": len(bursts), "found_within_3_days": found, "episodes": len(eps),
            "with_evidence": sum(d["max_enterprises_3_days"] >= 3 for d in details),
            "false_alarms": len(false), "tested_issues": tested, "issue_months": round(issue_months, 1),
            "false_alarm_examples": false.head(5).astype(str).to_dict("records"), "details": details}


def kleinberg_flags(daily: pd.DataFrame, s: float, gamma: float, warmup: int = 14, min_count: int = 3,
                    key: str = "issue_id", count: str = "voices") -> pd.DataFrame:
    """Kleinberg's two-state burst automaton (batched form: an issue's share of the day's voices, binomial
    costs, base rate = its share so far, burst rate × ``s``, cost ``gamma`` · ln t to go up), run *online*:
    on each day t the Viterbi path over days ≤ t is computed and the day is flagged when it ends in the burst
    state (and the last 3 days hold ≥ ``min_count`` voices) — the same information the count model has."""
    from scipy.special import gammaln

    from quanhuiqi.appeals.trends import _matrix

    days = pd.date_range(daily["day"].min(), daily["day"].max(), freq="D")
    rows, m = _matrix(daily, key, days, 3, count)
    tot = daily.groupby("day")[count].sum().reindex(days, fill_value=0).to_numpy(float)
    cm, ct = np.cumsum(m, axis=1), np.cumsum(tot)
    out = []
    for t in range(warmup, len(days)):
        p0 = np.clip((cm[:, t] + 0.5) / (ct[t] + 1.0), 1e-6, 0.5)
        p1 = np.minimum(s * p0, 0.9999)
        d, r = tot[: t + 1], m[:, : t + 1]
        lb = gammaln(d + 1) - gammaln(r + 1) - gammaln(np.maximum(d - r, 0) + 1)
        c0 = -(lb + r * np.log(p0)[:, None] + (d - r) * np.log1p(-p0)[:, None])
        c1 = -(lb + r * np.log(p1)[:, None] + (d - r) * np.log1p(-p1)[:, None])
        up = gamma * np.log(t + 1)
        f0, f1 = c0[:, 0], c1[:, 0] + up
        for k in range(1, t + 1):
            f0, f1 = np.minimum(f0, f1) + c0[:, k], np.minimum(f0 + up, f1) + c1[:, k]
        win = m[:, max(t - 2, 0): t + 1].sum(axis=1)
        for i in np.flatnonzero((f1 < f0) & (win >= min_count)):
            out.append({key: rows[i], "day": days[t], "count": int(win[i]), "p_value": 0.0})
    return pd.DataFrame(out, columns=[key, "day", "count", "p_value"])


def _pooled(runs: list[dict], name: str, labels: tuple[str, ...]) -> list[dict]:
    """One row per setting of ``run[name]``: its labels, recall and false alarms pooled over the seeds."""
    out = []
    for i, first in enumerate(runs[0][name]):
        rows = [r[name][i] for r in runs]
        out.append({**{k: first[k] for k in labels},
                    "recall": round(sum(x["found"] for x in rows) / max(sum(x["planted"] for x in rows), 1), 4),
                    "false_alarms_per_100_issue_months": round(100 * sum(x["false_alarms"] for x in rows)
                                                               / max(sum(x["issue_months"] for x in rows), 1e-9), 3)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--issues", type=int, default=16)
    ap.add_argument("--as-of", default="2025-07-01")
    ap.add_argument("--no-incremental", action="store_true", help="skip the day-by-day stability run")
    ap.add_argument("--out", default=str(HERE / "results" / "appeals_issues.json"))
    ap.add_argument("--cache", help="folder keeping each seed's city and one-shot grouping (pickles; re-runs of the "
                                    "burst part read them)")
    args = ap.parse_args()
    from quanhuiqi.appeals.issues import bcubed, group_appeals
    from quanhuiqi.appeals.trends import BurstParams, detect_bursts, issue_daily

    runs = []
    for seed in args.seeds:
        cached = Path(args.cache) / f"city3_{seed}_{args.n}_{args.days}_{args.issues}.pkl" if args.cache else None
        if cached is not None and cached.exists():
            clean, truth, planted, g, issues, group_s, group_cpu = pd.read_pickle(cached)
        else:
            clean, truth, planted = city(seed, args.n, args.days, args.issues, args.as_of)
            t0, c0 = time.perf_counter(), _cpu()
            g, st = group_appeals(clean)
            group_s, group_cpu = time.perf_counter() - t0, _cpu() - c0
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                truth.attrs.clear()
                pd.to_pickle((clean, truth, planted, g, st.issues, group_s, group_cpu), cached)
            issues = st.issues
        t = truth.set_index("appeal_id").reindex(g["appeal_id"])
        among = t["issue_true"].notna().to_numpy()
        true_cls = t["issue_true"].astype("string").fillna("bg:" + g["appeal_id"].astype(str)).reset_index(drop=True)
        q = bcubed(true_cls, g["issue_id"].reset_index(drop=True), among)
        run = {"seed": seed, "appeals": len(clean), "planted_appeals": int(among.sum()),
               "issues_found": int(g["issue_id"].nunique()), "group_seconds": round(group_s, 1),
               "group_cpu_seconds": round(group_cpu, 1), "bcubed": {k: round(v, 4) for k, v in q.items()}}
        if not args.no_incremental:
            folder = Path(tempfile.mkdtemp(prefix="issues_state_"))
            try:
                t0 = time.perf_counter()
                inc = incremental(clean, folder)
                run["incremental_seconds"] = round(time.perf_counter() - t0, 1)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            same = g.set_index("appeal_id")["issue_id"].reindex(inc["appeal_id"]).to_numpy() == inc["issue_id"].to_numpy()
            run["stable_ids_same_share"] = float(np.mean(same))
        t0 = time.perf_counter()
        g = g.assign(uscc=clean.set_index("appeal_id")["uscc"].reindex(g["appeal_id"]).to_numpy())
        daily = issue_daily(g)
        flags = detect_bursts(daily, issues=issues)
        run["burst_seconds"] = round(time.perf_counter() - t0, 1)
        run["dispersion_estimated"] = round(float(flags.attrs.get("dispersion", float("nan"))), 4)
        run["bursts"] = burst_benchmark(flags, g, truth, planted, daily, BurstParams())
        run["burst_tradeoff"] = []  # the alarm threshold against recall and false alarms (same cities)
        for alpha in ALPHAS:
            bp = BurstParams(alpha=alpha)
            r = burst_benchmark(detect_bursts(daily, bp, issues=issues), g, truth, planted, daily, bp)
            run["burst_tradeoff"].append({"alpha": alpha, "found": r["found_within_3_days"],
                                          "planted": r["planted_bursts"], "false_alarms": r["false_alarms"],
                                          "issue_months": r["issue_months"]})
        run["oracle_p_values"] = oracle_p_values(g, truth, planted, daily)
        run["budget_oracle"] = {f"windows_1_{k}{'' if rh == 'true' else ', city rhythm'}":
                                budget_oracle_p_values(g, truth, planted, tuple(range(1, k + 1)), rh)
                                for k in (3, 4) for rh in ("true", "city")}
        run["ablation"] = []
        for name, kw in ABLATION.items():
            bp = BurstParams(**kw)
            r = burst_benchmark(detect_bursts(daily, bp, issues=issues), g, truth, planted, daily, bp)
            run["ablation"].append({"model": name, "found": r["found_within_3_days"], "planted": r["planted_bursts"],
                                    "false_alarms": r["false_alarms"], "issue_months": r["issue_months"]})
        run["kleinberg"] = []  # the alternative, on the same cities and the same voices
        for s_, gam in KLEINBERG:
            r = burst_benchmark(kleinberg_flags(daily, s_, gam), g, truth, planted, daily, BurstParams())
            run["kleinberg"].append({"s": s_, "gamma": gam, "found": r["found_within_3_days"],
                                     "planted": r["planted_bursts"], "false_alarms": r["false_alarms"],
                                     "issue_months": r["issue_months"]})
        runs.append(run)
        print(json.dumps(run, ensure_ascii=False, default=str), flush=True)
    found = sum(r["bursts"]["found_within_3_days"] for r in runs)
    total = sum(r["bursts"]["planted_bursts"] for r in runs)
    fa = sum(r["bursts"]["false_alarms"] for r in runs)
    issue_months = sum(r["bursts"]["issue_months"] for r in runs)
    result = {
        "command": f"benchmarks/appeals_issues.py --seeds {' '.join(map(str, args.seeds))} --n {args.n} "
                   f"--days {args.days} --issues {args.issues}",
        "bcubed_f1_mean": round(float(np.mean([r["bcubed"]["f1"] for r in runs])), 4),
        "bcubed_f1_min": round(float(np.min([r["bcubed"]["f1"] for r in runs])), 4),
        "stable_ids": (None if args.no_incremental  # not measured in this run
                       else all(r["stable_ids_same_share"] == 1.0 for r in runs)),
        "bursts_found_within_3_days": f"{found}/{total}",
        "burst_recall": round(found / total, 4) if total else None,
        "false_alarms_per_100_issues_per_month": round(100 * fa / issue_months, 3) if issue_months else None,
        "bursts_with_evidence": f"{sum(r['bursts']['with_evidence'] for r in runs)}/{total}",
        "oracle_recall_at_alpha": {str(a): round(sum(p < a for r in runs for p in r["oracle_p_values"]) / max(total, 1), 4)
                                   for a in ALPHAS},
        "budget_oracle_recall": {
            f"{ws}, {rule}, alpha {name}": round(sum(x[rule] < a for r in runs for x in r["budget_oracle"][ws])
                                                 / max(total, 1), 4)
            for ws in runs[0]["budget_oracle"] for rule in ("p3", "p_any")
            for name, a in (("budget", FA_BUDGET_PER_DAY), ("budget/windows", FA_BUDGET_PER_DAY / int(ws[10])))},
        "ablation": _pooled(runs, "ablation", ("model",)),
        "burst_tradeoff": _pooled(runs, "burst_tradeoff", ("alpha",)),
        "kleinberg": _pooled(runs, "kleinberg", ("s", "gamma")),
        "runs": runs, "load": os.getloadavg(), "cpu_seconds": round(_cpu(), 1),
    }
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1,
                                                                     default=str), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
