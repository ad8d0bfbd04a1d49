"""The SQLite job store: persistence across reopen, paging, state filter."""

from __future__ import annotations

from pathlib import Path

from codeeval.trainer.store import JobStore


def _job(i: int, state: str = "QUEUED") -> dict:
    return {"id": f"j{i}", "state": state, "created_at": float(i), "step": 0}


def test_store_survives_reopen_and_pages(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    for i in range(5):
        store.insert(_job(i, "SUCCEEDED" if i % 2 else "QUEUED"))
    store.update("j3", state="RUNNING", step=7)
    store.close()
    store = JobStore(tmp_path / "jobs.sqlite")
    assert store.get("j3") == {"id": "j3", "state": "RUNNING", "created_at": 3.0, "step": 7}
    first = store.list(limit=2)
    assert [j["id"] for _, j in first] == ["j4", "j3"]
    second = store.list(after_seq=first[-1][0], limit=10)
    assert [j["id"] for _, j in second] == ["j2", "j1", "j0"]
    assert [j["id"] for _, j in store.list(state="QUEUED")] == ["j4", "j2", "j0"]
    assert [j["id"] for j in store.in_states("RUNNING", "SUCCEEDED")] == ["j1", "j3"]
    assert store.get("missing") is None
