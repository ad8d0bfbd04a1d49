"""Size and complexity: lizard for every language (cyclomatic complexity, NLOC, tokens, per
function) and radon's maintainability index for Python. Tens of milliseconds per file, in-process.
"""

from __future__ import annotations

from importlib.metadata import version

import lizard

from codeeval.analyzer.model import FileMetrics, FunctionMetrics, ToolInfo
from codeeval.kit import languages


def tools() -> list[ToolInfo]:
    return [ToolInfo("lizard", version("lizard"), "defaults"),
            ToolInfo("radon", version("radon"), "mi_visit(multi=True)")]


def measure(language: str, text: str) -> FileMetrics:
    """Metrics of ``text`` (lines are ``text``'s own).

    Raises whatever lizard/radon raise, and ValueError when lizard reports a negative count (lizard
    1.24 gives a function holding a multi-line f-string a negative NLOC); the caller turns that
    into a per-file tool error.
    """
    info = lizard.analyze_file.analyze_source_code(f"file{languages.get(language).suffix}", text)
    if info.nloc < 0 or info.token_count < 0:
        raise ValueError(f"lizard reported a negative count for the file: nloc {info.nloc}, tokens {info.token_count}")
    functions = []
    for fn in info.function_list:
        counts = {"nloc": fn.nloc, "token_count": fn.token_count, "cyclomatic_complexity": fn.cyclomatic_complexity}
        negative = {k: v for k, v in counts.items() if v < 0}
        if negative:
            raise ValueError(f"lizard reported negative counts for {fn.name} (lines {fn.start_line}-{fn.end_line}): "
                             f"{negative}")
        functions.append(FunctionMetrics(
            name=fn.name, start_line=fn.start_line, end_line=fn.end_line,
            cyclomatic_complexity=fn.cyclomatic_complexity, nloc=fn.nloc, token_count=fn.token_count,
            parameter_count=fn.parameter_count))
    ccs = [f.cyclomatic_complexity for f in functions]
    metrics = FileMetrics(
        loc=len(text.splitlines()), nloc=info.nloc, token_count=info.token_count,
        average_cyclomatic_complexity=sum(ccs) / len(ccs) if ccs else 0.0,
        max_cyclomatic_complexity=max(ccs, default=0), functions=functions)
    if language == "python":
        from radon.metrics import mi_visit

        metrics.maintainability_index = float(mi_visit(text, multi=True))
    return metrics

