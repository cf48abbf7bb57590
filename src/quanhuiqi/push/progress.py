"""Progress and logs: a progress bar on a terminal, structured ``key=value`` log lines otherwise.

Log lines carry counts, stage names and timings only, never an enterprise's record.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

LOGGER = logging.getLogger("quanhuiqi.push")
T = TypeVar("T")


def _fmt(fields: dict[str, Any]) -> str:
    parts = []
    for k, v in fields.items():
        text = f"{v:.3f}" if isinstance(v, float) else str(v)
        if any(ch in text for ch in " =\"") or text == "":
            text = '"' + text.replace('"', "'") + '"'
        parts.append(f"{k}={text}")
    return " ".join(parts)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    LOGGER.log(level, _fmt({"event": event, **fields}))


def _ensure_handler() -> None:
    """Give the job's logger a stderr handler when the application configured none."""
    root = logging.getLogger()
    if not LOGGER.handlers and not root.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        LOGGER.addHandler(h)
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False


class StageClock:
    """Wall and CPU seconds per stage (of the run, or of a partition), added into ``timings`` and ``cpu``:
    ``lap(name)`` charges what passed since the last lap (or ``restart``).  CPU is this process's (``time.process_time``): a Spark
    worker's own, comparable with the local run's, whatever else the machine runs."""

    def __init__(self, timings: dict[str, float], cpu: dict[str, float]) -> None:
        self.timings, self.cpu = timings, cpu
        self.restart()

    def restart(self) -> None:
        self.t, self.c = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> float:
        """Charge ``name`` with the time since the last lap; returns its wall seconds."""
        t, c = time.perf_counter(), time.process_time()
        wall = t - self.t
        self.timings[name] = self.timings.get(name, 0.0) + wall
        self.cpu[name] = self.cpu.get(name, 0.0) + c - self.c
        self.t, self.c = t, c
        return wall


class Progress:
    """Stage timings (wall and CPU), structured log lines, and a tqdm bar over long loops when stderr is a TTY."""

    def __init__(self, run: str, *, tty: bool | None = None):
        _ensure_handler()
        self.run = run
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}  # CPU seconds per stage: this process's, and the partitions' where they ran

    def add_time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + float(seconds)

    def add_cpu(self, stage: str, seconds: float) -> None:
        self.cpu[stage] = self.cpu.get(stage, 0.0) + float(seconds)

    def clock(self) -> StageClock:
        """A clock whose laps add to this run's timings and CPU seconds."""
        return StageClock(self.timings, self.cpu)

    @contextmanager
    def stage(self, name: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Time a stage; the caller may add result counts to the yielded dict."""
        info: dict[str, Any] = {}
        log_event("stage_start", run=self.run, stage=name, **fields)
        clock = self.clock()
        yield info
        dt = clock.lap(name)
        log_event("stage_done", run=self.run, stage=name, seconds=dt, **info)

    def iterate(self, items: Iterable[T], *, total: int | None, desc: str, unit: str = "part") -> Iterator[T]:
        if self.tty:
            from tqdm import tqdm

            yield from tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
            return
        t0 = time.perf_counter()
        for i, item in enumerate(items, 1):
            yield item
            log_event("progress", run=self.run, stage=desc, done=i, total=total, seconds=time.perf_counter() - t0)
