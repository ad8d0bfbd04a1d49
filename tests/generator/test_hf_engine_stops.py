"""The transformers engine's stop strings are each row's own, and a long one costs what the row
generates, not a vocabulary-wide table per character (found by the reliability fuzz on the
transformers engine: an 80 KiB stop string held Generate past its 300 s deadline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codeeval.generator.engine import Sampling
from codeeval.generator.hf_engine import TransformersEngine, _Pending

PROMPT = "def add(a, b):"


@pytest.fixture(scope="module")
def engine(tiny_model: Path) -> TransformersEngine:
    eng = TransformersEngine(str(tiny_model), model_name="tiny", model_sha256="", dtype="float32")
    eng._load()
    return eng


def _run(engine: TransformersEngine, *stops: tuple[str, ...]) -> list[Any]:
    no_future: Any = None  # _generate_batch does not touch the waiters' futures
    return engine._generate_batch([_Pending(PROMPT, Sampling(max_tokens=16, stop=s), None, no_future) for s in stops])


def test_a_rows_stop_string_ends_that_row_only(engine: TransformersEngine) -> None:
    free = _run(engine, (), ())
    text = free[0].text
    assert free[1].text == text and len(text) >= 8, text  # greedy, same prompt: the same text
    stop = text[len(text) // 2: len(text) // 2 + 3]
    cut, whole = _run(engine, (stop,), ())
    assert whole.text == text and whole.finish_reason == free[1].finish_reason  # not cut by its neighbour's stop
    assert cut.text == text[: text.find(stop)] and cut.finish_reason == "stop"


def test_a_long_stop_string_that_never_matches_leaves_the_text_whole(engine: TransformersEngine) -> None:
    """20,000 characters: transformers' stop_strings took ~13 ms per character here (over 4 minutes)."""
    free = _run(engine, ())[0]
    (got,) = _run(engine, ("\u2603" * 20_000,))
    assert (got.text, got.finish_reason) == (free.text, free.finish_reason)


@pytest.mark.slow
@pytest.mark.timeout(120)  # a hang bound: transformers' stop_strings took over 4 minutes for this stop alone
def test_the_real_vocabulary_and_a_20k_character_stop(tmp_path: Path) -> None:
    """SmolLM2's 49k vocabulary, where the per-character table cost 13 ms a character: a stop string of
    20,000 characters, next to a short stop of another row in the same batch."""
    from codeeval.models import prepare_default_model

    eng = TransformersEngine(str(prepare_default_model()), model_name="smollm2", model_sha256="", dtype="float32")
    eng._load()
    no_future: Any = None
    prompt = "def fibonacci(n):\n"
    free = eng._generate_batch([_Pending(prompt, Sampling(max_tokens=24), None, no_future)])[0].text
    assert len(set(free)) > 4, free  # real text, not one token repeated
    short = free.strip().split()[1]
    long_stop = ("never in the text " * 1200)[:20_000]
    got = eng._generate_batch([_Pending(prompt, Sampling(max_tokens=24, stop=(long_stop,)), None, no_future),
                               _Pending(prompt, Sampling(max_tokens=24, stop=(short,)), None, no_future)])
    assert got[0].text == free
    assert got[1].text == free[: free.find(short)] and got[1].finish_reason == "stop"
