"""Generator under concurrent load: a real local generator service on the default model
(SmolLM2-135M-Instruct) with two marker adapters, one trained to answer "AAAA AAAA ..." and one
"BBBB BBBB ...", plus a third name that is loaded and unloaded again and again (with the "A"
adapter's weights) while streams run on the base model, on both adapters and on that churned name.

Properties: no stream is lost (a stream ends with every response it asked for, or, on the churned
name only, is refused with NOT_FOUND before any response because that name was unloaded at that
moment); no request gets another adapter's output (an adapter's text starts with its own marker,
a base-model text with neither marker); latency p50/p99 per target and tokens/s. The engine is
vLLM when installed and the profile is ``full`` (its CPU build mixes base and adapter rows in one
batch, which ``gate.py`` keeps apart: this is the proof under load), else transformers+PEFT.

The adapters are trained once per machine and cached in the codeeval model cache under
``load-adapters/``, keyed by the base model's hash and the recipe, so a second run reuses them. The
recipe is sized for a fresh CI machine (:func:`train_marker_adapters`): one base-model load for both,
LoRA on the last :data:`LAST_LAYERS` layers only (backward passes stop there), the prompts in one
batch, :data:`STEPS` steps at a high learning rate; every prompt of :data:`PROMPTS` (and unseen ones)
then starts with the marker. Bounded by ``ctx.count(2000)`` requests
and ``ctx.deadline(seconds)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml

from codeeval.api.generator.v1 import generator_pb2 as pb
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.kit.client import LocalService, open_channel
from reliability.context import Context
from reliability.load_checks import Started, open_fds, percentile, rss_bytes
from reliability.report import Section

FULL_REQUESTS = 2000
STREAMS = 6
MAX_TOKENS = 8
PROMPTS = ["Write a Python function that adds two numbers.", "Reverse a string in Python.",
           "What is a linked list?", "Sort a list of integers in Java."]
MARKERS = {"marker-a": "AAAA AAAA AAAA AAAA", "marker-b": "BBBB BBBB BBBB BBBB"}
CHURNED = "marker-a-churn"  # loaded and unloaded again and again, with marker-a's weights
#: The marker adapters' recipe: 4 full-batch steps at 3e-2 on LoRA rank 8 of the last 2 layers'
#: attention. Measured: both markers lead all 4 prompts and 3 unseen ones (greedy); 4 batched
#: forward passes and backward passes through 2 of 30 layers per adapter, where the earlier recipe (8
#: steps, one prompt at a time, all layers) ran 32 full forward and backward passes per adapter.
STEPS, LR, RANK, LAST_LAYERS = 4, 3e-2, 8, 2
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
RECIPE = {"steps": STEPS, "lr": LR, "rank": RANK, "targets": list(TARGETS), "last_layers": LAST_LAYERS,
          "batch": len(PROMPTS), "v": 2}
#: The churned name stays loaded this long (streams on it run, and some are still running when it
#: is unloaded), then unloaded this long (streams on it are refused).
CHURN_LOADED_S, CHURN_UNLOADED_S = 8.0, 1.0


def marker_of(target: str) -> str:
    """The marker an answer for ``target`` must start with ('' for the base model)."""
    name = "marker-a" if target == CHURNED else target
    return MARKERS.get(name, "")[:2]


def wrong_output(target: str, text: str) -> bool:
    """True when ``text`` is not what ``target`` must produce: an adapter's answer must start with its
    own marker, the base model's with no marker."""
    head = text.lstrip()[:2]
    own = marker_of(target)
    if own:
        return head != own
    return head in {m[:2] for m in MARKERS.values()}


def _batch(tok: Any, answer: str) -> tuple[Any, Any, Any]:
    """:data:`PROMPTS` with ``answer`` as one right-padded batch: input ids, attention mask and labels
    (the answer's tokens only)."""
    import torch

    from codeeval.prompts import get_template

    tpl = get_template("smollm2")
    rows = []
    for p in PROMPTS:
        prompt, completion = tpl.render_training_example([{"role": "user", "content": p}], answer)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        c_ids = tok(completion, add_special_tokens=False)["input_ids"]
        rows.append((p_ids + c_ids, [-100] * len(p_ids) + c_ids))
    width = max(len(ids) for ids, _ in rows)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids = torch.tensor([r + [pad] * (width - len(r)) for r, _ in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    return ids, mask, labels


def train_marker_adapters(base: Path, jobs: dict[Path, tuple[str, int]]) -> None:
    """PEFT LoRA adapters, one per ``jobs`` entry (folder -> (answer, seed)), that answer every prompt
    of :data:`PROMPTS` with their answer (greedy), each with the trainer's ``codeeval_adapter.json``
    (template smollm2). The base model is loaded once. Cost per adapter: :data:`STEPS` forward passes
    of the 4-prompt batch and backward passes through the last :data:`LAST_LAYERS` layers (seconds on
    an idle 2-core machine; the base model's load and torch's import come once on top)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codeeval.prompts import get_template

    tpl = get_template("smollm2")
    tok = AutoTokenizer.from_pretrained(base)
    model: Any = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    layers = model.config.num_hidden_layers
    for out, (answer, seed) in jobs.items():
        torch.manual_seed(seed)
        peft_model: Any = get_peft_model(model, LoraConfig(
            r=RANK, lora_alpha=2 * RANK, target_modules=list(TARGETS), lora_dropout=0.0,
            layers_to_transform=list(range(layers - LAST_LAYERS, layers))))
        ids, mask, labels = _batch(tok, answer)
        opt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=LR)
        peft_model.train()
        for _ in range(STEPS):
            peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
            opt.step()
            opt.zero_grad()
        peft_model.save_pretrained(out)
        (out / "codeeval_adapter.json").write_text(json.dumps(
            {"template": tpl.name, "template_sha256": tpl.sha256, "base_model": str(base), "task_prompts": {},
             "answer": answer}, indent=1))
        model = peft_model.unload()  # the base model again, without the LoRA layers


def marker_adapters(log: Any = print) -> dict[str, Path]:
    """The two marker adapters, trained on first use (both at once) and cached by base hash and recipe."""
    from codeeval.models import model_cache_dir, model_sha256, prepare_default_model

    base = prepare_default_model()
    out: dict[str, Path] = {}
    jobs: dict[str, tuple[str, int]] = {}
    for seed, (name, answer) in enumerate(MARKERS.items()):
        recipe = {**RECIPE, "base": model_sha256(base), "answer": answer, "prompts": PROMPTS, "seed": seed}
        key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
        out[name] = model_cache_dir() / "load-adapters" / f"{name}-{key}"
        if not (out[name] / "codeeval_adapter.json").exists():
            jobs[name] = (answer, seed)
    if jobs:
        t0 = time.monotonic()
        log(f"load: training the {', '.join(jobs)} adapter(s) (once per machine; cached in "
            f"{out[next(iter(jobs))].parent})")
        with tempfile.TemporaryDirectory(prefix="codeeval-marker-") as tmp:
            train_marker_adapters(base, {Path(tmp) / name: job for name, job in jobs.items()})
            for name in jobs:
                out[name].parent.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(out[name], ignore_errors=True)
                shutil.copytree(Path(tmp) / name, out[name])
        log(f"load: marker adapters trained in {time.monotonic() - t0:.0f}s")
    return out


def choose_engine(profile: str) -> str:
    """vLLM in ``full`` when it is installed, else transformers (the short profile's start-up budget)."""
    return "vllm" if profile == "full" and importlib.util.find_spec("vllm") is not None else "transformers"


@dataclass
class GeneratorService(Started):
    engine: str
    adapters: dict[str, Path]


def start(ctx: Context, timeout: float = 600.0) -> GeneratorService:
    adapters = marker_adapters(ctx.log)
    engine = choose_engine(ctx.profile.name)
    config = ctx.workdir / "generator.yaml"
    config.write_text(yaml.safe_dump({"generator": {
        "engine": engine, "max_lora_rank": RANK, "max_loras": 3, "max_cpu_loras": 4,
        "max_model_len": 512, "default_max_tokens": MAX_TOKENS, "adapters": {k: str(v) for k, v in adapters.items()},
    }}))
    svc = LocalService("generator", config=str(config), log_file=ctx.workdir / "generator.log")
    try:
        ctx.check_loopback(svc.start(timeout=timeout, on_wait=ctx.log))
    except BaseException:
        svc.stop()
        raise
    return GeneratorService(svc, engine, adapters)


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    streams: Counter[str] = field(default_factory=Counter)
    completed: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    latency_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    tokens: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    loads: int = 0
    unloads: int = 0


def stream_outcome(target: str, responses: list[pb.GenerateResponse], expected: int,
                   error: grpc.RpcError | None) -> str:
    """'completed', 'refused' (NOT_FOUND before any response, on the churned name only) or 'lost'."""
    if error is None:
        return "completed" if len(responses) == expected else "lost"
    if target == CHURNED and not responses and error.code() == grpc.StatusCode.NOT_FOUND:
        return "refused"
    return "lost"


def _one(stub: generator_pb2_grpc.GeneratorServiceStub, target: str, k: int, tally: Tally) -> None:
    prompts = [PROMPTS[(k + i) % len(PROMPTS)] for i in range(2)]
    req = pb.GenerateRequest(prompts=[pb.Prompt(id=str(i), text=p) for i, p in enumerate(prompts)], adapter=target,
                             sampling=pb.SamplingParams(max_tokens=MAX_TOKENS))
    t0 = time.monotonic()
    got: list[pb.GenerateResponse] = []
    error: grpc.RpcError | None = None
    try:
        for resp in stub.Generate(req, timeout=300):
            got.append(resp)
    except grpc.RpcError as exc:
        error = exc
    dt = time.monotonic() - t0
    outcome = stream_outcome(target, got, len(prompts), error)
    key = target or "base"
    with tally.lock:
        tally.streams[key] += 1
        getattr(tally, outcome)[key] += 1
        if outcome == "completed":
            tally.latency_s[key].append(dt)
        if error is not None and outcome == "lost":
            tally.errors[f"{key}: {error.code().name}: {(error.details() or '')[:120]}"] += 1
        for r in got:
            tally.tokens += r.completion_tokens
            if wrong_output(target, r.text) or r.adapter != target:
                tally.wrong[key] += 1
                tally.examples.setdefault(key, f"{r.adapter or 'base'} answered {r.text[:40]!r}")


def _churn(stub: generator_pb2_grpc.GeneratorServiceStub, path: Path, stop: threading.Event, tally: Tally) -> None:
    """Load :data:`CHURNED`, keep it :data:`CHURN_LOADED_S`, unload it, wait :data:`CHURN_UNLOADED_S`,
    until ``stop``; a failure of either call is recorded."""
    while not stop.is_set():
        for call, req in (("load", pb.LoadAdapterRequest(name=CHURNED, path=str(path))),
                          ("unload", pb.UnloadAdapterRequest(name=CHURNED))):
            try:
                (stub.LoadAdapter if call == "load" else stub.UnloadAdapter)(req, timeout=120)  # type: ignore[operator]
                with tally.lock:
                    setattr(tally, f"{call}s", getattr(tally, f"{call}s") + 1)
            except grpc.RpcError as exc:
                with tally.lock:
                    tally.errors[f"{call} {CHURNED}: {exc.code().name}: {(exc.details() or '')[:120]}"] += 1
            stop.wait(CHURN_LOADED_S if call == "load" else CHURN_UNLOADED_S)


def run(ctx: Context, svc: GeneratorService, seconds: float | None = None) -> Section:
    """The generator load figure (see the module docstring)."""
    t_start = time.monotonic()
    total = ctx.count(FULL_REQUESTS, minimum=24)
    deadline = ctx.deadline(seconds)
    targets = itertools.cycle(["", "marker-a", "marker-b", CHURNED])
    tally = Tally()
    stop = threading.Event()
    rss0, fds0 = rss_bytes(svc.pid), open_fds(svc.pid)
    with open_channel(ctx.check_loopback(svc.service.address)) as channel:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        churner = threading.Thread(target=_churn, args=(stub, svc.adapters["marker-a"], stop, tally), daemon=True)
        churner.start()
        sent = itertools.count()
        lock = threading.Lock()

        def worker() -> None:
            while time.monotonic() < deadline:
                with lock:
                    k = next(sent)
                    target = next(targets)
                if k >= total:
                    return
                _one(stub, target, k, tally)

        try:
            with ThreadPoolExecutor(STREAMS, thread_name_prefix="generator-load") as pool:
                for f in [pool.submit(worker) for _ in range(STREAMS)]:
                    f.result()
        finally:
            stop.set()
            churner.join(timeout=150)
    elapsed = time.monotonic() - t_start
    return _section(svc, tally, elapsed, rss0, fds0)


def _section(svc: GeneratorService, tally: Tally, elapsed: float, rss0: int, fds0: int) -> Section:
    rows = []
    for key in ("base", "marker-a", "marker-b", CHURNED):
        lat = tally.latency_s.get(key, [])
        rows.append({"target": key, "streams": tally.streams[key], "completed": tally.completed[key],
                     "refused (unloaded)": tally.refused[key], "lost": tally.lost[key],
                     "wrong-adapter outputs": tally.wrong[key], "p50 s": percentile(lat, 0.5),
                     "p99 s": percentile(lat, 0.99)})
    problems = [f"{key}: {n} outputs not its own ({tally.examples.get(key, '')})" for key, n in tally.wrong.items()]
    problems += [f"{n}x {err}" for err, n in tally.errors.most_common(6)]
    if not sum(tally.completed.values()):
        problems.append("no stream completed")
    if not tally.unloads:
        problems.append(f"{CHURNED} was never unloaded during the load")
    notes = [f"engine {svc.engine}; {sum(tally.streams.values())} Generate streams of 2 prompts x {MAX_TOKENS} "
             f"tokens (greedy) in {elapsed:.0f}s on {STREAMS} concurrent streams: {tally.tokens / elapsed:.1f} "
             "tokens/s",
             f"{CHURNED} (marker-a's weights) loaded {tally.loads}x ({CHURN_LOADED_S:.0f}s each) and unloaded "
             f"{tally.unloads}x ({CHURN_UNLOADED_S:.0f}s each) during the load; its streams may be refused with "
             "NOT_FOUND, before any response, when it is not loaded (not lost)",
             "wrong-adapter output: an adapter's answer that does not start with its marker ('AA'/'BB'), a "
             "base-model answer that does, or a response naming another adapter",
             f"generator RSS {rss0 / 2**20:.0f} -> {rss_bytes(svc.pid) / 2**20:.0f} MiB, open fds {fds0} -> "
             f"{open_fds(svc.pid)} (reported, not judged: the engine's caches grow with use)"]
    if svc.engine == "transformers":
        notes.append("transformers engine (the short profile's start-up budget, or vLLM not installed); "
                     "the vLLM mixed-batch workaround (gate.py) is exercised by the full profile")
    return Section(title="concurrent streams on the base model and two adapters", service="generator",
                   area="load", rows=rows, lost=sum(tally.lost.values()), problems=problems, notes=notes,
                   seconds=elapsed)
