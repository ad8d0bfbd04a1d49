"""Fixture files of the data-layer tests: MBPP in both published shapes (``fixtures/``)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
#: Original MBPP (``mbpp.jsonl``): text, code, task_id, test_setup_code, test_list, challenge_test_list.
MBPP_ORIGINAL = FIXTURES / "mbpp.jsonl"
#: Sanitized MBPP (``sanitized-mbpp.json``, a JSON array): source_file, task_id, prompt, code, test_imports, test_list.
MBPP_SANITIZED = FIXTURES / "sanitized-mbpp.json"
