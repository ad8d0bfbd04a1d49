"""One typed client per service (generator, sandbox, analyzer, trainer). The shared plumbing
(address or local service, token, TLS, retries of UNAVAILABLE, streams re-opened, errors naming the
service) is :mod:`codeeval.clients.base`; the clients return :mod:`codeeval.records` records."""

from __future__ import annotations

from typing import Any

from codeeval.clients.analyzer import AnalyzerClient, SourceToAnalyze
from codeeval.clients.base import ServiceClient, ServiceError
from codeeval.clients.generator import GeneratorClient, PromptToGenerate, Sampling, TrainerGeneratorLink
from codeeval.clients.sandbox import SandboxClient
from codeeval.clients.trainer import TrainerClient

CLIENTS: dict[str, type[ServiceClient[Any]]] = {
    "generator": GeneratorClient, "sandbox": SandboxClient, "analyzer": AnalyzerClient, "trainer": TrainerClient}


def client_for(service: str, **kwargs: Any) -> ServiceClient[Any]:
    """The typed client of ``service`` (generator, sandbox, analyzer or trainer)."""
    return CLIENTS[service](**kwargs)


__all__ = ["CLIENTS", "AnalyzerClient", "GeneratorClient", "PromptToGenerate", "SandboxClient", "Sampling",
           "ServiceClient", "ServiceError", "SourceToAnalyze", "TrainerClient", "TrainerGeneratorLink", "client_for"]
