"""The daily batch job: read the day's snapshot, decide, write the day's outputs atomically.

``run_daily`` is what ``quanhuiqi push`` calls.  Same inputs give byte-identical data files and
manifest (only ``report.json``/``report.html`` carry timings); re-running a date replaces that
date's folder; history dated on or after the run date is ignored, so a re-run never counts its
own pushes; a crash at any point leaves the previous outputs intact (see ``outputs``).

The stages shared with the Spark job (``prepare``, ``finish``) live here too, so both runs read,
report and write the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from quanhuiqi.push.config import load_config
from quanhuiqi.push.matching import postings_pairs
from quanhuiqi.push.outputs import DayWriter, crash_point, dumps, input_hash, recover
from quanhuiqi.push.partition import (
    BatchInput,
    DayContext,
    count_partition,
    enterprise_batches,
    load_state,
    n_partitions,
    partition_of,
    policy_frame,
    rank_partition,
    split_state,
    stage_state,
)
from quanhuiqi.push.progress import Progress, log_event
from quanhuiqi.push.report import PushListCounts, counts, labels, ranked, render_html, trend
from quanhuiqi.push.rules import PushRules
from quanhuiqi.push.sink import PartitionSink
from quanhuiqi.tables.facts import read_fact_table
from quanhuiqi.tables.io import InputError, read_table
from quanhuiqi.tables.rejects import ROW_REJECTED, VALUE_CLEARED, concat_rejects, rejects_for

STATE_TABLES = ("push_history", "grants", "suppressions")
FACT_TABLES = ("certificates", "milestones", "penalties", "yearly", "declarations")  # tables.facts
OUTPUT_TABLES = ("push_list", "auto_grant", "near_miss", "postings_pairs", "held_back", "rejects")
PUSH_LIST_ORDER = ["uscc", "rank"]  # the streamed tables are sorted within partitions (push.sink)


@dataclass
class RunResult:
    """Where the day's outputs are, and the report's numbers."""

    date: str
    out_dir: Path
    files: dict[str, Path]
    report: dict[str, Any] = field(repr=False)

    def summary(self) -> str:
        s = self.report["summary"]
        lines = [
            f"quanhuiqi push {self.date}: {s['pushed']} pushes to {s['enterprises_pushed']} enterprises, "
            f"{s['auto_grants']} 免申即享, {s['near_misses']} near misses, {s['held_back']} held back, "
            f"{s['rejected_rows']} rows rejected",
            f"  push list: {self.files['push_list']}",
            f"  免申即享:  {self.files['auto_grant']}",
            f"  report:    {self.files['report_html']}",
        ]
        a = self.report.get("appeals")
        if a:
            lines.insert(1, f"  appeals: {a['new_cases']} new cases routed ({a['dispatch']}), "
                            f"{sum(a['at_risk_per_department'].values())} at risk, "
                            f"{sum(a['overdue_per_department'].values())} overdue")
        lines += [f"  WARNING: {w}" for w in self.report.get("warnings", [])]
        return "\n".join(lines)


@dataclass
class Prepared:
    """Everything decided before the enterprises are touched."""

    cfg: dict[str, Any]
    day: pd.Timestamp
    date_text: str
    data_dir: Path
    out_dir: Path
    paths: dict[str, Path | None]
    prev_paths: dict[str, Path]
    inputs: dict[str, dict[str, Any]]
    progress: Progress
    warnings: list[str]
    ctx: DayContext | None = None
    model_info: dict[str, Any] = field(default_factory=dict)
    encoding: str | None = None  # of every CSV input, as named (None: detected per file)


# --- reading ---------------------------------------------------------------------------------------


def _locate(data_dir: Path, cfg: dict) -> dict[str, Path | None]:
    found: dict[str, Path | None] = {}
    optional = set(cfg["paths"]["optional"]) | set(FACT_TABLES)  # an absent fact table: its facts are unknown
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: data directory not found")
    for name, rel in cfg["paths"].items():
        if name in ("extra", "optional"):
            continue
        if name in ("postings", "appeals") and not cfg[name]["enabled"]:
            found[name] = None
            continue
        p = data_dir / rel
        if not p.exists():
            if name in optional or name == "appeals":  # appeals are routed when present, never required
                found[name] = None
                continue
            raise InputError(
                f"{p}: input table {name!r} not found (every table of the snapshot is required; "
                f"list it under paths.optional in the configuration to run without it)"
            )
        found[name] = p
    for i, rel in enumerate(cfg["paths"]["extra"]):
        p = data_dir / rel
        if not p.exists():
            raise InputError(f"{p}: extra enterprise source not found")
        found[f"extra[{i}]"] = p
    return found


def _previous_push_lists(out_dir: Path, day: pd.Timestamp, cooldown_days: int) -> dict[str, Path]:
    found = {}
    for k in range(1, cooldown_days + 1):
        d = (day - pd.Timedelta(days=k)).date().isoformat()
        p = out_dir / d / "push_list.parquet"
        if p.exists():
            found[d] = p
    return dict(sorted(found.items()))


def check_extra_columns(extra: list[str], clean: list[str], source: str) -> None:
    """An extra source needs a uscc and may not bring a column the enterprise table already has."""
    if "uscc" not in extra:
        raise InputError(f"{source}: missing required column uscc")
    clash = sorted(set(extra) & set(clean) - {"uscc"})
    if clash:
        raise InputError(f"{source}: column(s) {clash} already exist in the enterprise table")


def clean_columns(raw_columns: list[str], day: dt.date) -> list[str]:
    """The columns of the clean enterprise table made from a raw table with ``raw_columns``."""
    from quanhuiqi.tables import validate_enterprises

    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in raw_columns})
    return list(validate_enterprises(empty, day, "enterprises").clean.columns)


def merge_extra(clean: pd.DataFrame, raw: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join an extra source of facts (uscc + columns) to the clean enterprises; bad rows to rejects.

    A row is rejected when its uscc is missing or not a valid 统一社会信用代码, repeats an earlier
    row's, or names no enterprise of the clean table (unknown, or rejected there); the first row of a
    uscc wins."""
    from quanhuiqi.tables.uscc import normalize_uscc, uscc_reason

    check_extra_columns(list(raw.columns), list(clean.columns), source)
    rows = pd.Series(range(1, len(raw) + 1), dtype="int64")
    key = normalize_uscc(raw["uscc"].astype("string")).astype("string")
    missing = key.isna().to_numpy()
    invalid = uscc_reason(key.fillna(""), normalized=True)
    bad = invalid.notna().to_numpy() & ~missing
    ok = ~missing & ~bad
    dup = (key.duplicated(keep="first") & key.notna()).to_numpy() & ok
    unknown = (~key.isin(set(clean["uscc"].astype(str)))).fillna(True).to_numpy() & ok & ~dup
    raw_text = raw["uscc"].astype("string")
    rej = concat_rejects(
        [
            rejects_for(rows[missing], raw_text[missing], source=source, column="uscc", reason="uscc missing",
                        action=ROW_REJECTED),
            rejects_for(rows[bad], raw_text[bad], source=source, column="uscc", reason=invalid[bad].to_numpy(),
                        action=ROW_REJECTED),
            rejects_for(rows[dup], key[dup], source=source, column="uscc",
                        reason="duplicate uscc (an earlier row of this source wins)", action=ROW_REJECTED),
            rejects_for(rows[unknown], key[unknown], source=source, column="uscc",
                        reason="no such enterprise in the clean enterprise table (unknown or rejected there)",
                        action=ROW_REJECTED),
        ]
    )
    keep = raw.loc[ok & ~dup & ~unknown].assign(uscc=key[ok & ~dup & ~unknown])
    return clean.merge(keep, on="uscc", how="left"), rej


def _load_scorer(model: str | None, cfg: dict) -> tuple[Any, dict[str, Any], list[str]]:
    from quanhuiqi.rank import RuleScorer

    info: dict[str, Any] = {"requested": model, "used": "rules", "fallback": False}
    if not model:
        return RuleScorer(), info, []
    try:
        from quanhuiqi.rank import load_ranker

        scorer = load_ranker(model)
    except Exception as exc:  # the registry may be down, the alias missing, or mlflow absent
        if not cfg["model"]["fallback_to_rules"]:
            raise InputError(f"model {model}: cannot be loaded ({type(exc).__name__}: {str(exc)[:200]})") from exc
        msg = f"model {model} unavailable ({type(exc).__name__}: {str(exc)[:160]}); ranked with the rule scorer instead"
        log_event("model_fallback", level=30, model=model, error=type(exc).__name__)
        info.update(fallback=True, error=f"{type(exc).__name__}: {str(exc)[:300]}")
        return RuleScorer(), info, [msg]
    info["used"] = model
    for attr in ("version", "run_id", "name"):
        if hasattr(scorer, attr):
            info[attr] = str(getattr(scorer, attr))
    return scorer, info, []


def prepare(
    date: str | dt.date,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: str | None,
    config: str | os.PathLike | dict | None,
    encoding: str | None = None,
) -> Prepared:
    """Configuration, recovery of the out folder, input files located and hashed, the book and the ranker."""
    cfg = load_config(config)
    day = pd.Timestamp(date).normalize()
    date_text = day.date().isoformat()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    progress = Progress(f"push:{date_text}")
    prep = Prepared(cfg, day, date_text, data_dir, out_dir, {}, {}, {}, progress, [], encoding=encoding)
    for done in recover(out_dir, date_text):
        log_event("recovered", run=progress.run, action=done)
    with progress.stage("locate"):
        prep.paths = _locate(data_dir, cfg)
        if cfg["history"]["include_previous_outputs"]:
            prep.prev_paths = _previous_push_lists(out_dir, day, cfg["push"]["cooldown_days"])
        for name, p in prep.paths.items():
            if p is None:
                prep.inputs[name] = {"path": None, "absent": True}
                if name in FACT_TABLES:
                    prep.warnings.append(f"fact table {name} is absent: the facts it holds are unknown for everyone")
                elif name != "appeals" and (name != "postings" or cfg["postings"]["enabled"]):
                    prep.warnings.append(f"optional input {name} is absent: counted as empty")
                continue
            prep.inputs[name] = {"path": p.relative_to(data_dir).as_posix(), "sha256": input_hash(p)}
        for d, p in prep.prev_paths.items():
            prep.inputs[f"previous_push_list[{d}]"] = {"path": f"{d}/push_list.parquet", "sha256": input_hash(p)}
    with progress.stage("policies"):
        from quanhuiqi.policy import load_book

        book = load_book(prep.paths["policies"])
        if not book.active(day.date()):  # an empty day is legitimate, but never a silent one
            prep.warnings.append(f"policies: none of the book's {len(book.items)} policies is in force on {date_text} "
                                 "(valid_from … valid_to): nothing to push or grant")
        scorer, prep.model_info, w = _load_scorer(model or cfg["model"]["alias"], cfg)
        prep.warnings += w
    from quanhuiqi.push.partition import _prescore_weights
    from quanhuiqi.push.prescore import policy_terms
    from quanhuiqi.rank.features import policy_frame as ranker_policies

    rank_policies = ranker_policies(book)
    prep.ctx = DayContext(
        as_of=day, book=book, scorer=scorer, rules=PushRules.from_config(cfg), policies=policy_frame(book),
        shortlist=int(cfg["rank"]["shortlist"]), near_miss_per_enterprise=int(cfg["outputs"]["near_miss_per_enterprise"]),
        policy_term=policy_terms(rank_policies, day, _prescore_weights(scorer)), rank_policies=rank_policies,
        sources=_source_map(book, cfg, prep.warnings),
    )
    return prep


def _source_map(book: Any, cfg: dict, warnings: list[str]):
    """Where the book's facts come from, for the readiness section (None when the report leaves it out)."""
    if not cfg["outputs"]["readiness"]:
        return None
    from quanhuiqi.policy.readiness import source_map

    smap = source_map(book)
    unmapped = smap.sources.loc[smap.sources["kind"] == "unmapped", "source"].str.split(":").str[1].tolist()
    if unmapped:
        warnings.append(f"readiness: no known source for field(s) {', '.join(unmapped)} "
                        "(add them to sources.csv beside the policy book)")
    return smap


def readiness_report(prep: Prepared, stats: list[dict[str, Any]], top: int = 10) -> dict[str, Any] | None:
    """The readiness section from the partitions' additive counts (the same whatever the partitioning)."""
    parts = [s["readiness"] for s in stats if s.get("readiness") is not None]
    if prep.ctx.sources is None or not parts:
        return None
    from quanhuiqi.policy.readiness import ReadinessCounts, readiness_tables, report_section

    counts = ReadinessCounts.combine(parts)
    return report_section(readiness_tables(counts, prep.ctx.book, prep.ctx.sources), top)


def read_previous(prev_paths: dict[str, Path]) -> pd.DataFrame | None:
    """The push lists this job wrote for earlier dates within the cool-down (as history rows)."""
    if not prev_paths:
        return None
    return pd.concat([pd.read_parquet(p, columns=["date", "uscc", "policy_id", "verdict"]) for p in prev_paths.values()])


def merge_previous(history: pd.DataFrame | None, previous: pd.DataFrame | None) -> pd.DataFrame | None:
    """Push history plus earlier push lists of this job, one row per (date, uscc, policy): never double-counted."""
    if previous is None:
        return history
    prev = previous.assign(date=pd.to_datetime(previous["date"]).astype("datetime64[ns]"))
    both = [prev] if history is None else [history, prev]
    merged = pd.concat(both, ignore_index=True).astype({"uscc": "string", "policy_id": "string"})
    return merged.drop_duplicates(["date", "uscc", "policy_id"], keep="first").reset_index(drop=True)


def posters(clean: pd.DataFrame, postings_clean: pd.DataFrame | None) -> pd.DataFrame | None:
    """The clean rows of the enterprises that posted (the matcher excludes inactive or dishonest ones)."""
    if postings_clean is None:
        return None
    return clean[clean["uscc"].isin(set(postings_clean["uscc"].dropna().astype(str)))].reset_index(drop=True)


def posting_interactions(raw: pd.DataFrame | None, day: pd.Timestamp, inputs: dict,
                         rejects: list[pd.DataFrame]) -> pd.DataFrame | None:
    """Past contacts → deals, validated: the history the supply–demand matcher's features read."""
    if raw is None:
        return None
    from quanhuiqi.tables import validate_history

    iv = validate_history("posting_interactions", raw, day, "posting_interactions")
    rejects.append(iv.rejects)
    inputs["posting_interactions"].update(rows=len(raw), clean=len(iv.clean), rows_rejected=iv.rows_rejected)
    return iv.clean


def combine(frames: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    """Concatenate partition outputs and sort them: the order never depends on the partitioning."""
    nonempty = [f for f in frames if len(f)]
    out = pd.concat(nonempty, ignore_index=True) if nonempty else frames[0].iloc[:0]
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def _code_version() -> str:
    from quanhuiqi.version import __version__

    return __version__


def _sum_counts(dicts: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + int(v)
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


# --- finishing: report, write, publish -------------------------------------------------------------


def formats_of(cfg: dict) -> dict[str, tuple[str, ...]]:
    """The formats each output table is written in (csv only for ``outputs.csv_tables``)."""
    from quanhuiqi.appeals.daily import APPEAL_TABLES

    csv = set(cfg["outputs"]["csv_tables"])
    return {name: tuple(f for f in cfg["outputs"]["formats"] if f != "csv" or name in csv) or ("parquet",)
            for name in OUTPUT_TABLES + APPEAL_TABLES}


def finish(prep: Prepared, w: DayWriter, tables: dict[str, pd.DataFrame], streamed: dict[str, dict[str, Any]],
           stats: list[dict[str, Any]], partitions: int, *, push_counts: PushListCounts | None = None,
           written: dict[str, int] | None = None, trend_counts: tuple[pd.DataFrame, pd.Series] | None = None,
           appeals: Any = None, appeal_files: dict[str, tuple[int, dict[str, Path]]] | None = None,
           ) -> RunResult:
    """Report and write the day's remaining outputs into the open writer (manifest last, swapped in).

    ``tables``: push_list, postings_pairs, rejects (whole frames); ``streamed``: the row counts and
    value counts of the tables the partition sink already wrote (held_back, near_miss, auto_grant).
    A Spark run hands over tables its executors already wrote into the writer's staging folder as
    ``written`` (name: rows) and the push list's report figures as ``push_counts`` (summed over partitions)
    instead of the frames, and the trend's history and grant day counts as ``trend_counts`` (summed too).
    It runs the appeals step in an executor and hands over its result as ``appeals`` (an ``AppealsDay``
    whose tables are empty) and its tables as ``appeal_files`` (name: rows, the file of each format written
    with this writer's bytes), adopted into the day as they are.
    """
    written = dict(written or {})
    cfg, day, date_text, progress = prep.cfg, prep.day, prep.date_text, prep.progress
    appeal_files = dict(appeal_files or {})
    if appeals is None and prep.paths.get("appeals") is not None:
        from quanhuiqi.appeals.daily import appeals_day

        with progress.stage("appeals") as info:
            appeals = appeals_day(prep.paths["appeals"], day, cfg, prep.encoding, prep.inputs["appeals"])
            info.update(new=appeals.report["new_appeals"], cases=appeals.report["cases"])
    if appeals is not None:
        prep.warnings += appeals.warnings
        prep.inputs["appeals"].update(rows=appeals.report["rows"], clean=appeals.report["clean"],
                                      rows_rejected=appeals.report["rows_rejected"])
        tables["rejects"] = concat_rejects([tables["rejects"], appeals.rejects])
        crash_point("appeals")
    rejects = tables["rejects"]
    for s in stats:
        for k, t in s.get("timings", {}).items():
            progress.add_time(f"partitions.{k}", t)
        for k, t in s.get("cpu", {}).items():  # where the partitions ran: this process, or Spark's workers
            progress.add_cpu(f"partitions.{k}", t)
    for name, st in streamed.items():
        progress.add_time(f"partitions.write.{name}", st.get("seconds", 0.0))
    prev_day = (day - pd.Timedelta(days=1)).date().isoformat()
    if push_counts is None:
        prev_file = prep.out_dir / prev_day / "push_list.parquet"
        previous = pd.read_parquet(prev_file, columns=["uscc", "policy_id"]) if prev_file.exists() else None
        push_counts = PushListCounts.of(tables["push_list"], previous)
        del previous
    n_rows = {k: (len(tables[k]) if k in tables else written[k] if k in written else streamed[k]["rows"])
              for k in OUTPUT_TABLES}
    per_verdict = _sum_counts([s["candidates_per_verdict"] for s in stats])
    rej_rows = rejects[rejects["action"] == ROW_REJECTED]
    book = prep.ctx.book
    summary = {
        "enterprises_read": int(prep.inputs["enterprises"].get("rows", 0)),
        "enterprises_clean": int(prep.inputs["enterprises"].get("clean", 0)),
        "partitions": partitions,
        "candidates": int(sum(per_verdict.values())),
        "pushed": push_counts.rows,
        "enterprises_pushed": push_counts.enterprises,
        "held_back": streamed["held_back"]["rows"],
        "auto_grants": streamed["auto_grant"]["rows"],
        "near_misses": streamed["near_miss"]["rows"],
        "postings_pairs": n_rows["postings_pairs"],
        "rejected_rows": int(rej_rows.groupby("source")["row"].nunique().sum()) if len(rej_rows) else 0,
        "cleared_values": int((rejects["action"] == VALUE_CLEARED).sum()),
        "policies": len(prep.ctx.policies),
    }
    report: dict[str, Any] = {
        "date": date_text,
        "warnings": prep.warnings,
        "summary": summary,
        "model": prep.model_info,
        "policy_book_version": str(getattr(book, "version", "")),
        "config": cfg,
        "inputs": prep.inputs,
        "eligibility": {"per_verdict": per_verdict},
        "push": {
            "per_policy": ranked(push_counts.per_policy, 30),
            "per_district": _sum_counts([s["pushed_per_district"] for s in stats]),
            "per_verdict": ranked(push_counts.per_verdict),
            "per_mode": ranked(push_counts.per_mode),
            "held_back_by_rule": ranked(streamed["held_back"]["counts"]),
        },
        "auto_grant": {"per_policy": ranked(streamed["auto_grant"]["counts"], 30)},
        "near_miss": {"per_policy": ranked(streamed["near_miss"]["counts"], 30)},
        "rejects": {
            "by_reason": counts(rejects["source"] + ": " + rejects["reason"].str.replace(r"\brow \d+", "row N", regex=True), top=40),
            "by_source_action": counts(rejects["source"] + " " + rejects["action"]),
        },
        "changes_vs_previous": push_counts.changes(prev_day),
        # the page's words: titles and departments beside policy ids, names beside district codes; 30 days
        "labels": labels(book, _sum_counts([s["pushed_per_district"] for s in stats])),
        "trend": trend(day, prep.out_dir, prep.paths.get("push_history"), prep.paths.get("grants"),
                       {"pushes": push_counts.rows, "auto_grants": streamed["auto_grant"]["rows"]},
                       set(prep.ctx.policies.loc[prep.ctx.policies["mode"] == "auto", "policy_id"].astype(str)),
                       prep.encoding, counted=trend_counts),
    }
    section = readiness_report(prep, stats)
    if section is not None:
        report["readiness"] = section
    if appeals is not None:
        report["appeals"] = appeals.report
        if appeals.emerging is not None:
            report["appeals_emerging"] = appeals.emerging
    formats = formats_of(cfg)
    with progress.stage("write") as info:
        t_write = time.perf_counter()
        report["outputs"] = n_rows
        for name in ("push_list", "postings_pairs", "rejects"):
            if name in written:  # the executors wrote it (its parts are in the staging folder already)
                continue
            w.table(name, tables.pop(name), formats[name])  # written: released (the caller hands the dict over)
            crash_point(f"write:{name}")
        if appeals is not None:
            for name, frame in appeals.tables.items():
                report["outputs"][name] = len(frame)
                w.table(name, frame, formats[name])
            for name, (rows, paths) in appeal_files.items():  # an executor wrote them
                report["outputs"][name] = rows
                for fmt in formats[name]:
                    w.adopt_file(name, fmt, paths[fmt])
            crash_point("write:appeals")
        progress.add_time("write.tables", time.perf_counter() - t_write)
        report["timings_s"] = {k: round(v, 3) for k, v in progress.timings.items()}
        report["cpu_s"] = {k: round(v, 3) for k, v in progress.cpu.items()}
        w.json("report.json", report, record=False)
        if cfg["outputs"]["report_html"]:
            w.text("report.html", render_html(report), record=False)
        manifest = {
            "date": date_text,
            "code_version": _code_version(),
            "policy_book_version": str(getattr(book, "version", "")),
            "model": {k: v for k, v in prep.model_info.items() if k != "error"},
            "config_sha256": hashlib.sha256(dumps(cfg).encode()).hexdigest(),
            "partitions": partitions,
            "inputs": prep.inputs,
            "rows": report["outputs"],
            "reports": ["report.json"] + (["report.html"] if cfg["outputs"]["report_html"] else []),
        }
        final = w.publish(manifest)
        info.update(files=len(w.written) + 2)
    files = {name: final / f"{name}.{formats[name][0]}" for name in OUTPUT_TABLES}
    if appeals is not None:
        files.update({name: final / f"{name}.{formats[name][0]}" for name in [*appeals.tables, *appeal_files]})
    files.update(report_json=final / "report.json", report_html=final / "report.html", manifest=final / "manifest.json")
    log_event("run_done", run=progress.run, out=str(final), pushed=push_counts.rows)
    return RunResult(date=date_text, out_dir=final, files=files, report=report)


def open_writer(prep: Prepared) -> DayWriter:
    """The day's staging writer (use as a context manager: a failure removes the staging folder)."""
    return DayWriter(prep.out_dir, prep.date_text, prep.cfg["outputs"]["formats"])


# --- the local job ---------------------------------------------------------------------------------


def run_daily(
    date: str | dt.date,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: str | None = None,
    config: str | os.PathLike | dict | None = None,
    encoding: str | None = None,
    workers: int | None = None,
) -> RunResult:
    """Run the daily push for ``date`` over the snapshot in ``data_dir``; write ``out_dir/<date>/``.

    ``encoding`` names the encoding of every CSV input (default: UTF-8 or GB18030/GBK, detected per file);
    the report records each input's.  ``workers``: processes for the partitions and the supply–demand
    matching (default: the configuration's ``run.workers``); the outputs are the same for any number.  With
    more than one, a script calling this must keep its own work under ``if __name__ == "__main__":`` (the
    workers start from a fork server and import the script's main module, as multiprocessing does)."""
    from quanhuiqi.tables import read_enterprises, validate_enterprises, validate_history

    prep = prepare(date, data_dir, out_dir, model, config, encoding)
    cfg, day, progress, inputs = prep.cfg, prep.day, prep.progress, prep.inputs

    with progress.stage("read") as info:
        raw: dict[str, pd.DataFrame] = {}
        for name, p in prep.paths.items():
            if p is None or name in ("policies", "appeals"):  # appeals: read by their own step (finish)
                continue
            if name == "enterprises":
                raw[name] = read_enterprises(p, encoding=encoding, report=inputs[name])
            elif name in FACT_TABLES:
                raw[name] = read_fact_table(name, p, encoding=encoding, report=inputs[name])
            else:
                raw[name] = read_table(p, encoding=encoding, report=inputs[name])
            inputs[name]["rows"] = len(raw[name])
        info["tables"] = len(raw)
    crash_point("read")

    rejects_parts = []
    with progress.stage("validate") as info:
        v = validate_enterprises(raw.pop("enterprises"), day, "enterprises")
        clean = v.clean
        rejects_parts.append(v.rejects)
        inputs["enterprises"].update(clean=len(clean), rows_rejected=v.rows_rejected)
        for i, rel in enumerate(cfg["paths"]["extra"]):  # rejects name the source as configured
            name = f"extra[{i}]"
            clean, rej = merge_extra(clean, raw.pop(name), f"{name} {rel}")
            rejects_parts.append(rej)
            inputs[name].update(rows_rejected=int(rej["row"].nunique()) if len(rej) else 0)
        state: dict[str, pd.DataFrame | None] = {}
        for name in STATE_TABLES:
            if name not in raw:
                state[name] = None
                continue
            sv = validate_history(name, raw.pop(name), day, name)
            state[name] = sv.clean
            rejects_parts.append(sv.rejects)
            inputs[name].update(clean=len(sv.clean), rows_rejected=sv.rows_rejected)
        facts = validate_facts(raw, clean[["uscc", "row"]], day, prep.ctx.book, inputs, rejects_parts)
        interactions = posting_interactions(raw.pop("posting_interactions", None), day, inputs, rejects_parts)
        postings_clean = None
        if "postings" in raw:
            from quanhuiqi.postings import validate_postings

            pv = validate_postings(raw.pop("postings"), day, "postings")
            postings_clean = pv.clean
            rejects_parts.append(pv.rejects)
            inputs["postings"].update(clean=len(pv.clean), rows_rejected=pv.rows_rejected)
        state["push_history"] = merge_previous(state["push_history"], read_previous(prep.prev_paths))
        info.update(enterprises=len(clean))
    crash_point("validate")

    if workers is not None:  # the report and the manifest record what the run used
        if workers < 1:
            raise InputError(f"workers must be >= 1, got {workers}")
        cfg["run"]["workers"] = int(workers)
    workers = int(cfg["run"]["workers"])
    postings_job = [postings_clean, day, posters(clean, postings_clean), cfg, interactions]
    del postings_clean, interactions
    pairs = None
    if workers <= 1:  # with workers, the matching runs in one of them beside the partitions' first pass
        with progress.stage("postings") as info:  # first: its peak comes before the partitions' outputs exist
            pairs = postings_pairs(*postings_job)
            info.update(pairs=len(pairs))
        del postings_job
        crash_point("postings")

    parts = n_partitions(cfg, int(inputs["enterprises"]["rows"]))
    with open_writer(prep) as w, PartitionSink(w, formats_of(cfg)) as sink, passes_staging(prep) as staging:
        with progress.stage("partitions", partitions=parts, workers=workers) as info:
            batches = _partition_batches(clean, state, facts, parts, int(cfg["run"]["batch_size"]))
            del clean, state, facts  # the batches hold the rows now
            if workers > 1:
                pairs = _passes_in_pool(prep, batches, sink, staging, workers, postings_job)
            else:
                _passes_here(prep, batches, sink, staging)
            streamed = sink.close()
            tables = {"push_list": combine(sink.push_lists or [empty_push_list()], PUSH_LIST_ORDER)}
            info.update(pushed=len(tables["push_list"]), held_back=streamed["held_back"]["rows"])
        crash_point("partitions")
        tables["postings_pairs"] = pairs
        tables["rejects"] = concat_rejects(rejects_parts)
        return finish(prep, w, tables, streamed, sink.stats, parts)


BatchKey = tuple[int, int]  # (partition, batch within it)


def _batch_name(key: BatchKey) -> str:
    """A batch's name in the staging folder's file names (their order is the batches')."""
    return f"{key[0]:06d}-{key[1]:06d}"


def _state_file(staging: Path, key: BatchKey) -> Path:
    """Where pass 1 leaves a batch's state for pass 2 (in this process or a worker)."""
    return staging / f"state-{_batch_name(key)}.pkl"


def _partition_batches(clean: pd.DataFrame, state: dict[str, pd.DataFrame | None], facts: Any, parts: int,
                       batch_size: int) -> Iterator[tuple[BatchKey, BatchInput]]:
    """The city's enterprise batches in (partition, batch) order, each with its rows of the state and fact
    tables; a partition larger than ``batch_size`` is cut into batches (``partition.enterprise_batches``).
    Handed over: each batch's rows are released once the consumer is done with it."""
    numbers = partition_of(clean["uscc"], parts)
    groups = pd.Series(numbers).groupby(numbers).indices
    del numbers
    by_part = {name: split_state(state[name], parts) for name in STATE_TABLES}
    empty = {name: _empty_like(state[name]) for name in STATE_TABLES}
    fact_parts = {name: (split_state(getattr(facts, name), parts), getattr(facts, name).iloc[:0])
                  for name in facts.supplied()}
    state.clear()
    for p in sorted(groups):
        whole = BatchInput(
            clean.iloc[groups.pop(p)].reset_index(drop=True),
            history=by_part["push_history"].pop(p, empty["push_history"]),
            grants=by_part["grants"].pop(p, empty["grants"]),
            suppressions=by_part["suppressions"].pop(p, empty["suppressions"]),
            facts=partition_facts(fact_parts, p),
        )
        cut = enterprise_batches(whole, batch_size)
        del whole  # the batches hold its rows now
        for b, batch in enumerate(cut):
            yield (p, b), batch
            del batch


def _passes_here(prep: Prepared, batches: Iterator[tuple[BatchKey, BatchInput]], sink: PartitionSink,
                 staging: Path) -> None:
    """Both passes in this process: pass 1 counts every batch and stages its state, pass 2 ranks each
    against the city's statistics (the batches in (partition, batch) order) into the sink."""
    progress = prep.progress
    counts, staged = [], {}
    for key, batch in progress.iterate(batches, total=None, desc="partitions (count)", unit="batch"):
        part_state, part_counts = count_partition(batch.clean, prep.ctx, history=batch.history, grants=batch.grants,
                                                  suppressions=batch.suppressions, facts=batch.facts)
        del batch
        counts.append(part_counts)
        clock = progress.clock()
        staged[key] = stage_state(part_state, _state_file(staging, key))
        clock.lap("partitions.stage")
        del part_state
    ctx = with_city(prep, counts)
    del counts
    for key in progress.iterate(sorted(staged), total=len(staged), desc="partitions (rank)", unit="batch"):
        clock = progress.clock()
        part_state = load_state(staged[key])
        os.remove(staged[key])
        clock.lap("partitions.stage")
        sink.add(rank_partition(part_state, ctx))
        del part_state
        crash_point("partition")


def _passes_in_pool(prep: Prepared, batches: Iterator[tuple[BatchKey, BatchInput]], sink: PartitionSink,
                    staging: Path, workers: int, postings_job: list) -> pd.DataFrame:
    """Both passes on ``workers`` processes (``run.workers``), the supply–demand matching beside the first
    pass (``postings_job``: its arguments, handed over and emptied); the sink takes the batches in
    (partition, batch) order as in one process.  Returns the pairs."""
    from quanhuiqi.push.workers import count_task, ordered, postings_task, rank_task, worker_pool

    progress = prep.progress
    ahead = 2 * workers  # tasks in flight: one running and one queued per worker
    with worker_pool(workers, prep.ctx) as pool:
        # first: the longest single task; its inputs go through a file, so this process holds them no longer
        matching = pool.submit(postings_task, str(stage_state(postings_job, staging / "postings.pkl")))
        postings_job.clear()
        counts, staged = [], []

        for (key, _), (part_counts, timings, cpu) in ordered(
                pool, count_task, batches, lambda kb: (kb[1], str(_state_file(staging, kb[0]))), ahead):
            counts.append(part_counts)
            staged.append(key)
            for k in timings:
                progress.add_time(f"partitions.{k}", timings[k])
                progress.add_cpu(f"partitions.{k}", cpu[k])
        clock = progress.clock()
        ctx = with_city(prep, counts)
        del counts
        city_file = stage_state(ctx.city, staging / "city.pkl")
        clock.lap("partitions.city")
        for _, ranked in progress.iterate(
                ordered(pool, rank_task, staged,
                        lambda k: (str(_state_file(staging, k)), str(city_file), str(staging), _batch_name(k)), ahead),
                total=len(staged), desc="partitions (rank)", unit="batch"):
            sink.add_staged(ranked.push_list, ranked.stats, ranked.staged)
            crash_point("partition")
        clock = progress.clock()
        pairs, seconds, cpu = matching.result()
        clock.lap("partitions.wait_postings")
    progress.add_time("postings", seconds)  # in a worker, beside the first pass
    progress.add_cpu("postings", cpu)
    log_event("stage_done", run=progress.run, stage="postings", seconds=seconds, pairs=len(pairs), worker=True)
    return pairs


@contextmanager
def passes_staging(prep: Prepared) -> Iterator[Path]:
    """A folder for the partitions' first-pass states, inside the out folder and named like the day's
    staging (a run that dies leaves nothing the next run of that day does not remove); removed at the end."""
    path = prep.out_dir / f".staging-{prep.date_text}-passes-{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def with_city(prep: Prepared, counts: list[Any]) -> DayContext:
    """The day's context with the city's statistics: every partition's counts summed (timed); as it is
    when no partition holds an enterprise."""
    from quanhuiqi.rank.city import CityStatistics

    if not counts:
        return prep.ctx
    clock = prep.progress.clock()
    city = CityStatistics.sum(counts).prepared()
    clock.lap("partitions.city")
    return replace(prep.ctx, city=city)


def validate_facts(raw: dict[str, pd.DataFrame], known_uscc: pd.DataFrame, day: pd.Timestamp, book: Any,
                   inputs: dict, rejects: list[pd.DataFrame]):
    """The fact tables of the snapshot, validated against the clean enterprises (a row of an enterprise the
    table does not hold is rejected) and the book's vocabularies; absent tables stay unsupplied."""
    from quanhuiqi.tables.facts import FactTables, validate_fact_table

    facts = FactTables()
    vocab = book.table_vocabularies()
    for name in FACT_TABLES:
        if name not in raw:
            continue
        v = validate_fact_table(name, raw.pop(name), day, known_uscc, name, vocab)
        setattr(facts, name, v.clean)
        rejects.append(v.rejects)
        inputs[name].update(clean=len(v.clean), rows_rejected=v.rows_rejected)
    return facts


def partition_facts(fact_parts: dict[str, tuple[dict[int, pd.DataFrame], pd.DataFrame]], p: int):
    """One partition's fact tables (a supplied table with no rows there is supplied and empty)."""
    from quanhuiqi.tables.facts import FactTables

    out = FactTables()
    for name, (parts, empty) in fact_parts.items():
        setattr(out, name, parts.pop(p, empty))
    return out


def empty_push_list() -> pd.DataFrame:
    from quanhuiqi.push.rules import PUSH_LIST_COLUMNS

    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "rank" else "float64" if c == "score" else "string")
                         for c in PUSH_LIST_COLUMNS})


def _empty_like(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if frame is None else frame.iloc[:0]
