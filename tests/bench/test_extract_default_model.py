"""The parser extractor against the regular expressions on the default model's own answers.

The fixture (fixtures/default_model_answers.jsonl, provenance beside it; regenerate with
``tools/gen_default_model_answers.py``) holds SmolLM2-135M-Instruct's answers to the default suite's
code tasks, prompted with its own chat template: greedy and sampled. Each answer is extracted both
ways (the frozen regular-expression extractor of extract_regex_baseline.py, and
:func:`codeeval.pipeline.extract.extract_code` with the item's function) and assembled into the
program the bench runs (:func:`codeeval.pipeline.programs.build_program`).

- fast: where the old program parses (and defines the entry point), the new one does too; checked
  by ``ast`` and tree-sitter here, independently of the sanitizer;
- integration (real sandbox service): no answer that passes with the old extraction fails with the
  new one, and the answers the new one recovers are counted;
- the regeneration script's glue, against a fake generator.
"""

from __future__ import annotations

import ast
import functools
import json
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_c_sharp
import tree_sitter_java
from extract_regex_baseline import extract_code as regex_extract
from tree_sitter import Language, Parser

from codeeval.data import Item
from codeeval.pipeline.extract import extract_code
from codeeval.pipeline.programs import build_program
from codeeval.records import Outcome, Program
from codeeval.suites import load_suite, read_items
from codeeval.suites.schema import Task

FIXTURES = Path(__file__).parent / "fixtures"
ANSWERS = FIXTURES / "default_model_answers.jsonl"
PROVENANCE = FIXTURES / "default_model_answers.provenance.json"


@dataclass(frozen=True)
class Case:
    """One answer with its item, and the programs the old and the new extraction make of it."""

    record: dict[str, Any]
    task: Task
    item: Item
    old: Program
    new: Program

    @property
    def label(self) -> str:
        r = self.record
        return f"{r['task']}/{r['item']} t={r['temperature']} #{r['sample']}"


@functools.cache
def _cases() -> tuple[Case, ...]:
    loaded = load_suite("default")
    tasks = {t.name: t for t in loaded.suite.tasks}
    items = {name: {it.id: it for it in read_items(t, loaded.base_dir)} for name, t in tasks.items()}
    out = []
    for line in ANSWERS.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        task, item = tasks[rec["task"]], items[rec["task"]][rec["item"]]
        old = build_program(task, item, regex_extract(rec["text"], task.language))
        new = build_program(task, item, extract_code(rec["text"], task.language, entry_point=item.function))
        out.append(Case(rec, task, item, old, new))
    return tuple(out)


def test_the_fixture_is_the_default_models_own_answers_with_provenance() -> None:
    prov = json.loads(PROVENANCE.read_text(encoding="utf-8"))
    cases = _cases()
    assert 40 <= len(cases) == prov["answers"] <= 100
    assert prov["model"]["base_model_sha256"] and prov["date"] and prov["command"][0].endswith(".py")
    assert prov["suite"]["name"] == "default" and prov["sampling"][0] == {"temperature": 0.0, "n": 1, "seed": 0}
    served = {f"{c.record['template']} {c.record['template_sha256']}" for c in cases}
    assert served == set(prov["templates"]) and all(t.startswith("model:") for t in served)  # its own template
    assert all(c.record["prompt_sha256"] for c in cases)
    assert {c.record["temperature"] for c in cases} == {s["temperature"] for s in prov["sampling"]}
    assert {c.task.name for c in cases} == set(prov["tasks"])


def _parses_and_defines(program: Program, entry: str) -> tuple[bool, bool]:
    """(the program parses, it defines ``entry``: a function or method of that name; any type
    declaration when there is no entry point); by ``ast`` for Python, tree-sitter otherwise."""
    if not program.source.strip():
        return False, False
    if program.language == "python":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(program.source)
        except SyntaxError:
            return False, False
        return True, any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == entry
                         for n in ast.walk(tree))
    root = _parser(program.language).parse(program.source.encode()).root_node
    if root.has_error:
        return False, False
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "method_declaration" and entry:
            name = node.child_by_field_name("name")
            if name is not None and name.text == entry.encode():
                return True, True
        elif node.type == "class_declaration" and not entry:
            return True, True
        stack.extend(node.children)
    return True, False


@functools.cache
def _parser(language: str) -> Parser:
    grammar = {"java": tree_sitter_java, "csharp": tree_sitter_c_sharp}[language]
    return Parser(Language(grammar.language()))


def test_the_parser_never_loses_a_program_the_regular_expressions_made_on_the_default_models_answers() -> None:
    counts: Counter[str] = Counter()
    lost = []
    for c in _cases():
        (old_ok, old_def), (new_ok, new_def) = (_parses_and_defines(c.old, c.item.function),
                                                _parses_and_defines(c.new, c.item.function))
        counts["answers"] += 1
        counts["old parses"] += old_ok
        counts["new parses"] += new_ok
        counts["old defines"] += old_def
        counts["new defines"] += new_def
        if (old_ok and not new_ok) or (old_def and not new_def):
            lost.append(f"{c.label}: {c.record['text'][:200]!r}")
    print(dict(counts))
    assert not lost, f"{len(lost)} answers lost, e.g. {lost[:3]}"
    assert counts["new parses"] + counts["new defines"] > counts["old parses"] + counts["old defines"], counts


@pytest.mark.slow
@pytest.mark.integration
def test_no_answer_that_passes_with_the_regular_expressions_fails_with_the_parser_in_the_real_sandbox(
        tmp_path: Path) -> None:
    """Every distinct program of both extractions runs once in a real sandbox service (started for
    the test: Python, Java, C# compile): what passed before passes now, and what the parser recovers
    is counted. On this fixture (84 answers) 19 pass either way and the parser recovers none: the
    default model fences its code and its example usage only prints, so the 4 answers the two
    extractions differ on (dropped example prints, another fenced block) fail either way. The
    recovery is shown on the CoderEval ChatGPT answers and on wrapped HumanEval references
    (test_extract.py)."""
    from codeeval.clients import SandboxClient

    cases = _cases()
    programs = {p.key: p for c in cases for p in (c.old, c.new) if p.source.strip()}
    keys = sorted(programs)
    outcome: dict[str, Outcome] = {}
    with SandboxClient(log_dir=tmp_path) as sandbox:
        supported = sandbox.supported()
        missing = {(p.language, p.mode.value) for p in programs.values() if (p.language, p.mode) not in supported}
        if missing:
            pytest.skip(f"the sandbox here cannot run {sorted(missing)}")
        for start in range(0, len(keys), 16):
            chunk = keys[start:start + 16]
            sandbox.execute_batch([programs[k].to_request() for k in chunk], chunk,
                                  lambda i, ex: outcome.__setitem__(ex.key, ex.outcome))

    def passed(p: Program) -> bool:
        return bool(p.source.strip()) and outcome[p.key] is Outcome.PASSED

    assert not [k for k in keys if outcome[k] is Outcome.SANDBOX_ERROR], "the sandbox failed; run again"
    lost = [c.label for c in cases if passed(c.old) and not passed(c.new)]
    recovered = [c.label for c in cases if passed(c.new) and not passed(c.old)]
    differ = [c for c in cases if c.old.key != c.new.key]
    by_task = Counter(c.task.name for c in cases if passed(c.new))
    print(f"{len(cases)} answers: old passes {sum(passed(c.old) for c in cases)}, new passes "
          f"{sum(passed(c.new) for c in cases)} ({dict(by_task)}); the extractions differ on {len(differ)} "
          f"(passing with the parser: {sum(passed(c.new) for c in differ)}); recovered {len(recovered)}: {recovered}")
    assert not lost, f"{len(lost)} answers pass with the regular expressions and fail with the parser: {lost}"
    # Not vacuous: the sandbox passes some answers, and the two extractions make different programs of some.
    assert by_task["codegen-python"] > 0 and by_task["codegen-java"] > 0 and differ


def test_the_regeneration_script_writes_the_fixtures_format_with_portable_provenance(fake_services, tmp_path):
    """tools/gen_default_model_answers.py against a fake generator (the fixture itself is its output
    against the real one): the same record fields, every code task's items greedy and sampled, per
    variant, and a provenance that names no folder of the machine."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_answers", Path(__file__).parents[2] / "tools"
                                                  / "gen_default_model_answers.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    adapter = tmp_path / "adapters" / "mine"
    adapter.mkdir(parents=True)
    out = tmp_path / "answers"
    assert script.main(["--out", str(out), "--samples", "2", "--adapter", f"tuned={adapter}"]) == 0
    records = [json.loads(line) for line in Path(f"{out}.jsonl").read_text().splitlines()]
    prov = json.loads(Path(f"{out}.provenance.json").read_text())
    fixture_fields = set(json.loads(ANSWERS.read_text().splitlines()[0]))
    assert all(set(r) == fixture_fields for r in records)
    assert len(records) == prov["answers"] == 2 * 21 * 3  # two variants, 21 items, greedy + 2 sampled
    assert Counter(r["adapter"] for r in records) == {"": 63, "tuned": 63}
    assert prov["command"] == ["tools/gen_default_model_answers.py", "--out", ".../answers", "--samples", "2",
                               "--adapter", "tuned=.../mine"]
    assert prov["adapters"]["tuned"]["path"] == ".../mine" and prov["adapters"]["tuned"]["sha256"] == "a" * 64
    assert str(tmp_path) not in json.dumps(prov)
    assert fake_services.generator.loaded_paths == [str(adapter.resolve())]
