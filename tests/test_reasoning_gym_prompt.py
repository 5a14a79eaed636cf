"""ReasoningGym-v0 ``prompt_style``: the default prompt is unchanged, "xml" wraps the question, scoring is the same.

The option exists because SmolLM2-135M-Instruct never writes ``<answer>`` tags under the default
wording (every reply ``no_answer``) but does under the xml one; it must change the prompt only.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.trainer.config import load_config
from sppo_gym.trainer.evaluation.held_out import HeldOut

ENV = "sppo_gym/ReasoningGym-v0"
#: The default prompt's tail, spelled out here so that any change to it fails this file.
DEFAULT_TAIL = ("\n\nGive only the final answer inside <answer></answer> tags, e.g. <answer>your answer</answer>, "
                "in the format the question asks for.")
XML_TAIL = "</question>\nWrite your final answer inside <answer></answer> XML tags."
#: Generous sandbox wall time so a loaded machine does not turn correct answers into timeouts.
SLOW_MACHINE_S = 60.0


def question(env: gym.Env, index: int) -> str:
    """The raw reasoning-gym question of item ``index`` (no difficulty: the env's single source)."""
    return env.unwrapped.source[index]["question"]


def test_default_prompt_is_unchanged_byte_for_byte():
    default = gym.make(ENV, task="chain_sum")
    explicit = gym.make(ENV, task="chain_sum", prompt_style="suffix")
    for index in range(3):
        obs, _ = default.reset(options={"index": index})
        assert obs == question(default, index) + DEFAULT_TAIL
        assert explicit.reset(options={"index": index})[0] == obs


def test_xml_prompt_wraps_the_same_question():
    suffix = gym.make(ENV, task="leg_counting", split="test")
    xml = gym.make(ENV, task="leg_counting", split="test", prompt_style="xml")
    for index in range(3):
        obs_s, info_s = suffix.reset(options={"index": index})
        obs_x, info_x = xml.reset(options={"index": index})
        assert obs_x == "<question>" + question(xml, index) + XML_TAIL
        assert obs_x != obs_s and "Give only the final answer" not in obs_x
        # same item: only the wording around it differs
        assert (info_x["task_id"], info_x["answer"]) == (info_s["task_id"], info_s["answer"])
        assert obs_s == question(suffix, index) + DEFAULT_TAIL


@pytest.mark.parametrize("bad", ["XML", "chat", "", None, ["xml"]])
def test_invalid_prompt_style_names_the_allowed_ones(bad):
    with pytest.raises(ValueError, match=r"prompt_style=.*allowed: \['suffix', 'xml'\]"):
        gym.make(ENV, task="chain_sum", prompt_style=bad)


def test_cli_env_kwargs_reach_training_and_held_out_envs():
    """``--env-kwargs`` JSON -> the trainer's make_vec (training batch) and its held-out env (split=test)."""
    cfg = load_config(None, {"env": ENV, "env-kwargs": '{"task": "chain_sum", "difficulty": 1, "prompt_style": "xml"}'})
    assert cfg.env_kwargs["prompt_style"] == "xml"
    envs = gym.make_vec(cfg.env, num_envs=3, **cfg.env_kwargs)
    prompts, infos = envs.reset(seed=0)
    assert all(p.startswith("<question>") and p.endswith(XML_TAIL) for p in prompts)
    assert list(infos["difficulty"]) == [1, 1, 1]
    envs.close()
    held_out = HeldOut(cfg.env, cfg.env_kwargs, n=2, batch_size=2, max_new_tokens=1, eval_env_kwargs=cfg.eval_env_kwargs)
    prompts, infos = held_out.envs.reset(options={"index": [0, 1]})
    assert all(p.startswith("<question>") and p.endswith(XML_TAIL) for p in prompts)
    assert all("/test/" in t for t in infos["task_id"])
    held_out.close()


@pytest.mark.docker
def test_scoring_is_the_same_under_both_styles(sandbox_pool):
    """Reference in tags -> 1, wrong number -> 0, untagged reference -> no_answer, for either prompt."""
    results = {}
    for style in ("suffix", "xml"):
        envs = gym.make_vec(ENV, num_envs=3, task="chain_sum", difficulty=1, split="test", prompt_style=style,
                            timeout_s=SLOW_MACHINE_S)
        _, infos = envs.reset(options={"index": [0, 0, 0]})
        answer = str(infos["answer"][0])
        replies = [f"<answer>{answer}</answer>", f"<answer>{int(answer) + 1}</answer>", answer]
        _, rewards, terminated, _, infos = envs.step(replies)
        results[style] = (list(rewards), list(infos["verdict"]))
        assert all(terminated)
        envs.close()
    assert results["suffix"] == results["xml"] == ([1.0, 0.0, 0.0], ["correct", "wrong", "no_answer"])
