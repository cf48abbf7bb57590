"""MLflow: log a LightGBM booster with everything needed to trust it, register it, alias it, load it by name.

Generic on purpose: the policy ranker and the supply–demand model both go through :func:`log_model`
(booster + feature list + params + metrics + evaluation report + data window + policy-book version),
:func:`register`, :func:`set_alias` and :func:`load_model` (``"NAME@ALIAS"`` or ``"NAME/VERSION"``).
Aliases (``champion``, ``challenger``) replace the deprecated stages.  The model's signature is its feature
list; a loaded model refuses a frame whose columns differ.
A store, below the stages that train: it imports none of them; a registered policy ranker is
rebuilt around its booster by :func:`quanhuiqi.rank.load_ranker`.

Where: ``MLFLOW_TRACKING_URI`` when set (a team's server), else a SQLite store under the working directory
(``sqlite:///<cwd>/.quanhuiqi/mlflow.db``, artifacts beside it).  mlflow is imported only inside these
functions, so ``import quanhuiqi`` stays light.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_EXPERIMENT = "quanhuiqi"
MODEL_ARTIFACT = "model"


def tracking_uri(uri: str | None = None) -> str:
    """The tracking store: ``uri``, else ``MLFLOW_TRACKING_URI``, else SQLite under ``./.quanhuiqi/``."""
    if uri:
        return uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    folder = Path.cwd() / ".quanhuiqi"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


@contextlib.contextmanager
def _store(uri: str | None) -> Iterator[str]:
    """Point mlflow's fluent API at ``uri`` for the duration, then restore exactly what was there.

    ``mlflow.set_tracking_uri`` also writes the environment variables; both are put back, so one call
    never changes where the next one (or a test) logs.
    """
    import mlflow
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    resolved = tracking_uri(uri)
    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    try:
        yield resolved
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = saved
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _experiment_id(name: str, uri: str) -> str:
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        # keep artifacts next to the database, never in a stray ./mlruns
        location = (Path(uri[len("sqlite:///"):]).parent / "mlartifacts").resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def metric_name(name: str) -> str:
    """MLflow-safe metric/param key: ``ndcg@5`` → ``ndcg_at_5``."""
    return re.sub(r"[^\w.\- /:]", "_", name.replace("@", "_at_"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, pd.Timestamp):
        return obj.date().isoformat() if obj == obj.normalize() else obj.isoformat()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    model_uri: str
    experiment_id: str
    tracking_uri: str


def log_model(
    booster: Any,
    *,
    feature_names: Sequence[str],
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    report: pd.DataFrame | str | None = None,
    data_window: Mapping[str, Any] | None = None,
    book_version: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    kind: str = "ranker",
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    uri: str | None = None,
) -> LoggedRun:
    """Log a LightGBM booster and its provenance in one MLflow run.

    The run holds: ``params`` (plus the data window and the book version, as ``data.*`` params),
    ``metrics`` (names made MLflow-safe), ``features.json``, ``report.csv``/``report.md`` when a report is
    given, and the model (native LightGBM flavour) whose signature is ``feature_names`` (all double) and
    whose MLmodel metadata carries ``metadata`` (e.g. the feature builder's configuration).
    """
    import lightgbm
    import mlflow
    import mlflow.lightgbm
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    names = list(feature_names)
    if list(booster.feature_name()) != names:
        raise ValueError("feature_names differ from the booster's own feature names")
    window = {k: _jsonable(v) for k, v in (data_window or {}).items()}
    meta = {
        "kind": kind,
        "features": names,
        "data_window": window,
        "book_version": book_version,
        **_jsonable(dict(metadata or {})),
    }
    signature = ModelSignature(
        inputs=Schema([ColSpec("double", n) for n in names]), outputs=Schema([ColSpec("double", "score")])
    )
    with _store(uri) as resolved:
        exp_id = _experiment_id(experiment, resolved)
        with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
            flat = {k: json.dumps(_jsonable(v)) if isinstance(v, list | dict | tuple) else v
                    for k, v in (params or {}).items()}
            flat.update({f"data.{k}": v for k, v in window.items()})
            flat["book_version"] = book_version or "unknown"
            flat["kind"] = kind
            flat["n_features"] = len(names)
            mlflow.log_params({metric_name(k): str(v)[:6000] for k, v in flat.items()})
            clean = {metric_name(k): float(v) for k, v in (metrics or {}).items()
                     if v is not None and np.isfinite(float(v))}
            if clean:
                mlflow.log_metrics(clean)
            mlflow.set_tags({"quanhuiqi.kind": kind, "quanhuiqi.book_version": book_version or "unknown"})
            mlflow.log_dict({"features": names}, "features.json")
            mlflow.log_dict(meta, "provenance.json")
            if isinstance(report, pd.DataFrame):
                mlflow.log_text(report.to_csv(), "report.csv")
                mlflow.log_text(report.to_string(), "report.txt")
            elif isinstance(report, str):
                mlflow.log_text(report, "report.md")
            info = mlflow.lightgbm.log_model(
                booster,
                name=MODEL_ARTIFACT,
                signature=signature,
                metadata=meta,
                pip_requirements=[f"lightgbm=={lightgbm.__version__}", f"mlflow=={mlflow.__version__}"],
            )
        return LoggedRun(run.info.run_id, info.model_uri, exp_id, resolved)


def register(model_uri: str, name: str, *, uri: str | None = None, tags: Mapping[str, str] | None = None) -> str:
    """Register a logged model under ``name``; returns the new version number (as text)."""
    import mlflow

    with _store(uri):
        mv = mlflow.register_model(model_uri, name, tags=dict(tags or {}) or None)
    return str(mv.version)


def set_alias(name: str, alias: str, version: str | int, *, uri: str | None = None) -> None:
    """Point ``name@alias`` (e.g. champion, challenger) at ``version``; an alias moves, it is never duplicated."""
    from mlflow import MlflowClient

    if not re.fullmatch(r"[A-Za-z_][\w-]*", alias):
        raise ValueError(f"invalid alias {alias!r}: letters, digits, '_' and '-', not starting with a digit")
    MlflowClient(tracking_uri=tracking_uri(uri), registry_uri=tracking_uri(uri)).set_registered_model_alias(
        name, alias, str(version)
    )


def parse_ref(ref: str) -> tuple[str, str | None, str | None]:
    """``NAME@ALIAS`` → (name, alias, None); ``NAME/VERSION`` → (name, None, version)."""
    if "@" in ref:
        name, alias = ref.rsplit("@", 1)
        if name and alias:
            return name, alias, None
    elif "/" in ref:
        name, version = ref.rsplit("/", 1)
        if name and version.isdigit():
            return name, None, version
    raise ValueError(f"model reference {ref!r}: expected NAME@ALIAS or NAME/VERSION")


@dataclass
class RegisteredModel:
    """A booster loaded from the registry, with its signature and provenance."""

    name: str
    version: str
    alias: str | None
    run_id: str | None
    booster: Any
    features: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)

    def check(self, X: pd.DataFrame) -> None:
        """Refuse a frame whose columns are not the registered signature, in order."""
        cols = list(X.columns)
        if cols != self.features:
            missing = [c for c in self.features if c not in cols]
            extra = [c for c in cols if c not in self.features]
            raise ValueError(
                f"{self.name} v{self.version}: input does not match the registered signature"
                + (f"; missing {missing}" if missing else "")
                + (f"; unexpected {extra}" if extra else "")
                + ("; columns out of order" if not missing and not extra else "")
            )

    def predict(self, X: pd.DataFrame, num_threads: int = 1) -> np.ndarray:
        self.check(X)
        return self.booster.predict(X, num_threads=num_threads)


def load_model(ref: str, *, uri: str | None = None) -> RegisteredModel:
    """Load ``NAME@ALIAS`` (or ``NAME/VERSION``): the booster, its feature signature and its metadata."""
    import mlflow
    import mlflow.lightgbm
    from mlflow import MlflowClient
    from mlflow.models import Model

    name, alias, version = parse_ref(ref)
    resolved = tracking_uri(uri)
    client = MlflowClient(tracking_uri=resolved, registry_uri=resolved)
    mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    model_uri = f"models:/{name}@{alias}" if alias else f"models:/{name}/{version}"
    with _store(resolved), tempfile.TemporaryDirectory(prefix="quanhuiqi-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
        booster = mlflow.lightgbm.load_model(local)
        mlmodel = Model.load(local)
    if mlmodel.signature is None:
        raise ValueError(f"{ref}: registered model has no signature; refusing to score without one")
    features = list(mlmodel.signature.inputs.input_names())
    if list(booster.feature_name()) != features:
        raise ValueError(f"{ref}: the booster's features differ from its registered signature")
    return RegisteredModel(name, str(mv.version), alias, mv.run_id, booster, features, dict(mlmodel.metadata or {}))


def log_ranker(ranker: Any, **kwargs: Any) -> LoggedRun:
    """Log a fitted :class:`quanhuiqi.rank.LambdaRanker` (its booster, builder config and training params)."""
    metadata = dict(kwargs.pop("metadata", None) or {})
    if ranker.builder is not None:
        metadata.setdefault("builder", ranker.builder.config())
    metadata.setdefault("best_iteration", ranker.best_iteration_)
    weight = float(getattr(ranker, "firm_effect_weight", 0.0))
    if weight:
        metadata.setdefault("firm_effect_weight", weight)
    params = dict(ranker.params, num_boost_round=ranker.num_boost_round,
                  early_stopping_rounds=ranker.early_stopping_rounds, best_iteration=ranker.best_iteration_,
                  firm_effect_weight=weight)
    if ranker.builder is not None and ranker.builder.firm_effect_tau is not None:
        params["firm_effect_tau"] = float(ranker.builder.firm_effect_tau)
    params.update(kwargs.pop("params", None) or {})
    # keep only the trees that are used, so the logged model file equals ranker.model_string()
    import lightgbm as lgb

    booster = lgb.Booster(model_str=ranker.model_string())
    return log_model(booster, feature_names=ranker.feature_names_, params=params, metadata=metadata, **kwargs)


def latest_model_version(kind: str, *, uri: str | None = None) -> tuple[str, str] | None:
    """(name, version) of the most recently registered model version of ``kind`` (its ``quanhuiqi.kind``
    version tag, set at registration), or None when there is none."""
    from mlflow import MlflowClient

    resolved = tracking_uri(uri)
    client = MlflowClient(tracking_uri=resolved, registry_uri=resolved)
    found = client.search_model_versions(f"tags.`quanhuiqi.kind` = '{kind}'")
    if not found:
        return None
    mv = max(found, key=lambda v: (int(v.creation_timestamp or 0), v.name, int(v.version)))
    return mv.name, str(mv.version)
