"""The docker backend end to end (marked ``docker``: needs dockerd and the runtime image from
deploy/sandbox-runtime/build.sh): HumanEval canonical pass / broken fail, Java batch, warm pool,
pid 1 out of the runs' reach, and a clean-up that leaves nothing of a run behind."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import humaneval_data
import pytest
from conftest import HUMANEVAL

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Mode, Outcome, RunRequest

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="session")]


async def test_capabilities_name_docker_and_the_image(docker_engine: Executor):
    caps = docker_engine.capabilities
    assert caps is not None and caps.backend == "docker"
    assert caps.backend_details["image"] == docker_engine.settings.docker_image
    assert docker_engine.backend._pool  # type: ignore[attr-defined]  # warm containers are ready


@pytest.mark.slow
async def test_humaneval_canonical_pass_broken_fail_on_docker(docker_engine: Executor):
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


async def test_java_batch_on_docker(docker_engine: Executor):
    sol = "class Solution { public int add(int a, int b) { return %s; } }"
    test = "public class Main { public static void main(String[] x) { assert new Solution().add(2, 3) == 5; } }"
    reqs = [RunRequest(Language.JAVA, sol % body, test) for body in ("a + b", "a - b", "a +")]
    got = {}
    async for i, res in docker_engine.execute_batch(reqs):
        got[i] = res
    assert [got[i].outcome for i in range(3)] == [Outcome.PASSED, Outcome.FAILED, Outcome.COMPILE_ERROR]
    assert re.search(r"\w+\.java:1: error", got[2].compile_output), got[2].compile_output


PID1 = """
import os
uid = [line.split()[1] for line in open('/proc/1/status') if line.startswith('Uid:')][0]
print('pid1-uid', uid, 'me', os.getuid())
for what, attempt in (('mem', lambda: open('/proc/1/mem', 'r+b')), ('kill', lambda: os.kill(1, 9))):
    try:
        attempt()
        print(what, 'allowed')
    except OSError:
        print(what, 'denied')
"""
DIRTY = """
import os
os.makedirs('/tmp/locked/inner')
open('/tmp/locked/inner/f', 'w').write('x')
os.chmod('/tmp/locked/inner', 0)
os.chmod('/tmp/locked', 0)
open('/dev/shm/leftover', 'w').write('x')
"""
LOOK = "import os\nprint(sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')))\n"


def run(source: str) -> RunRequest:
    return RunRequest(Language.PYTHON, source, mode=Mode.RUN, limits=Limits(wall_time_ms=20_000))


async def test_pid1_is_not_the_candidates_uid_and_a_run_cannot_touch_it(docker_engine: Executor):
    res = await docker_engine.execute(run(PID1))
    assert res.outcome is Outcome.PASSED, res.detail
    assert res.stdout.decode().split("\n")[:3] == ["pid1-uid 0 me 65534", "mem denied", "kill denied"]


async def test_cleanup_empties_tmp_and_dev_shm_whatever_modes_the_run_left(docker_engine: Executor):
    pooled = {c.id for cs in docker_engine.backend._pool.values() for c in cs}  # type: ignore[attr-defined]
    for _ in range(2):  # dirty every container of the pool
        dirty = await asyncio.gather(*(docker_engine.execute(run(DIRTY)) for _ in range(2)))
        assert all(r.outcome is Outcome.PASSED for r in dirty), [r.detail for r in dirty]
    looks = await asyncio.gather(*(docker_engine.execute(run(LOOK)) for _ in range(4)))
    mounts = sorted(p.name for p in (docker_engine.workspace.base, docker_engine.workspace.trusted_base)
                    if p.parent == Path("/tmp"))  # the service's own mounts, at their host paths
    assert [r.stdout.decode().strip() for r in looks] == [f"{mounts} []"] * 4
    after = {c.id for cs in docker_engine.backend._pool.values() for c in cs}  # type: ignore[attr-defined]
    assert after & pooled  # cleaned and kept, not only replaced
