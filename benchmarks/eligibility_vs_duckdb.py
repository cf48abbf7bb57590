"""1,000,000 enterprises × 2,000 policies, three-valued: the bitmap engine against the same book
translated to SQL and run by DuckDB on the same Parquet input, side by side in one run.

    .venv/bin/python benchmarks/eligibility_vs_duckdb.py [--n 1000000] [--policies 2000] [--repeat 3]

The peer: every policy becomes one SQL boolean expression with NULL for unknown (SQL's AND/OR/NOT
are Kleene's), hierarchical ``under`` as CASE over prefixes, sets closed-world; one query per
policy counts eligible (IS TRUE) and undetermined (IS NULL).  Both sides must agree on every
count.  The engine keeps the full three-valued relation in memory (two packed planes per policy);
end to end (read Parquet, evaluate, extract pairs, write pairs Parquet) is timed too.
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

from quanhuiqi.policy import load_book  # noqa: E402
from quanhuiqi.policy.model import Atom  # noqa: E402

AS_OF = dt.date(2025, 7, 1)


# ---- the peer: policy → SQL ----------------------------------------------------------------------
def _lit(v) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int | float):
        return repr(float(v))
    return "'" + str(v).replace("'", "''") + "'"


def _industry_key(code: str) -> str:
    from quanhuiqi.reference.industries import lookup_industry

    c = lookup_industry(code)
    return c.section + ("" if c.level == 1 else c.code)


def _fact(fields, name: str) -> str:
    """The column holding a field's value as the policy sees it (helper columns are prepared once)."""
    f = fields[name]
    if f.type == "ordinal":
        return f'"_r_{name}"'
    if f.type == "category" and f.values:
        return f'"_c_{name}"'
    if f.type == "code" and f.hierarchy:
        return f'"_k_{name}"'
    return f'"{name}"'


def helper_columns(fields) -> list[str]:
    """SELECT items computed once when the table is loaded: ordinal ranks, closed categories,
    hierarchy keys (``C3911``; district significant prefix), ``;a;b;`` probes for sets."""
    out = []
    for name, f in fields.items():
        col = f'"{name}"'
        if f.type == "ordinal":
            cases = " ".join(f"WHEN {_lit(v)} THEN {i}" for i, v in enumerate(f.values))
            out.append(f'(CASE {col} {cases} END) AS "_r_{name}"')
        elif f.type == "category" and f.values:
            out.append(
                f'(CASE WHEN {col} IN ({", ".join(map(_lit, f.values))}) THEN {col} END) AS "_c_{name}"'
            )
        elif f.type == "code" and f.hierarchy == "industry":
            out.append(
                f"(industry_section || CASE WHEN length({col}) > 1 THEN {col} ELSE '' END) AS \"_k_{name}\""
            )
        elif f.type == "code" and f.hierarchy == "district":
            out.append(
                f"(CASE WHEN {col} LIKE '%0000' THEN substr({col}, 1, 2) WHEN {col} LIKE '%00' THEN substr({col}, 1, 4) "
                f'ELSE {col} END) AS "_k_{name}"'
            )
        elif f.type == "set":
            out.append(f"(';' || coalesce({col}, '') || ';') AS \"_s_{name}\"")
    return out


def _operand(fields, atom: Atom, v) -> str:
    f = fields[atom.field]
    if f.type == "date":
        return f"DATE '{(dt.date(1970, 1, 1) + dt.timedelta(days=int(v))).isoformat()}'"
    if f.type == "ordinal":
        return str(int(v))
    return _lit(v)


def atom_sql(fields, atom: Atom) -> str:
    f = fields[atom.field]
    x = _fact(fields, atom.field)
    op, v = atom.op, atom.value
    if op in ("exists", "missing"):
        base = f"({x} IS NOT NULL)"
        return base if op == "exists" else f"(NOT {base})"
    if f.type == "set":
        probe = f'"_s_{atom.field}"'
        vals = (v,) if op == "has" else v
        parts = [f"({probe} LIKE '%;{t};%')" for t in vals]
        return "(" + (" AND " if op == "has_all" else " OR ").join(parts) + ")"
    if f.type == "code" and f.hierarchy:
        key = (lambda c: _industry_key(c)) if f.hierarchy == "industry" else (lambda c: c)
        if op in ("under", "not_under"):
            parts = [
                f"(CASE WHEN {x} IS NULL THEN NULL WHEN starts_with({x}, '{key(p)}') THEN TRUE "
                f"WHEN starts_with('{key(p)}', {x}) THEN NULL ELSE FALSE END)"
                for p in v
            ]
            e = "(" + " OR ".join(parts) + ")"
            return e if op == "under" else f"(NOT {e})"
        vals = (v,) if op in ("eq", "ne") else v
        parts = [
            f"(CASE WHEN {x} IS NULL THEN NULL WHEN \"{atom.field}\" = '{c}' THEN TRUE "
            f"WHEN starts_with('{key(c)}', {x}) THEN NULL ELSE FALSE END)"
            for c in vals
        ]
        e = "(" + " OR ".join(parts) + ")"
        return e if op in ("eq", "in") else f"(NOT {e})"
    if op in ("eq", "ne"):
        e = f"({x} = {_operand(fields, atom, v)})"
        return e if op == "eq" else f"(NOT {e})"
    if op in ("in", "not_in"):
        e = f"({x} IN ({', '.join(_operand(fields, atom, e) for e in v)}))"
        return e if op == "in" else f"(NOT {e})"
    if op == "between":
        return f"({x} BETWEEN {_operand(fields, atom, v[0])} AND {_operand(fields, atom, v[1])})"
    sym = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
    return f"({x} {sym} {_operand(fields, atom, v)})"


def policy_sql(fields, node) -> str:
    if isinstance(node, Atom):
        return atom_sql(fields, node)
    kids = [policy_sql(fields, c) for c in node.children]
    if node.kind == "not":
        return f"(NOT {kids[0]})"
    return "(" + (" AND " if node.kind == "all" else " OR ").join(kids) + ")"


# ---- data ----------------------------------------------------------------------------------------
def make_inputs(work: Path, n: int, n_policies: int, seed: int) -> tuple[Path, Path]:
    """The synthetic city's profile (20k real rows tiled with jittered numbers) and a generated book."""
    from quanhuiqi.profile import profile
    from quanhuiqi.synth.enterprises import generate_enterprises
    from quanhuiqi.synth.policies import generate_policies, write_policies
    from quanhuiqi.tables import validate_enterprises

    book_dir = write_policies(generate_policies(n_policies, seed=seed), work / "policies")
    base_n = min(n, 20_000)
    raw = generate_enterprises(base_n, seed=seed, as_of=AS_OF)
    prof = profile(validate_enterprises(raw, AS_OF).clean, AS_OF)
    reps = -(-n // len(prof))
    big = pd.concat([prof] * reps, ignore_index=True).iloc[:n].copy()
    rng = np.random.default_rng(seed)
    for c in big.columns:
        if big[c].dtype == "float64" and c not in ("industry_confidence",):
            big[c] = (big[c] * rng.uniform(0.7, 1.4, len(big))).round(2)
    big["uscc"] = big["uscc"].str.slice(0, 12) + pd.Series(np.arange(len(big)), dtype="int64").astype(
        "string"
    ).str.zfill(6)
    keep = [
        c
        for c in big.columns
        if c
        not in (
            "name_norm",
            "industry_name",
            "industry_label",
            "industry_section_name",
            "status_text",
            "tags",
        )
    ]
    path = work / "profile.parquet"
    big[keep].to_parquet(path, index=False)
    return path, book_dir


# ---- runs ----------------------------------------------------------------------------------------
def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_engine(book, parquet: Path, out_dir: Path, repeat: int) -> dict:
    from quanhuiqi.eligibility.batch import active_index
    from quanhuiqi.eligibility.engine import encode, evaluate_planes, pairs_of

    cb = book.compiled
    t = time.perf_counter()
    prof = pd.read_parquet(parquet)
    read_s = time.perf_counter() - t
    act = active_index(cb, AS_OF)
    enc_times, eval_times = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        enc = encode(cb, prof)
        enc_times.append(time.perf_counter() - t)
    # cold: the relation's memory is fresh (first touch of every page); warm: a running job reuses it
    t = time.perf_counter()
    planes = evaluate_planes(cb, enc, act)
    counts = np.bitwise_count(planes.both).sum(axis=2, dtype=np.int64)  # (P, 2): eligible, undetermined
    cold_s = time.perf_counter() - t
    for _ in range(repeat):
        t = time.perf_counter()
        planes = evaluate_planes(cb, enc, act, out=planes.both)
        counts = np.bitwise_count(planes.both).sum(axis=2, dtype=np.int64)
        eval_times.append(time.perf_counter() - t)
    t = time.perf_counter()
    pol, rows, verdict = pairs_of(planes)
    pairs_s = time.perf_counter() - t
    t = time.perf_counter()
    import pyarrow as pa
    import pyarrow.parquet as pq

    pids = pa.array([cb.policies[i].policy.id for i in act.tolist()])
    table = pa.table(
        {
            "uscc": pa.DictionaryArray.from_arrays(
                pa.array(rows), pa.array(prof["uscc"].to_numpy(dtype=object))
            ),
            "policy_id": pa.DictionaryArray.from_arrays(pa.array(pol), pids),
            "verdict": pa.DictionaryArray.from_arrays(
                pa.array((2 - verdict).astype(np.int8)), pa.array(["eligible", "undetermined"])
            ),
        }
    )
    pq.write_table(table, out_dir / "pairs.parquet")
    write_s = time.perf_counter() - t
    ids = [cb.policies[i].policy.id for i in act.tolist()]
    return {
        "read_parquet_s": read_s,
        "encode_s": min(enc_times),
        "evaluate_s": min(eval_times),
        "evaluate_cold_s": cold_s,
        "encode_plus_evaluate_s": min(enc_times) + min(eval_times),
        "evaluate_runs_s": eval_times,
        "encode_runs_s": enc_times,
        "pairs_extract_s": pairs_s,
        "write_pairs_s": write_s,
        "end_to_end_s": read_s + min(enc_times) + cold_s + pairs_s + write_s,
        "n_pairs": int(pol.size),
        "n_eligible": int((verdict == 2).sum()),
        "n_undetermined": int((verdict == 1).sum()),
        "distinct_tests": cb.n_atoms,
        "leaves": int(cb.leaf_atom.size),
        "peak_rss_gb": peak_rss_gb(),
        "_counts": dict(zip(ids, counts.tolist(), strict=True)),
    }


def run_duckdb(book, parquet: Path, threads: int, single_query: bool) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    t = time.perf_counter()
    have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{parquet}')").fetchall()}
    absent = [f'NULL::VARCHAR AS "{n}"' for n in book.fields if n not in have]
    con.execute(
        f"CREATE TABLE raw AS SELECT *{''.join(', ' + a for a in absent)} FROM read_parquet('{parquet}')"
    )
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT *, {', '.join(helper_columns(book.fields))} FROM raw")
    con.execute("DROP TABLE raw")
    prep_s = time.perf_counter() - t
    active = [p for p in book.items if p.active(AS_OF)]
    sqls = {p.id: policy_sql(book.fields, p.condition) for p in active}
    t = time.perf_counter()
    counts = {}
    for pid, e in sqls.items():
        q = f"SELECT count(*) FILTER (WHERE v), count(*) FILTER (WHERE v IS NULL) FROM (SELECT {e} AS v FROM t)"
        counts[pid] = list(con.execute(q).fetchone())
    per_policy_s = time.perf_counter() - t
    out = {
        "load_parquet_s": load_s,
        "helper_columns_s": prep_s,
        "evaluate_s": per_policy_s,
        "queries": len(sqls),
        "_counts": counts,
    }
    if single_query:  # every policy in one scan: the strongest form of the peer
        t = time.perf_counter()
        cols = ", ".join(f"({e}) AS v{i}" for i, e in enumerate(sqls.values()))
        aggs = ", ".join(
            f"count(*) FILTER (WHERE v{i}), count(*) FILTER (WHERE v{i} IS NULL)" for i in range(len(sqls))
        )
        row = con.execute(f"SELECT {aggs} FROM (SELECT {cols} FROM t)").fetchone()
        out["single_query_s"] = time.perf_counter() - t
        out["_single"] = {pid: [row[2 * i], row[2 * i + 1]] for i, pid in enumerate(sqls)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--policies", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--duckdb-threads", type=int, default=2)
    ap.add_argument(
        "--single-query", action="store_true", help="also time all policies in one DuckDB scan (slow at 1M)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        t = time.perf_counter()
        parquet, book_dir = make_inputs(work, args.n, args.policies, args.seed)
        prep_s = time.perf_counter() - t
        t = time.perf_counter()
        book = load_book(book_dir)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        _ = book.compiled
        compile_s = time.perf_counter() - t
        eng = run_engine(book, parquet, work, args.repeat)
        duck = run_duckdb(book, parquet, args.duckdb_threads, args.single_query)
    mismatch = [pid for pid, c in duck["_counts"].items() if eng["_counts"].get(pid) != c]
    mismatch += [pid for pid, c in duck.get("_single", {}).items() if eng["_counts"].get(pid) != c]
    result = {
        "enterprises": args.n,
        "policies": args.policies,
        "active_policies": duck["queries"],
        "as_of": AS_OF.isoformat(),
        "prepare_inputs_s": prep_s,
        "load_book_s": load_s,
        "compile_s": compile_s,
        "engine": {k: v for k, v in eng.items() if not k.startswith("_")},
        "duckdb": {k: v for k, v in duck.items() if not k.startswith("_")},
        "speedup_evaluate": duck["evaluate_s"] / eng["evaluate_s"],
        "speedup_encode_plus_evaluate": duck["evaluate_s"] / eng["encode_plus_evaluate_s"],
        "speedup_vs_single_query": duck["single_query_s"] / eng["evaluate_s"]
        if "single_query_s" in duck
        else None,
        "counts_agree": not mismatch,
        "mismatched_policies": mismatch[:10],
        "machine_load_1min": __import__("os").getloadavg()[0],
    }
    out = ROOT / "benchmarks" / "results" / "eligibility_vs_duckdb.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
