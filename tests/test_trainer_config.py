"""TrainConfig: YAML, command-line strings, and errors that name the field."""

from __future__ import annotations

import pytest
from sppo_gym.trainer.algorithms import get_algorithm
from sppo_gym.trainer.config import TrainConfig, load_config


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
    with pytest.raises(ValueError, match="algo must be one of"):
        get_algorithm("a2c")
