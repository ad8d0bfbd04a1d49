"""CodeBLEU (Ren et al. 2020) from the ``codebleu`` package's four components, recombined here.

Components: n-gram match (BLEU over whitespace tokens), keyword-weighted n-gram match, syntax
match (tree-sitter subtrees) and data-flow match. Weights 0.25 each.

One deliberate difference from ``codebleu.calc_codebleu``: that function adds
``theta * (dataflow or 1)``, so a data-flow match of 0 (no flow matched, or no flow in the
reference at all) counts as a perfect 1.0 and inflates the score. Here a data-flow match of 0 counts
as 0 when the reference has data flows; when the references have none, the score is the mean of
the other three components, and ``reference_dataflows`` = 0 says so.

Cost: tree-sitter parses each hypothesis and reference twice; ~1-5 ms per pair of short functions.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from importlib.metadata import version
from importlib.resources import files
from typing import Any

from codeeval.analyzer.model import ToolInfo

LANGUAGE_NAMES = {"python": "python", "java": "java", "csharp": "c_sharp"}
COMPONENTS = ("ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match")


@dataclass(frozen=True)
class CodeBleu:
    codebleu: float
    ngram_match: float
    weighted_ngram_match: float
    syntax_match: float
    dataflow_match: float
    reference_dataflows: int

    def components(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in COMPONENTS} | {"reference_dataflows": self.reference_dataflows}


def tool_info() -> ToolInfo:
    return ToolInfo("codebleu", f"{version('codebleu')} (tree-sitter {version('tree-sitter')})",
                    "weights 0.25x4, whitespace tokens, dataflow 0 counted as 0 (not the package's 1)")


@functools.cache
def _language(lang: str) -> Any:
    from codebleu.utils import get_tree_sitter_language

    return get_tree_sitter_language(LANGUAGE_NAMES[lang])


@functools.cache
def _keywords(lang: str) -> frozenset[str]:
    text = files("codebleu").joinpath("keywords", LANGUAGE_NAMES[lang] + ".txt").read_text(encoding="utf-8")
    return frozenset(x.strip() for x in text.splitlines())


def _reference_dataflows(references: list[str], lang: str) -> int:
    from codebleu import dataflow_match as dm
    from tree_sitter import Parser

    parser = [Parser(_language(lang)), dm.dfg_function[LANGUAGE_NAMES[lang]]]
    total = 0
    for ref in references:
        with contextlib.suppress(Exception):  # the package does the same: keep the raw text
            ref = dm.remove_comments_and_docstrings(ref, LANGUAGE_NAMES[lang])
        total += len(dm.normalize_dataflow(dm.get_data_flow(ref, parser)))
    return total


#: Deepest syntax tree CodeBLEU is run on: its syntax match prints each subtree with tree-sitter's
#: recursive ts_node_string, which overflows the C stack (SIGSEGV, the whole service) on a tree
#: 20,000 levels deep ("[[[[...", "----1"), and its data-flow match recurses in Python.
MAX_SYNTAX_DEPTH = 200


def syntax_depth(text: str, lang: str) -> int:
    """Depth of ``text``'s tree-sitter syntax tree, walked without recursion. Cost: one parse."""
    from tree_sitter import Parser

    cursor = Parser(_language(lang)).parse(text.strip().encode("utf-8")).walk()
    depth = deepest = 0
    while True:
        if cursor.goto_first_child():
            depth += 1
            deepest = max(deepest, depth)
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return deepest
            depth -= 1


def corpus_codebleu(hypotheses: list[str], references: list[str], lang: str) -> CodeBleu:
    """CodeBLEU of the corpus (micro-averaged like the original); one reference per hypothesis."""
    from codebleu import bleu, dataflow_match, syntax_match, weighted_ngram_match

    name, ts_lang, keywords = LANGUAGE_NAMES[lang], _language(lang), _keywords(lang)
    refs = [r.strip() for r in references]
    hyps = [h.strip() for h in hypotheses]
    tok_hyps = [h.split() for h in hyps]
    tok_refs = [[r.split()] for r in refs]
    ngram = bleu.corpus_bleu(tok_refs, tok_hyps)
    weighted_refs = [[[toks, {t: 1 if t in keywords else 0.2 for t in toks}] for toks in ref] for ref in tok_refs]
    weighted = weighted_ngram_match.corpus_bleu(weighted_refs, tok_hyps)
    syntax = syntax_match.corpus_syntax_match([[r] for r in refs], hyps, name, tree_sitter_language=ts_lang)
    flows = _reference_dataflows(refs, lang)
    if flows:
        dataflow = dataflow_match.corpus_dataflow_match([[r] for r in refs], hyps, name, tree_sitter_language=ts_lang)
        score = 0.25 * (ngram + weighted + syntax + dataflow)
    else:
        dataflow = 0.0
        score = (ngram + weighted + syntax) / 3
    return CodeBleu(score, ngram, weighted, syntax, dataflow, flows)
