"""Suite schema and validation: shipped suites validate, mistakes get did-you-mean errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codeeval.kit.paths import datasets_dir
from codeeval.suites import SuiteError, list_suites, load_suite, validate_suite


def _write(tmp_path: Path, suite: dict) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def _task(**over) -> dict:
    task = {"name": "t", "kind": "codegen", "language": "python", "reader": "codeeval_yaml",
            "path": str(Path(load_suite("default").base_dir / "default/codegen_python.yaml")),
            "task_prompt": "codegen-python", "metrics": ["pass@1"]}
    task.update(over)
    return task


def test_shipped_suites_validate_with_their_data():
    """default ships its data; study reads public datasets the project does not ship."""
    assert {"default", "study"} <= set(list_suites())
    assert validate_suite(load_suite("default")) == []
    if not datasets_dir().is_dir():
        pytest.skip(f"study suite's data: no datasets at {datasets_dir()} (set CODEEVAL_DATASETS_DIR)")
    assert validate_suite(load_suite("study")) == []


def test_default_suite_covers_the_issue_tasks():
    suite = load_suite("default").suite
    kinds = {(t.kind, t.source_language, t.language) for t in suite.tasks}
    assert ("codegen", None, "python") in kinds and ("codegen", None, "java") in kinds
    assert ("translation", "java", "csharp") in kinds and ("translation", "csharp", "java") in kinds
    assert {t.language for t in suite.tasks if t.kind == "summarization"} == {"python", "java"}


def test_unknown_suite_name_suggests_the_close_one():
    with pytest.raises(SuiteError, match="did you mean 'default'"):
        load_suite("defualt")


def test_unknown_key_suggests_the_field(tmp_path):
    path = _write(tmp_path, {"name": "x", "version": "1", "tasks": [_task(metircs=["pass@1"])]})
    with pytest.raises(SuiteError, match=r"tasks\.0\.metircs: unknown key; did you mean 'metrics'"):
        load_suite(path)


def test_unknown_generation_key_suggests_the_field(tmp_path):
    path = _write(tmp_path, {"name": "x", "version": "1", "tasks": [_task(generation={"temprature": 0.2})]})
    with pytest.raises(SuiteError, match="did you mean 'temperature'"):
        load_suite(path)


def test_unknown_metric_and_pass_at_k_above_n(tmp_path):
    path = _write(tmp_path, {"name": "x", "version": "1", "tasks": [_task(metrics=["codebelu"])]})
    with pytest.raises(SuiteError, match="did you mean 'codebleu'"):
        load_suite(path)
    path = _write(tmp_path, {"name": "x", "version": "1", "tasks": [_task(metrics=["pass@5"])]})
    with pytest.raises(SuiteError, match=r"pass@5 needs generation.n >= 5 \(n is 1\)"):
        load_suite(path)


def test_validate_names_reader_prompt_template_and_data(tmp_path):
    path = _write(tmp_path, {"name": "x", "version": "1", "tasks": [
        _task(name="a", reader="humaneavl"),
        _task(name="b", task_prompt="codegen-pyton", template="chatmll"),
        _task(name="c", path=str(tmp_path / "missing.yaml")),
    ]})
    problems = validate_suite(load_suite(path))
    text = "\n".join(problems)
    assert "did you mean 'humaneval'" in text
    assert "did you mean 'codegen-python'" in text
    assert "did you mean 'chatml'" in text
    assert "missing.yaml does not exist" in text


def test_duplicate_task_names_are_rejected(tmp_path):
    path = _write(tmp_path, {"name": "x", "version": "1", "tasks": [_task(), _task()]})
    with pytest.raises(SuiteError, match="appears twice"):
        load_suite(path)


def test_suite_hash_changes_with_content(tmp_path):
    a = load_suite(_write(tmp_path, {"name": "x", "version": "1", "tasks": [_task()]})).suite.sha256()
    b = load_suite(_write(tmp_path, {"name": "x", "version": "1", "tasks": [_task(limit=2)]})).suite.sha256()
    assert a != b


def test_cli_suites_and_validate(tmp_path, capsys):
    from codeeval.cli.main import main

    assert main(["suites"]) == 0
    assert "default" in capsys.readouterr().out
    assert main(["suites", "validate", "default"]) == 0
    assert main(["suites", "validate", "--no-data"]) == 0  # every shipped suite, without their datasets
    bad = _write(tmp_path, {"name": "x", "version": "1", "tasks": [_task(reader="humaneavl")]})
    assert main(["suites", "validate", str(bad)]) == 2
    assert "did you mean 'humaneval'" in capsys.readouterr().out
