"""Host-side directories that hold a run's files until the sandbox has read them.

The base directory is 0711 (sandbox uids can reach a run directory by its random name but cannot
list the others); run directories are 0755 with 0644 files, removed when the run ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class Workspace:
    def __init__(self, parent: Path | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="codeeval-sandbox-", dir=parent))
        os.chmod(self.base, 0o711)

    @contextlib.contextmanager
    def run_dir(self) -> Iterator[Path]:
        path = self.base / secrets.token_hex(12)
        path.mkdir(mode=0o755)
        os.chmod(path, 0o755)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def write_file(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def make_writable_dir(path: Path) -> Path:
    """A directory any sandbox uid may write (only ever bound into one run)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o777)
    return path
