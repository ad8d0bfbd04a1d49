"""dtype auto: bf16 only where the hardware computes it natively."""

import pytest

from codeeval.generator.factory import resolve_dtype


@pytest.mark.parametrize(("flags", "cuda", "expected"), [
    ({"avx2", "fma"}, False, "float32"),
    ({"avx2", "avx512f", "avx512_bf16"}, False, "bfloat16"),
    ({"avx2", "amx_bf16", "amx_tile"}, False, "bfloat16"),
    (set(), True, "bfloat16"),
])
def test_auto(flags: set[str], cuda: bool, expected: str) -> None:
    assert resolve_dtype("auto", cpu_flags=flags, cuda=cuda) == expected


def test_explicit_dtype_passes_through() -> None:
    assert resolve_dtype("bfloat16", cpu_flags=set(), cuda=False) == "bfloat16"
    assert resolve_dtype("float32", cpu_flags={"avx512_bf16"}, cuda=True) == "float32"


def test_this_machine_resolves_to_a_concrete_dtype() -> None:
    assert resolve_dtype("auto") in {"bfloat16", "float32"}
