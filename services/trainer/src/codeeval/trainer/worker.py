"""A job's training process: ``python -m codeeval.trainer.worker JOB_DIR``.

Reads ``JOB_DIR/config.json`` (the resolved config), runs the recipe (resuming from
``JOB_DIR/checkpoints`` if any), writes ``result.json`` or ``error.json``. Exit codes: 0 done,
3 cancelled (SIGTERM, checkpoint kept), 1 failed. It asks the kernel to SIGKILL it when the
service that started it dies, so a restarted service never finds an orphan training the same job.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import sys
import traceback
from pathlib import Path

from codeeval.trainer.outcomes import CANCELLED_EXIT, DONE_EXIT, FAILED_EXIT

__all__ = ["CANCELLED_EXIT", "die_with_parent", "main"]

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: receive SIGKILL when the parent exits (no-op elsewhere)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    job_dir = Path(args[0])
    die_with_parent()
    from codeeval.kit.errors import CodeevalError
    from codeeval.trainer.recipe import run
    from codeeval.trainer.recipe_schema import validate

    try:
        cfg = validate(json.loads((job_dir / "config.json").read_text()))
        result = run(cfg, job_dir)
    except CodeevalError as exc:
        (job_dir / "error.json").write_text(json.dumps({"error": str(exc), "status": exc.status}))
        return FAILED_EXIT
    except Exception as exc:  # noqa: BLE001 - recorded for the job; the traceback goes to the job log only
        traceback.print_exc()
        (job_dir / "error.json").write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:2000],
                                                         "status": "INTERNAL"}))
        return FAILED_EXIT
    if result["outcome"] == "cancelled":
        return CANCELLED_EXIT
    (job_dir / "result.json").write_text(json.dumps(result, indent=1))
    return DONE_EXIT


if __name__ == "__main__":
    raise SystemExit(main())
