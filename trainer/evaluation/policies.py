"""Policies that ``sppo-gym bench`` can evaluate, all behind one small interface.

A POLICY spec is one of (docs/CONTRACT.md, "Command line"):

* a local Hugging Face model directory, or a preset (``smollm2-135m``, ``tiny-random``): loaded with
  :func:`sppo_gym.trainer.models.load_policy`, prompts formatted with the chat template and
  generated in batches (greedy at temperature 0, else sampled);
* ``python:MODULE:FUNCTION``: a callable ``(prompt: str) -> str``; the current directory is
  searched for ``MODULE`` first, as ``python -m`` does. Called one prompt at a time;
* ``openai:BASE_URL#MODEL``: an OpenAI-compatible chat-completions endpoint through the official
  ``openai`` client, up to ``concurrency`` requests in flight, retried with exponential backoff
  and jitter on 429, 5xx, timeouts and dropped connections. The key comes from
  ``OPENAI_API_KEY``; without it a placeholder is sent (fine for local servers) and a note says so.

Every policy answers ``generate(prompts, seeds, sampling) -> responses`` (one seed per prompt, so
sampled runs are reproducible where the backend allows it) and ``describe() -> dict`` (for
results.json). Sampling settings travel with each call, so a bench run's recorded settings are
the ones the policy used.
"""

from __future__ import annotations

import importlib
import os
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

SPEC_HELP = ("a local Hugging Face model directory, a preset (smollm2-135m, tiny-random), "
             "python:MODULE:FUNCTION or openai:BASE_URL#MODEL")
PLACEHOLDER_KEY = "sppo-gym-no-key"


class PolicyError(ValueError):
    """A user-facing problem with the policy (bad spec, missing model, unreachable endpoint)."""


@dataclass(frozen=True)
class Sampling:
    """How responses are drawn: temperature 0 means greedy decoding."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512


class Policy(Protocol):
    spec: str

    def generate(self, prompts: list[str], seeds: list[int], sampling: Sampling) -> list[str]: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PolicySpec:
    """A parsed POLICY string: ``kind`` is ``local``, ``python`` or ``openai``."""

    kind: str
    target: str  # model dir / preset, MODULE:FUNCTION, or BASE_URL
    model: str = ""  # the endpoint's model name (openai only)


def parse_spec(spec: str) -> PolicySpec:
    """Split a POLICY string into its parts, rejecting malformed ones with the expected form."""
    if not isinstance(spec, str) or not spec.strip():
        raise PolicyError(f"--policy is empty; give {SPEC_HELP}")
    spec = spec.strip()
    if spec.startswith("python:"):
        module, _, func = spec.removeprefix("python:").rpartition(":")
        if not module or not func or not all(p.isidentifier() for p in [*module.split("."), func]):
            raise PolicyError(f"--policy {spec!r}: expected python:MODULE:FUNCTION, e.g. python:my_policies:answer")
        return PolicySpec("python", f"{module}:{func}")
    if spec.startswith("openai:"):
        url, _, model = spec.removeprefix("openai:").partition("#")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or not model:
            raise PolicyError(f"--policy {spec!r}: expected openai:BASE_URL#MODEL, "
                              "e.g. openai:http://127.0.0.1:8000/v1#my-model")
        return PolicySpec("openai", url, model)
    if spec.startswith(("http://", "https://")):
        raise PolicyError(f"--policy {spec!r} looks like an endpoint; write openai:{spec}#MODEL")
    from ..models import PRESETS  # imports torch (~1.4 s): only local models need it

    if spec not in PRESETS and not Path(spec).expanduser().is_dir():
        raise PolicyError(f"--policy {spec!r}: no such model directory; give {SPEC_HELP}")
    return PolicySpec("local", spec)


def make_policy(spec: str, *, device: str = "auto", batch_size: int = 8,
                concurrency: int = 8, timeout_s: float = 120.0, max_retries: int = 6,
                backoff_s: float = 0.5, say: Callable[[str], None] = print) -> Policy:
    """Build the policy a spec names; ``say`` receives one-line notes (e.g. about a missing key)."""
    parsed = parse_spec(spec)
    if parsed.kind == "python":
        return CallablePolicy(spec, load_callable(parsed.target))
    if parsed.kind == "openai":
        policy = OpenAIPolicy(spec, parsed.target, parsed.model, concurrency=concurrency,
                              timeout_s=timeout_s, max_retries=max_retries, backoff_s=backoff_s)
        if policy.placeholder_key:
            say("note: OPENAI_API_KEY is not set; sending a placeholder key (fine for local servers)")
        policy.check_reachable()
        return policy
    return LocalPolicy(spec, parsed.target, device=device, batch_size=batch_size)


# ----- python:MODULE:FUNCTION -------------------------------------------------------------------
def load_callable(target: str) -> Callable[[str], str]:
    """Import ``MODULE:FUNCTION`` (the current directory first on the path, like ``python -m``)."""
    module_name, func_name = target.split(":")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise PolicyError(f"--policy python:{target}: no module {module_name!r} on the path; run from the "
                              "folder that holds it or add that folder to PYTHONPATH") from None
        raise PolicyError(f"--policy python:{target}: importing {module_name} failed: {e}") from None
    except Exception as e:
        raise PolicyError(f"--policy python:{target}: importing {module_name} failed: "
                          f"{type(e).__name__}: {e}") from None
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise PolicyError(f"--policy python:{target}: {module_name} has no callable {func_name!r}")
    return fn


class CallablePolicy:
    """A user's ``(prompt) -> str`` function, called in order (it need not be thread-safe)."""

    def __init__(self, spec: str, fn: Callable[[str], str]):
        self.spec = spec
        self.fn = fn

    def generate(self, prompts: list[str], seeds: list[int], sampling: Sampling) -> list[str]:
        out = []
        for prompt in prompts:
            response = self.fn(prompt)
            if not isinstance(response, str):
                raise PolicyError(f"--policy {self.spec} returned {type(response).__name__}; a policy "
                                  "function must return the response text (str)")
            out.append(response)
        return out

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": "python", "function": self.spec.removeprefix("python:")}

    def close(self) -> None:
        pass


# ----- local Hugging Face model -----------------------------------------------------------------
class LocalPolicy:
    """A local causal LM: chat template, left-padded batches, greedy or seeded sampling."""

    def __init__(self, spec: str, name: str, *, device: str, batch_size: int):
        # torch (~1.4 s) loads only for a local model: python: and openai: policies never need it
        import torch

        from ..models import load_policy, make_amp, resolve_device

        self.spec, self.name = spec, name
        self.batch_size = max(1, batch_size)
        self.device = resolve_device(device)
        try:
            self.model, self.tokenizer = load_policy(name, self.device)
        except (OSError, ValueError) as e:
            raise PolicyError(f"--policy {name!r}: cannot load the model: {str(e).splitlines()[0]}") from None
        self.model.eval()
        self.amp = make_amp(self.device, "auto")
        self.context = getattr(self.model.config, "max_position_embeddings", None) or 4096
        self._torch = torch

    def generate(self, prompts: list[str], seeds: list[int], sampling: Sampling) -> list[str]:
        from ..rollout import decode, encode_prompts, generate  # torch: see __init__

        greedy = sampling.temperature == 0
        max_prompt_tokens = max(64, min(4096, self.context - sampling.max_new_tokens))  # keep the left end
        out: list[str] = []
        for s in range(0, len(prompts), self.batch_size):
            self._torch.manual_seed(seeds[s])  # the batch's first sample seeds the whole batch
            enc = encode_prompts(self.tokenizer, prompts[s : s + self.batch_size], max_prompt_tokens,
                                 self.device)  # ids/mask (B, P)
            ids, mask = generate(self.model, self.tokenizer, enc, max_new_tokens=sampling.max_new_tokens,
                                 temperature=sampling.temperature or 1.0, top_p=sampling.top_p,
                                 greedy=greedy, amp=self.amp)  # (B, T), (B, T)
            out.extend(decode(self.tokenizer, ids, mask))
        return out

    def describe(self) -> dict[str, Any]:
        cfg = self.model.config
        return {"spec": self.spec, "kind": "local", "model": self.name, "device": str(self.device),
                "architecture": (getattr(cfg, "architectures", None) or [type(self.model).__name__])[0],
                "parameters": sum(p.numel() for p in self.model.parameters()), "batch_size": self.batch_size}

    def close(self) -> None:
        pass


# ----- openai:BASE_URL#MODEL --------------------------------------------------------------------
class OpenAIPolicy:
    """Chat completions with bounded concurrency and retries (backoff with jitter, Retry-After)."""

    def __init__(self, spec: str, base_url: str, model: str, *, concurrency: int,
                 timeout_s: float, max_retries: int, backoff_s: float):
        import openai  # ~0.5 s, only for endpoint policies

        if concurrency < 1:
            raise PolicyError(f"--concurrency must be >= 1, got {concurrency}")
        key = os.environ.get("OPENAI_API_KEY")
        self.placeholder_key = not key
        self.spec, self.base_url, self.model = spec, base_url.rstrip("/"), model
        self.max_retries, self.backoff_s, self.concurrency = max_retries, backoff_s, concurrency
        # The client's own retries are off: ours count retries and honour the same rules for every call.
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key or PLACEHOLDER_KEY, timeout=timeout_s,
                                    max_retries=0)
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-endpoint")
        self.stats = {"requests": 0, "retries": 0, "prompt_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()

    def check_reachable(self, timeout_s: float = 5.0) -> None:
        """Fail fast, with the fix, when nothing listens at BASE_URL (instead of retrying for minutes)."""
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout_s):
                pass
        except OSError as e:
            raise PolicyError(f"endpoint {self.base_url} is unreachable ({e.strerror or e}); start the server "
                              "or fix BASE_URL in --policy openai:BASE_URL#MODEL") from None

    def generate(self, prompts: list[str], seeds: list[int], sampling: Sampling) -> list[str]:
        return list(self.pool.map(self._complete, prompts, seeds, [sampling] * len(prompts)))

    def _complete(self, prompt: str, seed: int, sampling: Sampling) -> str:
        import openai  # already loaded by __init__ (for its exception classes)

        for attempt in range(self.max_retries + 1):
            try:
                resp = self.client.chat.completions.create(
                    model=self.model, messages=[{"role": "user", "content": prompt}],
                    temperature=sampling.temperature, top_p=sampling.top_p,
                    max_tokens=sampling.max_new_tokens, seed=seed,
                )
            except (openai.APIConnectionError, openai.APIStatusError) as e:
                status = getattr(e, "status_code", None)
                if status is not None and status != 429 and status < 500:
                    raise PolicyError(self._status_message(e, status)) from None
                if attempt == self.max_retries:
                    raise PolicyError(f"endpoint {self.base_url} still failing after {attempt + 1} tries "
                                      f"({_short(e)}); check the server, or lower --concurrency") from None
                self._count("retries")
                time.sleep(self._delay(attempt, e))
                continue
            except openai.APIError as e:  # e.g. a 200 answer that is not a chat completion
                raise PolicyError(f"endpoint {self.base_url} did not answer with a chat completion ({_short(e)}); "
                                  "check that BASE_URL is the API root (it usually ends in /v1)") from None
            self._record(resp)
            return (resp.choices[0].message.content or "") if resp.choices else ""
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, error: Exception) -> float:
        """Exponential backoff with full jitter; a server's Retry-After (seconds) wins when given."""
        response = getattr(error, "response", None)
        after = response.headers.get("retry-after") if response is not None else None
        if after is not None:
            try:
                return min(60.0, max(0.0, float(after)))
            except ValueError:
                pass
        return random.uniform(0.5, 1.0) * min(30.0, self.backoff_s * 2**attempt)

    def _status_message(self, e: Exception, status: int) -> str:
        fixes = {401: "set OPENAI_API_KEY to a valid key", 403: "check the key's permissions",
                 404: f"check BASE_URL (it usually ends in /v1) and that the server serves model {self.model!r}"}
        fix = fixes.get(status, "check the request settings (--max-new-tokens, --temperature) for this server")
        return f"endpoint {self.base_url} answered HTTP {status} ({_short(e)}); {fix}"

    def _count(self, key: str, value: int = 1) -> None:
        with self._lock:
            self.stats[key] += value

    def _record(self, resp: Any) -> None:
        usage = getattr(resp, "usage", None)
        with self._lock:
            self.stats["requests"] += 1
            if usage is not None:
                self.stats["prompt_tokens"] += usage.prompt_tokens or 0
                self.stats["completion_tokens"] += usage.completion_tokens or 0

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": "openai", "base_url": self.base_url, "model": self.model,
                "concurrency": self.concurrency, "placeholder_key": self.placeholder_key, **self.stats}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _short(e: Exception) -> str:
    """One line of an exception, without the body dump some servers send."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."
