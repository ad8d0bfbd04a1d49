"""The five stages of a bench run. Each reads the previous stage's file, does only what its own
file does not hold yet, and appends record by record (see :mod:`codeeval.bench.store`).

Costs: generate is one streamed Generate call per chunk of prompts (chunk = the generator's
max_prompts); execute runs each distinct program once (identical completions of an item share a
key), in ExecuteBatch chunks of the sandbox's max_batch_size; analyze sends each distinct program
once; score is one Score call per task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Protocol, TypeVar

from codeeval.api.analyzer.v1 import analyzer_pb2
from codeeval.api.common.v1 import common_pb2
from codeeval.api.generator.v1 import generator_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.bench.extract import extract_code, extract_summary
from codeeval.bench.programs import build_program
from codeeval.bench.readers import Item
from codeeval.bench.services import Services, stream_with_retry
from codeeval.bench.store import RunDir, sample_key
from codeeval.prompts import registry
from codeeval.suites.schema import Task

T = TypeVar("T")
LANGUAGE = {"python": common_pb2.LANGUAGE_PYTHON, "java": common_pb2.LANGUAGE_JAVA,
            "csharp": common_pb2.LANGUAGE_CSHARP}
MODE = {"run_tests": sandbox_pb2.MODE_RUN_TESTS, "compile_only": sandbox_pb2.MODE_COMPILE_ONLY}
EXT = {"python": "py", "java": "java", "csharp": "cs"}
#: Kept from a program's output in executions.jsonl (enough to see why it failed).
OUTPUT_KEEP = 2000
GENERATE_DEADLINE_S = 6 * 3600.0


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
    done = store.keys(sample_key)
    tasks = list(tasks)
    total = sum(len(t.items) * t.task.generation.n for t in tasks)
    advance = reporter.stage("generate", total, len(done))
    caps = services.capabilities("generator")
    for ti in tasks:
        task, gen = ti.task, ti.task.generation
        todo = [it for it in ti.items if any((task.name, it.id, s) not in done for s in range(gen.n))]
        if not todo:
            continue
        max_tokens = min(gen.max_tokens, caps.max_tokens) if caps.max_tokens else gen.max_tokens
        sampling = generator_pb2.SamplingParams(temperature=gen.temperature, top_p=gen.top_p, max_tokens=max_tokens,
                                                n=gen.n, seed=gen.seed, stop=gen.stop)
        for chunk in chunks(todo, caps.max_prompts or 8):
            request = generator_pb2.GenerateRequest(
                prompts=[generator_pb2.Prompt(id=f"{task.name}/{it.id}", chat=generator_pb2.Chat(messages=[
                    generator_pb2.ChatMessage(role=m["role"], content=m["content"])
                    for m in prompt_messages(task, it)])) for it in chunk],
                adapter=adapter, sampling=sampling, template=task.template or "")

            def on_response(resp: Any, chunk: Sequence[Item] = chunk, task: Task = task) -> None:
                item = chunk[resp.prompt_index]
                key = (task.name, item.id, resp.sample_index)
                if key in done:
                    return
                store.append([{"task": task.name, "item": item.id, "sample": resp.sample_index, "text": resp.text,
                               "prompt_tokens": resp.prompt_tokens, "completion_tokens": resp.completion_tokens,
                               "finish_reason": generator_pb2.FinishReason.Name(resp.finish_reason),
                               "adapter": resp.adapter, "template": resp.template,
                               "template_sha256": resp.template_sha256, "seed": resp.seed}])
                done.add(key)
                advance(1)

            stream_with_retry(services, "generator",
                              lambda stub, r=request: stub.Generate(r, timeout=GENERATE_DEADLINE_S), on_response)


def extract(run: RunDir, tasks: Iterable[TaskItems], reporter: Reporter) -> None:
    """Extract code (or the summary) from each new generation and assemble its program."""
    by_name = {t.task.name: t for t in tasks}
    store, programs = run.store("extract"), run.store("programs")
    done = store.keys(sample_key)
    known = programs.keys(lambda r: r["key"])
    gens = [g for g in run.store("generate").records() if g["task"] in by_name]
    advance = reporter.stage("extract", len(gens), len(done))
    for g in gens:
        if sample_key(g) in done:
            continue
        ti = by_name[g["task"]]
        task, item = ti.task, ti.item(g["item"])
        answer = extract_summary(g["text"]) if task.kind == "summarization" else extract_code(g["text"], task.language)
        spec = build_program(task, item, answer)
        if spec.mode != "none" and spec.key not in known:
            programs.append([{"key": spec.key, **asdict(spec), "timeout_ms": task.timeout_ms}])
            known.add(spec.key)
        store.append([{"task": task.name, "item": item.id, "sample": g["sample"], "answer": answer,
                       "key": spec.key if spec.mode != "none" else "", "mode": spec.mode}])
        done.add(sample_key(g))
        advance(1)


def _supported(caps: Any) -> set[tuple[str, str]]:
    names = {v: k for k, v in LANGUAGE.items()}
    modes = {v: k for k, v in MODE.items()}
    out = set()
    for lang in caps.languages:
        for m in lang.modes or [sandbox_pb2.MODE_RUN_TESTS, sandbox_pb2.MODE_COMPILE_ONLY]:
            if lang.language in names and m in modes:
                out.add((names[lang.language], modes[m]))
    return out


def execute(run: RunDir, services: Services, reporter: Reporter) -> None:
    """Run each distinct program once; SANDBOX_ERROR results are not kept as done (retried next run)."""
    programs = {r["key"]: r for r in run.store("programs").records()}
    needed = sorted({e["key"] for e in run.store("extract").records() if e["key"]})
    store = run.store("execute")
    done = {r["key"] for r in store.records() if r["outcome"] != "SANDBOX_ERROR"}
    todo = [k for k in needed if k not in done]
    advance = reporter.stage("execute", len(needed), len(needed) - len(todo))
    if not todo:
        return
    caps = services.capabilities("sandbox")
    supported = _supported(caps)
    runnable = []
    for key in todo:
        p = programs[key]
        if (p["language"], p["mode"]) in supported:
            runnable.append(key)
            continue
        store.append([{"key": key, "outcome": "NOT_RUN",
                       "detail": f"the sandbox cannot {p['mode'].replace('_', ' ')} {p['language']}"}])
        advance(1)
    for chunk in chunks(runnable, min(caps.max_batch_size or 16, 16)):
        request = sandbox_pb2.ExecuteBatchRequest(requests=[_execute_request(programs[k]) for k in chunk])
        written: set[str] = set()

        def on_response(resp: Any, chunk: Sequence[str] = chunk, written: set[str] = written) -> None:
            key = chunk[resp.index]
            if key in written:
                return
            store.append([_execution_record(key, resp.result)])
            written.add(key)
            advance(1)

        stream_with_retry(services, "sandbox", lambda stub, r=request: stub.ExecuteBatch(r, timeout=3600),
                          on_response)


def _execute_request(p: dict[str, Any]) -> Any:
    program = sandbox_pb2.Program(language=LANGUAGE[p["language"]], source=p["source"].encode(),
                                  test=p["test"].encode(), entry_point=p["entry_point"], mode=MODE[p["mode"]])
    limits = sandbox_pb2.Limits(wall_time_ms=p.get("timeout_ms") or 0)
    return sandbox_pb2.ExecuteRequest(id=p["key"][:16], program=program, limits=limits)


def _execution_record(key: str, r: Any) -> dict[str, Any]:
    return {"key": key, "outcome": sandbox_pb2.Outcome.Name(r.outcome).removeprefix("OUTCOME_"),
            "exit_code": r.exit_code, "signal": r.signal, "wall_time_ms": r.wall_time_ms,
            "cpu_time_ms": r.cpu_time_ms, "peak_memory_bytes": r.peak_memory_bytes, "detail": r.detail,
            "compile_output": r.compile_output[:OUTPUT_KEEP],
            "stderr": r.stderr[-OUTPUT_KEEP:].decode(errors="replace"), "attempts": r.attempts,
            "backend": r.backend}


def analyze(run: RunDir, services: Services, tasks: Iterable[TaskItems], reporter: Reporter) -> None:
    """Static analysis of each distinct program of the tasks that ask for ``quality``."""
    wanted = {t.task.name for t in tasks if "quality" in t.task.metrics}
    programs = {r["key"]: r for r in run.store("programs").records()}
    passed = {r["key"]: r["outcome"] == "PASSED" for r in run.store("execute").records()}
    needed = sorted({e["key"] for e in run.store("extract").records() if e["key"] and e["task"] in wanted})
    store = run.store("analyze")
    done = store.keys(lambda r: r["key"])
    todo = [k for k in needed if k not in done]
    advance = reporter.stage("analyze", len(needed), len(needed) - len(todo))
    if not todo:
        return
    caps = services.capabilities("analyzer")
    for chunk in chunks(todo, min(caps.max_files or 64, 64)):
        files = []
        for key in chunk:
            p = programs[key]
            f = analyzer_pb2.AnalyzedFile(file=common_pb2.SourceFile(
                path=f"{key[:16]}.{EXT[p['language']]}", content=p["source"].encode(),
                language=LANGUAGE[p["language"]]))
            if key in passed and p["mode"] == "run_tests":
                f.passed = passed[key]
            files.append(f)
        resp = services.call("analyzer", lambda stub, f=files: stub.Analyze(
            analyzer_pb2.AnalyzeRequest(files=f), timeout=1800))
        by_path = {fr.path: fr for fr in resp.files}
        tools = [f"{t.name} {t.version}" for t in resp.tools]
        records = [_analysis_record(key, by_path.get(f"{key[:16]}.{EXT[programs[key]['language']]}"), tools)
                   for key in chunk]
        store.append(records)
        advance(len(records))


def _analysis_record(key: str, fr: Any, tools: list[str]) -> dict[str, Any]:
    if fr is None:
        return {"key": key, "analyzable": False, "parse_error": "the analyzer returned no report", "nloc": 0,
                "categories": {}, "issues": 0, "tools": tools}
    categories: dict[str, int] = {}
    for f in fr.findings:
        cat = f"{f.tool}/{f.category or analyzer_pb2.Severity.Name(f.severity)}"
        categories[cat] = categories.get(cat, 0) + 1
    m = fr.metrics
    return {"key": key, "analyzable": fr.analyzable, "parse_error": fr.parse_error, "wrapped": fr.wrapped,
            "nloc": m.nloc, "loc": m.loc, "issues": len(fr.findings), "categories": categories,
            "mean_cc": m.average_cyclomatic_complexity, "max_cc": m.max_cyclomatic_complexity,
            "tool_errors": [f"{e.tool}: {e.message}" for e in fr.tool_errors], "tools": tools}


def score(run: RunDir, services: Services, tasks: Iterable[TaskItems], reporter: Reporter) -> None:
    """Reference metrics per task (one Score call each), with the leakage check for summarization."""
    wanted = [t for t in tasks if t.task.score_metrics]
    store = run.store("score")
    done = store.keys(lambda r: r["task"])
    advance = reporter.stage("score", len(wanted), sum(t.task.name in done for t in wanted))
    extractions: dict[str, list[dict[str, Any]]] = {}
    for e in run.store("extract").records():
        extractions.setdefault(e["task"], []).append(e)
    for ti in wanted:
        task = ti.task
        if task.name in done:
            continue
        rows = sorted(extractions.get(task.name, []), key=lambda e: (e["item"], e["sample"]))
        caps = services.capabilities("analyzer")
        instances: list[dict[str, Any]] = []
        corpus: dict[str, float] = {}
        tools: list[str] = []
        parts = list(chunks(rows, caps.max_score_instances or len(rows) or 1))
        for part in parts:
            items = [ti.item(e["item"]) for e in part]
            request = analyzer_pb2.ScoreRequest(
                hypotheses=[e["answer"] for e in part], references=[it.reference for it in items],
                language=LANGUAGE[task.language], metrics=task.score_metrics,
                sources=[it.source for it in items] if task.kind == "summarization" else [])
            resp = services.call("analyzer", lambda stub, r=request: stub.Score(r, timeout=1800))
            for inst in resp.instances:
                e = part[inst.index]
                instances.append({"item": e["item"], "sample": e["sample"],
                                  "metrics": {m.name: m.value for m in inst.metrics},
                                  "overlap": inst.reference_overlap, "verbatim": inst.reference_verbatim_in_source})
            if len(parts) == 1:  # corpus-level values exist only for one call; else the report uses means
                corpus = {m.name: m.value for m in resp.corpus}
            tools = [f"{t.name} {t.version}" for t in resp.tools]
        summarization = task.kind == "summarization"
        store.append([{"task": task.name, "instances": instances, "corpus": corpus,
                       "leakage": _leakage(instances) if summarization else None, "tools": tools}])
        advance(1)


def _leakage(instances: list[dict[str, Any]]) -> dict[str, float]:
    """Input/reference leakage over all instances (from the analyzer's per-instance checks)."""
    n = len(instances)
    verbatim = sum(bool(i["verbatim"]) for i in instances)
    return {"instances": n, "verbatim": verbatim, "verbatim_rate": verbatim / n if n else 0.0,
            "mean_overlap": sum(i["overlap"] for i in instances) / n if n else 0.0}
