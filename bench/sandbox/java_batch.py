"""Java: per-candidate cost of batch mode (one javac for all candidates, then one JVM each) vs one
javac + one java per candidate, both in the same sandbox, in the same run. Prints the ratio.

Candidates are the HumanEval-X-shaped tasks of tests/sandbox/fixtures (reference solutions),
repeated to ``--candidates``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest
from codeeval.sandbox.settings import SandboxSettings

TASKS = Path(__file__).resolve().parents[2] / "tests/sandbox/fixtures/humaneval_x_java.jsonl"


def candidates(n: int) -> list[RunRequest]:
    tasks = [json.loads(line) for line in TASKS.read_text().splitlines() if line.strip()]
    picked = [tasks[i % len(tasks)] for i in range(n)]
    return [RunRequest(Language.JAVA, t["prompt"] + t["canonical_solution"], t["test"],
                       limits=Limits(wall_time_ms=60_000), id=f"{t['task_id']}#{i}") for i, t in enumerate(picked)]


async def run(n: int, workers: int) -> None:
    engine = Executor(SandboxSettings.load(max_concurrency=workers))
    await engine.start()
    reqs = candidates(n)
    try:
        start = time.perf_counter()
        single = await asyncio.gather(*(engine.execute(r) for r in reqs))  # each compiles on its own
        single_s = time.perf_counter() - start
        start = time.perf_counter()
        batch = [res async for _, res in engine.execute_batch(reqs)]
        batch_s = time.perf_counter() - start
    finally:
        caps = engine.capabilities
        await engine.stop()
    ok_single = sum(r.outcome is Outcome.PASSED for r in single)
    ok_batch = sum(r.outcome is Outcome.PASSED for r in batch)
    tools = {n: v for lang in (caps.languages if caps else []) for n, v in lang.toolchain}
    print(json.dumps({"candidates": n, "workers": workers, "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                      "backend": caps.backend if caps else "", "toolchain": tools}))
    print(f"one javac + java per candidate: {1000 * single_s / n:7.1f} ms/candidate "
          f"({single_s:.1f} s, {ok_single}/{n} passed)")
    print(f"batch javac + java each      : {1000 * batch_s / n:7.1f} ms/candidate "
          f"({batch_s:.1f} s, {ok_batch}/{n} passed)")
    print(f"per-candidate speed-up batch/single: {single_s / batch_s:.2f}x  (goal >= 7x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    asyncio.run(run(args.candidates, args.workers))


if __name__ == "__main__":
    main()
