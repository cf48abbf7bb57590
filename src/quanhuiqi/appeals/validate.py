"""Validation of the appeals table: clean rows, rejects with reasons, duplicates linked into cases.

Row rejected: missing or duplicate ``appeal_id`` (the first row of an id is kept), missing or unreadable
``received_at``, ``received_at`` after ``as_of`` (when given: a back-test never sees the future), no text
(title and body both empty).  Value cleared (the row stays, the value becomes unknown): unknown channel,
invalid USCC (the check that failed is named), non-existent district code, unknown triage level or
satisfaction, an unreadable workflow time, a workflow time after ``as_of``, and a workflow time before an
earlier stage (办结 before 受理: the later stage is the one cleared, because ``received_at`` anchors the
case and each stage is checked against the ones before it).

The same appeal arriving twice (exact or near-exact text from the same enterprise within days) is kept
as rows but linked into one case (:func:`quanhuiqi.appeals.dedupe.link_duplicates`): every count, list
and statistic of this package is per case (``case_id``), never per row.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quanhuiqi.appeals.columns import (
    APPEAL_COLUMNS,
    APPEAL_ID,
    APPEAL_REQUIRED,
    APPEAL_TEXT,
    CHANNEL_WORDS,
    RECEIVED_AT,
    SATISFACTION_WORDS,
    STAGE_NAMES,
    TRIAGE_WORDS,
    WORKFLOW_TIMES,
)
from quanhuiqi.reference.districts import canonical_district_code
from quanhuiqi.tables.io import InputError, read_table, require_columns
from quanhuiqi.tables.parse import by_unique, clean_text, present, to_arrow
from quanhuiqi.tables.rejects import RejectLog, Validated
from quanhuiqi.tables.uscc import normalize_uscc, uscc_reason

TIMES = [RECEIVED_AT, *WORKFLOW_TIMES]
TEXT_COLUMNS = [c for c in APPEAL_COLUMNS if c not in TIMES]

# 2025-07-01 09:30[:15[.123]], 2025/7/1 9:30, 2025年7月1日 9时30分, 2025-07-01T09:30:00+08:00, or a date alone
_DATETIME = (
    r"^(?P<y>\d{4}) ?[-/.年] ?(?P<mo>\d{1,2}) ?[-/.月] ?(?P<d>\d{1,2}) ?日?"
    r"(?:(?:[ T]|日)? ?(?P<h>\d{1,2}) ?[:时点] ?(?P<mi>\d{2}) ?分?(?:[:：]?(?P<s>\d{2})(?:\.\d+)? ?秒?)?)?"
    r" ?(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
CHINA_OFFSET_MIN = 8 * 60


def read_appeals(path: str | os.PathLike, encoding: str | None = None, report: dict | None = None) -> pd.DataFrame:
    """The appeals table as read (CSV cells as text, Parquet typed); an unreadable file is refused by name.
    A CSV is UTF-8 or GB18030/GBK, detected or as ``encoding`` names; ``report`` receives the encoding read."""
    return read_table(path, text_columns=[APPEAL_ID, "uscc", "district_code", "channel"], encoding=encoding,
                      report=report)


def parse_datetimes(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``datetime64[ns]`` local China time from ISO and common registry forms; (times, unreadable mask).

    A time with an offset (``Z``, ``+08:00``, ``-05:00``) is converted to China time and the offset
    dropped; a date without a time of day is midnight.  Typed datetime columns (Parquet) pass through
    (time-zone aware ones converted to China time).
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        return values.astype("datetime64[ns]").reset_index(drop=True), np.zeros(len(values), dtype=bool)
    has = present(values)
    if not (pd.api.types.is_string_dtype(values.dtype) or values.dtype == object):
        values = values.astype("string")
    else:
        values = values.astype("string")

    def parse(u: pd.Series) -> pd.Series:
        s = to_arrow(clean_text(u))
        m = pc.extract_regex(s, _DATETIME)
        parts = {}
        for f in ("y", "mo", "d", "h", "mi", "s", "tz"):  # a group that took no part is '' (or null)
            got = pc.struct_field(m, f)
            parts[f] = pc.if_else(pc.equal(got, ""), pa.scalar(None, got.type), got)
        nums = pd.DataFrame(
            {k: pc.cast(parts[k], pa.int64()).to_numpy(zero_copy_only=False) for k in ("y", "mo", "d", "h", "mi", "s")}
        ).astype("float64")
        nums.columns = ["year", "month", "day", "hour", "minute", "second"]
        ok = nums[["year", "month", "day"]].notna().all(axis=1) & nums["year"].between(1678, 2261)
        ok &= nums["hour"].fillna(0).between(0, 23) & nums["minute"].fillna(0).between(0, 59)
        ok &= nums["second"].fillna(0).between(0, 59)
        out = pd.Series(pd.NaT, index=range(len(u)), dtype="datetime64[ns]")
        if ok.any():
            got = pd.to_datetime(nums[ok].fillna(0).astype("int64"), errors="coerce")
            tz = pd.Series(parts["tz"].to_numpy(zero_copy_only=False), dtype="string")[ok.to_numpy()]
            shift = by_unique(tz, _offset_minutes).astype("float64").fillna(CHINA_OFFSET_MIN)
            got = got + pd.to_timedelta(CHINA_OFFSET_MIN - shift.to_numpy(), unit="min")
            out[ok.to_numpy()] = got.astype("datetime64[ns]").to_numpy()
        out.index = u.index
        return out

    times = by_unique(values.reset_index(drop=True), parse).astype("datetime64[ns]")
    return times, has & times.isna().to_numpy()


def _offset_minutes(tz: pd.Series) -> pd.Series:
    def one(t) -> float:
        if not isinstance(t, str) or not t:
            return np.nan
        if t == "Z":
            return 0.0
        sign = -1.0 if t[0] == "-" else 1.0
        digits = t[1:].replace(":", "")
        return sign * (int(digits[:2]) * 60 + int(digits[2:]))

    return pd.Series([one(t) for t in tz.astype(object)], index=tz.index, dtype="float64")


def _vocabulary(values: pd.Series, words: dict[str, str]) -> pd.Series:
    lower = {k.lower(): v for k, v in words.items()}
    return clean_text(values).str.replace(" ", "", regex=False).str.lower().map(lower).astype("string")


def split_departments(values: pd.Series) -> pd.Series:
    """``;``-joined departments: full-width ``；``, ``、`` and ``,`` read as ``;``, parts trimmed, repeats dropped."""
    def norm(u: pd.Series) -> pd.Series:
        out = []
        for text in u.astype(object):
            if not isinstance(text, str):
                out.append(None)
                continue
            parts = [p.strip() for p in text.replace("；", ";").replace("、", ";").replace(",", ";").replace("，", ";").split(";")]
            seen = list(dict.fromkeys(p for p in parts if p))
            out.append(";".join(seen) if seen else None)
        return pd.Series(out, index=u.index, dtype="string")

    return by_unique(clean_text(values.astype("string")), norm).astype("string")


def validate_appeals(
    raw: pd.DataFrame,
    as_of: str | dt.date | dt.datetime | pd.Timestamp | None = None,
    source: str = "appeals",
    *,
    require_received: bool = True,
    link: bool = True,
    window_days: float = 7.0,
    similarity: float = 0.9,
) -> Validated:
    """Clean appeals (input order, ``row`` = 1-based input row) and the rejects of the rest.

    ``as_of`` (a date-time; a date means its midnight) rejects appeals received after it and clears
    workflow times after it.  ``require_received=False`` is for training data, which needs text and
    labels but not the time (``received_at`` is then checked when present).  ``link`` joins duplicate
    arrivals into cases (``case_id``, ``duplicate_of``; see :func:`link_duplicates`).
    """
    required = APPEAL_REQUIRED if require_received else [APPEAL_ID]
    require_columns(raw, required, source)
    if not any(c in raw.columns for c in APPEAL_TEXT):
        raise InputError(f"{source}: missing required column title or body (one of them is needed)")
    as_of_ts = None if as_of is None else _as_datetime(as_of)
    df = raw.reset_index(drop=True)
    n = len(df)
    rows = np.arange(1, n + 1, dtype="int64")
    col = {c: (df[c] if c in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")) for c in APPEAL_COLUMNS}
    log = RejectLog(source)
    rejected = np.zeros(n, dtype=bool)

    def reject(mask: np.ndarray, column: str, reason: str) -> None:
        mask = mask & ~rejected
        log.reject(rows, col.get(column), mask, column, reason)
        rejected[mask] = True

    def clear(mask: np.ndarray, column: str, reason: str) -> np.ndarray:
        mask = mask & ~rejected
        log.clear(rows, col[column], mask, column, reason)
        return mask

    ids = clean_text(col[APPEAL_ID].astype("string"))
    reject(ids.isna().to_numpy(), APPEAL_ID, "missing required value appeal_id")
    received, bad_received = parse_datetimes(col[RECEIVED_AT])
    if require_received:
        reject(~present(col[RECEIVED_AT]), RECEIVED_AT, "missing required value received_at")
    reject(bad_received, RECEIVED_AT, "received_at is not a date-time (expected YYYY-MM-DD HH:MM)")
    if as_of_ts is not None:
        reject((received > as_of_ts).fillna(False).to_numpy(), RECEIVED_AT, "received after as_of")
    title = _display_text(col["title"])
    body = _display_text(col["body"])
    reject(title.isna().to_numpy() & body.isna().to_numpy(), "title", "no text: title and body are both empty")
    dup = ids.where(~rejected).duplicated(keep="first").to_numpy() & ids.notna().to_numpy()
    reject(dup, APPEAL_ID, "duplicate appeal_id (the first row of the id is kept)")

    channel = _vocabulary(col["channel"].astype("string"), CHANNEL_WORDS)
    bad = clear(present(col["channel"]) & channel.isna().to_numpy(), "channel",
                "unknown channel (known: 平台, 12345, 窗口, 走访, 座谈, 来信, 其他 and their usual names)")
    uscc = normalize_uscc(col["uscc"].astype("string"))
    why = uscc_reason(uscc.fillna(""), normalized=True).where(uscc.notna())
    for reason in pd.unique(why.dropna()):
        clear((why == reason).fillna(False).to_numpy(dtype=bool), "uscc", str(reason))
    uscc = uscc.mask(why.notna())
    district = by_unique(col["district_code"].astype("string"), canonical_district_code).astype("string")
    clear(present(col["district_code"]) & district.isna().to_numpy(), "district_code",
          "district code does not exist in GB/T 2260")
    triage = _vocabulary(col["triage"].astype("string"), TRIAGE_WORDS)
    clear(present(col["triage"]) & triage.isna().to_numpy(), "triage",
          "unknown triage level (expected direct, coordinated or escalated)")
    satisfaction = _vocabulary(col["satisfaction"].astype("string"), SATISFACTION_WORDS)
    clear(present(col["satisfaction"]) & satisfaction.isna().to_numpy(), "satisfaction",
          "unknown satisfaction (expected 满意, 基本满意 or 不满意)")

    times = {RECEIVED_AT: received.mask(rejected)}
    for c in WORKFLOW_TIMES:
        t, bad = parse_datetimes(col[c])
        clear(bad, c, f"{c} is not a date-time (expected YYYY-MM-DD HH:MM)")
        if as_of_ts is not None:
            future = (t > as_of_ts).fillna(False).to_numpy()
            t = t.mask(clear(future, c, f"{c} after as_of") | future)
        times[c] = t
    # each stage no earlier than every stage before it (received_at anchors the case)
    for i, c in enumerate(WORKFLOW_TIMES):
        t = times[c]
        for earlier in [RECEIVED_AT, *WORKFLOW_TIMES[:i]]:
            before = (t < times[earlier]).fillna(False).to_numpy()
            if before.any():
                clear(before, c, f"{c} ({STAGE_NAMES[c]}) before {earlier} ({STAGE_NAMES[earlier]})")
                t = t.mask(before)
        times[c] = t

    clean = pd.DataFrame(
        {
            "row": rows,
            APPEAL_ID: ids,
            RECEIVED_AT: times[RECEIVED_AT],
            "channel": channel,
            "uscc": uscc.astype("string"),
            "district_code": district,
            "title": title,
            "body": body,
            "category": _display_text(col["category"]),
            "department": split_departments(col["department"]),
            "triage": triage,
            **{c: times[c] for c in WORKFLOW_TIMES},
            "reply": _display_text(col["reply"]),
            "satisfaction": satisfaction,
        }
    )
    for c in raw.columns:
        if c not in clean.columns:
            clean[c] = df[c].to_numpy()
    clean = clean.loc[~rejected].reset_index(drop=True)
    if link:
        from quanhuiqi.appeals.dedupe import link_duplicates

        clean = link_duplicates(clean, window_days=window_days, similarity=similarity)
    if as_of_ts is not None:
        clean.attrs["as_of"] = as_of_ts
    out = Validated(clean=clean, rejects=log.table(), rows_in=n)
    out.check_invariant()
    return out


def _display_text(values: pd.Series) -> pd.Series:
    """Text as written for display, trimmed (NFKC only: full-width letters and digits → ASCII); blank → missing."""
    return clean_text(values.astype("string"))


def _as_datetime(value) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"as_of {value!r} is not a date-time (expected YYYY-MM-DD[ HH:MM])") from exc
    if pd.isna(ts):
        raise InputError("as_of is missing")
    return ts.tz_convert("Asia/Shanghai").tz_localize(None) if ts.tzinfo else ts


def appeals_file_clean(path: str | os.PathLike, as_of=None, *, encoding: str | None = None,
                       report: dict | None = None, **kwargs) -> Validated:
    """Read and validate an appeals file (CSV or Parquet); the rejects' source is the file name."""
    return validate_appeals(read_appeals(path, encoding, report), as_of, source=os.path.basename(str(path)), **kwargs)


__all__ = ["appeals_file_clean", "parse_datetimes", "read_appeals", "split_departments", "validate_appeals"]
