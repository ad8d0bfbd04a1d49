"""The pipeline's glue against in-process fake servicers (conftest.py): stage hand-off, resume,
dedup of identical programs, error naming the failing service, reports. The same paths run against
the real services in test_e2e.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from codeeval.cli.main import main
from codeeval.pipeline import bench
from codeeval.pipeline.services import ServiceError, Services
from codeeval.pipeline.store import JsonlStore, sample_key
from codeeval.suites import load_suite


def _config(out: Path, **kw) -> bench.BenchConfig:
    return bench.BenchConfig(suite=load_suite("default"), out=out, argv=["test"], **kw)


def _run(config: bench.BenchConfig, wait_s: float = 0.0):
    with Services(wait_s=wait_s) as services:
        return bench.run_bench(config, services)


def _task_view(results: dict) -> dict:
    return {name: {k: v for k, v in t.items()} for name, t in results["tasks"].items()}


def test_full_run_on_the_default_suite(fake_services, tmp_path):
    results, paths = _run(_config(tmp_path / "out"))
    tasks = results["base"]["tasks"]
    # every third item answers wrongly (indexes 0, 3, 6): 8 python items -> 5 pass
    assert tasks["codegen-python"]["pass_at_k"]["1"]["mean"] == pytest.approx(5 / 8)
    assert tasks["codegen-java"]["pass_at_k"]["1"]["mean"] == pytest.approx(3 / 5)
    # the fake sandbox has no C#: translations to C# are recorded as not run, never as failures of the model
    assert tasks["translate-java-cs"]["compile"] == {"checked": 0, "compiled": 0, "not_run": 4, "rate": None}
    assert tasks["translate-cs-java"]["compile"]["rate"] == pytest.approx(1.0)
    summ = tasks["summarize-python"]
    assert summ["metrics"]["bleu"]["mean"] == pytest.approx(2 / 4)  # items 0 and 3 are wrong
    assert summ["leakage"]["verbatim"] == 0
    q = tasks["codegen-python"]["quality"]["all"]
    assert q["analyzable"] == 8 and q["issues"] == 8 and q["issues_per_kloc"] > 0
    receipt = json.loads((tmp_path / "out/base/receipt.json").read_text())
    assert receipt["model"]["base_model_sha256"] == "m" * 64
    assert receipt["suite"]["name"] == "default" and len(receipt["suite"]["sha256"]) == 64
    assert receipt["prompts"]["codegen-python"]["task_prompt_sha256"]
    html = paths["html"].read_text()
    assert "<svg" in html and "pass@k per task" in html and "http" not in html.split("<body>")[1].split("xmlns")[0]
    assert "verbatim" in paths["md"].read_text()
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) >= 3
    for svg in svgs:
        ElementTree.fromstring(svg)  # well-formed, self-contained markup


def test_identical_completions_are_executed_once(fake_services, tmp_path):
    raw = yaml.safe_load(load_suite("default").text)
    raw["tasks"] = [t for t in raw["tasks"] if t["name"] == "codegen-python"]
    raw["tasks"][0]["generation"] = {"n": 3, "temperature": 0.8, "seed": 1}
    raw["tasks"][0]["metrics"] = ["pass@1", "pass@3", "quality"]
    raw["tasks"][0]["path"] = str(load_suite("default").base_dir / raw["tasks"][0]["path"])
    suite_path = tmp_path / "s.yaml"
    suite_path.write_text(yaml.safe_dump(raw))
    config = bench.BenchConfig(suite=load_suite(suite_path), out=tmp_path / "out", argv=["t"])
    results, _ = _run(config)
    assert fake_services.sandbox.programs == 8  # 24 samples, 8 distinct programs
    assert fake_services.analyzer.files == 8
    t = results["base"]["tasks"]["codegen-python"]
    assert t["samples"] == 24 and t["pass_at_k"]["3"]["mean"] == pytest.approx(5 / 8)


def test_generator_failure_mid_run_names_it_and_the_rerun_resumes(fake_services, tmp_path):
    full, _ = _run(_config(tmp_path / "uninterrupted"))
    fake_services.generator.sent = 0
    fake_services.generator.fail_after = 7
    out = tmp_path / "interrupted"
    with pytest.raises(ServiceError) as info:
        _run(_config(out))
    assert info.value.service == "generator" and "generator service at" in str(info.value)
    kept = list(JsonlStore(out / "base/generations.jsonl").records())
    assert len(kept) == 7
    fake_services.generator.fail_after = None
    resumed, _ = _run(_config(out))
    keys = [sample_key(r) for r in JsonlStore(out / "base/generations.jsonl").records()]
    assert len(keys) == len(set(keys)) == 29
    strip = lambda r: {k: v for k, v in r["base"]["tasks"].items()}  # noqa: E731
    assert strip(resumed) == strip(full)


def test_unavailable_service_is_retried_within_the_wait(fake_services, tmp_path):
    fake_services.generator.fail_after = 3
    import threading

    threading.Timer(1.0, lambda: setattr(fake_services.generator, "fail_after", None)).start()
    results, _ = _run(_config(tmp_path / "out"), wait_s=20.0)
    assert results["base"]["tasks"]["codegen-python"]["samples"] == 8


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    store = JsonlStore(tmp_path / "x.jsonl")
    store.append([{"a": 1}])
    with (tmp_path / "x.jsonl").open("ab") as fh:
        fh.write(b'{"a": 2')
    assert list(store.records()) == [{"a": 1}]
    store.append([{"a": 3}])
    assert list(store.records()) == [{"a": 1}, {"a": 3}]


def test_a_run_folder_of_another_suite_is_refused(fake_services, tmp_path):
    _run(_config(tmp_path / "out", limit=2))
    with pytest.raises(bench.BenchError, match="suite.limit was 2 and is now 3"):
        _run(_config(tmp_path / "out", limit=3))


def _summary_suite(tmp_path: Path, items: int) -> Path:
    data = [{"id": f"s{i}", "code": f"def f{i}(x):\n    return x + {i}\n", "reference": f"Add {i} to x."}
            for i in range(items)]
    (tmp_path / "items.yaml").write_text(yaml.safe_dump(data))
    suite = {"name": "planted", "version": "1", "tasks": [{
        "name": "summ", "kind": "summarization", "language": "python", "reader": "codeeval_yaml",
        "path": "items.yaml", "task_prompt": "summarize-python", "metrics": ["bleu", "chrf"]}]}
    (tmp_path / "planted.yaml").write_text(yaml.safe_dump(suite))
    return tmp_path / "planted.yaml"


def test_adapter_is_loaded_compared_with_base_and_a_planted_regression_fails_ci(fake_services, tmp_path, capsys):
    suite = _summary_suite(tmp_path, 30)
    fake_services.generator.answers = {f"summ/s{i}": f"Add {i} to x." for i in range(30)}
    fake_services.generator.adapter_answers = {f"summ/s{i}": "Something else." for i in range(30)}
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    out = tmp_path / "out"
    rc = main(["bench", "--suite", str(suite), "--out", str(out), "--adapter", f"tuned={adapter}",
               "--fail-on-regression"])
    captured = capsys.readouterr()
    assert rc == 1, captured.err
    receipt = json.loads((out / "tuned/receipt.json").read_text())
    assert receipt["adapter"]["sha256"] == "a" * 64
    cmp = json.loads((out / "comparison.json").read_text())["comparisons"][0]
    assert cmp["a"] == "base" and cmp["b"] == "tuned" and cmp["regressions"] == ["summ bleu", "summ chrf"]
    assert "REGRESSION" in captured.out and "report.html" in captured.out
    assert main(["compare", str(out / "base"), str(out / "base"), "--fail-on-regression"]) == 0
    assert main(["compare", str(out / "base"), str(out / "tuned"), "--fail-on-regression"]) == 1
    # an improvement, but from a baseline whose chrf is near 0 no 10-point drop is possible: the gate cannot tell
    assert main(["compare", str(out / "tuned"), str(out / "base"), "--fail-on-regression"]) == 3


def test_adapter_paths_are_resolved_by_the_generator_not_the_client(fake_services, tmp_path, capsys):
    """A folder that exists here goes as an absolute path (a local generator); anything else (a hub id,
    a path on the generator's machine) goes as it is, and the generator's NOT_FOUND is an input error."""
    suite = _summary_suite(tmp_path, 3)
    local = tmp_path / "adapter"
    local.mkdir()
    assert main(["bench", "--suite", str(suite), "--out", str(tmp_path / "a"), "--adapter", f"t={local}"]) == 0
    assert main(["bench", "--suite", str(suite), "--out", str(tmp_path / "b"), "--adapter", "t=org/adapter"]) == 0
    capsys.readouterr()
    assert main(["bench", "--suite", str(suite), "--out", str(tmp_path / "c"), "--adapter", "t=missing/x"]) == 2
    err = capsys.readouterr().err
    assert "missing/x" in err and "run the same command again" not in err
    assert fake_services.generator.loaded_paths == [str(local.resolve()), "org/adapter", "missing/x"]


def test_service_down_exits_4_and_names_the_service(tmp_path, monkeypatch, capsys):
    for svc in ("generator", "sandbox", "analyzer"):
        monkeypatch.setenv(f"CODEEVAL_{svc.upper()}_ADDR", "127.0.0.1:1")
    rc = main(["bench", "--out", str(tmp_path / "out"), "--service-wait", "0", "--limit", "1"])
    err = capsys.readouterr().err
    assert rc == 4  # ExitCode.SERVICE_FAILED
    assert "generator service at 127.0.0.1:1 is unavailable" in err and "run the same command again" in err


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["bench", "--out", str(tmp_path), "--suite", "defualt"]) == 2
    assert "did you mean 'default'" in capsys.readouterr().err
    assert main(["bench", "--out", str(tmp_path), "--adapter", "nonsense"]) == 2
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
