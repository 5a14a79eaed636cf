"""``sppo-gym serve`` as a real process on a loopback port, driven by a real HTTP client.

Verdicts over HTTP equal the local env's; every kind of bad input gets its 4xx with a JSON
``error`` and leaves the service healthy; a full queue answers 503 and a fast client 429; the
client, the remote env and the TRL / verl / OpenRLHF reward functions work against it; the
process leaves no container behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import gymnasium as gym
import httpx
import pytest
import sppo_gym.envs  # noqa: F401
from sppo_gym.envs.service import (
    RemoteEnvReward,
    ServiceClient,
    ServiceRequestError,
    compute_score,
    compute_score_batch,
    openrlhf_reward_func,
    remote_env,
)
from sppo_gym.sandbox.transport import LABEL, OWNER_LABEL

pytestmark = pytest.mark.docker

TOKEN = "test-token-4b1d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args: str, pool_size: int = 2) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SPPO_GYM_SERVICE_TOKEN": TOKEN, "SPPO_GYM_POOL_SIZE": str(pool_size)}
    env.pop("SPPO_GYM_RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "sppo_gym.trainer.cli", "serve", "--port", str(port),
                             "--log-level", "warning", *args], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, "the service exited while starting"
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the service did not come up"
        time.sleep(0.3)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=60)


def containers_of(pid: int) -> list[str]:
    import docker

    found = docker.from_env().api.containers(all=True, filters={"label": LABEL})
    return [c["Id"] for c in found if (c.get("Labels") or {}).get(OWNER_LABEL, "").endswith(f":{pid}")]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    (data / "m.jsonl").write_text('{"problem": "2+2?", "answer": "4"}\n{"problem": "3*3?", "answer": "9"}\n')
    proc, url = start("--data-dir", str(data))
    yield url, data
    stop(proc)
    assert containers_of(proc.pid) == []


@pytest.fixture
def http(service):
    with httpx.Client(base_url=service[0], headers=AUTH, timeout=300) as client:
        yield client


def local_step(env_id: str, kwargs: dict, index: int, response: str) -> tuple[float, str]:
    env = gym.make(env_id, **kwargs)
    env.reset(options={"index": index})
    _, reward, _, _, info = env.step(response)
    return reward, info["verdict"]


CASES = [  # env id, kwargs, index, response
    ("sppo_gym/Arithmetic-v0", {}, 0, "I think it is 5."),
    ("sppo_gym/MathAnswer-v0", {}, 0, "The answer is \\boxed{18}."),
    ("sppo_gym/HumanEval-v0", {}, 0, "```python\ndef has_close_elements(numbers, threshold):\n"
     "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```"),
    ("sppo_gym/HumanEval-v0", {}, 1, "```python\ndef separate_paren_groups(s):\n    return []\n```"),
    ("sppo_gym/ReasoningGym-v0", {"task": "basic_arithmetic"}, 2, "<answer>12</answer>"),
]


def test_verdicts_over_http_equal_the_local_envs(http):
    by_env: dict[tuple, list] = {}
    for env_id, kwargs, index, response in CASES:
        by_env.setdefault((env_id, repr(kwargs)), []).append((kwargs, index, response))
    for (env_id, _), rows in by_env.items():
        items = [{"index": i, "response": r} for _, i, r in rows]
        got = http.post("/v1/verify", json={"env": env_id, "env_kwargs": rows[0][0], "items": items})
        assert got.status_code == 200, got.text
        results = got.json()["results"]
        assert [(r["reward"], r["verdict"]) for r in results] == [local_step(env_id, k, i, r) for k, i, r in rows]
        assert all(set(r) >= {"reward", "verdict", "passed", "detail"} for r in results)
    verdicts = {r["verdict"] for r in http.post("/v1/verify", json={"env": "sppo_gym/HumanEval-v0", "items": [
        {"index": 0, "response": CASES[2][3]}, {"task_id": "HumanEval/1", "response": CASES[3][3]}]}).json()["results"]}
    assert verdicts == {"passed", "failed"}  # by index and by task id, right and wrong


def test_verifier_mode_and_allowed_data(http, service):
    got = http.post("/v1/verify", json={"verifier": "math", "items": [
        {"problem": {"answer": "42"}, "response": "so \\boxed{42}"},
        {"problem": {"answer": "42"}, "response": "so \\boxed{41}"}]})
    assert [r["verdict"] for r in got.json()["results"]] == ["correct", "wrong"]
    data = str(service[1] / "m.jsonl")
    got = http.post("/v1/verify", json={"env": "sppo_gym/MathAnswer-v0", "env_kwargs": {"data": data},
                                        "items": [{"index": 1, "response": "\\boxed{9}"}]})
    assert got.status_code == 200, got.text
    assert got.json()["results"][0]["verdict"] == "correct"


BAD = [  # (what, request kwargs, status, words in the error)
    ("no token", {"json": {"env": "sppo_gym/Arithmetic-v0", "items": []}, "headers": {"Authorization": ""}}, 401, "token"),
    ("wrong token", {"json": {"env": "sppo_gym/Arithmetic-v0", "items": []},
                     "headers": {"Authorization": "Bearer nope"}}, 401, "token"),
    ("not JSON", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, "malformed"),
    ("response not a string", {"json": {"env": "sppo_gym/Arithmetic-v0", "items": [{"index": 0, "response": 5}]}},
     422, "response"),
    ("index not an int", {"json": {"env": "sppo_gym/Arithmetic-v0", "items": [{"index": "0", "response": "1"}]}},
     422, "index"),
    ("items not a list", {"json": {"env": "sppo_gym/Arithmetic-v0", "items": "x"}}, 422, "items"),
    ("two problem names", {"json": {"env": "sppo_gym/Arithmetic-v0", "items": [{"index": 0, "task_id": "a",
                                                                                "response": "1"}]}}, 422, "exactly one"),
    ("unknown field", {"json": {"env": "sppo_gym/Arithmetic-v0", "items": [], "extra": 1}}, 422, "extra"),
    ("unknown env", {"json": {"env": "sppo_gym/Nope-v0", "items": [{"index": 0, "response": "1"}]}}, 404, "unknown env"),
    ("module path as env", {"json": {"env": "os:system", "items": [{"index": 0, "response": "1"}]}}, 404, "unknown env"),
    ("unknown verifier", {"json": {"verifier": "nope", "items": [{"problem": {}, "response": "1"}]}}, 404,
     "unknown verifier"),
    ("bad env kwargs", {"json": {"env": "sppo_gym/Arithmetic-v0", "env_kwargs": {"difficulty": "hard!"},
                                 "items": [{"index": 0, "response": "1"}]}}, 422, "cannot make"),
    ("index out of range", {"json": {"env": "sppo_gym/HumanEval-v0", "items": [{"index": 10**6, "response": "1"}]}},
     422, "items[0]"),
    ("unknown task id", {"json": {"env": "sppo_gym/HumanEval-v0", "items": [{"task_id": "nope", "response": "1"}]}},
     422, "items[0]"),
    ("data outside --data-dir", {"json": {"env": "sppo_gym/MathAnswer-v0", "env_kwargs": {"data": "/etc/passwd"},
                                          "items": [{"index": 0, "response": "1"}]}}, 403, "data-dir"),
    ("problem the verifier cannot read", {"json": {"verifier": "math", "items": [{"problem": {"answer": ""},
                                                                                   "response": "1"}]}}, 422, "problem"),
    ("too many items", {"json": {"env": "sppo_gym/Arithmetic-v0",
                                 "items": [{"index": 0, "response": "1"}] * 1025}}, 422, "at most 1024"),
    ("body over the limit", {"content": b'{"items": "' + b"x" * (9 * 2**20) + b'"}',
                             "headers": {"Content-Type": "application/json"}}, 413, "over"),
]


@pytest.mark.parametrize(("what", "request_kwargs", "status", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_clear_error_and_the_service_stays_healthy(http, what, request_kwargs, status, words):
    got = http.post("/v1/verify", **request_kwargs)
    assert got.status_code == status, got.text
    assert words in got.json()["error"]
    assert http.get("/healthz").json()["status"] == "ok"
    ok = http.post("/v1/verify", json={"env": "sppo_gym/Arithmetic-v0", "items": [{"index": 0, "response": "0"}]})
    assert ok.status_code == 200 and ok.json()["results"][0]["verdict"] == "wrong"


def test_chunked_body_over_the_limit_is_refused(http):
    def chunks():
        for _ in range(10):
            yield b"x" * 2**20

    got = http.post("/v1/verify", content=chunks(), headers={"Content-Type": "application/json"})
    assert got.status_code == 413 and "over" in got.json()["error"]


def test_docs_metrics_and_health(http, service):
    assert httpx.get(service[0] + "/healthz").status_code == 200  # no token needed
    assert httpx.get(service[0] + "/metrics").status_code == 401
    spec = http.get("/openapi.json").json()
    assert {"/v1/verify", "/v1/openrlhf", "/healthz", "/metrics"} <= set(spec["paths"])
    text = http.get("/metrics").text
    assert 'sppo_gym_requests_total{path="/v1/verify",status="200"}' in text
    assert "sppo_gym_items_total" in text


def test_full_queue_gets_503_and_a_fast_client_429():
    proc, url = start("--max-concurrent", "1", "--max-queued", "1", "--rate", "4", pool_size=1)
    try:
        problem = {"task_id": "slow", "prompt": "", "entry_point": "f", "test": "def check(c):\n    assert c() == 1\n"}
        slow = {"verifier": "python_tests", "items": [{"problem": problem, "response":
                "```python\nimport time\ndef f():\n    time.sleep(2)\n    return 1\n```"}]}
        codes: list[int] = []
        retry_after: list[str | None] = []

        def send() -> None:
            r = httpx.post(url + "/v1/verify", json=slow, headers=AUTH, timeout=120)
            codes.append(r.status_code)
            retry_after.append(r.headers.get("Retry-After"))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200, 200, 503, 503], codes  # one verifying, one waiting, the rest refused
        assert all(ra for c, ra in zip(codes, retry_after, strict=True) if c == 503)
        quick = [httpx.post(url + "/v1/verify", json={"env": "sppo_gym/Arithmetic-v0", "items": []},
                            headers=AUTH).status_code for _ in range(20)]
        assert 429 in quick and quick[0] == 200
        assert httpx.get(url + "/healthz").status_code == 200
        client = ServiceClient(url, TOKEN)  # the client waits out 503/429 (Retry-After) instead of failing
        verdicts: list[str] = []
        threads = [threading.Thread(target=lambda: verdicts.extend(
            r["verdict"] for r in client.verify(slow["items"], verifier="python_tests"))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert verdicts == ["passed"] * 4
    finally:
        stop(proc)


def test_no_token_off_loopback_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if k != "SPPO_GYM_SERVICE_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "sppo_gym.trainer.cli", "serve", "--host", "0.0.0.0",
                           "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "without a token" in done.stderr


def test_client_remote_env_and_vector_env(service):
    url = service[0]
    client = ServiceClient(url, TOKEN, max_items=2)  # 5 items: 3 requests
    results = client.verify([{"index": i, "response": "0"} for i in range(5)], env="sppo_gym/Arithmetic-v0")
    assert len(results) == 5 and all(r["verdict"] == "wrong" for r in results)
    with pytest.raises(ServiceRequestError, match="unknown env") as err:
        client.verify([{"index": 0, "response": "0"}], env="sppo_gym/Nope-v0")
    assert err.value.status == 404
    env = remote_env("sppo_gym/Arithmetic-v0", url=url, token=TOKEN)
    _, info = env.reset(options={"index": 3})
    _, reward, terminated, _, info = env.step(f"It is {info['answer']}.")
    assert (reward, info["verdict"], terminated) == (1.0, "correct", True)
    assert info["versions"]["verifier"].startswith("remote:sppo_gym/Arithmetic-v0")
    envs = remote_env("sppo_gym/HumanEval-v0", url=url, token=TOKEN, num_envs=2)
    envs.reset(options={"index": [0, 1]})
    _, rewards, _, _, infos = envs.step([CASES[2][3], CASES[3][3]])
    assert list(rewards) == [1.0, 0.0] and list(infos["verdict"]) == ["passed", "failed"]


def test_reward_functions_for_trl_verl_openrlhf(service, monkeypatch):
    url = service[0]
    monkeypatch.setenv("SPPO_GYM_SERVICE_URL", url)
    monkeypatch.setenv("SPPO_GYM_SERVICE_TOKEN", TOKEN)
    trl = RemoteEnvReward("sppo_gym/HumanEval-v0")
    got = trl(prompts=["p", "p"], completions=[[{"role": "assistant", "content": CASES[2][3]}], CASES[3][3]],
              task_id=["HumanEval/0", "HumanEval/1"])
    assert got == [1.0, 0.0]
    one = compute_score("math", "Thus \\boxed{\\frac{1}{2}}", "0.5")
    assert one["score"] == 1.0 and one["verdict"] == "correct" and one["sandbox_error"] == 0
    batch = compute_score_batch(["sppo_gym/HumanEval-v0", "math", "sppo_gym/HumanEval-v0"],
                                [CASES[2][3], "\\boxed{3}", CASES[3][3]], [None, "4", None],
                                [{"task_id": "HumanEval/0"}, {}, {"index": 1}])
    assert [b["verdict"] for b in batch] == ["passed", "wrong", "failed"]
    prompt = "<|user|>What is 2+3?<|assistant|>"
    body = {"query": [prompt + "It is \\boxed{5}", prompt + "\\boxed{6}"], "prompts": [prompt, prompt],
            "labels": ["5", "5"]}
    got = httpx.post(url + "/v1/openrlhf?verifier=math", json=body, headers=AUTH).json()
    assert got["rewards"] == [1.0, 0.0] and got["scores"] == [1.0, 0.0] and got["extra_logs"]["passed"] == [1.0, 0.0]
    monkeypatch.setenv("SPPO_GYM_OPENRLHF_ENV", "sppo_gym/HumanEval-v0")
    got = openrlhf_reward_func(["p" + CASES[2][3]], ["p"], ["HumanEval/0"])
    assert got["rewards"] == [1.0]
