"""Per-instance blocks of slot uids: two sandbox services on one host never share a uid (without
cgroups, runs of the same uid share RLIMIT_NPROC and could signal each other).

Block ``k`` starts at ``uid_base + k * BLOCK``; its candidate slots are ``start .. start+slots-1``
and the Python judges' ``start + JUDGE_OFFSET ..`` (see ``runners/judge.py``), so blocks never
overlap while ``slots`` <= 256. An instance claims the first free block by an exclusive ``flock``
on ``<lock_dir>/uids-<start>.lock``, held until :meth:`UidBlock.release` or the process ends (the
kernel drops the lock even after SIGKILL, so a crashed instance never strands its block).
Cost: a few ``open``/``flock`` calls at start-up.
"""

from __future__ import annotations

import fcntl
import os
import weakref
from pathlib import Path

BLOCK = 2000
JUDGE_OFFSET = 1000
MAX_SLOTS = 256
#: uids that mean "nobody"/"-1" on most systems: never a slot.
RESERVED = frozenset({65534, 65535, 4294967294, 4294967295})


class UidBlock:
    """A claimed block: ``base`` is the first slot uid. Released by :meth:`release`, or when the
    object is collected (an executor dropped without ``stop()``)."""

    def __init__(self, base: int, fd: int | None, path: Path | None) -> None:
        self.base, self.path = base, path
        self._release = weakref.finalize(self, os.close, fd) if fd is not None else None

    def release(self) -> None:
        if self._release is not None:
            self._release()


def _usable(start: int, slots: int) -> bool:
    ranges = (range(start, start + slots), range(start + JUDGE_OFFSET, start + JUDGE_OFFSET + slots))
    return not any(uid in RESERVED for r in ranges for uid in r)


def claim(uid_base: int, slots: int, lock_dir: Path, blocks: int) -> UidBlock:
    """The first of ``blocks`` uid blocks from ``uid_base`` that no other instance holds.
    Raises RuntimeError (naming the setting to change) when all are taken or ``lock_dir`` is unusable."""
    if slots > MAX_SLOTS:
        raise RuntimeError(f"max_concurrency {slots} exceeds the {MAX_SLOTS} slots of a uid block")
    try:
        lock_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeError(f"cannot create the uid lock directory {lock_dir}: {exc.strerror} "
                           "(set CODEEVAL_SANDBOX_UID_LOCK_DIR)") from None
    for k in range(blocks):
        start = uid_base + k * BLOCK
        if not _usable(start, slots):
            continue
        path = lock_dir / f"uids-{start}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return UidBlock(start, fd, path)
    raise RuntimeError(f"all {blocks} uid blocks from {uid_base} (lock files in {lock_dir}) are held by other "
                       "sandbox instances on this host: raise CODEEVAL_SANDBOX_UID_BLOCKS or stop one")
