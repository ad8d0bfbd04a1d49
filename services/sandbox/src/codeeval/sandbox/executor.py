"""The sandbox core (grpc-free): validation, limits, bounded concurrency with a queue, deadlines,
retries of SANDBOX_ERROR, time calibration and batching. The servicer only translates messages.

Concurrency: at most ``max_concurrency`` sandboxes run at once; up to ``max_queue`` further
programs wait; a request that would exceed that gets RESOURCE_EXHAUSTED before anything runs.
Deadlines: ``time_remaining`` (seconds, from the RPC) bounds every run's wall limit, so no run
outlives its call.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from codeeval.kit.errors import DeadlineExceeded, InvalidArgument, ResourceExhausted, check_max, require
from codeeval.sandbox.backends import uids
from codeeval.sandbox.backends.base import Backend, SandboxCommand
from codeeval.sandbox.model import (
    CalibrationRecord,
    Language,
    Limits,
    Mode,
    Outcome,
    ProcessResult,
    RunRequest,
    RunResult,
)
from codeeval.sandbox.runners.base import INSTALLATION, TRUSTED_DIRS
from codeeval.sandbox.runners.csharp import CSharpRunner
from codeeval.sandbox.runners.java import JavaRunner
from codeeval.sandbox.runners.python import PythonRunner, validate_table
from codeeval.sandbox.runners.workspace import Workspace
from codeeval.sandbox.settings import SandboxSettings

log = logging.getLogger("codeeval.sandbox")
DEADLINE_MARGIN_S = 0.3
PROBE = RunRequest(Language.PYTHON, "def probe():\n    return 42\n", "def check(f):\n    assert f() == 42\n", "probe")


@dataclass
class LanguageInfo:
    language: Language
    toolchain: list[tuple[str, str]]
    modes: list[Mode]
    notes: str = ""


@dataclass
class Capabilities:
    backend: str
    backend_version: str
    backend_details: dict[str, str]
    languages: list[LanguageInfo] = field(default_factory=list)


def make_backend(settings: SandboxSettings, uid_base: int | None = None) -> Backend:
    """The configured backend; ``uid_base``: the first slot uid of this instance's claimed block."""
    uid_base = settings.uid_base if uid_base is None else uid_base
    if settings.backend == "docker":
        from codeeval.sandbox.backends.docker import DockerBackend

        return DockerBackend(image=settings.docker_image, runtime=settings.docker_runtime,
                             pool_size=max(settings.docker_pool_size, 1), slots=settings.max_concurrency)
    if settings.backend == "unshare":
        from codeeval.sandbox.backends.unshare import UnshareBackend

        return UnshareBackend(jail=settings.jail_dir, slots=settings.max_concurrency, uid_base=uid_base,
                              use_seccomp=settings.seccomp, use_cgroups=settings.cgroups)
    from codeeval.sandbox.backends.bubblewrap import BubblewrapBackend

    return BubblewrapBackend(slots=settings.max_concurrency, uid_base=uid_base,
                             use_seccomp=settings.seccomp, use_cgroups=settings.cgroups,
                             python_zygote=settings.python_zygote)


#: Top-level names a runner writes itself in the run directory (an extra file may not take them).
RESERVED_NAMES = ("main.py",)
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024


def _validate_extra_paths(req: RunRequest, p: str) -> None:
    """Each extra file's path is a plain relative POSIX path (``a/b.txt``): non-empty, UTF-8, no NUL,
    no ``.``/``..``/empty segments, not absolute, components of at most 255 bytes and at most 1024
    bytes in all, not a runner's own file, unique, and never both a file and a directory of another
    (``a`` beside ``a/b``). Java sources share one directory per candidate, so their file names
    must differ too. Raises InvalidArgument naming ``{p}.extra_files[i].path``."""
    seen: dict[str, int] = {}
    java_names: dict[str, int] = {}
    for i, (path, _) in enumerate(req.extra_files):
        field_ = f"{p}.extra_files[{i}].path"
        require(bool(path), field_, "must not be empty")
        require("\0" not in path, field_, "must not contain NUL bytes")
        try:
            size = len(path.encode())
        except UnicodeEncodeError:
            raise InvalidArgument("must be valid UTF-8", field=field_) from None
        check_max(field_, size, MAX_PATH_BYTES, "bytes")
        require(not path.startswith("/"), field_, f"{path!r} must be relative, not absolute")
        parts = path.split("/")
        for part in parts:
            require(part not in ("", ".", ".."), field_,
                    f"{path!r} must be a plain relative path (no empty, '.' or '..' segments)")
            require(len(part.encode()) <= MAX_NAME_BYTES, field_,
                    f"a path component of {len(part.encode())} bytes exceeds the maximum of {MAX_NAME_BYTES} bytes")
        require(parts[0] not in RESERVED_NAMES, field_, f"{parts[0]!r} is the runner's own file")
        if path in seen:
            raise InvalidArgument(f"{path!r} duplicates extra_files[{seen[path]}].path", field=field_)
        for k in range(1, len(parts)):
            parent = "/".join(parts[:k])
            if parent in seen:
                raise InvalidArgument(f"{path!r} needs {parent!r} as a directory, but extra_files[{seen[parent]}] "
                                      "is a file of that name", field=field_)
        seen[path] = i
        if req.language is Language.JAVA and parts[-1].endswith(".java"):
            if parts[-1] in java_names:
                raise InvalidArgument(f"Java sources are compiled from one directory: {parts[-1]!r} is also "
                                      f"extra_files[{java_names[parts[-1]]}]", field=field_)
            java_names[parts[-1]] = i
    for path, i in seen.items():
        prefix = path + "/"
        clash = next((j for other, j in seen.items() if other.startswith(prefix)), None)
        if clash is not None:
            raise InvalidArgument(f"{path!r} is a file but extra_files[{clash}] needs it as a directory",
                                  field=f"{p}.extra_files[{i}].path")


def duplicates(reqs: list[RunRequest]) -> dict[int, int]:
    """{position: the earlier position of an identical request} (the same program, test, inputs and
    limits; only the id differs): a batch runs each distinct program once and reports its result
    for every copy. Sampled completions repeat (low temperature, short answers), and a verdict is
    a function of the program, up to what the program itself draws at random."""
    first: dict[RunRequest, int] = {}
    out: dict[int, int] = {}
    for i, r in enumerate(reqs):
        j = first.setdefault(replace(r, id=""), i)
        if j != i:
            out[i] = j
    return out


class Executor:
    def __init__(self, settings: SandboxSettings, backend: Backend | None = None) -> None:
        self.settings = settings
        #: This instance's slot uids (root only): a block no other instance on the host holds.
        self.uids = (uids.claim(settings.uid_base, settings.max_concurrency, Path(settings.uid_lock_dir),
                                settings.uid_blocks) if os.geteuid() == 0
                     else uids.UidBlock(settings.uid_base, None, None))
        self.backend = backend or make_backend(settings, self.uids.base)
        self.workspace = Workspace(Path(settings.workspace_dir) if settings.workspace_dir else None)
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._admitted = 0
        args = (self._sandbox, self.workspace, settings.work_dir_bytes, settings.output_hard_bytes)
        self.runners: dict[Language, PythonRunner | JavaRunner | CSharpRunner] = {
            Language.PYTHON: PythonRunner(*args, judge_slots=settings.max_concurrency, uid_base=self.uids.base,
                                          channel_by_path=not self.backend.passes_fds,
                                          zygote=lambda: bool(getattr(self.backend, "python_zygote", False))),
            Language.JAVA: JavaRunner(*args, runtime_image=self.backend.name != "unshare")}  # unshare copies binds
        self._csharp = CSharpRunner(*args)
        self.capabilities: Capabilities | None = None
        self.started = False

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Stage the trusted files, start the backend, compile the launchers, record toolchains.
        Raises RuntimeError (with the reason) if runs could not work."""
        await asyncio.to_thread(self.workspace.check_reachable)
        await asyncio.to_thread(self._stage_trusted)
        self.backend.bind_workspace(self.workspace.base)
        self.backend.bind_trusted(self.workspace.trusted_base)
        await self.backend.start()
        java = self.runners[Language.JAVA]
        assert isinstance(java, JavaRunner)
        await asyncio.to_thread(java.prepare)
        if await asyncio.to_thread(self._csharp.available):
            self.runners[Language.CSHARP] = self._csharp
        await self.backend.warm(self.settings.default_limits(), self.settings.work_dir_bytes)
        self.capabilities = await asyncio.to_thread(self._describe)
        self.started = True

    def _stage_trusted(self) -> None:
        """Copy the trusted files where every run uid can read and none can write them (once)."""
        if not self.workspace.trusted:
            self.workspace.stage_trusted(TRUSTED_DIRS)

    async def stop(self) -> None:
        python = self.runners[Language.PYTHON]
        assert isinstance(python, PythonRunner)
        await asyncio.to_thread(python.close)
        await self.backend.stop()
        self.workspace.close()
        self.uids.release()

    def _describe(self) -> Capabilities:
        details = self.backend.describe()
        caps = Capabilities(self.backend.name, self.backend.version(), details)
        for lang, runner in self.runners.items():
            modes = [Mode.RUN_TESTS, Mode.COMPILE_ONLY, Mode.RUN]
            notes = "mono mcs: C# 7.2 at most (no records, no switch expressions)" if lang is Language.CSHARP else ""
            caps.languages.append(LanguageInfo(lang, runner.toolchain(), modes, notes))
        return caps

    async def readiness(self) -> str | None:
        """None when a real probe program passes in the sandbox, else why not."""
        if not self.started:
            return "sandbox backend starting"
        result = await self.execute(PROBE)
        if result.outcome is not Outcome.PASSED:
            return f"probe run ended in {result.outcome.value}: {result.detail}"
        return None

    # -- validation ------------------------------------------------------------------------------

    def validate(self, req: RunRequest, where: str = "") -> None:
        """Raise InvalidArgument naming the offending field (prefixed by ``where``)."""
        s = self.settings
        p = f"{where}program"
        require(req.language in self.runners, f"{p}.language",
                f"{req.language.value} is not supported here; supported: {', '.join(x.value for x in self.runners)}")
        require(bool(req.source.strip()), f"{p}.source", "must not be empty")
        for name, value in (("source", req.source), ("test", req.test)):
            check_max(f"{p}.{name}", len(value.encode()), s.max_source_bytes, "bytes")
        check_max(f"{p}.stdin", len(req.stdin), s.max_source_bytes, "bytes")
        check_max(f"{p}.extra_files", len(req.extra_files), s.max_extra_files, "files")
        _validate_extra_paths(req, p)
        for i, (_, text) in enumerate(req.extra_files):
            check_max(f"{p}.extra_files[{i}].content", len(text.encode()),
                      s.max_source_bytes, "bytes")
        if req.entry_point:
            require(req.entry_point.replace("_", "a").replace(".", "a").isalnum(), f"{p}.entry_point",
                    "must be an identifier")
        require(req.table is None or req.language is Language.PYTHON, f"{p}.table", "only Python takes an input table")
        validate_table(req, where, s.max_source_bytes)
        maxima = s.max_limits()
        for limit, amount in req.limits.as_dict().items():
            check_max(f"{where}limits.{limit}", amount, getattr(maxima, limit))
        if req.calibration is not None:
            c = req.calibration
            require(bool(c.reference_source.strip()), f"{where}calibration.reference_source", "must not be empty")
            check_max(f"{where}calibration.reference_source", len(c.reference_source.encode()),
                      s.max_source_bytes, "bytes")
            require(0 <= c.factor <= 100, f"{where}calibration.factor", "must be between 0 and 100")
            check_max(f"{where}calibration.floor_ms", c.floor_ms, s.max_wall_time_ms, "ms")

    # -- execution -------------------------------------------------------------------------------

    async def _sandbox(self, cmd: SandboxCommand) -> ProcessResult:
        """Run ``cmd`` in a free slot, its binds of installation directories served from the staged copies."""
        try:
            self._stage_trusted()
            cmd.binds = self.workspace.resolve_binds(cmd.binds, INSTALLATION)
        except (PermissionError, ValueError) as exc:
            return ProcessResult(exit_code=-1, sandbox_failure=f"refused bind: {exc}")
        async with self._slots:
            return await self.backend.execute(cmd)

    def _admit(self, n: int) -> None:
        capacity = self.settings.max_concurrency + self.settings.max_queue
        if self._admitted + n > capacity:
            raise ResourceExhausted(f"{self._admitted} programs admitted, {n} more would exceed the capacity of "
                                    f"{capacity} (max_concurrency {self.settings.max_concurrency} + max_queue "
                                    f"{self.settings.max_queue}); retry later")
        self._admitted += n

    def _limits(self, req: RunRequest, deadline: float | None) -> Limits:
        limits = req.limits.with_defaults(self.settings.default_limits())
        if deadline is not None:
            left_ms = int((deadline - time.monotonic() - DEADLINE_MARGIN_S) * 1000)
            if left_ms <= 0:
                raise DeadlineExceeded("the call's deadline leaves no time to run the program")
            if left_ms < limits.wall_time_ms:
                limits = Limits(**{**limits.as_dict(), "wall_time_ms": left_ms})
        return limits

    async def execute(self, req: RunRequest, time_remaining: float | None = None) -> RunResult:
        """Run one program (validated here) with retries and calibration."""
        self.validate(req)
        self._admit(1)
        try:
            deadline = time.monotonic() + time_remaining if time_remaining is not None else None
            return await self._run_one(req, deadline, {})
        finally:
            self._admitted -= 1

    async def execute_batch(self, reqs: list[RunRequest], time_remaining: float | None = None
                            ) -> AsyncIterator[tuple[int, RunResult]]:
        """Run many programs; yields (position, result) as each is known. Java programs compile together;
        identical programs run once (``duplicates``; ``dedupe_batch``), their copies yielded with it."""
        require(bool(reqs), "requests", "must hold at least one request")
        check_max("requests", len(reqs), self.settings.max_batch_size, "requests")
        for i, r in enumerate(reqs):
            self.validate(r, f"requests[{i}].")
        self._admit(len(reqs))
        remaining = len(reqs)
        try:
            deadline = time.monotonic() + time_remaining if time_remaining is not None else None
            async for i, res in self._batch(reqs, deadline):
                remaining -= 1
                self._admitted -= 1
                yield i, res
        finally:
            self._admitted -= remaining

    async def _batch(self, reqs: list[RunRequest], deadline: float | None) -> AsyncIterator[tuple[int, RunResult]]:
        queue: asyncio.Queue[tuple[int, RunResult] | BaseException] = asyncio.Queue()
        calibrations: dict[str, asyncio.Future[CalibrationRecord | None]] = {}
        copies = duplicates(reqs) if self.settings.dedupe_batch else {}
        unique = [i for i in range(len(reqs)) if i not in copies]
        java = [i for i in unique if reqs[i].language is Language.JAVA and reqs[i].calibration is None]
        others = [i for i in unique if i not in set(java)]
        copies_of: dict[int, list[int]] = {}
        for j, i in copies.items():
            copies_of.setdefault(i, []).append(j)

        async def one(i: int) -> None:
            queue.put_nowait((i, await self._run_one(reqs[i], deadline, calibrations)))

        async def java_batch() -> None:
            runner = self.runners[Language.JAVA]
            assert isinstance(runner, JavaRunner)
            limits = [self._limits(reqs[i], deadline) for i in java]
            async for k, res in runner.run_batch([reqs[i] for i in java], limits):
                i = java[k]
                if res.outcome is Outcome.SANDBOX_ERROR and self.settings.retries:
                    res = await self._run_one(reqs[i], deadline, calibrations, first_attempts=1)
                queue.put_nowait((i, self._finish(reqs[i], res)))

        async def guarded(coro: object) -> None:
            try:
                await coro  # type: ignore[misc]
            except BaseException as exc:  # noqa: BLE001 - re-raised by the consumer below
                queue.put_nowait(exc)

        tasks = [asyncio.create_task(guarded(one(i))) for i in others]
        if java:
            tasks.append(asyncio.create_task(guarded(java_batch())))
        try:
            for _ in range(len(unique)):
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                i, res = item
                for j in copies_of.get(i, ()):
                    yield j, replace(res, id=reqs[j].id)
        finally:
            for t in tasks:
                t.cancel()

    def _finish(self, req: RunRequest, res: RunResult) -> RunResult:
        res.id = req.id
        res.backend = self.backend.name
        return res

    async def _run_one(self, req: RunRequest, deadline: float | None,
                       calibrations: dict[str, asyncio.Future[CalibrationRecord | None]],
                       first_attempts: int = 0) -> RunResult:
        record = None
        if req.calibration is not None:
            record = await self._calibrate(req, deadline, calibrations)
            if record is not None and not record.reference_failed:
                req = req.evolve(limits=Limits(**{**req.limits.as_dict(), "wall_time_ms": record.wall_time_ms}))
        runner = self.runners[req.language]
        attempts = first_attempts
        while True:
            attempts += 1
            res = await runner.run(req, self._limits(req, deadline))
            if res.outcome is not Outcome.SANDBOX_ERROR or attempts > self.settings.retries:
                break
            log.warning("sandbox error, retrying", extra={"fields": {"id": req.id, "detail": res.detail}})
        res.attempts = attempts
        res.calibration = record
        return self._finish(req, res)

    async def _calibrate(self, req: RunRequest, deadline: float | None,
                         cache: dict[str, asyncio.Future[CalibrationRecord | None]]) -> CalibrationRecord:
        """Run the reference once per (language, reference, test) and derive the wall limit from it."""
        assert req.calibration is not None
        c = req.calibration
        factor = c.factor or self.settings.calibration_factor
        floor = c.floor_ms or self.settings.calibration_floor_ms
        key = hashlib.sha256("\0".join([req.language.value, c.reference_source, req.test, req.entry_point,
                                        str(factor), str(floor)]).encode()).hexdigest()
        if key not in cache:
            cache[key] = asyncio.get_running_loop().create_future()
            ref = req.evolve(source=c.reference_source, calibration=None, mode=Mode.RUN_TESTS)
            res = await self._run_one(ref, deadline, {})
            if res.outcome is Outcome.PASSED:
                wall = min(self.settings.max_wall_time_ms, max(floor, int(factor * res.wall_time_ms)))
                rec = CalibrationRecord(res.wall_time_ms, factor, floor, wall)
            else:
                fallback = req.limits.wall_time_ms or self.settings.default_wall_time_ms
                rec = CalibrationRecord(res.wall_time_ms, factor, floor, fallback, reference_failed=True)
            cache[key].set_result(rec)
        cached = await cache[key]
        assert cached is not None
        return cached
