"""Typed client of the generator service: capabilities, streamed generation into
:class:`~codeeval.records.Sample` records, LoadAdapter; and :class:`TrainerGeneratorLink`, the
trainer's view of a generator (the trainer's core knows it only through its ``GeneratorLink``
protocol and never imports grpc: the trainer's server module wires this class in).
Cost: one Generate stream per call (re-opened after UNAVAILABLE: seeded sampling repeats itself).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc
from codeeval.clients.base import ServiceClient, ServiceError
from codeeval.kit.client import service_address
from codeeval.kit.errors import FailedPrecondition, Unavailable
from codeeval.records import Sample

GENERATE_DEADLINE_S = 6 * 3600.0


@dataclass(frozen=True)
class PromptToGenerate:
    """One chat prompt: the answers become samples of (``task``, ``item``)."""

    task: str
    item: str
    messages: list[dict[str, str]]


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    max_tokens: int
    n: int
    seed: int
    stop: list[str]


class GeneratorClient(ServiceClient[generator_pb2_grpc.GeneratorServiceStub]):
    service = "generator"
    stub_class = generator_pb2_grpc.GeneratorServiceStub

    def capabilities(self) -> generator_pb2.GetCapabilitiesResponse:
        caps: generator_pb2.GetCapabilitiesResponse = self._capabilities(generator_pb2.GetCapabilitiesRequest())
        return caps

    def generate(self, prompts: Sequence[PromptToGenerate], sampling: Sampling, on_sample: Callable[[Sample], None],
                 *, adapter: str = "", template: str = "", template_override: bool = False) -> None:
        """Generate ``sampling.n`` samples per prompt; ``on_sample`` is called once per sample (a
        re-opened stream's repeats are not delivered again). ``template_override``: serve ``adapter``
        with ``template`` even when it was trained with another (each sample then says so)."""
        request = generator_pb2.GenerateRequest(
            prompts=[generator_pb2.Prompt(id=f"{p.task}/{p.item}", chat=generator_pb2.Chat(messages=[
                generator_pb2.ChatMessage(role=m["role"], content=m["content"]) for m in p.messages]))
                for p in prompts],
            adapter=adapter, template=template, template_override=template_override,
            sampling=generator_pb2.SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p,
                                                  max_tokens=sampling.max_tokens, n=sampling.n, seed=sampling.seed,
                                                  stop=sampling.stop))
        delivered: set[tuple[int, int]] = set()

        def handle(resp: generator_pb2.GenerateResponse) -> None:
            key = (resp.prompt_index, resp.sample_index)
            if key in delivered:
                return
            delivered.add(key)
            p = prompts[resp.prompt_index]
            on_sample(Sample.from_proto(p.task, p.item, resp))

        self.stream(lambda stub: stub.Generate(request, timeout=GENERATE_DEADLINE_S), handle)

    def complete(self, text: str, *, temperature: float, max_tokens: int, seed: int, adapter: str = "",
                 template: str = "", prompt_id: str = "prompt", timeout: float = 600.0) -> str:
        """One sample for one plain-text prompt (no chat turns): its text, '' if none came back."""
        request = generator_pb2.GenerateRequest(
            prompts=[generator_pb2.Prompt(id=prompt_id, text=text)], adapter=adapter, template=template,
            sampling=generator_pb2.SamplingParams(temperature=temperature, max_tokens=max_tokens, n=1, seed=seed))
        texts: list[str] = []

        def handle(resp: generator_pb2.GenerateResponse) -> None:
            if not texts:
                texts.append(resp.text)

        self.stream(lambda stub: stub.Generate(request, timeout=timeout), handle)
        return texts[0] if texts else ""

    def load_adapter(self, name: str, path: str, *, timeout: float = 600.0) -> generator_pb2.AdapterInfo:
        """Load (or replace) adapter ``name`` from the folder ``path``; the generator's description of it."""
        resp = self.call(lambda stub: stub.LoadAdapter(
            generator_pb2.LoadAdapterRequest(name=name, path=path, replace=True), timeout=timeout))
        return resp.adapter


class TrainerGeneratorLink:
    """The trainer's generator (``GeneratorLink`` protocol): the rank limit before a job, LoadAdapter
    after it. The address is the given one or ``$CODEEVAL_GENERATOR_ADDR``; failures are
    :class:`~codeeval.kit.errors.Unavailable` naming the generator (no retries: admission is a
    request path)."""

    def __init__(self, address: str | None = None, timeout: float = 10.0, load_timeout: float = 300.0) -> None:
        self._address = address
        self.timeout = timeout
        self.load_timeout = load_timeout

    def address(self) -> str | None:
        return self._address or service_address("generator")

    def _client(self, address: str) -> GeneratorClient:
        return GeneratorClient(address=address, wait_s=0.0)

    def max_lora_rank(self) -> int:
        addr = self.address()
        if not addr:
            return 0
        with self._client(addr) as client:
            try:
                caps = client.call(lambda stub: stub.GetCapabilities(generator_pb2.GetCapabilitiesRequest(),
                                                                     timeout=self.timeout))
            except ServiceError as exc:
                raise Unavailable(f"generator at {addr}: {exc}", field="generator") from None
        return int(caps.max_lora_rank)

    def load_adapter(self, name: str, path: str) -> str:
        """Load (or replace) adapter ``name``; returns a one-line description of the outcome."""
        addr = self.address()
        if not addr:
            raise FailedPrecondition("no generator configured", field="output.load_into_generator")
        with self._client(addr) as client:
            try:
                info = client.load_adapter(name, path, timeout=self.load_timeout)
            except ServiceError as exc:
                raise Unavailable(f"LoadAdapter at {addr}: {exc}", field="generator") from None
        return f"loaded adapter {info.name!r} into the generator at {addr}"
