"""The training step over N processes (data parallel, torch.distributed), launched by ``torchrun``.

One process per device; every process runs :func:`sppo_gym.trainer.loop.train` with a
:class:`DataParallel` that says what changes when there are N of them:

* **rollouts**: the step's prompts are split into N contiguous blocks of whole groups (GRPO / RLOO
  baselines need every sample of a prompt in one place); each rank resets its own vector env to
  its block of the step's seeds, generates and scores. The concatenation of the blocks in rank
  order is the batch one process would draw.
* **advantages** are per response (SPPO's critic baseline) or per group: local, no communication.
* **update**: rank 0 draws the epoch's permutation of the GLOBAL batch and broadcasts it; each
  mini-batch holds the same rows as in one process, every rank forwards the rows it owns, and each
  loss is weighted by its share of the mini-batch's global tokens (or sequences). Gradients are
  summed by DDP or FSDP2 (``fully_shard``), so the loss is exactly the global token-mean, not a
  mean of per-rank means. Every rank runs as many micro-batches as the busiest one (weight-0 rows
  fill in), so the collectives inside forward and backward line up.
* **metrics** (reward mean, verdict counts, losses) are reduced over ranks the same way;
  evaluation, metrics.csv, checkpoints and the final model are written once, by rank 0.
* **checkpoints**: full state dicts gathered to rank 0 (``torch.distributed.checkpoint.state_dict``)
  plus every rank's RNG states, so ``--resume`` on the same number of processes is exact.

With ``--strategy fsdp`` the policy (and a model critic) are sharded per decoder layer, with bf16
parameters and fp32 gradient reduction on CUDA; generation and evaluation run on the gathered
weights (no collective inside ``generate``). In one process :func:`train` hands over to
``loop.train`` as it is: none of this runs.
"""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from . import checkpoint as ckpt
from . import loop
from .config import TrainConfig
from .critic import HeadCritic
from .evaluation.held_out import Evaluation
from .models import resolve_device, save_policy
from .rollout import Rollout


def world_size() -> int:
    """Processes in this job (``WORLD_SIZE``, set by torchrun; 1 when run directly)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0 (or no torchrun at all): the process that prints and writes."""
    return int(os.environ.get("RANK", "0")) == 0


def check(cfg: TrainConfig, n: int) -> None:
    """What a run over ``n`` processes needs of the config (ValueError naming the field)."""
    g = cfg.resolved_group_size()
    if cfg.batch_size // g < n:
        raise ValueError(f"{n} processes need at least {n} prompts per step: batch_size={cfg.batch_size} "
                         f"holds {cfg.batch_size // g} prompts of group_size={g}")
    if cfg.curriculum != "none":
        raise ValueError("curriculum runs in one process only (it picks each step's prompts from the whole "
                         "batch): drop --curriculum or --nproc")
    if cfg.strategy == "fsdp" and cfg.lora_r > 0:
        raise ValueError("strategy=fsdp shards full weights; with LoRA use strategy=ddp")


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """:func:`loop.train` in every process torchrun started; in one process, ``loop.train`` itself."""
    if world_size() <= 1:
        return loop.train(cfg, resume=resume)
    dp = DataParallel.from_env(cfg)
    try:
        return loop.train(cfg, resume=resume, dist=dp)
    finally:
        dp.close()


class QuietLog:
    """A metrics log that keeps nothing: rank 0 alone writes metrics.csv."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.rows: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        pass

    def amend_last(self, **values: Any) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class DataParallel:
    """This process's place in the job and the collective pieces of the step."""

    rank: int
    world_size: int
    device: torch.device
    strategy: str  # ddp | fsdp
    wrapped: dict[str, nn.Module] = field(default_factory=dict)
    """DDP wrappers the update's forward passes go through ("policy", "critic"); FSDP shards in place."""
    sharded: list[nn.Module] = field(default_factory=list)
    """Modules sharded by ``fully_shard`` (fsdp)."""
    quiet_log = QuietLog
    """metrics.csv on ranks > 0 (rank 0 keeps the real one)."""

    # ----- set-up ------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, cfg: TrainConfig) -> DataParallel:
        """Join the process group torchrun describes (env://): gloo on CPU, nccl on CUDA."""
        n, rank = world_size(), int(os.environ.get("RANK", "0"))
        check(cfg, n)
        device = resolve_device(cfg.device)
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(rank, n, device, cfg.strategy)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def rows(self, cfg: TrainConfig) -> slice:
        """The global batch rows this rank generates: a contiguous block of whole groups, sizes
        differing by at most one group."""
        g = cfg.resolved_group_size()
        n_prompts = cfg.batch_size // g
        lo, hi = (n_prompts * r // self.world_size for r in (self.rank, self.rank + 1))
        return slice(lo * g, hi * g)

    def seed(self, seed: int) -> None:
        """Per-rank sampling streams, drawn after every rank built identical initial weights."""
        s = int(np.random.SeedSequence([seed, self.rank]).generate_state(1)[0])
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)

    def wrap(self, policy: nn.Module, critic: nn.Module | None, dtype: str) -> None:
        """Gradient sync for the policy and the critic (before their optimisers are built: FSDP
        replaces the parameters by shards). The linear head critic is always replicated (DDP)."""
        if self.strategy == "fsdp":
            mp = None
            if self.device.type == "cuda" and dtype != "float32":
                # lazy: FSDP2's public API (torch >= 2.6) is needed only when sharding; one process never loads it
                from torch.distributed.fsdp import MixedPrecisionPolicy

                low = torch.float16 if dtype == "float16" else torch.bfloat16
                mp = MixedPrecisionPolicy(param_dtype=low, reduce_dtype=torch.float32)
            self._shard(policy, mp)
            if critic is not None and not isinstance(critic, HeadCritic):
                self._shard(critic, mp)
        else:
            self.wrapped["policy"] = DDP(policy, forward_sync_buffers=False)
        if critic is not None and critic not in self.sharded:
            self.wrapped["critic"] = DDP(critic, forward_sync_buffers=False)
            self.wrapped["critic"].token_level = critic.token_level  # what micro_step asks the critic

    def _shard(self, module: nn.Module, mp: Any) -> None:
        """``fully_shard`` each decoder layer (the model's ``_no_split_modules``), then the root."""
        # lazy: FSDP2's public API (torch >= 2.6) is needed only when sharding; one process never loads it
        from torch.distributed.fsdp import fully_shard

        layers = next((set(m._no_split_modules) for m in module.modules()
                       if getattr(m, "_no_split_modules", None)), set())
        kwargs = {"mp_policy": mp} if mp is not None else {}
        for m in module.modules():
            if type(m).__name__ in layers:
                fully_shard(m, **kwargs)
        fully_shard(module, **kwargs)
        self.sharded.append(module)

    def close(self) -> None:
        """Leave the process group together (a rank that exits first can abort the others' gloo threads)."""
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    # ----- collectives ---------------------------------------------------------------------------
    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank (small Python objects and CPU tensors)."""
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def agree(self, value: float) -> float:
        """The largest ``value`` over ranks: every rank takes the same decision (e.g. the wall-clock stop)."""
        return max(self.gather(value))

    @contextmanager
    def full_weights(self, module: nn.Module) -> Iterator[None]:
        """FSDP: gather the full weights on every rank for the block (generation, evaluation), so
        that forwards run without collectives, whatever each rank does; otherwise nothing."""
        if module not in self.sharded:
            yield
            return
        # lazy: FSDP2's public API (torch >= 2.6) is needed only when sharding; one process never loads it
        from torch.distributed.fsdp import FSDPModule

        parts = [m for m in module.modules() if isinstance(m, FSDPModule)]
        for m in parts:
            m.unshard()
            m.set_reshard_after_forward(False, recurse=False)
        try:
            yield
        finally:
            for m in parts:
                m.set_reshard_after_forward(m is not module, recurse=False)  # FSDP's defaults: root kept
                m.reshard()

    @contextmanager
    def grad_sync(self, on: bool) -> Iterator[None]:
        """Gradient accumulation without communication unless ``on`` (the last micro-batch)."""
        with ExitStack() as stack:
            if not on:
                for m in self.wrapped.values():
                    stack.enter_context(m.no_sync())
                for m in self.sharded:
                    m.set_requires_gradient_sync(False)  # type: ignore[operator]
            try:
                yield
            finally:
                for m in self.sharded:
                    m.set_requires_gradient_sync(True)  # type: ignore[operator]

    # ----- the step ------------------------------------------------------------------------------
    def train_step(self, run: loop.Run, step: int) -> dict[str, Any]:
        """:func:`loop.train_step` on this rank's share of the prompts; the row is the global one."""
        cfg = run.cfg
        for group in run.opt.param_groups:
            group["lr"] = loop.lr_at(step, cfg.lr, cfg.warmup_steps)
        with self.full_weights(run.policy):  # 1.-2. sample and score this rank's block
            batch, stats = loop.rollout_step(run, step)
        row: dict[str, Any] = {"step": step, "lr": run.opt.param_groups[0]["lr"], **self.merge_stats(stats, run)}
        if sum(self.gather(len(batch))) == 0:  # every sample of every rank hit a sandbox error
            return row
        return {**row, **self.learn(run, batch)}

    def learn(self, run: loop.Run, batch: Rollout) -> dict[str, Any]:
        """3.-5. of the step on this rank's rows of the global batch: advantages (per response, or
        per group: whole groups live on one rank), the policy and critic updates, batch stats."""
        cfg = run.cfg
        t0 = time.perf_counter()
        values = None
        if run.critic is not None:
            with torch.no_grad():
                values = run.critic(batch)
        adv, returns = loop.advantages(cfg.algo, batch.rewards, values, batch.response_mask,
                                       cfg.resolved_group_size())
        row = self.update(run, batch, adv, returns)
        row.update(self.batch_stats(run, batch, values))
        row["update_s"] = self.agree(time.perf_counter() - t0)
        return row

    def merge_stats(self, stats: dict[str, Any], run: loop.Run) -> dict[str, Any]:
        """Rollout stats over ranks: counts summed, times the slowest rank's, difficulty the mean."""
        rows = len(range(run.cfg.batch_size)[run.rows])
        every = self.gather((rows, stats))
        out: dict[str, Any] = {}
        for key in sorted({k for _, s in every for k in s}):
            vals = [(n, s[key]) for n, s in every if key in s]
            if key in ("gen_s", "verify_s"):
                out[key] = max(v for _, v in vals)
            elif key == "difficulty":
                out[key] = float(sum(n * v for n, v in vals) / sum(n for n, _ in vals))
            else:
                out[key] = sum(v for _, v in vals)
        return out

    def batch_stats(self, run: loop.Run, batch: Rollout, values: torch.Tensor | None) -> dict[str, float]:
        """:func:`loop.batch_stats` of the global batch (rows gathered in rank order)."""
        r = torch.cat(self.gather(batch.rewards.detach().float().cpu()))
        lengths = torch.cat(self.gather(batch.response_mask.float().sum(-1).cpu()))
        v = None
        if values is not None and run.critic is not None:
            v = torch.cat(self.gather(run.critic.predicted_reward(values).detach().float().cpu()))
        return loop.reward_stats(r, lengths, v)

    def update(self, run: loop.Run, batch: Rollout, adv: torch.Tensor, returns: torch.Tensor | None
               ) -> dict[str, float]:
        """:func:`loop.update` over the global batch: the same mini-batches as one process (rank 0's
        permutation), each rank forwarding its own rows, losses weighted by global shares."""
        cfg, n = run.cfg, self.world_size
        lengths = self.gather(batch.response_mask.sum(-1).cpu())  # per rank: (n_r,) response tokens
        counts = [len(x) for x in lengths]
        offsets = np.cumsum([0, *counts])
        tokens = torch.cat(lengths)  # (B,) global rows in rank order
        perm = self.broadcast(torch.randperm(len(tokens)) if self.is_main else None)  # (B,)
        fwd = replace(run, policy=self.wrapped.get("policy", run.policy), critic=self.wrapped.get("critic", run.critic))
        sums: dict[str, float] = defaultdict(float)
        grad_norm, n_mb = 0.0, 0
        for mb_idx in perm.split(cfg.minibatch_size):
            run.opt.zero_grad(set_to_none=True)
            if run.critic_opt is not None:
                run.critic_opt.zero_grad(set_to_none=True)
            mb_tokens = tokens[mb_idx].sum().clamp(min=1)
            micros = self.micro_batches(mb_idx, offsets, cfg.micro_batch_size)
            for i, micro in enumerate(micros):
                if micro is None:  # no row of this rank here: join the collectives with weight 0
                    mb, w, w_seq = blank_row(batch), 0.0, 0.0
                    a, ret = adv.new_zeros((1, *adv.shape[1:])), None if returns is None else returns.new_zeros(
                        (1, *returns.shape[1:]))
                else:
                    mb = batch.select(micro)
                    w_seq = len(micro) / len(mb_idx)  # share of the mini-batch's sequences
                    w = (mb.response_mask.sum() / mb_tokens).item() if cfg.ratio == "token" else w_seq
                    a, ret = adv[micro], None if returns is None else returns[micro]
                with self.grad_sync(i == len(micros) - 1):
                    # DDP and FSDP average gradients over ranks: n x the global share gives the sum
                    stats = loop.micro_step(fwd, mb, a, ret, w * n, w_seq * n)
                for k, v in stats.items():
                    sums[k] += v * w
            grad_norm += loop.optimizer_step(run)
            n_mb += 1
        total = {k: sum(s[k] for s in self.gather(dict(sums))) for k in sums}
        return {**{k: v / n_mb for k, v in total.items()}, "grad_norm": grad_norm / n_mb}

    def micro_batches(self, mb_idx: torch.Tensor, offsets: np.ndarray, size: int) -> list[torch.Tensor | None]:
        """This rank's rows of the mini-batch (local indices) in micro-batches, padded with ``None``
        (a weight-0 row) to as many as the busiest rank has: every rank then runs the same sequence
        of forwards and backwards, so the collectives inside them (DDP's bucket set-up and
        all-reduce, FSDP's all-gathers) line up."""
        def mine(r: int) -> torch.Tensor:
            lo, hi = int(offsets[r]), int(offsets[r + 1])
            return mb_idx[(mb_idx >= lo) & (mb_idx < hi)] - lo

        own: list[torch.Tensor | None] = [m for m in mine(self.rank).split(size) if len(m)]  # () splits into ()
        most = max(-(-len(mine(r)) // size) for r in range(self.world_size))
        return own + [None] * (max(most, 1) - len(own))

    # ----- evaluation, checkpoints, outputs --------------------------------------------------------
    def evaluate(self, run: loop.Run) -> Evaluation:
        """Held-out evaluation by rank 0 (the only rank with a held-out env), sent to every rank."""
        with self.full_weights(run.policy):
            ev = run.held_out.evaluate(run.policy, run.tokenizer, amp=run.amp) if run.held_out is not None else None
        return self.broadcast(ev)

    def save_run(self, run: loop.Run, step: int, wall: float, before: Evaluation | None) -> None:
        """A checkpoint.pt that resumes on the same number of processes: full weights and optimiser
        states gathered to rank 0, and every rank's RNG states."""
        # lazy: the DCP state-dict helpers (newer than our torch>=2.2 floor) serve only distributed checkpoints
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
        policy, opt = get_state_dict(run.policy, run.opt, options=opts)
        critic, critic_opt = (get_state_dict(run.critic, run.critic_opt, options=opts) if run.critic is not None
                              else (None, None))
        rngs = self.gather(ckpt.rng_state())
        if self.is_main:
            ckpt.save(Path(run.cfg.out), step=step, wall_s=wall, config=run.cfg.model_dump(),
                      eval_before=asdict(before) if before is not None else None, policy=policy, opt=opt,
                      critic=critic, critic_opt=critic_opt, curriculum=None, world_size=self.world_size,
                      rng_ranks=rngs)
        dist.barrier()

    def restore_run(self, run: loop.Run, state: dict[str, Any]) -> tuple[int, float, Evaluation | None]:
        """Load checkpoint.pt into this rank (every rank reads it: on several nodes ``--out`` must be
        on a shared filesystem); each rank takes back its own RNG states."""
        # lazy: the DCP state-dict helpers (newer than our torch>=2.2 floor) serve only distributed checkpoints
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

        if state.get("world_size", 1) != self.world_size:
            raise ValueError(f"--resume: the checkpoint was written by {state.get('world_size', 1)} process(es); "
                             f"resume with as many (this job has {self.world_size})")
        opts = StateDictOptions(full_state_dict=True)
        set_state_dict(run.policy, run.opt, model_state_dict=state["policy"], optim_state_dict=state["opt"],
                       options=opts)
        if run.critic is not None:
            set_state_dict(run.critic, run.critic_opt, model_state_dict=state["critic"],
                           optim_state_dict=state["critic_opt"], options=opts)
        ckpt.set_rng_state(state["rng_ranks"][self.rank])
        before = state.get("eval_before")
        return int(state["step"]), float(state["wall_s"]), Evaluation(**before) if before is not None else None

    def save_policy(self, run: loop.Run, path: Path) -> None:
        """final/ written by rank 0 (FSDP: the full weights gathered first, on every rank)."""
        if run.policy not in self.sharded:
            if self.is_main:
                save_policy(run.policy, run.tokenizer, path)
            return
        # lazy: the DCP state-dict helpers (newer than our torch>=2.2 floor) serve only distributed checkpoints
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        full = get_model_state_dict(run.policy, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if self.is_main:
            run.policy.save_pretrained(path, state_dict=full)
            run.tokenizer.save_pretrained(path)


def blank_row(batch: Rollout) -> Rollout:
    """One row shaped like ``batch`` with no response token: it contributes nothing to any loss or
    gradient, and lets a rank that owns no row of a mini-batch take part in its collectives."""
    (_, width), (_, t) = batch.input_ids.shape, batch.response_mask.shape
    dev = batch.input_ids.device
    return Rollout(prompts=[""], responses=[""], input_ids=torch.zeros((1, width), dtype=torch.long, device=dev),
                   attention_mask=torch.ones((1, width), dtype=batch.attention_mask.dtype, device=dev),
                   response_mask=torch.zeros((1, t), dtype=batch.response_mask.dtype, device=dev),
                   prompt_len=batch.prompt_len, old_logprobs=batch.old_logprobs.new_zeros((1, t)),
                   states=batch.states.new_zeros((1, t, batch.states.shape[-1])),
                   rewards=torch.zeros(1, device=dev))
