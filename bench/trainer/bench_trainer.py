"""Step time and peak memory of the codeeval trainer vs a minimal TRL SFTTrainer + PEFT script.

Same model, same tokenized examples (built by the trainer's data code from the same config),
same batch size, sequence length, LoRA settings, optimizer (AdamW), learning rate and steps; no
evaluation or checkpoints in either. Each side runs in its own subprocess (so peak RSS is its
own), one after the other in the same run. Prints both, the ratios ours / TRL (issue 20's goals
for QLoRA: peak memory <= 1.0x, step time <= 0.7x) and each phase's peak memory on both sides.

    .venv/bin/python bench/trainer/bench_trainer.py                      # default model, LoRA
    .venv/bin/python bench/trainer/bench_trainer.py --method qlora --steps 20
    .venv/bin/python bench/trainer/bench_trainer.py --model MODEL_FOLDER
    .venv/bin/python bench/trainer/bench_trainer.py --method qlora --only ours   # one side, no ratios
    .venv/bin/python bench/trainer/bench_trainer.py --method qlora --set train.trim_heap=false  # our config
    .venv/bin/python bench/trainer/bench_trainer.py --method qlora --ours-env MALLOC_ARENA_MAX=1  # our env
    .venv/bin/python bench/trainer/bench_trainer.py --method qlora --compute-dtype float32 --trl-compute-dtype float32
        # both sides in float32 whatever the CPU (by default both resolve 'auto' the same way: bf16 only
        # on a CPU with AVX512-BF16 or AMX, or CUDA that supports it)

Step time is the median over steps after the first ``--warmup`` ones; step CPU time is the mean
over the steps after the first (the process's CPU time, which load inflates far less). Peak memory is the peak
RSS of the process (CPU) or the peak CUDA allocation (GPU), measured per phase by
:class:`codeeval.trainer.memory.PhasePeaks` (the run's peak is the largest phase's). The TRL side
builds its PEFT model inside ``SFTTrainer(...)`` (with its dataset preparation) and its optimizer
inside ``train()``: those phases are reported under "adapter" and "optimizer". Load average is
printed before and after: step time depends on it, peak memory does not.

The memory curve (every ``--curve-every`` steps and the last) gives, per side, the RSS after that step,
the run's peak so far (the peak an N-step run would report: the data, order and constant learning rate
are the same) and the mean CPU seconds of the steps since the previous row, so one long run shows how
both peaks grow with the number of steps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

CONFIG = "smollm2-multitask-lora-cpu"


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    return {"model.base": args.model, "train.max_steps": str(args.steps), "train.batch_size": str(args.batch_size),
            "data.max_length": str(args.max_length), "train.checkpoint_every": str(10**6), "train.eval_every": "0",
            "data.eval_fraction": "0", "train.compute_threads": str(args.threads), "train.warmup_steps": "0",
            "train.scheduler": "constant", "train.learning_rate": "1e-4"}


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from codeeval.trainer.recipe_schema import load_config

    cfg = load_config(CONFIG, {**_overrides(args), **dict(kv.split("=", 1) for kv in args.set)})
    cfg.method.kind = args.method
    if args.compute_dtype:
        cfg.method.quant.compute_dtype = args.compute_dtype
    return cfg


PHASES = {"imports": "imports", "data": "data (tokenized examples)", "load": "load (+ quantize)",
          "adapter": "adapter (PEFT wrap)", "optimizer": "optimizer", "first step": "first step",
          "steps": "other steps"}


def _curve_point(curve: list[list[float]], peaks) -> None:  # type: ignore[no-untyped-def]
    """Append [step, RSS after it, the run's peak so far, process CPU seconds] (bytes, seconds); the peak
    so far is the largest phase peak marked yet or the high-water mark since the last mark."""
    status = Path("/proc/self/status").read_text()
    rss, hwm = (int(status.split(f"{k}:")[1].split()[0]) * 1024 for k in ("VmRSS", "VmHWM"))
    before = max((b for _, b in peaks.phases), default=0)
    curve.append([len(curve) + 1, rss, max(before, hwm, curve[-1][2] if curve else 0), time.process_time()])


def child_ours(args: argparse.Namespace, workdir: Path) -> dict:
    from codeeval.trainer import modeling
    from codeeval.trainer.memory import PhasePeaks
    from codeeval.trainer.recipe import Recipe

    peaks = PhasePeaks()
    peaks.mark("imports")
    cfg = _config(args)
    recipe = Recipe(cfg, workdir, on_phase=peaks.mark)
    recipe.setup()
    curve: list[list[float]] = []
    emit = recipe.events.emit

    def emit_and_sample(kind: str, **payload: object) -> None:
        if kind == "progress":
            _curve_point(curve, peaks)
        emit(kind, **payload)

    recipe.events.emit = emit_and_sample  # type: ignore[method-assign]
    recipe.train()
    recipe.cleanup()
    events = [json.loads(line) for line in (workdir / "events.jsonl").read_text().splitlines()]
    times = [e["time"] for e in events if e["kind"] == "progress"]
    return {"step_times": [b - a for a, b in zip(times, times[1:], strict=False)], "peak": peaks.peak,
            "phases": peaks.phases, "cpu": peaks.cpu_seconds, "cumulative": peaks.cumulative,
            "system": peaks.system_seconds, "faults": peaks.faults, "examples": len(recipe.train_set),
            "split": [e["seconds"] for e in events if e["kind"] == "progress"],
            "compute": modeling.compute_dtype(cfg.method.quant.compute_dtype) if args.method == "qlora"
            else cfg.model.dtype,
            "losses": [e["loss"] for e in events if e["kind"] == "progress"], "curve": curve,
            "trims": recipe.step_trim.trims, "config_trim": cfg.train.trim_heap}


def child_trl(args: argparse.Namespace, workdir: Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from codeeval.prompts import get_task_prompt, get_template
    from codeeval.trainer import modeling
    from codeeval.trainer.data import IGNORE, encode
    from codeeval.trainer.memory import PhasePeaks
    from codeeval.trainer.mixing import mix
    from codeeval.trainer.modeling import resolve_base
    from codeeval.trainer.recipe import build_examples

    peaks = PhasePeaks()
    peaks.mark("imports")

    cfg = _config(args)
    torch.set_num_threads(args.threads)
    base = resolve_base(cfg.model.base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    template = get_template(cfg.model.template)
    prompts = {t.name: get_task_prompt(t.task_prompt) for t in cfg.data.tasks}
    mixed, _ = mix(build_examples(cfg)[0], cfg.data.mixing, cfg.train.seed)
    feats = [encode(e, tokenizer, template, prompts[e.task], cfg.data.max_length, True) for e in mixed]
    ds = Dataset.from_list([{"input_ids": f.input_ids, "completion_mask": [int(x != IGNORE) for x in f.labels]}
                            for f in feats])
    peaks.mark("data")
    kwargs: dict = {"dtype": torch.float32}
    if args.method == "qlora":
        dtype = getattr(torch, modeling.compute_dtype(args.trl_compute_dtype))
        kwargs = {"dtype": dtype, "quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)}
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    peaks.mark("load")
    lora = cfg.method.lora
    peft = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
                      task_type="CAUSAL_LM")
    stamps: list[float] = []
    losses: list[float] = []
    split: list[dict[str, float]] = []
    curve: list[list[float]] = []
    clock = {"forward": 0.0, "backward": 0.0, "done": 0.0}

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):  # type: ignore[no-untyped-def]
            peaks.mark("optimizer")

        def on_step_end(self, *a, **k):  # type: ignore[no-untyped-def]
            if not stamps:
                peaks.mark("first step")
            stamps.append(time.monotonic())
            _curve_point(curve, peaks)
            split.append({"forward": clock["forward"], "backward": clock["backward"],
                          "optimizer": stamps[-1] - clock["done"]})

        def on_log(self, *a, logs=None, **k):  # type: ignore[no-untyped-def]
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    sft = SFTConfig(output_dir=str(workdir), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                    gradient_accumulation_steps=1, learning_rate=1e-4, lr_scheduler_type="constant",
                    warmup_steps=0, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, bf16=False,
                    max_length=cfg.data.max_length, packing=False, completion_only_loss=True,
                    dataloader_num_workers=0, optim="adamw_torch", max_grad_norm=1.0, seed=cfg.train.seed,
                    disable_tqdm=True, gradient_checkpointing=False)
    trainer = SFTTrainer(model=model, args=sft, train_dataset=ds, peft_config=peft, processing_class=tokenizer,
                         callbacks=[Clock()])
    peaks.mark("adapter")
    _time_trainer(trainer, clock)
    trainer.train()
    peaks.mark("steps")
    return {"step_times": [b - a for a, b in zip(stamps, stamps[1:], strict=False)], "peak": peaks.peak,
            "phases": peaks.phases, "cpu": peaks.cpu_seconds, "cumulative": peaks.cumulative, "examples": len(ds),
            "system": peaks.system_seconds, "faults": peaks.faults, "split": split, "losses": losses,
            "compute": modeling.compute_dtype(args.trl_compute_dtype) if args.method == "qlora" else "float32",
            "curve": curve}


def _time_trainer(trainer, clock: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    """Wrap ``trainer``'s compute_loss (the forward, with TRL's own metrics) and training_step (forward and
    backward) so that ``clock`` holds the last step's forward and backward seconds and when its backward
    ended (the optimizer part is from there to the step's end: clipping, step, scheduler, zero_grad)."""
    compute_loss, training_step = trainer.compute_loss, trainer.training_step

    def timed_loss(*a, **k):  # type: ignore[no-untyped-def]
        t0 = time.monotonic()
        out = compute_loss(*a, **k)
        clock["forward"] = time.monotonic() - t0
        return out

    def timed_step(*a, **k):  # type: ignore[no-untyped-def]
        t0 = time.monotonic()
        out = training_step(*a, **k)
        clock["done"] = time.monotonic()
        clock["backward"] = clock["done"] - t0 - clock["forward"]
        return out

    trainer.compute_loss, trainer.training_step = timed_loss, timed_step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="'default' (SmolLM2-135M-Instruct) or a folder")
    parser.add_argument("--method", choices=["lora", "qlora"], default="lora")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="steps left out of the median")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compute-dtype", choices=["auto", "float32", "bfloat16"],
                        help="our side's QLoRA compute dtype (default: the config's); TRL's is --trl-compute-dtype")
    parser.add_argument("--trl-compute-dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                        help="TRL's QLoRA compute dtype and the dtype of its unquantized weights (default auto: "
                             "resolved as our recipe's 'auto', bf16 only where the hardware multiplies it)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override (the recipe's whitelist), e.g. data.padding_free=false; TRL's "
                             "side reads the data and LoRA settings from the same config")
    parser.add_argument("--only", choices=["ours", "trl"], help="run one side (no ratios)")
    parser.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                        help="an environment variable for our side only, e.g. MALLOC_ARENA_MAX=1")
    parser.add_argument("--json", type=Path, help="also write both sides' raw results to this file")
    parser.add_argument("--curve-every", type=int, default=10, help="steps between rows of the memory curve")
    parser.add_argument("--child", choices=["ours", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with TemporaryDirectory() as tmp:
            result = (child_ours if args.child == "ours" else child_trl)(args, Path(tmp))
        args.out.write_text(json.dumps(result))
        return 0
    sides = [args.only] if args.only else ["ours", "trl"]
    results = {}
    load_before = os.getloadavg()
    with TemporaryDirectory() as tmp:
        for side in sides:
            out = Path(tmp) / f"{side}.json"
            cmd = [sys.executable, __file__, "--child", side, "--out", str(out)] + [
                a for a in sys.argv[1:]]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TRANSFORMERS_VERBOSITY": "error"}
            if side == "ours":
                env.update(kv.split("=", 1) for kv in args.ours_env)
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            results[side] = json.loads(out.read_text())
    load_after = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps({"load": [load_before, load_after], "results": results}))
    med = {s: statistics.median(r["step_times"][args.warmup - 1:] or r["step_times"] or [0.0])
           for s, r in results.items()}
    from codeeval.trainer.artifacts import versions

    v = versions()
    print(f"model={args.model} method={args.method} steps={args.steps} batch={args.batch_size} "
          f"max_length={args.max_length} threads={args.threads} examples={results[sides[0]]['examples']}")
    print("compute dtype: " + ", ".join(f"{s} {results[s]['compute']}" for s in sides))
    print(f"versions: torch {v['torch']}, transformers {v['transformers']}, peft {v['peft']}, "
          f"trl {_trl_version()}, bitsandbytes {v['bitsandbytes']}")
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")
    _print_phases(results, sides)
    cpu = {s: r["cpu"]["steps"] / max(1, args.steps - 1) for s, r in results.items()}
    print(f"{'':8s} {'step s (median)':>16s} {'step CPU s':>11s} {'peak MiB':>10s}   first losses")
    for side in sides:
        losses = " ".join(f"{x:.4f}" for x in results[side]["losses"][:3])
        print(f"{side:8s} {med[side]:16.4f} {cpu[side]:11.4f} {results[side]['peak'] / 2**20:10.0f}   {losses}")
    _print_split(results, sides, args)
    if "ours" in results:
        print(f"ours: train.trim_heap={results['ours'].get('config_trim')}, heap trimmed after "
              f"{results['ours']['trims']} of {args.steps} steps")
    _print_curve(results, sides, args.curve_every)
    if len(sides) == 2:
        print(f"ratio ours/trl: step time {med['ours'] / med['trl']:.3f}x (goal <= 0.7x; CPU time "
              f"{cpu['ours'] / cpu['trl']:.3f}x), peak memory {results['ours']['peak'] / results['trl']['peak']:.3f}x "
              f"(goal <= 1.0x)")
    return 0


def _load(avg: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.1f}" for x in avg)


def _print_phases(results: dict[str, dict], sides: list[str]) -> None:
    """Each phase's peak memory (MiB) per side, in :data:`PHASES` order; '-' where a side has none."""
    per_side = {s: dict(results[s]["phases"]) for s in sides}
    print(f"{'peak MiB per phase':28s}" + "".join(f"{s:>8s}" for s in sides))
    for key, label in PHASES.items():
        cells = "".join(f"{per_side[s][key] / 2**20:8.0f}" if key in per_side[s] else f"{'-':>8s}" for s in sides)
        print(f"{label:28s}{cells}")
    for side in sides:
        if results[side]["cumulative"]:
            print(f"{side}: the high-water mark could not be reset: each phase's figure is the peak so far")


def _print_split(results: dict[str, dict], sides: list[str], args: argparse.Namespace) -> None:
    """Per side: the median forward, backward and optimizer seconds of a step (after the warm-up steps),
    and the kernel CPU time and minor page faults per step after the first."""
    print(f"{'':8s} {'forward s':>10s} {'backward s':>11s} {'optimizer s':>12s} {'system CPU s':>13s} "
          f"{'faults':>9s}   (per step)")
    for side in sides:
        r = results[side]
        parts = [statistics.median(s[k] for s in r["split"][args.warmup:] or r["split"])
                 for k in ("forward", "backward", "optimizer")]
        per = max(1, args.steps - 1)
        print(f"{side:8s} {parts[0]:10.4f} {parts[1]:11.4f} {parts[2]:12.4f} {r['system']['steps'] / per:13.4f} "
              f"{r['faults']['steps'] / per:9.0f}")


def _print_curve(results: dict[str, dict], sides: list[str], every: int) -> None:
    """Every ``every`` steps and the last: per side the RSS after the step, the peak so far (MiB) and the
    mean CPU seconds a step since the previous row; with both sides, the peak and CPU ratios."""
    curves = {s: results[s]["curve"] for s in sides}
    n = min(len(c) for c in curves.values())
    rows = sorted({i for i in range(every, n + 1, every)} | {n}) if n else []
    head = "".join(f" {s + ' RSS':>9s} {s + ' peak':>9s} {s + ' CPU':>8s}" for s in sides)
    print(f"memory curve (MiB; CPU s a step since the previous row)\n{'step':>5s}{head}"
          + ("   peak ratio  CPU ratio" if len(sides) == 2 else ""))
    prev = 1
    for step in rows:
        cells, cpu = "", {}
        for s in sides:
            c = curves[s]
            cpu[s] = (c[step - 1][3] - c[prev - 1][3]) / max(1, step - prev)
            cells += f" {c[step - 1][1] / 2**20:9.0f} {c[step - 1][2] / 2**20:9.0f} {cpu[s]:8.3f}"
        if len(sides) == 2:
            ratio = curves["ours"][step - 1][2] / curves["trl"][step - 1][2]
            cells += f"   {ratio:10.3f}x {cpu['ours'] / cpu['trl'] if cpu['trl'] else 0.0:9.3f}x"
        print(f"{step:5d}{cells}")
        prev = step


def _trl_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("trl")
    except metadata.PackageNotFoundError:
        return "absent"


if __name__ == "__main__":
    raise SystemExit(main())
