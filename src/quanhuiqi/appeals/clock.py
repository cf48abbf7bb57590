"""The response clock: the "2110" rule counted in working time on China's official calendar.

Working time is a number: :class:`WorkingCalendar` maps every instant to the working seconds elapsed
since the calendar's first day (0 outside the working windows and on rest days; official holidays and
adjusted working days — 调休 — from the ``chinese-calendar`` package).  A deadline is the instant at
which the working seconds since ``received_at`` reach the stage's limit; elapsed and remaining time are
differences of that number, so the clock over a million appeals is a few vectorised numpy passes.

The holiday package only knows the years it was released for (``chinese_calendar`` 1.11: 2004–2026).
A recorded time or the clock's own day outside them is refused with an error naming the year
(``outside_known_years: error``, the default), or counted as Monday–Friday without holidays
(``weekdays``), which the result says in ``calendar_note``.  A deadline that falls in such a year
(a case received late in December) depends on a calendar nobody has loaded yet: it is given counted
Monday–Friday there and marked ``deadline_provisional`` — its case's elapsed and remaining working time
and its state are exact, since they count only days the package knows.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from quanhuiqi.appeals.columns import RECEIVED_AT, STAGE_NAMES, WORKFLOW_TIMES
from quanhuiqi.tables.io import InputError

UNASSIGNED = "(未分拨)"
_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS


@cache
def _default_text() -> str:
    return resources.files("quanhuiqi.appeals").joinpath("clock.yaml").read_text(encoding="utf-8")


def default_clock_config() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(_default_text()))


def load_clock_config(config: str | os.PathLike | dict | None = None) -> dict[str, Any]:
    """Defaults overridden by a YAML file or dict; unknown keys and bad values refused by name."""
    cfg = default_clock_config()
    if config is None:
        return cfg
    source = "clock config"
    if not isinstance(config, dict):
        path = Path(config)
        source = str(path)
        if not path.exists():
            raise InputError(f"{path}: clock configuration not found")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML ({str(exc)[:200]})") from exc
        if not isinstance(config, dict):
            raise InputError(f"{path}: the clock configuration must be a mapping")
    for key, value in config.items():
        if key not in cfg:
            raise InputError(f"{source}: unknown clock setting {key!r} (known: {', '.join(sorted(cfg))})")
        if key == "stages":
            if not isinstance(value, dict):
                raise InputError(f"{source}: stages must be a mapping of stage name → settings")
            stages = {}
            for name, st in value.items():
                base = cfg["stages"].get(name, {"end": None, "limit": None, "unit": "working_days"})
                if not isinstance(st, dict):
                    raise InputError(f"{source}: stages.{name} must be a mapping")
                unknown = set(st) - {"end", "limit", "unit"}
                if unknown:
                    raise InputError(f"{source}: stages.{name}: unknown setting(s) {sorted(unknown)}")
                stages[name] = {**base, **st}
            cfg["stages"] = {**cfg["stages"], **stages}
        else:
            cfg[key] = value
    _check(cfg, source)
    return cfg


def _check(cfg: dict, source: str) -> None:
    for name, st in cfg["stages"].items():
        if st.get("end") not in WORKFLOW_TIMES:
            raise InputError(f"{source}: stages.{name}.end must be one of {WORKFLOW_TIMES}, got {st.get('end')!r}")
        lim = st.get("limit")
        if isinstance(lim, bool) or not isinstance(lim, int | float) or lim <= 0:
            raise InputError(f"{source}: stages.{name}.limit must be a positive number, got {lim!r}")
        if st.get("unit") not in ("working_hours", "working_days"):
            raise InputError(f"{source}: stages.{name}.unit must be working_hours or working_days, got {st.get('unit')!r}")
    share = cfg["at_risk_share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        raise InputError(f"{source}: at_risk_share must be in [0, 1), got {share!r}")
    if cfg["calendar"] not in ("china", "weekdays"):
        raise InputError(f"{source}: calendar must be china or weekdays, got {cfg['calendar']!r}")
    if cfg["outside_known_years"] not in ("error", "weekdays"):
        raise InputError(f"{source}: outside_known_years must be error or weekdays, got {cfg['outside_known_years']!r}")
    _windows(cfg["working_hours"], source)


def _windows(spec, source: str = "clock config") -> np.ndarray:
    """[[start, end], …] as seconds since midnight, checked: ordered, not overlapping, non-empty."""
    try:
        out = []
        for start, end in spec:
            s = [int(x) for x in str(start).split(":")]
            e = [int(x) for x in str(end).split(":")]
            out.append((s[0] * 3600 + s[1] * 60, e[0] * 3600 + e[1] * 60))
    except (TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{source}: working_hours must be a list of [HH:MM, HH:MM] windows ({exc})") from exc
    arr = np.array(out, dtype=np.int64).reshape(-1, 2)
    if len(arr) == 0 or (arr[:, 1] <= arr[:, 0]).any() or (arr[1:, 0] < arr[:-1, 1]).any() or arr.max() > 86400:
        raise InputError(f"{source}: working_hours windows must be non-empty, ordered and not overlapping: {spec}")
    return arr


@cache
def _holiday_years() -> tuple[int, int]:
    import chinese_calendar.constants as k

    years = [d.year for d in list(k.holidays) + list(k.workdays)]
    return min(years), max(years)


def _package() -> str:
    """The holiday package as messages name it, with its version (which years it knows depends on it)."""
    import chinese_calendar

    return f"chinese-calendar {getattr(chinese_calendar, '__version__', '?')}"


def _unknown_years(years: list[int], what: str = "") -> InputError:
    lo, hi = _holiday_years()
    return InputError(
        f"the official holiday calendar ({_package()}) "
        f"knows {lo}-{hi}, not {', '.join(map(str, years))}{what}: update the package (pip install -U "
        f"chinese-calendar) or set outside_known_years: weekdays to count Monday-Friday there"
    )


def calendar_ending_warning(cfg: dict[str, Any], day, notice_days: int = 31) -> str | None:
    """A warning in the last ``notice_days`` of the last year the holiday package knows, when the clock would
    refuse the next one (``calendar: china``, ``outside_known_years: error``): a daily job reads it weeks
    before its first day in that year fails, not on that day."""
    if cfg["calendar"] != "china" or cfg["outside_known_years"] != "error":
        return None
    hi = _holiday_years()[1]
    ends = pd.Timestamp(year=hi + 1, month=1, day=1)
    if not ends - pd.Timedelta(days=notice_days) <= pd.Timestamp(day).normalize() < ends:
        return None
    return (f"appeals: the holiday calendar ({_package()}) "
            f"knows years up to {hi}; from {ends.date()} the response clock refuses, and a daily job with appeals "
            f"with it, until the package knows {hi + 1} (pip install -U chinese-calendar) or "
            f"outside_known_years is set to weekdays")


def official_workdays(days: pd.DatetimeIndex, outside_known_years: str = "error") -> tuple[np.ndarray, list[int]]:
    """Is each day a working day on China's official calendar (holidays off, 调休 working weekends on)?

    Returns (flags, years counted as plain weekdays because the package does not know them)."""
    import chinese_calendar

    lo, hi = _holiday_years()
    years = days.year.to_numpy()
    outside = (years < lo) | (years > hi)
    weekday = days.dayofweek.to_numpy() < 5
    flags = weekday.copy()
    if outside.any() and outside_known_years == "error":
        raise _unknown_years(sorted(set(years[outside].tolist())))
    inside = np.flatnonzero(~outside)
    holidays = {d for d in chinese_calendar.constants.holidays}
    workdays = {d for d in chinese_calendar.constants.workdays}
    dates = days[inside].date
    flags[inside] = [(d in workdays) or (d.weekday() < 5 and d not in holidays) for d in dates]
    return flags, sorted(set(years[outside].tolist()))


@dataclass
class WorkingCalendar:
    """Working seconds since ``first_day`` 00:00 for any instant in [first_day, last_day]."""

    first_day: pd.Timestamp
    last_day: pd.Timestamp
    windows: np.ndarray  # (k, 2) seconds since midnight
    workday: np.ndarray  # bool per day
    note: str = ""
    weekday_years: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, first: pd.Timestamp, last: pd.Timestamp, cfg: dict[str, Any]) -> WorkingCalendar:
        first, last = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
        days = pd.date_range(first, last, freq="D")
        if cfg["calendar"] == "weekdays":
            flags, plain = days.dayofweek.to_numpy() < 5, []
        else:
            flags, plain = official_workdays(days, cfg["outside_known_years"])
        return cls(first, last, _windows(cfg["working_hours"]), np.asarray(flags, dtype=bool),
                   _calendar_note(cfg, plain, [], 0), plain)

    @property
    def day_seconds(self) -> int:
        return int((self.windows[:, 1] - self.windows[:, 0]).sum())

    def _cum_before(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.workday.astype(np.int64) * self.day_seconds)])

    def working_seconds(self, t: np.ndarray) -> np.ndarray:
        """Working seconds from ``first_day`` 00:00 to each instant (datetime64[ns]; NaT → NaN)."""
        t = np.asarray(t, dtype="datetime64[ns]")
        nat = np.isnat(t)
        ns = t.astype(np.int64) - self.first_day.value
        day = np.where(nat, 0, ns // _DAY_NS)
        if len(day) and ((day[~nat] < 0).any() or (day[~nat] >= len(self.workday)).any()):
            raise ValueError("an instant lies outside the working calendar's span")
        tod = np.where(nat, 0, ns - day * _DAY_NS) / _NS
        within = np.zeros(len(t))
        for start, end in self.windows:
            within += np.clip(tod - start, 0, end - start)
        out = self._cum_before()[day] + self.workday[day] * within
        return np.where(nat, np.nan, out)

    def instant_at(self, seconds: np.ndarray) -> np.ndarray:
        """The first instant at which ``seconds`` working seconds have elapsed (inverse of working_seconds)."""
        w = np.asarray(seconds, dtype=np.float64)
        nan = np.isnan(w)
        cum = self._cum_before()
        cum_end = cum[1:]
        day = np.searchsorted(cum_end, np.where(nan, 0, w), side="left")
        if (day[~nan] >= len(self.workday)).any():
            raise ValueError("a deadline lies beyond the working calendar's span")
        r = np.where(nan, 0, w) - cum[day]
        lengths = self.windows[:, 1] - self.windows[:, 0]
        wend = np.cumsum(lengths)
        j = np.minimum(np.searchsorted(wend, r, side="left"), len(lengths) - 1)
        tod = self.windows[j, 0] + (r - (wend[j] - lengths[j]))
        ns = self.first_day.value + day.astype(np.int64) * _DAY_NS + np.round(tod * _NS).astype(np.int64)
        out = ns.astype("datetime64[ns]")
        out[nan] = np.datetime64("NaT")
        return out


def stage_limits_seconds(cfg: dict, day_seconds: int) -> dict[str, float]:
    return {name: float(st["limit"]) * (3600.0 if st["unit"] == "working_hours" else day_seconds)
            for name, st in cfg["stages"].items()}


@dataclass
class ClockResult:
    """The clock at ``as_of``: per case and stage (``status``), the lists and the statistics."""

    as_of: pd.Timestamp
    status: pd.DataFrame
    at_risk: pd.DataFrame
    overdue: pd.DataFrame
    department_stats: pd.DataFrame
    calendar_note: str
    config: dict[str, Any] = field(repr=False)

    def summary(self) -> str:
        s = self.status
        open_ = s[s["state"].isin(["open", "at_risk", "overdue"])]
        return (f"clock at {self.as_of}: {s['case_id'].nunique()} cases, {open_['case_id'].nunique()} with an open stage, "
                f"{self.at_risk['case_id'].nunique()} at risk, {self.overdue['case_id'].nunique()} overdue; "
                f"{self.calendar_note}")


STATUS_COLUMNS = ["case_id", "department", "stage", "stage_name", "limit", "unit", "started_at", "deadline",
                  "deadline_provisional", "ended_at", "state", "elapsed_working_hours", "remaining_working_hours"]


def response_clock(cases: pd.DataFrame, as_of, config: str | os.PathLike | dict | None = None) -> ClockResult:
    """Every case's stages against the "2110" limits at ``as_of``; lists at risk and overdue per department.

    ``cases``: one row per case (``quanhuiqi.appeals.cases`` of validated appeals; rows received after
    ``as_of`` are left out).  States: ``done`` (ended in time), ``late`` (ended after its deadline),
    ``open`` (not ended, deadline not near), ``at_risk`` (not ended, no more than ``at_risk_share`` of the
    limit left), ``overdue`` (not ended, deadline passed), ``not_recorded`` (not ended but a later stage was:
    the record is incomplete, the clock does not run).  A case with several departments is listed under each.
    """
    cfg = config if isinstance(config, dict) and "stages" in config and "calendar" in config else load_clock_config(config)
    as_of_ts = pd.Timestamp(as_of)
    if as_of_ts.tzinfo is not None:
        as_of_ts = as_of_ts.tz_convert("Asia/Shanghai").tz_localize(None)
    c = cases[cases[RECEIVED_AT] <= as_of_ts]
    c = c[c[RECEIVED_AT].notna()].reset_index(drop=True)
    received = c[RECEIVED_AT].to_numpy(dtype="datetime64[ns]")
    stages = cfg["stages"]
    longest = max((float(st["limit"]) * (1 if st["unit"] == "working_days" else 1 / 8) for st in stages.values()), default=1)
    first = pd.Timestamp(received.min()) if len(received) else as_of_ts
    last_needed = max(as_of_ts, pd.Timestamp(received.max()) if len(received) else as_of_ts)
    for col in WORKFLOW_TIMES:
        if col in c.columns and c[col].notna().any():
            last_needed = max(last_needed, pd.Timestamp(c[col].max()))
    # room for the longest limit after the last instant: rest days and long holidays included.  The room may
    # reach a year the holiday package does not know (in December, the next one): only the day and the times
    # recorded must lie in known years; a deadline beyond them is provisional (module docstring)
    last = last_needed + pd.Timedelta(days=int(longest * 2) + 21)
    cal = WorkingCalendar.build(first, last, {**cfg, "outside_known_years": "weekdays"})
    unknown = np.array(cal.weekday_years, dtype=np.int64)
    recorded = [received, np.array([as_of_ts.to_datetime64()])]
    recorded += [c[col].to_numpy(dtype="datetime64[ns]") for col in WORKFLOW_TIMES if col in c.columns]
    recorded_unknown = sorted(set(_years(np.concatenate(recorded)).tolist()) & set(unknown.tolist()))
    if recorded_unknown and cfg["outside_known_years"] == "error":
        raise _unknown_years(recorded_unknown, " (the clock's day or a time recorded in the appeals)")
    limits = stage_limits_seconds(cfg, cal.day_seconds)
    w_start = cal.working_seconds(received)
    w_now = cal.working_seconds(np.array([as_of_ts.to_datetime64()]))[0]
    order = [c_ for c_ in WORKFLOW_TIMES]
    n, names = len(c), list(stages)
    case_id = (c["case_id"] if "case_id" in c.columns else c["appeal_id"]).astype("str").reset_index(drop=True)
    dep = (c["department"].astype("string").fillna(UNASSIGNED) if "department" in c.columns
           else pd.Series([UNASSIGNED] * n, dtype="string"))
    dep_code, dep_names = pd.factorize(dep.reset_index(drop=True), sort=True)
    # every column of the status table as arrays over (stage, case): strings are coded, never per row
    cols: dict[str, list] = {k: [] for k in ("deadline", "ended", "state", "elapsed", "remaining", "has_end")}
    for name, st in stages.items():
        end_col = st["end"]
        ended = c[end_col].to_numpy(dtype="datetime64[ns]") if end_col in c.columns else np.full(n, np.datetime64("NaT"))
        later = [x for x in order[order.index(end_col) + 1:] if x in c.columns]
        later_done = np.zeros(n, dtype=bool)
        for x in later:
            later_done |= c[x].notna().to_numpy()
        deadline_w = w_start + limits[name]
        has_end = ~np.isnat(ended)
        w_end = cal.working_seconds(ended)
        remaining = deadline_w - np.where(has_end, w_end, w_now)
        state = np.where(
            has_end,
            np.where(w_end <= deadline_w, _DONE, _LATE),
            np.where(later_done, _NOT_RECORDED,
                     np.where(remaining < 0, _OVERDUE,
                              np.where(remaining <= cfg["at_risk_share"] * limits[name], _AT_RISK, _OPEN))),
        ).astype(np.int8)
        cols["deadline"].append(cal.instant_at(deadline_w))
        cols["ended"].append(ended)
        cols["state"].append(state)
        cols["elapsed"].append(np.where(has_end, w_end - w_start, w_now - w_start))
        cols["remaining"].append(remaining)
        cols["has_end"].append(has_end)
    k = len(names)
    stage_code = np.repeat(np.arange(k), n)
    row = np.tile(np.arange(n), k)
    cat = {key: np.concatenate(v) if v else np.zeros(0) for key, v in cols.items()}
    state = cat["state"].astype(np.int8) if k else np.zeros(0, dtype=np.int8)
    has_end = cat["has_end"].astype(bool) if k else np.zeros(0, dtype=bool)
    deadline = cat["deadline"].astype("datetime64[ns]")
    provisional = np.isin(_years(deadline), unknown)  # NaT: no year, never provisional
    status = pd.DataFrame({
        "case_id": _take(case_id, row),
        "department": _take(pd.Series(dep_names, dtype="str"), dep_code[row]),
        "stage": _take(pd.Series(names, dtype="string"), stage_code),
        "stage_name": _take(pd.Series([STAGE_NAMES.get(st["end"], st["end"]) for st in stages.values()], dtype="str"),
                            stage_code),
        "limit": np.array([float(st["limit"]) for st in stages.values()])[stage_code] if k else np.zeros(0),
        "unit": _take(pd.Series([st["unit"] for st in stages.values()], dtype="str"), stage_code),
        "started_at": np.tile(received, k),
        "deadline": deadline,
        "deadline_provisional": provisional,
        "ended_at": cat["ended"].astype("datetime64[ns]"),
        "state": _take(pd.Series(STATES, dtype="string"), state),
        "elapsed_working_hours": np.round(cat["elapsed"] / 3600.0, 3),
        "remaining_working_hours": np.where(has_end, np.nan, np.round(cat["remaining"] / 3600.0, 3)),
    })
    atoms, atom_names = _department_atoms(dep_names)
    # the status rows per department (a case with several departments is listed under each)
    exp_row, exp_dep = _explode_codes(dep_code[row], atoms)
    at_risk = _listing(status, exp_row, exp_dep, atom_names, state[exp_row] == _AT_RISK)
    overdue = _listing(status, exp_row, exp_dep, atom_names, state[exp_row] == _OVERDUE)
    case_code = pd.factorize(case_id)[0]
    stats = _department_statistics(c, case_code, dep_code, atoms, atom_names, case_code[row][exp_row], exp_dep,
                                   stage_code[exp_row], state[exp_row], names, cal, as_of_ts)
    note = _calendar_note(cfg, recorded_unknown, sorted(set(_years(deadline[provisional]).tolist())),
                          int(provisional.sum()))
    return ClockResult(as_of_ts, status, at_risk, overdue, stats, note, cfg)


def _years(instants: np.ndarray) -> np.ndarray:
    """The calendar year of each instant (datetime64; NaT gives -1, a year no calendar knows)."""
    t = np.asarray(instants, dtype="datetime64[ns]")
    nat = np.isnat(t)
    years = np.where(nat, np.datetime64(0, "Y"), t.astype("datetime64[Y]")).astype(np.int64) + 1970
    return np.where(nat, -1, years)


def _calendar_note(cfg: dict, recorded_unknown: list[int], deadline_unknown: list[int], provisional: int) -> str:
    """What the clock counted on: the official calendar, and any year it did not know, for what."""
    if cfg["calendar"] == "weekdays":
        return "calendar: Monday-Friday, no holidays (calendar: weekdays)"
    note = "calendar: China's official holidays and adjusted working days"
    if recorded_unknown:
        note += f"; {', '.join(map(str, recorded_unknown))} counted Monday-Friday (not known to chinese-calendar)"
    if provisional:
        note += (f"; {provisional} deadline(s) fall in {', '.join(map(str, deadline_unknown))}, not known to "
                 f"chinese-calendar: provisional (deadline_provisional), counted Monday-Friday there")
    return note


STATES = ["done", "late", "not_recorded", "overdue", "at_risk", "open"]
_DONE, _LATE, _NOT_RECORDED, _OVERDUE, _AT_RISK, _OPEN = range(len(STATES))


def _take(values: pd.Series, idx: np.ndarray) -> pd.Series:
    """``values`` at positions ``idx`` as a fresh column (Arrow strings stay Arrow: no Python objects)."""
    return values.take(idx).reset_index(drop=True)


def _department_atoms(dep_names) -> tuple[list[np.ndarray], pd.Index]:
    """For each distinct department value (``;``-joined lists included) the codes of its single departments."""
    parts = [str(d).split(";") for d in dep_names]
    atom_names = pd.Index(sorted({p for ps in parts for p in ps}), dtype="str")
    return [atom_names.get_indexer(ps) for ps in parts], atom_names


def _explode_codes(codes: np.ndarray, atoms: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(row, single-department code) for every row × each of its departments, in row order."""
    sizes = np.array([len(a) for a in atoms], dtype=np.int64)
    if (sizes == 1).all():
        flat = np.concatenate(atoms) if atoms else np.zeros(0, dtype=np.int64)
        return np.arange(len(codes)), flat[codes] if len(flat) else codes
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat = np.concatenate(atoms)
    rep = sizes[codes]
    row = np.repeat(np.arange(len(codes)), rep)
    within = np.arange(len(row)) - np.repeat(np.cumsum(rep) - rep, rep)
    return row, flat[offsets[codes[row]] + within]


def _listing(status: pd.DataFrame, exp_row: np.ndarray, exp_dep: np.ndarray, atom_names: pd.Index,
             keep: np.ndarray) -> pd.DataFrame:
    cols = ["department", "case_id", "stage", "stage_name", "started_at", "deadline", "deadline_provisional",
            "elapsed_working_hours", "remaining_working_hours"]
    rows = status.iloc[exp_row[keep]].reset_index(drop=True)
    rows["department"] = _take(pd.Series(atom_names, dtype="str"), exp_dep[keep])
    return rows.sort_values(["department", "remaining_working_hours", "case_id"], kind="stable")[cols].reset_index(drop=True)


def _nunique_by(group: np.ndarray, item: np.ndarray, size: int) -> np.ndarray:
    """Distinct ``item`` per ``group`` code (0…size-1)."""
    if not len(group):
        return np.zeros(size, dtype=np.int64)
    pairs = np.unique(group.astype(np.int64) * (int(item.max()) + 1) + item)
    return np.bincount(pairs // (int(item.max()) + 1), minlength=size)


def _department_statistics(cases: pd.DataFrame, case_code: np.ndarray, dep_code: np.ndarray, atoms, atom_names,
                           st_case: np.ndarray, st_dep: np.ndarray, st_stage: np.ndarray, st_state: np.ndarray,
                           stage_names: list[str], cal: WorkingCalendar, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per department: cases, open and overdue now, on-time share per stage, working days to resolve and to close."""
    day = cal.day_seconds
    m = len(atom_names)
    w0 = cal.working_seconds(cases[RECEIVED_AT].to_numpy(dtype="datetime64[ns]"))
    row, dep = _explode_codes(dep_code, atoms)
    out = pd.DataFrame({"department": pd.array(atom_names, dtype="str"),
                        "cases": _nunique_by(dep, case_code[row], m)})
    for col, name in (("resolved_at", "days_to_resolve"), ("closed_at", "days_to_close")):
        if col in cases.columns:
            days = (cal.working_seconds(cases[col].to_numpy(dtype="datetime64[ns]")) - w0) / day
        else:
            days = np.full(len(cases), np.nan)
        q = pd.Series(days[row]).groupby(dep)
        out[f"{name}_n"] = q.count().reindex(range(m), fill_value=0).to_numpy()
        out[f"{name}_median"] = q.median().reindex(range(m)).round(2).to_numpy()
        out[f"{name}_p90"] = q.quantile(0.9).reindex(range(m)).round(2).to_numpy()
        out[f"{name}_mean"] = q.mean().reindex(range(m)).round(2).to_numpy()
    ended = (st_state == _DONE) | (st_state == _LATE)
    for s in sorted(set(st_stage[ended].tolist()), key=lambda i: stage_names[i]):
        sel = ended & (st_stage == s)
        n_end = np.bincount(st_dep[sel], minlength=m)
        n_ok = np.bincount(st_dep[sel & (st_state == _DONE)], minlength=m)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"on_time_{stage_names[s]}"] = np.round(np.where(n_end > 0, n_ok / np.maximum(n_end, 1), np.nan), 4)
    open_ = (st_state == _OPEN) | (st_state == _AT_RISK) | (st_state == _OVERDUE)
    out["open_now"] = _nunique_by(st_dep[open_], st_case[open_], m)
    out["at_risk_now"] = _nunique_by(st_dep[st_state == _AT_RISK], st_case[st_state == _AT_RISK], m)
    out["overdue_now"] = _nunique_by(st_dep[st_state == _OVERDUE], st_case[st_state == _OVERDUE], m)
    out = out[out["cases"] > 0].reset_index(drop=True)
    out.insert(1, "as_of", as_of)
    return out


def clock_file(appeals: str | os.PathLike, as_of, out: str | os.PathLike,
               config: str | os.PathLike | dict | None = None, encoding: str | None = None) -> str:
    """``quanhuiqi appeals clock``: read (``encoding`` or detected), validate (rejects beside), link cases, run
    the clock, write the lists."""
    from quanhuiqi.appeals.dedupe import cases as to_cases
    from quanhuiqi.appeals.validate import appeals_file_clean
    from quanhuiqi.tables.io import write_table

    as_of_ts = _parse_as_of(as_of)
    read_as: dict = {}
    v = appeals_file_clean(appeals, as_of_ts, encoding=encoding, report=read_as)
    result = response_clock(to_cases(v.clean), as_of_ts, config)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(result.status, out_dir / "status.parquet")
    for name in ("at_risk", "overdue", "department_stats"):
        frame = getattr(result, name)
        write_table(frame, out_dir / f"{name}.parquet")
        write_table(frame, out_dir / f"{name}.csv")
    write_table(v.rejects, out_dir / "rejects.csv")
    ending = calendar_ending_warning(result.config, as_of_ts)
    return (f"{result.summary()}\n  rows read {v.rows_in} (as {read_as['encoding']}), rejected {v.rows_rejected}, cleared values "
            f"{int((v.rejects['action'] == 'value_cleared').sum())}\n  lists: {out_dir}/at_risk.csv, overdue.csv, "
            f"department_stats.csv" + (f"\n  WARNING: {ending}" if ending else ""))


def _parse_as_of(as_of) -> pd.Timestamp:
    if isinstance(as_of, pd.Timestamp | dt.datetime | dt.date):
        return pd.Timestamp(as_of)
    from quanhuiqi.appeals.validate import parse_datetimes

    t, bad = parse_datetimes(pd.Series([str(as_of)], dtype="string"))
    if bad[0] or pd.isna(t.iloc[0]):
        raise InputError(f"--as-of {as_of!r}: not a date-time (expected YYYY-MM-DD[ HH:MM])")
    return t.iloc[0]
