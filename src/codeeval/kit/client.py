"""Client side: find a service (``CODEEVAL_<SERVICE>_ADDR``), open a channel with the token and
TLS settings from the environment, wait for its health, or start a local one when none is set.

Environment read by clients:
``CODEEVAL_<SERVICE>_ADDR`` (host:port), ``CODEEVAL_AUTH_TOKEN`` or ``CODEEVAL_AUTH_TOKEN_FILE``,
``CODEEVAL_TLS_CA_FILE`` (enables TLS), ``CODEEVAL_TLS_CERT_FILE``/``CODEEVAL_TLS_KEY_FILE`` (mTLS).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from codeeval.kit.discovery import check_service_name
from codeeval.kit.startup import ServiceStartError, fatal_file, read_optional, reason_file

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def address_env(service: str) -> str:
    return f"CODEEVAL_{service.upper()}_ADDR"


def service_address(service: str) -> str | None:
    return os.environ.get(address_env(service)) or None


class AuthPlugin(grpc.AuthMetadataPlugin):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, context: grpc.AuthMetadataContext, callback: grpc.AuthMetadataPluginCallback) -> None:
        callback((("authorization", f"Bearer {self._token}"),), None)


def _env_token() -> str | None:
    if os.environ.get("CODEEVAL_AUTH_TOKEN"):
        return os.environ["CODEEVAL_AUTH_TOKEN"]
    path = os.environ.get("CODEEVAL_AUTH_TOKEN_FILE")
    return Path(path).read_text().strip() if path else None


class _TokenInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the bearer token on plaintext channels (call credentials need TLS)."""

    def __init__(self, token: str) -> None:
        self._md = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        md = list(details.metadata or []) + [self._md]
        return details._replace(metadata=md) if hasattr(details, "_replace") else _Details(details, md)

    def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return continuation(self._details(details), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def open_channel(address: str, *, token: str | None = None, ca_file: str | None = None,
                 cert_file: str | None = None, key_file: str | None = None) -> grpc.Channel:
    """A synchronous channel to ``address`` with auth/TLS from arguments or the environment."""
    token = token if token is not None else _env_token()
    ca_file = ca_file or os.environ.get("CODEEVAL_TLS_CA_FILE")
    cert_file = cert_file or os.environ.get("CODEEVAL_TLS_CERT_FILE")
    key_file = key_file or os.environ.get("CODEEVAL_TLS_KEY_FILE")
    # round_robin: with a dns:/// target naming a headless Kubernetes Service, calls spread over
    # every ready replica instead of pinning one pod (harmless for a single address).
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
               ("grpc.lb_policy_name", "round_robin")]
    if ca_file:
        creds = grpc.ssl_channel_credentials(
            root_certificates=Path(ca_file).read_bytes(),
            private_key=Path(key_file).read_bytes() if key_file else None,
            certificate_chain=Path(cert_file).read_bytes() if cert_file else None,
        )
        if token:
            creds = grpc.composite_channel_credentials(creds, grpc.metadata_call_credentials(AuthPlugin(token)))
        return grpc.secure_channel(address, creds, options=options)
    channel = grpc.insecure_channel(address, options=options)
    return grpc.intercept_channel(channel, _TokenInterceptor(token)) if token else channel


def wait_serving(channel: grpc.Channel, timeout: float, service: str = "") -> None:
    """Block until the health service reports SERVING, or raise TimeoutError saying what it said."""
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            if resp.status == health_pb2.HealthCheckResponse.SERVING:
                return
            last = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        except grpc.RpcError as exc:
            last = f"{exc.code().name}: {exc.details()}"
        time.sleep(0.2)
    raise TimeoutError(f"not SERVING after {timeout:.0f}s (last: {last})")


LOG_DIR_ENV = "CODEEVAL_LOG_DIR"


def default_log_dir() -> Path:
    """Where local services log when the caller names no folder: ``$CODEEVAL_LOG_DIR``, else
    ``$XDG_STATE_HOME/codeeval/logs``, else ``~/.local/state/codeeval/logs``."""
    if os.environ.get(LOG_DIR_ENV):
        return Path(os.environ[LOG_DIR_ENV]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "codeeval" / "logs"


#: Seconds between two waiting lines (``on_wait``) while a local service starts.
REPORT_EVERY_S = 5.0


class LocalService:
    """A service started as a child process on loopback (``codeeval serve NAME --port 0``).

    Used by ``codeeval up``, the main job and CLI commands when ``CODEEVAL_<SERVICE>_ADDR`` is unset.
    It always logs to a file (``log_file``, else ``<default_log_dir()>/<name>.log``, appended).
    """

    def __init__(self, name: str, *, port: int = 0, config: str | None = None,
                 log_file: Path | None = None, extra_args: list[str] | None = None) -> None:
        self.name = name
        self.port = port
        self.config = config
        self.log_file = log_file if log_file is not None else default_log_dir() / f"{name}.log"
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.address = ""
        self.last_status = "not started"
        self._log_offset = 0
        self._tmp = tempfile.TemporaryDirectory(prefix=f"codeeval-{name}-")

    def command(self, ready: Path) -> list[str]:
        """The child's command line: ``codeeval serve`` writing its port to ``ready`` (and its reason
        and fatal files beside it, :mod:`codeeval.kit.startup`). Raises UnknownServiceError for a name
        no installed service has."""
        check_service_name(self.name)
        cmd = [sys.executable, "-m", "codeeval.cli", "serve", self.name, "--host", "127.0.0.1",
               "--port", str(self.port), "--ready-file", str(ready), *self.extra_args]
        return cmd + (["--config", self.config] if self.config else [])

    def start(self, timeout: float = 120.0, on_wait: Callable[[str], None] | None = None,
              report_every: float | None = None) -> str:
        """Start the service and wait until it is SERVING; return its address.

        Every ``report_every`` seconds of waiting (default :data:`REPORT_EVERY_S`), ``on_wait`` gets one
        line: which service, for how long, and why it is not ready yet (its last not-ready reason, or
        the last health answer).
        Raises :class:`~codeeval.kit.discovery.UnknownServiceError` (a RuntimeError, with did-you-mean)
        before spawning anything when no installed service has this name, and
        :class:`~codeeval.kit.startup.ServiceStartError` (reason and log path) as soon as the process
        exits (a start-up self-check that failed for good, a crash) or after ``timeout`` seconds.
        Cost: a health check every 0.2 s once the process listens.
        """
        ready = Path(self._tmp.name) / "ready"
        cmd = self.command(ready)
        every = REPORT_EVERY_S if report_every is None else report_every
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CODEEVAL_LOG_FORMAT": os.environ.get("CODEEVAL_LOG_FORMAT", "text")}
        with open(self.log_file, "ab") as out:
            self._log_offset = out.tell()
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, start_new_session=True)
        t0 = time.monotonic()
        next_report = t0 + every
        self.last_status = "starting the process"
        channel: grpc.Channel | None = None
        try:
            while True:
                if self.proc.poll() is not None:
                    raise ServiceStartError(self.name, self._exit_reason(ready), self.log_file)
                if channel is None and ready.exists():
                    self.address = f"127.0.0.1:{int(ready.read_text())}"
                    channel = open_channel(self.address)
                if channel is not None and self._serving(channel, ready):
                    return self.address
                now = time.monotonic()
                if now - t0 > timeout:
                    self.stop()
                    raise ServiceStartError(self.name, f"not SERVING after {timeout:.0f}s (last: {self.last_status})",
                                            self.log_file)
                if on_wait is not None and now >= next_report:
                    next_report = now + every
                    on_wait(f"waiting for {self.name} ({now - t0:.0f}s): {self.last_status}")
                time.sleep(0.2 if channel is not None else 0.05)
        finally:
            if channel is not None:
                channel.close()

    def _serving(self, channel: grpc.Channel, ready: Path) -> bool:
        """One health check; records why not in ``last_status``."""
        try:
            resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError as exc:
            self.last_status = f"health check: {exc.code().name}: {exc.details()}"
            return False
        if resp.status == health_pb2.HealthCheckResponse.SERVING:
            return True
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        reason = read_optional(reason_file(ready))
        self.last_status = f"{status}: {reason}" if reason else status
        return False

    def _exit_reason(self, ready: Path) -> str:
        """What the exited process said: its fatal reason, else its log's last line of this start."""
        assert self.proc is not None
        fatal = read_optional(fatal_file(ready))
        if fatal is not None:
            return fatal
        code = self.proc.returncode
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(self._log_offset)
                tail = fh.read()[-8192:].decode("utf-8", "replace")
        except OSError:
            tail = ""
        lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
        return f"the process exited with code {code}" + (f": {lines[-1]}" if lines else " without a word")

    def stop(self, grace: float = 15.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._tmp.cleanup()


@contextlib.contextmanager
def connect(service: str, *, start_timeout: float = 300.0, log_dir: Path | None = None) -> Iterator[grpc.Channel]:
    """A channel to ``service``: the one at ``CODEEVAL_<SERVICE>_ADDR``, or a local one started
    for the duration of the block, logging to ``log_dir/<service>.log`` (default: :func:`default_log_dir`).
    A local service that cannot start raises :class:`~codeeval.kit.startup.ServiceStartError`."""
    address = service_address(service)
    local: LocalService | None = None
    if address is None:
        local = LocalService(service, log_file=(log_dir or default_log_dir()) / f"{service}.log")
        try:
            address = local.start(timeout=start_timeout)
        except BaseException:
            local.stop()
            raise
    try:
        with open_channel(address) as channel:
            yield channel
    finally:
        if local is not None:
            local.stop()


def describe_rpc_error(service: str, exc: grpc.RpcError) -> str:
    """One line for people: which service, which status, what it said."""
    code = exc.code()
    if code == grpc.StatusCode.UNAVAILABLE:
        where = service_address(service) or "(local)"
        return f"{service} service at {where} is unavailable: {exc.details()}"
    return f"{service}: {code.name}: {exc.details()}"
