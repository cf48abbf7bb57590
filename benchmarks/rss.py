"""Peak resident memory of this process, sampled in a thread — shared by the benchmarks that measure
memory in-process (the others run the job in a child and read its ``ru_maxrss``)."""

from __future__ import annotations

import os
import threading
import time


def rss_now() -> int:
    """This process's resident memory now (bytes)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_split_mb() -> dict[str, float]:
    """This process's resident memory now (MB): all of it (``rss``), anonymous (``anon``: the heap, numpy and
    Arrow buffers) and file-backed (``file``: mapped files, shared libraries)."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(rest.split()[0]) / 1024
    return {"rss": fields.get("VmRSS", 0.0), "anon": fields.get("RssAnon", 0.0), "file": fields.get("RssFile", 0.0)}


class PeakRSS:
    """Peak resident memory of this process sampled every 20 ms, with the samples for per-stage peaks."""

    def __init__(self):
        self.peak = rss_now()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            rss = rss_now()
            self.peak = max(self.peak, rss)
            self.samples.append((time.perf_counter(), rss))
            time.sleep(0.02)

    def peaks(self, t0: float, stages: dict) -> dict:
        """Peak RSS (GB) within each stage, the stages following each other from ``t0``."""
        out, start = {}, t0
        for name, seconds in stages.items():
            end = start + seconds
            inside = [r for t, r in self.samples if start <= t <= end]
            out[name.removesuffix("_s")] = round(max(inside) / 1e9, 3) if inside else None
            start = end
        return out

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its living descendants (from ``/proc/<pid>/task/*/children``)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            todo += _children(p)
        except OSError:  # it ended meanwhile
            pass
    return found


def _pss_rss_kb(pid: int) -> tuple[int, int]:
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                fields[key] = int(rest.split()[0])
    return fields.get("Pss", 0), fields.get("Rss", 0)


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime (own, not children's)


class TreeMemory:
    """A process tree's memory and CPU, sampled every ``interval`` seconds from ``/proc``: the peak of the
    sum of its processes' PSS (shared pages divided among the processes sharing them: what the tree costs the
    machine; a forked worker's inherited pages are not counted twice) and of their RSS (shared pages counted
    in every process), the most processes alive at once, and each process's CPU seconds as last seen (a
    process's last ``interval`` before it ends is lost)."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.pid, self.interval = pid, interval
        self.peak_pss_kb = self.peak_rss_kb = self.most_processes = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        pss = rss = alive = 0
        for p in process_tree(self.pid):
            try:
                a, b = _pss_rss_kb(p)
                self.cpu[p] = _cpu_s(p)
            except (OSError, IndexError, ValueError):  # ended meanwhile
                continue
            pss, rss, alive = pss + a, rss + b, alive + 1
        self.peak_pss_kb, self.peak_rss_kb = max(self.peak_pss_kb, pss), max(self.peak_rss_kb, rss)
        self.most_processes = max(self.most_processes, alive)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def result(self) -> dict[str, float]:
        return {"tree_peak_pss_gb": round(self.peak_pss_kb / 1024**2, 2),
                "tree_peak_rss_sum_gb": round(self.peak_rss_kb / 1024**2, 2),
                "tree_processes_at_most": self.most_processes,
                "tree_cpu_seconds_sampled": round(sum(self.cpu.values()), 1)}
