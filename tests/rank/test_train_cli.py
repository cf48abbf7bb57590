"""End to end on a (tiny) synthetic city: `quanhuiqi train ranker --register --alias`, then load and score."""

from __future__ import annotations

import numpy as np
import pytest

from quanhuiqi.cli import main
from quanhuiqi.rank import load_ranker


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from quanhuiqi.synth import generate_city

    out = tmp_path_factory.mktemp("city")
    generate_city(out, n_enterprises=250, seed=11, as_of="2025-07-01", history_days=30)
    return out


@pytest.mark.slow
def test_train_register_alias_load_score(city, mlflow_uri, capsys):
    assert main(["train", "ranker", "--data", str(city), "--register", "policy-ranker", "--alias", "champion",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "ndcg@5" in out and "policy-ranker@champion -> v1" in out
    assert "latent expected relevance" in out  # the truth/ folder was found and used

    from quanhuiqi.eligibility import evaluate as eligibility
    from quanhuiqi.policy import load_book
    from quanhuiqi.profile import profile
    from quanhuiqi.rank import build_training_data
    from quanhuiqi.tables import read_enterprises, validate_enterprises

    scorer = load_ranker("policy-ranker@champion")
    book = load_book(city / "policies")
    clean = validate_enterprises(read_enterprises(city / "enterprises.csv"), "2025-07-01", source="e").clean
    prof = profile(clean, "2025-07-01")
    pairs = eligibility(book, prof, "2025-07-01").pairs
    scores = scorer.score(pairs, prof, book, "2025-07-01")
    assert scores.shape == (len(pairs),) and np.isfinite(scores).all()
    reasons = scorer.reasons(pairs, prof, book, "2025-07-01")
    assert reasons.str.startswith("推荐理由").mean() > 0.5
    # the registered run carries the data window and the policy-book version
    data = build_training_data(city)
    from mlflow import MlflowClient

    run = MlflowClient(mlflow_uri).get_run(scorer.run_id)
    assert run.data.params["book_version"] == book.version == data.book_version
    assert run.data.params["data.test_to"] == data.window["test_to"]


def test_alias_without_register_is_refused(city, mlflow_uri, capsys):
    assert main(["train", "ranker", "--data", str(city), "--alias", "champion"]) == 1
    assert "--alias needs --register" in capsys.readouterr().err


@pytest.mark.slow
def test_param_overrides_reach_the_logged_model(city, mlflow_uri, capsys):
    assert main(["train", "ranker", "--data", str(city), "--threads", "1", "--param", "num_leaves=7",
                 "--param", "max_depth=3", "--param", "learning_rate=0.05"]) == 0
    out = capsys.readouterr().out
    from mlflow import MlflowClient

    run_id = next(w for w in out.split() if len(w) == 32 and all(c in "0123456789abcdef" for c in w))
    params = MlflowClient(mlflow_uri).get_run(run_id).data.params
    assert (params["num_leaves"], params["max_depth"], params["learning_rate"]) == ("7", "3", "0.05")


@pytest.mark.parametrize("arg,message", [
    ("num_leafs=7", "unknown LightGBM parameter(s) num_leafs"),
    ("num_leaves", "expected KEY=VALUE"),
])
def test_a_bad_param_is_refused_before_any_work(city, mlflow_uri, capsys, arg, message):
    assert main(["train", "ranker", "--data", str(city), "--param", arg]) == 1
    assert message in capsys.readouterr().err
    assert main(["train", "postings", "--data", str(city), "--param", arg]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_no_firm_effects_logs_the_booster_alone(city, mlflow_uri, capsys):
    assert main(["train", "ranker", "--data", str(city), "--threads", "1", "--no-firm-effects",
                 "--register", "plain", "--alias", "champion"]) == 0
    assert "firm effects" not in capsys.readouterr().out
    scorer = load_ranker("plain@champion")
    assert scorer.firm_effect_weight == 0 and scorer.builder.firm_effect_tau is None
    assert main(["train", "postings", "--data", str(city), "--no-firm-effects"]) == 1
    assert "policy ranker only" in capsys.readouterr().err
