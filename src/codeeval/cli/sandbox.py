"""``codeeval exec``: run model samples (or the reference solutions) against benchmark tests in the
sandbox service and score pass@k with bootstrap confidence intervals.

Problems are read as published: HumanEval (.jsonl / .jsonl.gz), HumanEval-X Python and Java, MBPP
(.json / .jsonl). Samples are JSONL with ``task_id`` and either ``completion`` (appended to the
prompt) or ``solution`` (a whole program). Writes ``DIR/results.jsonl`` (one line per sample) and
``DIR/summary.json`` (pass@k with CI, counts per status, backend and toolchain versions, inputs'
sha256). Talks to ``CODEEVAL_SANDBOX_ADDR`` or starts a local sandbox service for the command.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codeeval.kit import languages
from codeeval.stats.passk import TaskCounts, estimate, omitted_ks

_console = Console(stderr=True)
PYTHON, JAVA = languages.PYTHON.proto, languages.JAVA.proto
CHUNK = 256


@dataclass(frozen=True)
class Problem:
    """One benchmark task normalised to what the sandbox needs."""

    task_id: str
    language: int
    prompt: str
    test: str
    entry_point: str
    reference: str  # a whole reference program (prompt + canonical body, or MBPP's code)


@dataclass(frozen=True)
class Sample:
    task_id: str
    index: int
    program: str


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


# -- reading problems and samples ---------------------------------------------------------------------

def _read_records(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        text = fh.read()
    stripped = text.lstrip()
    if stripped.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _calls_check(test: str, entry_point: str) -> bool:
    return re.search(rf"^check\(\s*{re.escape(entry_point)}\s*\)", test, re.M) is not None


def parse_problem(rec: dict[str, Any]) -> Problem:
    """HumanEval / HumanEval-X (Python, Java) / MBPP record -> Problem. Raises ValueError if unknown."""
    task_id = str(rec.get("task_id"))
    if "test_list" in rec:  # MBPP
        test = "\n".join([rec.get("test_setup_code") or "", *rec["test_list"]]) + "\n"
        return Problem(task_id, PYTHON, "", test, "", rec.get("code", ""))
    if "prompt" in rec and "test" in rec:
        java = task_id.lower().startswith("java/") or re.search(r"^\s*(public\s+)?class\s+\w+", rec["prompt"], re.M)
        reference = rec["prompt"] + rec.get("canonical_solution", "")
        if java:
            return Problem(task_id, JAVA, rec["prompt"], rec["test"], "", reference)
        entry = rec.get("entry_point", "")
        # HumanEval-X Python tests call check(...) themselves; HumanEval's do not.
        return Problem(task_id, PYTHON, rec["prompt"], rec["test"], "" if _calls_check(rec["test"], entry) else entry,
                       reference)
    raise ValueError(f"task {task_id}: not a HumanEval, HumanEval-X or MBPP record (keys: {sorted(rec)})")


def load_problems(path: Path) -> dict[str, Problem]:
    problems = [parse_problem(r) for r in _read_records(path)]
    return {p.task_id: p for p in problems}


def load_samples(path: Path, problems: dict[str, Problem]) -> list[Sample]:
    out: list[Sample] = []
    seen: Counter[str] = Counter()
    for n, rec in enumerate(_read_records(path), 1):
        task_id = str(rec.get("task_id"))
        if task_id not in problems:
            raise ValueError(f"{path}:{n}: task_id {task_id!r} is not in the problems file")
        if "solution" in rec:
            program = rec["solution"]
        elif "completion" in rec:
            program = problems[task_id].prompt + rec["completion"]
        else:
            raise ValueError(f"{path}:{n}: needs 'completion' or 'solution'")
        out.append(Sample(task_id, seen[task_id], program))
        seen[task_id] += 1
    return out


def canonical_samples(problems: dict[str, Problem]) -> list[Sample]:
    return [Sample(p.task_id, 0, p.reference) for p in problems.values()]


# -- running -------------------------------------------------------------------------------------------

def build_request(problem: Problem, sample: Sample, wall_ms: int, calibrate: bool):  # type: ignore[no-untyped-def]
    from codeeval.api.sandbox.v1 import sandbox_pb2

    req = sandbox_pb2.ExecuteRequest(
        id=f"{sample.task_id}#{sample.index}",
        program=sandbox_pb2.Program(language=problem.language, source=sample.program.encode(),
                                    test=problem.test.encode(), entry_point=problem.entry_point),
        limits=sandbox_pb2.Limits(wall_time_ms=wall_ms),
    )
    if calibrate and problem.reference:
        req.calibration.CopyFrom(sandbox_pb2.TimeCalibration(reference_source=problem.reference.encode()))
    return req


def summarize(results: list[dict[str, Any]], ks: list[int], resamples: int, seed: int) -> dict[str, Any]:
    """pass@k over tasks; SANDBOX_ERROR samples are infra errors, never scored as failures."""
    per_task: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in results:
        t = per_task[r["task_id"]]
        if r["status"] == "SANDBOX_ERROR":
            t[2] += 1
        else:
            t[0] += 1
            t[1] += r["status"] == "PASSED"
    tasks = [TaskCounts(k, n, c, infra) for k, (n, c, infra) in per_task.items() if n > 0]
    scores = estimate(tasks, ks, resamples=resamples, seed=seed)
    return {
        "pass_at_k": {f"pass@{k}": v.as_dict() for k, v in scores.items()},
        "omitted_k": omitted_ks(tasks, ks),
        "tasks": len(per_task), "tasks_scored": len(tasks),
        "samples": len(results), "infra_errors": sum(t[2] for t in per_task.values()),
        "status_counts": dict(Counter(r["status"] for r in results)),
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _exec(args: argparse.Namespace) -> int:
    import grpc

    from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
    from codeeval.kit.client import connect, describe_rpc_error

    if args.samples is None and not args.canonical:
        _console.print("[red]error:[/] give --samples FILE or --canonical")
        return 2
    try:
        ks = sorted({int(k) for k in args.k.split(",") if k.strip()})
        problems = load_problems(args.problems)
        samples = canonical_samples(problems) if args.canonical else load_samples(args.samples, problems)
    except (OSError, ValueError) as exc:
        _console.print(f"[red]error:[/] {exc}")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    try:
        with connect("sandbox", log_dir=args.out) as channel:
            stub = sandbox_pb2_grpc.SandboxServiceStub(channel)
            caps = stub.GetCapabilities(sandbox_pb2.GetCapabilitiesRequest(), timeout=60)
            chunk = max(1, min(CHUNK, caps.max_batch_size))
            with Progress(TextColumn("executing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=_console) as progress:
                bar = progress.add_task("exec", total=len(samples))
                for start in range(0, len(samples), chunk):
                    part = samples[start:start + chunk]
                    reqs = [build_request(problems[s.task_id], s, args.wall_ms, args.calibrate) for s in part]
                    for item in stub.ExecuteBatch(sandbox_pb2.ExecuteBatchRequest(requests=reqs), timeout=3600):
                        s, r = part[item.index], item.result
                        results.append({
                            "task_id": s.task_id, "sample": s.index, "status": sandbox_pb2.Outcome.Name(r.outcome)
                            .removeprefix("OUTCOME_"), "passed": r.outcome == sandbox_pb2.OUTCOME_PASSED,
                            "exit_code": r.exit_code, "wall_time_ms": r.wall_time_ms, "cpu_time_ms": r.cpu_time_ms,
                            "peak_memory_bytes": r.peak_memory_bytes, "attempts": r.attempts, "detail": r.detail,
                            "wall_limit_ms": r.effective_limits.wall_time_ms,
                            "calibration": {"reference_wall_ms": r.calibration.reference_wall_ms,
                                            "reference_failed": r.calibration.reference_failed}
                            if r.HasField("calibration") else None,
                            "stderr_tail": r.stderr[-500:].decode(errors="replace"),
                            "compile_output": r.compile_output[:2000],
                        })
                        progress.advance(bar)
    except grpc.RpcError as exc:
        _console.print(f"[red]error:[/] {describe_rpc_error('sandbox', exc)}")
        return 1
    results.sort(key=lambda r: (r["task_id"], r["sample"]))
    with open(args.out / "results.jsonl", "w", encoding="utf-8") as fh:
        for r in results:
            fh.write(json.dumps(r) + "\n")
    summary = summarize(results, ks, args.resamples, args.seed)
    summary.update({
        "backend": caps.backend, "backend_version": caps.backend_version,
        "toolchains": {sandbox_pb2.LanguageSupport.DESCRIPTOR.fields_by_name["language"].enum_type
                       .values_by_number[lang.language].name: {t.name: t.version for t in lang.toolchain}
                       for lang in caps.languages},
        "problems": {"path": str(args.problems), "sha256": _sha256(args.problems)},
        "samples_file": {"path": str(args.samples), "sha256": _sha256(args.samples)} if args.samples else None,
        "canonical": args.canonical, "ks": ks, "bootstrap": {"resamples": args.resamples, "seed": args.seed},
        "limits": {"wall_ms": args.wall_ms or caps.default_limits.wall_time_ms, "calibrate": args.calibrate},
    })
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    _print_summary(summary)
    return 0


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
        _console.print(f"[yellow]{summary['infra_errors']} sandbox errors were not scored[/]", file=sys.stderr)
