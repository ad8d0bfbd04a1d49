"""LoRA's input dropout at a third of PEFT's cost, the same distribution.

PEFT applies ``torch.nn.Dropout`` to each LoRA layer's input: one float Bernoulli draw per element, a
separate mask for each of the seven projections of every decoder layer (210 masks a step on the
default model), and a float copy of the dropped input kept for the backward pass. On CPU the draws
were 8-12% of a QLoRA step (profiles in the trainer's README). :class:`IntDropout` draws each keep
decision from 31 random bits instead (``random_`` on an int32 tensor: one 32-bit Mersenne Twister
output per element, no float conversion) and keeps the mask as booleans for the backward pass.

Same function, not an approximation: every element is kept independently with probability
``round((1 - p) * 2**31) / 2**31`` (within 2**-31 of ``1 - p``; PyTorch's float Bernoulli resolves
2**-24), kept elements are scaled by ``1 / (1 - p)``, and each layer still draws its own mask from the
global generator (a checkpoint's RNG state restores it). The draws are not the same numbers as
``nn.Dropout``'s for a seed.
"""

from __future__ import annotations

from typing import Any

import torch

_BITS = 2**31


class _KeepScale(torch.autograd.Function):
    """``x * keep / (1 - p)``; the backward applies the same mask. ``keep`` is saved as booleans (1 byte an
    element, as ``nn.Dropout``'s) and turned into a float mask again in the backward pass: mixed
    bool-float products are ~3x slower than float ones on CPU."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return x * keep.to(x.dtype).mul_(scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (keep,) = ctx.saved_tensors
        return grad * keep.to(grad.dtype).mul_(ctx.scale), None, None


class IntDropout(torch.nn.Module):
    """Inverted dropout with probability ``p`` (0 <= p < 1), drawn from integer bits (module docstring).
    The identity in eval mode and for p == 0. Cost per call in training: one int32 tensor of the input's
    shape drawn and compared, one boolean mask kept until the backward pass."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.threshold = round((1.0 - p) * _BITS)

    def draw(self, x: torch.Tensor) -> torch.Tensor | None:
        """The keep mask (booleans of ``x``'s shape) for one application, or None where the dropout is the
        identity (eval mode, p == 0). Fused layers (:mod:`codeeval.trainer.lora4bit`) apply it themselves."""
        if not self.training or self.p == 0.0:
            return None
        return torch.empty(x.shape, dtype=torch.int32, device=x.device).random_() < self.threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = self.draw(x)
        if keep is None:
            return x
        return _KeepScale.apply(x, keep, 1.0 / (1.0 - self.p))  # type: ignore[no-any-return]

    def extra_repr(self) -> str:
        return f"p={self.p}"


def replace_lora_dropout(model: torch.nn.Module) -> int:
    """Swap every PEFT LoRA layer's ``nn.Dropout`` for an :class:`IntDropout` of the same ``p`` (layers
    with ``p == 0`` use PEFT's identity and are left alone). Returns how many were swapped."""
    swapped = 0
    for module in model.modules():
        table = getattr(module, "lora_dropout", None)
        if not isinstance(table, torch.nn.ModuleDict):
            continue
        for name, layer in list(table.items()):
            if type(layer) is torch.nn.Dropout:
                table[name] = IntDropout(layer.p)
                swapped += 1
    return swapped
