"""MLflow registry round trips on real stores: a temporary SQLite file, and a real `mlflow server`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanhuiqi import registry
from quanhuiqi.rank import load_ranker


def _log(trained, uri=None):
    return registry.log_ranker(
        trained.ranker,
        metrics=trained.metrics,
        report=trained.full_report,
        data_window=trained.data.window,
        book_version=trained.data.book_version,
        uri=uri,
    )


def test_default_store_is_sqlite_under_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert registry.tracking_uri() == f"sqlite:///{tmp_path / '.quanhuiqi' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    assert registry.tracking_uri() == "http://127.0.0.1:1"


def test_parse_ref():
    assert registry.parse_ref("ranker@champion") == ("ranker", "champion", None)
    assert registry.parse_ref("ranker/3") == ("ranker", None, "3")
    for bad in ("ranker", "@champion", "ranker@", "ranker/x"):
        with pytest.raises(ValueError, match="NAME@ALIAS"):
            registry.parse_ref(bad)


def test_log_register_alias_load_round_trip(mlflow_uri, trained_ranker, day_inputs):
    from mlflow import MlflowClient

    run = _log(trained_ranker)
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    r = client.get_run(run.run_id)
    assert r.data.params["book_version"] == "sim-1"
    assert r.data.params["data.test_from"] == trained_ranker.data.window["test_from"]
    assert "test.model.ndcg_at_5" in r.data.metrics
    assert r.data.metrics["ndcg5_model_over_rule"] == pytest.approx(trained_ranker.targets["ndcg5_model_over_rule"])
    names = {a.path for a in client.list_artifacts(run.run_id)}
    assert {"features.json", "report.csv", "provenance.json"} <= names
    # artifacts live beside the database, never in a stray ./mlruns of the working directory
    assert not Path("mlruns").exists()

    v1 = registry.register(run.model_uri, "policy-ranker")
    registry.set_alias("policy-ranker", "champion", v1)
    v2 = registry.register(_log(trained_ranker).model_uri, "policy-ranker")
    registry.set_alias("policy-ranker", "challenger", v2)
    assert (v1, v2) == ("1", "2")
    assert str(client.get_model_version_by_alias("policy-ranker", "champion").version) == "1"
    registry.set_alias("policy-ranker", "champion", v2)  # promotion moves the alias
    assert str(client.get_model_version_by_alias("policy-ranker", "champion").version) == "2"

    scorer = load_ranker("policy-ranker@champion")
    assert scorer.version == "2" and scorer.registered_name == "policy-ranker"
    X, _, _, _ = trained_ranker.data.part("test")
    np.testing.assert_array_equal(scorer.predict(X), trained_ranker.ranker.predict(X))
    assert scorer.model_string() == trained_ranker.ranker.model_string()
    # the daily job's interface, with the builder configuration the model was trained with
    s, cand, d = day_inputs
    a = scorer.score(cand, s.profile, s.policies, d, history=s.pushes)
    b = trained_ranker.ranker.score(cand, s.profile, s.policies, d, history=s.pushes)
    np.testing.assert_array_equal(a, b)
    reasons = scorer.reasons(cand, s.profile, s.policies, d, history=s.pushes)
    assert len(reasons) == len(cand) and reasons.str.len().gt(4).all()


def test_loaded_model_refuses_mismatched_features(mlflow_uri, trained_ranker):
    run = _log(trained_ranker)
    registry.set_alias("r", "champion", registry.register(run.model_uri, "r"))
    m = registry.load_model("r@champion")
    X, _, _, _ = trained_ranker.data.part("test")
    assert m.features == list(X.columns)
    with pytest.raises(ValueError, match="registered signature; missing"):
        m.predict(X.drop(columns=["policy_apply_rate"]))
    with pytest.raises(ValueError, match="out of order"):
        m.predict(X[X.columns[::-1]])
    with pytest.raises(ValueError, match="unexpected"):
        load_ranker("r@champion").predict(X.assign(surprise=0.0))


def test_generic_model_and_kind_check(mlflow_uri):
    """Any LightGBM booster (e.g. the supply–demand model) goes through the same functions."""
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((300, 3)), columns=["tag_overlap", "text_similarity", "distance_km"])
    y = (X["tag_overlap"] > 0.5).astype(int).to_numpy()
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1, "deterministic": True},
                        lgb.Dataset(X, y), num_boost_round=5)
    run = registry.log_model(booster, feature_names=list(X.columns), params={"rounds": 5}, metrics={"auc": 0.9},
                             report="# report\n", data_window={"from": "2025-01-01"}, kind="postings")
    version = registry.register(run.model_uri, "postings-model")
    registry.set_alias("postings-model", "champion", version)
    m = registry.load_model("postings-model@champion")
    assert m.metadata["kind"] == "postings" and m.metadata["data_window"] == {"from": "2025-01-01"}
    np.testing.assert_array_equal(m.predict(X), booster.predict(X))
    with pytest.raises(ValueError, match="not a policy ranker"):
        load_ranker("postings-model@champion")
    with pytest.raises(ValueError, match="invalid alias"):
        registry.set_alias("postings-model", "1st", version)


def test_store_setting_does_not_leak(mlflow_uri, trained_ranker):
    import mlflow

    before = (os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("MLFLOW_REGISTRY_URI"))
    _log(trained_ranker)
    assert (os.environ.get("MLFLOW_TRACKING_URI"), os.environ.get("MLFLOW_REGISTRY_URI")) == before
    assert mlflow.get_tracking_uri() == mlflow_uri


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(mlflow_store_template, tmp_path):
    """A real `mlflow server` on 127.0.0.1 over a copy of the session store; always terminated."""
    import shutil

    db = tmp_path / "server.db"
    shutil.copyfile(mlflow_store_template, db)
    port = _free_port()
    exe = Path(sys.executable).with_name("mlflow")
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed in teardown
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen(
        [str(exe), "server", "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination",
         str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {proc.returncode}: "
                                   + (tmp_path / "server.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not answer within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        # the server runs its workers as children: end the whole session this test started, by its id
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        _signal_group(proc.pid, signal.SIGKILL)  # stragglers of the same group, if any
        log.close()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


@pytest.mark.server
def test_round_trip_through_a_real_mlflow_server(mlflow_server, trained_ranker, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.chdir(tmp_path)
    run = _log(trained_ranker)
    version = registry.register(run.model_uri, "policy-ranker")
    registry.set_alias("policy-ranker", "champion", version)
    scorer = load_ranker("policy-ranker@champion")
    X, _, _, _ = trained_ranker.data.part("test")
    np.testing.assert_array_equal(scorer.predict(X), trained_ranker.ranker.predict(X))
    with urllib.request.urlopen(
        f"{mlflow_server}/api/2.0/mlflow/registered-models/alias?name=policy-ranker&alias=champion", timeout=10
    ) as r:
        assert json.load(r)["model_version"]["version"] == version
