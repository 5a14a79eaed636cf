"""Composed rewards: weights, normalisation, gating, per-verifier reporting, bad entries, sandbox_error
propagation through the real pool, and one verify_batch per component in the vector env."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from sppo_gym.envs import register_task
from sppo_gym.sandbox import SandboxPool
from sppo_gym.sandbox import pool as pool_module
from sppo_gym.verifiers.format.exact import ExactVerifier
from sppo_gym.verifiers.format.verifier import FormatVerifier

CAPITALS = [
    {"task_id": "fr", "country": "France", "answer": "Paris"},
    {"task_id": "jp", "country": "Japan", "answer": "Tokyo"},
]
FORMAT = {"think": True, "answer_pattern": "answer_line"}  # two checks: 0, 0.5 or 1
GOOD, WRONG = "<think>it is Paris</think>\nAnswer: Paris", "<think>hm</think>\nAnswer: Lyon"


def brevity(response: str, problem: dict) -> float:
    """A shaping callable: 1 for at most 8 words, else 0.5."""
    return 1.0 if len(response.split()) <= 8 else 0.5


def half_credit(response: str, problem: dict) -> float:
    return 0.5 if problem["answer"] in response else 0.0


def register(env_id: str, verifier, **defaults) -> str:
    return register_task(env_id, problems=CAPITALS, prompt="Capital of {country}?", verifier=verifier, **defaults)


def step_one(env_id: str, response: str, index: int = 0, **kwargs) -> tuple[float, dict]:
    env = gym.make(env_id, **kwargs)
    env.reset(options={"index": index})
    _, reward, terminated, truncated, info = env.step(response)
    assert terminated and not truncated
    return reward, info


COMPOSED = register("test_compose/Capitals-v0", [("exact", 1.0), ("format", 0.25, FORMAT), (brevity, 0.75)])


def test_weighted_sum_normalised_by_total_weight():
    assert step_one(COMPOSED, GOOD)[0] == 1.0
    # correct, no think block (format 0.5), short: (1 + 0.25 * 0.5 + 0.75 * 1) / 2
    assert step_one(COMPOSED, "Answer: Paris")[0] == pytest.approx(1.875 / 2)
    # correct, perfect format, long (brevity 0.5): (1 + 0.25 + 0.375) / 2
    long = "<think>" + "very " * 20 + "long</think>\nAnswer: Paris"
    assert step_one(COMPOSED, long)[0] == pytest.approx(1.625 / 2)


def test_gate_no_shaping_credit_for_a_wrong_answer():
    reward, info = step_one(COMPOSED, WRONG)
    assert reward == 0.0 and info["scores"] == {"exact": 0.0, "format": 1.0, "brevity": 1.0}
    assert step_one(COMPOSED, WRONG, gate=False)[0] == pytest.approx((0.25 + 0.75) / 2)
    gated_off = register("test_compose/NoGate-v0", [("exact", 1.0), ("format", 0.25, FORMAT)], gate=False)
    assert step_one(gated_off, WRONG)[0] == pytest.approx(0.25 / 1.25)
    assert step_one(gated_off, WRONG, gate=True)[0] == 0.0


def test_gate_uses_passed_not_partial_credit():
    env_id = register("test_compose/Half-v0", [(half_credit, 2.0), ("format", 1.0, FORMAT)])
    reward, info = step_one(env_id, GOOD)
    assert reward == pytest.approx(2.0 * 0.5 / 3.0) and (info["verdict"], info["passed"]) == ("partial", False)
    assert step_one(env_id, GOOD, gate=False)[0] == pytest.approx((1.0 + 1.0) / 3.0)


def test_info_reports_each_verifier_and_outcome_verdict():
    _, info = step_one(COMPOSED, "Answer: Paris")
    assert info["scores"] == {"exact": 1.0, "format": 0.5, "brevity": 1.0}
    assert (info["verdict"], info["passed"]) == ("correct", True)  # the outcome verifier's
    assert info["extra"]["components"]["format"] == {"verdict": "bad_format", "detail": "failed: think"}
    assert info["extra"]["extracted"] == "Paris"  # the outcome's own extra is kept
    version = info["versions"]["verifier"]  # the callable's part is a hash of its source
    assert version.startswith("composed/exact/1*1+format/1*0.25+callable:brevity/") and version.endswith("*0.75+gate")


def test_entry_forms_and_labels():
    pair = register("test_compose/Pair-v0", [("exact", 1), (("format", FORMAT), 0.5), ("format", 0.5, {"word_limit": 3}),
                                              [brevity, 0.5]])
    reward, info = step_one(pair, GOOD)
    assert set(info["scores"]) == {"exact", "format", "format_2", "brevity"}
    assert info["scores"]["format_2"] == 0.0 and reward == pytest.approx(2.0 / 2.5)
    # JSON form (lists), as --env-kwargs would give it, and a ready Verifier instance
    from_json = json.loads('[["exact", 1.0], ["format", 0.1, {"think": true}]]')
    assert step_one(register("test_compose/Json-v0", from_json), GOOD)[1]["scores"] == {"exact": 1.0, "format": 1.0}
    inst = register("test_compose/Inst-v0", [(ExactVerifier(), 1.0), (FormatVerifier(think=True), 1.0)])
    assert step_one(inst, "Answer: Paris")[0] == 0.5


@pytest.mark.parametrize(("verifier", "error", "match"), [
    ([("exact", 0.0)], ValueError, r"verifier\[0\] \('exact'\): weight must be a finite number > 0, got 0"),
    ([("exact", 1.0), ("format", -1, FORMAT)], ValueError, r"verifier\[1\] \('format'\): weight .* got -1"),
    ([("exact", float("nan"))], ValueError, "finite number > 0, got nan"),
    ([("exact", float("inf"))], ValueError, "finite number > 0, got inf"),
    ([("exact", True)], ValueError, "got True"),
    ([("exact", "1")], ValueError, "got '1'"),
    ([("exact", 1.0), ("fromat", 0.1)], ValueError, r"verifier\[1\] \('fromat'\): 'fromat' is not a built-in"),
    ([("exact", 1.0), ("format", 0.1, ["think"])], TypeError, "options must be a dict"),
    ([("exact", 1.0), (brevity, 0.1, {"x": 1})], TypeError, "needs a built-in name first"),
    ([("exact", 1.0), ("format", 0.1, {"thinking": True})], TypeError, "thinking"),
    ([("exact", 1.0), ("format", 0.1, {})], ValueError, "'format'.*no check enabled"),
    ([("exact",)], TypeError, r"verifier\[0\].*expected \(verifier, weight\)"),
    ([("exact", 1.0, {}, 4)], TypeError, "expected"),
    ([], TypeError, "non-empty list"),
    ([(42, 1.0)], TypeError, "verifier must be a built-in name"),
])
def test_bad_entries_are_rejected_clearly(verifier, error, match):
    with pytest.raises(error, match=match):
        register("test_compose/Bad-v0", verifier)


def test_bad_composition_options_are_rejected_clearly():
    with pytest.raises(ValueError, match="verifier_options is ambiguous"):
        register("test_compose/Bad-v0", [("exact", 1.0)], verifier_options={"x": 1})
    with pytest.raises(TypeError, match="gate must be True"):
        register("test_compose/Bad-v0", [("exact", 1.0)], gate="yes")
    with pytest.raises(ValueError, match="gate=False applies to composed verifiers"):
        register("test_compose/Bad-v0", "exact", gate=False)
    with pytest.raises(ValueError, match=r"extra_verifiers\[0\] \('format'\): weight"):
        register("test_compose/Bad-v0", "exact", extra_verifiers=[("format", 0, FORMAT)])
    with pytest.raises(ValueError, match="sandboxed=True applies to verifier callables"):
        register("test_compose/Bad-v0", [("exact", 1.0)], sandboxed=True)
    single = register("test_compose/Single-v0", "exact")
    with pytest.raises(ValueError, match=r"extra_verifiers\[0\] \('format'\): weight"):
        gym.make(single, extra_verifiers=[("format", -0.1, FORMAT)])


def test_extra_verifiers_on_a_single_verifier_task():
    single = register("test_compose/Single2-v0", "exact")
    reward, info = step_one(single, "Answer: Paris", extra_verifiers=[("format", 0.5, FORMAT)])
    assert reward == pytest.approx(1.25 / 1.5) and info["scores"] == {"exact": 1.0, "format": 0.5}
    reward, info = step_one(COMPOSED, "Answer: Paris", extra_verifiers=[("format", 1.0, {"word_limit": 1})])
    assert set(info["scores"]) == {"exact", "format", "brevity", "format_2"}  # appended to the composition
    assert reward == pytest.approx((1 + 0.125 + 0.75 + 0.0) / 3.0)


def test_vector_env_one_verify_batch_per_component(monkeypatch):
    calls: list[tuple[str, int]] = []
    for cls in (ExactVerifier, FormatVerifier):
        original = cls.verify_batch

        def spy(self, items, _original=original, _name=cls.name):
            calls.append((_name, len(items)))
            return _original(self, items)

        monkeypatch.setattr(cls, "verify_batch", spy)
    envs = gym.make_vec(COMPOSED, num_envs=4)
    envs.reset(seed=0, options={"index": [0, 1, 0, 1]})
    _, rewards, _, _, infos = envs.step([GOOD, "<think>x</think>\nAnswer: Tokyo", WRONG, "Answer: Tokyo"])
    assert sorted(calls) == [("exact", 4), ("format", 4)]
    assert rewards.tolist() == pytest.approx([1.0, 1.0, 0.0, 1.875 / 2])
    assert infos["scores"]["format"].tolist() == [1.0, 1.0, 1.0, 0.5]
    assert infos["verdict"].tolist() == ["correct", "correct", "wrong", "correct"]


# ---------- through the real sandbox pool ----------------------------------------------------

MATH_FORMAT = [("format", 0.1, {"think": True, "answer_pattern": "boxed"})]


@pytest.mark.docker
def test_builtin_env_extra_verifiers_math_and_format(sandbox_pool):
    kwargs = dict(extra_verifiers=MATH_FORMAT, timeout_s=60.0)
    env = gym.make("sppo_gym/MathAnswer-v0", **kwargs)
    _, info = env.reset(options={"index": 0})
    answer = info["answer"].split("####")[-1].strip()
    responses = [f"<think>add, subtract</think>\nSo \\boxed{{{answer}}}", f"The answer is {answer}.",
                 "<think>guess</think>\\boxed{1000}", f"<think>a</think><think>b</think>\\boxed{{{answer}}}"]
    envs = gym.make_vec("sppo_gym/MathAnswer-v0", num_envs=4, **kwargs)
    envs.reset(seed=0, options={"index": [0, 0, 0, 0]})
    _, rewards, _, _, infos = envs.step(responses)
    assert rewards.tolist() == pytest.approx([1.0, 1.0 / 1.1, 0.0, 1.05 / 1.1])
    assert infos["scores"]["math"].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert infos["scores"]["format"].tolist() == [1.0, 0.0, 1.0, 0.5]
    assert infos["verdict"].tolist() == ["correct", "correct", "wrong", "correct"]
    _, reward, _, _, info = env.step(responses[2])
    assert (reward, info["verdict"], info["scores"]) == (0.0, "wrong", {"math": 0.0, "format": 1.0})
    ungated = gym.make("sppo_gym/MathAnswer-v0", gate=False, **kwargs)
    ungated.reset(options={"index": 0})
    assert ungated.step(responses[2])[1] == pytest.approx(0.1 / 1.1)


@pytest.fixture
def broken_pool(monkeypatch):
    """A real pool whose image does not exist: every job ends in sandbox_error (no retries, no waiting)."""
    broken = SandboxPool(size=1, backend="docker", image="sppo-gym-sandbox:no-such-tag", retries=0)
    monkeypatch.setattr(pool_module, "_DEFAULT", broken)
    yield broken
    broken.close()


@pytest.mark.docker
def test_sandbox_error_in_any_component_wins(broken_pool):
    """Outcome or shaping term: an infrastructure failure is never turned into a (partial) reward."""
    env = gym.make("sppo_gym/MathAnswer-v0", extra_verifiers=MATH_FORMAT)
    env.reset(options={"index": 0})
    _, reward, _, _, info = env.step("<think>x</think>\\boxed{7}")
    assert (reward, info["verdict"], info["passed"]) == (0.0, "sandbox_error", False)
    assert info["scores"]["format"] == 1.0 and info["detail"].startswith("math: ")
    # the sandboxed verifier as a shaping term behind an in-process outcome verifier
    env_id = register("test_compose/ShapedByMath-v0", [("exact", 1.0), ("math", 0.5)])
    envs = gym.make_vec(env_id, num_envs=2)
    envs.reset(seed=0, options={"index": [0, 1]})
    _, rewards, _, _, infos = envs.step(["Answer: Paris", "Answer: Kyoto"])
    assert rewards.tolist() == [0.0, 0.0] and infos["verdict"].tolist() == ["sandbox_error", "sandbox_error"]
    assert infos["scores"]["exact"].tolist() == [1.0, 0.0]
    assert broken_pool.stats["sandbox_errors"] >= 3
