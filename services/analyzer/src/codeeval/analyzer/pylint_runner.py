"""pylint in-process: one linter run per batch, so interpreter and plugin start-up (~0.4 s) is paid
once, not per file (one subprocess per file pays it every time).

Files must already compile (see :mod:`codeeval.analyzer.parsing`): a syntax error is an
unanalysable file, never pylint's E0001 counted as an "error" issue. A pylint crash on one file
(F0002 astroid-error and other fatal messages) becomes a per-file tool error. Runs are serialised
by a lock because pylint and astroid keep process-global state; astroid's cache is cleared after
every batch so memory does not grow with the number of batches.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from codeeval.analyzer.model import Finding, ToolInfo

RCFILE = files("codeeval.analyzer").joinpath("rules/pylintrc")
_lock = threading.Lock()


def tool_info() -> ToolInfo:
    text = RCFILE.read_bytes()
    return ToolInfo("pylint", f"{version('pylint')} (astroid {version('astroid')})", "codeeval/analyzer/rules/pylintrc",
                    hashlib.sha256(text).hexdigest())


@dataclass
class PylintResult:
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def run_pylint(paths: list[Path]) -> PylintResult:
    """Lint ``paths`` (absolute) in this process; findings and fatal errors keyed by ``str(path)``.

    Finding.path is the analysed file path; the caller renames it to the caller's path.
    """
    from astroid import MANAGER
    from pylint.lint import Run
    from pylint.reporters import CollectingReporter

    result = PylintResult()
    if not paths:
        return result
    reporter = CollectingReporter()
    with _lock:
        try:
            Run([f"--rcfile={RCFILE}", *map(str, paths)], reporter=reporter, exit=False)
        finally:
            MANAGER.clear_cache()
    for msg in reporter.messages:
        key = str(Path(msg.abspath))
        if msg.category == "fatal":
            result.errors[key] = f"{msg.msg_id} {msg.symbol}: {msg.msg}"
            continue
        result.findings.setdefault(key, []).append(Finding(
            path=key, tool="pylint", rule=msg.msg_id, symbol=msg.symbol, category=msg.category,
            severity=msg.category, message=msg.msg, line=msg.line or 0, column=msg.column or 0))
    return result
