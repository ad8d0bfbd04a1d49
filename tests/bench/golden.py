"""The bench's golden records: a fixed samples file over the default suite and the per-item records
it gave, captured before the typed-records refactor (issue 14) with the real sandbox and analyzer.
The suite and its items are frozen in ``fixtures/golden_suite`` (the default suite as it was then),
so that later edits of the shipped suite do not move the golden records.

``golden_samples()`` makes the samples (deterministic from the suite's items): per code item, in
turn, a prose answer (taken as code: COMPILE_ERROR), the reference (PASSED), the reference with a
stray closing token (COMPILE_ERROR); per summary item, in turn, a wrong sentence and the reference's first
sentence. ``per_item_records(out)`` is what must not change: per task the outcomes, compile counts,
pass@k means, metric means and leakage, and per item n, c, passed, compiled and the metric values;
per sample the execution outcome and the analysis counts.

Run ``python tests/bench/golden.py --capture`` (real sandbox + analyzer, ~2 min) only to re-record
after an intended change of behaviour, and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeeval.pipeline.extract import extract_summary
from codeeval.pipeline.store import JsonlStore
from codeeval.suites import load_suite, read_items

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "golden_samples.jsonl"
SUITE = FIXTURES / "golden_suite" / "default.yaml"
RECORDS = FIXTURES / "golden_records.json"
FENCE = {"python": "python", "java": "java", "csharp": "csharp"}
BREAK = {"python": ")\n", "java": "}\n", "csharp": "}\n"}
PROSE = "I cannot write that.\n"


def golden_samples() -> list[dict[str, Any]]:
    loaded = load_suite(SUITE)
    out: list[dict[str, Any]] = []
    for task in loaded.suite.tasks:
        for i, item in enumerate(read_items(task, loaded.base_dir)):
            if task.kind == "summarization":
                text = "It does things." if i % 2 == 0 else extract_summary(item.reference)
                out.append({"task": task.name, "task_id": item.id, "completion": text})
                continue
            reference = item.reference.rstrip() + "\n"
            code = [PROSE, reference, reference + BREAK[task.language]][i % 3]
            out.append({"task": task.name, "task_id": item.id, "solution": code})
    return out


def generator_answers(samples: list[dict[str, Any]]) -> dict[str, str]:
    """The same samples as model answers (prompt id -> text) for a generator that returns them."""
    suite = {t.name: t for t in load_suite(SUITE).suite.tasks}
    answers = {}
    for s in samples:
        task = suite[s["task"]]
        if "completion" in s:
            text = s["completion"]
        elif s["solution"] == PROSE:
            text = PROSE.strip()
        else:
            text = f"Here it is:\n```{FENCE[task.language]}\n{s['solution']}```\n"
        answers[f"{s['task']}/{s['task_id']}"] = text
    return answers


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def per_item_records(run: Path) -> dict[str, Any]:
    """The records of a run directory (a variant folder) that the golden test compares."""
    results = json.loads((run / "results.json").read_text())
    tasks: dict[str, Any] = {}
    for name, t in results["tasks"].items():
        tasks[name] = _round({
            "outcomes": t.get("outcomes"), "compile": t.get("compile"),
            "pass_at_k": {k: v["mean"] for k, v in (t.get("pass_at_k") or {}).items()},
            "metrics": {k: v["mean"] for k, v in (t.get("metrics") or {}).items()},
            "leakage": t.get("leakage"),
            "instances": {i: {k: v for k, v in inst.items() if k in ("n", "c", "passed", "compiled", "metrics")}
                          for i, inst in t["instances"].items()},
        })
    extractions = list(JsonlStore(run / "extractions.jsonl").records())
    executions = {r["key"]: r for r in JsonlStore(run / "executions.jsonl").records()}
    analyses = {}
    for r in JsonlStore(run / "analysis.jsonl").records():  # one record per task, its files by program key
        analyses.update({f["key"]: f for f in r["files"]} if "files" in r else {r["key"]: r})
    samples = {}
    for e in sorted(extractions, key=lambda r: (r["task"], r["item"], r["sample"])):
        ex, an = executions.get(e["key"]), analyses.get(e["key"])
        samples[f"{e['task']}/{e['item']}/{e['sample']}"] = {
            "outcome": ex["outcome"] if ex else None,
            "analysis": {k: an[k] for k in ("analyzable", "issues", "nloc")} if an else None,
        }
    return {"tasks": tasks, "samples": samples}


def _capture() -> None:
    """Record the golden files with today's pipeline (a generator that returns the samples)."""
    import tempfile
    from concurrent import futures

    import grpc
    from bench_fakes import FakeGenerator

    from codeeval.api.generator.v1 import generator_pb2_grpc
    from codeeval.cli.main import main

    samples = golden_samples()
    FIXTURES.mkdir(exist_ok=True)
    SAMPLES.write_text("".join(json.dumps(s, sort_keys=True) + "\n" for s in samples))
    server = grpc.server(futures.ThreadPoolExecutor(4))
    generator_pb2_grpc.add_GeneratorServiceServicer_to_server(FakeGenerator(generator_answers(samples)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    import os

    os.environ["CODEEVAL_GENERATOR_ADDR"] = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        rc = main(["bench", "--suite", str(SUITE), "--out", tmp, "--log-dir", tmp])
        assert rc == 0, rc
        RECORDS.write_text(json.dumps(per_item_records(Path(tmp) / "base"), indent=1, sort_keys=True) + "\n")
    server.stop(0)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    if "--capture" in sys.argv:
        _capture()
