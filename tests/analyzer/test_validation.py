"""Bad input: INVALID_ARGUMENT (kit InvalidArgument) naming the field and the limit. No tools run."""

from __future__ import annotations

import pytest

from codeeval.analyzer.analysis import Limits, RawFile, validate, validate_categories
from codeeval.analyzer.pmd import STUDY_CATEGORIES
from codeeval.analyzer.scoring import ScoreLimits
from codeeval.analyzer.scoring import validate as validate_score
from codeeval.kit.errors import InvalidArgument

OK = RawFile("a.py", b"x = 1\n")


@pytest.mark.parametrize("files,default,limits,message", [
    ([], "", Limits(), "files: at least one file is required"),
    ([OK, RawFile("b.py", b"y = 2\n"), RawFile("c.py", b"z = 3\n")], "", Limits(max_files=2),
     "files: 3 files exceeds the maximum of 2 files"),
    ([RawFile("a.py", b"")], "", Limits(), "files[0].content: file is empty"),
    ([OK, RawFile("big.py", b"#" * 101)], "", Limits(max_file_bytes=100),
     "files[1].content: 101 bytes exceeds the maximum of 100 bytes"),
    ([RawFile("a.py", b"x = '\xff'\n")], "", Limits(), "files[0].content: not valid UTF-8 (byte 5)"),
    ([RawFile("notes.rb", b"puts 1\n")], "", Limits(), "files[0].language: cannot tell the language of 'notes.rb'"),
    ([OK, RawFile("a.py", b"y = 1\n")], "", Limits(), "files[1].path: duplicate path 'a.py'"),
    ([RawFile(" ", b"y = 1\n")], "", Limits(), "files[0].path: must not be empty"),
    ([OK], "cobol", Limits(), "language: unknown language 'cobol'"),
])
def test_analyze_request_errors_name_field_and_limit(files, default, limits, message) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate(files, default, limits)
    assert str(err.value).startswith(message) and err.value.status == "INVALID_ARGUMENT"


def test_language_resolution_order() -> None:
    files = validate([RawFile("x.txt", b"int x;", "java"), RawFile("y.txt", b"x = 1"), RawFile("z.cs", b"int x;")],
                     "python", Limits())
    assert [f.language for f in files] == ["java", "python", "python"]


def test_categories() -> None:
    assert validate_categories([]) == list(STUDY_CATEGORIES)
    assert validate_categories(["quickstart", "design", "design"]) == ["quickstart", "design"]
    with pytest.raises(InvalidArgument, match=r"java_categories\[1\]: unknown PMD category 'style'"):
        validate_categories(["design", "style"])


@pytest.mark.parametrize("hyps,refs,sources,language,metrics,message", [
    ([], [], [], "", [], "hypotheses: at least one hypothesis is required"),
    (["a"] * 3, ["a"] * 3, [], "", [], "hypotheses: 3 instances exceeds the maximum of 2 instances"),
    (["a"], ["a", "b"], [], "", [], "references: 2 references for 1 hypotheses"),
    (["a"], ["a"], ["s", "t"], "", [], "sources: 2 sources for 1 hypotheses"),
    (["a"], [" "], [], "", [], "references[0]: reference is empty"),
    (["a" * 11], ["a"], [], "", [], "hypotheses[0]: 11 bytes exceeds the maximum of 10 bytes"),
    (["a"], ["a"], [], "", ["bleu", "bertscore"], "metrics[1]: unknown metric 'bertscore'"),
    (["a"], ["a"], [], "", ["codebleu"], "language: codebleu needs the code language"),
])
def test_score_request_errors(hyps, refs, sources, language, metrics, message) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate_score(hyps, refs, sources, language, metrics, ScoreLimits(max_instances=2, max_text_bytes=10))
    assert str(err.value).startswith(message)


def test_default_metrics_skip_codebleu_without_a_language() -> None:
    assert "codebleu" not in validate_score(["a"], ["a"], [], "", [], ScoreLimits())
    assert validate_score(["a"], ["a"], [], "java", [], ScoreLimits())[0] == "codebleu"
