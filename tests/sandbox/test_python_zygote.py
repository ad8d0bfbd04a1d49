"""The Python zygote (``python_zygote``, bubblewrap as root): judged runs forked from a warm
process per slot keep every isolation property of a fresh bubblewrap sandbox, and a zygote that
dies mid-run costs that run a SANDBOX_ERROR (never a model failure) and nothing more. Real
bubblewrap, real cgroups, real seccomp; one engine of its own (one slot, no retries)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from conftest import leftover_sandbox_processes, settings, zygote_executor

from codeeval.sandbox.backends.memwatch import descendants
from codeeval.sandbox.backends.zygote import ZYGOTE_UID_OFFSET
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest

ASYNC = pytest.mark.asyncio(loop_scope="session")
LIMITS = Limits(wall_time_ms=10000)
pytestmark = [pytest.mark.slow]

STATE = '''import json, os, socket

def state():
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    out = {k: status[k].split() for k in ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh",
                                            "NoNewPrivs", "Seccomp")}
    out["ns"] = {n: os.readlink(f"/proc/self/ns/{n}") for n in ("mnt", "pid", "net", "ipc", "uts", "cgroup")}
    out["pid"] = os.getpid()
    out["hostname"] = socket.gethostname()
    out["uid_map"] = open("/proc/self/uid_map").read().split()
    out["procs"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    out["mounts"] = {line.split()[1]: line.split()[3] for line in open("/proc/self/mounts")}
    out["code"] = sorted(os.listdir("/code"))
    fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
    out["fds"] = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in fds if os.path.exists(f"/proc/self/fd/{fd}")}
    for path in ("/code/main.py", "/usr/bin/x"):
        try:
            open(path, "a").close()
            out[path] = "writable"
        except OSError as exc:
            out[path] = type(exc).__name__
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    out["unshare"] = [libc.unshare(0x10000000), ctypes.get_errno()]  # CLONE_NEWUSER
    print(json.dumps(out))
    return out
'''


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def zygote_engine() -> AsyncIterator[Executor]:
    eng = await zygote_executor()
    yield eng
    await eng.stop()


async def _state(engine: Executor) -> dict[str, object]:
    res = await engine.execute(RunRequest(Language.PYTHON, STATE, "def check(c):\n    c()\n", "state", limits=LIMITS))
    assert res.outcome is Outcome.PASSED, (res.detail, res.stderr)
    if engine.backend.cgroups is not None:  # type: ignore[attr-defined]
        # read from the run's own cgroup: the candidate ran inside it (its peak holds only the pages the
        # run itself touched: the zygote's shared pages stay charged to the service)
        assert res.cpu_time_ms > 0 and res.peak_memory_bytes > 0, (res.cpu_time_ms, res.peak_memory_bytes)
    return json.loads(res.stdout)  # type: ignore[no-any-return]


@ASYNC
async def test_a_zygote_run_is_isolated_like_a_fresh_sandbox(zygote_engine: Executor):
    """The candidate: uid/gid 1 of a two-uid map (the zygote is 0), no capabilities in any set,
    no_new_privs, the seccomp filter, a pid namespace holding only itself and its init, hostname
    ``sandbox``, size-capped tmpfs work dir and /dev/shm, a read-only /code with main.py alone,
    a read-only root, no fd beyond stdio and the judge's channel, no new user namespace; and every
    namespace is the run's own (not the zygote's; test_python_fresh_runs.py checks nothing carries
    over between runs)."""
    assert zygote_engine.backend.describe()["python_zygote"] == "on"
    first = await _state(zygote_engine)
    assert first["Uid"] == ["1"] * 4 and first["Gid"] == ["1"] * 4
    slot = zygote_engine.uids.base
    assert first["uid_map"] == ["0", str(slot + ZYGOTE_UID_OFFSET), "1", "1", str(slot), "1"]
    for caps in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
        assert int(first[caps][0], 16) == 0, caps  # type: ignore[index]
    assert first["NoNewPrivs"] == ["1"] and first["Seccomp"] == ["2"]
    assert first["pid"] == 2 and first["procs"] == [1, 2] and first["hostname"] == "sandbox"  # its init and itself
    mounts = first["mounts"]
    assert isinstance(mounts, dict)
    assert mounts["/"].startswith("ro") and mounts["/code"].startswith("ro") and mounts["/usr"].startswith("ro")
    assert "size=" in mounts["/dev/shm"]
    assert "size=" in mounts["/tmp"] and mounts["/tmp"].startswith("rw")
    assert first["code"] == ["main.py"]
    assert first["/code/main.py"] in ("OSError", "PermissionError") and first["/usr/bin/x"] != "writable"
    fds = first["fds"]  # JSON keys: the fd numbers as text; the listing's own fd is gone by then
    assert isinstance(fds, dict)
    assert fds["0"].startswith("pipe:") and fds["1"].startswith("pipe:") and fds["2"].startswith("pipe:")
    assert [t for fd, t in fds.items() if fd not in ("0", "1", "2")] == [fds[max(fds, key=int)]]
    assert fds[max(fds, key=int)].startswith("socket:")  # the judge's channel, nothing else
    assert first["unshare"] == [-1, 1]  # EPERM
    zygote = next(iter(zygote_engine.backend.zygotes.values()))  # type: ignore[attr-defined]
    zygote_side = [*descendants(zygote.proc.pid), os.getpid()]  # the zygote's bwrap and python3, the host
    for name, ns in first["ns"].items():  # type: ignore[attr-defined]
        assert all(os.readlink(f"/proc/{pid}/ns/{name}") != ns for pid in zygote_side), name


@ASYNC
async def test_a_zygote_killed_mid_run_is_a_sandbox_error_and_restarts(zygote_engine: Executor):
    backend = zygote_engine.backend
    slow = RunRequest(Language.PYTHON, "import time\n\ndef f():\n    time.sleep(8)\n    return 1\n",
                      "def check(c):\n    assert c() == 1\n", "f", limits=LIMITS)
    ok = RunRequest(Language.PYTHON, "def f():\n    return 1\n", "def check(c):\n    assert c() == 1\n", "f",
                    limits=LIMITS)
    assert (await zygote_engine.execute(ok)).outcome is Outcome.PASSED  # the slot's zygote is up
    zygote = next(iter(backend.zygotes.values()))  # type: ignore[attr-defined]
    assert zygote.alive()
    old_pid = zygote.proc.pid
    run = asyncio.ensure_future(zygote_engine.execute(slow))
    await asyncio.sleep(1.5)
    zygote.proc.kill()
    res = await run
    assert res.outcome is Outcome.SANDBOX_ERROR, (res.outcome, res.detail)
    assert "zygote" in res.detail, res.detail
    after = await zygote_engine.execute(ok)
    assert after.outcome is Outcome.PASSED, after.detail
    assert zygote.alive() and zygote.proc.pid != old_pid
    assert leftover_sandbox_processes(zygote_engine.uids.base, 1) == []


@ASYNC
async def test_zygote_runs_keep_the_limits(zygote_engine: Executor):
    """Wall time, output and memory limits and a self-kill end a zygote run as they end a bubblewrap one."""
    base = "def check(c):\n    c()\n"
    spin = RunRequest(Language.PYTHON, "def f():\n    while True:\n        pass\n", base, "f",
                      limits=Limits(wall_time_ms=1500, cpu_time_ms=10000))
    res = await zygote_engine.execute(spin)
    assert res.outcome is Outcome.TIMEOUT, res.detail
    loud = RunRequest(Language.PYTHON, "import sys\ndef f():\n    while True:\n        sys.stdout.write('x' * 65536)\n",
                      base, "f", limits=LIMITS)
    assert (await zygote_engine.execute(loud)).outcome is Outcome.OUTPUT_LIMIT_EXCEEDED
    hog = RunRequest(Language.PYTHON, "def f():\n    x = bytearray(400 << 20)\n    return len(x)\n", base, "f",
                     limits=Limits(wall_time_ms=10000, memory_bytes=128 << 20))
    assert (await zygote_engine.execute(hog)).outcome is Outcome.MEMORY_EXCEEDED
    if zygote_engine.backend.cgroups is not None:  # type: ignore[attr-defined]
        # no RLIMIT_NPROC where the pids cgroup bounds processes: only the cgroup stops this
        forks = RunRequest(Language.PYTHON, "import os, time\ndef f():\n    n = 0\n    try:\n"
                           "        for _ in range(40):\n            if os.fork() == 0:\n"
                           "                time.sleep(5)\n                os._exit(0)\n            n += 1\n"
                           "    except OSError:\n        pass\n    return n\n",
                           "def check(c):\n    assert c() < 12\n", "f",
                           limits=Limits(wall_time_ms=10000, max_processes=12))
        res = await zygote_engine.execute(forks)
        assert res.outcome is Outcome.PASSED, (res.outcome, res.detail)
    suicide = RunRequest(Language.PYTHON, "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGKILL)\n",
                         base, "f", limits=LIMITS)  # the candidate is not its namespace's init: it dies
    res = await zygote_engine.execute(suicide)
    assert res.outcome is Outcome.RUNTIME_ERROR and res.signal == 9, (res.outcome, res.detail)
    reader = RunRequest(Language.PYTHON, "import sys\ndef f():\n    return sys.stdin.read()\n",
                        "def check(c):\n    assert c() == 'from stdin' * 10000\n", "f", stdin=b"from stdin" * 10000,
                        limits=LIMITS)
    assert (await zygote_engine.execute(reader)).outcome is Outcome.PASSED


@ASYNC
async def test_the_plain_path_judges_alike(zygote_engine: Executor):
    """python_zygote off: the same programs get the same outcomes from a bwrap per run."""
    plain = Executor(settings(python_zygote=False, max_concurrency=1, retries=0))
    await plain.start()
    try:
        assert plain.backend.describe()["python_zygote"] == "off"
        test = "def check(c):\n    assert c(2) == 4\n"
        sources = {"pass": "def f(x):\n    return x * 2\n", "fail": "def f(x):\n    return x\n",
                   "raise": "def f(x):\n    raise ValueError(x)\n", "syntax": "def f(x)\n    return x\n",
                   "exit": "import os\ndef f(x):\n    os._exit(0)\n"}
        got = {}
        for name, source in sources.items():
            req = RunRequest(Language.PYTHON, source, test, "f", limits=LIMITS)
            got[name] = ((await zygote_engine.execute(req)).outcome, (await plain.execute(req)).outcome)
        assert got == {"pass": (Outcome.PASSED,) * 2, "fail": (Outcome.FAILED,) * 2,
                       "raise": (Outcome.RUNTIME_ERROR,) * 2, "syntax": (Outcome.COMPILE_ERROR,) * 2,
                       "exit": (Outcome.RUNTIME_ERROR,) * 2}, got
    finally:
        await plain.stop()
