"""Benchmark: the daily job on Spark (local mode) — wall time, CPU and the *driver's* peak memory.

    nice -n 5 .venv/bin/python benchmarks/spark_driver.py [--enterprises 100000] [--master local[2]]

The city is the one ``benchmarks/daily_run.py`` builds (``/tmp/quanhuiqi_bench_city_N_2000``, generated
with the same parameters when missing).  The job runs in a child process whose peak RSS is the driver's
(Python side; in local mode the JVM hosts the driver *and* the executors' threads, so its peak is recorded
apart, and the Python workers are separate processes).  CPU seconds: the driver's own, and the whole
process tree's (the JVM, the Python workers' daemon and everything it reaped), read from ``/proc`` just
before the session stops.  The driver's RSS is sampled five times a second and charged to the job stage
running (``driver_rss_by_stage_mb``: peak, anonymous / file-backed split, RSS at the stage's start, and Arrow's
allocated bytes at the peak and their own peak).  Writes ``benchmarks/results/spark_driver.json`` (or ``spark_driver_<name>.json``
with ``--result-name``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rss import rss_split_mb  # benchmarks/rss.py (the script's own folder)

DAY = "2025-07-01"
ROOT = Path(__file__).resolve().parents[1]


def run_job(city: Path, out: Path, master: str, partition_size: int, conf: dict[str, str] | None = None,
            worker_daemon: bool = True) -> None:
    """In the child: the Spark run, then the driver's own peak RSS on stdout."""
    import logging

    from quanhuiqi.spark import local_session, run_daily_spark

    class Keep(logging.Handler):  # the postings stage's log line: the matching index's size and ranges
        seen: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            if "stage=postings" in record.getMessage() and "index_mb=" in record.getMessage():
                self.seen.append(record.getMessage())

    import threading

    stages = StageMemory()
    logging.getLogger("quanhuiqi.push").addHandler(Keep())
    logging.getLogger("quanhuiqi.push").addHandler(stages)
    logging.getLogger("quanhuiqi.push").setLevel(logging.INFO)
    seen: dict = {}
    done = threading.Event()

    threads: dict = {}
    by_stage: dict[str, dict[str, float]] = {}
    last = {"kinds": _cpu_by_kind(seen, threads)}

    def charge() -> None:  # the CPU spent since the last sample, per process kind, to the stage running
        now = _cpu_by_kind(seen, threads)
        stage = stages.running[-1] if stages.running else "start"
        into = by_stage.setdefault(stage, {})
        for k, v in now.items():
            into[k] = into.get(k, 0.0) + v - last["kinds"].get(k, 0.0)
        last["kinds"] = now

    def sample() -> None:  # the process tree's CPU every second (a process's last second before it exits is lost)
        while not done.wait(1.0):
            _tree_cpu(os.getpid(), seen, threads)
            charge()

    def sample_rss() -> None:  # the driver's own RSS, 5 times a second, charged to the stage running
        while not done.wait(0.2):
            stages.sample()

    threading.Thread(target=sample_rss, daemon=True).start()
    stages.mark("start")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    spark = local_session(master, "quanhuiqi-bench", worker_daemon=worker_daemon,
                          **{"spark.driver.memory": "4g", **(conf or {})})
    spark.sparkContext.setLogLevel("ERROR")
    stages.mark("session")
    result = run_daily_spark(DAY, city, out, config={"run": {"partition_size": partition_size}}, spark=spark)
    stages.sample()
    done.set()
    sampler.join()
    _tree_cpu(os.getpid(), seen, threads)
    charge()
    kinds = _cpu_by_kind(seen, threads)
    jvm_threads: dict[str, float] = {}
    for group, cpu in threads.values():
        jvm_threads[group] = jvm_threads.get(group, 0.0) + cpu
    tree = {"descendants_cpu_s": round(sum(cpu for cpu, _, _, _ in seen.values()), 1),
            "jvm_peak_rss_gb": round(max((hwm for _, hwm, _, _ in seen.values()), default=0.0), 3),
            "worker_processes": sum(1 for _, _, kind, _ in seen.values() if kind == "python.worker"),
            "cpu_s_by_kind": {k: round(v, 1) for k, v in kinds.items()},
            "system_cpu_s_by_kind": {k: round(v, 1) for k, v in _system_by_kind(seen).items()},
            "jvm_threads_cpu_s": {k: round(v, 1) for k, v in sorted(jvm_threads.items(), key=lambda kv: -kv[1])
                                  if v >= 0.5},
            "cpu_s_by_stage": {st: {k: round(v, 1) for k, v in d.items() if round(v, 1)} for st, d in by_stage.items()}}
    spark.stop()
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"summary": result.report["summary"], "timings_s": result.report.get("timings_s", {}),
                      "report_cpu_s": result.report.get("cpu_s", {}),
                      "postings": dict(kv.split("=", 1) for kv in Keep.seen[-1].split()[2:] if "=" in kv)
                      if Keep.seen else None,
                      "driver_peak_rss_gb": round(own.ru_maxrss / 1024**2, 3),
                      "driver_rss_by_stage_mb": stages.table(),
                      "driver_cpu_s": round(own.ru_utime + own.ru_stime, 1), **tree}))


class StageMemory(logging.Handler):
    """The driver's resident memory charged to the job's stages: the innermost running stage (from the
    job's ``stage_start`` / ``stage_done`` log lines) gets each sample's RSS; per stage the peak RSS and its
    anonymous / file-backed split (``/proc/self/status``: memory-mapped files count in RSS too), and the RSS
    when the stage began — so what a stage adds is its peak minus its start."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self._mu = threading.Lock()
        self.running: list[str] = []
        self.peaks: dict[str, dict[str, float]] = {}

    rss = staticmethod(rss_split_mb)  # this process's RSS now (MB): rss, anon, file

    def mark(self, name: str) -> None:
        """A point outside the job's stages (before the session, after it started)."""
        with self._mu:
            self.running = [name]
            now = self.rss()
            self.peaks.setdefault(name, {"start_mb": now["rss"], "peak_mb": 0.0, "anon_mb": 0.0, "file_mb": 0.0})
        self.sample()

    def sample(self) -> None:
        now = self.rss()
        arrow = _arrow_mb()
        with self._mu:
            if not self.running:
                return
            p = self.peaks[self.running[-1]]
            if now["rss"] > p["peak_mb"]:
                p.update(peak_mb=now["rss"], anon_mb=now["anon"], file_mb=now["file"], arrow_at_peak_mb=arrow)
            p["arrow_peak_mb"] = max(p.get("arrow_peak_mb", 0.0), arrow)

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        fields = dict(kv.split("=", 1) for kv in msg.split() if "=" in kv)
        if fields.get("event") not in ("stage_start", "stage_done") or "stage" not in fields:
            return
        self.sample()  # the sample before the change goes to the stage that was running
        with self._mu:
            name = fields["stage"]
            if fields["event"] == "stage_start":
                self.running.append(name)
                now = self.rss()["rss"]
                self.peaks.setdefault(name, {"start_mb": now, "peak_mb": now, "anon_mb": 0.0, "file_mb": 0.0})
            elif name in self.running:
                self.running.remove(name)

    def table(self) -> dict[str, dict[str, float]]:
        return {k: {f: round(v, 1) for f, v in p.items()} for k, p in self.peaks.items()}


def _arrow_mb() -> float:
    """What Arrow's memory pool has allocated and not freed (MB): what of the RSS is Arrow's buffers, as opposed
    to numpy/pandas memory, Python objects or freed memory the allocators keep."""
    pa = sys.modules.get("pyarrow")
    return pa.total_allocated_bytes() / 2**20 if pa is not None else 0.0


def _tree_cpu(root: int, seen: dict, threads: dict | None = None) -> None:
    """Record into ``seen`` (keyed by pid and start time) each descendant's own CPU seconds (user + system,
    not what it reaped: every process is counted once; and the system part apart), its kind (``jvm``; ``python.daemon``, the PySpark
    daemon the JVM starts; ``python.worker``, the workers it forks; ``other``) and, for the JVM, its peak RSS;
    into ``threads`` (keyed by tid and start time) each JVM thread's CPU seconds under its name, digits
    dropped (``GC Thread``, ``C2 CompilerThre``, ``Executor task l`` …: the kernel keeps 15 characters)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    todo = [(pid, "driver") for pid in children.get(root, [])]
    while todo:
        pid, parent = todo.pop()
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(f[11]) + int(f[12])) / tick  # utime stime
            system = int(f[12]) / tick
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            hwm = 0.0
            if "java" in comm:
                kind = "jvm"
                status = Path(f"/proc/{pid}/status").read_text()
                hwm = int(status.split("VmHWM:")[1].split()[0]) / 1024**2
                if threads is not None:
                    _thread_cpu(pid, tick, threads)
            elif comm.startswith("python"):
                kind = "python.daemon" if parent == "jvm" else "python.worker" if parent.startswith("python") else "other"
            else:
                kind = "other"
            seen[(pid, f[19])] = (cpu, hwm, kind, system)  # f[19]: start time
        except (OSError, IndexError, ValueError):
            continue
        todo += [(c, kind) for c in children.get(pid, [])]


def _thread_cpu(pid: int, tick: int, threads: dict) -> None:
    import re

    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (t / "stat").read_text()
            name = text[text.index("(") + 1:text.rindex(")")]
            f = text.rsplit(")", 1)[1].split()
            threads[(t.name, f[19])] = (re.sub(r"[#\d\s-]+$", "", name) or name, (int(f[11]) + int(f[12])) / tick)
        except (OSError, IndexError, ValueError):
            continue


def _system_by_kind(seen: dict) -> dict[str, float]:
    """System (kernel) CPU seconds by process kind, the driver's own included: page faults and zeroing show here."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    out = {"driver": own.ru_stime}
    for _, _, kind, system in seen.values():
        out[kind] = out.get(kind, 0.0) + system
    return out


def _cpu_by_kind(seen: dict, threads: dict) -> dict[str, float]:
    """CPU seconds so far: the driver's own, and the recorded descendants' by kind."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    out = {"driver": own.ru_utime + own.ru_stime}
    for cpu, _, kind, _ in seen.values():
        out[kind] = out.get(kind, 0.0) + cpu
    return out


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
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a Spark setting for the session (repeatable), e.g. spark.python.daemon.module=pyspark.daemon")
    ap.add_argument("--pyspark-daemon", action="store_true",
                    help="the workers fork from PySpark's own daemon, without the batch process settings "
                         "(local_session(worker_daemon=False)): what the library's daemon saves")
    args = ap.parse_args()
    conf = dict(kv.split("=", 1) for kv in args.conf)
    if args.run_only:
        run_job(Path(args.city), Path(args.out), args.master, args.partition_size, conf, not args.pyspark_daemon)
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
                           "--master", args.master, "--partition-size", str(args.partition_size),
                           *[f"--conf={kv}" for kv in args.conf]] + (["--pyspark-daemon"] if args.pyspark_daemon else []),
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
        "cpu_s_by_kind": child["cpu_s_by_kind"], "system_cpu_s_by_kind": child["system_cpu_s_by_kind"],
        "worker_processes": child["worker_processes"], "conf": conf, "worker_daemon": not args.pyspark_daemon,
        "jvm_threads_cpu_s": child["jvm_threads_cpu_s"], "cpu_s_by_stage": child["cpu_s_by_stage"],
        "summary": child["summary"], "postings": child["postings"],
        "stage_seconds": child["timings_s"], "stage_cpu_s": child["report_cpu_s"],
        "driver_rss_by_stage_mb": child["driver_rss_by_stage_mb"],
        "load_average_start": load0, "load_average_end": os.getloadavg(),
        "command": "python benchmarks/spark_driver.py " + " ".join(sys.argv[1:]),
    }
    name = f"spark_driver_{args.result_name}.json" if args.result_name else "spark_driver.json"
    (ROOT / "benchmarks" / "results" / name).write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
