"""Where the shared benchmark data live, and the one expansion of data paths.

``datasets_dir()``: one rule for every service, CLI command, test and benchmark script:
``$CODEEVAL_DATASETS_DIR`` when set; else ``shared/datasets`` beside the checkout this code runs
from (the workplace layout ``<dir>/main`` + ``<dir>/shared``), which may not exist: a user's clone
has no datasets, and what needs them says so with the path. The data are loaded by path.

``expand(path)``: the one place ``${datasets}`` (and ``${stdlib}``, ``${package:NAME}``, ``~``,
``$VAR``) is expanded, used by suites and trainer configs alike.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sysconfig
from pathlib import Path

ENV = "CODEEVAL_DATASETS_DIR"


def datasets_dir() -> Path:
    """The datasets folder by the rule above (it may not exist: callers report that with the path)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    return Path(__file__).resolve().parents[3].parent / "shared" / "datasets"


def expand(path: str, base_dir: Path | None = None, datasets: str | Path | None = None) -> Path:
    """``path`` with ``${datasets}`` (``datasets`` or :func:`datasets_dir`), ``${stdlib}`` (this
    interpreter's standard library, a source tree that always exists), ``${package:NAME}`` (the folder
    of the installed Python package NAME, for data files a PyPI package ships; left as it is when NAME
    is not installed, so the missing-file error names it), ``~`` and environment variables expanded;
    a relative result is taken relative to ``base_dir`` when given."""
    ds = str(datasets) if datasets is not None else str(datasets_dir())
    text = path.replace("${datasets}", ds).replace("${stdlib}", sysconfig.get_paths()["stdlib"])
    text = _PACKAGE.sub(_package_dir, text)
    expanded = Path(os.path.expandvars(os.path.expanduser(text)))
    return base_dir / expanded if base_dir is not None and not expanded.is_absolute() else expanded


_PACKAGE = re.compile(r"\$\{package:([A-Za-z_][A-Za-z0-9_.]*)\}")


def _package_dir(match: re.Match[str]) -> str:
    """The folder of an installed package (found without importing it), or the placeholder itself."""
    try:
        spec = importlib.util.find_spec(match.group(1))
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return match.group(0)
    return str(Path(list(spec.submodule_search_locations)[0]))
