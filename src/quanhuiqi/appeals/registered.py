"""The appeals model in the MLflow registry: logged as plain arrays + JSON under a pyfunc from code, loaded by
``NAME@ALIAS``, ``NAME/VERSION`` or — no name — the latest registered appeals model.

The registry (:mod:`quanhuiqi.registry`) stores and finds models; this module knows what an appeals model
is made of (``arrays.npz``, ``model.json``) and refuses a registered model of another kind.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from quanhuiqi.registry import (
    DEFAULT_EXPERIMENT,
    MODEL_ARTIFACT,
    LoggedRun,
    _experiment_id,
    _jsonable,
    _store,
    latest_model_version,
    metric_name,
    parse_ref,
    tracking_uri,
)
from quanhuiqi.tables.io import InputError

APPEALS_KIND = "appeals"
APPEALS_ARTIFACT = "appeals_model"


def log_appeals_model(model: Any, *, params: Mapping[str, Any] | None = None,
                      metrics: Mapping[str, float] | None = None, report: str | None = None,
                      data_window: Mapping[str, Any] | None = None, experiment: str = DEFAULT_EXPERIMENT,
                      run_name: str | None = None, uri: str | None = None) -> LoggedRun:
    """Log a fitted :class:`quanhuiqi.appeals.AppealsModel` (its arrays and JSON, the department map and
    triage rules it carries, params, metrics, the evaluation report) as an MLflow pyfunc model.

    The model is saved as data (``arrays.npz``, ``model.json``) and the pyfunc wrapper is logged as code
    (``quanhuiqi/appeals/mlflow_model.py``), so loading never unpickles anything."""
    from importlib import resources

    import mlflow
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    from quanhuiqi.version import __version__

    window = {k: _jsonable(v) for k, v in (data_window or {}).items()}
    meta = {"kind": APPEALS_KIND, "target": model.target, "classes": [str(c) for c in model.head.classes],
            "department_map_version": model.department_map.version,
            "triage_rules_version": model.triage_rules.version, "threshold": model.threshold,
            "data_window": window}
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", c, required=c == "appeal_id")
                       for c in ("appeal_id", "title", "body", "district_code", "uscc", "received_at")]),
        outputs=Schema([ColSpec("string", c) for c in ("appeal_id", "category", "department", "triage", "reason")]),
    )
    code = str(resources.files("quanhuiqi.appeals").joinpath("mlflow_model.py"))
    with _store(uri) as resolved, tempfile.TemporaryDirectory(prefix="quanhuiqi-appeals-") as tmp:
        folder = model.save(Path(tmp) / APPEALS_ARTIFACT)
        exp_id = _experiment_id(experiment, resolved)
        with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
            flat = {k: json.dumps(_jsonable(v)) if isinstance(v, list | dict | tuple) else v
                    for k, v in (params or {}).items()}
            flat.update({f"data.{k}": v for k, v in window.items()})
            flat.update(kind=APPEALS_KIND, target=model.target, department_map_version=model.department_map.version,
                        triage_rules_version=model.triage_rules.version, threshold=model.threshold)
            mlflow.log_params({metric_name(k): str(v)[:6000] for k, v in flat.items()})
            clean = {metric_name(k): float(v) for k, v in (metrics or {}).items()
                     if v is not None and np.isfinite(float(v))}
            if clean:
                mlflow.log_metrics(clean)
            mlflow.set_tags({"quanhuiqi.kind": APPEALS_KIND})
            mlflow.log_dict(meta, "provenance.json")
            if report:
                mlflow.log_text(report, "report.md")
            import warnings

            with warnings.catch_warnings():  # mlflow's advice on type hints and input examples: the signature is explicit
                warnings.simplefilter("ignore", UserWarning)
                info = mlflow.pyfunc.log_model(
                    name=MODEL_ARTIFACT, python_model=code, artifacts={APPEALS_ARTIFACT: str(folder)},
                    signature=signature, metadata=meta,
                    pip_requirements=[f"mlflow=={mlflow.__version__}", f"quanhuiqi=={__version__}"],
                )
        return LoggedRun(run.info.run_id, info.model_uri, exp_id, resolved)


def load_appeals_model(ref: str | None = None, *, uri: str | None = None) -> Any:
    """A registered appeals model (``NAME@ALIAS`` or ``NAME/VERSION``; None: the latest registered one)."""
    import mlflow
    from mlflow import MlflowClient

    from quanhuiqi.appeals.model import AppealsModel

    resolved = tracking_uri(uri)
    if ref is None:
        latest = latest_model_version(APPEALS_KIND, uri=resolved)
        if latest is None:
            raise InputError(
                f"no appeals model is registered in {resolved}: train one with "
                f"`quanhuiqi train appeals --data DIR --register NAME`, or name one with --model NAME@ALIAS")
        ref = f"{latest[0]}/{latest[1]}"
    name, alias, version = parse_ref(ref)
    client = MlflowClient(tracking_uri=resolved, registry_uri=resolved)
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except Exception as exc:  # MlflowException: unknown name, alias or version
        raise InputError(f"model {ref}: not found in {resolved} ({str(exc)[:200]})") from exc
    if (mv.tags or {}).get("quanhuiqi.kind", APPEALS_KIND) != APPEALS_KIND:
        raise InputError(f"model {ref}: is a {mv.tags.get('quanhuiqi.kind')!r} model, not an appeals model")
    model_uri = f"models:/{name}@{alias}" if alias else f"models:/{name}/{version}"
    with _store(resolved), tempfile.TemporaryDirectory(prefix="quanhuiqi-appeals-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        folder = local / "artifacts" / APPEALS_ARTIFACT
        if not folder.exists():
            raise InputError(f"model {ref}: has no {APPEALS_ARTIFACT} artifact (not an appeals model)")
        model = AppealsModel.load(folder)
    model.ref = ref
    model.name, model.version, model.alias, model.run_id = name, str(mv.version), alias, mv.run_id
    return model
