"""No tracked file names a path of a development machine: a user's clone has no /work/, no
pre-downloaded wheels and no shared datasets folder, so the product, its docs and its tests must not
depend on them. Datasets come from $CODEEVAL_DATASETS_DIR or a suite; wheels from pip's own config.
The sandbox's hostile fixtures may name such paths: they probe that the sandbox hides them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = re.compile(
    r"(?<![\w.~-])/work/"                 # this workplace's checkout and shared data
    r"|(?<![\w.~-])/opt/(?:wheels|pypi)"  # this machine's local wheel folder and package indexes
    r"|\.pyenv/versions"                  # this machine's interpreter
    r"|(?<![\w.])/(?:[\w.-]+/)+shared/datasets"  # an absolute datasets folder (relative mentions are fine)
)
ALLOWED = (
    "tests/sandbox/fixtures/",            # hostile programs that try to read the host's files
    "tests/deploy/fixtures/",
    "tests/test_no_machine_paths.py",     # this file's own patterns
)


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        pytest.skip("not a git checkout: " + out.stderr.strip()[:200])
    return [p for p in out.stdout.split("\0") if p]


def offending_lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if FORBIDDEN.search(line)]


@pytest.mark.parametrize(("line", "bad"), [
    ("see /work/shared/STUDY.md", True),
    ("datasets_dir = Path('/work/shared/datasets')", True),
    ("bash build-cpu.sh --wheels /opt/wheels", True),
    ("home = /root/.pyenv/versions/3.11.7/bin", True),
    ("path: /srv/shared/datasets/humaneval", True),
    ("else ``shared/datasets`` beside the checkout", False),
    ("path: ${datasets}/humaneval/HumanEval.jsonl.gz", False),
    ("--bind /tmp/work /work --chdir /work", False),
    ("cd ~/work/main", False),
])
def test_pattern(line: str, bad: bool) -> None:
    assert bool(offending_lines(line)) is bad


def test_no_tracked_file_names_a_machine_path() -> None:
    found: list[str] = []
    for rel in _tracked():
        if rel.startswith(ALLOWED):
            continue
        path = ROOT / rel
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        found += [f"{rel}:{n}: {line[:160]}" for n, line in offending_lines(text)]
    assert not found, "machine paths in tracked files:\n" + "\n".join(found)
