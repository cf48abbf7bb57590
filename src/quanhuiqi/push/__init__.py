"""The daily batch job: push rules, outputs, run report (``quanhuiqi push``)."""

from quanhuiqi.push.config import default_config, load_config
from quanhuiqi.push.job import RunResult, run_daily
from quanhuiqi.push.partition import DayContext, process_partition
from quanhuiqi.push.rules import PushDecision, PushRules, apply_push_rules

__all__ = [
    "DayContext",
    "PushDecision",
    "PushRules",
    "RunResult",
    "apply_push_rules",
    "default_config",
    "load_config",
    "process_partition",
    "run_daily",
]
