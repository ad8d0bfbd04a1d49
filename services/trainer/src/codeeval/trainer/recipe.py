"""The one training recipe: setup -> train -> save -> cleanup, driven by a :class:`TrainConfig`.

It runs the same in a job's worker subprocess, by hand, and under ``torchrun`` (DDP: gloo on CPU,
NCCL on GPU; one process per rank, data sharded by rank, rank 0 writes events, checkpoints and
the artifact)::

    python -m codeeval.trainer.recipe --config smollm2-multitask-qlora-cpu --workdir /tmp/run
    torchrun --nproc-per-node 2 -m codeeval.trainer.recipe --config tiny-multitask-lora --workdir /tmp/ddp

A run in a ``workdir`` that already has a checkpoint resumes from it (weights, optimizer,
scheduler, RNG, data position). SIGTERM stops at the next step boundary after a checkpoint
(exit code :data:`CANCELLED_EXIT`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from codeeval.contamination.check import examples_sha256
from codeeval.data import Example
from codeeval.prompts import get_task_prompt, prompt_sha256, resolve_template
from codeeval.trainer import artifacts, checkpoint, memory, modeling
from codeeval.trainer.data import BatchOrder, Features, batch_tokens, collate, collate_flat, encode, pack
from codeeval.trainer.events import EventLog
from codeeval.trainer.mixing import mix
from codeeval.trainer.outcomes import CANCELLED_EXIT, DONE_EXIT
from codeeval.trainer.readers import read
from codeeval.trainer.recipe_schema import TrainConfig, expand_path, load_config


def build_examples(cfg: TrainConfig, hashes: dict[str, str] | None = None
                   ) -> tuple[dict[str, list[Example]], dict[str, list[Example]]]:
    """(train examples per task, eval examples per task); eval held out deterministically. ``hashes``
    receives each task's ``examples_sha256`` of the examples as read (before the eval split)."""
    train: dict[str, list[Example]] = {}
    evals: dict[str, list[Example]] = {}
    for task in cfg.data.tasks:
        rows = read(task.source, task.name)
        if hashes is not None:
            hashes[task.name] = examples_sha256(rows)
        if task.eval_source is not None:
            evals[task.name] = read(task.eval_source, task.name)[: cfg.data.eval_limit]
        elif cfg.data.eval_fraction > 0 and len(rows) > 1:
            random.Random(cfg.train.seed).shuffle(rows)
            n_eval = min(cfg.data.eval_limit, max(1, int(len(rows) * cfg.data.eval_fraction)))
            evals[task.name], rows = rows[:n_eval], rows[n_eval:]
        train[task.name] = rows
    return train, evals


class Recipe:
    """One run in ``workdir``. ``on_phase(name)``, if given, is called as each phase ends: "load" (base
    loaded and quantized), "adapter", "data", "optimizer" (the end of :meth:`setup`), "first step",
    "steps" (the end of :meth:`train`); the bench measures each phase's peak memory with it."""

    def __init__(self, cfg: TrainConfig, workdir: Path, on_phase: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.on_phase = on_phase or (lambda _name: None)
        self.workdir = workdir
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        workdir.mkdir(parents=True, exist_ok=True)
        self.events = EventLog(workdir / "events.jsonl" if self.rank == 0 else None)
        self.ckpt_dir = workdir / "checkpoints"
        self.stop_requested = False
        self.started = time.monotonic()
        self.step_trim = memory.StepTrim(cfg.train.trim_heap)

    # -- setup -------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        torch.set_num_threads(cfg.train.compute_threads)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self._old_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        random.seed(cfg.train.seed)
        np.random.seed(cfg.train.seed)
        torch.manual_seed(cfg.train.seed)
        self.prompts = {t.name: get_task_prompt(t.task_prompt) for t in cfg.data.tasks}
        self.base_path = modeling.resolve_base(cfg.model.base)
        self.model, self.tokenizer = modeling.load(cfg, self.base_path, self.on_phase)
        self.keep_logits = modeling.keeps_logits(self.model)
        if cfg.data.padding_free:
            modeling.check_padding_free(self.model)
        self.on_phase("adapter")
        self.template = resolve_template(cfg.model.template, self.tokenizer)  # "model": the tokenizer's own
        self.trainable, self.total_params = modeling.parameter_counts(self.model)
        self.data_sha256: dict[str, str] = {}
        train, evals = build_examples(cfg, self.data_sha256)
        mixed, self.mixture = mix(train, cfg.data.mixing, cfg.train.seed)
        self.events.emit("mixture", counts=[c.__dict__ for c in self.mixture])
        self.events.message("mixture " + ", ".join(f"{c.task}: {c.effective}/{c.available} ({c.proportion:.1%})"
                                                   for c in self.mixture))
        self.train_set = self._features(mixed)
        if cfg.data.packing:
            self.train_set = pack(self.train_set, cfg.data.max_length)
        self.eval_sets = {t: self._features(rows) for t, rows in evals.items() if rows}
        self.on_phase("data")
        self.order = BatchOrder(len(self.train_set), cfg.train.batch_size, cfg.train.seed, self.rank, self.world)
        per_step = self.order.per_epoch / cfg.train.grad_accum
        self.total_steps = cfg.train.max_steps or max(1, math.ceil(cfg.train.epochs * per_step))
        self.sharded = self.world > 1 and cfg.train.distributed == "fsdp"
        self.ddp_model: torch.nn.Module = self.model
        if self.sharded:
            shard_model(self.model)
        elif self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp_model = DistributedDataParallel(self.model)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer: torch.optim.Optimizer
        if cfg.train.optimizer == "adamw_8bit":
            import bitsandbytes as bnb

            self.optimizer = bnb.optim.AdamW8bit(params, lr=cfg.train.learning_rate,
                                                 weight_decay=cfg.train.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
        from transformers import get_scheduler

        self.scheduler = get_scheduler(cfg.train.scheduler, self.optimizer, num_warmup_steps=cfg.train.warmup_steps,
                                       num_training_steps=self.total_steps)
        self.state: dict[str, Any] = {"step": 0, "micro": 0, "best_eval": None, "bad_evals": 0, "elapsed": 0.0,
                                      "tokens": 0, "peak_memory": 0, "last_loss": None, "metrics": {},
                                      "resumed_from_step": 0}
        latest = checkpoint.latest(self.ckpt_dir)
        if latest is not None:
            self.state = checkpoint.load(latest, self.model, self.optimizer, self.scheduler, self.rank, self.sharded)
            self.state["resumed_from_step"] = self.state["step"]
            self.state["wall_base"] = self.state.get("wall", 0.0)
            self.events.message(f"resumed from {latest.name} (data position {self.state['micro']} micro-batches)")
        self.on_phase("optimizer")

    def _features(self, rows: list[Example]) -> list[Features]:
        return [encode(ex, self.tokenizer, self.template, self.prompts[ex.task], self.cfg.data.max_length,
                       self.cfg.data.completion_only) for ex in rows]

    def _collate(self, rows: list[Features]) -> dict[str, torch.Tensor]:
        """One micro-batch: a padding-free row (``data.padding_free``) or padded rows."""
        if self.cfg.data.padding_free:
            return collate_flat(rows)
        return collate(rows, self.tokenizer.pad_token_id)

    def _on_sigterm(self, *_: object) -> None:
        self.stop_requested = True

    # -- train -------------------------------------------------------------------------------
    def train(self) -> str:
        """Run to ``total_steps``; returns 'completed', 'early_stopped' or 'cancelled'."""
        cfg, st = self.cfg.train, self.state
        self.model.train()
        step_times: list[float] = []
        while st["step"] < self.total_steps:
            t0 = time.monotonic()
            losses, tokens = [], 0
            split = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0}
            for i in range(cfg.grad_accum):
                batch = self._collate([self.train_set[j] for j in self.order.indices(st["micro"])])
                st["micro"] += 1
                tokens += batch_tokens(batch)
                sync = i == cfg.grad_accum - 1 or self.world == 1 or self.sharded
                ctx = self.ddp_model.no_sync() if not sync else _Null()  # type: ignore[operator]
                with ctx:
                    t1 = time.monotonic()
                    loss = modeling.lm_loss(self.ddp_model, batch, self.keep_logits) / cfg.grad_accum
                    t2 = time.monotonic()
                    loss.backward()
                    split["forward"] += t2 - t1
                    split["backward"] += time.monotonic() - t2
                losses.append(float(loss.detach()) * cfg.grad_accum)
            t1 = time.monotonic()
            if cfg.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            lr = self.scheduler.get_last_lr()[0]
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step_trim.after_step()  # the step's activations are freed: their pages may go back (README)
            split["optimizer"] = time.monotonic() - t1
            st["step"] += 1
            if not step_times:
                self.on_phase("first step")
            step_loss = self._mean_across_ranks(sum(losses) / len(losses))
            tokens *= self.world
            if cfg.min_step_seconds:
                time.sleep(max(0.0, cfg.min_step_seconds - (time.monotonic() - t0)))
            dt = time.monotonic() - t0
            step_times.append(dt)
            st["elapsed"] += dt
            st["tokens"] += tokens
            st["last_loss"] = step_loss
            st["peak_memory"] = max(st["peak_memory"], artifacts.peak_memory_bytes())
            if st["step"] % cfg.log_every == 0 or st["step"] == self.total_steps:
                recent = step_times[-20:]
                self.events.emit("progress", step=st["step"], total_steps=self.total_steps,
                                 epoch=st["micro"] / self.order.per_epoch, loss=step_loss, learning_rate=lr,
                                 tokens_per_second=tokens / dt if dt else 0.0,
                                 eta_seconds=(self.total_steps - st["step"]) * sum(recent) / len(recent),
                                 seconds=split)
            stop_early = False
            if cfg.eval_every and st["step"] % cfg.eval_every == 0 and st["step"] < self.total_steps:
                stop_early = self._evaluate_and_track()
            stop = self._any_rank(self.stop_requested)
            if st["step"] % cfg.checkpoint_every == 0 or stop:
                self._checkpoint()
            if stop:
                self.events.message(f"cancelled at step {st['step']}; last checkpoint kept")
                return "cancelled"
            if stop_early:
                self.events.message(f"early stopping at step {st['step']} (patience {cfg.early_stopping_patience})")
                return "early_stopped"
        self.on_phase("steps")
        return "completed"

    def _evaluate_and_track(self) -> bool:
        metrics = self.evaluate()
        if not metrics:
            return False
        st, cfg = self.state, self.cfg.train
        if st["best_eval"] is None or metrics["eval_loss"] < st["best_eval"] - 1e-6:
            st["best_eval"], st["bad_evals"] = metrics["eval_loss"], 0
        else:
            st["bad_evals"] += 1
        return bool(cfg.early_stopping_patience and st["bad_evals"] >= cfg.early_stopping_patience)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Token-weighted teacher-forced loss on each task's held-out set and overall."""
        if not self.eval_sets:
            return {}
        self.model.eval()
        metrics: dict[str, float] = {}
        total_loss = total_tokens = 0.0
        for task, feats in self.eval_sets.items():
            loss_sum = n_sum = 0.0
            for i in range(0, len(feats), self.cfg.train.batch_size):
                batch = self._collate(feats[i: i + self.cfg.train.batch_size])
                n = float((batch["labels"][:, 1:] != -100).sum())
                loss_sum += float(modeling.lm_loss(self.model, batch, self.keep_logits)) * n
                n_sum += n
            metrics[f"eval_loss/{task}"] = loss_sum / max(n_sum, 1.0)
            total_loss, total_tokens = total_loss + loss_sum, total_tokens + n_sum
        metrics["eval_loss"] = total_loss / max(total_tokens, 1.0)
        self.model.train()
        self.state["metrics"] = metrics
        self.events.emit("evaluation", step=self.state["step"], metrics=metrics)
        return metrics

    def _wall(self) -> float:
        """Wall time of all attempts: up to the last checkpoint before a restart, plus this one."""
        return float(self.state.get("wall_base", 0.0)) + time.monotonic() - self.started

    def _checkpoint(self) -> None:
        self.state["wall"] = self._wall()
        checkpoint.save(self.ckpt_dir, self.state["step"], self.model, self.optimizer, self.scheduler, self.state,
                        self.rank, self.cfg.train.keep_checkpoints, self.sharded)
        if self.world > 1:
            dist.barrier()
            if self.rank == 0:
                checkpoint.publish_rank_rng(self.ckpt_dir, self.state["step"], self.world)
        self.events.message(f"checkpoint saved at step {self.state['step']}")

    def _mean_across_ranks(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t[0]) / self.world

    def _any_rank(self, flag: bool) -> bool:
        if self.world == 1:
            return flag
        t = torch.tensor([int(flag)])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t[0])

    # -- save --------------------------------------------------------------------------------
    def save(self, outcome: str) -> dict[str, Any]:
        """Write the artifact and its metadata (rank 0); returns the result record."""
        metrics = self.evaluate() if self.eval_sets else {}
        st = self.state
        metrics = {**metrics, "train_loss": st["last_loss"], "steps": float(st["step"])}
        out = expand_path(self.cfg.output.dir) if self.cfg.output.dir else self.workdir / "artifact"
        kind = "full" if self.cfg.method.kind == "full" else "adapter"
        full_state = checkpoint.full_model_state(self.model) if self.sharded else None  # collective
        if self.rank == 0:
            artifacts.save_model(self.model, self.tokenizer, out, kind, full_state)
        cost = {"wall_seconds": self._wall(),
                "peak_memory_bytes": max(st["peak_memory"], artifacts.peak_memory_bytes()),
                "trainable_parameters": self.trainable, "total_parameters": self.total_params,
                "artifact_size_bytes": artifacts.folder_size(out) if self.rank == 0 else 0,
                "tokens_per_second": st["tokens"] / st["elapsed"] if st["elapsed"] else 0.0}
        result = {"outcome": outcome, "metrics": metrics, "cost": cost, "mixture": [c.__dict__ for c in self.mixture],
                  "resumed_from_step": st["resumed_from_step"], "total_steps": self.total_steps}
        if self.rank != 0:
            return result
        template = self.template
        meta = {
            "template": template.name, "template_sha256": template.sha256,
            "base_model": self.cfg.model.base, "base_model_path": self.base_path,
            "base_model_sha256": modeling.base_sha256(self.base_path),
            "task_prompts": {t: {"name": p.name, "sha256": p.sha256, "prompt_sha256": prompt_sha256(template, p)}
                             for t, p in self.prompts.items()},
            "kind": kind, "method": self.cfg.method.kind, "config": self.cfg.model_dump(mode="json"),
            "compute_dtype": (modeling.compute_dtype(self.cfg.method.quant.compute_dtype)
                              if self.cfg.method.kind == "qlora" else self.cfg.model.dtype),
            "mixture": result["mixture"], "metrics": metrics, "cost": cost, "seed": self.cfg.train.seed,
            "steps": st["step"], "outcome": outcome, "versions": artifacts.versions(),
            "data_sha256": self.data_sha256,
        }
        artifacts.write_metadata(out, meta, template)
        result["artifact"] = {"path": str(out), "kind": kind, "sha256": artifacts.folder_sha256(out),
                              "base_model": self.cfg.model.base, "base_model_sha256": meta["base_model_sha256"],
                              "template": template.name, "template_sha256": template.sha256}
        self.events.message(f"saved {kind} to {out}")
        return result

    # -- cleanup -----------------------------------------------------------------------------
    def cleanup(self) -> None:
        self.events.close()
        if getattr(self, "_old_sigterm", None) is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def shard_model(model: torch.nn.Module) -> None:
    """FSDP2 for full fine-tuning: shard every decoder layer, then the root (gloo on CPU, NCCL on GPU)."""
    from torch.distributed.fsdp import fully_shard

    for module in model.modules():
        if type(module).__name__.endswith("DecoderLayer"):
            fully_shard(module)
    fully_shard(model)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def run(cfg: TrainConfig, workdir: Path) -> dict[str, Any]:
    """setup -> train -> save -> cleanup; a cancelled run saves no artifact (its checkpoint stays)."""
    recipe = Recipe(cfg, workdir)
    try:
        recipe.setup()
        outcome = recipe.train()
        if outcome == "cancelled":
            return {"outcome": outcome, "step": recipe.state["step"]}
        return recipe.save(outcome)
    finally:
        recipe.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one training config (also under torchrun).")
    parser.add_argument("--config", required=True, help="shipped config name")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="whitelisted override")
    parser.add_argument("--workdir", type=Path, required=True, help="events, checkpoints, artifact")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    result = run(load_config(args.config, overrides), args.workdir)
    if int(os.environ.get("RANK", "0")) == 0:
        (args.workdir / "result.json").write_text(json.dumps(result, indent=1))
    return CANCELLED_EXIT if result["outcome"] == "cancelled" else DONE_EXIT


if __name__ == "__main__":
    raise SystemExit(main())
