"""Shared fixtures: the real tools (pylint in-process, PMD from the install script, lizard)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeeval.analyzer.analysis import Analyzer, Limits, RawFile, validate
from codeeval.analyzer.model import SourceInput
from codeeval.analyzer.pmd import Pmd
from codeeval.analyzer.settings import AnalyzerSettings
from codeeval.kit.paths import datasets_dir

FIXTURES = Path(__file__).parent / "fixtures"
PAPER = datasets_dir() / "paper_replication"


def fixture_file(rel: str, passed: bool | None = None) -> RawFile:
    """A fixture as a request file named ``rel``. Python fixtures are stored as ``NAME.py.txt`` so
    that ruff (which lints tests/) leaves their deliberate defects alone."""
    stored = FIXTURES / (rel + ".txt" if rel.endswith(".py") else rel)
    return RawFile(path=rel, content=stored.read_bytes(), passed=passed)


def inputs(*files: RawFile) -> list[SourceInput]:
    return validate(list(files), "", Limits())


@pytest.fixture(scope="session")
def pmd() -> Pmd:
    settings = AnalyzerSettings.load()
    tool = Pmd(settings.pmd_home, settings.java_home)
    missing = tool.available()
    assert missing is None, f"{missing} (run scripts/install-system-deps.sh)"
    return tool


@pytest.fixture(scope="session")
def analyzer(pmd: Pmd) -> Analyzer:
    return Analyzer(pmd)
