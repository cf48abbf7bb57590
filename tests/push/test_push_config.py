"""The configuration: shipped defaults, partial overrides, refused typos and wrong types."""

from __future__ import annotations

import pytest

from quanhuiqi.push.config import default_config, load_config
from quanhuiqi.push.rules import PushRules
from quanhuiqi.tables.io import InputError


def test_defaults_match_the_issue():
    cfg = load_config()
    assert cfg["push"]["max_per_enterprise"] == 3
    assert cfg["push"]["cooldown_days"] == 30
    assert cfg["model"]["alias"] is None
    assert PushRules.from_config(cfg) == PushRules()  # the YAML and the dataclass agree


def test_partial_override_from_file(tmp_path):
    f = tmp_path / "push.yaml"
    f.write_text("push:\n  max_per_enterprise: 5\nmodel:\n  alias: policy-ranker@champion\n", encoding="utf-8")
    cfg = load_config(f)
    assert cfg["push"]["max_per_enterprise"] == 5
    assert cfg["push"]["cooldown_days"] == 30
    assert cfg["model"]["alias"] == "policy-ranker@champion"
    assert default_config()["push"]["max_per_enterprise"] == 3  # defaults untouched


@pytest.mark.parametrize(
    "override, message",
    [
        ({"push": {"max_per_entreprise": 5}}, "unknown configuration key 'push.max_per_entreprise'"),
        ({"push": {"max_per_enterprise": "5"}}, "push.max_per_enterprise must be int"),
        ({"push": {"cooldown_days": -1}}, "cooldown_days must be >= 0"),
        ({"push": {"skip_inactive": 1}}, "push.skip_inactive must be bool"),
        ({"outputs": {"formats": ["xlsx"]}}, "outputs.formats"),
        ({"model": {"alias": "no-alias"}}, "NAME@ALIAS"),
        ({"paths": {"optional": ["enterprises"]}}, "cannot be optional"),
        ({"push": 3}, "push must be a mapping"),
        ({"rank": {"shortlist": -1}}, "rank.shortlist must be >= 0"),
        ({"outputs": {"near_miss_per_enterprise": -2}}, "outputs.near_miss_per_enterprise must be >= 0"),
        ({"outputs": {"csv_tables": ["push_list", "everything"]}}, "outputs.csv_tables names unknown table"),
        ({"spark": {"staging": 5}}, "spark.staging must be a folder path, got 5"),
        ({"spark": {"stage": "/tmp"}}, "unknown configuration key 'spark.stage'"),
    ],
)
def test_bad_configuration_is_refused(override, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(override)


def test_int_accepted_for_float_and_missing_file(tmp_path):
    assert load_config({"push": {"closing_soon_boost": 1}})["push"]["closing_soon_boost"] == 1
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("push: [1, 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(bad)
