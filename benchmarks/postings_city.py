"""Benchmark: the daily job's postings stage on a city-scale synthetic snapshot.

Reads the city exactly as ``quanhuiqi.push.job.run_daily`` does (``read_table`` / ``read_enterprises``,
``validate_postings``, ``validate_enterprises`` restricted to the posters as ``push.job.posters``,
``validate_history('posting_interactions', …)``), then runs ``match_postings(…, model=None, k=10,
history=…)`` in a child process and reports the time per stage and the child's peak RSS (the stage's
memory: the child holds only the validated inputs and the match).  Target: under 60 s and 4 GB.

    .venv/bin/python benchmarks/postings_city.py [--city /tmp/quanhuiqi_bench_city_1000000_0]
        [--as-of 2025-07-01] [--save-output pairs.parquet] [--compare-output pairs.parquet] [--profile out.prof]

The validated inputs are cached as pickles under /tmp (``--cache-dir``; reading and
validating a million enterprises is not part of the stage).  ``--save-output`` / ``--compare-output``
write or check the pairs (identical output after a speed change).  Prints the numbers and writes them to
``benchmarks/results/postings_city.json`` (one entry per ``QUANHUIQI_THREADS``, which the matcher's
blocked product and title similarity use).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import time
from pathlib import Path

from rss import PeakRSS, rss_now  # benchmarks/rss.py (the script's own folder)

CITY = "/tmp/quanhuiqi_bench_city_1000000_0"


def prepare_inputs(city: Path, as_of: str, cache: Path) -> dict:
    """Read and validate as the daily job does; cache the three clean frames (pickles)."""
    files = {n: cache / f"{n}.pkl" for n in ("postings", "posters", "interactions")}
    stamp = cache / "source.json"
    src = {"city": str(city), "as_of": as_of,
           "mtimes": {p.name: p.stat().st_mtime for p in city.iterdir() if p.is_file()}}
    if stamp.exists() and json.loads(stamp.read_text()) == src and all(p.exists() for p in files.values()):
        return {"cached": True, "read_validate_s": None}
    from quanhuiqi.postings import validate_postings
    from quanhuiqi.push.job import posters
    from quanhuiqi.tables import read_enterprises, read_table, validate_enterprises, validate_history
    from quanhuiqi.tables.parse import as_timestamp

    t0 = time.perf_counter()
    day = as_timestamp(as_of)
    clean_postings = validate_postings(read_table(city / "postings.csv"), day, "postings").clean
    ent = validate_enterprises(read_enterprises(city / "enterprises.csv"), day, "enterprises").clean
    poster_rows = posters(ent, clean_postings)
    del ent
    inter = validate_history("posting_interactions", read_table(city / "posting_interactions.parquet"), day,
                             "posting_interactions").clean
    seconds = time.perf_counter() - t0
    cache.mkdir(parents=True, exist_ok=True)
    for name, frame in (("postings", clean_postings), ("posters", poster_rows), ("interactions", inter)):
        frame.to_pickle(files[name])  # pickle: dtypes and attrs exactly as validated
    stamp.write_text(json.dumps(src))
    return {"cached": False, "read_validate_s": round(seconds, 1)}


def _child(cache: str, as_of: str, save: str | None, compare: str | None, profile: str | None, q) -> None:
    import pandas as pd

    from quanhuiqi.postings import match_postings

    c = Path(cache)
    postings = pd.read_pickle(c / "postings.pkl")
    posters = pd.read_pickle(c / "posters.pkl")
    inter = pd.read_pickle(c / "interactions.pkl")
    base = rss_now()
    timings: dict = {}
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        out = match_postings(postings, pd.Timestamp(as_of), enterprises=posters, model=None, k=10, history=inter,
                             timings=timings)
        seconds = time.perf_counter() - t0
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    res = {
        "match_seconds": round(seconds, 2),
        "stages_seconds": {k: round(v, 2) for k, v in timings.items() if k.endswith("_s")},
        "candidate_pairs": int(timings["n_candidates"]),
        "peak_rss_gb": round(max(mem.peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 1e9, 3),
        "inputs_rss_gb": round(base / 1e9, 3),
        "peak_rss_by_stage_gb": mem.peaks(t0, {k: v for k, v in timings.items() if k.endswith("_s")}),
        "postings": len(postings), "posters": len(posters), "interactions": len(inter),
        "output_rows": len(out),
        "open_demands": int(out["demand_id"].nunique()),
        "demands_without_pairs": int(out["supply_id"].isna().sum()),
    }
    if save:
        out.to_parquet(save)
    if compare:
        ref = pd.read_parquet(compare)
        same = list(ref.columns) == list(out.columns) and len(ref) == len(out)
        diff = {}
        if same:
            for col in out.columns:
                a, b = ref[col], out[col]
                if pd.api.types.is_float_dtype(a):
                    eq = (a.to_numpy() == b.to_numpy()) | (a.isna().to_numpy() & b.isna().to_numpy())
                else:
                    eq = (a.astype("string").fillna("<NA>") == b.astype("string").fillna("<NA>")).to_numpy()
                diff[col] = int((~eq).sum())
        res["identical_to_reference"] = bool(same and not any(diff.values()))
        res["differing_cells"] = diff if same else f"shape {ref.shape} vs {out.shape}"
    q.put(res)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--city", default=CITY)
    ap.add_argument("--as-of", default="2025-07-01")
    ap.add_argument("--cache-dir", default=None, help="where the validated inputs are cached (default /tmp/…)")
    ap.add_argument("--save-output", default=None)
    ap.add_argument("--compare-output", default=None)
    ap.add_argument("--profile", default=None, help="write cProfile stats of the match to this file")
    args = ap.parse_args()
    city = Path(args.city)
    cache = Path(args.cache_dir or f"/tmp/postings_city_cache_{city.name}_{args.as_of}")
    prep = prepare_inputs(city, args.as_of, cache)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(cache), args.as_of, args.save_output, args.compare_output,
                                            args.profile, q))
    proc.start()
    res = q.get()
    proc.join()
    result = {"city": str(city), "as_of": args.as_of, **prep, **res,
              "threads": int(os.environ.get("QUANHUIQI_THREADS", "1") or 1),
              "targets": {"match_seconds": 60, "peak_rss_gb": 4},
              "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
              "cpu_count": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    if not args.profile:  # one entry per thread count (QUANHUIQI_THREADS), the latest run of each
        path = out_dir / "postings_city.json"
        runs = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        runs = {k: v for k, v in runs.items() if k.startswith("threads=")}
        runs[f"threads={result['threads']}"] = result
        path.write_text(json.dumps(runs, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
