"""The study's summarization sets (paper_replication): the Python inputs still hold their
docstrings and about half contain the reference summary verbatim; the Java ones do not."""

from __future__ import annotations

import json
import re

import pytest

from codeeval.analyzer.scoring import Scorer

from .conftest import PAPER


def _load(name: str) -> list[dict]:
    path = PAPER / name
    if not path.is_file():
        pytest.skip(f"{path} absent: the study's paper_replication set is not shipped (CODEEVAL_DATASETS_DIR)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def test_python_set_leaks_its_references() -> None:
    rows = _load("cs_codereval_eval_dataset_py_v2.jsonl")
    refs, codes = [r["reference_summary"] for r in rows], [r["code"] for r in rows]
    result = Scorer().score(["placeholder"] * len(rows), refs, "", ["exact_match"], codes)
    assert sum('"""' in c or "'''" in c for c in codes) == 99  # docstring still in the input
    expected = sum(_flat(r).rstrip(". ") in _flat(c) for r, c in zip(refs, codes, strict=True))
    assert result.leakage.instances == 100 and result.leakage.verbatim == expected
    assert 40 <= result.leakage.verbatim <= 60 and result.leakage.mean_overlap > 0.7
    flagged = [i.index for i in result.instances if i.reference_verbatim_in_source]
    assert all(_flat(refs[i]).rstrip(". ") in _flat(codes[i]) for i in flagged)


def test_java_set_does_not() -> None:
    rows = _load("cs_codereval_eval_dataset_java_v2.jsonl")
    result = Scorer().score(["placeholder"] * len(rows), [r["reference_summary"] for r in rows], "",
                            ["exact_match"], [r["code"] for r in rows])
    assert result.leakage.instances == 99 and result.leakage.verbatim_rate < 0.05
    assert result.leakage.mean_overlap < 0.5
