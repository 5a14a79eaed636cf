"""Load and soak: mixed verifications through the local pool, the HTTP service, and a Ray fleet.

    python benchmarks/service_soak.py [--n 10000] [--batch 32] [--clients 4] [--pool-size 4]
                                      [--leg-timeout 600] [--mix math=0.5,humaneval=0.25,rg=0.23,coq=0.02]

The same requests (``--n`` items in batches of ``--batch`` items of one env, envs drawn by
``--mix``: math = Arithmetic-v0 + MathAnswer-v0, HumanEval-v0, CoqProof-v0, ReasoningGym-v0
basic_arithmetic; half right answers, half wrong) go, from ``--clients`` concurrent client threads,
through each leg, in this order and in one run:

1. ``local``: ``verifier.verify_batch`` in this process on a local Docker pool of ``--pool-size``;
2. ``service``: ``sppo-gym serve`` on a loopback port (same pool size), over HTTP;
3. ``service+ray``: the same service with ``SPPO_GYM_RAY_ADDRESS`` pointing at a local Ray cluster
   of 2 nodes (head + worker on this machine, sharing its Docker engine), ``--pool-size / 2``
   containers per node — the same number of containers as the other legs.

Per leg: items verified, items/s and its ratio to ``local``, p50/p99 latency of a batch request,
the verdict mix (which must match across legs: any difference is printed), and resident memory
of the serving processes (this process for ``local``; the service; the service and every Ray process
of the cluster for ``service+ray``) after the warm-up requests and at the end (flat = no leak). At the end:
sandbox containers left by any process of this run (must be 0). Each leg stops sending after
``--leg-timeout`` seconds; the table says how many items it finished. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym
import httpx
import psutil
import sppo_gym.envs  # noqa: F401

TOKEN = "soak-token"
ENVS: dict[str, tuple[str, dict]] = {
    "arith": ("sppo_gym/Arithmetic-v0", {}),
    "math": ("sppo_gym/MathAnswer-v0", {}),
    "humaneval": ("sppo_gym/HumanEval-v0", {}),
    "coq": ("sppo_gym/CoqProof-v0", {}),
    "rg": ("sppo_gym/ReasoningGym-v0", {"task": "basic_arithmetic"}),
}
DISTINCT = 160
"""Distinct problems per env (each with a right and a wrong answer); requests cycle over them."""


def answers(key: str, answer: Any) -> tuple[str, str]:
    """(right, wrong) responses for a problem's reference answer."""
    if key == "arith":
        return f"The answer is {answer}.", f"The answer is {answer}1."
    if key == "rg":  # reasoning-gym scores the <answer> span
        return f"<answer>{answer}</answer>", f"<answer>{answer}1</answer>"
    if key == "math":
        final = str(answer).split("####")[-1].strip()
        return f"So the answer is \\boxed{{{final}}}.", "So the answer is \\boxed{-12345}."
    if key == "humaneval":
        body = str(answer).rstrip()
        return f"```python\n{body}\n```", "```python\ndef broken(:\n    pass\n```"
    return f"```coq\n{answer}\n```", "```coq\nreflexivity.\n```"


def build_items() -> dict[str, list[dict]]:
    """Per mix key: items ``{"index", "response", "problem"}`` (right/wrong alternating)."""
    out: dict[str, list[dict]] = {}
    rng = random.Random(0)
    for key, (env_id, kwargs) in ENVS.items():
        env = gym.make(env_id, **kwargs)
        size = min(DISTINCT, len(env.unwrapped.source))
        items = []
        for index in range(size):
            _, info = env.reset(options={"index": index})
            right, wrong = answers(key, info["answer"])
            problem = env.unwrapped._sel.problem
            items += [{"index": index, "response": right, "problem": problem},
                      {"index": index, "response": wrong, "problem": problem}]
        rng.shuffle(items)
        out[key] = items
        env.close()
    return out


def plan(n: int, batch: int, mix: dict[str, float], items: dict[str, list[dict]]) -> list[tuple[str, list[dict]]]:
    """The request sequence: (mix key, items) with ``batch`` items each, ``n`` items in all."""
    rng = random.Random(1)
    keys, weights = zip(*mix.items(), strict=True)
    cursor = Counter()
    requests = []
    for _ in range(max(1, n // batch)):
        key = rng.choices(keys, weights)[0]
        if key == "math":  # math: the procedural and the dataset env
            key = rng.choice(["arith", "math"])
        pool = items[key]
        chosen = [pool[(cursor[key] + j) % len(pool)] for j in range(batch)]
        cursor[key] += batch
        requests.append((key, chosen))
    return requests


def drive(requests: list, send: Callable[[str, list[dict]], list[str]], clients: int, timeout: float) -> dict:
    """Send the requests from ``clients`` threads; latency per request, verdicts in request order."""
    deadline = time.monotonic() + timeout
    latencies: list[float] = []
    verdicts: list[list[str] | None] = [None] * len(requests)
    lock = threading.Lock()
    nxt = iter(range(len(requests)))

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(nxt, None)
            if i is None:
                return
            t0 = time.perf_counter()
            got = send(*requests[i])
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                verdicts[i] = got

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        for f in [ex.submit(worker) for _ in range(clients)]:
            f.result()
    wall = time.perf_counter() - t0
    done = [v for v in verdicts if v is not None]
    return {"wall": wall, "latencies": latencies, "verdicts": verdicts, "items": sum(len(v) for v in done)}


def local_sender() -> Callable[[str, list[dict]], list[str]]:
    verifiers = {key: gym.make(env_id, **kw).unwrapped.verifier for key, (env_id, kw) in ENVS.items()}

    def send(key: str, items: list[dict]) -> list[str]:
        return [s.verdict for s in verifiers[key].verify_batch([(it["response"], it["problem"]) for it in items])]

    return send


def http_sender(url: str) -> Callable[[str, list[dict]], list[str]]:
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=900,
                          limits=httpx.Limits(max_connections=64))

    def send(key: str, items: list[dict]) -> list[str]:
        env_id, kwargs = ENVS[key]
        body = {"env": env_id, "env_kwargs": kwargs,
                "items": [{"index": it["index"], "response": it["response"]} for it in items]}
        for _ in range(20):
            r = client.post("/v1/verify", json=body)
            if r.status_code in (429, 503):
                time.sleep(float(r.headers.get("Retry-After", 1)))
                continue
            r.raise_for_status()
            return [x["verdict"] for x in r.json()["results"]]
        raise RuntimeError("the service stayed busy")

    return send


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(pool_size: int, extra_env: dict[str, str], clients: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SPPO_GYM_SERVICE_TOKEN": TOKEN, "SPPO_GYM_POOL_SIZE": str(pool_size), **extra_env}
    proc = subprocess.Popen([sys.executable, "-m", "sppo_gym.trainer.cli", "serve", "--port", str(port),
                             "--log-level", "warning", "--max-concurrent", str(clients), "--rate", "10000"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the service exited while starting")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.5)
    raise RuntimeError("the service did not come up")


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


class PidWatch:
    """Every process of this run (descendants included), to find the containers they own afterwards."""

    def __init__(self) -> None:
        self.pids: set[int] = {os.getpid()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.scan()

    def scan(self) -> None:
        try:
            for child in psutil.Process().children(recursive=True):
                self.pids.add(child.pid)
        except psutil.Error:
            pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def containers_left(pids: set[int]) -> int:
    import docker
    from sppo_gym.sandbox.transport import LABEL, OWNER_LABEL

    found = docker.from_env().api.containers(all=True, filters={"label": LABEL})
    host = socket.gethostname()
    mine = {f"{host}:{p}" for p in pids}
    return sum((c.get("Labels") or {}).get(OWNER_LABEL) in mine for c in found)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_leg(leg: str, args: argparse.Namespace, cleanups: list[Callable[[], None]]) -> tuple[Callable, list[int]]:
    """Bring one leg up: its sender and the processes that serve it (for memory)."""
    if leg == "local":
        from sppo_gym.sandbox import SandboxPool, set_pool

        set_pool(SandboxPool(args.pool_size))
        cleanups.append(lambda: set_pool(None))
        return local_sender(), [os.getpid()]
    extra: dict[str, str] = {}
    size = args.pool_size
    before = {c.pid for c in psutil.Process().children(recursive=True)}  # other legs' processes
    if leg == "service+ray":
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cleanups.append(cluster.shutdown)
        cluster.add_node(num_cpus=1)
        extra, size = {"SPPO_GYM_RAY_ADDRESS": cluster.address}, max(1, args.pool_size // 2)
    elif leg != "service":
        raise SystemExit(f"unknown leg {leg!r}")
    proc, url = start_service(size, extra, args.clients)

    def stop() -> None:
        proc.terminate()
        proc.wait(timeout=120)

    cleanups.append(stop)
    # the service, and for service+ray the cluster's processes (GCS, raylets, pool actors) it started
    serving = [proc.pid] + [c.pid for c in psutil.Process().children(recursive=True)
                            if c.pid not in before and c.pid != proc.pid]
    return http_sender(url), serving


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--pool-size", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=8, help="slices of the requests; the legs take turns per slice")
    ap.add_argument("--leg-timeout", type=float, default=900.0, help="seconds of sending per leg, in all")
    ap.add_argument("--mix", default="math=0.5,humaneval=0.25,rg=0.23,coq=0.02")
    ap.add_argument("--legs", default="local,service,service+ray")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    legs = args.legs.split(",")
    watch = PidWatch()
    mem0 = psutil.virtual_memory()
    items = build_items()
    requests = plan(args.n, args.batch, mix, items)
    print(f"{len(requests)} requests x {args.batch} items = {len(requests) * args.batch} verifications; "
          f"mix {mix}; {args.clients} clients; {args.pool_size} containers per leg; {args.rounds} rounds", flush=True)
    warm = [next(r for r in requests if r[0] == k) for k in sorted({r[0] for r in requests})]  # one of each env
    cleanups: list[Callable[[], None]] = []
    rows: dict[str, dict] = {}
    try:
        senders = {}
        for leg in legs:
            senders[leg] = start_leg(leg, args, cleanups)
            for key, batch in warm:  # first jobs import the judges: not part of the measure
                senders[leg][0](key, batch)
        watch.scan()
        for leg in legs:
            rows[leg] = {"wall_s": 0.0, "latencies": [], "per_request": [None] * len(requests), "items": 0,
                         "rss_first_mb": rss_mb(senders[leg][1])}
        bounds = [round(k * len(requests) / args.rounds) for k in range(args.rounds + 1)]
        for r in range(args.rounds):  # the legs take turns, so load from other work hits all of them alike
            part = requests[bounds[r] : bounds[r + 1]]
            for leg in legs[r % len(legs):] + legs[: r % len(legs)]:
                row = rows[leg]
                left = args.leg_timeout - row["wall_s"]
                if left <= 0:
                    continue
                res = drive(part, senders[leg][0], args.clients, left)
                row["wall_s"] += res["wall"]
                row["latencies"] += res["latencies"]
                row["items"] += res["items"]
                row["per_request"][bounds[r] : bounds[r + 1]] = res["verdicts"]
                print(f"round {r + 1}/{args.rounds} [{leg}] {res['items']} items in {res['wall']:.1f} s", flush=True)
        for leg in legs:
            rows[leg]["rss_end_mb"] = rss_mb(senders[leg][1])
        watch.scan()
    finally:
        for stop in reversed(cleanups):
            try:
                stop()
            except Exception as e:
                print(f"cleanup: {e}", file=sys.stderr)
    watch.scan()
    watch.stop()
    time.sleep(2)
    left = containers_left(watch.pids)
    mem1 = psutil.virtual_memory()
    base = rows[legs[0]]["items"] / rows[legs[0]]["wall_s"]
    print(f"\n| leg | items | wall s | items/s | vs {legs[0]} | p50 batch s | p99 batch s | RSS after warm-up / end MB |")
    print("|---|---|---|---|---|---|---|---|")
    for leg, r in rows.items():
        rate = r["items"] / r["wall_s"]
        lat = r["latencies"]
        r.update(items_per_s=rate, p50_s=statistics.median(lat) if lat else float("nan"), p99_s=pct(lat, 0.99),
                 verdicts=Counter(v for vs in r["per_request"] if vs for v in vs))
        print(f"| {leg} | {r['items']} | {r['wall_s']:.1f} | {rate:.1f} | {rate / base:.2f}x | "
              f"{r['p50_s']:.2f} | {r['p99_s']:.2f} | {r['rss_first_mb']:.0f} / {r['rss_end_mb']:.0f} |")
    ref = rows[legs[0]]
    for leg in legs[1:]:
        pairs = [(a, b) for x, y in zip(ref["per_request"], rows[leg]["per_request"], strict=True) if x and y
                 for a, b in zip(x, y, strict=True)]
        print(f"verdicts differing from {legs[0]} ({leg}): {sum(a != b for a, b in pairs)} of {len(pairs)}")
    print(f"verdicts ({legs[0]}):", dict(ref["verdicts"]))
    print(f"host memory used: {(mem0.total - mem0.available) / 2**30:.2f} GiB at start, "
          f"{(mem1.total - mem1.available) / 2**30:.2f} GiB at end (whole machine, other work included)")
    print(f"sandbox containers left by this run's processes: {left}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "containers_left": left,
                       "host_used_gib": [(mem0.total - mem0.available) / 2**30, (mem1.total - mem1.available) / 2**30],
                       "legs": {k: {kk: vv for kk, vv in v.items() if kk not in ("per_request", "latencies")}
                                for k, v in rows.items()}}, f, indent=1, default=dict)


if __name__ == "__main__":
    main()
