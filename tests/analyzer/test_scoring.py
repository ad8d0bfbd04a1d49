"""Reference metrics checked against values computed independently here (own BLEU, own LCS), and
CodeBLEU's components against what the metric's definition implies."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from codeeval.analyzer import codebleu_metric, wordnet
from codeeval.analyzer.scoring import Scorer, leakage


def own_bleu(hyps: list[list[str]], refs: list[list[str]]) -> float:
    """Papineni et al. corpus BLEU-4, uniform weights, no smoothing, one reference each."""
    matches, totals = [0] * 4, [0] * 4
    for h, r in zip(hyps, refs, strict=True):
        for n in range(1, 5):
            hc = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            matches[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    hyp_len, ref_len = sum(map(len, hyps)), sum(map(len, refs))
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return brevity * math.exp(sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / 4)


def own_lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


HYPS = ["the cat sat on the mat", "a b c d e f"]
REFS = ["the cat sat on a mat today", "a b c d e g"]


def _values(result, name):
    corpus = next(m for m in result.corpus if m.name == name)
    return corpus, [next(m for m in inst.metrics if m.name == name) for inst in result.instances]


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


def test_bleu_corpus_and_sentence_match_own_computation(scorer: Scorer) -> None:
    result = scorer.score(HYPS, REFS, "", ["bleu"])
    corpus, per = _values(result, "bleu")
    assert corpus.value == pytest.approx(own_bleu([h.split() for h in HYPS], [r.split() for r in REFS]), abs=1e-9)
    # every n-gram order matches in the second pair, so sentence BLEU needs no smoothing: (5/6*4/5*3/4*2/3)^(1/4)
    assert per[1].value == pytest.approx((5 / 6 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25, abs=1e-9)


def test_rouge_l_chrf_exact_match(scorer: Scorer) -> None:
    hyps, refs = ["the cat sat on the mat", "return  x"], ["the cat was on the mat", "return x"]
    result = scorer.score(hyps, refs, "", ["rouge_l", "chrf", "exact_match"])
    _, rouge = _values(result, "rouge_l")
    lcs = own_lcs(hyps[0].split(), refs[0].split())
    assert lcs == 5 and rouge[0].value == pytest.approx(5 / 6)
    _, chrf = _values(result, "chrf")
    assert chrf[1].value == pytest.approx(1.0)  # whitespace differences do not count in chrF
    corpus_em, em = _values(result, "exact_match")
    assert [m.value for m in em] == [0.0, 1.0] and corpus_em.value == 0.5


def test_meteor_uses_wordnet_synonyms(scorer: Scorer) -> None:
    # car~auto only through WordNet (nltk matches synonyms after Porter stemming, so pick unstemmed words)
    refs = ["return the auto now"] * 2
    result = scorer.score(["return the car now", "return the sun now"], refs, "", ["meteor"])
    _, meteor = _values(result, "meteor")
    assert meteor[0].value > 0.95 and meteor[1].value < 0.7


def test_meteor_bounds_wordnets_synset_cache_without_changing_scores(scorer: Scorer, monkeypatch) -> None:
    reader = wordnet.load_wordnet(scorer.wordnet_dir)
    hyps = ["return the car now", "open the door slowly", "a quick brown fox jumps"]
    refs = ["return the auto now", "shut the gate slowly", "the fast brown dog leaps"]
    kept = [m.value for m in _values(scorer.score(hyps, refs, "", ["meteor"]), "meteor")[1]]
    held = wordnet.cached_synsets(reader)
    assert held > 10  # the words' synsets stay under the bound
    monkeypatch.setattr(wordnet, "MAX_CACHED_SYNSETS", 10)
    bounded = [m.value for m in _values(scorer.score(hyps, refs, "", ["meteor"]), "meteor")[1]]
    assert wordnet.cached_synsets(reader) == 0 and bounded == kept  # emptied after the call; memoization only
    # never emptied while another call is using it: only the last one to leave empties it
    with reader.bounded() as first:
        first.synsets("run")  # 57 synsets
        with reader.bounded() as second:
            second.synsets("door")
        assert wordnet.cached_synsets(reader) > 10
    assert wordnet.cached_synsets(reader) == 0


JAVA_REF = "public int add ( int a , int b ) { int c = a + b ; return c ; }"


def test_codebleu_identical_is_one_and_components_combine() -> None:
    same = codebleu_metric.corpus_codebleu([JAVA_REF], [JAVA_REF], "java")
    assert (same.codebleu, same.ngram_match, same.syntax_match, same.dataflow_match) == (1.0, 1.0, 1.0, 1.0)
    hyp = "public int add ( int x , int y ) { int z = x + y ; return z ; }"
    renamed = codebleu_metric.corpus_codebleu([hyp], [JAVA_REF], "java")
    # identifiers are not part of the syntax subtrees: renaming keeps the syntax match perfect
    assert renamed.syntax_match == 1.0
    assert renamed.ngram_match == pytest.approx(own_bleu([hyp.split()], [JAVA_REF.split()]), abs=1e-9)
    assert renamed.codebleu == pytest.approx(0.25 * (renamed.ngram_match + renamed.weighted_ngram_match
                                                     + renamed.syntax_match + renamed.dataflow_match))


def test_codebleu_counts_a_zero_dataflow_match_as_zero() -> None:
    from codebleu import calc_codebleu

    ref, hyp = "int f(int a) { int b = a * 2; return b; }", "void h() { }"
    ours = codebleu_metric.corpus_codebleu([hyp], [ref], "java")
    assert ours.reference_dataflows > 0 and ours.dataflow_match == 0.0
    package = calc_codebleu([ref], [hyp], "java")["codebleu"]
    assert package == pytest.approx(ours.codebleu + 0.25)  # the package's `dataflow or 1`


@pytest.mark.parametrize("lang,code", [
    ("python", "def add(a, b):\n    c = a + b\n    return c\n"),
    ("csharp", "public int Add(int a, int b) { var c = a + b; return c; }"),
])
def test_codebleu_python_and_csharp(lang: str, code: str, scorer: Scorer) -> None:
    result = scorer.score([code, "x"], [code, code], lang, ["codebleu"])
    corpus, per = _values(result, "codebleu")
    assert per[0].value == pytest.approx(1.0) and per[1].value < 0.5
    assert set(corpus.components) >= {"ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match",
                                      "instance_mean"}
    assert corpus.components["instance_mean"] == pytest.approx((per[0].value + per[1].value) / 2)


def test_leakage_overlap_and_verbatim() -> None:
    src = 'def f(x):\n    """Return the   square of\n    x."""\n    return x * x\n'
    assert leakage(src, "Return the square of x.") == (1.0, True)
    overlap, verbatim = leakage(src, "Compute the cube of x")
    assert overlap == pytest.approx(3 / 5) and not verbatim
