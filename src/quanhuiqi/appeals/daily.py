"""The daily job's appeals step: route the day's new appeals and write the response clock's lists.

Runs when the data folder holds ``appeals.csv`` (or the configured file).  The clock runs at the run
date's midnight over every case received before it; the day's new appeals are those received in the
``new_days`` days before that moment.  Routing uses the configured model (``NAME@ALIAS``), the latest
registered appeals model (``latest``, the default), or none; when no model can be loaded the new appeals
still get masked text and rule-based triage and go to 人工分拨, and the report says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quanhuiqi.appeals.clock import calendar_ending_warning, response_clock
from quanhuiqi.appeals.dedupe import cases
from quanhuiqi.appeals.route import route_appeals, unrouted
from quanhuiqi.appeals.triage import TriageRules
from quanhuiqi.appeals.validate import read_appeals, validate_appeals
from quanhuiqi.tables.io import InputError

APPEAL_TABLES = ("appeals_routed", "appeals_at_risk", "appeals_overdue", "appeals_department_stats")


@dataclass
class AppealsDay:
    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    report: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    emerging: dict[str, Any] | None = None  # the day's emerging issues (appeals.issues_state set)


def load_model_for_day(ref: str | None) -> tuple[Any, dict[str, Any], list[str]]:
    """(model or None, what was used, warnings) for ``appeals.model`` = NAME@ALIAS | latest | null."""
    info: dict[str, Any] = {"requested": ref, "used": None}
    if ref is None:
        return None, info, ["appeals: no routing model configured (appeals.model: null): new appeals go to 人工分拨"]
    from quanhuiqi.appeals.registered import load_appeals_model

    try:
        model = load_appeals_model(None if ref == "latest" else ref)
    except Exception as exc:  # none registered, registry down, alias missing
        msg = (f"appeals: routing model {ref} unavailable ({type(exc).__name__}: {str(exc)[:160]}); "
               f"new appeals go to 人工分拨")
        return None, {**info, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}, [msg]
    info.update(used=getattr(model, "ref", ref), name=getattr(model, "name", None),
                version=getattr(model, "version", None), department_map_version=model.department_map.version)
    return model, info, []


def appeals_day(path: Path, day: pd.Timestamp, cfg: dict[str, Any], encoding: str | None = None,
                read_as: dict | None = None, loaded: tuple[Any, dict[str, Any], list[str]] | None = None,
                ) -> AppealsDay:
    """Validate, link cases, route the new appeals, run the clock; tables, rejects and the report section.
    ``encoding``: the CSV's (default detected); ``read_as`` receives the encoding read; ``loaded``: what
    :func:`load_model_for_day` returned, when the caller loaded it already (a Spark run loads the model where
    the registry is, on the driver, and runs the step in an executor)."""
    acfg = cfg["appeals"]
    v = validate_appeals(read_appeals(path, encoding, read_as), day, source="appeals")
    clean = v.clean
    since = day - pd.Timedelta(days=float(acfg["new_days"]))
    new = clean[(clean["received_at"] >= since) & (clean["received_at"] < day)].reset_index(drop=True)
    model, model_info, warnings = loaded if loaded is not None else load_model_for_day(acfg["model"])
    warnings = list(warnings)
    if model is not None:
        routed = route_appeals(model, new, history=clean)
    else:
        rules = TriageRules.load(acfg["triage_rules"]) if acfg["triage_rules"] else TriageRules.load()
        routed = unrouted(new, rules, history=clean)
    try:
        clock = response_clock(cases(clean), day, acfg["clock"])
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc
    if ending := calendar_ending_warning(clock.config, day):
        warnings.append(ending)
    first = routed.drop_duplicates("case_id")
    report = {
        "rows": v.rows_in,
        "clean": len(clean),
        "rows_rejected": v.rows_rejected,
        "cases": int(clean["case_id"].nunique()),
        "new_appeals": len(routed),
        "new_cases": int(routed["case_id"].nunique()),
        "model": model_info,
        "dispatch": {str(k): int(n) for k, n in first["dispatch"].value_counts().sort_index().items()},
        "triage": {str(k): int(n) for k, n in first["triage"].value_counts().sort_index().items()},
        "new_per_department": {str(k): int(n) for k, n in
                               first["department"].fillna("(人工分拨)").value_counts().sort_index().items()},
        "at_risk_per_department": _per_department(clock.at_risk),
        "overdue_per_department": _per_department(clock.overdue),
        "calendar": clock.calendar_note,
    }
    tables = {"appeals_routed": routed, "appeals_at_risk": clock.at_risk, "appeals_overdue": clock.overdue,
              "appeals_department_stats": clock.department_stats}
    emerging = None
    if acfg.get("issues_state"):  # issue mining (issue 18): the day's appeals attach to the saved issues
        from quanhuiqi.appeals.trends import emerging_for_day

        emerging = emerging_for_day(clean, day, acfg["issues_state"], new_days=float(acfg["new_days"]))
    return AppealsDay(tables, v.rejects, report, warnings, emerging)


def _per_department(listing: pd.DataFrame) -> dict[str, int]:
    counts = listing.groupby("department")["case_id"].nunique()
    return {str(k): int(n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}
