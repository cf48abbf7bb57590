"""The PySpark daemon the job's Python workers fork from, with the library already imported.

``spark.python.daemon.module=quanhuiqi.spark.daemon`` (set by :func:`quanhuiqi.spark.local_session`; on a
cluster ``spark-submit --conf spark.python.daemon.module=quanhuiqi.spark.daemon``).  PySpark's own daemon
forks a bare interpreter for every Python worker, and each worker then imports pandas, Arrow, PySpark's worker
and this library when it unpickles its first task — ≈ 2–3 CPU-s a worker, and a worker is forked again
whenever Spark closed an idle one (after a minute without work).  Here the imports happen once, in the daemon,
before it starts forking; the workers share those pages copy-on-write.  The daemon also takes the batch
commands' collector thresholds (``quanhuiqi.process``), which the workers inherit, and freezes the imported
objects out of the collector's reach (``gc.freeze``): a worker's collections, and PySpark's ``gc.collect()``
after every task, no longer walk (and copy) the imported heap.  Arrow's allocator settings cannot be set here
— ``python -m quanhuiqi.spark.daemon`` imports its package, and Arrow with it, first — so they come through
the executors' environment (``spark.executorEnv.MIMALLOC_*``, which ``local_session`` sets).

Forking after these imports is safe for what they start: Arrow's allocator and thread pools and OpenBLAS's
thread pool register fork handlers; no OpenMP region (LightGBM) runs in the daemon.  The task code itself is
unchanged — a worker forked from this daemon runs PySpark's own ``pyspark.worker.main``.
"""

from __future__ import annotations

import gc
import importlib

# what a task of the daily job imports: PySpark's worker and its Arrow serializers, the job's modules and those
# its tasks import inside functions (validation, profile, eligibility, ranking, matching, appeals)
PRELOAD = (
    "pyspark.worker",
    "pyspark.sql.pandas.serializers",
    "pyspark.sql.pandas.types",
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.parquet",
    "quanhuiqi.spark",
    "quanhuiqi.tables",
    "quanhuiqi.tables.facts",
    "quanhuiqi.profile",
    "quanhuiqi.eligibility",
    "quanhuiqi.rank",
    "quanhuiqi.rank.city",
    "quanhuiqi.rank.history",
    "quanhuiqi.push.prescore",
    "quanhuiqi.push.rules",
    "quanhuiqi.postings",
    "quanhuiqi.postings.match",
    "quanhuiqi.postings.partitioned",
    "quanhuiqi.appeals.daily",
)


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """The batch process settings (here: the collector's), then ``modules`` imported; returns those that could
    not be (a module the installation lacks is left to the worker, which reports it as it would without this
    daemon)."""
    from quanhuiqi.process import batch_settings

    batch_settings()  # Arrow is loaded already (the package's import): only the collector's thresholds apply
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    gc.collect()
    gc.freeze()  # the imported heap: never walked by the workers' collections, so never copied by them
    return missing


def main() -> None:
    preload()
    from pyspark import daemon

    daemon.manager()


if __name__ == "__main__":
    main()
