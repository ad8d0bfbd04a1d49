"""unshare backend: per-run namespaces and a chroot jail, no mounts, for gVisor (runsc) pods.

Under the runsc measured here (SANDBOX.md) bubblewrap cannot start: /proc/sys/kernel/overflowuid
is missing, a new network namespace's loopback cannot be configured, and mounts inside a user
namespace are refused. User, pid, network, ipc and uts namespaces and chroot do work, so a run gets:
- an unprivileged host uid: the slot's uid via setpriv when the service is root (as bubblewrap),
  else the service's own uid (the pod's);
- util-linux ``unshare``: a user namespace where the run is uid/gid 65534 with no capabilities, a
  pid namespace (its init is ``sandbox_init``, so the whole tree ends with the run), a network
  namespace with no interface at all, ipc and uts namespaces;
- a chroot into ``jail``: a tree holding only the toolchains (``usr``, the /etc directories they
  read, bin/lib symlinks: deploy/sandbox/make-jail.sh) and a writable ``tmp``, which is the run's
  work dir (cwd, $HOME, $TMPDIR), as /tmp is in the other backends. The service's code, settings,
  workspace and secrets are outside it. There is no /proc and no /dev inside; ``$LD_LIBRARY_PATH``
  points at the JDK's libraries because ``$ORIGIN`` needs /proc;
- a *copy* of each of its binds (under /tmp/.codeeval), so it cannot change what another run
  reads; output binds (javac's class directory) are copied back after the run. The jail's tmp is
  emptied after every run, so nothing a run leaves reaches a later one. Runs therefore take the
  jail one at a time: scale with replicas (one pod runs one program at a time);
- the seccomp filter (``seccomp_filter``, which also forbids new namespaces: a nested user namespace
  would give back the capability to leave the chroot), loaded by ``sandbox_init`` just before the
  candidate; rlimits as in the bubblewrap backend; cgroups only where writable (never in a pod).

The work dir is bounded by ``work_dir_bytes`` per run: a watchdog (``memwatch.DiskWatch``) sums
what the jail's tmp holds (statvfs when it is a volume of its own, as the pod's size-capped
emptyDir is; else a walk) and stops the run past the limit, RLIMIT_FSIZE bounding each file in
between samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from codeeval.sandbox.backends import cgroups, sandbox_init
from codeeval.sandbox.backends.base import WORK_DIR, SandboxCommand, map_paths
from codeeval.sandbox.backends.bubblewrap import BASE_ENV, BubblewrapBackend
from codeeval.sandbox.backends.memwatch import DiskWatch, Watch, is_tmpfs_mount
from codeeval.sandbox.model import ProcessResult

#: Every run is this uid/gid inside its user namespace.
INNER_ID = 65534
#: Under the jail's tmp: the run's copies of its binds and the service's helper files.
STAGE = ".codeeval"
JAIL_LAYOUT = ("usr/bin", "tmp")


class UnshareBackend(BubblewrapBackend):
    """Runs commands with ``unshare`` chrooted into ``jail``, one at a time (whatever ``slots`` is:
    the jail's tmp is the run's work dir). ``uid_base`` as in the bubblewrap backend."""

    name = "unshare"
    tool = "unshare"
    setup_error_prefix = (b"unshare: ", b"setpriv: ", b"sandbox_init: ")  # type: ignore[assignment]
    has_shm = False  # the jail has no /dev

    def __init__(self, *, jail: str | Path, slots: int = 1, uid_base: int = 61000, use_seccomp: bool = True,
                 use_cgroups: bool = True, unshare: str = "unshare") -> None:
        super().__init__(slots=1, uid_base=uid_base, use_seccomp=use_seccomp, use_cgroups=use_cgroups)
        self.unshare = shutil.which(unshare) or unshare
        self.jail = Path(jail)
        self.tmp = self.jail / "tmp"
        self.library_path = ""
        self._staged_bytes = 0

    def version(self) -> str:
        out = subprocess.run([self.unshare, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip().rsplit(" ", 1)[-1]

    def describe(self) -> dict[str, str]:
        return {
            "unshare": self.version(), "jail": str(self.jail), "runs": "one at a time",
            "cgroups": self.cgroups.describe() if self.cgroups else "none (rlimits only)",
            "seccomp": "on" if self.seccomp_path else "off",
            "host_uid": f"{self.uid_base}+slot" if self.is_root else str(os.geteuid()),
            "read_only_inputs": "root's, 0644" if self.is_root else "the run's own uid: read-only by mode only",
            "work_dir_bound": f"watchdog ({'tmpfs statvfs' if is_tmpfs_mount(self.tmp) else 'walk'})",
        }

    def _check(self) -> None:
        if not Path(self.unshare).exists():
            raise RuntimeError(f"unshare not found ({self.unshare}); apt-get install util-linux")
        if "--map-user" not in subprocess.run([self.unshare, "--help"], capture_output=True, text=True,
                                              timeout=10).stdout:
            raise RuntimeError(f"{self.unshare} lacks --map-user (util-linux 2.38 or later needed)")
        for part in JAIL_LAYOUT:
            if not (self.jail / part).is_dir():
                raise RuntimeError(f"jail {self.jail} has no {part}/ (build it as deploy/sandbox/Dockerfile does)")
        if not os.access(self.tmp, os.W_OK | os.X_OK):
            raise RuntimeError(f"the jail's tmp ({self.tmp}) is not writable by uid {os.geteuid()}")
        libs = sorted(p for p in self.jail.glob("usr/lib/jvm/*/lib") if (p / "libjli.so").exists())
        self.library_path = ":".join("/" + str(p.relative_to(self.jail)) for p in libs)

    async def start(self) -> None:
        await super().start()
        self._clean_tmp()

    async def execute(self, cmd: SandboxCommand) -> ProcessResult:
        assert self._uids is not None, "start() first"
        uid = await self._uids.get()
        try:
            try:
                await asyncio.to_thread(self._stage, cmd, uid)
            except OSError as exc:
                return ProcessResult(exit_code=-1, sandbox_failure=f"could not stage the run's files: {exc}")
            result = await self._execute(cmd, uid)
            try:
                await asyncio.to_thread(self._collect, cmd)
            except OSError as exc:
                result.sandbox_failure = result.sandbox_failure or f"could not collect the run's output: {exc}"
            return result
        finally:  # the jail is free again only once it is empty, even if this call is cancelled
            clean = asyncio.ensure_future(asyncio.to_thread(self._clean_tmp))
            clean.add_done_callback(lambda _: self._uids.put_nowait(uid))  # type: ignore[union-attr]
            await asyncio.shield(clean)

    def _watches(self, cmd: SandboxCommand, pid: int, kill: Callable[[], None],
                 cg: cgroups.RunCgroup | None) -> list[Watch]:
        """The memory watchdog (without cgroups) and the work dir's: the jail's tmp holds at most
        ``work_dir_bytes`` beyond what was staged in it."""
        return [*super()._watches(cmd, pid, kill, cg),
                DiskWatch(self.tmp, cmd.work_dir_bytes, kill, staged=self._staged_bytes)]

    def _stage(self, cmd: SandboxCommand, uid: int) -> None:
        """The run's files in the (empty) jail tmp: the helpers and a copy of each bind.

        As root: ``tmp`` is root's, group the run's gid, mode 1770 (the run creates files there but,
        by the sticky bit, cannot rename or delete ``.codeeval``); ``.codeeval``, the helpers and the
        copies of read-only binds are root's, dirs 0755 and files 0644, so the run can read them and
        cannot change them (a class it has yet to load, say); only copies of writable binds are the
        run's. Not root (a pod: the run has the service's uid), the copies are the service's files and
        only their modes say read-only (see the README's residual risks).
        """
        stage = self.tmp / STAGE
        stage.mkdir(mode=0o755)
        shutil.copyfile(sandbox_init.__file__, stage / "init.py")
        if self.seccomp_path is not None:
            shutil.copyfile(self.seccomp_path, stage / "filter.bpf")
        for i, b in enumerate(cmd.binds):
            shutil.copytree(b.host, stage / str(i), symlinks=True)
        for p in [stage, *stage.rglob("*")]:
            if not p.is_symlink():
                p.chmod(0o755 if p.is_dir() or p.stat().st_mode & stat.S_IXUSR else 0o644)
        for i, b in enumerate(cmd.binds):
            if b.writable:
                out = stage / str(i)
                for p in [out, *out.rglob("*")]:
                    if self.is_root:
                        os.lchown(p, uid, uid)
                    if p.is_dir() and not p.is_symlink():
                        p.chmod(0o755)
        if self.is_root:
            os.chown(self.tmp, 0, uid)
            self.tmp.chmod(0o1770)
        self._staged_bytes = sum(p.lstat().st_blocks * 512 for p in [stage, *stage.rglob("*")])

    def _collect(self, cmd: SandboxCommand) -> None:
        """Copy output binds back (javac's classes) without following anything the run created."""
        for i, b in enumerate(cmd.binds):
            if b.writable:
                out = self.tmp / STAGE / str(i)
                if out.is_symlink() or not out.is_dir():  # the run replaced it: never follow out of the jail
                    raise OSError(f"{b.target} is no longer a directory")
                _empty(b.host)
                shutil.copytree(out, b.host, symlinks=True, dirs_exist_ok=True)

    def _clean_tmp(self) -> None:
        """Empty the jail's tmp (whatever the run left there, with whatever modes it set)."""
        _empty(self.tmp)
        if self.is_root:
            os.chown(self.tmp, 0, 0)
            self.tmp.chmod(0o711)

    def _argv(self, cmd: SandboxCommand, uid: int, seccomp_fd: int | None) -> list[str]:
        stage = f"{WORK_DIR}/{STAGE}"
        mapping = {b.target: f"{stage}/{i}" for i, b in enumerate(cmd.binds)}
        env = {**BASE_ENV, **cmd.env}
        if self.library_path:
            env["LD_LIBRARY_PATH"] = self.library_path
        argv = [*self._drop_root(uid), self.unshare, "--user", f"--map-user={INNER_ID}", f"--map-group={INNER_ID}",
                "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts", f"--root={self.jail}",
                f"--wd={WORK_DIR}", "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()),
                "/usr/bin/python3", "-I", "-S", f"{stage}/init.py"]
        if self.seccomp_path is not None:
            argv.append(f"{stage}/filter.bpf")
        return [*argv, "--", *map_paths(cmd.argv, mapping)]


def _remove(path: Path) -> None:
    """Delete ``path`` whatever modes and depth the run left on it (it may chmod its own files)."""
    stack, dirs = [path], []
    while stack:
        p = stack.pop()
        try:
            if not stat.S_ISDIR(os.lstat(p).st_mode):
                p.unlink()
                continue
            os.chmod(p, stat.S_IRWXU)
            dirs.append(p)
            stack.extend(p / name for name in os.listdir(p))
        except OSError:
            continue
    for d in reversed(dirs):
        with contextlib.suppress(OSError):
            d.rmdir()


def _empty(path: Path) -> None:
    for entry in list(path.iterdir()):
        _remove(entry)
