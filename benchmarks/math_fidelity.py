"""Fidelity and throughput of the ``math`` verifier vs plain ``math_verify`` on the labelled set.

Agreement: the fraction of (gold, response, expected) rows of
``verifiers/math/data/math_equivalence.jsonl`` where the verifier's reward equals the hand label,
per category and overall, for both verifiers on the same pairs in the same run.

* ours: ``get_verifier("math").verify_batch`` through the real sandbox pool (Docker unless
  ``SPPO_GYM_SANDBOX`` says otherwise), batches of ``--batch`` pairs. A row's optional
  ``problem`` text goes with it (the verifier reads the ``problem`` field: its ``restated`` rule
  needs it); Math-Verify has no such input, so on the ``restated`` rows it is judged on the
  answer alone.
* Math-Verify: ``verify(parse(gold), parse(response))`` with its defaults, in-process; the gold is
  given the way its README asks (``$...$`` around the reference answer taken from ``\\boxed{}`` or
  ``####``). Each row runs in a forked child with a wall limit, because a tower of powers can hang
  it (its issue #65); a row that hits the limit counts as reward 0.

Throughput: pairs per second on ``--reps`` batches of ``--batch`` ordinary rows (categories whose
rows cannot hang Math-Verify), ours through the sandbox vs Math-Verify in-process, same machine,
same run. Usage::

    python benchmarks/math_fidelity.py [--batch 64] [--reps 3] [--out bench-out/math_fidelity.json]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import multiprocessing as mp
import sys
import time
from collections import defaultdict
from pathlib import Path

from math_verify import parse, verify  # loaded before the forked rows, so none of them pays for it
from sppo_gym.sandbox import get_pool
from sppo_gym.verifiers import SANDBOX_ERROR, get_verifier
from sppo_gym.verifiers.math.extract import extract_gold

DATA = Path(__file__).resolve().parents[1] / "verifiers" / "math" / "data" / "math_equivalence.jsonl"
ROW_LIMIT_S = 20.0
UNSAFE_FOR_MV = {"adversarial", "regression"}  # may hang Math-Verify in-process


def load_rows() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def mv_reward(row: dict) -> float:
    """Plain Math-Verify on one row (gold wrapped in ``$...$`` as its README asks)."""
    gold = parse(f"${extract_gold(row['gold'])}$")
    pred = parse(row["response"])
    return 1.0 if verify(gold, pred) else 0.0


def _mv_child(row: dict, conn) -> None:
    try:
        conn.send(mv_reward(row))
    except BaseException:  # a crash of the baseline is a 0, like a timeout
        conn.send(0.0)


def mv_rewards_isolated(rows: list[dict]) -> tuple[list[float], int]:
    """Math-Verify per row in a forked child with a wall limit; returns (rewards, timeouts)."""
    ctx = mp.get_context("fork")
    out, timeouts = [], 0
    for row in rows:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_mv_child, args=(row, child))
        proc.start()
        child.close()
        if parent.poll(ROW_LIMIT_S):
            out.append(parent.recv())
        else:
            out.append(0.0)
            timeouts += 1
        proc.kill()
        proc.join()
    return out, timeouts


def problem_of(row: dict) -> dict:
    """The verifier's problem dict for a row: its reference answer and, when the row has one,
    the problem text (in the ``problem`` field, one of those the math verifier reads)."""
    out = {"answer": row["gold"]}
    if isinstance(row.get("problem"), str):
        out["problem"] = row["problem"]
    return out


def ours_rewards(rows: list[dict], batch: int) -> tuple[list[float], list[str]]:
    verifier = get_verifier("math")
    rewards, verdicts = [], []
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        for s in verifier.verify_batch([(r["response"], problem_of(r)) for r in chunk]):
            rewards.append(s.reward)
            verdicts.append(s.verdict)
    return rewards, verdicts


def agreement(rows: list[dict], rewards: list[float]) -> dict:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row, r in zip(rows, rewards, strict=True):
        per[row["category"]][0] += int(r == row["expected"])
        per[row["category"]][1] += 1
    total = sum(a for a, _ in per.values()), sum(n for _, n in per.values())
    return {"overall": total[0] / total[1], "n": total[1],
            "per_category": {c: round(a / n, 4) for c, (a, n) in sorted(per.items())}}


def throughput(rows: list[dict], batch: int, reps: int) -> dict:
    """Pairs/s: ours through the sandbox pool vs Math-Verify in-process on the same batches.

    The two are timed alternately, batch by batch, so that changes in the machine's load hit
    both alike; each batch holds rows not used before (Math-Verify caches parses per string)."""
    ordinary = [r for r in rows if r["category"] not in UNSAFE_FOR_MV]
    if batch * (reps + 1) > len(ordinary):
        raise ValueError(f"--batch {batch} x (--reps {reps} + 1 warm-up) exceeds the {len(ordinary)} ordinary rows")
    batches = [ordinary[k * batch : (k + 1) * batch] for k in range(reps + 1)]
    verifier = get_verifier("math")
    warm = batches.pop()
    verifier.verify_batch([(r["response"], problem_of(r)) for r in warm])  # start the pool
    for r in warm:
        mv_reward(r)  # Math-Verify's lazy imports
    ours_s = mv_s = 0.0
    for b in batches:
        t0 = time.perf_counter()
        verifier.verify_batch([(r["response"], problem_of(r)) for r in b])
        ours_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        for r in b:
            mv_reward(r)
        mv_s += time.perf_counter() - t0
    n = batch * reps
    return {"batch": batch, "reps": reps, "ours_pairs_per_s": n / ours_s, "math_verify_pairs_per_s": n / mv_s,
            "ratio": (n / ours_s) / (n / mv_s)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="bench-out/math_fidelity.json")
    args = ap.parse_args(argv)
    rows = load_rows()
    ours, verdicts = ours_rewards(rows, args.batch)
    mv, mv_timeouts = mv_rewards_isolated(rows)
    result = {
        "rows": len(rows),
        "rows_with_problem": sum(isinstance(r.get("problem"), str) for r in rows),
        "sandbox_backend": get_pool().backend,
        "math_verify_version": importlib.metadata.version("math-verify"),
        "ours": agreement(rows, ours),
        "math_verify": {**agreement(rows, mv), "timeouts": mv_timeouts},
        "ours_sandbox_errors": verdicts.count(SANDBOX_ERROR),
        "disagreements_ours": [r["id"] for r, x in zip(rows, ours, strict=True) if x != r["expected"]],
        "throughput": throughput(rows, args.batch, args.reps),
    }
    cats = sorted(result["ours"]["per_category"])
    counts = {c: sum(r["category"] == c for r in rows) for c in cats}
    print(f"{'category':<15}{'rows':>6}{'ours':>8}{'math_verify':>13}")
    for c in cats:
        print(f"{c:<15}{counts[c]:>6}{result['ours']['per_category'][c]:>8.3f}"
              f"{result['math_verify']['per_category'][c]:>13.3f}")
    print(f"{'overall':<15}{len(rows):>6}{result['ours']['overall']:>8.3f}{result['math_verify']['overall']:>13.3f}")
    t = result["throughput"]
    print(f"throughput (batch {t['batch']}): ours {t['ours_pairs_per_s']:.1f}/s (sandbox, {result['sandbox_backend']}), "
          f"math_verify {t['math_verify_pairs_per_s']:.1f}/s (in-process), ratio {t['ratio']:.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
