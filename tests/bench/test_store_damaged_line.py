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
