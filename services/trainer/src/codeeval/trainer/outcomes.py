"""Exit codes of a training process, shared by the job worker, the recipe's command line and the job
manager (a leaf module: importing it costs nothing, so the manager never imports torch)."""

from __future__ import annotations

#: Done: ``result.json`` written.
DONE_EXIT = 0
#: Failed: ``error.json`` written (worker) or a traceback (recipe command line).
FAILED_EXIT = 1
#: The recipe stopped on SIGTERM after a checkpoint; the job can resume from it.
CANCELLED_EXIT = 3
