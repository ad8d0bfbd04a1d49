"""The bench against the real services (marked slow + integration; CI runs them in `make test-slow`).

- our default suite's reference answers pass in the real sandbox (Python, Java, C# compile) and
  score perfectly in the real analyzer (only the generator is replaced, by one that returns them);
- the whole pipeline end to end on the default suite with the real generator (the default model),
  which passes at least 2 items of each generation task at seed 0 (the suite's spread of difficulty);
- killing the CLI (SIGKILL) mid-generation and running it again gives the same results as an
  uninterrupted run, without redoing or duplicating samples (summarization tasks: short answers);
- the analyzer down mid-run (after generation) is named, the run exits 4, and it resumes when the
  analyzer is back without generating again;
- compare detects a planted regression scored by the real analyzer, and passes identical runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
import yaml
from bench_fakes import FENCE, FakeGenerator

from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.kit.client import LocalService, address_env
from codeeval.pipeline.store import JsonlStore, sample_key
from codeeval.suites import load_suite, read_items

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(2400)]
CLI = [sys.executable, "-m", "codeeval.cli"]


@pytest.fixture(scope="module")
def real_services(tmp_path_factory):
    """Real sandbox, analyzer and generator (default model) on loopback, or those in the environment."""
    logs = tmp_path_factory.mktemp("logs")
    started, env = [], {}
    for name in ("sandbox", "analyzer", "generator"):
        addr = os.environ.get(address_env(name))
        if not addr:
            svc = LocalService(name, log_file=logs / f"{name}.log")
            started.append(svc)
            addr = svc.start(timeout=1200)
        env[address_env(name)] = addr
    yield env
    for svc in reversed(started):
        svc.stop()


def _bench(env: dict[str, str], *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "bench", *args], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)


def _tasks(out: Path, variant: str = "base") -> dict:
    return json.loads((out / variant / "results.json").read_text())["tasks"]


@pytest.fixture
def reference_generator(real_services):
    """The real sandbox and analyzer with a generator that answers every item with our reference."""
    loaded = load_suite("default")
    answers = {}
    for task in loaded.suite.tasks:
        for item in read_items(task, loaded.base_dir):
            answers[f"{task.name}/{item.id}"] = (item.reference if task.kind == "summarization"
                                                 else f"```{FENCE[task.language]}\n{item.reference}```")
    server = grpc.server(futures.ThreadPoolExecutor(4))
    generator_pb2_grpc.add_GeneratorServiceServicer_to_server(FakeGenerator(answers), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield {**real_services, address_env("generator"): f"127.0.0.1:{port}"}
    server.stop(0)


def test_reference_answers_pass_in_the_real_sandbox_and_score_perfectly(reference_generator, tmp_path):
    proc = _bench(reference_generator, "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    tasks = _tasks(tmp_path / "out")
    for name in ("codegen-python", "codegen-java", "translate-cs-java"):
        assert tasks[name]["pass_at_k"]["1"]["mean"] == 1.0, (name, tasks[name]["outcomes"])
    assert tasks["translate-java-cs"]["compile"]["rate"] == 1.0  # mono mcs compiles our C# references
    for name in ("translate-java-cs", "summarize-python", "summarize-java"):
        for metric, stat in tasks[name]["metrics"].items():
            assert stat["mean"] == pytest.approx(1.0, abs=1e-3), (name, metric)
        assert tasks[name].get("leakage") is None or tasks[name]["leakage"]["verbatim"] == 0
    q = tasks["codegen-java"]["quality"]["all"]
    assert q["analyzable_rate"] == 1.0 and q["nloc"] > 0
    receipt = json.loads((tmp_path / "out/base/receipt.json").read_text())
    assert receipt["sandbox"]["languages"]["java"]["toolchain"] and receipt["analyzer"]["tools"]


def test_default_suite_end_to_end(real_services, tmp_path):
    out = tmp_path / "out"
    proc = _bench(real_services, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "report:" in proc.stdout and (out / "report.html").read_text().count("<svg") >= 2
    tasks = _tasks(out)
    assert set(tasks) == {t.name for t in load_suite("default").suite.tasks}
    assert all(t["samples"] == t["items"] for t in tasks.values())
    receipt = json.loads((out / "base/receipt.json").read_text())
    assert receipt["model"]["base_model_sha256"] and receipt["prompts"]["codegen-python"]["task_prompt_sha256"]
    assert receipt["sandbox"]["languages"] and receipt["analyzer"]["tools"]
    for name in ("codegen-python", "codegen-java", "translate-cs-java"):
        assert sum(tasks[name]["outcomes"].values()) == tasks[name]["items"]  # every answer got a verdict
    for name in ("codegen-python", "codegen-java"):  # the easy items pass for the base model (greedy, seed 0)
        assert sum(inst["c"] for inst in tasks[name]["instances"].values()) >= 2, tasks[name]["outcomes"]


RESUME_ARGS = ("--tasks", "summarize-python", "summarize-java", "--limit", "3")  # short answers: fast on CPU


@pytest.fixture
def one_at_a_time(real_services, tmp_path, monkeypatch):
    """The real sandbox and analyzer with a reproducible generator: the transformers engine decoding one
    sequence at a time. CPU vLLM is not bit-reproducible here: a resumed run batches its remaining
    prompts differently, and its prefix cache already holds the first run's prompts (seen: one of six
    greedy answers changed even at batch size 1)."""
    monkeypatch.setenv("CODEEVAL_GENERATOR_ENGINE", "transformers")
    monkeypatch.setenv("CODEEVAL_GENERATOR_MAX_BATCH_SIZE", "1")
    generator = LocalService("generator", log_file=tmp_path / "generator-one-at-a-time.log")
    env = {**real_services, address_env("generator"): generator.start(timeout=1200)}
    yield env
    generator.stop()


def test_resume_after_killing_the_cli_gives_the_uninterrupted_results(one_at_a_time, tmp_path):
    real_services = one_at_a_time
    full = tmp_path / "full"
    proc = _bench(real_services, "--out", str(full), *RESUME_ARGS)
    assert proc.returncode == 0, proc.stderr
    killed = tmp_path / "killed"
    cli = subprocess.Popen([*CLI, "bench", "--out", str(killed), *RESUME_ARGS], env={**os.environ, **real_services},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    gens = killed / "base/generations.jsonl"
    deadline = time.monotonic() + 900
    while (not gens.exists() or gens.read_text().count("\n") < 2) and time.monotonic() < deadline:
        assert cli.poll() is None, "the CLI ended before it could be killed"
        time.sleep(0.1)
    os.killpg(cli.pid, signal.SIGKILL)
    cli.wait()
    before = gens.read_bytes()
    assert 2 <= before.count(b"\n") < 6
    proc = _bench(real_services, "--out", str(killed), *RESUME_ARGS)
    assert proc.returncode == 0, proc.stderr
    assert gens.read_bytes().startswith(before[: before.rfind(b"\n") + 1])  # nothing finished was redone
    keys = [sample_key(r) for r in JsonlStore(gens).records()]
    assert len(keys) == len(set(keys)) == 6
    expected, resumed = _tasks(full), _tasks(killed)
    for name, t in expected.items():
        for field in ("pass_at_k", "outcomes", "metrics", "compile", "instances"):
            assert resumed[name].get(field) == t.get(field), (name, field)


def test_service_down_mid_run_is_named_and_the_run_resumes_when_it_is_back(real_services, tmp_path):
    analyzer = LocalService("analyzer", log_file=tmp_path / "analyzer.log")
    env = {**real_services, address_env("analyzer"): analyzer.start(timeout=600)}
    analyzer.stop()  # down before the score stage: generation runs, then the analyzer is needed
    out = tmp_path / "out"
    args = ("--out", str(out), "--tasks", "summarize-python", "--limit", "3")
    proc = _bench(env, *args, "--service-wait", "2")
    assert proc.returncode == 4, proc.stderr  # ExitCode.SERVICE_FAILED
    assert f"analyzer service at {env[address_env('analyzer')]} is unavailable" in proc.stderr
    assert "run the same command again to resume" in proc.stderr
    generated = (out / "base/generations.jsonl").read_bytes()
    assert generated.count(b"\n") == 3
    back = LocalService("analyzer", log_file=tmp_path / "analyzer2.log")
    env[address_env("analyzer")] = back.start(timeout=600)
    try:
        proc = _bench(env, *args)
    finally:
        back.stop()
    assert proc.returncode == 0, proc.stderr
    assert (out / "base/generations.jsonl").read_bytes() == generated  # not generated again
    assert _tasks(out)["summarize-python"]["metrics"]["bleu"]["n"] == 3


def test_compare_detects_a_planted_regression_scored_by_the_real_analyzer(real_services, tmp_path):
    items = [{"id": f"s{i}", "code": f"def scale_{i}(x):\n    return x * {i}\n",
              "reference": f"Multiply the input value by {i} and return the product."} for i in range(30)]
    (tmp_path / "items.yaml").write_text(yaml.safe_dump(items))
    suite = {"name": "planted", "version": "1", "tasks": [{
        "name": "summ", "kind": "summarization", "language": "python", "reader": "codeeval_yaml",
        "path": "items.yaml", "task_prompt": "summarize-python", "metrics": ["bleu", "rouge_l", "chrf"]}]}
    (tmp_path / "planted.yaml").write_text(yaml.safe_dump(suite))
    good = {f"summ/s{i}": items[i]["reference"] for i in range(30)}
    bad = {f"summ/s{i}": "This function is a function." for i in range(30)}
    server = grpc.server(futures.ThreadPoolExecutor(4))
    generator_pb2_grpc.add_GeneratorServiceServicer_to_server(FakeGenerator(good, adapter_answers=bad), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    env = {**real_services, address_env("generator"): f"127.0.0.1:{port}"}
    try:
        proc = _bench(env, "--suite", str(tmp_path / "planted.yaml"), "--out", str(tmp_path / "out"),
                      "--adapter", f"planted={adapter}")
    finally:
        server.stop(0)
    assert proc.returncode == 0, proc.stderr
    base, planted = tmp_path / "out/base", tmp_path / "out/planted"
    regress = subprocess.run([*CLI, "compare", str(base), str(planted), "--fail-on-regression"],
                             capture_output=True, text=True, timeout=120)
    assert regress.returncode == 1 and "REGRESSION" in regress.stdout, regress.stdout + regress.stderr
    same = subprocess.run([*CLI, "compare", str(base), str(base), "--fail-on-regression"],
                          capture_output=True, text=True, timeout=120)
    assert same.returncode == 0 and "REGRESSION" not in same.stdout
