"""``codeeval compare`` as a CI gate, on results.json folders built here: the exit code of each verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from codeeval.cli.main import main

SCHEMA = "codeeval.pipeline.results/v1"


def _run(root: Path, name: str, tasks: dict[str, list[tuple[bool, float]]]) -> Path:
    """A variant folder whose results.json has, per task, items with one pass/fail sample and a codebleu score."""
    doc = {"schema": SCHEMA, "suite": {"name": "t", "version": "1", "sha256": "0" * 64}, "tasks": {
        task: {"instances": {f"i{k}": {"n": 1, "c": int(p), "passed": [p], "metrics": {"codebleu": s}}
                             for k, (p, s) in enumerate(items)}}
        for task, items in tasks.items()}}
    folder = root / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(doc))
    return folder


def _steady(n: int) -> list[tuple[bool, float]]:
    """n items, pass rate 0.5, codebleu close to 0.6 (a small spread: the gate can decide on n >= 20)."""
    return [(k % 2 == 0, 0.6 + 0.01 * (k % 5)) for k in range(n)]


def _compare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["compare", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_planted_regression_exits_1_with_the_failing_metric_and_its_interval(tmp_path, capsys):
    base = _run(tmp_path, "base", {"gen": _steady(60)})
    planted = _run(tmp_path, "planted", {"gen": [(p, s - 0.3) for p, s in _steady(60)]})
    rc, out, _ = _compare(capsys, str(base), str(planted), "--max-drop", "codebleu=0.02")
    assert rc == 1, out
    assert "REGRESSION" in out and "upper bound" in out and "minimal detectable drop" in out
    assert out.strip().splitlines()[-1].startswith(f"gate {planted} vs {base}: REGRESSION")
    # the old flag is accepted and changes nothing
    assert _compare(capsys, str(base), str(planted), "--max-drop", "codebleu=0.02", "--fail-on-regression")[0] == 1


def test_identical_runs_pass_only_when_the_suite_can_gate(tmp_path, capsys):
    base = _run(tmp_path, "base", {"gen": _steady(60)})
    rc, out, _ = _compare(capsys, str(base), str(base), "--json", str(tmp_path / "gate.json"))
    assert rc == 0, out
    assert "REGRESSION" not in out and out.strip().splitlines()[-1].endswith("no regression (gen codebleu: "
                                                                          "lower bound +0.000 > -0.02)")
    gate = json.loads((tmp_path / "gate.json").read_text())
    assert gate["verdict"] == "no regression" and [r["metric"] for r in gate["results"]] == ["codebleu"]
    pass_row = next(p for p in gate["power"] if p["metric"] == "pass@1")
    assert not pass_row["gating"]  # 60 items at a 50% pass rate cannot show a 10-point drop: reported, not gated
    # only pass@1 gated: it cannot gate on these items, so even identical runs are inconclusive
    rc, out, _ = _compare(capsys, str(base), str(base), "--max-drop", "pass@1=0.02")
    assert rc == 3, out
    assert "INCONCLUSIVE" in out and "cannot tell" in out


def test_a_tiny_subset_is_inconclusive_unless_allowed(tmp_path, capsys):
    base = _run(tmp_path, "base", {"gen": _steady(4)})
    cand = _run(tmp_path, "cand", {"gen": [(False, 0.1)] * 4})
    rc, out, _ = _compare(capsys, str(base), str(cand))
    assert rc == 3, out
    assert "can never fire" in out and "not gating" in out
    assert _compare(capsys, str(base), str(cand), "--allow-inconclusive")[0] == 0


def test_bad_input_exits_2_naming_the_file_or_option(tmp_path, capsys):
    base = _run(tmp_path, "base", {"gen": _steady(20)})
    rc, _, err = _compare(capsys, str(base), str(tmp_path / "missing"))
    assert rc == 2 and f"{tmp_path / 'missing'} does not exist" in err and "Traceback" not in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text("{not json")
    rc, _, err = _compare(capsys, str(base), str(bad))
    assert rc == 2 and str(bad / "results.json") in err and "not valid JSON" in err
    shape = _run(tmp_path, "shape", {"gen": _steady(20)})
    doc = json.loads((shape / "results.json").read_text())
    doc["tasks"]["gen"]["instances"]["i3"]["metrics"]["codebleu"] = "high"
    (shape / "results.json").write_text(json.dumps(doc))
    rc, _, err = _compare(capsys, str(shape), str(base))
    assert rc == 2 and str(shape / "results.json") in err and "tasks.gen.instances.i3.metrics.codebleu" in err
    rc, _, err = _compare(capsys, str(base), str(base), "--max-drop", "pass@1=2")
    assert rc == 2 and "--max-drop" in err
    rc, _, err = _compare(capsys, str(base), str(base), "--confidence", "1.5")
    assert rc == 2 and "--confidence" in err


def _summary_suite(root: Path, items: int) -> Path:
    data = [{"id": f"s{i}", "code": f"def f{i}(x):\n    return x + {i}\n", "reference": f"Add {i} to x."}
            for i in range(items)]
    (root / "items.yaml").write_text(yaml.safe_dump(data))
    suite = {"name": "planted", "version": "1", "tasks": [{
        "name": "summ", "kind": "summarization", "language": "python", "reader": "codeeval_yaml",
        "path": "items.yaml", "task_prompt": "summarize-python", "metrics": ["chrf"]}]}
    (root / "planted.yaml").write_text(yaml.safe_dump(suite))
    return root / "planted.yaml"


def test_bench_with_a_baseline_exits_with_the_gate_over_every_variant(fake_services, tmp_path, capsys):
    """Glue only (fake services): the gate's own paths are the compare tests above."""
    suite = str(_summary_suite(tmp_path, 30))
    fake_services.generator.answers = {f"summ/s{i}": f"Add {i} to x." for i in range(30)}
    fake_services.generator.adapter_answers = {f"summ/s{i}": "Something else." for i in range(30)}
    assert main(["bench", "--suite", suite, "--out", str(tmp_path / "first")]) == 0
    baseline = str(tmp_path / "first" / "base")
    assert main(["bench", "--suite", suite, "--out", str(tmp_path / "same"), "--baseline", baseline]) == 0
    assert "gate base vs baseline" in capsys.readouterr().out
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    rc = main(["bench", "--suite", suite, "--out", str(tmp_path / "tuned"), "--adapter", f"tuned={adapter}",
               "--baseline", baseline])
    out = capsys.readouterr().out
    assert rc == 1, out
    assert "gate tuned vs baseline" in out and "REGRESSION" in out
    rc = main(["bench", "--suite", suite, "--out", str(tmp_path / "bad"), "--baseline", baseline,
               "--max-drop", "chrf"])
    assert rc == 2 and "--max-drop 'chrf'" in capsys.readouterr().err
