"""The batch commands' process settings (``quanhuiqi.cli``): Arrow's allocator without transparent huge pages
and with a long purge delay, and a lazier cycle collector, set for ``quanhuiqi eligibility`` and ``quanhuiqi push``
in their own process only — a caller that runs ``main`` in its process keeps its own collector and allocator."""

import gc
import os
import subprocess
import sys
from pathlib import Path

import pyarrow  # noqa: F401  (loaded, as in any process that ran Arrow before calling main)

from quanhuiqi import cli, process

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ["--enterprises", str(ROOT / "data_samples" / "enterprises.csv"), "--policies",
          str(ROOT / "data_samples" / "policies"), "--as-of", "2025-07-01"]


def test_the_command_sets_its_allocator_before_arrow_loads(tmp_path):
    """A fresh interpreter: the settings are in the environment when Arrow loads, the user's own win, the
    collector's thresholds are back after ``main``, and the pairs are written."""
    code = (
        "import gc, os, sys, quanhuiqi.cli as cli\n"
        "before = gc.get_threshold()\n"
        f"cli.main(['eligibility', *{SAMPLE!r}, '--out', {str(tmp_path / 'p.parquet')!r}])\n"
        "print(os.environ.get('MIMALLOC_ALLOW_THP'), os.environ.get('MIMALLOC_PURGE_DELAY'), "
        "gc.get_threshold() == before)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMALLOC_")} | {"MIMALLOC_PURGE_DELAY": "5"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "0 5 True"
    assert (tmp_path / "p.parquet").exists()


def test_the_daily_job_gets_the_same_settings():
    """``quanhuiqi push`` (and the daily-run benchmark, which calls the same function) in a fresh interpreter."""
    code = ("import os, sys, quanhuiqi.cli as cli\n"
            "cli.batch_process_settings('push')\n"
            "print('pyarrow' in sys.modules, os.environ.get('MIMALLOC_ALLOW_THP'), "
            "os.environ.get('MIMALLOC_PURGE_DELAY'), __import__('gc').get_threshold()[0])\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "0", "10000", str(process.GC_THRESHOLDS[0])]


def test_other_commands_and_in_process_callers_are_left_alone(monkeypatch, tmp_path):
    for key in process.ALLOCATOR_SETTINGS:
        monkeypatch.delenv(key, raising=False)
    before = gc.get_threshold()
    cli.batch_process_settings("profile")
    assert gc.get_threshold() == before and not any(k in os.environ for k in process.ALLOCATOR_SETTINGS)
    # Arrow is loaded here: the allocator's settings would not be read, so they are not set
    assert cli.main(["eligibility", *SAMPLE, "--out", str(tmp_path / "p.parquet")]) == 0
    assert gc.get_threshold() == before and not any(k in os.environ for k in process.ALLOCATOR_SETTINGS)
