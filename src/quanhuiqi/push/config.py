"""The daily job's configuration: one YAML file, every key documented in ``default.yaml``.

A user file overrides only the keys it names; unknown keys and wrong types are refused up front,
so a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from quanhuiqi.tables.io import InputError

DEFAULT_CONFIG_FILE = "default.yaml"


@cache
def _default_text() -> str:
    return resources.files("quanhuiqi.push").joinpath(DEFAULT_CONFIG_FILE).read_text(encoding="utf-8")


def default_config() -> dict[str, Any]:
    """The shipped defaults (a fresh copy: callers may modify it)."""
    return copy.deepcopy(yaml.safe_load(_default_text()))


def _merge(base: dict, override: dict, where: str, source: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in base:
            raise InputError(f"{source}: unknown configuration key {path!r} (known: {', '.join(sorted(base))})")
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise InputError(f"{source}: {path} must be a mapping, got {type(value).__name__}")
            out[key] = _merge(default, value, path, source)
            continue
        if default is not None and value is not None:
            ok = (
                isinstance(value, type(default))
                or (isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool))
            ) and not (isinstance(value, bool) and not isinstance(default, bool))
            if not ok:
                raise InputError(
                    f"{source}: {path} must be {type(default).__name__}, got {type(value).__name__} {value!r}"
                )
        out[key] = value
    return out


def _check(cfg: dict, source: str) -> None:
    staging = cfg["spark"]["staging"]
    if staging is not None and not isinstance(staging, str):
        raise InputError(f"{source}: spark.staging must be a folder path, got {staging!r}")
    if cfg["spark"]["demands_per_task"] < 1:
        raise InputError(f"{source}: spark.demands_per_task must be >= 1, got {cfg['spark']['demands_per_task']}")
    p = cfg["push"]
    for key in ("max_per_enterprise", "cooldown_days", "closing_soon_days", "new_policy_days"):
        if p[key] < 0:
            raise InputError(f"{source}: push.{key} must be >= 0, got {p[key]}")
    bad = set(cfg["outputs"]["formats"]) - {"parquet", "csv"}
    if bad or not cfg["outputs"]["formats"]:
        raise InputError(f"{source}: outputs.formats must be a non-empty subset of [parquet, csv], got {bad or '[]'}")
    if cfg["run"]["workers"] < 1:
        raise InputError(f"{source}: run.workers must be >= 1, got {cfg['run']['workers']}")
    for where, value in (("rank.shortlist", cfg["rank"]["shortlist"]), ("run.batch_size", cfg["run"]["batch_size"]),
                         ("outputs.near_miss_per_enterprise", cfg["outputs"]["near_miss_per_enterprise"])):
        if value < 0:
            raise InputError(f"{source}: {where} must be >= 0, got {value}")
    outputs = {"push_list", "auto_grant", "near_miss", "postings_pairs", "held_back", "rejects", "appeals_routed",
               "appeals_at_risk", "appeals_overdue", "appeals_department_stats"}
    bad = set(cfg["outputs"]["csv_tables"]) - outputs
    if bad:
        raise InputError(f"{source}: outputs.csv_tables names unknown table(s) {sorted(bad)}")
    tables = set(cfg["paths"]) - {"extra", "optional"}
    unknown = set(cfg["paths"]["optional"]) - tables
    if unknown:
        raise InputError(f"{source}: paths.optional names unknown table(s) {sorted(unknown)}")
    if "enterprises" in cfg["paths"]["optional"] or "policies" in cfg["paths"]["optional"]:
        raise InputError(f"{source}: enterprises and policies cannot be optional")
    a = cfg["appeals"]
    if a["model"] is not None and a["model"] != "latest" and "@" not in a["model"] and "/" not in a["model"]:
        raise InputError(f"{source}: appeals.model must be NAME@ALIAS, NAME/VERSION, latest or null, got {a['model']!r}")
    if a["new_days"] <= 0:
        raise InputError(f"{source}: appeals.new_days must be > 0, got {a['new_days']}")
    alias = cfg["model"]["alias"]
    if alias is not None and "@" not in alias:
        raise InputError(f"{source}: model.alias must be NAME@ALIAS, got {alias!r}")


def load_config(config: str | os.PathLike | dict | None = None) -> dict[str, Any]:
    """Defaults, overridden by a YAML file or a dict (same nesting as ``default.yaml``)."""
    base = default_config()
    if config is None:
        return base
    if isinstance(config, dict):
        source, override = "config", config
    else:
        path = Path(config)
        source = str(path)
        if not path.exists():
            raise InputError(f"{path}: configuration file not found")
        try:
            override = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML ({str(exc)[:200]})") from exc
        if not isinstance(override, dict):
            raise InputError(f"{path}: the configuration must be a mapping")
    cfg = _merge(base, override, "", source)
    _check(cfg, source)
    return cfg
