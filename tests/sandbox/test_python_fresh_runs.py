"""What makes Python runs cheap must not make them share state: a judged run starts from a state no
earlier run of the same slot (its uid, its warm judge) touched, and identical programs in a batch
run once. Real bubblewrap sandboxes; the worker's start-up without site (-S) keeps the site
directories and the ``exit``/``quit`` builtins."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from memscan import SCAN_MEMORY

from codeeval.sandbox.executor import Executor, duplicates
from codeeval.sandbox.model import Language, Limits, Outcome, RunRequest

ASYNC = pytest.mark.asyncio(loop_scope="session")
LIMITS = Limits(wall_time_ms=10000)
MARK = "31.4159" + os.urandom(3).hex()[:4].translate(str.maketrans("abcdef", "123456"))

LEAVE = f'''import builtins, json, os, sys
json.codeeval_leak = builtins.codeeval_leak = 1
sys.modules["codeeval_leak"] = json
os.environ["CODEEVAL_LEAK"] = "1"
for where in ("/tmp/codeeval_leak", "/dev/shm/codeeval_leak"):
    with open(where, "w") as fh:
        fh.write("left behind")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "{MARK}"])
    os._exit(0)

def leave():
    global counter
    counter = 1
    return 1
'''

PROBE = '''import builtins, json, os, sys

def probe():
    found = []
    if hasattr(json, "codeeval_leak") or hasattr(builtins, "codeeval_leak") or "codeeval_leak" in sys.modules:
        found.append("module state")
    if "CODEEVAL_LEAK" in os.environ:
        found.append("environment")
    for d in ("/tmp", "/dev/shm"):
        found += [f"{d}/{name}" for name in os.listdir(d)]
    for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\\0", b" ").decode()
        except OSError:
            continue
        if "sleep" in cmd:
            found.append(f"process {cmd}")
    if "counter" in globals():
        found.append("globals")
    print(found)
    return found
'''


def _host_processes_with(mark: str) -> list[int]:
    out = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if mark.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(int(pid))
        except OSError:
            continue
    return out


@ASYNC
async def test_a_run_sees_nothing_an_earlier_run_of_its_slot_left(engine: Executor):
    """Files (/tmp, /dev/shm), module globals, sys.modules, builtins, environment and a daemonised
    child of one run are gone for the next run on the same slot (runs alternate over the slots, so
    each probe follows a run that left all of it on its slot), and nothing of it lives on the host."""
    leave = RunRequest(Language.PYTHON, LEAVE, "def check(candidate):\n    assert candidate() == 1\n", "leave",
                       limits=LIMITS)
    probe = RunRequest(Language.PYTHON, PROBE, "def check(candidate):\n    assert candidate() == []\n", "probe",
                       limits=LIMITS)
    slots = engine.settings.max_concurrency
    for _ in range(slots):
        res = await engine.execute(leave)
        assert res.outcome is Outcome.PASSED, res.detail
    assert _host_processes_with(MARK) == []
    for _ in range(slots):
        res = await engine.execute(probe)
        assert res.outcome is Outcome.PASSED, (res.detail, res.stdout)


@ASYNC
async def test_worker_keeps_site_directories_and_exit(engine: Executor):
    """-S skips .pth files and sitecustomize only: dist-packages stay importable, exit() is SystemExit."""
    source = ("import site, sys\n\ndef paths():\n"
              "    return [p for p in site.getsitepackages() if p in sys.path]\n\n"
              "def leave():\n    exit(3)\n")
    test = ("import os, site\n\ndef check(candidate):\n"
            "    assert candidate() == [p for p in site.getsitepackages() if os.path.isdir(p)]\n")
    res = await engine.execute(RunRequest(Language.PYTHON, source, test, "paths", limits=LIMITS))
    assert res.outcome is Outcome.PASSED, res.detail
    res = await engine.execute(RunRequest(Language.PYTHON, source, "def check(c):\n    c()\n", "leave", limits=LIMITS))
    assert res.outcome is Outcome.RUNTIME_ERROR and "SystemExit" in res.detail, res.detail


def test_duplicates_ignore_only_the_id():
    a = RunRequest(Language.PYTHON, "def f():\n    return 1\n", "def check(c):\n    assert c() == 1\n", "f", id="a")
    reqs = [a, a.evolve(id="b"), a.evolve(limits=LIMITS, id="c"), a.evolve(source=a.source + "\n", id="d"),
            a.evolve(id="e"), a.evolve(stdin=b"x", id="f")]
    assert duplicates(reqs) == {1: 0, 4: 0}


@ASYNC
async def test_identical_programs_in_a_batch_run_once(engine: Executor, monkeypatch: pytest.MonkeyPatch):
    runner = engine.runners[Language.PYTHON]
    ran: list[str] = []
    real = runner.run

    async def counting(req: RunRequest, limits: Limits):  # type: ignore[no-untyped-def]
        ran.append(req.id)
        return await real(req, limits)

    monkeypatch.setattr(runner, "run", counting)
    good = RunRequest(Language.PYTHON, "def f():\n    return 1\n", "def check(c):\n    assert c() == 1\n", "f",
                      limits=LIMITS)
    bad = good.evolve(source="def f():\n    return 2\n")
    reqs = [good.evolve(id="g0"), bad.evolve(id="b0"), good.evolve(id="g1"), good.evolve(id="g2"),
            bad.evolve(id="b1")]
    got = {res.id: (i, res.outcome) async for i, res in engine.execute_batch(reqs)}
    assert got == {"g0": (0, Outcome.PASSED), "b0": (1, Outcome.FAILED), "g1": (2, Outcome.PASSED),
                   "g2": (3, Outcome.PASSED), "b1": (4, Outcome.FAILED)}
    assert sorted(ran) == ["b0", "g0"]
    assert engine._admitted == 0



PREFIX = "codeeval-earlier-"
SECRET_SOURCE = f'''SECRET = "{PREFIX}{MARK}"

def leave():
    return len(SECRET)
'''
SELF_CHECK = "selfcheck01"  # as long as MARK; the scanning program holds PREFIX + SELF_CHECK as a constant
SCAN = f'''OWN = "{PREFIX}{SELF_CHECK}"


def scan(prefix, digests, length):
    """Over every readable mapping of this process (on the zygote path: the zygote's memory as forked)."""
    return scan_memory(prefix, digests, length)
''' + SCAN_MEMORY


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@ASYNC
async def test_a_run_never_finds_an_earlier_runs_source_in_its_memory(engine: Executor):
    """The worker a run starts from (a fresh interpreter, or a fork of the slot's zygote) holds no
    byte of an earlier run's source. The scan looks for a hash, never the text itself (so the
    scanning run holds no copy of it), and checks itself on a constant of its own source, which
    it must find."""
    assert len(SELF_CHECK) == len(MARK)
    leave = RunRequest(Language.PYTHON, SECRET_SOURCE, "def check(c):\n    assert c() > 0\n", "leave", limits=LIMITS)
    for _ in range(engine.settings.max_concurrency):
        assert (await engine.execute(leave)).outcome is Outcome.PASSED
    digests = [_sha(PREFIX + MARK), _sha(PREFIX + SELF_CHECK)]
    test = ("def check(candidate):\n"
            f"    earlier, own = candidate({PREFIX!r}, {digests!r}, {len(PREFIX + MARK)})\n"
            "    assert own >= 1, 'the scan did not find its own constant'\n"
            "    assert earlier == 0, 'an earlier run source is in memory'\n")
    for _ in range(engine.settings.max_concurrency):
        res = await engine.execute(RunRequest(Language.PYTHON, SCAN, test, "scan", limits=LIMITS))
        assert res.outcome is Outcome.PASSED, (res.detail, res.stderr[-500:])
