"""pylint: one linter run per batch in a process that imported it once (the service's pylint
worker, :mod:`codeeval.analyzer.pylint_worker`), so interpreter and plugin start-up (~0.4 s) is paid
once, not per file (one subprocess per file pays it every time; a pylint run per file in a warm
process still costs ~0.3 CPU-s, against ~7 ms a file in a batch of 40).

Files must already compile (see :mod:`codeeval.analyzer.parsing`): a syntax error is an
unanalysable file, never pylint's E0001 counted as an "error" issue. A pylint crash on one file
(F0002 astroid-error and other fatal messages) becomes a per-file tool error. Runs are serialised
by a lock because pylint and astroid keep process-global state. After every batch astroid's cache
and every module-level ``functools.lru_cache`` of pylint and astroid are cleared: their entries pin
whole syntax trees of earlier batches (and the builtins module astroid rebuilds after each clear), so a
long-lived service grew by about 1 MiB a batch until they filled. Memoization only: findings are
the same.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import threading
from dataclasses import dataclass, field
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

from codeeval.analyzer.model import Finding, ToolInfo

RCFILE = files("codeeval.analyzer").joinpath("rules/pylintrc")
_lock = threading.Lock()
_caches: list[functools._lru_cache_wrapper] = []


def _lru_caches() -> list[functools._lru_cache_wrapper]:
    """pylint's and astroid's ``lru_cache`` wrappers (module functions and class attributes), found
    once after the first run has imported their checkers."""
    if not _caches:
        for name, module in list(sys.modules.items()):
            if module is None or not name.startswith(("pylint", "astroid")):
                continue
            for obj in list(vars(module).values()):
                for candidate in [obj, *(vars(obj).values() if isinstance(obj, type) else ())]:
                    candidate = getattr(candidate, "__func__", candidate)
                    if isinstance(candidate, functools._lru_cache_wrapper) and candidate not in _caches:
                        _caches.append(candidate)
    return _caches


def tool_info() -> ToolInfo:
    text = RCFILE.read_bytes()
    return ToolInfo("pylint", f"{version('pylint')} (astroid {version('astroid')})", "codeeval/analyzer/rules/pylintrc",
                    hashlib.sha256(text).hexdigest())


@dataclass
class PylintResult:
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def run_pylint(paths: list[Path]) -> PylintResult:
    """Lint ``paths`` (absolute) in this process, unbounded; findings and fatal errors keyed by
    ``str(path)``. The service calls it through :mod:`codeeval.analyzer.pylint_worker`, which bounds
    every file; Finding.path is the analysed file path (the caller renames it to the caller's path)."""
    from pylint.reporters import CollectingReporter

    reporter = CollectingReporter()
    lint(paths, reporter)
    result = PylintResult()
    for msg in reporter.messages:
        add_message(result, message_fields(msg))
    return result


def lint(paths: list[Path], reporter: Any) -> None:
    """One pylint run over ``paths`` with ``reporter`` (``rules/pylintrc``), then astroid's and pylint's
    caches cleared (see the module docstring). Serialised by a lock; nothing to do for no paths."""
    from astroid import MANAGER
    from pylint.lint import Run

    if not paths:
        return
    with _lock:
        try:
            Run([f"--rcfile={RCFILE}", *map(str, paths)], reporter=reporter, exit=False)
        finally:
            MANAGER.clear_cache()
            for cache in _lru_caches():
                cache.cache_clear()


#: A pylint message as plain values (it crosses a pipe): abspath, msg_id, symbol, category, text, line, column.
MessageFields = tuple[str, str, str, str, str, int, int]


def message_fields(msg: Any) -> MessageFields:
    return (str(Path(msg.abspath)), msg.msg_id, msg.symbol, msg.category, msg.msg, msg.line or 0, msg.column or 0)


def add_message(result: PylintResult, fields: MessageFields) -> None:
    """File one message in ``result``: a fatal one as its file's error, any other as a finding."""
    key, msg_id, symbol, category, text, line, column = fields
    if category == "fatal":
        result.errors[key] = f"{msg_id} {symbol}: {text}"
        return
    result.findings.setdefault(key, []).append(Finding(
        path=key, tool="pylint", rule=msg_id, symbol=symbol, category=category, severity=category, message=text,
        line=line, column=column))
