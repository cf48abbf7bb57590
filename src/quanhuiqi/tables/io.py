"""Read and write tables as CSV or Parquet by extension; writes are atomic.

Text files are read as UTF-8 (with or without BOM) or GB18030 (a superset of GBK and GB2312, what
Chinese government systems export most often): detected, or named by the caller.  Detection never
decodes wrongly in silence: UTF-8 is tried first and strictly (every UTF-8 file would also decode as
GB18030), GB18030 only then and strictly, and a GB18030 reading that does not look like Chinese text
(control or private-use characters, mostly characters outside the common simplified set — what Big5
or Shift-JIS bytes turn into) is refused like a file that is neither, naming the file and the byte.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

READABLE = (".csv", ".parquet", ".pq")
AUTO = "auto"
# characters a Chinese text file never holds but mis-decoded bytes do: C0/C1 controls, private use, U+FFFD
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]")
RARE_SHARE = 0.25  # GB18030 readings with more non-GB2312 characters than this are refused (Big5 gives ~0.57)


class InputError(Exception):
    """The input was refused as a whole (unreadable file, missing required column, bad policy).

    The message names the file, row or policy and the reason; the CLI prints it and exits 1.
    """


# --- text encodings ---------------------------------------------------------------------------------


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r} (expected auto, utf-8, gb18030, gbk, …)") from None


def _utf8_error(data: bytes | memoryview) -> int | None:
    """Offset of the first byte that is not valid UTF-8, or ``None`` (checked in Arrow: no Python string
    is built for a valid file)."""
    import numpy as np
    import pyarrow as pa

    buf = pa.py_buffer(data)
    arr = pa.Array.from_buffers(pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(buf)], np.int64)), buf])
    try:
        arr.cast(pa.large_string())
        return None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        try:
            bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc.start
        return None


def _decode_strict(data: bytes, codec: str, source: str, label: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source}: not valid {label} text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc


def _gb2312_counts(text: str) -> tuple[int, int]:
    """(non-ASCII characters of a text, those of them outside the common simplified set GB2312): additive over
    pieces of the text, so a file can be judged a chunk at a time."""
    return (len(text) - len(text.encode("ascii", "ignore")),
            text.encode("gb2312", "replace").count(b"?") - text.count("?"))


def _mostly_rare(non_ascii: int, rare: int) -> bool:
    return rare > max(5, RARE_SHARE * non_ascii)


def _looks_chinese(text: str) -> str | None:
    """Why a GB18030 reading is not Chinese text, or ``None`` when it is."""
    m = _NOT_TEXT.search(text)
    if m:
        return f"it decodes to control or private-use character U+{ord(m.group()):04X}"
    non_ascii, rare = _gb2312_counts(text)
    if _mostly_rare(non_ascii, rare):
        return (f"{rare} of its {non_ascii} non-ASCII characters lie outside the common simplified set "
                "(Big5 or Shift-JIS bytes read as GB18030 look like this)")
    return None


def decode_bytes(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding used) of a text file's bytes.

    ``encoding`` ``None``/``"auto"`` detects: a UTF-8 or UTF-16 byte-order mark; else UTF-8, strictly;
    else GB18030, strictly and only when the result reads as Chinese text; else ``InputError`` naming
    ``source`` and the first byte that fits neither.  A named encoding is decoded strictly as named.
    The encoding is reported as ``utf-8``, ``utf-8-sig`` (with BOM), ``utf-16``, ``gb18030`` or the
    named codec's canonical name.
    """
    if encoding not in (None, AUTO):
        codec = _codec_name(encoding)
        if codec == "utf-8":
            if data.startswith(codecs.BOM_UTF8):
                return _decode_strict(data[3:], "utf-8", source, "utf-8"), "utf-8-sig"
            return _decode_strict(data, "utf-8", source, "utf-8"), "utf-8"
        text = _decode_strict(data, codec, source, codec)
        return (text[1:] if text.startswith("\ufeff") else text), codec
    if data.startswith(codecs.BOM_UTF8):
        return _decode_strict(data[3:], "utf-8", source, "UTF-8 (after its byte-order mark)"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_strict(data, "utf-16", source, "UTF-16 (after its byte-order mark)"), "utf-16"
    bad = _utf8_error(data)
    if bad is None:
        return data.decode("utf-8"), "utf-8"
    return _gb18030_or_refuse(data, source, bad), "gb18030"


def _gb18030_or_refuse(data: bytes, source: str, utf8_bad: int) -> str:
    utf8 = f"UTF-8 fails at byte 0x{data[utf8_bad]:02x}, offset {utf8_bad}"
    hint = "; name the file's encoding (--encoding on the command line, encoding= in the API)"
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source}: neither UTF-8 nor GB18030/GBK text ({utf8}; GB18030 at byte 0x{data[exc.start]:02x}, "
            f"offset {exc.start}){hint}"
        ) from exc
    why = _looks_chinese(text)
    if why is not None:
        raise InputError(f"{source}: neither UTF-8 nor GB18030/GBK text ({utf8}; read as GB18030 {why}): "
                         f"refused rather than read wrongly{hint}")
    return text[1:] if text.startswith("\ufeff") else text


def utf8_bytes(data: bytes, source: str, encoding: str | None = None) -> tuple[bytes, str]:
    """``data`` as UTF-8 bytes without a byte-order mark, and the encoding it was in (as
    :func:`decode_bytes` finds it).  UTF-8 input comes back as it is: no Python string is built."""
    named = encoding not in (None, AUTO)
    if (named and _codec_name(encoding) != "utf-8") or (
        not named and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    ):
        text, enc = decode_bytes(data, source, encoding)
        return text.encode("utf-8"), enc
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[3:] if bom else data
    bad = _utf8_error(body)
    if bad is None:
        return body, ("utf-8-sig" if bom else "utf-8")
    if bom or named:
        at = bad + (3 if bom else 0)
        raise InputError(f"{source}: not valid utf-8 text (byte 0x{data[at]:02x} at offset {at})")
    return _gb18030_or_refuse(data, source, bad).encode("utf-8"), "gb18030"


def read_text(path: str | os.PathLike, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding) of a text file, as :func:`decode_bytes` reads it; ``InputError`` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found" if not p.exists() else f"{p}: not a file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: unreadable ({exc.strerror})") from exc
    return decode_bytes(data, str(p), encoding)


def file_encoding(path: str | os.PathLike, encoding: str | None = None, chunk: int = 1 << 24) -> str:
    """The encoding :func:`read_table` would read a CSV file in, without holding it: for readers that decode
    elsewhere (Spark's CSV reader takes a charset).  The file is decoded a chunk at a time under the same
    strict rules (UTF-8 first; else UTF-16 after its byte-order mark, GB18030 that reads as Chinese text, or
    the named codec); a file that fails is read whole by :func:`read_text`, which refuses it with the same
    error naming the file and the byte."""
    p = Path(path)
    auto = encoding in (None, AUTO)
    if auto or _codec_name(encoding) == "utf-8":
        try:
            with p.open("rb") as fh:
                head = fh.read(3)
            bom = head.startswith(codecs.BOM_UTF8)
            if bom or not auto or not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                for _ in decoded_chunks(p, "utf-8", chunk):
                    pass
                return "utf-8-sig" if bom else "utf-8"
        except UnicodeDecodeError:
            pass
        except OSError as exc:
            raise InputError(f"{p}: unreadable ({exc.strerror})") from exc
    if auto or _codec_name(encoding) != "utf-8":
        codec = _streamed_codec(p, encoding, chunk)
        if codec is not None:
            return codec
    return read_text(p, encoding)[1]


def _streamed_codec(path: Path, encoding: str | None, chunk: int) -> str | None:
    """The encoding of a file that is not UTF-8, as :func:`decode_bytes` would report it, found a chunk at a
    time (a named codec, UTF-16 after its byte-order mark, or GB18030 that reads as Chinese text); ``None``
    when it fails (the caller reads the file whole for the exact error)."""
    if encoding not in (None, AUTO):
        codec = _codec_name(encoding)
    else:
        with path.open("rb") as fh:
            head = fh.read(3)
        if head.startswith(codecs.BOM_UTF8):  # a UTF-8 byte-order mark before bytes that are not UTF-8: refused
            return None
        codec = "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "gb18030"
    chinese = encoding in (None, AUTO) and codec == "gb18030"
    non_ascii = rare = 0
    try:
        for text in decoded_chunks(path, codec, chunk):
            if chinese:  # _looks_chinese over the whole text, added up chunk by chunk
                if _NOT_TEXT.search(text):
                    return None
                n, k = _gb2312_counts(text)
                non_ascii, rare = non_ascii + n, rare + k
    except (UnicodeDecodeError, OSError):
        return None
    if chinese and _mostly_rare(non_ascii, rare):
        return None
    return codec


def decoded_chunks(path: str | os.PathLike, codec: str, chunk: int = 1 << 24) -> Iterator[str]:
    """A file's text decoded strictly as ``codec``, a chunk of bytes at a time (a character split across
    chunks is decoded whole); ``UnicodeDecodeError`` where it fails."""
    dec = codecs.getincrementaldecoder(codec)("strict")
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            if text := dec.decode(block):
                yield text
    if text := dec.decode(b"", final=True):
        yield text


def utf8_copy(path: str | os.PathLike, target: str | os.PathLike, encoding: str, chunk: int = 1 << 24) -> Path:
    """Write ``path``, in ``encoding`` (as :func:`file_encoding` found it: UTF-8, GB18030 or a named codec other
    than UTF-16), to ``target`` as UTF-8 without a byte-order mark, a chunk at a time: the bytes
    :func:`utf8_bytes` gives, without holding the file."""
    target = Path(target)
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    try:
        with open(target, "wb") as out:
            first = True
            for text in decoded_chunks(path, codec, chunk):
                if first and text.startswith("\ufeff"):
                    text = text[1:]
                first = False
                out.write(text.encode("utf-8"))
    except UnicodeDecodeError:  # changed since it was checked: refused as the strict reading refuses it
        read_text(path, encoding)
        raise
    return target


# --- tables --------------------------------------------------------------------------------------


def read_table(
    path: str | os.PathLike,
    *,
    text_columns: list[str] | None = None,
    encoding: str | None = None,
    report: dict | None = None,
) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame of strings-as-read (CSV) or typed columns (Parquet).

    CSV cells are read as text so that codes keep leading zeros and nothing is coerced before
    validation; empty cells are missing.  A CSV file is UTF-8 (with or without BOM) or GB18030/GBK,
    detected (``encoding=None``/``"auto"``) or as named; a file that is neither is refused by name
    (see :func:`decode_bytes`).  ``report``, when given, receives ``encoding`` (the encoding read;
    ``parquet`` for Parquet, whose text is UTF-8 by format).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            data, enc = utf8_bytes(p.read_bytes(), str(p), encoding)
            if report is not None:
                report["encoding"] = enc
            nul = data.find(b"\x00")
            if nul >= 0:
                raise InputError(f"{p}: a binary file (NUL byte at offset {nul}), not CSV text")
            fast = _read_plain_csv(data)
            if fast is not None:
                return fast
            return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
            if report is not None:
                report["encoding"] = "parquet"
            for col in text_columns or []:
                if col in df.columns:
                    df[col] = df[col].astype("string")
            return df
    except (UnicodeDecodeError, ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"{p}: unreadable {suffix[1:]} file ({type(exc).__name__}: {str(exc)[:200]})") from exc
    raise InputError(f"{p}: unsupported file type {suffix!r} (expected .csv or .parquet)")


def _read_plain_csv(data: bytes) -> pd.DataFrame | None:
    """The pandas read of :func:`read_table` through pyarrow's CSV reader, for *plain* files only.

    Plain: no quote character anywhere, at least two uniquely and non-blank named columns, and
    every row with exactly as many fields as the header.  Such a file splits on commas and line
    ends alone, so both readers see the same cells (every cell text, empty → missing), and pyarrow
    does it several times faster.  Anything else — quotes, ragged rows, an empty file — returns
    ``None`` and pandas reads the bytes as before, with its own errors.  ``data`` is valid UTF-8
    (checked by :func:`utf8_bytes`), so it is not validated again.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if b'"' in data:
        return None
    start = 0  # the bytes come without a byte-order mark (utf8_bytes)
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
                check_utf8=False,
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
