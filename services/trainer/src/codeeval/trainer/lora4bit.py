"""One autograd function for a QLoRA layer on CPU: the 4-bit base matmul and the LoRA branch together.

PEFT's ``lora.Linear4bit`` computes ``base(x).clone() + lora_B(lora_A(dropout(x))) * scaling``: the
base output is cloned (a defensive copy for old PyTorch), the LoRA output is scaled and added as two
more [tokens, out] tensors, and autograd keeps a float copy of the dropped input of every projection
(q, k and v each keep their own copy of the same input). :func:`fuse_lora_4bit` replaces the forward of
each such layer with :class:`_QLoRA`, which computes the same function:

    y = (x in the compute dtype) @ dequantize(W)^T [+ bias], in x's dtype
    y += scaling * ((x * mask / (1 - p)) @ A^T) @ B^T          (one addmm into y)

and in the backward pass the same gradients (x: through the dequantized base weight in the compute
dtype plus the LoRA branch through the dropout mask; A and B: in their own dtype) as PEFT's and
bitsandbytes' autograd, within float rounding. It saves ``x`` itself (shared by the projections that
read it), the boolean dropout mask, the [tokens, r] LoRA activation and the layer's dequantized weight
from the forward pass until its backward pass (bitsandbytes dequantizes again there): a step holds the
whole base in the compute dtype at its peak (2 bytes a weight: 2 x 106M = 203 MiB on the default
model, against the dropped-input copies no longer kept), and no copy outlives the step.

Only plain LoRA layers are fused: one active adapter, no DoRA or other variant, not merged, no base
bias (Qwen2's q/k/v have one: PEFT's path, untested here), dropout an
:class:`~codeeval.trainer.dropout.IntDropout` or none, inputs on CPU; anything else runs PEFT's
own forward. Cost saved per layer and step: a clone, a scale and an add of [tokens, out] in the forward
pass and their counterparts in the backward pass, and the dropped-input copies (memory); measured in the
trainer's README.
"""

from __future__ import annotations

import types
from typing import Any

import torch

from codeeval.trainer.dropout import IntDropout


def _dequantize(packed: torch.Tensor, state: Any) -> torch.Tensor:
    import bitsandbytes.functional as bnbf

    return bnbf.dequantize_4bit(packed.view(-1, 1), state)


class _QLoRA(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, packed: torch.Tensor, state: Any,
                bias: torch.Tensor | None, compute: torch.dtype, keep: torch.Tensor | None, p: float,
                scaling: float) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        keep = keep.reshape(x2.shape) if keep is not None else None
        weight = _dequantize(packed, state).to(compute)
        y = torch.nn.functional.linear(x2.to(compute), weight, bias).to(x.dtype)
        xa = x2.to(a.dtype)
        dropped = xa * keep.to(xa.dtype).mul_(1.0 / (1.0 - p)) if keep is not None else xa
        h = dropped @ a.t()
        y.addmm_(h.to(y.dtype), b.t().to(y.dtype), alpha=scaling)
        ctx.save_for_backward(x2, a, b, h, keep)
        ctx.weight = weight if ctx.needs_input_grad[0] else None  # for the backward pass: dequantized once
        ctx.compute, ctx.p, ctx.scaling = compute, p, scaling
        return y.view(*shape[:-1], y.shape[-1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x2, a, b, h, keep = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])
        ga = g.to(a.dtype)
        scale_mask = keep.to(a.dtype).mul_(1.0 / (1.0 - ctx.p)) if keep is not None else None
        grad_h = (ga @ b).mul_(ctx.scaling)  # [tokens, r]
        grad_a = grad_b = grad_x = None
        if ctx.needs_input_grad[1]:
            xa = x2.to(a.dtype)
            grad_a = grad_h.t() @ (xa * scale_mask if scale_mask is not None else xa)
        if ctx.needs_input_grad[2]:
            grad_b = (ga.t() @ h).mul_(ctx.scaling)
        if ctx.needs_input_grad[0]:
            grad_x = (g.to(ctx.compute) @ ctx.weight).to(x2.dtype)
            ctx.weight = None
            lora = grad_h @ a
            if scale_mask is not None:
                lora.mul_(scale_mask)
            grad_x.add_(lora.to(grad_x.dtype))
            grad_x = grad_x.view(*grad.shape[:-1], grad_x.shape[-1])
        return grad_x, grad_a, grad_b, None, None, None, None, None, None, None


def _fused_forward(self: Any, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
    """The fused path when it applies (module docstring), else the PEFT layer's own forward."""
    adapters = [n for n in self.active_adapters if n in self.lora_A]
    base = self.base_layer
    drop = self.lora_dropout[adapters[0]] if len(adapters) == 1 else None
    plain = (len(adapters) == 1 and not args and not kwargs and not self.disable_adapters and not self.merged
             and adapters[0] not in self.lora_variant and x.device.type == "cpu" and base.compute_dtype is not None
             and base.bias is None
             and isinstance(drop, IntDropout | torch.nn.Identity)
             and not getattr(base.weight.quant_state, "packing_format_for_cpu", False))
    if not plain:
        return type(self).forward(self, x, *args, **kwargs)
    name = adapters[0]
    keep, p = (drop.draw(x), drop.p) if isinstance(drop, IntDropout) else (None, 0.0)
    return _QLoRA.apply(x, self.lora_A[name].weight, self.lora_B[name].weight, base.weight, base.weight.quant_state,
                        None, base.compute_dtype, keep, p, float(self.scaling[name]))


def fuse_lora_4bit(model: torch.nn.Module) -> int:
    """Give every PEFT ``lora.Linear4bit`` of ``model`` the fused forward (module docstring); returns how
    many. Call after :func:`~codeeval.trainer.dropout.replace_lora_dropout`; layers where it does not
    apply keep calling PEFT's forward."""
    try:
        from peft.tuners.lora.bnb import Linear4bit
    except ImportError:  # peft without bitsandbytes support: nothing is 4-bit
        return 0
    fused = 0
    for module in model.modules():
        if isinstance(module, Linear4bit):
            module.forward = types.MethodType(_fused_forward, module)  # type: ignore[method-assign]
            fused += 1
    return fused
