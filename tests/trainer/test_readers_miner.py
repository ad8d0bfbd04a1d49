"""Dataset readers (CodeXGLUE formats, JSONL, mined) and the code-to-summary miner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeeval.kit.errors import NotFound
from codeeval.kit.paths import datasets_dir
from codeeval.trainer.miner import first_sentence, mine, remove_python_docstrings
from codeeval.trainer.readers import check_source, read
from codeeval.trainer.recipe_schema import SourceSpec

SHARED = datasets_dir()


def test_translation_pairs_lines_in_both_directions(mini_datasets: Path) -> None:
    spec = SourceSpec(reader="codexglue_translation", path="${datasets}/codexglue_code_to_code_trans/valid.java-cs.txt",
                      limit=3)
    rows = read(spec, "t")
    assert [r.fields["code"] for r in rows] == [f"public int get{i}() {{ return value{i} + {i}; }}" for i in range(3)]
    assert rows[2].target == "public int Get2() { return Value2 + 2; }"
    back = read(spec.model_copy(update={"direction": "cs-java"}), "t")
    assert back[0].fields["code"].startswith("public int Get0") and back[0].target.startswith("public int get0")


def test_concode_keeps_class_context(mini_datasets: Path) -> None:
    rows = read(SourceSpec(reader="concode", path="${datasets}/codexglue_concode/dev.json", limit=2), "c")
    assert rows[0].fields["description"] == "returns the value 0\nint value0"
    assert rows[0].target == "int function ( ) { return value0 ; }"


def test_jsonl_with_explicit_fields(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps({"src": f"x{i}", "ref": f"y{i}"}) for i in range(5)))
    rows = read(SourceSpec(reader="jsonl", path=str(path), fields={"code": "src"}, target="ref"), "s")
    assert [(r.fields["code"], r.target) for r in rows] == [(f"x{i}", f"y{i}") for i in range(5)]


def test_missing_dataset_names_the_path(tmp_path: Path) -> None:
    spec = SourceSpec(reader="codexglue_translation", path=str(tmp_path / "nope.txt"))
    with pytest.raises(NotFound, match=r"nope\.txt\.java does not exist"):
        check_source(spec, "data.tasks[0].source")


@pytest.mark.skipif(not SHARED.exists(), reason="shared datasets not on this machine")
def test_real_shared_formats() -> None:
    trans = read(SourceSpec(reader="codexglue_translation", path=str(SHARED / "codexglue_code_to_code_trans/test"
                                                                          ".java-cs.txt")), "t")
    assert len(trans) == 1000
    paper = read(SourceSpec(reader="study_summarization",
                            path=str(SHARED / "paper_replication/cs_codereval_eval_dataset_py_v2.jsonl")), "s")
    assert len(paper) == 100
    stripped = read(SourceSpec(reader="study_summarization", strip_docstring=True, language="python",
                               path=str(SHARED / "paper_replication/cs_codereval_eval_dataset_py_v2.jsonl")), "s")
    leaks_before = sum(r.target.lower() in r.fields["code"].lower() for r in paper)
    leaks_after = sum(r.target.lower() in r.fields["code"].lower() for r in stripped)
    assert leaks_before > 20 and leaks_after < leaks_before


PY_SRC = '''
import os


@decorator
def add(a, b):
    """Add two numbers and return the sum.

    More text that is not part of the summary.
    """
    return a + b


def short(x):
    """Too short."""
    return x


class K:
    def method(self, path):
        """Return the absolute form of the given path."""
        return os.path.abspath(path)
'''

JAVA_SRC = '''
public class Util {
    /**
     * Returns the larger of two integers. Ties return the first.
     * @param a first
     * @return the max
     */
    public static int max(int a, int b) {
        if (a >= b) { return a; }
        return b;
    }

    /** Tiny. */
    void f() {}
}
'''


def test_miner_python_removes_docstring(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(PY_SRC)
    pairs = list(mine(tmp_path, "python"))
    assert [(p.name, p.summary) for p in pairs] == [("add", "Add two numbers and return the sum."),
                                                    ("method", "Return the absolute form of the given path.")]
    assert pairs[0].code == "@decorator\ndef add(a, b):\n    return a + b"
    assert '"""' not in pairs[1].code and pairs[1].path == "pkg/m.py"


def test_miner_java_removes_javadoc(tmp_path: Path) -> None:
    (tmp_path / "Util.java").write_text(JAVA_SRC)
    pairs = list(mine(tmp_path, "java"))
    assert len(pairs) == 1
    assert pairs[0].name == "max" and pairs[0].summary == "Returns the larger of two integers."
    assert pairs[0].code.startswith("public static int max(int a, int b) {") and "/**" not in pairs[0].code
    assert pairs[0].code.endswith("return b;\n}")


def test_first_sentence_and_docstring_removal() -> None:
    assert first_sentence("Do a thing. Then more.\n\nDetails.") == "Do a thing."
    assert remove_python_docstrings('def f():\n    """Doc."""\n    return 1\n') == "def f():\n    return 1"
    assert remove_python_docstrings("not python (") == "not python ("


def test_hf_reader_without_hub_is_failed_precondition(monkeypatch: pytest.MonkeyPatch) -> None:
    from codeeval.kit.errors import FailedPrecondition

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    spec = SourceSpec(reader="hf", hf_name="google/code_x_glue_ct_code_to_text", hf_config="python",
                      fields={"code": "code"}, target="docstring", limit=1)
    with pytest.raises(FailedPrecondition, match="hf_name: cannot load HF dataset"):
        read(spec, "summarize-python")


def test_mined_reader_through_the_registry(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(PY_SRC)
    (tmp_path / "b.py").write_text(PY_SRC)  # the same names again: ids stay unique
    rows = read(SourceSpec(reader="mined", path=str(tmp_path), language="python"), "summarize")
    assert [r.target for r in rows] == ["Add two numbers and return the sum.",
                                        "Return the absolute form of the given path."] * 2
    assert rows[0].fields == {"code": "@decorator\ndef add(a, b):\n    return a + b"} and rows[0].task == "summarize"
