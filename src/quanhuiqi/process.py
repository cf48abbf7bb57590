"""Process settings for the batch work that churns Arrow memory and Python objects (the daily job, the
city-wide eligibility, the daily job's Spark workers): set them in the process before it first imports
pandas or Arrow.  ``quanhuiqi.cli`` applies them to its batch commands, ``quanhuiqi.spark.daemon`` to the
Python workers it forks."""

from __future__ import annotations

import gc
import os
import sys

# Arrow's allocator (mimalloc) in a command that builds and drops a few hundred MB of text policy by policy:
# left to its defaults it asks for transparent huge pages over its arena and hands freed pages back to the
# kernel after a second (1,834 purges at 100k × 500), so later policies' buffers fault in fresh 2 MB pages the
# kernel zero-fills first — a fifth of the command's CPU samples were the kernel clearing pages (perf:
# ``clear_page_erms`` under ``do_huge_pmd_anonymous_page``), most of its system time, varying from run to run.
# Plain 4 kB pages, and freed memory kept 10 s for the next policies (27 purges), remove that churn.  Read when
# Arrow loads: set before this process first imports pandas/pyarrow; a user's own setting wins.
ALLOCATOR_SETTINGS = {"MIMALLOC_ALLOW_THP": "0", "MIMALLOC_PURGE_DELAY": "10000"}
# The cycle collector ran 560 times in the same command (0.3 CPU s, 0.17 of it in 4 full passes over the
# interpreter's heap of pandas, Arrow and the parsed book) for the few cycles a batch command leaves: its first
# generation collected every 50,000 container allocations, not every 2,000 (0.06 s).
GC_THRESHOLDS = (50_000, 20, 100)


def batch_settings() -> None:
    """This process's collector thresholds (:data:`GC_THRESHOLDS`) and, when Arrow is not loaded yet, its
    allocator's settings (:data:`ALLOCATOR_SETTINGS`; a setting already in the environment wins)."""
    gc.set_threshold(*GC_THRESHOLDS)
    if "pyarrow" not in sys.modules:
        for key, value in ALLOCATOR_SETTINGS.items():
            os.environ.setdefault(key, value)
