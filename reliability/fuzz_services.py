"""The four services as the bad-input run sees them: their RPCs (from the descriptors), tables, the
environment they start with, and the per-RPC hooks: Generate's caps, cancelling each training job a
valid StartTraining starts, unloading an adapter a LoadAdapter loaded."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf.message import Message

from codeeval.api.analyzer.v1 import analyzer_pb2
from codeeval.api.common.v1 import common_pb2
from codeeval.api.generator.v1 import generator_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.api.trainer.v1 import trainer_pb2
from reliability import fuzz_targets
from reliability.context import Context
from reliability.fuzz import GEN_MAX_NEW_TOKENS, WARM_ROUND, Rpc, Service, rpcs_of
from reliability.fuzz_strategies import DEEP_TEXTS
from reliability.load_generator import choose_engine

#: Generate's service limits (the defaults of GeneratorSettings); a value within them is capped.
GEN_LIMITS = {"max_tokens": 1024, "max_n": 32, "max_prompts": 256}
GEN_PROMPTS = 3


#: glibc's allocator with a fixed mmap threshold and two arenas: measured on the trainer, its default
#: (a threshold that rises after each freed 300 KiB request buffer, an arena per thread) let RSS
#: swing 152-171 MiB between rounds of the same requests; with these, 140-142 MiB. RSS then measures
#: what the service holds, not what the allocator caches.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}


def service_env(ctx: Context) -> dict[str, str]:
    """Environment the services start with: state under ``ctx.workdir``, the hub off (an adapter
    named like a hub id fails at once instead of waiting on the network), the main job's generator
    LoRA settings, :data:`MALLOC_ENV`, the analyzer's pylint budget cut to 5 s, and the generator's
    engine: vLLM in the full profile, transformers in the short one (as the load area's: a vLLM start
    takes 70 s on a busy 2-core machine, the short area's whole critical path; the RPCs' checks are
    the service's, before either engine)."""
    return {"CODEEVAL_TRAINER_STATE_DIR": str(ctx.workdir / "trainer-state"),
            "CODEEVAL_GENERATOR_ENGINE": choose_engine(ctx.profile.name),
            "CODEEVAL_GENERATOR_MAX_LORAS": "1", "CODEEVAL_GENERATOR_MAX_LORA_RANK": "16",
            "HF_HUB_OFFLINE": "1", **MALLOC_ENV,
            # the analyzer's inference bombs (fuzz_targets.ADVERSARIAL_PY) end at this budget: 5 s each, not 30
            "CODEEVAL_ANALYZER_PYLINT_TIMEOUT_SECONDS": "5"}


def cap_generate(msg: Message, kind: str) -> None:
    """Cap a GenerateRequest to a few cheap tokens where it is within the service's limits (values over
    them are kept: they must be refused)."""
    assert isinstance(msg, generator_pb2.GenerateRequest)
    s = msg.sampling
    if s.max_tokens <= GEN_LIMITS["max_tokens"]:
        s.max_tokens = min(s.max_tokens or GEN_MAX_NEW_TOKENS, GEN_MAX_NEW_TOKENS)  # 0 (the default, 256) too
    if s.n <= GEN_LIMITS["max_n"]:
        s.n = min(max(s.n, 1), 2)
    if len(msg.prompts) <= GEN_LIMITS["max_prompts"]:
        del msg.prompts[GEN_PROMPTS:]


def _by_name(rpcs: list[Rpc]) -> dict[str, Rpc]:
    return {r.name: r for r in rpcs}


def _unary(channel: grpc.Channel, rpc: Rpc, request: Message) -> Any:
    return channel.unary_unary(rpc.method, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=rpc.response.FromString)(request, timeout=300)


def sandbox(ctx: Context) -> Service:
    rpcs = rpcs_of(sandbox_pb2, "SandboxService")
    by = _by_name(rpcs)
    full = ctx.profile.name == "full"

    def warm(channel: grpc.Channel) -> None:
        """A batch of twice the service's concurrency per language tried: fills its warm pools."""
        caps = _unary(channel, by["GetCapabilities"], sandbox_pb2.GetCapabilitiesRequest())
        programs = [sandbox_pb2.Program(language=common_pb2.LANGUAGE_PYTHON, source=b"print(1)\n"),
                    sandbox_pb2.Program(language=common_pb2.LANGUAGE_PYTHON, source=b"def f(x):\n    return x\n",
                                        test=b"assert f(1) == 1\n"),  # the judge's pool too
                    sandbox_pb2.Program(language=common_pb2.LANGUAGE_PYTHON, source=b"def f(x):\n    return x\n",
                                        entry_point="f", table=sandbox_pb2.TableTest(
                                            reference_source=b"def f(x):\n    return x\n", inputs=["[1]"]))]
        if full:
            programs.append(sandbox_pb2.Program(language=common_pb2.LANGUAGE_JAVA, source=JAVA_MAIN))
        width = 2 * max(1, caps.max_concurrency)
        batch = sandbox_pb2.ExecuteBatchRequest(requests=[
            sandbox_pb2.ExecuteRequest(id=f"warm-{i}", program=p) for p in programs for i in range(width)])
        stream = channel.unary_stream(by["ExecuteBatch"].method, request_serializer=lambda m: m.SerializeToString(),
                                      response_deserializer=by["ExecuteBatch"].response.FromString)
        for _ in stream(batch, timeout=300):
            pass
        with ThreadPoolExecutor(width) as pool:  # concurrent single runs: every slot's zygote too
            list(pool.map(lambda req: _unary(channel, by["Execute"], req), batch.requests))

    return Service("sandbox", rpcs, fuzz_targets.sandbox(ctx.workdir / "paths", full), warm=warm,
                   warm_round=WARM_ROUND)


JAVA_MAIN = b"public class Main { public static void main(String[] a) { System.out.println(1); } }\n"


def analyzer(ctx: Context) -> Service:
    rpcs = rpcs_of(analyzer_pb2, "AnalyzerService")
    by = _by_name(rpcs)

    def warm(channel: grpc.Channel) -> None:
        """Good and broken files of each language, under every PMD category and the default ones, one
        Score of every metric (every tool loaded) and Scores of the fuzz's deep texts."""
        caps = _unary(channel, by["GetCapabilities"], analyzer_pb2.GetCapabilitiesRequest())
        sources = {"a.py": b"x = 1\n", "b.py": b"def f(:\n", "c.py": b"import os\nclass A:\n    def f(self, y):\n"
                   b"        return [i for i in range(y) if i] or os.sep\n", "A.java": JAVA_MAIN,
                   "B.java": b"class B { void f() {} }\n", "C.java": b"class C { void f( }\n",
                   "D.cs": b"class D { void F() {} }\n", "E.cs": b"class E { void F( }\n"}
        files = [analyzer_pb2.AnalyzedFile(file=common_pb2.SourceFile(path=p, content=c)) for p, c in sources.items()]
        # a measured first run of each tool's paths raised RSS by 16 MiB, then it stayed flat
        _unary(channel, by["Analyze"], analyzer_pb2.AnalyzeRequest(files=files, java_categories=caps.java_categories))
        _unary(channel, by["Analyze"], analyzer_pb2.AnalyzeRequest(files=files))
        _unary(channel, by["Score"], analyzer_pb2.ScoreRequest(hypotheses=["x = 1"], references=["x = 2"],
                                                               language=common_pb2.LANGUAGE_PYTHON))
        # the largest texts the fuzz sends that Score accepts (without codebleu: no language), on either
        # side: the first one in a measured pass raised RSS by 7-9 MiB, the allocator's high-water mark of
        # ~40,000 tokens, which stays (a short profile's analyzer then grew 4.5-5.4% against its 5%)
        for text in DEEP_TEXTS:
            for hyp, ref in ((text, "x = 1"), ("x = 1", text)):
                _unary(channel, by["Score"], analyzer_pb2.ScoreRequest(hypotheses=[hyp], references=[ref]))

    return Service("analyzer", rpcs, fuzz_targets.analyzer(ctx.workdir / "paths", ctx.profile.name == "full"),
                   warm=warm)


def generator(ctx: Context) -> Service:
    rpcs = rpcs_of(generator_pb2, "GeneratorService")
    by = _by_name(rpcs)
    by["Generate"].adjust = cap_generate
    by["LoadAdapter"].extra_allowed = {
        "UNAVAILABLE": "a path shaped like a hub id (org/name) with the hub unreachable (HF_HUB_OFFLINE here)"}
    svc = Service("generator", rpcs, fuzz_targets.generator(ctx.workdir / "paths", ctx.profile.name == "full"),
                  notes=[f"engine: {choose_engine(ctx.profile.name)}"])

    def setup(s: Service, channel: grpc.Channel) -> None:
        def unload(got: list[Message]) -> None:
            for resp in got:
                assert isinstance(resp, generator_pb2.LoadAdapterResponse)
                _unary(channel, by["UnloadAdapter"], generator_pb2.UnloadAdapterRequest(name=resp.adapter.name))

        by["LoadAdapter"].after_ok = unload

    def warm(channel: grpc.Channel) -> None:
        """One generation of each prompt kind (text, chat, raw), one with a stop string over pyzmq's
        zero-copy threshold (64 KiB: vLLM's first such message to its engine process starts pyzmq's
        garbage-collector thread and context, 5 eventfds and 2 epolls once), and a refused LoadAdapter."""
        prompts = [generator_pb2.Prompt(id="t", text="Say hi"), generator_pb2.Prompt(id="r", raw="x"),
                   generator_pb2.Prompt(id="c", chat=generator_pb2.Chat(messages=[
                       generator_pb2.ChatMessage(role="user", content="hi")]))]
        stream = channel.unary_stream(by["Generate"].method, request_serializer=lambda m: m.SerializeToString(),
                                      response_deserializer=by["Generate"].response.FromString)
        for sampling in (generator_pb2.SamplingParams(max_tokens=GEN_MAX_NEW_TOKENS, n=2),
                         generator_pb2.SamplingParams(max_tokens=1, n=1, stop=["x" * (80 << 10)])):
            for _ in stream(generator_pb2.GenerateRequest(prompts=prompts, sampling=sampling), timeout=300):
                pass
        with contextlib.suppress(grpc.RpcError):
            _unary(channel, by["LoadAdapter"], generator_pb2.LoadAdapterRequest(name="warm", path="no-such-folder"))

    svc.setup = setup
    svc.warm = warm
    return svc


def trainer(ctx: Context) -> Service:
    rpcs = rpcs_of(trainer_pb2, "TrainerService")
    by = _by_name(rpcs)
    svc = Service("trainer", rpcs, fuzz_targets.trainer(ctx.workdir / "paths", ctx.profile.name == "full", []))

    startable: list[str] = []  # the config the warm-up starts: the first listed one this machine can start

    def setup(s: Service, channel: grpc.Channel) -> None:
        ids: list[str] = s.targets.typical["id"]

        def cancel(got: list[Message]) -> None:
            for resp in got:
                assert isinstance(resp, trainer_pb2.StartTrainingResponse)
                job_id = resp.job.id
                try:
                    _unary(channel, by["CancelJob"], trainer_pb2.CancelJobRequest(id=job_id))
                except grpc.RpcError as exc:  # a job that ended already (failed at once) cannot be cancelled
                    if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                        raise
                if job_id not in ids:
                    ids.append(job_id)

        listed = [c.name for c in _unary(channel, by["ListConfigs"], trainer_pb2.ListConfigsRequest()).configs]
        for name in listed:  # a config whose data this machine lacks (a clone without the datasets folder) is refused
            try:
                resp = _unary(channel, by["StartTraining"], trainer_pb2.StartTrainingRequest(
                    config=name, name="probe", overrides={"train.max_steps": "1"}))
            except grpc.RpcError as exc:
                if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                    continue
                raise
            cancel([resp])
            startable.append(name)
            break
        ordered = startable + [n for n in listed if n not in startable]  # the typical configs: one that starts first
        fresh = fuzz_targets.trainer(ctx.workdir / "paths", ctx.profile.name == "full", ordered)
        s.targets.typical.update(fresh.typical)
        s.targets.hostile.update(fresh.hostile)
        s.targets.typical["id"] = ids
        by["StartTraining"].after_ok = cancel

    def warm(channel: grpc.Channel) -> None:
        """Three valid jobs started, cancelled and watched to their end (a job's first start loads
        the machinery every later one reuses), on the first listed config this machine can start
        (none when it can start none)."""
        for i in range(3 if startable else 0):
            resp = _unary(channel, by["StartTraining"], trainer_pb2.StartTrainingRequest(
                config=startable[0], name=f"warm-{i}", overrides={"train.max_steps": "1"}))
            cancel = by["StartTraining"].after_ok  # set by setup, which runs first
            assert cancel is not None
            cancel([resp])
            watch = channel.unary_stream(by["WatchJob"].method, request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=by["WatchJob"].response.FromString)
            for _ in watch(trainer_pb2.WatchJobRequest(id=resp.job.id), timeout=300):
                pass

    svc.setup = setup
    svc.warm = warm
    return svc


def services(ctx: Context) -> list[Service]:
    """The four, in the order they are fuzzed (the quickest to start first; the generator last, its
    start overlapping the others' runs)."""
    return [trainer(ctx), sandbox(ctx), analyzer(ctx), generator(ctx)]
