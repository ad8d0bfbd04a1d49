"""A damaged job database (a foreign file, a truncated one, a page overwritten) is refused at open with
an error naming the file, and left byte for byte as it was; an intact one keeps every job. The real
trainer service refusing to start on it is in tests/reliability/test_faults_real.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeeval.trainer.store import JobStore, JobStoreError


def _database(path: Path, jobs: int) -> bytes:
    store = JobStore(path)
    for i in range(jobs):
        store.insert({"id": f"j{i}", "state": "SUCCEEDED", "created_at": float(i), "pad": "x" * 400})
    store.close()
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["foreign", "truncated", "page"])
def test_a_damaged_job_database_is_refused_and_kept(tmp_path, damage):
    raw = _database(tmp_path / "good.sqlite", 300)
    data = {"foreign": b"\x00not sqlite" * 64, "truncated": raw[: len(raw) // 2],
            "page": raw[:8192] + b"\xff" * 4096 + raw[12288:]}[damage]
    path = tmp_path / "jobs.sqlite"
    path.write_bytes(data)
    with pytest.raises(JobStoreError, match=rf"the job database {path} is damaged \(.+\); it is left as it is"):
        JobStore(path)
    assert path.read_bytes() == data


def test_an_intact_database_keeps_every_job(tmp_path):
    _database(tmp_path / "jobs.sqlite", 120)
    store = JobStore(tmp_path / "jobs.sqlite")
    assert len(store.in_states("SUCCEEDED")) == 120
    store.close()
