"""The openai: policy against a real local HTTP server speaking the chat-completions protocol,
through the official ``openai`` client: answers, concurrency bound, retries, clear failures."""

from __future__ import annotations

import socket
import threading

import pytest
from bench_tasks import SUM_ID, parse_sum, register_sum_task
from sppo_gym.trainer.evaluation.bench import BenchSettings, EnvSpec, run_bench
from sppo_gym.trainer.evaluation.chat_server import ChatServer
from sppo_gym.trainer.evaluation.policies import PolicyError, Sampling, make_policy

GREEDY16 = Sampling(temperature=0.0, max_new_tokens=16)


def _answer(prompt: str) -> str:
    return str(parse_sum(prompt)) if prompt.startswith("Compute ") else f"echo: {prompt}"


def _policy(srv: ChatServer, **kw):
    kw.setdefault("backoff_s", 0.01)
    notes: list[str] = []
    pol = make_policy(f"openai:{srv.base_url}#{srv.model}", say=notes.append, **kw)
    return pol, notes


def test_answers_in_order_with_bounded_concurrency(monkeypatch) -> None:
    """The server answers only when 3 requests are in flight at once (a barrier): a serial client
    never gets an answer (the barrier breaks, every try fails), an unbounded one shows more in flight."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    barrier = threading.Barrier(3, timeout=30)  # the timeout only ends a failing run

    def answer_three_at_a_time(prompt: str) -> str:
        barrier.wait()
        return _answer(prompt)

    with ChatServer(answer_three_at_a_time) as srv:
        pol, notes = _policy(srv, concurrency=3, max_retries=1)
        prompts = [f"p{i}" for i in range(12)]
        assert pol.generate(prompts, list(range(12)), GREEDY16) == [f"echo: p{i}" for i in range(12)]
        pol.close()
    assert notes == []
    assert srv.max_in_flight == 3 and len(srv.requests) == 12
    assert set(srv.auth) == {"Bearer test-key"}
    body = srv.requests[0]
    assert body["model"] == "test-model" and body["temperature"] == 0.0 and body["max_tokens"] == 16
    assert sorted(r["seed"] for r in srv.requests) == list(range(12))  # one seed per sample, passed on
    assert pol.describe()["requests"] == 12 and pol.describe()["retries"] == 0


def test_missing_key_uses_placeholder_and_says_so(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ChatServer(_answer) as srv:
        pol, notes = _policy(srv)
        assert pol.generate(["hi"], [0], GREEDY16) == ["echo: hi"]
        pol.close()
    assert len(notes) == 1 and "OPENAI_API_KEY" in notes[0]
    assert srv.auth == ["Bearer sppo-gym-no-key"]


def test_retries_429_500_and_timeouts() -> None:
    with ChatServer(_answer, slow_s=1.5) as srv:
        srv.failures = [429, 500, 503, "slow"]
        pol, _ = _policy(srv, concurrency=1, timeout_s=0.5, max_retries=5)
        assert pol.generate(["a", "b"], [0, 1], GREEDY16) == ["echo: a", "echo: b"]
        assert pol.describe()["retries"] == 4 and pol.describe()["requests"] == 2
        pol.close()


def test_gives_up_after_max_retries_with_one_clear_line() -> None:
    with ChatServer(_answer) as srv:
        srv.failures = [500] * 10
        pol, _ = _policy(srv, max_retries=2)
        with pytest.raises(PolicyError, match=r"still failing after 3 tries") as e:
            pol.generate(["a"], [0], GREEDY16)
        pol.close()
    assert len(srv.requests) == 3 and "\n" not in str(e.value)


def test_unknown_model_fails_at_once_naming_the_fix() -> None:
    with ChatServer(_answer) as srv:
        pol = make_policy(f"openai:{srv.base_url}#no-such-model", backoff_s=0.01, say=lambda m: None)
        with pytest.raises(PolicyError, match=r"HTTP 404.*no-such-model"):
            pol.generate(["a"], [0], GREEDY16)
        pol.close()
    assert len(srv.requests) == 1  # a 4xx other than 429 is not retried


def test_unreachable_endpoint_fails_before_any_work() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PolicyError, match=r"unreachable.*start the server"):
        make_policy(f"openai:http://127.0.0.1:{port}/v1#m", say=lambda m: None)


@pytest.mark.parametrize("spec", ["openai:127.0.0.1:8000/v1#m", "openai:http://127.0.0.1:8000/v1",
                                  "http://127.0.0.1:8000/v1", "python:nomodule", "python:a b:f"])
def test_malformed_specs_name_the_expected_form(spec: str) -> None:
    with pytest.raises(PolicyError, match=r"openai:BASE_URL#MODEL|python:MODULE:FUNCTION|openai:http"):
        make_policy(spec, say=lambda m: None)


def test_bench_run_through_endpoint(tmp_path) -> None:
    register_sum_task()
    with ChatServer(_answer) as srv:
        srv.failures = [429, 502]
        pol, _ = _policy(srv, concurrency=4)
        res = run_bench(pol, [EnvSpec(SUM_ID, {}, SUM_ID)], BenchSettings(n=8, k=2, temperature=0.7, batch_size=6),
                        tmp_path, progress=False)
        pol.close()
    r = res["envs"][SUM_ID]
    assert r["accuracy"] == 1.0 and r["pass_at_k"] == 1.0 and r["samples"] == 16 and r["sandbox_errors"] == 2
    assert res["policy"]["kind"] == "openai" and res["policy"]["retries"] == 2 and res["policy"]["requests"] == 16
    assert {q["temperature"] for q in srv.requests} == {0.7}


def test_base_url_without_v1_names_the_fix() -> None:
    with ChatServer(_answer) as srv:
        pol = make_policy(f"openai:{srv.base_url.removesuffix('/v1')}#{srv.model}", say=lambda m: None)
        with pytest.raises(PolicyError, match=r"HTTP 404.*ends in /v1"):
            pol.generate(["a"], [0], GREEDY16)
        pol.close()
