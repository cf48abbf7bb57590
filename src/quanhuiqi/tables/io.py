"""Read and write tables as CSV or Parquet by extension; writes are atomic."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

READABLE = (".csv", ".parquet", ".pq")


class InputError(Exception):
    """The input was refused as a whole (unreadable file, missing required column, bad policy).

    The message names the file, row or policy and the reason; the CLI prints it and exits 1.
    """


def read_table(path: str | os.PathLike, *, text_columns: list[str] | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame of strings-as-read (CSV) or typed columns (Parquet).

    CSV cells are read as text so that codes keep leading zeros and nothing is coerced before
    validation; empty cells are missing.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            fast = _read_plain_csv(p)
            if fast is not None:
                return fast
            return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
            for col in text_columns or []:
                if col in df.columns:
                    df[col] = df[col].astype("string")
            return df
    except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"{p}: unreadable {suffix[1:]} file ({type(exc).__name__}: {str(exc)[:200]})") from exc
    raise InputError(f"{p}: unsupported file type {suffix!r} (expected .csv or .parquet)")


def _read_plain_csv(path: Path) -> pd.DataFrame | None:
    """The pandas read of :func:`read_table` through pyarrow's CSV reader, for *plain* files only.

    Plain: no quote character anywhere, at least two uniquely and non-blank named columns, and
    every row with exactly as many fields as the header.  Such a file splits on commas and line
    ends alone, so both readers see the same cells (every cell text, empty → missing, BOM dropped),
    and pyarrow does it several times faster.  Anything else — quotes, ragged rows, bad UTF-8, an
    empty file — returns ``None`` and pandas reads the file as before, with its own errors.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = path.read_bytes()
    if b'"' in data:
        return None
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    ends = [i for i in (data.find(b"\n", start), data.find(b"\r", start)) if i >= 0]
    header = data[start : min(ends, default=len(data))]
    try:
        names = header.decode("utf-8").split(",")
    except UnicodeDecodeError:
        return None
    if len(names) < 2 or len(set(names)) != len(names) or any(not n.strip() for n in names):
        return None
    text = pd.StringDtype("pyarrow", na_value=float("nan"))  # what read_csv(dtype=str) gives
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data).slice(start)),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.large_string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    return pd.DataFrame(
        {n: pd.Series(table.column(i).to_pandas(types_mapper={pa.large_string(): text}.get)) for i, n in enumerate(names)}
    )


def require_columns(df: pd.DataFrame, required: list[str], source: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{source}: missing required column(s) {', '.join(missing)}")


def atomic_write(path: str | os.PathLike, writer: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the same folder, then rename: no partial file is ever left."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        writer(tmp_path)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return target


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` as CSV or Parquet by extension, atomically, without the index."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return atomic_write(p, lambda t: df.to_csv(t, index=False, encoding="utf-8"))
    if suffix in (".parquet", ".pq"):
        return atomic_write(p, lambda t: df.to_parquet(t, index=False))
    raise InputError(f"{p}: unsupported output type {suffix!r} (expected .csv or .parquet)")
