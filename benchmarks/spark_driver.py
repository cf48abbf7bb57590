"""Benchmark: the daily job on Spark (local mode) — wall time, CPU and the *driver's* peak memory.

    nice -n 5 .venv/bin/python benchmarks/spark_driver.py [--enterprises 100000] [--master local[2]]

The city is the one ``benchmarks/daily_run.py`` builds (``/tmp/quanhuiqi_bench_city_N_2000``, generated
with the same parameters when missing).  The job runs in a child process whose peak RSS is the driver's
(Python side; in local mode the JVM hosts the driver *and* the executors' threads, so its peak is recorded
apart, and the Python workers are separate processes).  CPU seconds: the driver's own, and the whole
process tree's (the JVM, the Python workers' daemon and everything it reaped), read from ``/proc`` just
before the session stops.  Writes ``benchmarks/results/spark_driver.json`` (or ``spark_driver_<name>.json``
with ``--result-name``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

DAY = "2025-07-01"
ROOT = Path(__file__).resolve().parents[1]


def run_job(city: Path, out: Path, master: str, partition_size: int) -> None:
    """In the child: the Spark run, then the driver's own peak RSS on stdout."""
    import logging

    from quanhuiqi.spark import local_session, run_daily_spark

    class Keep(logging.Handler):  # the postings stage's log line: the matching index's size and ranges
        seen: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            if "stage=postings" in record.getMessage() and "index_mb=" in record.getMessage():
                self.seen.append(record.getMessage())

    import threading

    logging.getLogger("quanhuiqi.push").addHandler(Keep())
    logging.getLogger("quanhuiqi.push").setLevel(logging.INFO)
    seen: dict = {}
    done = threading.Event()

    def sample() -> None:  # the process tree's CPU every second (a process's last second before it exits is lost)
        while not done.wait(1.0):
            _tree_cpu(os.getpid(), seen)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    spark = local_session(master, "quanhuiqi-bench", **{"spark.driver.memory": "4g"})
    spark.sparkContext.setLogLevel("ERROR")
    result = run_daily_spark(DAY, city, out, config={"run": {"partition_size": partition_size}}, spark=spark)
    done.set()
    sampler.join()
    _tree_cpu(os.getpid(), seen)
    tree = {"descendants_cpu_s": round(sum(cpu for cpu, _ in seen.values()), 1),
            "jvm_peak_rss_gb": round(max((hwm for _, hwm in seen.values()), default=0.0), 3),
            "worker_processes": sum(1 for _, hwm in seen.values() if hwm == 0.0)}
    spark.stop()
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"summary": result.report["summary"], "timings_s": result.report.get("timings_s", {}),
                      "postings": dict(kv.split("=", 1) for kv in Keep.seen[-1].split()[2:] if "=" in kv)
                      if Keep.seen else None,
                      "driver_peak_rss_gb": round(own.ru_maxrss / 1024**2, 3),
                      "driver_cpu_s": round(own.ru_utime + own.ru_stime, 1), **tree}))


def _tree_cpu(root: int, seen: dict) -> None:
    """Record into ``seen`` (keyed by pid and start time) each descendant's own CPU seconds (user + system,
    not what it reaped: every process is counted once) and, for the JVM, its peak RSS."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(f[11]) + int(f[12])) / tick  # utime stime
            hwm = 0.0
            if "java" in Path(f"/proc/{pid}/comm").read_text():
                status = Path(f"/proc/{pid}/status").read_text()
                hwm = int(status.split("VmHWM:")[1].split()[0]) / 1024**2
            seen[(pid, f[19])] = (cpu, hwm)  # f[19]: start time
        except (OSError, IndexError, ValueError):
            continue


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enterprises", type=int, default=100_000)
    ap.add_argument("--policies", type=int, default=2000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partition-size", type=int, default=10_000)
    ap.add_argument("--result-name", default=None)
    ap.add_argument("--run-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--city", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.run_only:
        run_job(Path(args.city), Path(args.out), args.master, args.partition_size)
        return 0
    city = Path(args.city or f"/tmp/quanhuiqi_bench_city_{args.enterprises}_{args.policies}")
    if not (city / "enterprises.csv").exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from daily_run import build_city

        build_city(city, args.enterprises, args.policies, 90, 8.0, 0)
    out = Path(args.out or f"/tmp/quanhuiqi_spark_out_{args.enterprises}")
    shutil.rmtree(out, ignore_errors=True)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--run-only", "--city", str(city), "--out", str(out),
                           "--master", args.master, "--partition-size", str(args.partition_size)],
                          capture_output=True, text=True, env={**os.environ, "PYSPARK_PYTHON": sys.executable})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        return proc.returncode
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    result = {
        "enterprises": args.enterprises, "policies": args.policies, "master": args.master,
        "partition_size": args.partition_size, "wall_seconds": round(wall, 1),
        "driver_peak_rss_gb": child["driver_peak_rss_gb"], "driver_cpu_s": child["driver_cpu_s"],
        "executors_and_jvm_cpu_s": child["descendants_cpu_s"], "jvm_peak_rss_gb": child["jvm_peak_rss_gb"],
        "cpu_s_total": round(child["driver_cpu_s"] + child["descendants_cpu_s"], 1),
        "summary": child["summary"], "postings": child["postings"],
        "stage_seconds": child["timings_s"], "load_average_start": load0, "load_average_end": os.getloadavg(),
        "command": "python benchmarks/spark_driver.py " + " ".join(sys.argv[1:]),
    }
    name = f"spark_driver_{args.result_name}.json" if args.result_name else "spark_driver.json"
    (ROOT / "benchmarks" / "results" / name).write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
