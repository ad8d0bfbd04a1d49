"""Found by the bad-input fuzzer (reliability.fuzz) on the real AnalyzerService: Score with CodeBLEU on
a hypothesis 20,000 levels deep ("[[[[...", "----1") killed the whole service with SIGSEGV (codebleu's
syntax match prints every subtree with tree-sitter's recursive ts_node_string, overflowing the C
stack). Such a text is now INVALID_ARGUMENT naming it and the limit, before CodeBLEU runs; a text at
the limit still scores."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codeeval.analyzer import codebleu_metric
from codeeval.analyzer.scoring import ScoreLimits, validate
from codeeval.kit.errors import InvalidArgument

DEEP = ["[" * 20_000 + "]" * 20_000, "(" * 20_000 + ")" * 20_000, "-" * 20_000 + "1"]


@pytest.mark.parametrize("text", DEEP)
@pytest.mark.parametrize("field", ["hypotheses", "references"])
def test_a_syntax_tree_too_deep_for_codebleu_is_invalid_argument_naming_it(text: str, field: str) -> None:
    texts = {"hypotheses": ["x = 1", "x = 2"], "references": ["x = 1", "x = 2"]}
    texts[field][1] = text
    with pytest.raises(InvalidArgument) as info:
        validate(texts["hypotheses"], texts["references"], [], "python", ["codebleu"], ScoreLimits())
    assert info.value.field == f"{field}[1]"
    assert f"exceeds the maximum of {codebleu_metric.MAX_SYNTAX_DEPTH} syntax tree levels" in str(info.value)


def test_other_metrics_do_not_parse_and_accept_deep_text() -> None:
    assert validate([DEEP[0]], ["x"], [], "python", ["bleu", "chrf"], ScoreLimits()) == ["bleu", "chrf"]


def test_the_deepest_accepted_text_scores_without_crashing() -> None:
    """In a child process: were the limit too high, the crash would be the child's, not pytest's."""
    code = ("from codeeval.analyzer import codebleu_metric as c\n"
            "t = 'x = ' + '-' * (c.MAX_SYNTAX_DEPTH - 5) + 'y'\n"
            "assert c.syntax_depth(t, 'python') <= c.MAX_SYNTAX_DEPTH\n"
            "print(round(c.corpus_codebleu([t], [t], 'python').codebleu, 3))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout) > 0


def test_score_leaves_nothing_in_sacrebleus_tokenizer_caches() -> None:
    """Found by the bad-input fuzzer's full run (the analyzer's RSS grew ~3 KiB a Score call with no
    end): sacrebleu's tokenizers memoize ``__call__`` in class-level lru caches keyed by the instance,
    and every Score call's BLEU objects are new instances, so each call's texts stayed cached (up to
    65,536 entries per cache). After a call the caches are empty; the scores are unchanged."""
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
    from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

    from codeeval.analyzer.scoring import Scorer

    scorer = Scorer()
    first = scorer.score(["a b c d", "x = 1"], ["a b c e", "x = 2"], "python", ["bleu", "chrf"])
    for i in range(20):
        again = scorer.score(["a b c d", "x = 1"], ["a b c e", "x = 2"], "python", ["bleu", "chrf"])
        scorer.score([f"text {i} " * 50], [f"other {i}"], "python", ["bleu"])
    assert [(m.name, m.value) for m in again.corpus] == [(m.name, m.value) for m in first.corpus]
    assert Tokenizer13a.__call__.cache_info().currsize == 0  # type: ignore[attr-defined]
    assert TokenizerRegexp.__call__.cache_info().currsize == 0  # type: ignore[attr-defined]
