"""涉企诉求: one pool of enterprise appeals — validated, privacy-masked, routed, triaged and timed (§十四).

appeals table → ``validate_appeals`` (rejects; copies linked into cases) → ``mask_personal_data`` →
``route_appeals`` with a trained ``AppealsModel`` (top-3 category → department, abstention to 人工分拨,
triage with reasons) → ``response_clock`` (the "2110" rule in working time: lists at risk and overdue
per department, time-to-close statistics) → ``group_appeals`` (issues with stable ids), ``detect_bursts`` /
``heat_from_appeals`` (trends), ``affected_segments`` / ``policy_links`` / ``reply_quality`` and the weekly
``report_file``.  The table contract, the masking rules and the model are
documented in ``docs/appeals.md``.
"""

from quanhuiqi.appeals.clock import (
    ClockResult,
    WorkingCalendar,
    clock_file,
    default_clock_config,
    load_clock_config,
    response_clock,
)
from quanhuiqi.appeals.columns import APPEAL_COLUMNS, CHANNELS, ROUTE_COLUMNS, TRIAGE_LEVELS, WORKFLOW_TIMES
from quanhuiqi.appeals.dedupe import cases, link_duplicates
from quanhuiqi.appeals.departments import DepartmentMap, department_map
from quanhuiqi.appeals.features import AppealTextVectorizer, model_text
from quanhuiqi.appeals.insight import affected_segments, policy_links, reply_quality
from quanhuiqi.appeals.issues import IssueState, group_appeals, group_file, issue_table
from quanhuiqi.appeals.model import AppealsModel
from quanhuiqi.appeals.privacy import KINDS as PERSONAL_DATA_KINDS
from quanhuiqi.appeals.privacy import find_personal_data, mask_personal_data, mask_text
from quanhuiqi.appeals.registered import load_appeals_model, log_appeals_model
from quanhuiqi.appeals.report import build_report, report_file
from quanhuiqi.appeals.route import OnlineRouter, route_appeals, route_appeals_file
from quanhuiqi.appeals.train import train_appeals, train_appeals_cli
from quanhuiqi.appeals.trends import detect_bursts, heat_from_appeals, issue_daily
from quanhuiqi.appeals.triage import TriageRules, apply_triage
from quanhuiqi.appeals.validate import parse_datetimes, read_appeals, validate_appeals

__all__ = [
    "APPEAL_COLUMNS",
    "CHANNELS",
    "PERSONAL_DATA_KINDS",
    "ROUTE_COLUMNS",
    "TRIAGE_LEVELS",
    "WORKFLOW_TIMES",
    "AppealTextVectorizer",
    "AppealsModel",
    "ClockResult",
    "DepartmentMap",
    "IssueState",
    "OnlineRouter",
    "TriageRules",
    "WorkingCalendar",
    "affected_segments",
    "apply_triage",
    "build_report",
    "cases",
    "clock_file",
    "default_clock_config",
    "department_map",
    "detect_bursts",
    "find_personal_data",
    "group_appeals",
    "group_file",
    "heat_from_appeals",
    "issue_daily",
    "issue_table",
    "link_duplicates",
    "load_appeals_model",
    "load_clock_config",
    "log_appeals_model",
    "mask_personal_data",
    "mask_text",
    "model_text",
    "parse_datetimes",
    "policy_links",
    "read_appeals",
    "reply_quality",
    "report_file",
    "response_clock",
    "route_appeals",
    "route_appeals_file",
    "train_appeals",
    "train_appeals_cli",
    "validate_appeals",
]
