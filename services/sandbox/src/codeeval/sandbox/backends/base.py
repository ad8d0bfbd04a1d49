"""The isolation-backend interface every backend implements and the conformance suite checks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from codeeval.sandbox.model import Limits, ProcessResult

if TYPE_CHECKING:
    from codeeval.sandbox.backends.cgroups import RunStats

#: Inside every sandbox: the writable, size-capped work dir (also the cwd and $HOME).
WORK_DIR = "/tmp"


@dataclass(frozen=True)
class Bind:
    """A host directory visible in the sandbox at ``target`` (read-only unless ``writable``)."""

    host: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class ZygoteProgram:
    """A judged Python run a backend with a warm zygote (bubblewrap as root, ``python_zygote`` on)
    may run instead of ``SandboxCommand.argv``: the zygote forks a fresh sandbox that imports
    ``source`` as ``__main__`` and answers the judge on the inherited fd ``channel``. ``binds`` are
    the trusted directories the zygote itself needs (the support and worker dirs, the same for
    every run of a service). Other backends ignore it and run ``argv``."""

    source: str
    channel: int
    binds: tuple[Bind, ...]


@dataclass
class SandboxCommand:
    """One command to run in a fresh sandbox.

    ``limits`` are effective (no zeros). ``output_hard_bytes`` ends the run as over the output limit;
    ``limits.output_bytes`` of each stream are kept. ``limit_address_space`` is False for runtimes
    that reserve far more virtual memory than they use (the JVM, mono); memory is then bounded by the
    cgroup (and the runtime's own heap flag).
    """

    argv: list[str]
    limits: Limits
    binds: list[Bind] = field(default_factory=list)
    stdin: bytes = b""
    env: dict[str, str] = field(default_factory=dict)
    work_dir_bytes: int = 64 << 20
    output_hard_bytes: int = 1 << 20
    limit_address_space: bool = True
    #: Host fds the sandboxed process inherits at the same numbers (the Python judge's channel);
    #: the caller keeps and closes them.
    pass_fds: tuple[int, ...] = ()
    #: The same run for a backend's Python zygote (see ZygoteProgram), when the runner offers one.
    zygote: ZygoteProgram | None = None


def map_paths(argv: list[str], mapping: dict[str, str]) -> list[str]:
    """Rewrite sandbox paths (``mapping`` keys, also inside ``:``-separated lists such as a class
    path) to where a backend without bind mounts makes those directories visible."""
    ordered = sorted(mapping.items(), key=lambda kv: -len(kv[0]))

    def one(part: str) -> str:
        for target, host in ordered:
            if part == target or part.startswith(target + "/"):
                return host + part[len(target):]
        return part

    return [":".join(one(p) for p in arg.split(":")) for arg in argv]


class Backend(Protocol):
    """An isolation backend. ``execute`` never raises for anything the program does; a failure of the
    sandbox itself is reported in ``ProcessResult.sandbox_failure``.

    The executor uses a backend only through these members. A backend class subclasses this protocol to
    inherit the defaults of the optional ones (``passes_fds``, ``bind_workspace``, ``bind_trusted``,
    ``warm``): right for a backend that runs on the host's file system and starts each run fresh.
    """

    name: str
    #: Whether a run inherits host fds (``SandboxCommand.pass_fds``). False: the Python judge's channel
    #: is a socket in the run directory instead.
    passes_fds: bool = True

    def version(self) -> str: ...

    def describe(self) -> dict[str, str]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def execute(self, cmd: SandboxCommand) -> ProcessResult: ...

    def bind_workspace(self, path: Path) -> None:
        """Called before :meth:`start` with the host directory holding every run's files. Default:
        nothing (the runs see the host's paths)."""
        return None

    def bind_trusted(self, path: Path) -> None:
        """Called before :meth:`start` with the host directory holding the staged trusted files.
        Default: nothing."""
        return None

    async def warm(self, limits: Limits, work_dir_bytes: int) -> None:
        """Called after :meth:`start` with the default limits, so that first runs pay no start-up.
        Default: nothing (nothing is pooled)."""
        return None


TAIL_BYTES = 512


class StreamCollector:
    """Reads one stream to EOF keeping the first ``keep`` bytes and the last TAIL_BYTES; sets
    ``exceeded`` (and calls ``on_exceed`` once) when more than ``hard`` bytes arrive."""

    def __init__(self, keep: int, hard: int, on_exceed: object) -> None:
        self.keep, self.hard, self.on_exceed = keep, hard, on_exceed
        self.head = bytearray()
        self.tail = b""
        self.total = 0
        self.exceeded = False

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                return
            self.feed(chunk)

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += chunk[:room]
        self.tail = (self.tail + chunk)[-TAIL_BYTES:]
        if self.total > self.hard and not self.exceeded:
            self.exceeded = True
            if callable(self.on_exceed):
                self.on_exceed()

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head)


def finished_result(code: int, sig: int, out: StreamCollector, err: StreamCollector, *, timed_out: bool,
                    stats: RunStats, wall_ms: int, cpu_limit_ms: int) -> ProcessResult:
    """A finished run's ProcessResult from its two streams and its cgroup's stats. A wall-time kill
    is not a timeout when an output limit caused it; a SIGXCPU or SIGKILL with the CPU time at the
    limit is a CPU-limit kill, not a wall-time one."""
    result = ProcessResult(
        exit_code=code, signal=sig, stdout=bytes(out.head), stderr=bytes(err.head),
        stdout_truncated=out.truncated, stderr_truncated=err.truncated, stderr_tail=err.tail,
        output_exceeded=out.exceeded or err.exceeded, timed_out=timed_out and not (out.exceeded or err.exceeded),
        oom_killed=stats.oom_killed, wall_time_ms=wall_ms, cpu_time_ms=stats.cpu_time_ms,
        peak_memory_bytes=stats.peak_memory_bytes,
    )
    result.cpu_exceeded = sig in (24, 9) and stats.cpu_time_ms >= cpu_limit_ms - 50 and not timed_out
    return result
