"""The docker backend end to end (marked ``docker``: needs dockerd and the runtime image from
deploy/sandbox-runtime/build.sh): HumanEval canonical pass / broken fail, Java batch, warm pool."""

from __future__ import annotations

import humaneval_data
import pytest
from conftest import HUMANEVAL

from codeeval.sandbox.engine import Engine
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]


async def test_capabilities_name_docker_and_the_image(docker_engine: Engine):
    caps = docker_engine.capabilities
    assert caps is not None and caps.backend == "docker"
    assert caps.backend_details["image"] == docker_engine.settings.docker_image
    assert docker_engine.backend._pool  # warm containers are ready


@pytest.mark.slow
async def test_humaneval_canonical_pass_broken_fail_on_docker(docker_engine: Engine):
    """The first 60 tasks (two docker execs per run: ~1 min); all 164 run on bubblewrap in test_service."""
    problems = humaneval_data.load(HUMANEVAL)[:60]
    reqs = []
    for p in problems:
        for kind, body in (("canonical", p["canonical_solution"]), ("broken", humaneval_data.broken_completion(p))):
            reqs.append(RunRequest(Language.PYTHON, p["prompt"] + body, p["test"], p["entry_point"],
                                   limits=Limits(wall_time_ms=20_000), id=f"{p['task_id']}/{kind}"))
    results = {}
    async for i, res in docker_engine.execute_batch(reqs):
        results[reqs[i].id] = res
    wrong = {k: r.outcome.value for k, r in results.items()
             if (r.outcome is Outcome.PASSED) != k.endswith("/canonical")}
    assert wrong == {}
    assert all(r.backend == "docker" for r in results.values())


async def test_java_batch_on_docker(docker_engine: Engine):
    sol = "class Solution { int add(int a, int b) { return %s; } }"
    test = "public class Main { public static void main(String[] x) { assert new Solution().add(2, 3) == 5; } }"
    reqs = [RunRequest(Language.JAVA, sol % body, test) for body in ("a + b", "a - b", "a +")]
    got = {}
    async for i, res in docker_engine.execute_batch(reqs):
        got[i] = res
    assert [got[i].outcome for i in range(3)] == [Outcome.PASSED, Outcome.FAILED, Outcome.COMPILE_ERROR]
    assert "Candidate.java:1" in got[2].compile_output
