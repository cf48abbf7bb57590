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
