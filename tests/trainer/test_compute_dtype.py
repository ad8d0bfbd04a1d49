"""``method.quant.compute_dtype: auto`` picks bf16 only where the hardware multiplies it: emulated bf16
on an AVX2 CPU is ~30x slower than float32, so a CPU without AVX512-BF16 or AMX computes in float32."""

from __future__ import annotations

import pytest
import torch

from codeeval.kit import hardware
from codeeval.trainer import modeling
from codeeval.trainer.recipe_schema import QuantSpec

AVX2 = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
AMX = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_cpu_flags_are_read_from_the_flags_line() -> None:
    assert not hardware.cpu_has_bf16(hardware.cpu_flags(AVX2))
    assert hardware.cpu_has_bf16(hardware.cpu_flags(AMX))
    assert hardware.cpu_has_bf16(hardware.cpu_flags("flags\t: avx2 avx512_bf16\n"))
    assert not hardware.cpu_has_bf16(hardware.cpu_flags("model name\t: avx512_bf16 chip\nflags\t: avx2\n"))
    assert hardware.cpu_flags("") == set()


@pytest.mark.parametrize(("cpuinfo", "want"), [(AVX2, "float32"), (AMX, "bfloat16")])
def test_auto_on_a_cpu(monkeypatch: pytest.MonkeyPatch, cpuinfo: str, want: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    parse = hardware.cpu_flags
    monkeypatch.setattr(hardware, "cpu_flags", lambda text=None: parse(cpuinfo))
    assert modeling.compute_dtype("auto") == want
    assert modeling.compute_dtype("bfloat16") == "bfloat16"  # an explicit choice stands
    assert modeling.compute_dtype("float32") == "float32"


def test_auto_is_the_default_and_this_machine_resolves_it() -> None:
    assert QuantSpec().compute_dtype == "auto"
    assert modeling.compute_dtype("auto") in ("float32", "bfloat16", "float16")
