"""Checks a StartTraining request must pass before any training starts.

Unknown config -> NOT_FOUND with did-you-mean; override outside the whitelist or a bad value ->
INVALID_ARGUMENT naming the key; missing dataset -> NOT_FOUND naming the path; missing base
model folder -> FAILED_PRECONDITION; LoRA rank above the generator's max rank, or
load_into_generator without a generator -> FAILED_PRECONDITION. An error found in the resolved
config names the request's field it came from first (the override that set it, else the config),
then the config's own key: ``config 'x': data.tasks[1].eval_source.path: dataset path ... does
not exist``. Cost: reads no data, one GetCapabilities call when a generator is configured.
"""

from __future__ import annotations

from typing import Protocol

from codeeval.kit.errors import CodeevalError, FailedPrecondition
from codeeval.prompts import MODEL, get_task_prompt, get_template
from codeeval.trainer.readers import check_source
from codeeval.trainer.recipe_schema import TrainConfig, expand_path, load_config


class GeneratorLink(Protocol):
    """What the trainer needs from a running generator (the gRPC client is
    ``codeeval.clients.generator.TrainerGeneratorLink``, wired in by server.py)."""

    def address(self) -> str | None: ...

    def max_lora_rank(self) -> int: ...

    def load_adapter(self, name: str, path: str) -> str: ...


def admit(config: str, overrides: dict[str, str], generator: GeneratorLink | None) -> TrainConfig:
    cfg = load_config(config, overrides)
    try:
        return _check(cfg, generator)
    except CodeevalError as exc:
        key = exc.field or ""
        where = next((f"overrides[{k}]" for k in overrides if key == k or key.startswith((f"{k}.", f"{k}["))),
                     f"config {config!r}")
        raise type(exc)(str(exc), field=where) from None


def _check(cfg: TrainConfig, generator: GeneratorLink | None) -> TrainConfig:
    if cfg.model.template != MODEL:
        get_template(cfg.model.template)
    for i, task in enumerate(cfg.data.tasks):
        get_task_prompt(task.task_prompt)
        check_source(task.source, f"data.tasks[{i}].source")
        if task.eval_source is not None:
            check_source(task.eval_source, f"data.tasks[{i}].eval_source")
    base = cfg.model.base
    if base != "default" and base.startswith(("/", ".", "~", "$")) and not (expand_path(base) / "config.json").exists():
        raise FailedPrecondition(f"base model folder {expand_path(base)} does not exist or has no config.json",
                                 field="model.base")
    address = generator.address() if generator is not None else None
    if cfg.output.load_into_generator and not address:
        raise FailedPrecondition("no generator configured (set CODEEVAL_GENERATOR_ADDR)",
                                 field="output.load_into_generator")
    if address and generator is not None and cfg.method.kind != "full":
        limit = generator.max_lora_rank()
        if limit and cfg.method.lora.r > limit:
            raise FailedPrecondition(f"LoRA rank {cfg.method.lora.r} exceeds the generator's max_lora_rank of {limit}"
                                     f" ({address})", field="method.lora.r")
    return cfg
