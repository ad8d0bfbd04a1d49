"""A run folder's stage file with a damaged line that is not the torn last line is refused with an
error naming the file and the line (DataError: the CLI prints it and exits 2), never skipped; the
torn last line of an interrupted write is still dropped and rewritten (test_pipeline_glue.py)."""

from __future__ import annotations

import pytest

from codeeval.data import DataError
from codeeval.pipeline.store import JsonlStore


@pytest.mark.parametrize("damage", [b'{"a": \n', b"\xff\xfe\n", b"not json\n"])
def test_a_damaged_middle_line_is_refused_and_left_as_it_is(tmp_path, damage):
    path = tmp_path / "executions.jsonl"
    data = b'{"a": 1}\n' + damage + b'{"a": 3}\n'
    path.write_bytes(data)
    store = JsonlStore(path)
    with pytest.raises(DataError, match=r"executions\.jsonl: line 2 is damaged"):
        list(store.records())
    with pytest.raises(DataError):
        store.keys(lambda r: r["a"])
    assert path.read_bytes() == data


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 16 KiB tmpfs (root only), unmounted afterwards."""
    import os
    import subprocess

    where = tmp_path / "small"
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a tmpfs")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_keeps_whole_records_and_names_the_file(small_tmpfs):
    import errno

    store = JsonlStore(small_tmpfs / "executions.jsonl")
    records = [{"key": f"k{i}", "pad": "x" * 700} for i in range(100)]  # ~70 KiB: more than the tmpfs holds
    with pytest.raises(OSError) as info:
        store.append(records)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(store.path)
    assert "run the same command again to resume" in str(info.value)
    data = store.path.read_bytes()
    assert data.endswith(b"\n"), "no partly written record is left"
    kept = list(store.records())
    assert 0 < len(kept) < 100 and kept == records[: len(kept)]
