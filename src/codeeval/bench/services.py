"""The bench's view of the services: one typed client each (:mod:`codeeval.clients`), sharing the
retry window ``wait_s`` and the log folder of local services, closed together.

A client connects lazily (``CODEEVAL_<SVC>_ADDR`` or a local service started for the bench); a call
that finds its service UNAVAILABLE is retried for ``wait_s`` seconds; after that
:class:`ServiceError` says which service, where, and that the run resumes when started again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from codeeval.clients import AnalyzerClient, GeneratorClient, SandboxClient, ServiceClient, ServiceError

__all__ = ["ServiceError", "Services", "stream_with_retry"]


class Services:
    """The generator, sandbox and analyzer clients; a context manager that closes them (and stops the
    local services they started)."""

    def __init__(self, *, wait_s: float = 30.0, log_dir: Path | None = None, start_timeout: float = 900.0) -> None:
        self.wait_s = wait_s
        self.generator = GeneratorClient(wait_s=wait_s, log_dir=log_dir, start_timeout=start_timeout)
        self.sandbox = SandboxClient(wait_s=wait_s, log_dir=log_dir, start_timeout=start_timeout)
        self.analyzer = AnalyzerClient(wait_s=wait_s, log_dir=log_dir, start_timeout=start_timeout)

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in (self.analyzer, self.sandbox, self.generator):
            client.close()

    def contacted(self) -> set[str]:
        """Services whose capabilities this run has read."""
        return {c.service for c in (self.generator, self.sandbox, self.analyzer) if c.contacted}


def stream_with_retry(services: Services, service: str, open_stream: Callable[[Any], Iterable[Any]],
                      on_response: Callable[[Any], None]) -> None:
    """A raw server stream of ``service`` with the client's retries (for stages without a typed call yet)."""
    clients: dict[str, ServiceClient[Any]] = {"generator": services.generator, "sandbox": services.sandbox,
                                              "analyzer": services.analyzer}
    clients[service].stream(open_stream, on_response)
