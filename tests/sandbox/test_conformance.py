"""The adversarial conformance suite (fixture files in fixtures/<language>/, expected outcome in
their first line) against every available backend, run as one concurrent batch per language; then
the service must still be healthy and the host unchanged."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from conftest import (
    conformance_request,
    expected_outcomes,
    fixture_files,
    leftover_sandbox_processes,
)

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Outcome, RunResult

pytestmark = pytest.mark.asyncio(loop_scope="session")
_results: dict[tuple[str, Language], dict[str, RunResult]] = {}
ESCAPE_PATHS = ["/codeeval-escape", "/usr/codeeval-escape", "/escape", "/usr/escape", "/tmp/codeeval-persist.txt"]


async def batch_results(engine: Executor, language: Language, port: int) -> dict[str, RunResult]:
    """Run the language's fixtures once (persist_write before persist_read, the rest concurrently)."""
    key = (engine.backend.name, language)
    if key not in _results:
        files = fixture_files(language)
        first = [f for f in files if f.stem == "persist_write"]
        rest = [f for f in files if f.stem != "persist_write"]
        out: dict[str, RunResult] = {}
        for group in (first, rest):
            if group:
                reqs = [conformance_request(f, language, port) for f in group]
                async for i, res in engine.execute_batch(reqs):
                    out[group[i].stem] = res
        _results[key] = out
    return _results[key]


@pytest.fixture(scope="session", params=["bubblewrap", "unshare", pytest.param("docker", marks=pytest.mark.docker)])
def backend_engine(request: pytest.FixtureRequest) -> Executor:
    """Every available backend runs the same suite."""
    name = {"bubblewrap": "engine", "unshare": "unshare_engine", "docker": "docker_engine"}[request.param]
    return request.getfixturevalue(name)


def _params(language: Language) -> list:
    """Python fixtures are in the fast set; the Java ones (a JVM each, ~1 s) are marked slow."""
    marks = [pytest.mark.slow] if language is Language.JAVA else []
    return [pytest.param(p, marks=marks, id=f"{p.parent.name}/{p.stem}") for p in fixture_files(language)]


@pytest.mark.parametrize("path", _params(Language.PYTHON) + _params(Language.JAVA))
async def test_fixture_ends_in_expected_outcome(backend_engine: Executor, host_listener: socket.socket, path: Path):
    engine = backend_engine
    language = Language(path.parent.name)
    results = await batch_results(engine, language, host_listener.getsockname()[1])
    res = results[path.stem]
    expected = expected_outcomes(path)
    assert res.outcome.value in expected, (
        f"{path.name}: {res.outcome.value} ({res.detail}), expected {expected}; "
        f"stderr={res.stderr[-400:]!r} compile={res.compile_output[:400]}")
    assert res.outcome is not Outcome.SANDBOX_ERROR
    assert res.backend == engine.backend.name


@pytest.mark.parametrize("language", [Language.PYTHON, pytest.param(Language.JAVA, marks=pytest.mark.slow)])
async def test_host_unchanged_and_service_healthy(backend_engine: Executor, host_listener: socket.socket,
                                                  language: Language):
    engine = backend_engine
    await batch_results(engine, language, host_listener.getsockname()[1])
    with pytest.raises(BlockingIOError):
        host_listener.accept()  # nobody connected
    for path in ESCAPE_PATHS:
        assert not Path(path).exists(), path
    if engine.backend.name == "docker":
        containers = engine.backend.client.containers.list(all=True, filters={"label": "codeeval.sandbox"})
        pooled = {c.id for cs in engine.backend._pool.values() for c in cs}
        assert {c.id for c in containers} >= pooled
        assert all(c.status == "running" for c in containers if c.id in pooled)
        assert await engine.readiness() is None
        return
    settings = engine.settings
    for _ in range(50):
        left = leftover_sandbox_processes(engine.uids.base, settings.max_concurrency)
        if not left:
            break
        time.sleep(0.1)
    assert left == []
    assert list(engine.workspace.base.glob("*")) == [engine.workspace.base / "java-launcher"]
    if engine.backend.name == "unshare":  # every run's copy and anything it left in the jail are gone
        assert list(engine.backend.tmp.iterdir()) == []
    cg = getattr(engine.backend, "cgroups", None)
    if cg is not None:
        # allowed: the zygote path's spare per slot, made ahead for the next run and never used
        spares = await engine.backend.settle() if hasattr(engine.backend, "settle") else set()
        for parent in cg.parents.values():
            assert [p for p in parent.iterdir() if p.is_dir() and p not in spares] == []
        assert all((d / "cgroup.procs").read_text() == "" for d in spares)
    assert await engine.readiness() is None
