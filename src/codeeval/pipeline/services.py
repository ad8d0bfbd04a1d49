"""The bench's view of the services: one typed client each (:mod:`codeeval.clients`), sharing the
retry window ``wait_s`` and the log folder of local services, closed together.

A client connects lazily (``CODEEVAL_<SVC>_ADDR`` or a local service started for the bench); a call
that finds its service UNAVAILABLE is retried for ``wait_s`` seconds; after that
:class:`ServiceError` says which service, where, and that the run resumes when started again.
"""

from __future__ import annotations

from pathlib import Path

from codeeval.clients import AnalyzerClient, GeneratorClient, SandboxClient, ServiceError

__all__ = ["ServiceError", "Services"]


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
