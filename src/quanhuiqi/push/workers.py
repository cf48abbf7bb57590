"""The local day on several processes (``run.workers``): the partitions' two passes, and the supply–demand
matching beside the first, in a pool of worker processes on this machine.

The day runs in one process by default; a machine with cores to spare finishes sooner with a worker per core.
Workers are forked from a fork server that imported the job's modules before any thread existed (forking the
job itself would copy the locks of Arrow's and the writers' threads mid-use).  Each worker takes the day's
context once (the book, the ranker, the rules), then tasks, the same functions the one-process run and Spark's
executors call: pass 1 takes one enterprise batch, leaves its state in the staging folder and returns its
additive counts; pass 2 reads a state back, ranks it against the city's statistics (staged once, read once per
worker) and stages its large tables as Arrow files, as a Spark executor does.  The parent appends them to the
day's files in partition order, so the outputs are byte-identical to the one-process run's whatever the number
of workers (``tests/push/test_workers.py``).
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection
import os
import pickle
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pandas as pd

from quanhuiqi.process import batch_settings
from quanhuiqi.push.matching import postings_pairs
from quanhuiqi.push.partition import (
    BatchInput,
    DayContext,
    count_partition,
    load_state,
    rank_partition,
    stage_state,
)
from quanhuiqi.push.progress import StageClock
from quanhuiqi.push.sink import stage_parts

T = TypeVar("T")
R = TypeVar("R")

# What the fork server imports once, so that every worker starts with the job's modules loaded.
PRELOAD = ["pandas", "pyarrow", "pyarrow.parquet", "quanhuiqi.push.partition", "quanhuiqi.push.sink",
           "quanhuiqi.eligibility", "quanhuiqi.profile", "quanhuiqi.rank", "quanhuiqi.postings"]


@dataclass
class RankedPart:
    """What pass 2 of one batch returns to the parent: its push list (small: the parent sorts the day's), its
    stats, and its large tables as staged Arrow files (name: path, rows, value counts)."""

    push_list: pd.DataFrame
    stats: dict[str, Any]
    staged: dict[str, tuple[str, int, dict[str, int]]]


_DAY: dict[str, Any] = {}  # inside a worker process only: the day's context, and the city's once read


def _start(ctx_payload: bytes) -> None:
    batch_settings()  # the collector's thresholds (the allocator's settings came with the environment)
    parent = mp.parent_process()
    if parent is not None:  # a job killed outright (out of memory, SIGKILL) takes its workers with it
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    _DAY.clear()
    _DAY["ctx"] = pickle.loads(ctx_payload)


def _exit_with(sentinel: int) -> None:
    """Wait for the job's process to end, then end this worker: an orphan would wait for tasks forever,
    holding its memory (its task queue's other end lives in the worker too, so it never reads an end)."""
    mp.connection.wait([sentinel])
    os._exit(1)


def _ranking_context(city_path: str) -> DayContext:
    """The day's context with the city's statistics staged at ``city_path`` (read once per worker)."""
    if _DAY.get("city_path") != city_path:
        _DAY["ranking"] = replace(_DAY["ctx"], city=load_state(city_path))
        _DAY["city_path"] = city_path
    return _DAY["ranking"]


def count_task(batch: BatchInput, state_path: str) -> tuple[Any, dict[str, float], dict[str, float]]:
    """Pass 1 of one enterprise batch: its state staged at ``state_path``; returns its additive counts and
    the staging's wall and CPU seconds."""
    state, counts = count_partition(batch.clean, _DAY["ctx"], history=batch.history, grants=batch.grants,
                                    suppressions=batch.suppressions, facts=batch.facts)
    del batch
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    clock = StageClock(timings, cpu)
    stage_state(state, state_path)
    clock.lap("stage")
    return counts, timings, cpu


def rank_task(state_path: str, city_path: str, staging: str, key: str) -> RankedPart:
    """Pass 2 of one staged batch against the city's statistics; its large tables staged as Arrow files
    named after ``key`` in ``staging``."""
    ctx = _ranking_context(city_path)
    clock = StageClock({}, {})
    state = load_state(state_path)
    os.remove(state_path)
    clock.lap("stage")
    r = rank_partition(state, ctx)
    del state
    clock.restart()  # rank_partition's stages are in its own account
    staged = stage_parts(r, staging, key)
    clock.lap("prepare")  # what the one-process run's sink does before it appends
    stats = {**r.stats, "timings": {**r.stats["timings"], **clock.timings},  # no stage in both
             "cpu": {**r.stats["cpu"], **clock.cpu}}
    return RankedPart(r.push_list, stats, staged)


def postings_task(job_path: str) -> tuple[pd.DataFrame, float, float]:
    """The day's supply–demand matching (``job_path``: the arguments of the one-process run's call, staged;
    read and removed); returns the pairs and the matching's wall and CPU seconds."""
    clock = StageClock({}, {})
    job = load_state(job_path)
    os.remove(job_path)
    pairs = postings_pairs(*job)
    del job
    clock.lap("postings")
    return pairs, clock.timings["postings"], clock.cpu["postings"]


@contextmanager
def worker_pool(workers: int, ctx: DayContext) -> Iterator[ProcessPoolExecutor]:
    """``workers`` processes holding the day's context; on an error the queued tasks are cancelled."""
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    mp_ctx = mp.get_context(method)
    if method == "forkserver":
        mp_ctx.set_forkserver_preload(PRELOAD)
    pool = ProcessPoolExecutor(workers, mp_context=mp_ctx, initializer=_start,
                               initargs=(pickle.dumps(ctx, protocol=5),))
    try:
        yield pool
    except (BrokenProcessPool, BrokenPipeError) as exc:
        pool.shutdown(wait=True, cancel_futures=True)
        raise RuntimeError(
            f"the day's worker processes died ({type(exc).__name__}): killed (out of memory? lower run.workers), "
            "or a script that runs the day with workers > 1 lacks the guard `if __name__ == \"__main__\":` "
            "around its own work (each worker imports the script's main module, as multiprocessing does)"
        ) from exc
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def ordered(pool: ProcessPoolExecutor, fn: Callable[..., R], items: Iterable[T], args_of: Callable[[T], tuple],
            ahead: int) -> Iterator[tuple[T, R]]:
    """``fn(*args_of(item))`` for every item on the pool, yielded in the items' order with at most ``ahead``
    tasks submitted and not yet taken: the parent holds a few tasks' inputs and results, not the city's."""
    pending: deque[tuple[T, Future]] = deque()
    for item in items:
        pending.append((item, pool.submit(fn, *args_of(item))))
        if len(pending) >= ahead:
            done, fut = pending.popleft()
            yield done, fut.result()
    while pending:
        done, fut = pending.popleft()
        yield done, fut.result()
