"""Docker backend (Docker SDK for Python): a warm pool of hardened containers; each run is an
``exec`` into one of them (~75 ms instead of ~0.2 s for a new container), then the container is
cleaned (every process of the sandbox user killed, /tmp and /dev/shm emptied whatever modes the run
left, emptiness checked) or replaced.

The container's pid 1 (``sleep``) runs as root with no capabilities, never as the candidates' uid:
a run (uid 65534) cannot signal it, ptrace it or write its memory through /proc/1/mem, so nothing
planted in the container outlives the run. Runs and the clean-up exec as 65534 (the clean-up
needs no privilege: the run's leftovers are 65534's own files and processes).

Container flags (all together, as measured in SANDBOX.md): no network, read-only root, tmpfs /tmp,
all capabilities dropped, no-new-privileges, pids/memory(+swap)/cpu limits, user nobody, nofile
and fsize ulimits; optionally the ``runsc`` runtime (gVisor, ptrace platform only: never kvm on
this machine kind). The image is built locally by deploy/sandbox-runtime/build.sh (no registry).

Files reach a run through the service's workspace, mounted at its own path (read-only in run
containers; writable only in compile containers, which run javac with ``-proc:none`` and so never
the candidate's code), and the staged trusted files (read-only, root's). Containers
are pooled per limits profile; per-run CPU and address-space limits are set with ``ulimit`` in the
exec. Peak memory, CPU time and OOM kills come from the container's v1 cgroup when the host
exposes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval.sandbox.backends.base import WORK_DIR, Backend, SandboxCommand, StreamCollector, map_paths
from codeeval.sandbox.model import Limits, ProcessResult

USER = "65534:65534"
#: pid 1 of every container: not the candidates' uid (capabilities are all dropped regardless).
INIT_USER = "0:0"
LABEL = "codeeval.sandbox"
#: As the candidates' uid: kill what the run left, then for every entry of /tmp and /dev/shm but
#: the mount points given as arguments (the workspace when it lies in /tmp): make it deletable (a
#: run may chmod 000 its dirs) and delete it; exit 0 only if nothing but those is left.
CLEANUP = """kill -9 -1 2>/dev/null
keep=" $* "
for e in /tmp/* /tmp/.[!.]* /tmp/..?* /dev/shm/* /dev/shm/.[!.]* /dev/shm/..?*; do
  [ -e "$e" ] || [ -L "$e" ] || continue
  case "$keep" in *" $e "*) continue ;; esac
  chmod -R u+rwx "$e" 2>/dev/null
  rm -rf "$e" 2>/dev/null
done
for e in /tmp/* /tmp/.[!.]* /tmp/..?* /dev/shm/* /dev/shm/.[!.]* /dev/shm/..?*; do
  [ -e "$e" ] || [ -L "$e" ] || continue
  case "$keep" in *" $e "*) continue ;; esac
  exit 1
done
exit 0
"""

@dataclass(frozen=True)
class Profile:
    memory_bytes: int
    max_processes: int
    max_file_bytes: int
    work_dir_bytes: int
    writable: bool


class DockerBackend(Backend):
    name = "docker"
    #: an exec cannot inherit host fds: the Python judge's channel is a socket in the run dir instead
    passes_fds = False

    def __init__(self, *, image: str, runtime: str = "", pool_size: int = 2, slots: int = 2,
                 workspace_dir: Path | None = None) -> None:
        if "kvm" in runtime:
            raise ValueError("gVisor's kvm platform hangs on this machine kind; use runsc with --platform=ptrace")
        self.image = image
        self.runtime = runtime
        self.pool_size = pool_size
        self.slots = slots
        self.workspace_dir = workspace_dir
        self.trusted_dir: Path | None = None
        self.client: Any = None
        self._pool: dict[Profile, list[Any]] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def version(self) -> str:
        return str(self.client.version().get("Version", "")) if self.client else ""

    def describe(self) -> dict[str, str]:
        return {"docker": self.version(), "image": self.image, "runtime": self.runtime or "runc",
                "warm_pool": str(self.pool_size)}

    def bind_workspace(self, path: Path) -> None:
        """The host directory holding every run's files (the executor's workspace)."""
        self.workspace_dir = path

    def bind_trusted(self, path: Path) -> None:
        """The host directory holding the staged trusted files (mounted read-only in every container)."""
        self.trusted_dir = path

    async def start(self) -> None:
        import docker

        try:
            self.client = await asyncio.to_thread(docker.from_env)
            await asyncio.to_thread(self.client.ping)
        except Exception as exc:  # noqa: BLE001 - the SDK raises several unrelated types
            raise RuntimeError(f"Docker engine unreachable: {exc}") from None
        try:
            await asyncio.to_thread(self.client.images.get, self.image)
        except Exception:  # noqa: BLE001
            raise RuntimeError(f"image {self.image} missing: build it with deploy/sandbox-runtime/build.sh") from None

    async def warm(self, limits: Limits, work_dir_bytes: int) -> None:
        """Fill the pool for the default limits' read-only profile so first runs pay no start-up
        (``pool_size`` containers created, seconds each)."""
        profile = Profile(limits.memory_bytes, limits.max_processes, limits.max_file_bytes, work_dir_bytes, False)
        containers = [await asyncio.to_thread(self._create, profile) for _ in range(self.pool_size)]
        with self._lock:
            self._pool.setdefault(profile, []).extend(containers)

    async def stop(self) -> None:
        with self._lock:
            containers = [c for cs in self._pool.values() for c in cs]
            self._pool.clear()
        for c in containers:
            await asyncio.to_thread(_remove, c)

    # -- containers ------------------------------------------------------------------------------

    def _create(self, p: Profile) -> Any:
        assert self.workspace_dir is not None, "bind_workspace() first"
        from docker.types import Ulimit

        mode = "rw" if p.writable else "ro"
        kwargs: dict[str, Any] = dict(
            command=["sleep", "infinity"], detach=True, network_mode="none", read_only=True,
            tmpfs={WORK_DIR: f"rw,exec,nosuid,size={p.work_dir_bytes},mode=1777"}, cap_drop=["ALL"],
            security_opt=["no-new-privileges"], pids_limit=p.max_processes, mem_limit=p.memory_bytes,
            memswap_limit=p.memory_bytes, nano_cpus=1_000_000_000, user=INIT_USER, working_dir=WORK_DIR,
            shm_size=min(p.memory_bytes, p.work_dir_bytes),
            ulimits=[Ulimit(name="fsize", soft=p.max_file_bytes, hard=p.max_file_bytes), Ulimit(name="core", soft=0,
                                                                                                  hard=0)],
            volumes={str(self.workspace_dir): {"bind": str(self.workspace_dir), "mode": mode},
                     **({str(self.trusted_dir): {"bind": str(self.trusted_dir), "mode": "ro"}}
                        if self.trusted_dir else {})},
            environment={"HOME": WORK_DIR, "LANG": "C.UTF-8"}, labels={LABEL: "1"}, hostname="sandbox",
        )
        if not self.runtime:
            kwargs["ulimits"].append(Ulimit(name="nofile", soft=256, hard=256))  # runsc dies with a nofile ulimit
        else:
            kwargs["runtime"] = self.runtime
        return self.client.containers.run(self.image, **kwargs)

    def _acquire(self, p: Profile) -> Any:
        with self._lock:
            pool = self._pool.get(p, [])
            if pool:
                return pool.pop()
        return self._create(p)

    def _release(self, p: Profile, container: Any, healthy: bool) -> None:
        if healthy:
            try:
                healthy = self._exec_simple(container, ["sh", "-c", CLEANUP, "sh", *self._mount_points()]) == 0
                container.reload()
                # pid 1 (sleep) reaps nothing: a run that left any process, even a zombie, retires the container
                healthy = (healthy and container.status == "running"
                           and len(container.top().get("Processes") or []) <= 1)
            except Exception:  # noqa: BLE001 - any doubt: replace the container
                healthy = False
        with self._lock:
            pool = self._pool.setdefault(p, [])
            if healthy and len(pool) < self.pool_size:
                pool.append(container)
                return
        _remove(container)

    def _mount_points(self) -> list[str]:
        """The entries of the containers' /tmp that are (or hold) this service's mounts: never cleaned."""
        out = []
        for d in (self.workspace_dir, self.trusted_dir):
            if d is not None and Path(d).is_relative_to(WORK_DIR) and Path(d) != Path(WORK_DIR):
                out.append(f"{WORK_DIR}/{Path(d).relative_to(WORK_DIR).parts[0]}")
        return out

    def _exec_simple(self, container: Any, argv: list[str]) -> int:
        """Run ``argv`` as the candidates' uid; its exit code."""
        return int(container.exec_run(argv, user=USER).exit_code)

    # -- one run ---------------------------------------------------------------------------------

    async def execute(self, cmd: SandboxCommand) -> ProcessResult:
        if cmd.pass_fds:  # an exec cannot hand host fds to a container (see passes_fds)
            return ProcessResult(exit_code=-1, sandbox_failure="the docker backend cannot pass fds into a container")
        return await asyncio.to_thread(self._execute, cmd)

    def _execute(self, cmd: SandboxCommand) -> ProcessResult:
        lim = cmd.limits
        writable = any(b.writable for b in cmd.binds)
        profile = Profile(lim.memory_bytes, lim.max_processes, lim.max_file_bytes, cmd.work_dir_bytes, writable)
        try:
            container = self._acquire(profile)
        except Exception as exc:  # noqa: BLE001
            return ProcessResult(exit_code=-1, sandbox_failure=f"could not start a container: {exc}")
        healthy = True
        try:
            return self._run_in(container, cmd)
        except Exception as exc:  # noqa: BLE001 - a broken container is a sandbox error, retried
            healthy = False
            return ProcessResult(exit_code=-1, sandbox_failure=f"docker exec failed: {exc}")
        finally:
            self._release(profile, container, healthy)

    def _run_in(self, container: Any, cmd: SandboxCommand) -> ProcessResult:
        lim = cmd.limits
        cpu_s = max(1, -(-lim.cpu_time_ms // 1000))
        ulimits = f"ulimit -t {cpu_s}; "
        if cmd.limit_address_space:
            ulimits += f"ulimit -v {lim.memory_bytes // 1024}; "
        mapped = map_paths(cmd.argv, {b.target: str(b.host) for b in cmd.binds})
        argv = ["sh", "-c", ulimits + 'exec "$@"', "sh", *mapped]
        cg = _ContainerCgroup(container.id)
        cg.reset()
        api = self.client.api
        exec_id = api.exec_create(container.id, argv, stdin=True, user=USER, workdir=WORK_DIR,
                                  environment={**cmd.env, "HOME": WORK_DIR, "TMPDIR": WORK_DIR})["Id"]
        sock = api.exec_start(exec_id, socket=True)
        raw: socket.socket = getattr(sock, "_sock", sock)
        killed = threading.Event()

        def kill() -> None:
            if not killed.is_set():
                killed.set()
                # Detached: called from the reader of the run's own stream, which must keep draining
                # (waiting for this exec while the daemon blocks on the unread stream hung a run).
                with contextlib.suppress(Exception):
                    container.exec_run(["kill", "-9", "-1"], user=USER, detach=True)

        out = StreamCollector(lim.output_bytes, cmd.output_hard_bytes, kill)
        err = StreamCollector(lim.output_bytes, cmd.output_hard_bytes, kill)
        start = time.monotonic()
        with contextlib.suppress(OSError):
            raw.sendall(cmd.stdin)
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)
        timer = threading.Timer(lim.wall_time_ms / 1000, kill)
        timer.start()
        try:
            _demux(raw, out, err)
        finally:
            timer.cancel()
            raw.close()
        info = api.exec_inspect(exec_id)
        for _ in range(50):
            if not info.get("Running"):
                break
            time.sleep(0.02)
            info = api.exec_inspect(exec_id)
        wall_ms = int((time.monotonic() - start) * 1000)
        code = info.get("ExitCode")
        code = -1 if code is None else int(code)
        stats = cg.read()
        timed_out = killed.is_set() and not (out.exceeded or err.exceeded)
        sig = code - 128 if 128 < code < 193 else 0
        return ProcessResult(
            exit_code=code, signal=sig, stdout=bytes(out.head), stderr=bytes(err.head),
            stdout_truncated=out.truncated, stderr_truncated=err.truncated, stderr_tail=err.tail,
            output_exceeded=out.exceeded or err.exceeded, timed_out=timed_out,
            cpu_exceeded=sig in (24, 9) and stats[1] >= lim.cpu_time_ms - 50 and not timed_out,
            oom_killed=stats[2], wall_time_ms=wall_ms, cpu_time_ms=stats[1], peak_memory_bytes=stats[0],
        )


def _demux(raw: socket.socket, out: StreamCollector, err: StreamCollector) -> None:
    """Read Docker's multiplexed exec stream (8-byte frame headers) into the collectors."""
    buf = b""
    while True:
        try:
            chunk = raw.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 8:
            kind, size = buf[0], struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + size:
                break
            payload, buf = buf[8:8 + size], buf[8 + size:]
            (err if kind == 2 else out).feed(payload)


class _ContainerCgroup:
    """The container's v1 cgroup on the host (cgroupfs driver): peak memory, CPU, OOM kills."""

    def __init__(self, cid: str) -> None:
        self.mem = Path(f"/sys/fs/cgroup/memory/docker/{cid}")
        self.cpu = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}")
        self.cpu0 = 0
        self.oom0 = 0

    def reset(self) -> None:
        with contextlib.suppress(OSError):
            (self.mem / "memory.max_usage_in_bytes").write_text("0")
        self.cpu0 = _int(self.cpu / "cpuacct.usage")
        self.oom0 = _oom(self.mem)

    def read(self) -> tuple[int, int, bool]:
        peak = _int(self.mem / "memory.max_usage_in_bytes")
        cpu_ms = max(0, _int(self.cpu / "cpuacct.usage") - self.cpu0) // 1_000_000
        return peak, cpu_ms, _oom(self.mem) > self.oom0


def _int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _oom(mem: Path) -> int:
    try:
        for line in (mem / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _remove(container: Any) -> None:
    with contextlib.suppress(Exception):
        container.remove(force=True)
