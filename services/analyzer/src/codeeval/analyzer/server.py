"""Bootstrap glue for ``codeeval serve analyzer``: builds the cores and the servicer.

Health stays NOT_SERVING until the start-up probe has really run pylint on a snippet and PMD's JVM
on a Java file (and WordNet opened); a failed probe (PMD or the JVM missing, say) cannot heal, so it
ends the start at once with the reason (:mod:`codeeval.kit.startup`).
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from codeeval.analyzer.analysis import Analyzer, Limits
from codeeval.analyzer.pmd import Pmd
from codeeval.analyzer.pmd_worker import PmdWorker
from codeeval.analyzer.scoring import ScoreLimits, Scorer
from codeeval.analyzer.servicer import AnalyzerServicer
from codeeval.analyzer.settings import AnalyzerSettings
from codeeval.analyzer.wordnet import load_wordnet
from codeeval.api.analyzer.v1 import analyzer_pb2_grpc
from codeeval.kit.server import Service
from codeeval.kit.startup import FatalStartupError

SETTINGS = AnalyzerSettings
log = logging.getLogger("codeeval.analyzer")


def create(settings: AnalyzerSettings) -> Service:
    pmd = Pmd(settings.pmd_home, settings.java_home)
    worker = PmdWorker(pmd, settings.pmd_heap_mb, settings.pmd_threads) if settings.pmd_warm_jvm else None
    limits = Limits(settings.max_files, settings.max_file_bytes, settings.parse_timeout_ms,
                    settings.metrics_timeout_seconds, settings.pylint_timeout_seconds)
    analyzer = Analyzer(pmd, limits, settings.pmd_timeout_seconds, worker)
    scorer = Scorer(settings.wordnet_dir)
    servicer = AnalyzerServicer(analyzer, scorer, ScoreLimits(settings.max_score_instances, settings.max_text_bytes))
    state: dict[str, str | None] = {"reason": "start-up probe (pylint, PMD JVM, WordNet) has not finished"}

    def register(server: grpc.aio.Server) -> None:
        analyzer_pb2_grpc.add_AnalyzerServiceServicer_to_server(servicer, server)

    async def start() -> None:
        try:
            await asyncio.to_thread(analyzer.probe)
            await asyncio.to_thread(load_wordnet, settings.wordnet_dir)
        except Exception as exc:  # noqa: BLE001 - the probe runs once: a failure ends the start (kit.startup)
            state["reason"] = f"start-up probe failed: {type(exc).__name__}: {exc}"
            raise FatalStartupError(f"{state['reason']} (PMD home {settings.pmd_home}, JVM "
                                    f"{analyzer.pmd.java}, WordNet {settings.wordnet_dir})") from exc
        state["reason"] = None

    async def readiness() -> str | None:
        return state["reason"] or analyzer.pmd.available()

    async def stop() -> None:
        await asyncio.to_thread(analyzer.close)

    return Service(name="analyzer", full_name="codeeval.analyzer.v1.AnalyzerService", register=register,
                   readiness=readiness, start=start, stop=stop)
