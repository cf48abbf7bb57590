"""``quanhuiqi eligibility`` end to end on messy registry data against its DuckDB peer, back to back.

    .venv/bin/python benchmarks/eligibility_end_to_end.py --n 100000 --policies 500 [--repeat 3]
    .venv/bin/python benchmarks/eligibility_end_to_end.py --n 1000000 --policies 2000 --repeat 1
    ... --work DIR --reuse-inputs --name RESULT.json   (inputs made once in DIR, taken again; result file named)

The input is what a new user hands the command: the synthetic city's *raw* enterprise table (mixed code
spellings and full-width codes, registry status texts, industries missing or only named, bad check
characters, duplicated registrations, negative money, future dates, 是/否 booleans; ``quanhuiqi.synth``),
100,000 rows generated and tiled to ``--n`` (each copy with its own valid USCCs — invalid and duplicated ones
stay so — and its numbers jittered), written once as Parquet, and a generated book of ``--policies``.

Both sides run as whole processes from the same Parquet file and book, timed from process start to exit:

- ours: ``quanhuiqi eligibility --enterprises X --policies DIR --as-of D --out pairs.parquet`` — read,
  validate (rejects written), profile, evaluate, write the pairs *with* ``unknown`` and ``evidence``;
- the peer: ``benchmarks/eligibility_duckdb_peer.py`` — DuckDB (2 threads) with lookup tables per distinct
  raw value and the profile and every policy in three-valued SQL, writing ``uscc, policy_id, verdict``.

The pairs are compared: the same (uscc, policy_id) set with the same verdicts, counts equal.  The target
(issue 15): peer time / our time ≥ 3 at 100k × 500 and 1M × 2,000.  The machine is shared: each round runs
the two back to back, alternating which goes first, and the load average is recorded; the ratio reported is
the median round's (each process's CPU time is recorded too).  Results: ``benchmarks/results/
eligibility_end_to_end_<n>_<policies>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2025-07-01"
BASE_ROWS = 100_000


def messy_enterprises(n: int, seed: int) -> pd.DataFrame:
    """The synthetic city's raw table, ``BASE_ROWS`` generated, tiled to ``n`` rows."""
    from quanhuiqi.synth.enterprises import generate_enterprises
    from quanhuiqi.tables.uscc import make_uscc, org_check_char, uscc_reason

    base = generate_enterprises(min(n, BASE_ROWS), seed=seed, as_of=AS_OF)
    reps = -(-n // len(base))
    if reps == 1:
        return base.iloc[:n].reset_index(drop=True)
    codes, uniques = pd.factorize(base["uscc"].astype("string"), use_na_sentinel=True)
    invalid = uscc_reason(pd.Series(uniques, dtype="string")).notna().to_numpy()
    rng = np.random.default_rng(seed)
    numbers = [c for c in base.columns if base[c].dtype == "float64"]
    copies = [base]
    for k in range(1, reps):
        bodies = [f"{k:02d}{j:06d}" for j in range(len(uniques))]
        fresh = make_uscc(pd.Series(["91370100" + b + org_check_char(b) for b in bodies], dtype="string"))
        fresh = fresh.where(~invalid, fresh.str[:-1] + np.where(fresh.str[-1] == "0", "1", "0"))
        c = base.copy()
        c["uscc"] = pd.Series(np.append(fresh.to_numpy(dtype=object), None)[codes], dtype="string")
        for col in numbers:
            c[col] = (c[col] * rng.uniform(0.7, 1.4, len(c))).round(2)
        copies.append(c)
    return pd.concat(copies, ignore_index=True).iloc[:n].reset_index(drop=True)


def make_inputs(work: Path, n: int, n_policies: int, seed: int, reuse: bool = False) -> tuple[Path, Path]:
    """The enterprise Parquet and the book in ``work`` (``reuse``: those already there, made by an earlier run
    with the same ``--n``, ``--policies`` and ``--seed``, are taken as they are)."""
    from quanhuiqi.synth.policies import generate_policies, write_policies

    path = work / f"enterprises_{n}.parquet"
    if reuse and path.exists() and (work / f"policies_{n_policies}").is_dir():
        return path, work / f"policies_{n_policies}"
    messy_enterprises(n, seed).to_parquet(path, index=False)
    book = write_policies(generate_policies(n_policies, seed=seed), work / f"policies_{n_policies}")
    return path, book


def timed(cmd: list[str]) -> dict:
    """Wall and CPU seconds (user + system, and each) of one process, its threads and children included, and its
    stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"wall_s": round(wall, 3), "cpu_s": round(user + system, 3), "user_s": round(user, 3),
            "sys_s": round(system, 3), "stdout": r.stdout.strip()[-2000:], "load_1min": os.getloadavg()[0]}


def ours(ent: Path, book: Path, out: Path) -> dict:
    return timed([sys.executable, "-m", "quanhuiqi.cli", "eligibility", "--enterprises", str(ent), "--policies",
                  str(book), "--as-of", AS_OF, "--out", str(out)])


def peer(ent: Path, book: Path, out: Path, threads: int) -> dict:
    r = timed([sys.executable, str(ROOT / "benchmarks" / "eligibility_duckdb_peer.py"), str(ent), str(book), AS_OF,
               str(out), str(threads)])
    r["inside"] = json.loads(r["stdout"].splitlines()[-1])
    return r


def compare_out_of_core(a: Path, b: Path, work: Path) -> dict:
    """:func:`compare` by DuckDB's out-of-core join, for a city whose pairs do not fit a pandas merge (1M × 2,000:
    ~140 M pairs a side)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = 2; SET memory_limit = '6GB'; SET temp_directory = '{work / 'duckdb_tmp'}'; "
                "SET preserve_insertion_order = false; SET enable_progress_bar = false")
    x = f"SELECT uscc::VARCHAR uscc, policy_id::VARCHAR policy_id, verdict::VARCHAR verdict FROM read_parquet('{a}')"
    y = x.replace(str(a), str(b))
    row = con.execute(f"""
        WITH x AS ({x}), y AS ({y})
        SELECT count(x.uscc), count(y.uscc), count(*) FILTER (WHERE y.uscc IS NULL),
               count(*) FILTER (WHERE x.uscc IS NULL),
               count(*) FILTER (WHERE x.uscc IS NOT NULL AND y.uscc IS NOT NULL AND x.verdict <> y.verdict),
               count(*) FILTER (WHERE x.verdict = 'eligible'), count(*) FILTER (WHERE y.verdict = 'eligible')
        FROM x FULL OUTER JOIN y ON x.uscc = y.uscc AND x.policy_id = y.policy_id""").fetchone()
    keys = ["pairs_ours", "pairs_peer", "only_ours", "only_peer", "verdicts_differ", "eligible_ours", "eligible_peer"]
    out = dict(zip(keys, (int(v) for v in row), strict=True))
    out["same_pairs"] = out["only_ours"] == out["only_peer"] == out["verdicts_differ"] == 0
    return out


def compare(a: Path, b: Path) -> dict:
    """Ours (``a``) against the peer (``b``): the same pairs with the same verdicts?"""
    cols = ["uscc", "policy_id", "verdict"]
    x = pd.read_parquet(a, columns=cols).astype("string")
    y = pd.read_parquet(b, columns=cols).astype("string")
    m = x.merge(y, on=["uscc", "policy_id"], how="outer", suffixes=("_ours", "_peer"), indicator=True)
    both = m["_merge"] == "both"
    differ = both & (m["verdict_ours"] != m["verdict_peer"])
    out = {
        "pairs_ours": len(x), "pairs_peer": len(y),
        "only_ours": int((m["_merge"] == "left_only").sum()), "only_peer": int((m["_merge"] == "right_only").sum()),
        "verdicts_differ": int(differ.sum()),
        "eligible_ours": int((x["verdict"] == "eligible").sum()), "eligible_peer": int((y["verdict"] == "eligible").sum()),
    }
    out["same_pairs"] = out["only_ours"] == out["only_peer"] == out["verdicts_differ"] == 0
    if not out["same_pairs"]:
        out["examples"] = m[(m["_merge"] != "both") | differ].head(10).astype(str).to_dict("records")
    return out


def _commit() -> str:
    """The commit measured (and whether the tree had uncommitted changes)."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (" (uncommitted changes)" if git("status", "--porcelain", "src") else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--duckdb-threads", type=int, default=2)
    ap.add_argument("--work", help="folder for the inputs and outputs (default: a temporary one)")
    ap.add_argument("--reuse-inputs", action="store_true",
                    help="take the inputs already in --work (made by an earlier run with the same sizes and seed)")
    ap.add_argument("--name", help="result file name (default: eligibility_end_to_end_<n>_<policies>.json)")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="qhq_e2e_"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    ent, book = make_inputs(work, args.n, args.policies, args.seed, reuse=args.reuse_inputs)
    prepare_s = time.perf_counter() - t
    rounds = []
    for i in range(args.repeat):
        first_ours = i % 2 == 0
        r: dict = {"load_before": os.getloadavg()[0], "first": "ours" if first_ours else "peer"}
        for side in (["ours", "peer"] if first_ours else ["peer", "ours"]):
            out = work / f"pairs_{side}.parquet"
            out.unlink(missing_ok=True)
            r[side] = ours(ent, book, out) if side == "ours" else peer(ent, book, out, args.duckdb_threads)
        r["ratio_wall"] = r["peer"]["wall_s"] / r["ours"]["wall_s"]
        r["ratio_cpu"] = r["peer"]["cpu_s"] / r["ours"]["cpu_s"]
        if i == 0:
            a, b = work / "pairs_ours.parquet", work / "pairs_peer.parquet"
            big = args.n * args.policies > 100_000_000
            r["compare"] = compare_out_of_core(a, b, work) if big else compare(a, b)
            r["compare"]["how"] = "duckdb out-of-core join" if big else "pandas merge"
        rounds.append(r)
        print(json.dumps({k: v for k, v in r.items() if k not in ("ours", "peer")} | {
            "ours_s": r["ours"]["wall_s"], "peer_s": r["peer"]["wall_s"]}, ensure_ascii=False), flush=True)
    med = statistics.median(r["ratio_wall"] for r in rounds)
    result = {
        "enterprises": args.n, "policies": args.policies, "as_of": AS_OF, "input": str(ent.name),
        "input_mb": round(ent.stat().st_size / 1e6, 1), "prepare_inputs_s": round(prepare_s, 1),
        "duckdb_threads": args.duckdb_threads, "cpus": os.cpu_count(),
        "ratio_wall_median": round(med, 2), "ratio_wall_per_round": [round(r["ratio_wall"], 2) for r in rounds],
        "ratio_cpu_per_round": [round(r["ratio_cpu"], 2) for r in rounds],
        "target_ratio": 3.0, "met": med >= 3.0 and rounds[0]["compare"]["same_pairs"],
        "compare": rounds[0]["compare"], "rounds": rounds,
        "command": f"benchmarks/eligibility_end_to_end.py --n {args.n} --policies {args.policies} --repeat {args.repeat}",
        "code": _commit(),
    }
    path = ROOT / "benchmarks" / "results" / (args.name or f"eligibility_end_to_end_{args.n}_{args.policies}.json")
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
