"""Checkpoints that resume exactly: trainable weights, optimizer, scheduler, every RNG, and the
data position (micro-batches consumed), written atomically (temp folder, then rename).

Layout: ``<dir>/step-000040/{trainable.pt, optimizer.pt, scheduler.pt, rng-rank<r>.pt, state.json}``.
Only parameters with ``requires_grad`` are saved (LoRA: a few MB; full fine-tuning: the model).
A folder without ``state.json`` is incomplete (killed while writing) and is ignored. A save that runs
out of disk removes its temp folder and raises OSError(ENOSPC) saying so (torch's own error is an
``enforce fail ... unexpected pos``); the previous checkpoint stays whole and a resume starts from it.
"""

from __future__ import annotations

import errno
import json
import random
import shutil
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

STATE = "state.json"


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def _full_options() -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=True)


def full_model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The unsharded state of an FSDP model (collective: every rank calls it; rank 0 gets the tensors)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    # A full (unsharded) model state holds only tensors; the stubs allow any state value.
    return cast(dict[str, torch.Tensor], get_model_state_dict(model, options=_full_options()))


def save(root: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
         state: dict[str, Any], rank: int = 0, keep: int = 2, sharded: bool = False) -> Path:
    """Write checkpoint ``step``; under DDP/FSDP every rank calls this (rank 0 writes the shared files).
    ``sharded`` (FSDP): weights and optimizer state are gathered into full, FQN-keyed dicts first."""
    final = root / f"step-{step:06d}"
    tmp = root / f".step-{step:06d}.tmp"
    if sharded:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        weights = full_model_state(model)
        optim = get_optimizer_state_dict(model, optimizer, options=_full_options())
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            torch.save(weights if sharded else trainable_state(model), tmp / "trainable.pt")
            torch.save(optim if sharded else optimizer.state_dict(), tmp / "optimizer.pt")
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
            torch.save(_rng_state(), tmp / "rng-rank0.pt")
            (tmp / STATE).write_text(json.dumps({**state, "step": step}, indent=1))
        except (OSError, RuntimeError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if getattr(exc, "errno", None) == errno.ENOSPC or shutil.disk_usage(root).free < 1 << 20:
                kept = latest(root)
                raise OSError(errno.ENOSPC, f"no space left on device for checkpoint step {step} in {root} "
                              f"({shutil.disk_usage(root).free} bytes free); "
                              + (f"{kept.name} is kept whole and the job resumes from it once there is space"
                                 if kept else "no earlier checkpoint")) from exc
            raise
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in sorted(root.glob("step-*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    else:
        root.mkdir(parents=True, exist_ok=True)
        torch.save(_rng_state(), root / f".rng-rank{rank}-step-{step:06d}.pt")
    return final


def publish_rank_rng(root: Path, step: int, world: int) -> None:
    """Rank 0, after a barrier: move the other ranks' RNG files into the finished checkpoint."""
    final = root / f"step-{step:06d}"
    for r in range(1, world):
        src = root / f".rng-rank{r}-step-{step:06d}.pt"
        if src.exists() and final.exists():
            src.rename(final / f"rng-rank{r}.pt")


def latest(root: Path) -> Path | None:
    done = [p for p in sorted(root.glob("step-*")) if (p / STATE).exists()]
    return done[-1] if done else None


def load(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
         rank: int = 0, sharded: bool = False) -> dict[str, Any]:
    """Restore everything saved by :func:`save`; returns the saved state (``step``, data position...)."""
    weights = torch.load(path / "trainable.pt", map_location="cpu")
    optim = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False)
    if sharded:
        from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

        set_model_state_dict(model, weights, options=_full_options())
        set_optimizer_state_dict(model, optimizer, optim, options=_full_options())
    else:
        missing = model.load_state_dict(weights, strict=False)
        if missing.unexpected_keys:
            raise RuntimeError(f"checkpoint {path} has parameters the model lacks: {missing.unexpected_keys[:3]}")
        optimizer.load_state_dict(optim)
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", map_location="cpu", weights_only=False))
    rng_file = path / f"rng-rank{rank}.pt"
    _set_rng_state(torch.load(rng_file if rng_file.exists() else path / "rng-rank0.pt", weights_only=False))
    return json.loads((path / STATE).read_text())
