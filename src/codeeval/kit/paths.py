"""Where the shared benchmark data live (``${datasets}`` in suites and trainer configs).

One rule for every service, CLI command, test and benchmark script: ``$CODEEVAL_DATASETS_DIR`` when
set; else ``shared/datasets`` beside the checkout this code runs from (the workplace layout
``<dir>/main`` + ``<dir>/shared``); else ``/work/shared/datasets``. The data are never copied into
the repository; they are loaded by path.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "CODEEVAL_DATASETS_DIR"
FALLBACK = Path("/work/shared/datasets")


def datasets_dir() -> Path:
    """The datasets folder by the rule above (it may not exist: callers report that with the path)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    beside_checkout = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
    if beside_checkout.is_dir():
        return beside_checkout
    return FALLBACK
