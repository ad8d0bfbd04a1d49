"""Bootstrap shared by all services: grpc.aio server, truthful health, reflection, interceptors,
auth, TLS, size limits, metrics, and graceful shutdown on SIGTERM/SIGINT.

A service package declares a ``codeeval.services`` entry point naming its bootstrap module, which
exposes ``SETTINGS`` (its settings class) and ``create(settings) -> Service`` (see
:mod:`codeeval.kit.discovery`); :func:`run` does the rest.

Health is NOT_SERVING until the service's ``readiness`` check reports ready (for example the
model loaded, the JVM answered, the sandbox ran a probe), is re-checked periodically, and goes
back to NOT_SERVING as soon as shutdown begins.

A start-up that cannot heal fails at once (:mod:`codeeval.kit.startup`): when ``start`` raises, or
``readiness`` raises :class:`~codeeval.kit.startup.FatalStartupError` before the service was first
ready, :func:`run` logs the reason, writes it to stderr (and the fatal file beside the ready file)
and exits with :data:`~codeeval.kit.startup.EXIT_FATAL` instead of staying NOT_SERVING for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from codeeval.kit import logs
from codeeval.kit.discovery import UnknownServiceError, load_service
from codeeval.kit.interceptors import AccessLogInterceptor, AuthInterceptor, ErrorInterceptor
from codeeval.kit.settings import ServiceSettings
from codeeval.kit.startup import EXIT_FATAL, FatalStartupError, fatal_file, reason_file, write_atomic

log = logging.getLogger("codeeval.server")

Readiness = Callable[[], Awaitable[str | None]]


async def _always_ready() -> str | None:
    return None


@dataclass
class Service:
    """What a service hands to the bootstrap.

    ``readiness`` returns None when every real dependency works, else the reason it is not ready
    (re-checked every 0.5 s); it raises :class:`~codeeval.kit.startup.FatalStartupError` for a
    reason no re-check can fix (fatal only before the service was first ready).
    ``start`` runs once in the background after the server listens (load a model, warm a pool);
    whatever it raises is fatal. ``stop`` runs after the server stopped accepting calls.
    """

    name: str
    full_name: str
    register: Callable[[grpc.aio.Server], None]
    readiness: Readiness = _always_ready
    start: Callable[[], Awaitable[None]] | None = None
    stop: Callable[[], Awaitable[None]] | None = None
    extra_service_names: list[str] = field(default_factory=list)


class ServiceModule(Protocol):
    """What a service's ``codeeval.services`` entry point loads: its settings class and its factory."""

    SETTINGS: type[ServiceSettings]

    def create(self, settings: Any) -> Service: ...


def apply_compute_threads(n: int) -> None:
    """Pin compute libraries to ``n`` threads (one per process by default on 2-core hosts)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
        os.environ.setdefault(var, "false" if var == "TOKENIZERS_PARALLELISM" else str(n))


class Runner:
    """One running service: use :meth:`start` / :meth:`shutdown` (tests) or :func:`run` (CLI)."""

    def __init__(self, service: Service, settings: ServiceSettings, reason_path: Path | None = None) -> None:
        self.service = service
        self.settings = settings
        self.health = health.aio.HealthServicer()
        self.port = 0
        self.server: grpc.aio.Server | None = None
        self.fatal: str | None = None
        self.failed = asyncio.Event()
        self._reason_path = reason_path
        self._tasks: list[asyncio.Task[Any]] = []
        self._ready = asyncio.Event()
        self._stopping = False

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    async def start(self) -> None:
        s = self.settings
        interceptors: list[grpc.aio.ServerInterceptor] = [AccessLogInterceptor()]
        token = s.resolved_auth_token()
        if token:
            interceptors.append(AuthInterceptor(token))
        interceptors.append(ErrorInterceptor())
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", s.max_request_bytes),
                ("grpc.max_send_message_length", s.max_response_bytes),
                ("grpc.so_reuseport", 0),
            ],
        )
        self.service.register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = [self.service.full_name, *self.service.extra_service_names]
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        bind = f"{s.host}:{s.port}"
        if s.tls_cert_file and s.tls_key_file:
            creds = grpc.ssl_server_credentials(
                [(s.tls_key_file.read_bytes(), s.tls_cert_file.read_bytes())],
                root_certificates=s.tls_client_ca_file.read_bytes() if s.tls_client_ca_file else None,
                require_client_auth=s.tls_client_ca_file is not None,
            )
            self.port = server.add_secure_port(bind, creds)
        else:
            self.port = server.add_insecure_port(bind)
        await server.start()
        self.server = server
        if s.metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(s.metrics_port, addr=s.host)
        log.info("listening", extra={"fields": {"service": self.service.name, "address": self.address,
                                                "tls": bool(s.tls_cert_file), "auth": bool(token)}})
        self._tasks.append(asyncio.create_task(self._startup_then_watch()))

    async def _set_health(self, status: int) -> None:
        for name in ("", self.service.full_name, *self.service.extra_service_names):
            await self.health.set(name, status)

    def _fail(self, reason: str) -> None:
        """Record a start-up failure that cannot heal; health stays NOT_SERVING, :attr:`failed` is set."""
        self.fatal = reason
        log.error("start-up failed for good: NOT_SERVING", extra={"fields": {"service": self.service.name,
                                                                            "reason": reason}})
        self.failed.set()

    def _note_reason(self, reason: str) -> None:
        if self._reason_path is not None:
            with contextlib.suppress(OSError):
                write_atomic(self._reason_path, reason + "\n")

    async def _startup_then_watch(self) -> None:
        self._note_reason("starting (loading, probing)")
        try:
            if self.service.start is not None:
                await self.service.start()
        except FatalStartupError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - start runs once: a failure never heals
            log.exception("service start-up raised")
            self._fail(f"start-up failed: {type(exc).__name__}: {exc}")
            return
        last: str | None = "starting"
        while not self._stopping:
            try:
                reason = await self.service.readiness()
            except FatalStartupError as exc:
                if not self._ready.is_set():
                    self._fail(str(exc))
                    return
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001
                reason = f"readiness check raised {type(exc).__name__}: {exc}"
            if self._stopping:
                break
            if reason != last:
                if reason is None:
                    log.info("ready: SERVING", extra={"fields": {"service": self.service.name}})
                else:
                    log.warning("not ready: NOT_SERVING", extra={"fields": {"reason": reason}})
                    self._note_reason(reason)
            await self._set_health(health_pb2.HealthCheckResponse.SERVING if reason is None
                                   else health_pb2.HealthCheckResponse.NOT_SERVING)
            if reason is None:
                self._ready.set()
            last = reason
            await asyncio.sleep(self.settings.health_recheck_seconds if reason is None else 0.5)

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Return once SERVING; raise FatalStartupError if the start-up failed for good, TimeoutError
        after ``timeout`` seconds."""
        waits = [asyncio.ensure_future(self._ready.wait()), asyncio.ensure_future(self.failed.wait())]
        try:
            done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if self._ready.is_set():
            return
        if self.fatal is not None:
            raise FatalStartupError(self.fatal)
        raise TimeoutError(f"{self.service.name} not ready within {timeout}s")

    async def shutdown(self, grace: float | None = None) -> None:
        """NOT_SERVING first, then stop accepting calls and let in-flight ones finish within grace."""
        if self._stopping:
            return
        self._stopping = True
        await self.health.enter_graceful_shutdown()
        for task in self._tasks:
            task.cancel()
        if self.server is not None:
            await self.server.stop(self.settings.shutdown_grace_seconds if grace is None else grace)
        if self.service.stop is not None:
            await self.service.stop()
        log.info("stopped", extra={"fields": {"service": self.service.name}})

    async def wait_for_termination(self) -> None:
        assert self.server is not None
        await self.server.wait_for_termination()


async def _serve(module: ServiceModule, settings: ServiceSettings, ready_file: Path | None) -> str | None:
    """Serve until SIGTERM/SIGINT (None) or a start-up failure that cannot heal (its reason)."""
    try:
        service = module.create(settings)
    except FatalStartupError as exc:
        return str(exc)
    runner = Runner(service, settings, reason_file(ready_file) if ready_file is not None else None)
    await runner.start()
    if ready_file is not None:
        write_atomic(ready_file, f"{runner.port}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    failed = asyncio.ensure_future(runner.failed.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([failed, stopped], return_when=asyncio.FIRST_COMPLETED)
    failed.cancel()
    stopped.cancel()
    log.info("shutting down", extra={"fields": {"grace_s": settings.shutdown_grace_seconds}})
    await runner.shutdown()
    return runner.fatal


def run(name: str, config_file: str | None = None, ready_file: Path | None = None, **overrides: Any) -> None:
    """Run service ``name`` until SIGTERM/SIGINT. ``ready_file`` receives the bound port.

    A start-up that cannot heal ends the process: the reason goes to the log, to stderr as
    ``codeeval serve NAME: fatal: REASON`` and to the fatal file beside ``ready_file``, then
    SystemExit(:data:`~codeeval.kit.startup.EXIT_FATAL`).
    """
    try:
        module: ServiceModule = load_service(name)
    except UnknownServiceError as exc:
        raise SystemExit(str(exc)) from None
    serve_module(name, module, config_file, ready_file, **overrides)


def serve_module(name: str, module: ServiceModule, config_file: str | None = None, ready_file: Path | None = None,
                 **overrides: Any) -> None:
    """:func:`run` for an already loaded service module (the same exits)."""
    settings = module.SETTINGS.load(config_file, **overrides)
    logs.configure(settings.log_level, settings.log_format)
    apply_compute_threads(settings.compute_threads)
    fatal = asyncio.run(_serve(module, settings, ready_file))
    if fatal is not None:
        if ready_file is not None:
            with contextlib.suppress(OSError):
                write_atomic(fatal_file(ready_file), fatal + "\n")
        print(f"codeeval serve {name}: fatal: {fatal}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_FATAL)
