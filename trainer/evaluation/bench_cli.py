"""``sppo-gym bench``: benchmark a policy on environments, or compare earlier runs.

Kept import-light (torch, transformers and openai load only once a run starts). Mistakes a user
makes (unknown env id, bad policy spec, endpoint down, model folder missing) end with one line
that names the fix, and exit code 2; Ctrl-C keeps every scored sample for a resume (exit 130).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import typer

_DOC = "\n\n".join((
    "Benchmark a policy on one or more environments (problems 0..n-1 of split=test).",
    "POLICY: a local Hugging Face model directory, a preset (smollm2-135m, tiny-random), "
    "python:MODULE:FUNCTION (a callable prompt -> response), or openai:BASE_URL#MODEL "
    "(an OpenAI-compatible chat endpoint; key from OPENAI_API_KEY).",
    "Writes OUT/results.json (accuracy = mean reward of the first sample, pass@k, verdict counts, "
    "sandbox errors, timings, versions), OUT/samples.jsonl (one line per sample; rerunning the same "
    "command resumes), one PNG bar chart per env, and prints a markdown table.",
    "sppo-gym bench --compare DIR1 DIR2 ... prints earlier runs side by side.",
))

def default_out(policy: str) -> Path:
    """``runs/bench/<policy>``: runs of different policies do not collide by default."""
    return Path("runs") / "bench" / slug(Path(policy).name if Path(policy).is_dir() else policy, "policy")


def slug(name: str, fallback: str) -> str:
    """``name`` as one safe path component (runs of other characters become ``-``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or fallback


def bench_command(
    env: Optional[list[str]] = typer.Option(None, "--env", help="Environment id; repeat for several envs."),  # noqa: UP045
    env_kwargs: Optional[list[str]] = typer.Option(  # noqa: UP045
        None, "--env-kwargs", help="JSON keyword arguments: once for every env, or once per --env in order."),
    policy: Optional[str] = typer.Option(None, "--policy", help="Model dir, preset, python:MODULE:FUNCTION "  # noqa: UP045
                                         "or openai:BASE_URL#MODEL."),
    n: int = typer.Option(20, "--n", help="Number of problems per env (indices 0..n-1)."),
    k: int = typer.Option(1, "--k", help="Samples per problem, for pass@k (needs --temperature > 0 when > 1)."),
    temperature: float = typer.Option(0.0, help="Sampling temperature; 0 = greedy."),
    top_p: float = typer.Option(1.0, help="Nucleus sampling threshold."),
    seed: int = typer.Option(0, help="Seed of the per-sample sampling seeds."),
    max_new_tokens: int = typer.Option(512, help="Longest response, in tokens."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: runs/bench/POLICY)."),  # noqa: UP045
    batch_size: int = typer.Option(8, help="Problems generated and verified per batch."),
    concurrency: int = typer.Option(8, help="Requests in flight to an openai: endpoint."),
    device: str = typer.Option("auto", help="Device of a local model: auto, cpu, cuda, cuda:1, ..."),
    request_timeout: float = typer.Option(120.0, help="Seconds per endpoint request before it is retried."),
    max_retries: int = typer.Option(6, help="Retries per endpoint request on 429, 5xx and timeouts."),
    overwrite: bool = typer.Option(False, help="Discard the samples already in --out instead of resuming."),
    rescore: bool = typer.Option(False, help="Verify every stored response again (after a verifier or test fix) "
                                 "instead of only sandbox errors; nothing stored is generated again."),
    progress: bool = typer.Option(True, help="Show a live progress bar."),
    compare: bool = typer.Option(False, "--compare", help="Print earlier runs (the DIRS) side by side."),
    dirs: Optional[list[Path]] = typer.Argument(None, help="Run folders for --compare.", show_default=False),  # noqa: UP045
) -> None:
    # The evaluation modules load when a command runs, not on every `sppo-gym` call: importing them
    # (with tqdm) at the top added 25-120 ms to the CLI's ~0.4 s start on the 2-core development machine.
    from .bench_store import BenchError
    from .policies import PolicyError

    try:
        if compare or dirs:
            _compare(compare, dirs or [])
            return
        if not policy:
            raise BenchError("missing --policy; give a model dir, a preset (tiny-random, smollm2-135m), "
                             "python:MODULE:FUNCTION or openai:BASE_URL#MODEL")
        _run(env or [], env_kwargs or [], policy, out or default_out(policy), n=n, k=k, temperature=temperature,
             top_p=top_p, seed=seed, max_new_tokens=max_new_tokens, batch_size=batch_size, concurrency=concurrency,
             device=device, request_timeout=request_timeout, max_retries=max_retries, overwrite=overwrite,
             rescore=rescore, progress=progress)
    except (BenchError, PolicyError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


bench_command.__doc__ = _DOC


def _compare(flag: bool, dirs: list[Path]) -> None:
    from .bench_report import compare_table  # lazy: see bench_command
    from .bench_store import BenchError

    if not flag:
        raise BenchError(f"unexpected argument(s) {[str(d) for d in dirs]}; to compare runs write "
                         "sppo-gym bench --compare DIR1 DIR2 ...")
    typer.echo(compare_table(dirs))


def _run(env_ids: list[str], env_kwargs: list[str], policy_spec: str, out: Path, *, n: int, k: int,
         temperature: float, top_p: float, seed: int, max_new_tokens: int, batch_size: int, concurrency: int,
         device: str, request_timeout: float, max_retries: int, overwrite: bool, rescore: bool, progress: bool) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local models come from disk only
    # lazy (see bench_command); after HF_HUB_OFFLINE, which transformers reads when it loads
    from .bench import BenchSettings, check_envs, check_resume_mode, parse_envs, run_bench
    from .bench_report import results_table, write_plots
    from .policies import make_policy, parse_spec

    settings = BenchSettings(n=n, k=k, temperature=temperature, top_p=top_p, seed=seed,
                             max_new_tokens=max_new_tokens, batch_size=batch_size)
    settings.validate()
    check_resume_mode(overwrite=overwrite, rescore=rescore)  # before a model loads
    envs = parse_envs(env_ids, env_kwargs)
    check_envs(envs)
    parse_spec(policy_spec)  # reject a malformed spec before anything heavy loads
    pol = make_policy(policy_spec, device=device, batch_size=batch_size, concurrency=concurrency,
                      timeout_s=request_timeout, max_retries=max_retries, say=lambda m: typer.echo(m, err=True))
    try:
        results = run_bench(pol, envs, settings, out, overwrite=overwrite, rescore=rescore, progress=progress)
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: scored samples are in {out / 'samples.jsonl'}; run the same command "
                   "again to resume", err=True)
        raise typer.Exit(130) from None
    finally:
        pol.close()
    plots = write_plots(results, out)
    typer.echo(results_table(results))
    for label, r in results["envs"].items():
        if r["sandbox_errors"]:
            doctor = "check `sppo-gym sandbox doctor`, then " if r["sandbox_errors"] == r["samples"] else ""
            typer.echo(f"warning: {r['sandbox_errors']} of {r['samples']} samples of {label} hit a sandbox error "
                       f"(left out of the metrics); {doctor}rerun the same command to verify them again", err=True)
    typer.echo(f"\nresults {out / 'results.json'}, samples {out / 'samples.jsonl'}, charts "
               + ", ".join(str(p) for p in plots))
