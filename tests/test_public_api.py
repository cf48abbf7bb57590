"""The public API: every name in __all__ resolves, and the documented flow runs end to end."""

from pathlib import Path

import pandas as pd

import quanhuiqi

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"


def test_every_exported_name_resolves():
    for name in quanhuiqi.__all__:
        assert getattr(quanhuiqi, name) is not None, name


def test_every_name_the_stages_export_resolves():
    import importlib

    for name in ("quanhuiqi.rank", "quanhuiqi.postings", "quanhuiqi.synth", "quanhuiqi.synth.truth", "quanhuiqi.appeals"):
        module = importlib.import_module(name)
        for attr in module.__all__:
            assert getattr(module, attr) is not None, f"{name}.{attr}"


def test_documented_flow_on_the_sample_city():
    v = quanhuiqi.validate_enterprises(quanhuiqi.read_enterprises(SAMPLES / "enterprises.csv"), "2025-07-01")
    assert v.rows_in == len(v.clean) + v.rows_rejected
    prof = quanhuiqi.profile(v.clean, "2025-07-01")
    assert len(prof) == len(v.clean)
    book = quanhuiqi.load_book(SAMPLES / "policies")
    result = quanhuiqi.evaluate_eligibility(book, prof, "2025-07-01")
    assert set(result.pairs["verdict"].unique()) <= {"eligible", "undetermined"}
    assert len(result.pairs) > 0
    auto = set(book.policies.loc[book.policies["mode"] == "auto", "policy_id"])
    assert set(result.auto_grants["policy_id"]) <= auto
    assert isinstance(result.pairs, pd.DataFrame)


def test_simulation_from_the_top_level(tmp_path):
    city = quanhuiqi.read_city(SAMPLES, "2025-07-01")
    book = quanhuiqi.load_book(SAMPLES / "policies")
    sweeps = quanhuiqi.read_sweeps([{"policy": "JN-CZ-2025-004", "path": "eligibility.all[3]", "values": [300]}], book)
    r = quanhuiqi.simulate_policies(book, city, "2025-07-01", vary=sweeps)
    assert isinstance(r, quanhuiqi.SimulationResult)
    assert len(r.summary) == len(book) + 1
    assert (tmp_path / "o" / "simulation.csv") in r.write(tmp_path / "o").values()
