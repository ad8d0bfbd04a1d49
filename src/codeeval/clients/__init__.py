"""One typed client per service (generator, sandbox, analyzer, trainer). The shared plumbing
(address or local service, token, TLS, retries of UNAVAILABLE, streams re-opened, errors naming the
service) is :mod:`codeeval.clients.base`; the clients return :mod:`codeeval.records` records."""

from __future__ import annotations

from codeeval.clients.analyzer import AnalyzerClient, SourceToAnalyze
from codeeval.clients.base import ServiceClient, ServiceError
from codeeval.clients.generator import GeneratorClient, PromptToGenerate, Sampling, TrainerGeneratorLink
from codeeval.clients.sandbox import SandboxClient
from codeeval.clients.trainer import TrainerClient

__all__ = ["AnalyzerClient", "GeneratorClient", "PromptToGenerate", "SandboxClient", "Sampling", "ServiceClient",
           "ServiceError", "SourceToAnalyze", "TrainerClient", "TrainerGeneratorLink"]
