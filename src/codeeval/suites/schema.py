"""The suite schema: a suite is a YAML file naming tasks; every key is checked, unknown keys and names
get did-you-mean errors (lm-evaluation-harness style), and the validated object is what a run records.

A task names a dataset reader and its path, the languages, the registry task prompt and chat template,
the generation parameters, and the metrics. ``kind`` decides the pipeline's stages for the task:

- ``codegen``: generate -> extract -> execute tests (pass@k) -> analyze (static quality);
- ``translation``: generate -> extract -> compile (and run tests where the item has them) -> analyze
  -> score against the reference (CodeBLEU, BLEU, ...);
- ``summarization``: generate -> extract the summary -> score against the reference, with the
  input/reference leakage check.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from codeeval.kit.languages import NAMES as LANGUAGES
from codeeval.kit.languages import LanguageName
from codeeval.kit.names import did_you_mean

__all__ = ["EXEC_METRICS", "KINDS", "LANGUAGES", "SCORE_METRICS", "Generation", "Judge", "Suite", "SuiteError",
           "Task", "did_you_mean", "parse_suite"]

KINDS = ("codegen", "translation", "summarization")
#: Metrics computed by the analyzer's Score RPC (names as in analyzer.proto).
SCORE_METRICS = ("codebleu", "bleu", "rouge_l", "chrf", "meteor", "exact_match")
#: Metrics computed from executions and the Analyze RPC.
EXEC_METRICS = ("compile", "quality")
_PASS_AT = re.compile(r"^pass@(\d+)$")


class SuiteError(ValueError):
    """A suite that does not validate; the message names the file, the key and a suggestion."""


class Generation(BaseModel):
    """Sampling parameters of a task, passed to the generator as they are."""

    model_config = ConfigDict(extra="forbid")
    n: int = Field(default=1, ge=1, le=200, description="samples per item (pass@k needs n >= k)")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 = greedy")
    top_p: float = Field(default=0.0, ge=0.0, le=1.0, description="0 = 1.0")
    max_tokens: int = Field(default=256, ge=1, le=8192, description="new tokens per sample")
    stop: list[str] = Field(default_factory=list, description="extra stop strings")
    seed: int = Field(default=0, ge=0, description="sampling seed, recorded with every sample")


class Judge(BaseModel):
    """LLM-as-judge for summaries (the study's rubric; see codeeval.pipeline.judge)."""

    model_config = ConfigDict(extra="forbid")
    runs: int = Field(5, ge=1, le=20, description="judgements per summary, averaged (the study: 5)")
    seed: int = Field(0, ge=0, description="seed of the first run; run r uses seed + r")
    adapter: str = Field("", description="generator adapter to judge with; empty = the base model")
    template: str | None = Field(None, description="chat template for the judge through the generator")
    endpoint: str | None = Field(None, description="OpenAI-compatible base URL (e.g. http://host:8000/v1) instead")
    model: str = Field("", description="model name at the endpoint")
    max_tokens: int = Field(48, ge=8, le=512)


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="unique within the suite")
    kind: Literal["codegen", "translation", "summarization"]
    language: LanguageName = Field(description="language of the answer (or of the code)")
    source_language: LanguageName | None = Field(None, description="translation input")
    reader: str = Field(description="dataset reader name (see codeeval.data)")
    path: str = Field(description="data path; relative paths are inside the suite's data folder; ${datasets} ok")
    options: dict[str, Any] = Field(default_factory=dict, description="reader options (e.g. direction, "
                                    "exclude_ids_file; paths may use ${datasets})")
    limit: int | None = Field(None, ge=1, description="first N items only")
    task_prompt: str = Field(description="registry task prompt (codeeval.prompts)")
    template: str | None = Field(None, description="chat template; None = the adapter's or model's own")
    template_override: bool = Field(False, description="serve adapters with `template` even when they were "
                                    "trained with another one (else the generator refuses, naming both); "
                                    "every such result is flagged in results.json and the report")
    generation: Generation = Field(default_factory=Generation)
    metrics: list[str] = Field(default_factory=list)
    timeout_ms: int = Field(0, ge=0, description="sandbox wall limit per program; 0 = service default")
    judge: Judge | None = Field(None, description="LLM-as-judge for summaries (optional)")

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: list[str]) -> list[str]:
        known = [*SCORE_METRICS, *EXEC_METRICS, "pass@1", "pass@10"]
        for m in v:
            if not (_PASS_AT.match(m) or m in SCORE_METRICS or m in EXEC_METRICS):
                raise ValueError(f"unknown metric {m!r}{did_you_mean(m, known)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Task:
        for k in self.pass_ks:
            if k > self.generation.n:
                raise ValueError(f"metric pass@{k} needs generation.n >= {k} (n is {self.generation.n})")
        if self.kind == "translation" and self.source_language is None:
            raise ValueError("translation tasks need source_language")
        if self.judge is not None and self.kind != "summarization":
            raise ValueError("judge applies to summarization tasks only")
        if self.kind == "summarization" and self.pass_ks:
            raise ValueError("summarization tasks have no pass@k (nothing to execute)")
        return self

    @property
    def pass_ks(self) -> list[int]:
        return sorted(int(m.group(1)) for m in map(_PASS_AT.match, self.metrics) if m)

    @property
    def score_metrics(self) -> list[str]:
        return [m for m in self.metrics if m in SCORE_METRICS]


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str = Field(description="bumped whenever items, prompts or metrics change")
    description: str = ""
    tasks: list[Task] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Suite:
        seen: set[str] = set()
        for t in self.tasks:
            if t.name in seen:
                raise ValueError(f"task name {t.name!r} appears twice")
            seen.add(t.name)
        return self

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise SuiteError(f"suite {self.name!r} has no task {name!r}{did_you_mean(name, [t.name for t in self.tasks])}")

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()


def _field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _explain(exc: ValidationError, raw: dict[str, Any]) -> str:
    """One line per error, with the dotted key and a did-you-mean for unknown keys."""
    lines = []
    for err in exc.errors():
        loc = err["loc"]
        where = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            parent: type[BaseModel] = Suite
            for part in loc[:-1]:
                if part == "tasks":
                    parent = Task
                elif part == "generation":
                    parent = Generation
                elif part == "judge":
                    parent = Judge
            key = str(loc[-1])
            lines.append(f"{where}: unknown key{did_you_mean(key, _field_names(parent))}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {msg}" if where else msg)
    return "\n".join(lines)


def parse_suite(raw: Any, origin: str = "<suite>") -> Suite:
    """Validate a suite mapping; :class:`SuiteError` lists every problem with its key."""
    if not isinstance(raw, dict):
        raise SuiteError(f"{origin}: a suite is a mapping with name, version and tasks")
    try:
        return Suite.model_validate(raw)
    except ValidationError as exc:
        raise SuiteError(f"{origin}:\n{_explain(exc, raw)}") from None
