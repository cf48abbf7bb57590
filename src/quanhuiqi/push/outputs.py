"""Writing a day's outputs so that a crash never leaves a half-written day behind.

Everything for ``OUT/<date>/`` is written into a staging folder ``OUT/.staging-<date>-<pid>/``
(each file itself through a temporary file and a rename), the manifest last.  Only then is the
staging folder swapped in: the previous ``OUT/<date>`` is renamed to ``OUT/.previous-<date>``,
the staging folder renamed to ``OUT/<date>``, and the previous folder removed.  ``recover``
repairs the one window a crash could hit (between the two renames) and clears stale staging
folders, so every run starts from a consistent state.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from quanhuiqi.tables.io import atomic_write

MANIFEST = "manifest.json"
CRASH_ENV = "QUANHUIQI_TEST_CRASH_AFTER"


def crash_point(stage: str) -> None:
    """Kill this process (SIGKILL, no cleanup) after ``stage`` when the test variable names it.

    Only the crash test sets ``QUANHUIQI_TEST_CRASH_AFTER``; it proves that an abrupt death at
    that point leaves the previous outputs intact.
    """
    if os.environ.get(CRASH_ENV) == stage:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_tree(path: Path) -> str:
    """One hash over a folder: relative paths and contents of every file, in sorted order."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(b"\0")
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def input_hash(path: Path) -> str:
    return sha256_tree(path) if path.is_dir() else sha256_file(path)


def write_table_part(df: pd.DataFrame, target: Path, fmt: str) -> Path:
    """A table (or one part of it) as the day writes its tables: Parquet (zstd) or UTF-8 CSV, rows as given,
    through a temporary file — the same bytes wherever it is written (the driver, a Spark executor)."""
    df = df.reset_index(drop=True)
    if fmt == "csv":
        return atomic_write(target, lambda t: df.to_csv(t, index=False, encoding="utf-8", lineterminator="\n"))
    return atomic_write(target, lambda t: df.to_parquet(t, index=False, compression="zstd"))


def recover(out_dir: Path, date_text: str) -> list[str]:
    """Bring ``out_dir`` back to a consistent state for ``date_text``; return what was done."""
    done: list[str] = []
    if not out_dir.exists():
        return done
    final = out_dir / date_text
    previous = out_dir / f".previous-{date_text}"
    if previous.exists():
        if final.exists():
            shutil.rmtree(previous)
            done.append(f"removed {previous.name} left by a finished swap")
        else:
            os.replace(previous, final)
            done.append(f"restored {final.name} from {previous.name} (a run died mid-swap)")
    for stale in out_dir.glob(f".staging-{date_text}-*"):
        shutil.rmtree(stale, ignore_errors=True)
        done.append(f"removed stale {stale.name}")
    return done


class DayWriter:
    """Stage a day's files, then publish them all at once."""

    def __init__(self, out_dir: str | os.PathLike, date_text: str, formats: Iterable[str] = ("parquet", "csv")):
        self.out_dir = Path(out_dir)
        self.date_text = date_text
        self.formats = tuple(formats)
        self.final = self.out_dir / date_text
        self.staging = self.out_dir / f".staging-{date_text}-{os.getpid()}"
        self.written: dict[str, str] = {}

    def __enter__(self) -> DayWriter:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)

    def _record(self, path: Path) -> None:
        self.written[path.name] = sha256_file(path)

    def _finish_file(self, path: Path, record: bool) -> None:
        os.chmod(path, 0o644)  # temporary files are created 0600; outputs are ordinary files
        if record:
            self._record(path)

    def table(self, name: str, df: pd.DataFrame, formats: Iterable[str] | None = None) -> list[Path]:
        """Write ``df`` as ``name.parquet`` / ``name.csv`` (rows as given: callers sort them)."""
        paths = []
        df = df.reset_index(drop=True)
        for fmt in self.formats if formats is None else formats:
            target = write_table_part(df, self.staging / f"{name}.{fmt}", fmt)
            self._finish_file(target, True)
            paths.append(target)
        return paths

    def adopt(self, name: str, fmt: str, parts: list[Path]) -> Path:
        """Take a table that was written elsewhere as part files (a Spark run's executors) into the day:
        ``name.fmt/part-00000.fmt``, … in the given order (moved: a rename on one filesystem), each file's
        hash recorded under its relative path.  Nothing is visible until ``publish`` swaps the day in."""
        folder = self.staging / f"{name}.{fmt}"
        folder.mkdir()
        for i, src in enumerate(parts):
            target = folder / f"part-{i:05d}.{fmt}"
            shutil.move(str(src), target)
            os.chmod(target, 0o644)
            self.written[f"{folder.name}/{target.name}"] = sha256_file(target)
        return folder

    def adopt_file(self, name: str, fmt: str, source: Path) -> Path:
        """Take one table file written elsewhere (by :func:`write_table_part`, so with :meth:`table`'s bytes)
        into the day as ``name.fmt`` (moved), its hash recorded as :meth:`table` records it."""
        target = self.staging / f"{name}.{fmt}"
        shutil.move(str(source), target)
        self._finish_file(target, True)
        return target

    def text(self, filename: str, content: str, *, record: bool = True) -> Path:
        target = self.staging / filename
        atomic_write(target, lambda t: t.write_text(content, encoding="utf-8"))
        self._finish_file(target, record)
        return target

    def json(self, filename: str, obj: object, *, record: bool = True) -> Path:
        return self.text(filename, dumps(obj), record=record)

    def publish(self, manifest: dict) -> Path:
        """Write the manifest (last, listing every file's hash), then swap the staging folder in."""
        manifest = dict(manifest)
        manifest["outputs"] = dict(sorted(self.written.items()))
        self.json(MANIFEST, manifest, record=False)
        crash_point("manifest")
        previous = self.out_dir / f".previous-{self.date_text}"
        if previous.exists():
            shutil.rmtree(previous)
        if self.final.exists():
            os.replace(self.final, previous)
        crash_point("swap")
        os.replace(self.staging, self.final)
        if previous.exists():
            shutil.rmtree(previous)
        return self.final


def dumps(obj: object) -> str:
    """Deterministic JSON: sorted keys, UTF-8, a final newline."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2, default=str) + "\n"
