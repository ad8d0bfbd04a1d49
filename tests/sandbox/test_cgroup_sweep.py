"""The sandbox's start-up sweep of dead instances' cgroup groups decides liveness by each group's lock,
not by ``/proc/<pid>``: from a private pid namespace a live instance on the host looks dead (its pid is
not in that /proc) and a dead one named ``pid-1-...`` looks alive (pid 1 is the namespace's own init).

Real cgroups (root, a writable tree) and real ``unshare --pid``; about a second.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from codeeval.sandbox.backends import cgroups

#: Starts an instance's cgroups, prints its groups as JSON, then holds them until stdin closes.
INSTANCE = """
import json, sys
from codeeval.sandbox.backends import cgroups
cg = cgroups.detect()
print(json.dumps(None if cg is None else sorted({str(p) for p in cg.parents.values()})), flush=True)
sys.stdin.read()
if cg is not None:
    cg.close()
"""


def _usable() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    cg = cgroups.detect()
    if cg is None:
        return False
    cg.close()
    return True


pytestmark = pytest.mark.skipif(not _usable(), reason="needs root, a writable cgroup tree and unshare")


def _start(private_pid_ns: bool) -> tuple[subprocess.Popen[str], list[Path]]:
    prefix = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] if private_pid_ns else []
    proc = subprocess.Popen([*prefix, sys.executable, "-c", INSTANCE], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    groups = json.loads(proc.stdout.readline())
    assert groups, "the instance found no usable cgroups"
    return proc, [Path(g) for g in groups]


def test_sweep_from_another_pid_namespace_keeps_live_groups_and_removes_dead_ones():
    live, live_groups = _start(private_pid_ns=False)
    dead, dead_groups = _start(private_pid_ns=True)   # pid 1 in its namespace: groups named pid-1-...
    sweeper = None
    try:
        assert all(g.name.startswith("pid-1-") for g in dead_groups)
        os.kill(dead.pid, signal.SIGKILL)  # unshare --kill-child takes its pid 1 down with it
        dead.wait(timeout=30)
        assert all(g.exists() for g in dead_groups), "nothing is removed before a sweep"
        # The sweeper cannot see the live instance's pid, and its own pid is 1.
        sweeper, sweeper_groups = _start(private_pid_ns=True)
        assert all(g.exists() for g in live_groups), "a live instance's group was swept"
        assert not any(g.exists() for g in dead_groups), "a dead instance's group was left"
        assert all(g.exists() for g in sweeper_groups)
        sweeper.communicate("", timeout=30)
        assert not any(g.exists() for g in sweeper_groups), "a closed instance removes its own groups"
    finally:
        for proc in (live, dead, sweeper):
            if proc is not None and proc.poll() is None:
                proc.communicate("", timeout=30)
    assert not any(g.exists() for g in live_groups)


def test_sweep_takes_a_group_only_when_its_lock_is_free(tmp_path: Path):
    """The lock is the only signal: an unlocked group goes, a locked one stays (a plain directory
    stands in for the cgroup tree; flock does not care)."""
    top = tmp_path / cgroups.GROUP
    top.mkdir()
    locks: list[int] = []
    held = cgroups._instance(top, locks)
    orphan = top / "pid-999999-deadbeef"
    orphan.mkdir()
    try:
        assert cgroups.sweep(top) == [orphan]
        assert held.exists() and not orphan.exists()
    finally:
        for fd in locks:
            os.close(fd)
    assert cgroups.sweep(top) == [held]
