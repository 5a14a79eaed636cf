"""TrainConfig: YAML, command-line strings, and errors that name the field."""

from __future__ import annotations

from typing import get_args

import pytest
from sppo_gym.trainer.algorithms import ALGORITHMS, get_algorithm
from sppo_gym.trainer.cli import app
from sppo_gym.trainer.config import TrainConfig, load_config
from typer.testing import CliRunner


def test_yaml_then_command_line_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("algo: grpo\nlr: 1.0e-4\nenv_kwargs: {difficulty: 2}\nbatch_size: 16\n")
    cfg = load_config(path, {"lr": "3e-5", "env-kwargs": '{"difficulty": 3}', "dual_clip": "none",
                             "progress": "false"})
    assert cfg.algo == "grpo" and cfg.lr == 3e-5 and cfg.batch_size == 16
    assert cfg.env_kwargs == {"difficulty": 3} and cfg.dual_clip is None and cfg.progress is False
    assert cfg.resolved_group_size() == 8
    assert load_config().resolved_group_size() == 1  # sppo: one response per prompt


def test_every_field_has_help_text():
    for name, field in TrainConfig.model_fields.items():
        assert field.description, name


@pytest.mark.parametrize(("overrides", "message"), [
    ({"lrr": "1"}, "unknown config field"),
    ({"algo": "dpo"}, "algo"),
    ({"ratio": "tokens"}, "ratio"),
    ({"algo": "grpo", "batch_size": "30", "minibatch_size": "15", "micro_batch_size": "5"}, "group_size"),
    ({"minibatch_size": "5"}, "minibatch_size"),
    ({"algo": "rloo", "group_size": "1"}, "group_size >= 2"),
    ({"env_kwargs": "{difficulty: 2"}, "JSON object"),
    ({"critic_init": "0"}, "critic_init"),
])
def test_bad_values_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config(None, overrides)


def test_algorithm_registry():
    assert get_algorithm("sppo").critic == "sequence" and get_algorithm("ppo").critic == "token"
    assert get_algorithm("grpo").critic is None
    # the config offers exactly the table's algorithms, and group_size=0 takes the table's default
    assert set(get_args(TrainConfig.model_fields["algo"].annotation)) == set(ALGORITHMS)
    for name, algo in ALGORITHMS.items():
        assert load_config(None, {"algo": name}).resolved_group_size() == algo.group_size
    with pytest.raises(ValueError, match="algo must be one of"):
        get_algorithm("a2c")


def test_sizes_the_user_did_not_set_follow_batch_size(tmp_path):
    """`sppo-gym train --batch-size 8` failed on the default minibatch_size=16, then on micro_batch_size."""
    sizes = lambda c: (c.batch_size, c.minibatch_size, c.micro_batch_size)  # noqa: E731
    assert sizes(load_config()) == (32, 16, 16)  # the defaults themselves are unchanged
    assert sizes(load_config(None, {"batch_size": "8"})) == (8, 8, 8)
    assert sizes(load_config(None, {"batch_size": "24"})) == (24, 12, 12)  # largest divisors up to 16
    assert sizes(load_config(None, {"batch_size": "24", "micro_batch_size": "8"})) == (24, 8, 8)
    assert sizes(load_config(None, {"batch_size": "8", "minibatch_size": "4"})) == (8, 4, 4)
    path = tmp_path / "c.yaml"
    path.write_text("batch_size: 4\n")
    assert sizes(load_config(path)) == (4, 4, 4)
    cfg = TrainConfig()
    cfg.batch_size = 8  # still following: the followed sizes are not marked as set
    assert sizes(cfg) == (8, 8, 8) and cfg.model_fields_set == {"batch_size"}


def test_the_cli_trains_with_only_batch_size_set(tmp_path):

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--model", "tiny-random", "--batch-size", "8", "--steps", "0",
                                      "--eval-n", "0", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    saved = (out / "config.yaml").read_text()
    assert "minibatch_size: 8\n" in saved and "micro_batch_size: 8\n" in saved


@pytest.mark.parametrize(("overrides", "message"), [
    ({"batch_size": "8", "minibatch_size": "16"}, "minibatch_size=16 must divide batch_size=8"),
    ({"batch_size": "8", "micro_batch_size": "3"}, "micro_batch_size=3 must divide minibatch_size=8"),
    ({"minibatch_size": "8", "micro_batch_size": "16"}, "micro_batch_size=16 must divide minibatch_size=8"),
])
def test_sizes_the_user_set_still_conflict_by_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_config(None, overrides)
