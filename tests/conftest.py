"""Shared fixtures.  Real files, real stores: nothing here is a mock."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# Property tests: the suite (and CI, where a red run does not land) draws the same examples every run;
# `pytest --hypothesis-profile=explore` searches new ones (any failure it finds becomes a fixed test).
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=500, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def mlflow_store_template(tmp_path_factory) -> Path:
    """One real SQLite tracking store per session (creating the schema takes seconds); tests copy it."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow-template")
    db = folder / "mlflow.db"
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments()  # tracking schema
    client.search_registered_models()  # registry tables
    return db


@pytest.fixture
def mlflow_uri(mlflow_store_template, tmp_path, monkeypatch) -> str:
    """A fresh real SQLite store for one test (a copy of the session template), set as MLFLOW_TRACKING_URI."""
    folder = tmp_path / "mlflow"
    folder.mkdir()
    db = folder / "mlflow.db"
    shutil.copyfile(mlflow_store_template, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.chdir(tmp_path)  # anything written relative to the cwd lands in the test's folder
    return uri


@pytest.fixture(scope="session")
def simulated_pushes():
    """A small simulated push history with a known latent utility (quanhuiqi.rank.simulate)."""
    from quanhuiqi.rank.simulate import simulate_pushes

    return simulate_pushes(n_enterprises=1200, n_policies=40, n_days=16, per_day=0.12, seed=7)


@pytest.fixture(scope="session")
def ranker_data(simulated_pushes):
    from quanhuiqi.rank import build_pair_dataset

    s = simulated_pushes
    return build_pair_dataset(s.pushes, s.population, s.profile, s.policies, s.pushes, book_version="sim-1",
                              snapshot_of=s.snapshot_of)


@pytest.fixture(scope="session")
def trained_ranker(ranker_data):
    """A small LambdaRanker (1 thread, ≤60 rounds) trained on the simulated history."""
    from quanhuiqi.rank import train_ranker

    return train_ranker(ranker_data, threads=1, num_boost_round=60, early_stopping_rounds=15)


@pytest.fixture(scope="session")
def day_inputs(simulated_pushes):
    """(simulation, the last day's candidate pairs, that day): what the daily job hands a scorer."""
    s = simulated_pushes
    d = s.pushes["date"].max()
    cand = s.population.drop(columns=["utility", "date"]).reset_index(drop=True)
    return s, cand, d


@pytest.fixture(scope="session", autouse=True)
def _no_mlflow_store_in_the_work_tree(tmp_path_factory):
    """Without MLFLOW_TRACKING_URI, quanhuiqi.registry defaults to ./.quanhuiqi/mlflow.db: point any test
    that does not choose a store at a session temporary one, so no test writes into the work tree."""
    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path_factory.mktemp('mlflow-default') / 'mlflow.db'}")
        yield


SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"
DAY = "2025-07-01"


@pytest.fixture(scope="session")
def small_generated_city(tmp_path_factory) -> Path:
    """A small generated city (900 enterprises, 40 days of push history) for the daily job's tests."""
    from quanhuiqi.synth import generate_city

    city = tmp_path_factory.mktemp("generated") / "city"
    generate_city(city, n_enterprises=900, seed=11, as_of=DAY, history_days=40)
    shutil.rmtree(city / "truth")  # the job never reads it
    return city


@pytest.fixture(scope="session")
def registered_sample_ranker(mlflow_store_template, tmp_path_factory) -> tuple[str, str]:
    """(tracking uri, NAME@ALIAS): a ranker trained on data_samples with its per-enterprise effects, in a
    real SQLite registry of its own; a test sets the uri (monkeypatch) while it uses the model."""
    from quanhuiqi.rank import load_ranker
    from quanhuiqi.rank.train import train_ranker_cli

    folder = tmp_path_factory.mktemp("mlflow-ranker")
    shutil.copyfile(mlflow_store_template, folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(folder)
        train_ranker_cli(SAMPLES, register="policy-ranker", alias="champion", threads=1,
                         params={"num_leaves": 15, "max_depth": 5})  # cheap reasons (docs/push.md)
        assert load_ranker("policy-ranker@champion").firm_effect_weight > 0
    return uri, "policy-ranker@champion"


@pytest.fixture(scope="session")
def whole_city_day(request, tmp_path_factory):
    """``get(where, model)``: the day run locally in one partition — the whole city, the reference every
    other partitioning is compared with — on ``data_samples`` or the small generated city, with the rule
    scorer or the registered ranker; each run once per session."""
    from quanhuiqi.push import run_daily

    runs = {}

    def get(where: str, model: bool = False):
        if (where, model) not in runs:
            city = SAMPLES if where == "data_samples" else request.getfixturevalue("small_generated_city")
            with pytest.MonkeyPatch.context() as mp:
                name = None
                if model:
                    uri, name = request.getfixturevalue("registered_sample_ranker")
                    mp.setenv("MLFLOW_TRACKING_URI", uri)
                runs[where, model] = run_daily(DAY, city, tmp_path_factory.mktemp("whole-day"), model=name,
                                               config={"run": {"partitions": 1}})
        return runs[where, model]

    return get


# --- pages checked in a real browser ------------------------------------------------------------------------

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.fixture
def headless_chromium(tmp_path):
    """Run headless Chromium with a fresh profile under ``tmp_path`` and no network side-traffic:
    ``headless_chromium("--dump-dom", url).stdout``. Skips, saying why, where no browser is installed
    (``.ci/run`` installs one)."""
    import subprocess

    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (apt-get install -y chromium); pages are checked in a real browser only")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
                              capture_output=True, text=True, timeout=120, check=True)

    return run
