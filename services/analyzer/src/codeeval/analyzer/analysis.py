"""The Analyze core: validate a batch, parse-check and wrap files, run PMD (a warm JVM kept across
batches, :mod:`pmd_worker`; else one ``pmd check`` JVM per batch) while this process runs
lizard/radon and pylint (in-process, once per batch), and build per-file reports and summaries.

Contract: a bad request raises :class:`codeeval.kit.errors.InvalidArgument` naming the field and
the limit; a tool that fails on one file (or a whole tool run that fails) becomes a per-file
``tool_errors`` entry and makes that file unanalysable, never a failed batch. No tool runs unbounded
on a file: a tree-sitter parse has ``Limits.parse_timeout_ms`` (past it the file is unanalysable,
its parse error says so), lizard on a large file ``Limits.metrics_timeout_seconds`` (past it the
file has no metrics and a ``lizard`` tool error says so), pylint on a Python file
``Limits.pylint_timeout_seconds`` (past it the file is unanalysable with a ``pylint`` tool error; the
batch's other files keep their findings), PMD ``pmd_timeout``; all are cut to the call's deadline
when it comes sooner.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from codeeval.analyzer import metrics, parsing, pylint_runner, pylint_worker
from codeeval.analyzer.model import EXTENSIONS, LANGUAGES, AnalysisResult, FileReport, SourceInput, ToolInfo
from codeeval.analyzer.pmd import CATEGORIES, STUDY_CATEGORIES, Pmd, PmdResult, java_version
from codeeval.analyzer.pmd_worker import PmdWorker
from codeeval.analyzer.summary import summarize_by_language
from codeeval.kit.errors import InvalidArgument, check_max, decode_utf8, require

log = logging.getLogger("codeeval.analyzer")
#: A package clause at a line's start. Only blanks other than newlines may precede it: a ``\s*`` there
#: ran from every line start over all the blank lines below it (O(n^2): 0.5 s at 20,000 newlines).
#: Same first clause as that form, which matched the same word from an earlier blank line.
_PACKAGE = re.compile(r"^[^\S\n]*package\s+([\w.]+)\s*;", re.MULTILINE)
_PUBLIC_TYPE = re.compile(r"\bpublic\s+(?:(?:abstract|final|sealed|static)\s+)*(?:class|interface|enum|record)\s+(\w+)")


@dataclass(frozen=True)
class RawFile:
    """A file as it arrives: bytes, maybe a language ("" = from the request or the extension)."""

    path: str
    content: bytes
    language: str = ""
    passed: bool | None = None


@dataclass(frozen=True)
class Limits:
    max_files: int = 1000
    max_file_bytes: int = 256 * 1024
    #: Budget of one tree-sitter parse (a file costs at most two).
    parse_timeout_ms: int = parsing.DEFAULT_BUDGET_MS
    #: Budget of lizard on one file larger than ``metrics.INLINE_CHARS``.
    metrics_timeout_seconds: float = metrics.DEFAULT_BUDGET_SECONDS
    #: Budget of pylint on one Python file (each of its two phases), in the pylint worker process.
    pylint_timeout_seconds: float = pylint_worker.DEFAULT_BUDGET_SECONDS


def validate(files: list[RawFile], default_language: str, limits: Limits) -> list[SourceInput]:
    """Decode and resolve every file or raise InvalidArgument naming ``files[i].<field>``."""
    require(bool(files), "files", "at least one file is required")
    check_max("files", len(files), limits.max_files, "files")
    require(default_language in ("", *LANGUAGES), "language", f"unknown language {default_language!r}")
    seen: set[str] = set()
    out = []
    for i, f in enumerate(files):
        field = f"files[{i}]"
        require(bool(f.path.strip()), f"{field}.path", "must not be empty")
        require(f.path not in seen, f"{field}.path", f"duplicate path {f.path!r}")
        seen.add(f.path)
        require(len(f.content) > 0, f"{field}.content", "file is empty")
        check_max(f"{field}.content", len(f.content), limits.max_file_bytes, "bytes")
        text = decode_utf8(f"{field}.content", f.content)
        require("\x00" not in text, f"{field}.content", "contains a NUL character")
        language = f.language or default_language or EXTENSIONS.get(PurePosixPath(f.path).suffix.lower(), "")
        if language not in LANGUAGES:
            raise InvalidArgument(f"cannot tell the language of {f.path!r}: set it to one of {', '.join(LANGUAGES)} "
                                  f"or use a {'/'.join(EXTENSIONS)} extension", field=f"{field}.language")
        out.append(SourceInput(f.path, text, language, f.passed))
    return out


def validate_categories(categories: list[str]) -> list[str]:
    for i, c in enumerate(categories):
        require(c in CATEGORIES, f"java_categories[{i}]",
                f"unknown PMD category {c!r}; choose from {', '.join(CATEGORIES)}")
    return list(dict.fromkeys(categories)) or list(STUDY_CATEGORIES)


def java_file_name(text: str) -> str:
    """Where PMD should see a Java file: named after its public type, under its package path. Linear
    in the text's length."""
    found = _PUBLIC_TYPE.search(text)
    name = f"{found.group(1) if found else 'Sample'}.java"
    package = _PACKAGE.search(text)
    return str(Path(*package.group(1).split("."), name)) if package else name


class Analyzer:
    """Holds the tool configuration; :meth:`analyze` is blocking (run it in a worker thread).

    With ``worker`` (a warm PMD JVM), Java files go to it; without one, or when it fails the
    start-up probe, every batch starts its own ``pmd check`` JVM (same findings, ~2-3 s more).
    """

    def __init__(self, pmd: Pmd, limits: Limits = Limits(), pmd_timeout: float = 600.0,
                 worker: PmdWorker | None = None) -> None:
        self.pmd = pmd
        self.limits = limits
        self.pmd_timeout = pmd_timeout
        self.worker = worker
        self.worker_error = ""  # why the warm JVM is not used, when it failed its probe
        self.java_version = ""
        self._pmd_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyzer-pmd")

    _PROBE = [SourceInput("probe.py", "x = 1\n", "python"),
              SourceInput("Probe.java", "public class Probe { int f() { return 1; } }\n", "java")]

    def probe(self) -> None:
        """Start-up check: the metrics and pylint worker processes start, pylint lints a snippet and PMD analyses
        one, on the warm JVM when there is one (raises on failure). A warm JVM that fails is dropped
        (logged, ``worker_error``) and the probe is repeated with one JVM per batch."""
        metrics.start()
        pylint_worker.start()
        self.java_version = java_version(self.pmd.java)
        if self.worker is not None:
            try:
                self._check(self.analyze(self._PROBE, ["bestpractices"]))
                return
            except RuntimeError as exc:
                self.worker_error = str(exc)
                log.warning("warm PMD JVM unavailable, one JVM per batch instead",
                            extra={"fields": {"reason": self.worker_error}})
                self.worker.close()
                self.worker = None
        self._check(self.analyze(self._PROBE, ["bestpractices"]))

    @staticmethod
    def _check(result: AnalysisResult) -> None:
        for report in result.files:
            if not report.analyzable:
                raise RuntimeError(f"{report.path}: {report.parse_error or report.tool_errors}")

    def close(self) -> None:
        """Stop the warm JVM, if any, and the metrics and pylint worker processes."""
        if self.worker is not None:
            self.worker.close()
        metrics.close()
        pylint_worker.close()

    def tools(self, categories: list[str] | None = None) -> list[ToolInfo]:
        infos = [pylint_runner.tool_info(), *metrics.tools(),
                 ToolInfo("tree-sitter", parsing.grammar_version("java") + "; " + parsing.grammar_version("csharp"),
                          "parse check of Java and C#")]
        if self.pmd.available() is None:
            infos.append(self.pmd.tool_info(categories or list(STUDY_CATEGORIES), self.java_version))
        return infos

    def analyze(self, files: list[SourceInput], categories: list[str], wrap_java: bool = True,
                deadline: float | None = None) -> AnalysisResult:
        """Analyse a validated batch. ``deadline`` (time.monotonic()) cuts every tool's budget (each
        parse keeps at least 50 ms and each bounded tool run at least 1 s, as PMD does)."""
        reports = [FileReport(path=f.path, language=f.language, passed=f.passed) for f in files]
        with tempfile.TemporaryDirectory(prefix="codeeval-analyze-") as tmp:
            root = Path(tmp)
            python_jobs: dict[str, tuple[int, parsing.Prepared]] = {}
            java_jobs: dict[str, tuple[int, parsing.Prepared]] = {}
            for i, (f, report) in enumerate(zip(files, reports, strict=True)):
                try:
                    prepared = parsing.prepare(f.language, f.text, wrap_methods=wrap_java or f.language == "csharp",
                                               budget_ms=self._parse_budget_ms(deadline))
                except Exception as exc:  # noqa: BLE001 - a parser crash is this file's error
                    report.tool_errors.append(("parse", f"{type(exc).__name__}: {exc}"))
                    report.parse_error = "parse check failed"
                    continue
                report.wrapped = prepared.wrapped
                report.parse_error = prepared.parse_error
                report.analyzable = not prepared.parse_error
                if not report.analyzable or f.language == "csharp":
                    continue
                if f.language == "python":
                    target = root / "python" / f"sample_{i:05d}.py"
                else:
                    target = root / "java" / f"f{i:05d}" / java_file_name(prepared.text)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(prepared.text, encoding="utf-8")
                (python_jobs if f.language == "python" else java_jobs)[str(target.resolve())] = (i, prepared)
            # PMD runs in its JVM while this thread measures and lints; the files stay until it is done.
            pmd = self._pmd_thread.submit(self._run_pmd, root / "java", list(java_jobs), categories, deadline)
            try:
                for f, report in zip(files, reports, strict=True):
                    if report.analyzable:
                        self._measure(report, f, self._budget(self.limits.metrics_timeout_seconds, deadline))
                self._run_pylint(python_jobs, files, reports, deadline)
            finally:
                pmd_result = pmd.result()
            self._attach(java_jobs, pmd_result.findings, pmd_result.errors, "pmd", files, reports)
        use_quick = "quickstart" in categories and self.pmd.available() is None
        quick = self.pmd.quickstart_rules if use_quick else frozenset()
        return AnalysisResult(files=reports, summary_all=summarize_by_language(reports, quick),
                              summary_passing=summarize_by_language(reports, quick, passing_only=True),
                              tools=self.tools(categories))

    def _parse_budget_ms(self, deadline: float | None) -> int:
        if deadline is None:
            return self.limits.parse_timeout_ms
        return max(50, min(self.limits.parse_timeout_ms, int((deadline - time.monotonic()) * 1000)))

    @staticmethod
    def _budget(seconds: float, deadline: float | None) -> float:
        return seconds if deadline is None else max(1.0, min(seconds, deadline - time.monotonic()))

    @staticmethod
    def _measure(report: FileReport, f: SourceInput, budget_seconds: float) -> None:
        """Metrics of the caller's text (lizard reads bare methods too), so NLOC excludes the wrapper."""
        try:
            report.metrics = metrics.measure_bounded(f.language, f.text, budget_seconds)
        except metrics.MetricsTimeout as exc:
            report.tool_errors.append(("lizard", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a metrics failure is this file's error, not the batch's
            report.tool_errors.append(("lizard", f"{type(exc).__name__}: {exc}"))

    @staticmethod
    def _attach(jobs: dict[str, tuple[int, parsing.Prepared]], findings: dict, errors: dict, tool: str,
                files: list[SourceInput], reports: list[FileReport]) -> None:
        for key, (i, prepared) in jobs.items():
            report, n_lines = reports[i], len(files[i].text.splitlines())
            if key in errors:
                report.tool_errors.append((tool, errors[key]))
                report.analyzable = False
                report.parse_error = report.parse_error or f"{tool}: {errors[key]}"
                continue
            for finding in findings.get(key, []):
                line = prepared.original_line(finding.line, n_lines)
                if line is None and finding.line:  # on the wrapper's own lines: an artefact of wrapping
                    continue
                finding.path, finding.line = report.path, line or 0
                report.findings.append(finding)

    def _run_pylint(self, jobs: dict, files: list[SourceInput], reports: list[FileReport],
                    deadline: float | None) -> None:
        if not jobs:
            return
        try:
            result = pylint_worker.run([Path(k) for k in jobs], self.limits.pylint_timeout_seconds, deadline)
        except Exception as exc:  # noqa: BLE001 - pylint itself failed: every Python file says so
            result = pylint_runner.PylintResult(errors={k: f"pylint failed: {type(exc).__name__}: {exc}" for k in jobs})
        self._attach(jobs, result.findings, result.errors, "pylint", files, reports)

    def _run_pmd(self, source_dir: Path, paths: list[str], categories: list[str],
                 deadline: float | None) -> PmdResult:
        """PMD over ``paths`` (all under ``source_dir``); a failed run is every file's error."""
        if not paths:
            return PmdResult()
        missing = self.pmd.available()
        if missing is not None:
            return PmdResult(errors=dict.fromkeys(paths, missing))
        timeout = self._budget(self.pmd_timeout, deadline)
        if self.worker is not None:
            result = self.worker.run([Path(p) for p in paths], source_dir.parent / "pmd-report.json", categories,
                                     timeout)
        else:
            result = self.pmd.run(source_dir, categories, timeout)
        if result.run_error:
            return PmdResult(errors=dict.fromkeys(paths, result.run_error))
        return result
