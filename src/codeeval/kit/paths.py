"""Where the shared benchmark data live, and the one expansion of data paths.

``datasets_dir()``: one rule for every service, CLI command, test and benchmark script:
``$CODEEVAL_DATASETS_DIR`` when set; else ``shared/datasets`` beside the checkout this code runs
from (the workplace layout ``<dir>/main`` + ``<dir>/shared``); else the historical absolute
fallback :data:`FALLBACK`. The data are never copied into the repository; they are loaded by path.

``expand(path)``: the one place ``${datasets}`` (and ``${stdlib}``, ``~``, ``$VAR``) is expanded,
used by suites and trainer configs alike.
"""

from __future__ import annotations

import os
import sysconfig
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


def expand(path: str, base_dir: Path | None = None, datasets: str | Path | None = None) -> Path:
    """``path`` with ``${datasets}`` (``datasets`` or :func:`datasets_dir`), ``${stdlib}`` (this
    interpreter's standard library, a source tree that always exists), ``~`` and environment
    variables expanded; a relative result is taken relative to ``base_dir`` when given."""
    ds = str(datasets) if datasets is not None else str(datasets_dir())
    text = path.replace("${datasets}", ds).replace("${stdlib}", sysconfig.get_paths()["stdlib"])
    expanded = Path(os.path.expandvars(os.path.expanduser(text)))
    return base_dir / expanded if base_dir is not None and not expanded.is_absolute() else expanded
