"""LightGBM plumbing shared by the policy ranker and the supply–demand ranker.

``threads``: how many threads a booster trains and predicts with (the machine is shared, so one unless
told); ``check_params``: parameter overrides must be among the defaults' keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from quanhuiqi.tables.io import InputError


def threads(n: int | None = None) -> int:
    """LightGBM threads: the argument, else ``QUANHUIQI_THREADS``, else 1 (the machine is shared)."""
    if n is not None:
        return max(1, int(n))
    try:
        return max(1, int(os.environ.get("QUANHUIQI_THREADS", "1")))
    except ValueError as exc:
        raise ValueError(f"QUANHUIQI_THREADS must be an integer, got {os.environ['QUANHUIQI_THREADS']!r}") from exc


def check_params(params: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> None:
    """Refuse parameter overrides that are not among ``defaults``' keys: a misspelt LightGBM parameter
    would otherwise be ignored with a warning, and the model trained with its default silently."""
    unknown = sorted(set(params or {}) - set(defaults))
    if unknown:
        raise InputError(f"unknown LightGBM parameter(s) {', '.join(unknown)}; "
                         f"the ones you can set: {', '.join(sorted(defaults))}")
