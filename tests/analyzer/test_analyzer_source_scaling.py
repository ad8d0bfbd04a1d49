"""The analyzer's whole-file regexes (analysis.java_file_name: the package clause and the public type)
read the largest accepted file of every shape that made one quadratic (a ``^\\s*package`` spanning
lines ran from each line start over all the blank lines below it: 0.5 s at 20,000 newlines, 29 s at
150,000), and name every file as the form they replaced did; that regex is kept here as the
reference. No PMD: pure functions."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeeval.analyzer import analysis, parsing
from codeeval.analyzer.analysis import Limits, java_file_name
from codeeval.kit.paths import datasets_dir

from .conftest import FIXTURES

#: The largest file a request may carry.
SIZE = Limits().max_file_bytes
REPO_JAVA = sorted((Path(__file__).resolve().parents[2] / "services").rglob("*.java"))
CODEREVAL_JAVA = (datasets_dir() / "codereval" / "experimental-results" / "GenerateResultJava" / "ChatGPT"
                  / "HumanLabel_Input.jsonl_out.jsonl")
TRANS_JAVA = datasets_dir() / "codexglue_code_to_code_trans" / "test.java-cs.txt.java"
#: The package regex the line-bounded one replaced (quadratic on runs of blank lines).
REFERENCE_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.MULTILINE)
TOKENS = ["package", "package p;", "package p.q ;", "package\tq.\n;", "p", "p.q", ".", ";", "public", "static",
          "final", "abstract", "sealed", "class", "interface", "enum", "record", "A", "B_1", "{", "}", "//", "é"]
#: Kinds of whitespace ``\s`` knows, so that line starts (only after ``\n``) and blanks are both varied.
BLANKS = [" ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2028", "\u3000"]


def reference_file_name(text: str) -> str:
    found = analysis._PUBLIC_TYPE.search(text)
    name = f"{found.group(1) if found else 'Sample'}.java"
    package = REFERENCE_PACKAGE.search(text)
    return str(Path(*package.group(1).split("."), name)) if package else name


def check_against_reference(text: str) -> None:
    assert java_file_name(text) == reference_file_name(text)
    wrapped = parsing.wrap(text)
    assert java_file_name(wrapped) == reference_file_name(wrapped)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TOKENS), st.lists(st.sampled_from(BLANKS), max_size=3).map("".join)),
                max_size=30))
def test_file_names_agree_with_the_reference_regex(parts: list[tuple[str, str]]):
    check_against_reference("".join(t + sep for t, sep in parts))


def test_file_names_agree_with_the_reference_on_the_repositorys_java_and_the_fixtures():
    texts = [p.read_text(encoding="utf-8") for p in [*REPO_JAVA, *sorted((FIXTURES / "java").glob("*.java"))]]
    assert sum(REFERENCE_PACKAGE.search(t) is not None for t in texts) >= 5
    for text in texts:
        for variant in (text, "\n \n\t\n" + text, " \t" + text.replace("\n", "\r\n  "), "/* c */ " + text):
            check_against_reference(variant)
    fixture = java_file_name((FIXTURES / "java" / "Clean.java").read_text(encoding="utf-8"))
    assert PurePosixPath(fixture).suffix == ".java" and len(PurePosixPath(fixture).parts) > 1


@pytest.mark.skipif(not CODEREVAL_JAVA.is_file() or not TRANS_JAVA.is_file(),
                    reason="needs CoderEval and CodeXGLUE code-to-code-trans in the datasets folder "
                           "($CODEEVAL_DATASETS_DIR)")
def test_file_names_agree_with_the_reference_on_coderevals_and_codexglues_java():
    rows = [json.loads(line) for line in CODEREVAL_JAVA.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [code for row in rows for code in row["codes"]] + TRANS_JAVA.read_text(encoding="utf-8").splitlines()
    assert len(texts) > 2000
    names = set()
    for text in texts:
        for variant in (text, "package a.b;\n" + text, "\n\n  package a.b ;\n\n" + text):
            check_against_reference(variant)
        names.add(java_file_name(text))
    assert len(names) > 10  # the public type is found in many


def test_the_largest_files_of_the_quadratic_shapes_are_named():
    for shape in ("\n", " \n", "\r\n", "\x0b\n", "\n\n\n\n package", "package\n", "package ", "public\n",
                  "public static ", "{", "package" + "\n" * 100):
        text = shape * (SIZE // len(shape))
        assert java_file_name(text) == "Sample.java", shape
    clause = "package a.b;\npublic final class X {}\n"
    assert java_file_name("\n" * (SIZE - len(clause)) + clause) == str(Path("a", "b", "X.java"))
    assert java_file_name(" \n" * (SIZE // 4) + " \t package a ;" + "\n" * (SIZE // 4)) == str(Path("a", "Sample.java"))
    assert java_file_name("public " + "static " * (SIZE // 8) + "class Y {}") == "Y.java"
