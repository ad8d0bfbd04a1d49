"""LLM-as-judge: rubric parsing, and the judge stage's plumbing through a fake generator."""

from __future__ import annotations

import yaml

from codeeval.pipeline import bench
from codeeval.pipeline.judge import RUBRIC_SHA256, parse_scores
from codeeval.pipeline.services import Services
from codeeval.suites import load_suite


def test_parse_scores():
    assert parse_scores("Content adequacy: 4\nConciseness: 5\nFluency: 3") == {
        "content_adequacy": 4, "conciseness": 5, "fluency": 3}
    assert parse_scores("content-adequacy - 2, conciseness=1, fluency: 5.") == {
        "content_adequacy": 2, "conciseness": 1, "fluency": 5}
    assert parse_scores("content adequacy: 4\nfluency: 3") is None
    assert parse_scores("content adequacy: 9\nconciseness: 5\nfluency: 3") is None


def test_judge_stage_averages_runs_and_counts_unparsable(fake_services, tmp_path):
    items = [{"id": f"s{i}", "code": f"def f{i}():\n    return {i}\n", "reference": f"Return {i}."} for i in range(3)]
    (tmp_path / "items.yaml").write_text(yaml.safe_dump(items))
    suite = {"name": "j", "version": "1", "tasks": [{
        "name": "summ", "kind": "summarization", "language": "python", "reader": "codeeval_yaml",
        "path": "items.yaml", "task_prompt": "summarize-python", "metrics": ["bleu"], "judge": {"runs": 2}}]}
    (tmp_path / "j.yaml").write_text(yaml.safe_dump(suite))
    fake_services.generator.answers = {**{f"summ/s{i}": f"Return {i}." for i in range(3)},
                                       "judge": "content adequacy: 4\nconciseness: 5\nfluency: 3"}
    config = bench.BenchConfig(suite=load_suite(tmp_path / "j.yaml"), out=tmp_path / "out", argv=["t"])
    with Services(wait_s=0) as services:
        results, paths = bench.run_bench(config, services)
    judged = results["base"]["tasks"]["summ"]["judge"]
    assert judged["judgements"] == 6 and judged["unparsable"] == 0 and judged["rubric_sha256"] == [RUBRIC_SHA256]
    assert judged["content_adequacy"]["mean"] == 4.0 and judged["fluency"]["mean"] == 3.0
    assert "judge content_adequacy" in paths["md"].read_text()
