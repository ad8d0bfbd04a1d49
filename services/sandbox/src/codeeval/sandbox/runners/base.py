"""What every language runner shares: result assembly from a harnessed sandbox run."""

from __future__ import annotations

from pathlib import Path

from codeeval.sandbox.model import Limits, ProcessResult, RunResult
from codeeval.sandbox.runners import protocol
from codeeval.sandbox.runners.workspace import write_file

#: The service's installation (the ``codeeval.sandbox`` package): runs never see it directly.
INSTALLATION = Path(__file__).resolve().parents[1]
#: The trusted harness and launcher sources, as installed. Runners bind this path; the executor
#: serves every such bind from the staged copy (``Workspace.stage_trusted``), which run uids can
#: read and cannot write, wherever the installation lives.
SUPPORT_DIR = INSTALLATION / "runners" / "support"
#: Installation directories a run may read (staged at start-up).
TRUSTED_DIRS = (SUPPORT_DIR,)
CODE_DIR = "/code"


def harnessed_result(pr: ProcessResult, token: bytes, limits: Limits, *, require_done: bool) -> RunResult:
    outcome, detail = protocol.classify(pr, token, require_done=require_done)
    return RunResult(
        outcome=outcome, exit_code=pr.exit_code, signal=pr.signal, stdout=pr.stdout,
        stderr=protocol.strip_markers(pr.stderr, token), stdout_truncated=pr.stdout_truncated,
        stderr_truncated=pr.stderr_truncated, wall_time_ms=pr.wall_time_ms, cpu_time_ms=pr.cpu_time_ms,
        peak_memory_bytes=pr.peak_memory_bytes, detail=detail, effective_limits=limits,
    )


def write_extra_files(run_dir: Path, extra_files: tuple[tuple[str, str], ...]) -> None:
    """Extra files go under the run directory, which the sandbox sees read-only at /code."""
    for rel, text in extra_files:
        write_file(run_dir / rel, text)
