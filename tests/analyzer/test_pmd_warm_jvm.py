"""The fast path changes no finding: the warm PMD JVM (``PmdWorker``) against ``pmd check``, pylint
in-process against ``python -m pylint``, and the whole analyzer with and without the warm JVM, on
the analyzer's fixtures (Python and Java, malformed ones included). Plus the warm JVM's failure
handling: a timeout or a dead JVM fails that batch only and the next batch gets a fresh JVM; a JVM
that cannot run the helper makes the analyzer fall back to one JVM per batch. Real PMD, real
pylint; JVM starts, hence the integration mark."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from codeeval.analyzer import parsing, pylint_runner
from codeeval.analyzer.analysis import Analyzer, java_file_name
from codeeval.analyzer.model import AnalysisResult
from codeeval.analyzer.pmd import CATEGORIES, Pmd
from codeeval.analyzer.pmd_worker import PmdWorker

from .conftest import FIXTURES, fixture_file, inputs

pytestmark = pytest.mark.integration

ALL_FIXTURES = sorted(str(p.relative_to(FIXTURES)).removesuffix(".txt") for p in FIXTURES.rglob("*") if p.is_file())
CATEGORIES_UNDER_TEST = [c for c in CATEGORIES if c != "quickstart"] + ["quickstart"]


@pytest.fixture(scope="module")
def worker(pmd: Pmd):
    warm = PmdWorker(pmd, heap_mb=512, threads=2)
    yield warm
    warm.close()


def _java_dir(tmp_path: Path, wrap: bool) -> Path:
    """Every Java fixture that passes the parse pre-check, written as the analyzer writes it."""
    for i, rel in enumerate(r for r in ALL_FIXTURES if r.endswith(".java")):
        prepared = parsing.prepare("java", (FIXTURES / rel).read_text(), wrap_methods=wrap)
        if not prepared.parse_error:
            target = tmp_path / "java" / f"f{i:05d}" / java_file_name(prepared.text)
            target.parent.mkdir(parents=True)
            target.write_text(prepared.text)
    return tmp_path / "java"


@pytest.mark.parametrize("wrap", [True, False], ids=["wrapped", "bare-method-rejected"])
def test_warm_jvm_reports_exactly_what_pmd_check_reports(pmd: Pmd, worker: PmdWorker, tmp_path: Path,
                                                         wrap: bool) -> None:
    source = _java_dir(tmp_path, wrap)
    paths = sorted(source.rglob("*.java"))
    old = pmd.run(source, CATEGORIES_UNDER_TEST, timeout=600)
    new = worker.run(paths, tmp_path / "warm.json", CATEGORIES_UNDER_TEST, timeout=600)
    assert not old.run_error and not new.run_error
    assert new.findings == old.findings and sum(map(len, old.findings.values())) >= 5
    assert new.errors == old.errors
    # unwrapped, PMD's parser rejects the bare method: a processing error on that one file only
    assert bool(old.errors) == (not wrap) and len(old.errors) <= 1 and len(old.findings) >= 2


def test_pylint_in_process_reports_exactly_what_its_command_line_reports(tmp_path: Path) -> None:
    targets = []
    for i, rel in enumerate(r for r in ALL_FIXTURES if r.endswith(".py")):
        targets.append(tmp_path / f"sample_{i:05d}.py")
        targets[-1].write_bytes(fixture_file(rel).content)
    proc = subprocess.run([sys.executable, "-m", "pylint", f"--rcfile={pylint_runner.RCFILE}", "--output-format=json",
                           *map(str, targets)], capture_output=True, text=True, check=False)
    cli = sorted((str(Path(m["path"]).resolve()), m["message-id"], m["line"], m["column"], m["message"])
                 for m in json.loads(proc.stdout))
    result = pylint_runner.run_pylint([t.resolve() for t in targets])
    ours = sorted((k, f.rule, f.line, f.column, f.message) for k, found in result.findings.items() for f in found)
    assert not result.errors
    # the syntax error is E0001 on the command line (the analyzer never lints an uncompilable file)
    assert [c for c in cli if c[1] != "E0001"] == [o for o in ours if o[1] != "E0001"] and len(cli) >= 2


def _view(result: AnalysisResult) -> list[tuple]:
    tmp = re.compile(r"/\S*codeeval-analyze-[^/]+/")  # PMD names its temporary file in parse errors
    return [(r.path, r.analyzable, r.wrapped, tmp.sub("", r.parse_error),
             [(t, tmp.sub("", m)) for t, m in r.tool_errors], [vars(f) for f in r.findings], vars(r.metrics))
            for r in result.files]


def test_analyzer_with_warm_jvm_matches_one_jvm_per_batch(analyzer: Analyzer, pmd: Pmd, worker: PmdWorker) -> None:
    files = inputs(*(fixture_file(rel, passed=i % 2 == 0) for i, rel in enumerate(ALL_FIXTURES)))
    warm = Analyzer(pmd, worker=worker)
    old = analyzer.analyze(files, CATEGORIES_UNDER_TEST)
    new = warm.analyze(files, CATEGORIES_UNDER_TEST)
    assert _view(new) == _view(old)
    assert new.summary_all == old.summary_all and new.summary_passing == old.summary_passing
    assert new.tools == old.tools
    assert sum(len(r.findings) for r in new.files if r.language == "java") >= 5


def test_timeout_fails_that_batch_and_the_next_gets_a_fresh_jvm(pmd: Pmd, tmp_path: Path) -> None:
    warm = PmdWorker(pmd, heap_mb=256, threads=1)
    try:
        source = _java_dir(tmp_path, wrap=True)
        paths = sorted(source.rglob("*.java"))
        timed_out = warm.run(paths, tmp_path / "a.json", ["bestpractices"], timeout=0.05)  # the JVM is still starting
        assert timed_out.run_error.startswith("pmd timed out after") and not timed_out.findings
        again = warm.run(paths, tmp_path / "b.json", ["bestpractices"], timeout=600)
        assert not again.run_error and again.findings and warm.starts == 2
        assert warm._proc is not None
        os.killpg(warm._proc.pid, signal.SIGKILL)  # dies between batches: restarted on demand
        warm._proc.wait()
        third = warm.run(paths, tmp_path / "c.json", ["bestpractices"], timeout=600)
        assert third.findings == again.findings and warm.starts == 3
    finally:
        warm.close()


class _NoHelper(PmdWorker):
    """A JVM that cannot run the helper (as a bare JRE cannot compile a source file)."""

    def command(self, source: Path) -> list[str]:
        return super().command(source.with_name("Missing.java"))


def test_a_jvm_that_cannot_run_the_helper_falls_back_to_one_jvm_per_batch(pmd: Pmd) -> None:
    worker = _NoHelper(pmd, heap_mb=128)
    analyzer = Analyzer(pmd, worker=worker)
    analyzer.probe()
    assert analyzer.worker is None and "pmd worker JVM exited with code 1" in analyzer.worker_error
    result = analyzer.analyze(inputs(fixture_file("java/UnusedLocal.java")), ["bestpractices"])
    assert [f.rule for f in result.files[0].findings] == ["UnusedLocalVariable"]


def test_missing_java_is_a_run_error_not_an_exception(pmd: Pmd, tmp_path: Path) -> None:
    absent = Pmd(pmd.home, tmp_path / "no-jdk")
    assert shutil.which(absent.java) is None
    result = PmdWorker(absent).run([tmp_path / "A.java"], tmp_path / "r.json", ["bestpractices"], timeout=60)
    assert result.run_error.startswith("pmd worker could not start")
