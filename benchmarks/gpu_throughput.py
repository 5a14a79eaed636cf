"""Rollout + update throughput and peak memory on a GPU: SPPO vs GRPO (our trainer) vs TRL GRPOTrainer.

A prepared script for a lent GPU machine (no downloads, no Docker needed): it builds a
randomly initialised Qwen2-style model from a config (default: the Qwen2.5-0.5B shape, ~0.5B
parameters, bf16 autocast) with a character-level tokenizer padded to the model's vocabulary,
saves it once, and trains each method for a fixed number of steps on an in-process task (reward
= share of digits in the reply, so no sandbox is involved; a random model rarely stops early, so
responses run to ``--max-new-tokens`` and every method generates the same number of tokens).

Reported per method (each in its own process): completion tokens per second of training wall
time (rollout + update), steps, and peak memory (``torch.cuda.max_memory_allocated``; resident
set size on a CPU-only machine). Same batch for all: ``--batch-size`` completions per step
(SPPO: one per prompt; GRPO and TRL: 8 per prompt).

    python benchmarks/gpu_throughput.py                                 # GPU, ~0.5B, < 8 min
    python benchmarks/gpu_throughput.py --hidden 64 --layers 2 --vocab 512 --batch-size 16 \\
        --max-new-tokens 8 --steps 2                                    # CPU smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import algo_compare  # the same folder: shared worker code

TASK = "gpu_bench/Digits-v0"
METHODS = ("sppo", "grpo", "trl-grpo")

# torch, transformers, TRL and the trainer are imported inside the worker functions: the driver
# only starts one worker subprocess per method (each with its own memory high-water mark) and
# reads their results, so it never loads them.
CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'][0] }}:{{ m['content'] }}</s>{% endfor %}"
                 "{% if add_generation_prompt %}<s>a:{% endif %}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=896)
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--heads", type=int, default=14)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=4864)
    p.add_argument("--vocab", type=int, default=151936)
    p.add_argument("--batch-size", type=int, default=64, help="completions per step")
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--out", default="runs/gpu_throughput")
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def build_model(args: argparse.Namespace, path: Path) -> None:
    """A random Qwen2-style model and a char-level tokenizer whose vocabulary fills the model's."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tokens = ["<pad>", "<s>", "</s>", "<unk>"] + [chr(i) for i in range(32, 127)] + ["\n"]
    tokens += [f"<t{i}>" for i in range(args.vocab - len(tokens))]
    core = Tokenizer(models.WordLevel({t: i for i, t in enumerate(tokens)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                  unk_token="<unk>")
    tok.chat_template = CHAT_TEMPLATE
    config = Qwen2Config(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         num_key_value_heads=args.kv_heads, max_position_embeddings=4096, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    print(f"[gpu_throughput] model: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters",
          file=sys.stderr)
    model.save_pretrained(path)
    tok.save_pretrained(path)


def register_digits_task() -> None:
    """An in-process task: reward = share of digits in the reply (no sandbox on the GPU machine)."""
    from sppo_gym.envs import register_task

    def problem(rng: Any) -> dict:
        return {"d": str(int(rng.integers(10**5, 10**6)))}

    def digit_share(response: str, problem: dict) -> float:
        return sum(c.isdigit() for c in response) / max(len(response), 1)

    register_task(TASK, problems=problem, verifier=digit_share, prompt="Write digits like {d}")


def worker(args: argparse.Namespace) -> None:
    """Train one method for ``--steps`` steps through algo_compare's runners; write result.json."""
    register_digits_task()
    out = Path(args.out) / args.worker
    group = 8 if args.worker in algo_compare.GROUPED else 1  # equal completions per step for every method
    shared = argparse.Namespace(
        env=TASK, env_kwargs="{}", model=str(Path(args.out) / "model"), worker=args.worker, budget_s=0.0,
        points="", eval_n=0, prompts=args.batch_size // group, group_size=8, lr=1e-6,
        max_new_tokens=args.max_new_tokens, seed=0, steps=args.steps, out=str(out))
    algo_compare.run_method(shared, out)


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    build_model(args, out / "model")
    results = algo_compare.run_workers(__file__, args, METHODS)
    meta = {"device": device_name(), "argv": sys.argv}
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"device: {meta['device']}\n\n| method | steps | training wall s | completion tokens/s | peak memory (MB) |\n"
          "|---|---|---|---|---|")
    for r in results:
        print(f"| {r['method']} | {r['steps']} | {r['train_wall_s']:.1f} | {r['tokens_per_s']:.0f} | "
              f"{r['peak_memory_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
