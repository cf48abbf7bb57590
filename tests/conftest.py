"""Shared fixtures.  Real files, real stores: nothing here is a mock."""

from __future__ import annotations

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
