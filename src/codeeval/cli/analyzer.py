"""``codeeval analyze`` (static quality of files) and ``codeeval score`` (reference metrics).

Both talk to the analyzer service at ``CODEEVAL_ANALYZER_ADDR``, or start a local one for the
duration of the command. JSON goes to ``--out`` (or stdout with ``--json``); a summary table goes
to the terminal (stderr), always with the analysable rate next to issue counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codeeval.kit import languages

#: language name -> ``codeeval.common.v1.Language`` label (message constructors take labels).
LANGUAGES = {lang.name: lang.proto_name for lang in languages.LANGUAGES.values()}
EXTENSIONS = {lang.suffix for lang in languages.LANGUAGES.values()}
STUDY_METRICS = ("codebleu", "bleu", "rouge_l", "chrf", "meteor", "exact_match")
_console = Console(stderr=True)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("analyze", help="static analysis (pylint, PMD, lizard) of files or directories")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files, or directories searched for "
                   ".py/.java/.cs files")
    p.add_argument("--language", choices=sorted(LANGUAGES), help="language of every file (default: by extension)")
    p.add_argument("--java-category", action="append", default=[], metavar="C",
                   help="PMD category (repeatable); default: the study's six")
    p.add_argument("--no-wrap", action="store_true", help="do not wrap bare Java methods in a class")
    p.add_argument("--passed", type=Path, metavar="FILE",
                   help="file listing the paths (one a line) whose samples passed their tests")
    p.add_argument("--out", type=Path, help="write findings and metrics as JSON here")
    p.add_argument("--json", action="store_true", help="print the JSON on stdout")
    p.set_defaults(func=_analyze)

    p = sub.add_parser("score", help="reference metrics (CodeBLEU, BLEU, ROUGE-L, chrF, METEOR, exact match)")
    p.add_argument("--hyp", required=True, metavar="FILE[:FIELD]", help="hypotheses: one a line, or .jsonl")
    p.add_argument("--ref", required=True, metavar="FILE[:FIELD]", help="references, aligned with --hyp")
    p.add_argument("--source", metavar="FILE[:FIELD]", help="model inputs: enables the leakage check")
    p.add_argument("--language", required=True, choices=[*sorted(LANGUAGES), "text"],
                   help="code language (needed by CodeBLEU), or text for summaries")
    p.add_argument("--metric", action="append", default=[], choices=STUDY_METRICS, help="repeatable; default: all")
    p.add_argument("--out", type=Path, help="write corpus and per-instance values as JSON here")
    p.add_argument("--json", action="store_true", help="print the JSON on stdout")
    p.set_defaults(func=_score)


def read_texts(spec: str) -> list[str]:
    """Lines of a text file, or the values of a .jsonl file: JSON strings, or objects with FIELD
    (``data.jsonl:reference_summary``). Newlines inside a text need .jsonl."""
    path, _, field = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not path.endswith(".jsonl"):
        return lines
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        value = json.loads(line)
        if isinstance(value, dict):
            if not field or field not in value:
                raise SystemExit(f"{path}:{n}: object without field {field!r}; use {path}:FIELD")
            value = value[field]
        out.append(str(value))
    return out


def collect_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in EXTENSIONS))
        elif p.is_file():
            files.append(p)
        else:
            raise SystemExit(f"{p}: no such file or directory")
    return files


def _emit(data: dict, args: argparse.Namespace) -> None:
    text = json.dumps(data, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
        _console.print(f"wrote {args.out}")
    if args.json:
        sys.stdout.write(text + "\n")


def _call(method: str, request: object) -> object | None:
    from codeeval.clients import AnalyzerClient, ServiceError

    with AnalyzerClient(wait_s=0.0) as client:
        try:
            result: object = client.call(lambda stub: getattr(stub, method)(request, timeout=3600))
            return result
        except ServiceError as exc:
            _console.print(f"[red]error:[/] {escape(str(exc))}")
            return None


def _analyze(args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    from codeeval.api.analyzer.v1 import analyzer_pb2
    from codeeval.api.common.v1 import common_pb2

    files = collect_files(args.paths)
    if not files:
        _console.print("[red]error:[/] no .py/.java/.cs files found")
        return 2
    passed = set(args.passed.read_text().split()) if args.passed else None
    request = analyzer_pb2.AnalyzeRequest(java_categories=args.java_category,
                                          language=LANGUAGES.get(args.language or "", "LANGUAGE_UNSPECIFIED"))
    if args.no_wrap:
        request.wrap_java_methods = False
    for f in files:
        entry = request.files.add(file=common_pb2.SourceFile(path=str(f), content=f.read_bytes()))
        if passed is not None:
            entry.passed = str(f) in passed
    with _console.status(f"analysing {len(files)} files"):
        response = _call("Analyze", request)
    if response is None:
        return 1
    data = MessageToDict(response, preserving_proto_field_name=True)
    _emit(data, args)
    _console.print(summary_table("all files", data.get("summary_all", {})))
    if data.get("summary_passing"):
        _console.print(summary_table("passing files only", data["summary_passing"]))
    for report in data.get("files", []):
        if not report.get("analyzable"):
            _console.print(f"[yellow]unanalysable[/] {escape(report['path'])}: "
                           f"{escape(report.get('parse_error', ''))}")
    return 0


def summary_table(title: str, summaries: dict) -> Table:
    """Per language: files, analysable rate, issues (over analysable files), per KLOC, then one row
    per tool category."""
    table = Table(title=title)
    for col in ("language", "files", "analysable", "issues", "issues/KLOC", "NLOC", "mean CC"):
        table.add_column(col, justify="left" if col == "language" else "right")
    for lang, s in sorted(summaries.items()):
        table.add_row(lang, str(s.get("files", 0)),
                      f"{s.get('analyzable_files', 0)} ({100 * s.get('analyzable_rate', 0):.0f}%)",
                      str(s.get("issues", 0)), f"{s.get('issues_per_kloc', 0):.1f}", str(s.get("nloc", 0)),
                      f"{s.get('mean_cyclomatic_complexity', 0):.2f}")
        for c in s.get("categories", []):
            table.add_row(f"  {c['tool']}/{c['category']}", "", "", str(c.get("count", 0)),
                          f"{c.get('per_kloc', 0):.1f}", "", "")
    return table


def _score(args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    from codeeval.api.analyzer.v1 import analyzer_pb2

    hyps, refs = read_texts(args.hyp), read_texts(args.ref)
    sources = read_texts(args.source) if args.source else []
    request = analyzer_pb2.ScoreRequest(hypotheses=hyps, references=refs, sources=sources, metrics=args.metric,
                                        language=LANGUAGES.get(args.language, "LANGUAGE_UNSPECIFIED"))
    with _console.status(f"scoring {len(hyps)} instances"):
        response = _call("Score", request)
    if response is None:
        return 1
    data = MessageToDict(response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    _emit(data, args)
    table = Table(title=f"{len(hyps)} instances")
    table.add_column("metric")
    table.add_column("corpus", justify="right")
    table.add_column("components")
    for m in data.get("corpus", []):
        comps = ", ".join(f"{k}={v:.4g}" for k, v in sorted(m.get("components", {}).items()))
        table.add_row(m["name"], f"{m.get('value', 0):.4f}", comps)
    _console.print(table)
    leak = data.get("leakage")
    if sources and leak:
        _console.print(f"leakage: reference verbatim in the input for {leak.get('verbatim', 0)}/"
                       f"{leak.get('instances', 0)} instances ({100 * leak.get('verbatim_rate', 0):.0f}%), "
                       f"mean token overlap {leak.get('mean_overlap', 0):.2f}")
    return 0
