"""A checkpoint save that runs out of disk (a real, small tmpfs: root only) raises OSError(ENOSPC) saying
so, naming the checkpoint kept, and leaves no half-written folder; the earlier checkpoint stays whole
and loadable. The whole run stopped by a full disk and resumed is in tests/reliability/test_faults_real.py."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
import torch

from codeeval.trainer import checkpoint


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    where = tmp_path / "checkpoints"
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tmpfs")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_keeps_the_last_checkpoint_whole(small_tmpfs: Path) -> None:
    small = torch.nn.Linear(16, 16)
    opt = torch.optim.AdamW(small.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    first = checkpoint.save(small_tmpfs, 4, small, opt, sched, {"micro": 4})
    big = torch.nn.Linear(512, 512)  # 1 MiB of weights: more than the tmpfs holds
    big_opt = torch.optim.AdamW(big.parameters())
    with pytest.raises(OSError) as info:
        checkpoint.save(small_tmpfs, 8, big, big_opt, sched, {"micro": 8}, keep=1)
    assert info.value.errno == errno.ENOSPC
    assert "no space left on device for checkpoint step 8" in str(info.value)
    assert "step-000004 is kept whole" in str(info.value)
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["step-000004"], "no half-written checkpoint left"
    assert checkpoint.latest(small_tmpfs) == first
    fresh = torch.nn.Linear(16, 16)
    fresh_opt = torch.optim.AdamW(fresh.parameters())
    state = checkpoint.load(first, fresh, fresh_opt, torch.optim.lr_scheduler.LambdaLR(fresh_opt, lambda s: 1.0))
    assert state["step"] == 4 and torch.equal(fresh.weight, small.weight)
