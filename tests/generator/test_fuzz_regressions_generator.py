"""Found by the bad-input fuzzer (reliability.fuzz) on the real GeneratorService: LoadAdapter with a
path too long for the file system (40,000 characters) answered INTERNAL; UnloadAdapter of a name not
loaded said NOT_FOUND naming ``adapter``, a field its request does not have; Generate with an empty
stop string or an empty raw prompt answered INTERNAL on the vllm engine. The fuzzer's real run (tests/reliability/
test_fuzz_real.py) sends them all to the real service; here the first two run with the registry's
recording engine and the others through the service on the tiny model."""

from __future__ import annotations

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.generator.adapters import AdapterRegistry, resolve_adapter_path
from codeeval.kit.errors import InvalidArgument, NotFound

from .test_registry import BASE, RecordingEngine


@pytest.mark.parametrize("path", ["[" * 40_000, "a/" * 3000])
async def test_an_unusable_adapter_path_is_invalid_argument_naming_path(path: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        await resolve_adapter_path(path)
    assert info.value.field == "path"
    assert str(info.value).startswith("path: ") and len(str(info.value)) < 300


async def test_unloading_an_adapter_not_loaded_names_the_requests_name_field() -> None:
    reg = AdapterRegistry(RecordingEngine(), BASE)
    with pytest.raises(NotFound) as info:
        await reg.unload("never-loaded")
    assert info.value.field == "name"
    assert str(info.value) == "name: adapter 'never-loaded' is not loaded (loaded: none)"
    with pytest.raises(NotFound) as gen:  # a generation naming it still names its own field
        reg.get("never-loaded")
    assert gen.value.field == "adapter"


async def test_an_empty_stop_string_is_invalid_argument_naming_it(generator) -> None:  # type: ignore[no-untyped-def]
    """On the vllm engine an empty stop string was a ValueError inside vLLM: INTERNAL."""
    req = pb.GenerateRequest(prompts=[pb.Prompt(text="def f():")],
                             sampling=pb.SamplingParams(max_tokens=2, stop=["\n", ""]))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        [r async for r in generator.Generate(req)]
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "sampling.stop[1]: a stop string must not be empty"


async def test_an_empty_raw_prompt_is_invalid_argument_naming_it(generator) -> None:  # type: ignore[no-untyped-def]
    """On the vllm engine an empty raw prompt beside a valid one was an error inside vLLM: INTERNAL."""
    req = pb.GenerateRequest(prompts=[pb.Prompt(text="Say hi"), pb.Prompt(raw="")],
                             sampling=pb.SamplingParams(max_tokens=2))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        [r async for r in generator.Generate(req)]
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "prompts[1].raw: a raw prompt must not be empty"


async def test_a_seed_over_int64_is_invalid_argument_naming_it(generator) -> None:  # type: ignore[no-untyped-def]
    """seed = 2**64 - 1 with n=2 answered INTERNAL on the vllm engine (found by the full bad-input run)."""
    req = pb.GenerateRequest(prompts=[pb.Prompt(raw="x")],
                             sampling=pb.SamplingParams(max_tokens=2, n=2, seed=2**64 - 1))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        [r async for r in generator.Generate(req)]
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == f"sampling.seed: seed {2**64 - 1} is over {2**63 - 1} (a signed 64-bit integer)"
    ok = pb.GenerateRequest(prompts=[pb.Prompt(raw="x")], sampling=pb.SamplingParams(max_tokens=2, seed=2**63 - 1))
    assert [r async for r in generator.Generate(ok)]
