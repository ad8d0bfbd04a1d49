"""``codeeval exec``: run model samples (or the reference solutions) against benchmark tests in the
sandbox service and score pass@k with bootstrap confidence intervals.

It is a bench run restricted to the execute stage, over given samples (the way bigcode's harness
loads generations): the problems file is read by the :mod:`codeeval.data` reader of its format
(HumanEval, HumanEval-X Python and Java, MBPP original and sanitized; .json / .jsonl / .gz), the
samples file by :func:`codeeval.pipeline.stages.read_samples` (``task_id`` and ``completion``,
appended to the prompt, or ``solution``, a whole program), programs are assembled, deduplicated and
executed by the bench's stages, and pass@k comes from the one aggregation,
:func:`codeeval.stats.passk.aggregate` (sandbox errors and programs the sandbox cannot run are
infrastructure: left out of n and c, counted and shown).

Writes ``DIR/results.jsonl`` (one line per sample), ``DIR/summary.json`` (pass@k with CI, counts per
status, backend and toolchain versions, inputs' sha256) and the stage files under ``DIR/run/``.
Talks to ``CODEEVAL_SANDBOX_ADDR`` or starts a local sandbox service for the command.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.data import DataError, Item, Source, read_items, read_records
from codeeval.pipeline.stages import NullReporter, Reporter, TaskItems
from codeeval.pipeline.store import RunDir
from codeeval.records import Execution, Extraction, Outcome, Sample
from codeeval.stats.passk import Verdict, aggregate
from codeeval.suites.schema import Task

_console = Console(stderr=True)
#: Problem formats: reader name and language, detected from the first record.
FORMATS = ("humaneval", "humaneval_x python", "humaneval_x java", "mbpp")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("exec", help="execute samples against benchmark tests in the sandbox; pass@k with CIs")
    p.add_argument("--problems", required=True, type=Path, help="HumanEval / HumanEval-X / MBPP file as published")
    p.add_argument("--samples", type=Path, help="JSONL: task_id + completion (appended to the prompt) or solution")
    p.add_argument("--canonical", action="store_true", help="evaluate the reference solutions (toolchain self-test)")
    p.add_argument("--out", required=True, type=Path, help="output directory (results.jsonl, summary.json)")
    p.add_argument("--k", default="1", help="comma-separated k values (default 1); only k <= n are reported")
    p.add_argument("--wall-ms", type=int, default=0, help="wall-time limit per run (0: the service default)")
    p.add_argument("--calibrate", action="store_true",
                   help="calibrate each task's wall limit to its reference solution's run time")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples for the CI")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (recorded)")
    p.set_defaults(func=_exec)


# -- problems and samples ------------------------------------------------------------------------------

def _calls_check(test: str, entry_point: str) -> bool:
    return re.search(rf"^check\(\s*{re.escape(entry_point)}\s*\)", test, re.M) is not None


def detect_format(rec: dict[str, Any]) -> tuple[str, str]:
    """(reader, language) of a problems file from its first record; DataError when unknown."""
    task_id = str(rec.get("task_id"))
    if "test_list" in rec:
        return "mbpp", "python"
    if "prompt" in rec and "test" in rec:
        if task_id.lower().startswith("java/") or re.search(r"^\s*(public\s+)?class\s+\w+", rec["prompt"], re.M):
            return "humaneval_x", "java"
        # HumanEval-X Python tests call check(...) themselves; HumanEval's do not.
        if _calls_check(rec["test"], rec.get("entry_point", "")) or "entry_point" not in rec:
            return "humaneval_x", "python"
        return "humaneval", "python"
    raise DataError(f"task {task_id}: not a HumanEval, HumanEval-X or MBPP record (keys: {sorted(rec)})")


def load_problems(path: Path, wall_ms: int = 0) -> TaskItems:
    """The problems file as one codegen task and its items (read by the format's data reader)."""
    first = next(iter(read_records(path)), None)
    if first is None:
        raise DataError(f"{path}: no problems")
    reader, language = detect_format(first)
    items = read_items(Source(reader=reader, path=path, language=language))
    task = Task.model_validate({"name": "exec", "kind": "codegen", "language": language, "reader": reader,
                                "path": str(path), "metrics": ["pass@1"],
                                "task_prompt": f"nl2code-{language}" if reader == "mbpp" else f"codegen-{language}",
                                "timeout_ms": wall_ms})
    return TaskItems(task, items)


def canonical_samples(ti: TaskItems) -> list[Sample]:
    """One sample per problem: its reference solution, as a whole program."""
    return [Sample(task=ti.task.name, item=it.id, sample=0, text=it.reference, origin="samples", form="solution")
            for it in ti.items]


# -- running -------------------------------------------------------------------------------------------

def run_exec(ti: TaskItems, samples: list[Sample], out: Path, *, wall_ms: int = 0, calibrate: bool = False,
             log_dir: Path | None = None, reporter: Reporter | None = None
             ) -> tuple[list[tuple[Extraction, Execution | None]], sandbox_pb2.GetCapabilitiesResponse]:
    """The bench's samples, extract and execute stages over ``samples`` in a fresh ``out/run``;
    returns ((extraction, execution) per sample in order, the sandbox's capabilities)."""
    from codeeval.clients import SandboxClient
    from codeeval.pipeline import stages
    from codeeval.pipeline.programs import build_program

    reporter = reporter or NullReporter()
    begin = getattr(reporter, "begin_variant", None)
    if begin is not None:
        begin("exec")
    if (out / "run").exists():
        shutil.rmtree(out / "run")
    run = RunDir(out / "run")
    run.path.mkdir(parents=True)
    stages.load_samples(run, samples, [ti], reporter)
    stages.extract(run, [ti], reporter)
    calibrate_on: dict[str, str] = {}
    if calibrate:
        for e in run.extractions():
            item: Item = ti.item(e.item)
            if e.key and item.reference:
                calibrate_on[e.key] = build_program(ti.task, item, item.reference).source
    with SandboxClient(log_dir=log_dir, wait_s=30.0) as sandbox:
        stages.execute(run, sandbox, reporter, wall_ms=wall_ms, calibrate_on=calibrate_on)
        caps = sandbox.capabilities()
    executions = run.executions()
    rows = sorted(((e, executions.get(e.key) if e.key else None) for e in run.extractions()),
                  key=lambda r: (r[0].item, r[0].sample))
    return rows, caps


def result_line(e: Extraction, ex: Execution | None) -> dict[str, Any]:
    """One line of results.jsonl (the fields exec has always written)."""
    outcome = ex.outcome if ex is not None else Outcome.NO_CODE
    return {
        "task_id": e.item, "sample": e.sample, "status": outcome.name, "passed": outcome is Outcome.PASSED,
        "exit_code": ex.exit_code if ex else 0, "wall_time_ms": ex.wall_time_ms if ex else 0,
        "cpu_time_ms": ex.cpu_time_ms if ex else 0, "peak_memory_bytes": ex.peak_memory_bytes if ex else 0,
        "attempts": ex.attempts if ex else 0, "detail": ex.detail if ex else "the sample has no code",
        "wall_limit_ms": ex.wall_limit_ms if ex else 0,
        "calibration": ({"reference_wall_ms": ex.calibration.reference_wall_ms,
                         "reference_failed": ex.calibration.reference_failed}
                        if ex is not None and ex.calibration is not None else None),
        "stderr_tail": ex.stderr[-500:] if ex else "", "compile_output": ex.compile_output if ex else "",
    }


def summarize(results: list[dict[str, Any]], ks: list[int], resamples: int, seed: int) -> dict[str, Any]:
    """pass@k over tasks by the one aggregation; infrastructure errors are never scored as failures."""
    verdicts = []
    for r in results:
        outcome = Outcome[r["status"]]
        verdicts.append(Verdict(r["task_id"], None if outcome.infrastructure else outcome is Outcome.PASSED,
                                r["status"]))
    agg = aggregate(verdicts, ks, resamples=resamples, seed=seed)
    return {
        "pass_at_k": {f"pass@{k}": v.as_dict() for k, v in agg.scores.items()},
        "omitted_k": agg.omitted_k, "tasks": agg.task_ids, "tasks_scored": agg.tasks_scored,
        "samples": agg.samples, "infra_errors": agg.infra_errors, "status_counts": agg.status_counts,
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _exec(args: argparse.Namespace) -> int:
    from codeeval.cli.bench import progress_reporter
    from codeeval.clients import ServiceError
    from codeeval.pipeline import stages

    if args.samples is None and not args.canonical:
        _console.print("[red]error:[/] give --samples FILE or --canonical")
        return 2
    try:
        ks = sorted({int(k) for k in args.k.split(",") if k.strip()})
        if not ks or min(ks) < 1:
            raise ValueError(f"--k {args.k!r}: give k values >= 1")
        ti = load_problems(args.problems, args.wall_ms)
        samples = canonical_samples(ti) if args.canonical else stages.read_samples(args.samples, [ti])
    except (OSError, ValueError) as exc:
        _console.print(f"[red]error:[/] {escape(str(exc))}")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with progress_reporter(_console) as reporter:
            rows, caps = run_exec(ti, samples, args.out, wall_ms=args.wall_ms, calibrate=args.calibrate,
                                  log_dir=args.out, reporter=reporter)
    except ServiceError as exc:
        _console.print(f"[red]error:[/] {escape(str(exc))}")
        return 1
    results = [result_line(e, ex) for e, ex in rows]
    with open(args.out / "results.jsonl", "w", encoding="utf-8") as fh:
        for r in results:
            fh.write(json.dumps(r) + "\n")
    summary = summarize(results, ks, args.resamples, args.seed)
    summary.update({
        "backend": caps.backend, "backend_version": caps.backend_version,
        "toolchains": {_language_name(lang.language): {t.name: t.version for t in lang.toolchain}
                       for lang in caps.languages},
        "problems": {"path": str(args.problems), "sha256": _sha256(args.problems), "format": ti.task.reader},
        "samples_file": {"path": str(args.samples), "sha256": _sha256(args.samples)} if args.samples else None,
        "canonical": args.canonical, "ks": ks, "bootstrap": {"resamples": args.resamples, "seed": args.seed},
        "limits": {"wall_ms": args.wall_ms or caps.default_limits.wall_time_ms, "calibrate": args.calibrate},
    })
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    _print_summary(summary)
    return 0


def _language_name(value: int) -> str:
    from codeeval.kit import languages

    return next((x.proto_name for x in languages.LANGUAGES.values() if x.proto == value), f"LANGUAGE_{value}")


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"pass@k over {summary['tasks_scored']} tasks ({summary['backend']})")
    for col in ("metric", "value", "95% CI"):
        table.add_column(col)
    for name, v in summary["pass_at_k"].items():
        table.add_row(name, f"{v['value']:.4f}", f"[{v['ci_low']:.4f}, {v['ci_high']:.4f}]")
    _console.print(table)
    _console.print("status: " + ", ".join(f"{k}={v}" for k, v in sorted(summary["status_counts"].items())))
    if summary["omitted_k"]:
        _console.print(f"not reported (some task has fewer samples than k): {summary['omitted_k']}")
    if summary["infra_errors"]:
        _console.print(f"[yellow]{summary['infra_errors']} infrastructure errors (sandbox errors, programs the "
                       f"sandbox cannot run) were not scored[/]")
