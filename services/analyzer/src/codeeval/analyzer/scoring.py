"""The Score core: reference metrics per instance and over the corpus, plus the input/reference
leakage check for summarization.

All values are on a 0..1 scale (sacrebleu's 0..100 BLEU and chrF are divided by 100).
Corpus values: BLEU and chrF are sacrebleu corpus statistics, CodeBLEU is the corpus
(micro-averaged) score with ``instance_mean`` as a component, ROUGE-L, METEOR and exact match
are means over instances. Cost: dominated by CodeBLEU (~ms per pair) and METEOR's WordNet lookups.

sacrebleu memoizes its tokenizers' ``__call__`` in class-level ``lru_cache`` (2**16 entries) keyed
by the tokenizer instance and the line: the BLEU objects of each call put new instances there, so
the entries of earlier calls (their texts, up to the text limit each) were never hit again and
stayed until 65,536 of them filled the cache (found by the reliability bad-input run: the service's
RSS grew ~3 KiB a Score call and ~0.3 MiB per 60 calls with no end). :func:`clear_tokenizer_caches`
empties them after every call; memoization only: scores are the same.
"""

from __future__ import annotations

import functools
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from codeeval.analyzer import codebleu_metric
from codeeval.analyzer.model import LANGUAGES, ToolInfo
from codeeval.kit.errors import InvalidArgument, check_max, require

METRICS = ("codebleu", "bleu", "rouge_l", "chrf", "meteor", "exact_match")
_WORD = re.compile(r"\w+|[^\w\s]")
_ALNUM = re.compile(r"\w+")


@dataclass
class Metric:
    name: str
    value: float
    components: dict[str, float] = field(default_factory=dict)


@dataclass
class Instance:
    index: int
    metrics: list[Metric]
    reference_overlap: float = 0.0
    reference_verbatim_in_source: bool = False


@dataclass
class Leakage:
    instances: int
    verbatim: int
    verbatim_rate: float
    mean_overlap: float


@dataclass
class ScoreResult:
    corpus: list[Metric]
    instances: list[Instance]
    leakage: Leakage | None
    tools: list[ToolInfo]


@dataclass(frozen=True)
class ScoreLimits:
    max_instances: int = 20000
    max_text_bytes: int = 64 * 1024


def validate(hypotheses: list[str], references: list[str], sources: list[str], language: str,
             metrics: list[str], limits: ScoreLimits) -> list[str]:
    """Check a Score request; returns the metrics to compute or raises InvalidArgument naming the field."""
    require(bool(hypotheses), "hypotheses", "at least one hypothesis is required")
    check_max("hypotheses", len(hypotheses), limits.max_instances, "instances")
    require(len(references) == len(hypotheses), "references",
            f"{len(references)} references for {len(hypotheses)} hypotheses: one reference per hypothesis")
    require(not sources or len(sources) == len(hypotheses), "sources",
            f"{len(sources)} sources for {len(hypotheses)} hypotheses: one source per hypothesis, or none")
    require(language in ("", *LANGUAGES), "language", f"unknown language {language!r}")
    for name, texts in (("hypotheses", hypotheses), ("references", references), ("sources", sources)):
        for i, text in enumerate(texts):
            check_max(f"{name}[{i}]", len(text.encode("utf-8")), limits.max_text_bytes, "bytes")
    for i, ref in enumerate(references):
        require(bool(ref.strip()), f"references[{i}]", "reference is empty")
    for i, m in enumerate(metrics):
        require(m in METRICS, f"metrics[{i}]", f"unknown metric {m!r}; choose from {', '.join(METRICS)}")
    chosen = list(dict.fromkeys(metrics)) or [m for m in METRICS if m != "codebleu" or language]
    if "codebleu" in chosen and not language:
        raise InvalidArgument("codebleu needs the code language (python, java or csharp)", field="language")
    if "codebleu" in chosen:
        for name, texts in (("hypotheses", hypotheses), ("references", references)):
            for i, text in enumerate(texts):
                depth = codebleu_metric.syntax_depth(text, language)
                check_max(f"{name}[{i}]", depth, codebleu_metric.MAX_SYNTAX_DEPTH, "syntax tree levels")
    return chosen


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def leakage(source: str, reference: str) -> tuple[float, bool]:
    """(fraction of the reference's word tokens, with multiplicity, that occur in the source;
    whether the whole reference, case- and whitespace-normalised and without its final full stop,
    appears verbatim in the source)."""
    ref_tokens = _ALNUM.findall(reference.lower())
    if not ref_tokens:
        return 0.0, False
    available = Counter(_ALNUM.findall(source.lower()))
    hits = sum(min(n, available[t]) for t, n in Counter(ref_tokens).items())
    ref_norm = _normalise(reference).rstrip(". ")
    return hits / len(ref_tokens), bool(ref_norm) and ref_norm in _normalise(source)


def _meteor_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def clear_tokenizer_caches() -> int:
    """Empty the ``lru_cache`` of every imported sacrebleu tokenizer class's ``__call__`` (see the
    module docstring); the number of caches. Safe while other threads tokenize (they miss the cache)."""
    caches = 0
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("sacrebleu.tokenizers."):
            continue
        for obj in list(vars(module).values()):
            call = vars(obj).get("__call__") if isinstance(obj, type) else None
            if isinstance(call, functools._lru_cache_wrapper):
                call.cache_clear()
                caches += 1
    return caches


class Scorer:
    """Holds the WordNet reader; :meth:`score` is blocking."""

    def __init__(self, wordnet_dir: Path = Path("/usr/share/wordnet")) -> None:
        self.wordnet_dir = wordnet_dir

    def tools(self, metrics: list[str] | None = None, signatures: dict[str, str] | None = None) -> list[ToolInfo]:
        metrics = list(metrics or METRICS)
        signatures = signatures or {}
        out = []
        if "codebleu" in metrics:
            out.append(codebleu_metric.tool_info())
        if "bleu" in metrics or "chrf" in metrics:
            config = "; ".join(f"{k}: {v}" for k, v in signatures.items()) or "BLEU(), CHRF() defaults"
            out.append(ToolInfo("sacrebleu", version("sacrebleu"), config))
        if "rouge_l" in metrics:
            out.append(ToolInfo("rouge-score", version("rouge-score"), "rougeL F-measure, no stemmer"))
        if "meteor" in metrics:
            out.append(ToolInfo("nltk", version("nltk"), f"meteor_score, WordNet 3.0 from {self.wordnet_dir}, "
                                "lowercased \\w+|punctuation tokens; nltk looks synonyms up after Porter stemming"))
        return out

    def score(self, hypotheses: list[str], references: list[str], language: str, metrics: list[str],
              sources: list[str] | None = None) -> ScoreResult:
        try:
            return self._score(hypotheses, references, language, metrics, sources)
        finally:
            clear_tokenizer_caches()

    def _score(self, hypotheses: list[str], references: list[str], language: str, metrics: list[str],
               sources: list[str] | None) -> ScoreResult:
        n = len(hypotheses)
        pairs = list(zip(hypotheses, references, strict=True))
        per: list[list[Metric]] = [[] for _ in range(n)]
        corpus: list[Metric] = []
        signatures: dict[str, str] = {}
        if "codebleu" in metrics:
            values = [codebleu_metric.corpus_codebleu([h], [r], language) for h, r in pairs]
            total = codebleu_metric.corpus_codebleu(hypotheses, references, language)
            corpus.append(Metric("codebleu", total.codebleu, total.components()
                                 | {"instance_mean": sum(v.codebleu for v in values) / n}))
            for i, v in enumerate(values):
                per[i].append(Metric("codebleu", v.codebleu, v.components()))
        if "bleu" in metrics:
            from sacrebleu.metrics import BLEU

            corpus_bleu, sentence_bleu = BLEU(), BLEU(effective_order=True)
            corpus.append(Metric("bleu", corpus_bleu.corpus_score(hypotheses, [references]).score / 100))
            for i, (h, r) in enumerate(pairs):
                per[i].append(Metric("bleu", sentence_bleu.sentence_score(h, [r]).score / 100))
            signatures["bleu"] = str(corpus_bleu.get_signature())
            signatures["sentence bleu"] = str(sentence_bleu.get_signature())
        if "chrf" in metrics:
            from sacrebleu.metrics import CHRF

            chrf = CHRF()
            corpus.append(Metric("chrf", chrf.corpus_score(hypotheses, [references]).score / 100))
            for i, (h, r) in enumerate(pairs):
                per[i].append(Metric("chrf", chrf.sentence_score(h, [r]).score / 100))
            signatures["chrf"] = str(chrf.get_signature())
        if "rouge_l" in metrics:
            from rouge_score.rouge_scorer import RougeScorer

            rouge = RougeScorer(["rougeL"], use_stemmer=False)
            self._mean_metric("rouge_l", [rouge.score(r, h)["rougeL"].fmeasure
                                          for h, r in pairs], per, corpus)
        if "meteor" in metrics:
            from nltk.translate.meteor_score import meteor_score

            from codeeval.analyzer.wordnet import load_wordnet

            with load_wordnet(self.wordnet_dir).bounded() as wordnet:
                self._mean_metric("meteor", [meteor_score([_meteor_tokens(r)], _meteor_tokens(h), wordnet=wordnet)
                                             for h, r in pairs], per, corpus)
        if "exact_match" in metrics:
            self._mean_metric("exact_match", [float(_ws(h) == _ws(r)) for h, r in pairs], per, corpus)
        instances = [Instance(i, m) for i, m in enumerate(per)]
        report = None
        if sources:
            for inst, src, ref in zip(instances, sources, references, strict=True):
                inst.reference_overlap, inst.reference_verbatim_in_source = leakage(src, ref)
            verbatim = sum(inst.reference_verbatim_in_source for inst in instances)
            report = Leakage(n, verbatim, verbatim / n, sum(i.reference_overlap for i in instances) / n)
        return ScoreResult(corpus, instances, report, self.tools(metrics, signatures))

    @staticmethod
    def _mean_metric(name: str, values: list[float], per: list[list[Metric]], corpus: list[Metric]) -> None:
        corpus.append(Metric(name, sum(values) / len(values)))
        for i, v in enumerate(values):
            per[i].append(Metric(name, float(v)))


def _ws(text: str) -> str:
    return " ".join(text.split())
