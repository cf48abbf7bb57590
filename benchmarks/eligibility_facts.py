"""Eligibility with dated records and yearly figures at city scale: 1,000,000 enterprises × 2,000 policies where
a third of the atoms test records (certificates, milestones, penalties) or yearly series (issue 13's bar:
evaluation < 2 s, peak < 6 GB; one enterprise online < 1 ms p99).

    .venv/bin/python benchmarks/eligibility_facts.py [--n 1000000] [--policies 2000] [--repeat 3]

The city: the synthetic generator's enterprises and fact tables for 20,000 firms, tiled to ``--n`` (every copy
its own uscc, its records copied with it: about 3.4 M yearly rows, 0.5 M certificates at 1 M firms).  The book:
the generator's 2,000 variant policies, each given record and yearly atoms (thresholds, windows, levels drawn per
policy) until they are a third of all atoms.  Timed: the derived columns (``FactIndex`` + ``derive_columns``),
encoding and evaluation (the bitmap engine), each the best of ``--repeat``; the peak RSS of the process; then
1,000 online calls (``book.match``) on rows that carry the derived columns as the daily profile does, and 300
calls that hand the enterprise's own records (``facts=``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

AS_OF = dt.date(2025, 7, 1)
BASE = 20_000


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def fact_atom(rng: np.random.Generator) -> dict:
    """One record or yearly atom with its own thresholds and windows."""
    k = int(rng.integers(0, 8))
    if k == 0:
        return {"field": "certificate", "op": "held", "item": str(rng.choice(["high_tech", "tech_sme", "innovative_sme"])),
                **({"level": str(rng.choice(["city", "provincial"]))} if rng.random() < 0.4 else {})}
    if k == 1:
        return {"not": {"field": "certificate", "op": "first_in", "item": "high_tech",
                        "window": {"last_years": int(rng.integers(1, 4))}}}
    if k == 2:
        return {"field": "milestone", "op": "occurred_in", "item": "above_scale_entry",
                "window": {"year": str(rng.choice(["this", "last"]))}}
    if k == 3:
        return {"field": "penalty", "op": "count_le", "value": int(rng.integers(0, 2)),
                "window": {"last_years": int(rng.integers(1, 4))},
                "where": {"amount_ge": float(rng.choice([1, 3, 5, 10]))}}
    if k == 4:
        return {"field": "revenue", "year": "last", "op": "ge", "value": float(rng.choice([100, 300, 500, 1000, 2000]))}
    if k == 5:
        return {"field": "revenue", "measure": "growth", "years": 2, "agg": "each", "op": "ge",
                "value": float(rng.choice([-0.1, 0.0, 0.05, 0.1]))}
    if k == 6:
        return {"field": "rd_expense", "years": 3, "agg": "sum", "op": "ge", "value": float(rng.choice([10, 50, 100]))}
    return {"field": "tax_local", "year": "last", "op": "ge", "value": float(rng.choice([5, 20, 50]))}


def count_atoms(node: dict) -> int:
    for k in ("all", "any"):
        if k in node:
            return sum(count_atoms(c) for c in node[k])
    if "not" in node:
        return count_atoms(node["not"])
    return 1


def make_book(work: Path, n_policies: int, seed: int) -> tuple[Path, float]:
    """The variant book with record/yearly atoms added to every policy until they are a third of the atoms."""
    from quanhuiqi.synth.policies import generate_policies, write_policies

    rng = np.random.default_rng([seed, 99])
    docs = generate_policies(n_policies, seed=seed)
    plain = derived = 0
    for d in docs:
        n0 = count_atoms(d["eligibility"])
        want = max(1, round(n0 / 2))  # n0 plain + n0/2 derived → a third derived
        extra = [fact_atom(rng) for _ in range(want)]
        tree = d["eligibility"]
        d["eligibility"] = {"all": (tree["all"] if "all" in tree else [tree]) + extra}
        d.pop("tests", None)  # the variants' tests do not know the fact tables
        plain += n0
        derived += sum(count_atoms(a) for a in extra)
    out = write_policies(docs, work / "policies")
    return out, derived / (plain + derived)


def make_city(work: Path, n: int, seed: int) -> tuple[Path, dict[str, Path]]:
    from quanhuiqi.profile import profile
    from quanhuiqi.synth.enterprises import simulate_enterprises
    from quanhuiqi.synth.facts import fact_tables
    from quanhuiqi.tables import validate_enterprises
    from quanhuiqi.tables.facts import validate_fact_table

    raw, true = simulate_enterprises(BASE, seed, pd.Timestamp(AS_OF))
    clean = validate_enterprises(raw, AS_OF).clean
    prof = profile(clean, AS_OF)
    _, seen = fact_tables(true, seed, pd.Timestamp(AS_OF))
    reps = -(-n // len(prof))
    copy = np.repeat(np.arange(reps), len(prof))[:n]
    big = pd.concat([prof] * reps, ignore_index=True).iloc[:n].copy()
    big["row"] = np.arange(1, n + 1, dtype=np.int64)  # each copy its own input row (the key facts join on)
    base_pos = pd.Series(np.arange(len(prof)), index=prof["row"].to_numpy())
    base_uscc = big["uscc"].astype("string")
    big["uscc"] = (base_uscc.str.slice(0, 10) + pd.Series(copy, dtype="int64").astype("string").str.zfill(3)
                   + base_uscc.str.slice(13, 18))
    drop = ["name_norm", "industry_name", "industry_label", "industry_section_name", "status_text", "tags"]
    path = work / "profile.parquet"
    big[[c for c in big.columns if c not in drop]].to_parquet(path, index=False)
    tables = {}
    for name, t in seen.items():
        v = validate_fact_table(name, t.astype("string"), AS_OF, clean[["uscc", "row"]], name).clean.drop(columns="row")
        p = base_pos.loc[v["enterprise_row"].to_numpy()].to_numpy()
        reps_t = []
        for k in range(reps):
            c = v.copy()
            c["uscc"] = c["uscc"].str.slice(0, 10) + str(k).zfill(3) + c["uscc"].str.slice(13, 18)
            c["enterprise_row"] = k * len(prof) + p + 1
            reps_t.append(c)
        t_all = pd.concat(reps_t, ignore_index=True)
        t_all = t_all[t_all["enterprise_row"] <= n]
        tables[name] = work / f"{name}.parquet"
        t_all.to_parquet(tables[name], index=False)
    return path, tables


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--policies", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="reuse a folder of inputs (made when missing)")
    ap.add_argument("--result-name", default="eligibility_facts")
    args = ap.parse_args()

    from quanhuiqi.eligibility.batch import active_index
    from quanhuiqi.eligibility.derive import FactIndex, derive_columns
    from quanhuiqi.eligibility.engine import encode, evaluate_planes
    from quanhuiqi.policy import load_book
    from quanhuiqi.tables.facts import FactTables

    work = args.work or Path(tempfile.mkdtemp(prefix="qhq_facts_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (work / "profile.parquet").exists():
        make_city(work, args.n, args.seed)
    book_dir, share = make_book(work, args.policies, args.seed)
    prep_s = time.perf_counter() - t0
    book = load_book(book_dir)
    cb = book.compiled
    prof = pd.read_parquet(work / "profile.parquet")
    facts = FactTables(**{name: pd.read_parquet(work / f"{name}.parquet")
                          for name in ("certificates", "milestones", "penalties", "yearly", "declarations")})
    rows_in = {name: len(getattr(facts, name)) for name in facts.supplied()}
    act = active_index(cb, AS_OF)
    derive_t, enc_t, eval_t, cpu_t = [], [], [], []
    planes = None
    for _ in range(args.repeat):
        c0 = time.process_time()  # CPU seconds: on a shared machine they say more than the wall clock
        t = time.perf_counter()
        derived = derive_columns(cb.derived_fields, prof, facts, AS_OF, FactIndex(prof, facts))
        derive_t.append(time.perf_counter() - t)
        c1 = time.process_time()
        t = time.perf_counter()
        enc = encode(cb, prof, (), derived)
        enc_t.append(time.perf_counter() - t)
        c2 = time.process_time()
        t = time.perf_counter()
        planes = evaluate_planes(cb, enc, act, out=None if planes is None else planes.both)
        counts = np.bitwise_count(planes.both).sum(axis=2, dtype=np.int64)
        eval_t.append(time.perf_counter() - t)
        cpu_t.append((c1 - c0, c2 - c1, time.process_time() - c2))
    peak = peak_rss_gb()

    # online: rows carrying the derived columns (the daily profile), and rows plus their own records
    pick = np.random.default_rng(1).choice(len(prof), 1000, replace=False)
    rows = prof.iloc[pick].assign(**{k: v.to_numpy()[pick] for k, v in derived.items()}).to_dict("records")
    book.match(rows[0], AS_OF)  # warm the matcher
    lat, lat_cpu = [], []
    for r in rows:
        c = time.process_time()
        t = time.perf_counter()
        book._online.match_columns(r, AS_OF)
        lat.append(time.perf_counter() - t)
        lat_cpu.append(time.process_time() - c)
    lat_facts = []
    per = {name: getattr(facts, name) for name in facts.supplied()}
    for r in rows[:300]:
        mine = FactTables(**{name: t[t["uscc"] == r["uscc"]] for name, t in per.items()})
        t = time.perf_counter()
        book._online.match_columns(r, AS_OF, mine)
        lat_facts.append(time.perf_counter() - t)
    q = lambda a, p: float(np.percentile(np.array(a) * 1e3, p))  # noqa: E731
    result = {
        "enterprises": len(prof),
        "policies": len(book.items),
        "active_policies": int(act.size),
        "derived_atom_share": round(share, 3),
        "derived_fields": len(cb.derived_fields),
        "distinct_tests": cb.n_atoms,
        "fact_rows": rows_in,
        "prepare_inputs_s": round(prep_s, 1),
        "derive_s": min(derive_t),
        "encode_s": min(enc_t),
        "evaluate_s": min(eval_t),
        "evaluation_s": min(derive_t) + min(enc_t) + min(eval_t),
        "runs_s": {"derive": derive_t, "encode": enc_t, "evaluate": eval_t},
        "cpu_s": {"derive": min(c[0] for c in cpu_t), "encode": min(c[1] for c in cpu_t),
                  "evaluate": min(c[2] for c in cpu_t), "evaluation": min(sum(c) for c in cpu_t)},
        "eligible": int(counts[:, 0].sum()), "undetermined": int(counts[:, 1].sum()),
        "peak_rss_gb": round(peak, 2),
        "online_ms": {"p50": q(lat, 50), "p90": q(lat, 90), "p99": q(lat, 99), "max": q(lat, 100)},
        "online_cpu_ms": {"p50": q(lat_cpu, 50), "p99": q(lat_cpu, 99)},
        "online_with_facts_ms": {"p50": q(lat_facts, 50), "p99": q(lat_facts, 99)},
        "machine_load_1min": float(open("/proc/loadavg").read().split()[0]),
        "command": " ".join(["benchmarks/eligibility_facts.py"] + sys.argv[1:]),
    }
    out = ROOT / "benchmarks" / "results" / f"{args.result_name}.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "runs_s"}, indent=1, ensure_ascii=False))
    print(f"inputs in {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
