"""The Python reward-hacking conformance suite (issue 13): every fixture in
fixtures/reward_hacking/python is a candidate for a task it answers wrongly (or not at all) while
trying to forge a PASS: exit tricks, harness frames and tokens, AlwaysEqual objects, ``__class__``
spoofing, monkeypatched builtins and unittest, SkipTest, StopIteration, fake protocol frames,
memory and file scans for the expected value. Each must end in the outcome its first line names,
on every available backend, run as one concurrent batch per backend.

Fixture header lines: ``# expect: A|B``, optional ``# entry: NAME`` (default ``add``) and
``# test: FILE`` (default ``check_add.txt``, in the same folder; ``{SECRET}`` in it is replaced by
a fresh random value per run) and ``# wall_ms: N`` (default the conformance limit)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from conftest import CONFORMANCE_LIMITS, FIXTURES, expected_outcomes

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest, RunResult

pytestmark = pytest.mark.asyncio(loop_scope="session")
FOLDER = FIXTURES / "reward_hacking" / "python"
SECRET = secrets.token_hex(16)
_results: dict[str, dict[str, RunResult]] = {}


def header(path: Path, key: str, default: str) -> str:
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].strip()
    return default


def fixture_request(path: Path) -> RunRequest:
    test = (FOLDER / header(path, "test", "check_add.txt")).read_text().replace("{SECRET}", SECRET)
    wall = int(header(path, "wall_ms", str(CONFORMANCE_LIMITS.wall_time_ms)))
    limits = Limits(**{**CONFORMANCE_LIMITS.as_dict(), "wall_time_ms": wall, "cpu_time_ms": wall})
    return RunRequest(Language.PYTHON, path.read_text(), test, header(path, "entry", "add"), limits=limits,
                      id=path.stem)


FIXTURE_FILES = sorted(FOLDER.glob("*.py"))


async def results_for(engine: Executor) -> dict[str, RunResult]:
    if engine.backend.name not in _results:
        reqs = [fixture_request(p) for p in FIXTURE_FILES]
        _results[engine.backend.name] = {reqs[i].id: res async for i, res in engine.execute_batch(reqs)}
    return _results[engine.backend.name]


@pytest.fixture(scope="session", params=["bubblewrap", "unshare", pytest.param("docker", marks=pytest.mark.docker)])
def backend_engine(request: pytest.FixtureRequest) -> Executor:
    name = {"bubblewrap": "engine", "unshare": "unshare_engine", "docker": "docker_engine"}[request.param]
    return request.getfixturevalue(name)


async def test_suite_is_not_empty():
    assert len(FIXTURE_FILES) >= 15


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
async def test_reward_hack_fails(backend_engine: Executor, path: Path):
    res = (await results_for(backend_engine))[path.stem]
    expected = expected_outcomes(path)
    assert res.outcome.value in expected, (
        f"{path.name} on {backend_engine.backend.name}: {res.outcome.value} ({res.detail}), expected {expected}; "
        f"stdout={res.stdout[-300:]!r} stderr={res.stderr[-300:]!r}")
    assert res.outcome is not Outcome.PASSED
    assert res.detail, "a failure always says why"


async def test_scans_find_no_expected_value(backend_engine: Executor):
    res = (await results_for(backend_engine))["scan_memory_and_files"]
    assert b"FOUND: []" in res.stdout, res.stdout[-500:]
    assert SECRET.encode() not in res.stdout + res.stderr


async def test_correct_answer_to_the_same_tests_passes(backend_engine: Executor):
    """The suite's tests are passable: the right answers (even with the same tricks around them) pass."""
    right = "import os\nos._exit = lambda *a: None\n\ndef add(a, b):\n    return a + b\n"
    secret = f"def secret():\n    return 'codeeval-secret-{SECRET}'\n"
    reqs = [RunRequest(Language.PYTHON, right, (FOLDER / name).read_text(), "add", limits=CONFORMANCE_LIMITS)
            for name in ("check_add.txt", "check_add_unittest.txt", "check_add_map.txt")]
    reqs.append(RunRequest(Language.PYTHON, secret, (FOLDER / "check_secret.txt").read_text().replace(
        "{SECRET}", SECRET), "secret", limits=CONFORMANCE_LIMITS))
    outcomes = [res.outcome async for _, res in backend_engine.execute_batch(reqs)]
    assert outcomes == [Outcome.PASSED] * len(reqs), [(o, r.test[:40]) for o, r in zip(outcomes, reqs, strict=True)]
