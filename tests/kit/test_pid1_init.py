"""A service that is pid 1 (as in its container) reaps what is orphaned in it, forwards SIGTERM, and exits
with the service's status. The real sandbox orphans a bubblewrap process per run (its readiness probe
runs every few seconds): run as pid 1 of a fresh pid namespace, with the init no zombie stays; without
it (``CODEEVAL_INIT=0``) they pile up, which shows the check can fail."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                                reason="needs root and util-linux unshare for a fresh pid namespace")


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (ppid, comm, state) of every process (host pids)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        out[int(entry)] = (int(ppid), stat[stat.index("(") + 1: stat.rindex(")")], state)
    return out


def _zombies_of(parent: int) -> set[int]:
    return {pid for pid, (ppid, _, state) in _processes().items() if ppid == parent and state == "Z"}


def _lasting_orphans(pid1: int) -> set[int]:
    """Zombies reparented to the namespace's pid 1 that are still there a moment later (an init reaps them
    at once). Other processes' zombies (a judge reaping its last run's child at the next run) are theirs."""
    first = _zombies_of(pid1)
    time.sleep(2)
    return first & _zombies_of(pid1)


def _sandbox_as_pid_1(tmp_path: Path, init: str) -> tuple[set[int], int]:
    ready = tmp_path / f"ready-{init}"
    # The plain bubblewrap path (no Python zygote): it orphans one bwrap process per run, the zombies an
    # init must reap (zygote runs are reaped by the zygote). No cgroups: nothing here needs them.
    env = {**os.environ, "CODEEVAL_INIT": init, "CODEEVAL_SANDBOX_HEALTH_RECHECK_SECONDS": "2",
           "CODEEVAL_SANDBOX_CGROUPS": "false", "CODEEVAL_SANDBOX_PYTHON_ZYGOTE": "false"}
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", sys.executable, "-m",
                             "codeeval.cli", "serve", "sandbox", "--port", "0", "--ready-file", str(ready)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert ready.exists(), "the sandbox did not start as pid 1"
        time.sleep(20)  # several readiness probes (one every 2 s), each a real run in bubblewrap
        pid1 = next(pid for pid, (ppid, _, _) in _processes().items() if ppid == proc.pid)  # unshare's child
        zombies = _lasting_orphans(pid1)
        os.kill(pid1, signal.SIGTERM)  # what a container runtime sends to pid 1
        return zombies, proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.integration
def test_the_sandbox_as_pid_1_leaves_no_zombie_and_stops_on_sigterm(tmp_path: Path):
    zombies, rc = _sandbox_as_pid_1(tmp_path, "1")
    assert zombies == set()
    assert rc == 0  # SIGTERM forwarded: the service shut down cleanly and its status came back


@pytest.mark.slow
@pytest.mark.integration
def test_without_the_init_the_orphans_pile_up(tmp_path: Path):
    zombies, _ = _sandbox_as_pid_1(tmp_path, "0")
    assert len(zombies) >= 2, "the orphaned bubblewrap processes should stay, as zombies of a pid 1 that cannot reap"


def test_reap_until_returns_the_childs_exit_code_and_reaps_others():
    """In a fresh interpreter (waitpid(-1) must not reap the test session's own children)."""
    code = """
import signal, subprocess
from codeeval.kit.init import reap_until
other = subprocess.Popen(["sh", "-c", "exit 0"])
child = subprocess.Popen(["sh", "-c", "sleep 0.3; exit 7"])
assert reap_until(child.pid) == 7
killed = subprocess.Popen(["sleep", "30"])
killed.send_signal(signal.SIGTERM)
assert reap_until(killed.pid) == 128 + signal.SIGTERM
try:
    import os
    os.waitpid(other.pid, os.WNOHANG)
    raise SystemExit("the other child was not reaped")
except ChildProcessError:
    print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
