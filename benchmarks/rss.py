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


class _Sampler:
    """A sampling thread (``self._t``, stopped by ``self._stop``) that runs while the ``with`` block does."""

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


class PeakRSS(_Sampler):
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


def _pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key == "Pss":
                return int(rest.split()[0])
    return 0


def _stat(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS kB) of one process: its own utime + stime, not its children's."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return ((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
            int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024)


class TreeMemory(_Sampler):
    """A process tree's memory and CPU, sampled from ``/proc``: every ``interval`` seconds the sum of its
    processes' RSS (shared pages counted in every process sharing them: an upper bound) and each process's
    CPU seconds as last seen (a process's last ``interval`` before it ends is lost); every ``pss_every``-th
    sample the sum of their PSS (shared pages divided among the processes sharing them: what the tree costs
    the machine; reading it walks every page table, so it is sampled less often).  Peaks of both and the most
    processes alive at once."""

    def __init__(self, pid: int, interval: float = 0.25, pss_every: int = 8):
        self.pid, self.interval, self.pss_every = pid, interval, pss_every
        self.peak_pss_kb = self.peak_rss_kb = self.most_processes = self.samples = 0
        self.peak_at: dict[str, float] = {}  # seconds from the start to each peak (to place it among the stages)
        self.t0 = time.perf_counter()
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        with_pss = self.samples % self.pss_every == 0
        self.samples += 1
        pss = rss = alive = 0
        for p in process_tree(self.pid):
            try:
                self.cpu[p], kb = _stat(p)
                pss += _pss_kb(p) if with_pss else 0
            except (OSError, IndexError, ValueError):  # ended meanwhile
                continue
            rss, alive = rss + kb, alive + 1
        now = round(time.perf_counter() - self.t0, 1)
        if rss > self.peak_rss_kb:
            self.peak_rss_kb, self.peak_at["rss_sum"] = rss, now
        if pss > self.peak_pss_kb:
            self.peak_pss_kb, self.peak_at["pss"] = pss, now
        self.most_processes = max(self.most_processes, alive)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def result(self) -> dict[str, float]:
        return {"tree_peak_rss_sum_gb": round(self.peak_rss_kb / 1024**2, 2),
                "tree_peak_pss_gb": round(self.peak_pss_kb / 1024**2, 2),
                "tree_peak_at_s": self.peak_at,
                "tree_processes_at_most": self.most_processes,
                "tree_cpu_seconds_sampled": round(sum(self.cpu.values()), 1)}
