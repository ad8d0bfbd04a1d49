"""Benchmark suites shipped as package data (``codeeval/suites/data/*.yaml``) or given by path.

``load_suite(name_or_path)`` returns a validated :class:`Suite`; ``validate_suite`` additionally
resolves every name the suite uses (reader, task prompt, template) and checks that the data exist,
reporting each problem with a did-you-mean hint. Relative data paths are resolved against the
suite file's folder (shipped suites: ``data/``); ``${datasets}`` is the shared benchmark data
(:func:`codeeval.kit.paths.expand`).

``task_source(task, base_dir)`` turns a task into a :class:`codeeval.data.Source` and
``read_items(task, base_dir)`` reads its items through the :mod:`codeeval.data` registry (after
``options.exclude_ids_file`` and ``limit``). Suites sit above the data layer: codeeval.data never
imports this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from codeeval.data import READERS, Item, Source
from codeeval.data import read_items as read_source
from codeeval.kit.paths import expand
from codeeval.suites.schema import (
    KINDS,
    LANGUAGES,
    SCORE_METRICS,
    Generation,
    Suite,
    SuiteError,
    Task,
    did_you_mean,
    parse_suite,
)

DATA_DIR = Path(__file__).parent / "data"

__all__ = ["DATA_DIR", "KINDS", "LANGUAGES", "SCORE_METRICS", "Generation", "LoadedSuite", "Suite", "SuiteError",
           "Task", "list_suites", "load_suite", "read_items", "resolve_path", "task_source", "validate_suite"]


@dataclass(frozen=True)
class LoadedSuite:
    suite: Suite
    path: Path
    text: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def list_suites() -> dict[str, Path]:
    """Shipped suites by name."""
    return {p.stem: p for p in sorted(DATA_DIR.glob("*.yaml"))}


def load_suite(name_or_path: str | Path) -> LoadedSuite:
    """A shipped suite by name, or a suite file by path; raises :class:`SuiteError` with did-you-mean."""
    path = Path(name_or_path)
    if not path.suffix:
        shipped = list_suites()
        if str(name_or_path) not in shipped:
            raise SuiteError(f"unknown suite {str(name_or_path)!r}{did_you_mean(str(name_or_path), list(shipped))}")
        path = shipped[str(name_or_path)]
    if not path.is_file():
        raise SuiteError(f"suite file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from None
    return LoadedSuite(parse_suite(raw, str(path)), path.resolve(), text)


def resolve_path(path: str, base_dir: Path) -> Path:
    """A suite's data path: ``${datasets}``, ``~`` and variables expanded, relative to ``base_dir``."""
    return expand(path, base_dir)


def task_source(task: Task, base_dir: Path) -> Source:
    """The data-layer source of ``task``: its path and ``options.exclude_ids_file`` resolved."""
    options = dict(task.options)
    if options.get("exclude_ids_file"):
        options["exclude_ids_file"] = resolve_path(str(options["exclude_ids_file"]), base_dir)
    return Source(reader=task.reader, path=resolve_path(task.path, base_dir), language=task.language,
                  source_language=task.source_language, options=options)


def read_items(task: Task, base_dir: Path) -> list[Item]:
    """The task's items, after ``options.exclude_ids_file`` and ``limit`` (codeeval.data errors)."""
    return read_source(task_source(task, base_dir), task.limit)


def validate_suite(loaded: LoadedSuite, *, check_data: bool = True) -> list[str]:
    """Problems beyond the schema: unknown reader/prompt/template names, missing data, reader errors.

    Cost: with ``check_data`` every task's reader runs once over its data (milliseconds for the
    shipped suites).
    """
    from codeeval.prompts import registry

    problems: list[str] = []
    for i, task in enumerate(loaded.suite.tasks):
        where = f"tasks.{i}({task.name})"
        if task.reader not in READERS:
            problems.append(f"{where}.reader: unknown reader {task.reader!r}{did_you_mean(task.reader, list(READERS))}")
            continue
        if task.task_prompt not in registry.TASK_PROMPTS:
            problems.append(f"{where}.task_prompt: unknown task prompt {task.task_prompt!r}"
                            f"{did_you_mean(task.task_prompt, list(registry.TASK_PROMPTS))}")
        if task.template is not None and task.template not in registry.TEMPLATES:
            problems.append(f"{where}.template: unknown template {task.template!r}"
                            f"{did_you_mean(task.template, list(registry.TEMPLATES))}")
        if not check_data:
            continue
        try:
            items = read_items(task, loaded.base_dir)
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{where}.path: {exc}")
            continue
        if not items:
            problems.append(f"{where}.path: the reader found no items")
            continue
        prompt = registry.TASK_PROMPTS.get(task.task_prompt)
        if prompt is not None:
            missing = [f for f in prompt.fields if f not in items[0].fields]
            if missing:
                problems.append(f"{where}.task_prompt: {task.task_prompt!r} needs fields {missing}; reader "
                                f"{task.reader!r} gives {sorted(items[0].fields)}")
        if task.pass_ks and task.kind == "codegen" and not any(it.test for it in items):
            problems.append(f"{where}.metrics: pass@k needs items with tests; none of the {len(items)} has one")
    return problems
