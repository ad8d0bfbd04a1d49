"""Typed records of the pipeline's stages (sample, extraction, program, execution, analysis,
score) and their enums, with proto and JSON conversions in one place. Imports protos and
:mod:`codeeval.kit` only: no grpc channel, no bench, no service."""

from __future__ import annotations

from codeeval.records.outcomes import FinishReason, Mode, Outcome
from codeeval.records.stages import (
    Calibration,
    Execution,
    Extraction,
    FileAnalysis,
    Leakage,
    Program,
    QualitySummary,
    Sample,
    SampleKey,
    ScoreInstance,
    TaskAnalysis,
    TaskScore,
)

__all__ = ["Calibration", "Execution", "Extraction", "FileAnalysis", "FinishReason", "Leakage", "Mode", "Outcome",
           "Program", "QualitySummary", "Sample", "SampleKey", "ScoreInstance", "TaskAnalysis", "TaskScore"]
