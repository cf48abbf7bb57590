"""Enterprise partitions: a stable hash of the normalised uscc, shared by the local run and Spark."""

from __future__ import annotations

import io
import logging
import zlib

import numpy as np
import pandas as pd

from quanhuiqi.push.config import load_config
from quanhuiqi.push.partition import n_partitions, partition_of, split_state
from quanhuiqi.push.progress import Progress


def test_partition_is_the_crc32_of_the_normalised_code():
    codes = pd.Series(["91370102MA3C4XYZ1K", " 91370102ma3c4xyz1k ", "９１３７０１０２ＭＡ３Ｃ４ＸＹＺ１Ｋ", None])
    parts = partition_of(codes, 7)
    expected = zlib.crc32(b"91370102MA3C4XYZ1K") % 7
    assert parts.tolist() == [expected, expected, expected, 0]
    assert partition_of(codes, 1).tolist() == [0, 0, 0, 0]


def test_partitions_are_balanced_and_state_follows_its_enterprise():
    codes = pd.Series([f"9137010{i:011d}" for i in range(20000)])
    counts = np.bincount(partition_of(codes, 4), minlength=4)
    assert counts.min() > 4500  # a uniform hash
    state = pd.DataFrame({"uscc": codes.iloc[::7].to_numpy(), "x": np.arange(len(codes.iloc[::7]))})
    split = split_state(state, 4)
    assert sum(len(v) for v in split.values()) == len(state)
    for p, frame in split.items():
        assert (partition_of(frame["uscc"], 4) == p).all()


def test_number_of_partitions():
    cfg = load_config()
    assert n_partitions(cfg, 1) == 1
    assert n_partitions(cfg, 1_000_000) == 1_000_000 // cfg["run"]["partition_size"]
    assert n_partitions(load_config({"run": {"partitions": 9}}), 10) == 9


def test_progress_bar_on_a_terminal_and_lines_otherwise(monkeypatch, caplog):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    p = Progress("t", tty=True)
    assert list(p.iterate(range(5), total=5, desc="parts")) == list(range(5))
    assert "parts" in err.getvalue()  # tqdm drew its bar
    caplog.set_level(logging.INFO, logger="quanhuiqi.push")
    q = Progress("t", tty=False)
    with q.stage("demo") as info:
        assert list(q.iterate(range(2), total=2, desc="parts")) == [0, 1]
        info["rows"] = 2
    msgs = [r.getMessage() for r in caplog.records]
    assert "event=progress run=t stage=parts done=2 total=2" in " | ".join(msgs)
    assert any(m.startswith("event=stage_done run=t stage=demo seconds=") and m.endswith("rows=2") for m in msgs)
    assert q.timings["demo"] >= 0
