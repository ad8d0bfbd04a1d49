"""Host-side directories that hold a run's files until the sandbox has read them, and the staged
copy of the trusted files runs read from the service's installation.

The base directory (under ``parent``, default the system temp dir) is 0711: sandbox uids can reach
a run directory by its random name but cannot list the others. Run directories are 0755 with 0644
files, removed when the run ends. Trusted files (the runners' ``support/``) are copied once per
process into a sibling directory ``codeeval-trusted-<pid>-*`` (dirs 0755, files 0644, owned by the
service: root when the service is root), so a run's uid can read them but never write them,
wherever the installation lives (a 0700 home included). Both are removed by
:meth:`Workspace.close`, or at interpreter exit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from codeeval.sandbox.backends.base import Bind


class Workspace:
    def __init__(self, parent: Path | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix=f"codeeval-sandbox-{os.getpid()}-", dir=parent))
        os.chmod(self.base, 0o711)
        self.trusted_base = Path(tempfile.mkdtemp(prefix=f"codeeval-trusted-{os.getpid()}-", dir=parent))
        os.chmod(self.trusted_base, 0o755)
        self._finalizer = weakref.finalize(self, _remove_all, [str(self.base), str(self.trusted_base)])
        #: installation directory -> its staged copy (filled by :meth:`stage_trusted`)
        self.trusted: dict[Path, Path] = {}
        #: binds already resolved to a staged copy (a few, the same every run: no path walk per run)
        self._staged_binds: dict[Bind, Bind] = {}

    def check_reachable(self) -> None:
        """Raise RuntimeError unless every directory above the base is searchable by other uids
        (runs use their own uids when the service is root); names the first one that is not."""
        if os.geteuid() != 0:
            return
        for d in self.trusted_base.parents:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                raise RuntimeError(f"{d} (mode {stat.S_IMODE(os.stat(d).st_mode):04o}) is not searchable by the "
                                   f"sandbox uids, so runs cannot reach the workspace {self.base}: set "
                                   "CODEEVAL_SANDBOX_WORKSPACE_DIR (or TMPDIR) to a directory every user can "
                                   "traverse")

    def stage_trusted(self, sources: Iterable[Path]) -> dict[Path, Path]:
        """Copy each trusted source directory (regular files and directories only; links and
        anything else are refused) into ``trusted_base/<n>-<name>``; returns and records
        {source: staged copy}. Cost: one copy of the (small) trees, at start-up."""
        self._staged_binds.clear()
        for n, src in enumerate(sources):
            src = src.resolve()
            dest = self.trusted_base / f"{n}-{src.name}"
            _copy_tree(src, dest)
            self.trusted[src] = dest
        return dict(self.trusted)

    def resolve_binds(self, binds: Sequence[Bind], installation: Path) -> list[Bind]:
        """``binds`` with every installation directory replaced by its staged copy. Raises
        PermissionError for a bind inside ``installation`` that was not staged (a run must never
        read, or be able to write, the service's own files)."""
        out = []
        resolved: Path | None = None
        for b in binds:
            known = self._staged_binds.get(b)
            if known is not None:
                out.append(known)
                continue
            resolved = resolved or installation.resolve()
            host = b.host.resolve()
            staged = next((self.trusted[s] / host.relative_to(s) for s in self.trusted if host.is_relative_to(s)),
                          None)
            if staged is not None:
                if b.writable:
                    raise PermissionError(f"{b.host} is a trusted directory and cannot be bound writable")
                out.append(Bind(staged, b.target, False))
                self._staged_binds[b] = out[-1]
            elif host.is_relative_to(resolved):
                raise PermissionError(f"{b.host} is inside the service's installation but was not staged")
            else:
                out.append(b)
        return out

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
        self._finalizer()


def _remove_all(paths: list[str]) -> None:
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)


def _copy_tree(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` (which must not exist) with dirs 0755 and files 0644 (0755 when the
    source is executable); raises OSError on anything but a directory or a regular file."""
    dest.mkdir(mode=0o755)
    os.chmod(dest, 0o755)
    for entry in sorted(src.iterdir()):
        st = os.lstat(entry)
        if stat.S_ISDIR(st.st_mode):
            if entry.name != "__pycache__":
                _copy_tree(entry, dest / entry.name)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(entry, dest / entry.name, follow_symlinks=False)
            os.chmod(dest / entry.name, 0o755 if st.st_mode & stat.S_IXUSR else 0o644)
        else:
            raise OSError(f"{entry}: only directories and regular files can be staged")


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
