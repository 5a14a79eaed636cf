"""Training configuration: one typed model, loadable from YAML, every field overridable.

Defaults are the README demo: SPPO on ``sppo_gym/Arithmetic-v0`` with SmolLM2-135M on CPU,
sized so both evaluations and training fit within 15 minutes on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .algorithms import ALGORITHMS, get_algorithm


class TrainConfig(BaseModel):
    """Every knob of ``sppo-gym train``; each field's docstring is its ``--help`` text."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_assignment=True)

    # --- what to train ---
    env: str = "sppo_gym/Arithmetic-v0"
    """Gymnasium id of the task (any registered id; built-ins live in the sppo_gym namespace)."""
    env_kwargs: dict[str, Any] = {}
    """Keyword arguments for gym.make_vec (JSON on the command line), e.g. {"difficulty": 2}."""
    model: str = "smollm2-135m"
    """Policy: a local Hugging Face model directory, or a preset (smollm2-135m, tiny-random)."""
    algo: Literal["sppo", "grpo", "rloo", "ppo"] = "sppo"  # the keys of algorithms.ALGORITHMS
    """Algorithm: sppo (paper), or the baselines grpo, rloo, ppo in the same code path."""
    steps: int = 30
    """Training steps (one batch of rollouts and one epoch of updates each). The default fits the
    README demo (SmolLM2-135M, 2 CPU cores, about 18 s a step) in about 10 minutes with both
    evaluations, inside a 15-minute budget; held-out accuracy levels off from about step 12."""
    max_wall_s: float = 0.0
    """Stop after this many seconds of training (0 = no limit); for fixed-budget comparisons."""
    out: str = "runs/sppo"
    """Output directory: metrics.csv, reward.png, checkpoint.pt, summary.json, samples.json, final/."""
    seed: int = 0
    """Seed for prompts, sampling and initialisation."""
    device: str = "auto"
    """auto (CUDA with bf16 when present, else CPU fp32), cpu, cuda, cuda:1, ..."""

    # --- batch shape ---
    batch_size: int = 32
    """Responses generated per step (prompts x group_size)."""
    group_size: int = 0
    """Samples per prompt; 0 picks the algorithm's default (1 for sppo/ppo, 8 for grpo/rloo)."""
    minibatch_size: int = 16
    """Responses per optimiser step; one epoch over the batch in mini-batches. When not set, the
    largest divisor of batch_size up to 16 (and a multiple of a micro_batch_size you set)."""
    micro_batch_size: int = 16
    """Responses per forward/backward pass (gradient accumulation inside a mini-batch). When not
    set, the largest divisor of minibatch_size up to 16."""

    # --- generation ---
    max_new_tokens: int = 16
    """Longest response sampled during training. The demo's short budget pays a reply that states
    the number and nothing for prose that runs out before reaching it, which the small model
    learns within a few steps (the held-out evaluation still allows eval_max_new_tokens). Raise
    it for tasks whose answers are longer (code, proofs, worked math)."""
    temperature: float = 1.0
    """Sampling temperature of the behaviour policy (log-probs use the same temperature)."""
    top_p: float = 1.0
    """Nucleus sampling threshold (1.0 = off)."""
    max_prompt_tokens: int = 512
    """Prompts longer than this (after the chat template) are cut from the left."""

    # --- optimisation ---
    lr: float = 2e-5
    """Policy learning rate (AdamW, constant after warm-up). Paper: 1e-6 at 1.5B/7B."""
    critic_lr: float = 1e-3
    """Critic learning rate (paper: 5e-6 to 1e-5 for a full critic; a linear head wants more)."""
    warmup_steps: int = 0
    """Linear learning-rate warm-up, in steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip for policy and critic (0 = off)."""
    clip_eps: float = 0.2
    """PPO clip range epsilon."""
    dual_clip: float | None = 3.0
    """Dual-clip bound c for negative advantages (SPPO's released code: 3.0; null = off)."""
    ratio: Literal["token", "sequence", "sequence_mean"] = "token"
    """Importance ratio: token (paper), sequence (one clipped ratio per response), sequence_mean (GSPO)."""
    kl_coef: float = 0.0
    """Coefficient of KL(pi || frozen reference); 0 = no reference model (paper default)."""
    entropy_coef: float = 0.0
    """Entropy bonus coefficient (paper: 0)."""

    # --- critic ---
    critic: str = "head"
    """Critic: head (scalar head on frozen policy features, cheapest), copy (a copy of the policy),
    or a model directory / preset for a smaller separate critic."""
    critic_init: float = 0.1
    """The critic's prediction before any update (its head starts constant). A low start keeps
    the first updates, made before the critic has seen a reward, from pushing down every sampled
    response when the policy rarely succeeds; the critic catches up within a few steps."""

    # --- curriculum ---
    curriculum: Literal["none", "success", "critic"] = "none"
    """none: problems as the env draws them. success: the env's difficulty level follows the recent
    success rate (promote at >= curriculum_promote, demote at <= curriculum_demote over
    curriculum_window episodes). critic (sppo/ppo): each step draws curriculum_pool x batch_size
    candidate prompts and trains on those whose critic prediction V(x) is closest to 0.5."""
    curriculum_levels: list[int] = []
    """Levels the curriculum uses, easy to hard (JSON list, e.g. [1,2,3]); empty = env_kwargs'
    difficulty list. success: required; critic: candidates are drawn evenly from them (empty and no
    list = the env's own draws)."""
    curriculum_promote: float = 0.8
    """success: move up a level when the mean reward over the window is at least this."""
    curriculum_demote: float = 0.2
    """success: move down a level when the mean reward over the window is at most this."""
    curriculum_window: int = 64
    """success: episodes at the current level that each decision looks at."""
    curriculum_pool: int = 4
    """critic: candidate prompts per step, as a multiple of the prompts per step."""
    curriculum_sample: bool = False
    """critic: sample candidates with weights V(1-V) instead of taking those closest to V = 0.5."""

    # --- model options ---
    gradient_checkpointing: bool = False
    """Trade compute for memory in the policy's backward pass."""
    lora_r: int = 0
    """LoRA rank (peft); 0 trains every weight."""
    lora_alpha: int = 32
    """LoRA alpha."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Parameter dtype: auto = bfloat16 on CUDA, float32 on CPU."""
    strategy: Literal["ddp", "fsdp"] = "ddp"
    """With several processes (--nproc, torchrun): ddp replicates the weights and all-reduces
    gradients; fsdp shards weights, gradients and optimiser states per decoder layer (FSDP2), with
    bf16 weights and fp32 gradient reduction on CUDA. Ignored in one process."""

    # --- evaluation and logging ---
    eval_env_kwargs: dict[str, Any] = {}
    """Overrides of env_kwargs for the held-out env (JSON), which always gets split="test".
    Procedural envs hold out a disjoint test split by themselves; for a file-based dataset point
    this at held-out data, e.g. {"data": "test.jsonl"}."""
    eval_n: int = 100
    """Held-out problems (split=test, fixed indices 0..n-1, greedy) evaluated before and after."""
    eval_every: int = 0
    """Also evaluate every this many steps (0 = only before and after training)."""
    eval_batch_size: int = 50
    """Prompts per greedy generation batch during evaluation."""
    eval_max_new_tokens: int = 64
    """Longest greedy response during evaluation."""
    checkpoint_every: int = 0
    """Save DIR/checkpoint.pt (weights, optimisers, RNG) every this many steps (0 = only at the end)."""
    tensorboard: bool = False
    """Also write TensorBoard scalars to DIR/tb (needs the tensorboard package)."""
    progress: bool = True
    """Show a progress bar with the live reward."""

    @model_validator(mode="after")
    def _sizes_follow_batch_size(self) -> TrainConfig:
        """Sizes the user did not set follow the ones they did: ``--batch-size 8`` alone trains on
        mini- and micro-batches of 8 instead of failing on the defaults (16). Sizes the user set are
        kept as given, so a conflict among them still fails in :meth:`validate_shapes`, naming the field.

        The followed values are stored without marking the fields as set (``object.__setattr__``),
        so they keep following a later ``cfg.batch_size = ...``.
        """
        given = self.model_fields_set
        micro = self.micro_batch_size if "micro_batch_size" in given else 1
        if "minibatch_size" not in given:
            default = type(self).model_fields["minibatch_size"].default
            object.__setattr__(self, "minibatch_size", _largest_divisor(self.batch_size, max(default, micro), micro))
        if "micro_batch_size" not in given:
            default = type(self).model_fields["micro_batch_size"].default
            object.__setattr__(self, "micro_batch_size", _largest_divisor(self.minibatch_size, default))
        return self

    def resolved_group_size(self) -> int:
        """Samples per prompt after applying the algorithm's default."""
        return self.group_size or get_algorithm(self.algo).group_size

    def resolved_curriculum_levels(self) -> list[int]:
        """curriculum_levels, else the env's difficulty list (empty when neither is given)."""
        if self.curriculum_levels:
            return list(self.curriculum_levels)
        levels = self.env_kwargs.get("difficulty")
        return list(levels) if isinstance(levels, list) else []

    def validate_shapes(self) -> None:
        """Check batch arithmetic up front, with errors that say which field to change."""
        g = self.resolved_group_size()
        if self.batch_size < 1 or self.batch_size % g:
            raise ValueError(f"batch_size={self.batch_size} must be a positive multiple of group_size={g}")
        algo = get_algorithm(self.algo)
        if g < algo.min_group_size:
            raise ValueError(f"algo={self.algo} compares samples of one prompt: set group_size >= {algo.min_group_size}")
        if self.batch_size % self.minibatch_size:
            raise ValueError(f"minibatch_size={self.minibatch_size} must divide batch_size={self.batch_size}")
        if self.minibatch_size % self.micro_batch_size:
            raise ValueError(
                f"micro_batch_size={self.micro_batch_size} must divide minibatch_size={self.minibatch_size}"
            )
        if not 0.0 < self.critic_init < 1.0:
            raise ValueError(f"critic_init={self.critic_init} must be strictly between 0 and 1")
        if self.curriculum == "critic" and algo.critic is None:
            with_critic = " or ".join(a.name for a in ALGORITHMS.values() if a.critic)
            raise ValueError(f"curriculum=critic needs a critic: use algo={with_critic} (got algo={self.algo})")
        if self.curriculum == "success" and not self.resolved_curriculum_levels():
            raise ValueError("curriculum=success needs levels: set curriculum_levels (e.g. '[1,2,3]') or a "
                             "difficulty list in env_kwargs")
        if self.curriculum_pool < 1 or self.curriculum_window < 1:
            raise ValueError("curriculum_pool and curriculum_window must be >= 1")
        if self.steps < 0 or self.max_new_tokens < 1 or self.temperature <= 0:
            raise ValueError("steps must be >= 0, max_new_tokens >= 1 and temperature > 0")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults <- YAML file <- overrides (strings from the command line are parsed per field)."""
    data: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"config file {path} must hold a mapping of field: value")
        data.update(loaded or {})
    for key, value in (overrides or {}).items():
        data[key.replace("-", "_")] = _parse_cli_value(key.replace("-", "_"), value)
    unknown = sorted(set(data) - set(TrainConfig.model_fields))
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; run `sppo-gym train --help` for the list")
    try:
        cfg = TrainConfig(**data)
    except ValidationError as e:
        raise ValueError(f"invalid training config:\n{e}") from e
    cfg.validate_shapes()
    return cfg


def _largest_divisor(n: int, at_most: int, multiple_of: int = 1) -> int:
    """The largest divisor of ``n`` that is at most ``at_most`` and a multiple of ``multiple_of``;
    ``n`` itself when there is none (or ``n`` < 1), left for validate_shapes to judge."""
    if n < 1 or multiple_of < 1:
        return n
    return next((d for d in range(min(n, at_most), 0, -1) if n % d == 0 and d % multiple_of == 0), n)


def _parse_cli_value(key: str, value: Any) -> Any:
    """Turn a command-line string into what the field expects (JSON dicts, null)."""
    if not isinstance(value, str):
        return value
    if key == "curriculum":
        return value  # "none" is a choice here, not null
    if key == "curriculum_levels":
        try:
            return json.loads(value) if value.strip() else []
        except json.JSONDecodeError as e:
            raise ValueError(f"--curriculum-levels must be a JSON list, e.g. '[1,2,3]': {e}") from e
    if key in ("env_kwargs", "eval_env_kwargs"):
        try:
            return json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"--{key.replace('_', '-')} must be a JSON object, e.g. '{{\"difficulty\": 2}}': {e}") from e
    if value.lower() in ("none", "null"):
        return None
    return value
