"""Trusted files are staged where every run uid can read and none can write them: the staged copy's
modes and owner, the bind rewriting that serves it, and a service installed in a 0700 directory
(as a clone in root's home is) that still runs Python and Java programs on the real bubblewrap
backend, whose runs cannot change the staged files."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import bwrap_usable

from codeeval.sandbox.backends.base import Bind
from codeeval.sandbox.runners.base import INSTALLATION, SUPPORT_DIR
from codeeval.sandbox.runners.workspace import Workspace


def test_staged_copy_is_read_only_for_runs_and_removed_at_close(tmp_path: Path):
    src = tmp_path / "private" / "support"
    (src / "sub").mkdir(parents=True)
    (src / "harness.py").write_text("trusted\n")
    (src / "sub" / "Launcher.java").write_text("class L {}\n")
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o777)
    (tmp_path / "private").chmod(0o700)
    ws = Workspace(tmp_path)
    try:
        staged = ws.stage_trusted([src])[src]
        assert not staged.is_relative_to(tmp_path / "private")
        modes = {p.relative_to(staged).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in staged.rglob("*")}
        assert modes == {"harness.py": 0o644, "sub": 0o755, "sub/Launcher.java": 0o644, "run.sh": 0o755}
        assert stat.S_IMODE(staged.stat().st_mode) == 0o755
        assert all(p.stat().st_uid == os.geteuid() for p in [staged, *staged.rglob("*")])
        assert (staged / "harness.py").read_text() == "trusted\n"
    finally:
        ws.close()
    assert not ws.base.exists() and not ws.trusted_base.exists()


def test_links_are_never_staged(tmp_path: Path):
    src = tmp_path / "support"
    src.mkdir()
    (src / "secret").symlink_to("/etc/shadow")
    ws = Workspace(tmp_path)
    try:
        with pytest.raises(OSError, match="only directories and regular files"):
            ws.stage_trusted([src])
    finally:
        ws.close()


def test_binds_of_the_installation_are_served_from_the_staged_copy(tmp_path: Path):
    ws = Workspace(tmp_path)
    try:
        staged = ws.stage_trusted([SUPPORT_DIR])[SUPPORT_DIR.resolve()]
        other = tmp_path / "run"
        out = ws.resolve_binds([Bind(SUPPORT_DIR, "/harness"), Bind(other, "/code")], INSTALLATION)
        assert out == [Bind(staged, "/harness"), Bind(other, "/code")]
        with pytest.raises(PermissionError, match="not staged"):
            ws.resolve_binds([Bind(INSTALLATION / "backends", "/x")], INSTALLATION)
        with pytest.raises(PermissionError, match="cannot be bound writable"):
            ws.resolve_binds([Bind(SUPPORT_DIR, "/harness", writable=True)], INSTALLATION)
    finally:
        ws.close()


def test_workspace_under_a_0700_directory_is_refused_with_the_reason(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("runs use other uids only when the service is root")
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    ws = Workspace(private)
    try:
        with pytest.raises(RuntimeError, match=r"home \(mode 0700\) is not searchable.*WORKSPACE_DIR"):
            ws.check_reachable()
    finally:
        ws.close()


SCRIPT = textwrap.dedent('''
    import asyncio, json, sys
    from codeeval.sandbox import executor as engine_mod
    from codeeval.sandbox.backends.base import Bind, SandboxCommand
    from codeeval.sandbox.settings import SandboxSettings
    from codeeval.sandbox.executor import Executor
    from codeeval.sandbox.model import Language, Limits, Mode, RunRequest
    from codeeval.sandbox.runners.base import SUPPORT_DIR

    JAVA = "public class Main { public static void main(String[] a) { System.out.println(6 * 7); } }"
    ATTACK = ("for f in /t/*; do echo evil > $f; done; chmod 777 /t; touch /t/new; "
              "cat " + str(SUPPORT_DIR) + "/* >/dev/null && echo read-the-installation; ls /t | head -1")

    async def main():
        eng = Executor(SandboxSettings.load(max_concurrency=1))
        await eng.start()
        try:
            out = {"installation": engine_mod.__file__}
            py = await eng.execute(engine_mod.PROBE)
            out["python"] = [py.outcome.value, py.detail]
            java = await eng.execute(RunRequest(Language.JAVA, JAVA, mode=Mode.RUN, entry_point="Main"))
            out["java"] = [java.outcome.value, java.detail, java.stdout.decode().strip()]
            staged = eng.workspace.trusted[SUPPORT_DIR.resolve()]
            before = {p.name: p.read_bytes() for p in staged.iterdir() if p.is_file()}
            pr = await eng._sandbox(SandboxCommand(argv=["/bin/sh", "-c", ATTACK], limits=Limits(
                5000, 5000, 256 << 20, 4096, 16, 1 << 20), binds=[Bind(SUPPORT_DIR, "/t")]))
            after = {p.name: p.read_bytes() for p in staged.iterdir() if p.is_file()}
            out["attack"] = [pr.exit_code, pr.sandbox_failure, pr.stdout.decode(), before == after, len(before)]
        finally:
            await eng.stop()
        print(json.dumps(out))

    asyncio.run(main())
''')


@pytest.mark.slow
@pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed")
def test_service_installed_in_a_0700_home_runs_python_and_java(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("runs use other uids (and a 0700 home matters) only when the service is root")
    home = tmp_path / "root-home"
    package = home / "src" / "codeeval" / "sandbox"
    shutil.copytree(INSTALLATION, package, ignore=shutil.ignore_patterns("__pycache__"))
    home.chmod(0o700)
    env = {**os.environ, "PYTHONPATH": str(home / "src"), "CODEEVAL_SANDBOX_BACKEND": "bubblewrap"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["installation"].startswith(str(home)), out  # the copy in the 0700 home is what ran
    assert out["python"][0] == "PASSED", out
    assert out["java"][0] == "PASSED" and out["java"][2] == "42", out
    code, failure, stdout, unchanged, files = out["attack"]
    assert failure == "" and unchanged and files > 0, out
    assert "read-the-installation" not in stdout, out  # the installation itself is not visible
