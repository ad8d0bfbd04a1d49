"""The judges of the generator and trainer kill figures can fail: a lost, duplicated or changed sample,
a job that did not resume from its newest checkpoint, a wrong state history or attempt count, a
different loss, a damaged or half-written checkpoint and different adapter weights are each caught;
clean records pass. The kill points are seeded, increasing and leave room for every kill."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from codeeval.trainer import checkpoint
from reliability.faults_generator import kill_counts, read_samples, sample_problems
from reliability.faults_trainer import (
    CHECKPOINT_EVERY,
    JobRun,
    Kill,
    checkpoint_problems,
    current_attempt,
    job_problems,
    kill_steps,
    progress_step,
    weights_difference,
)


def _sample(item: str, i: int, text: str = "x") -> dict[str, Any]:
    return {"task": "t", "item": item, "sample": i, "text": text, "seed": i, "completion_tokens": 3}


def _write_generations(out: Path, records: list[dict[str, Any]]) -> Path:
    (out / "base").mkdir(parents=True)
    (out / "base" / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return out


def test_equal_samples_pass_and_each_planted_fault_is_caught(tmp_path: Path) -> None:
    ref_records = [_sample(f"i{n}", s) for n in range(3) for s in range(2)]
    ref = read_samples(_write_generations(tmp_path / "ref", ref_records))
    assert len(ref.records) == 6 and ref.duplicates == 0
    assert sample_problems(read_samples(_write_generations(tmp_path / "same", ref_records[::-1])), ref) == ([], 0)

    dup = read_samples(_write_generations(tmp_path / "dup", ref_records + [ref_records[2]]))
    problems, lost = sample_problems(dup, ref)
    assert lost == 0 and problems == ["1 samples recorded more than once in generations.jsonl"]

    missing = read_samples(_write_generations(tmp_path / "missing", ref_records[:-1]))
    problems, lost = sample_problems(missing, ref)
    assert lost == 1 and problems[0].startswith("1 samples missing")

    changed = read_samples(_write_generations(tmp_path / "changed", ref_records[:-1] + [_sample("i2", 1, "y")]))
    problems, lost = sample_problems(changed, ref)
    assert lost == 0 and problems == ["1 samples differ from the undisturbed run's (fields: text; first: "
                                      "[('t', 'i2', 1)])"]

    extra = read_samples(_write_generations(tmp_path / "extra", ref_records + [_sample("i9", 0)]))
    assert sample_problems(extra, ref)[0][0].startswith("1 samples the undisturbed run does not have")
    assert read_samples(tmp_path / "nothing").records == {}


def test_generator_kill_points_leave_a_sample_unmade_and_room_for_the_next_kills() -> None:
    for seed in range(50):
        rng, done = random.Random(seed), 0
        for left in (3, 2, 1):
            count = kill_counts(rng, done, 12, left)
            assert count is not None and done < count < 12
            assert 12 - 1 - count >= left - 1  # the kills after it still have room
            done = count
    assert kill_counts(random.Random(0), 11, 12, 1) is None


def test_trainer_kill_steps_are_after_the_first_checkpoint_and_before_the_end() -> None:
    for seed in range(50):
        steps = kill_steps(random.Random(seed), 12, 3)
        assert len(steps) == 3 and steps == sorted(set(steps))
        assert steps[0] >= CHECKPOINT_EVERY and steps[-1] <= 11
    assert kill_steps(random.Random(0), 12, 1)[0] in range(CHECKPOINT_EVERY, 12)


def _state(state: str, attempts: int) -> dict[str, Any]:
    return {"kind": "state", "job": {"state": state, "attempts": attempts}}


def _events(resumes: list[int]) -> list[dict[str, Any]]:
    """A job's events: queued, then one launch per kill plus one, each resumed launch saying so."""
    out = [_state("QUEUED", 0)]
    for attempt in range(1, len(resumes) + 2):
        out.append({"kind": "message", "text": f"worker pid {100 + attempt} started"})
        out.append(_state("RUNNING", attempt))
        if attempt > 1 and resumes[attempt - 2]:
            out.append({"kind": "message", "text": f"resumed from step-{resumes[attempt - 2]:06d} (data position 8)"})
        out.append({"kind": "progress", "step": 3 * attempt})
        out.append(_state("QUEUED" if attempt <= len(resumes) else "SUCCEEDED", attempt))
    return out


def _record(**changes: Any) -> dict[str, Any]:
    return {"state": "SUCCEEDED", "step": 12, "total_steps": 12, "loss": 1.25, "metrics": {"eval_loss": 2.5},
            "resumed_from_step": 0, "error": "", "artifact": "", **changes}


def test_a_job_that_resumed_from_its_newest_checkpoints_passes() -> None:
    ref = JobRun(_record(), _events([]), Path("ref"))
    kills = [Kill(3, 3, 2), Kill(7, 8, 8)]
    assert job_problems(JobRun(_record(resumed_from_step=8), _events([2, 8]), Path("got"), kills), ref) == []
    before_any = [Kill(2, 2, 0)]  # killed before the first checkpoint: started over, no resume message
    assert job_problems(JobRun(_record(), _events([0]), Path("got"), before_any), ref) == []
    pid, since = current_attempt(_events([2, 8]))
    assert pid == 103 and progress_step(since) == 9


def test_each_planted_job_fault_is_caught() -> None:
    ref = JobRun(_record(), _events([]), Path("ref"))
    kills = [Kill(3, 3, 2)]

    def problems(record: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
        return job_problems(JobRun(record, events, Path("got"), kills), ref)

    good = _events([2])
    assert problems(_record(resumed_from_step=2), good) == []
    assert problems(_record(state="FAILED", error="boom"), good) == ["the job ended FAILED: boom"]
    assert "final loss 1.5 differs" in problems(_record(resumed_from_step=2, loss=1.5), good)[0]
    assert "metrics differ" in problems(_record(resumed_from_step=2, metrics={"eval_loss": 2.0}), good)[0]
    assert "ended at step 10/12" in problems(_record(resumed_from_step=2, step=10), good)[0]
    from_scratch = _events([0])
    assert problems(_record(), from_scratch) == ["resumed from steps [], but the newest whole checkpoints at the "
                                                 "kills were [2]",
                                                 "the record says resumed from step 0, the last resume was from 2"]
    older = [e if e.get("text", "").find("resumed") < 0 else {**e, "text": "resumed from step-000000 (x)"}
             for e in good]
    assert "resumed from steps [0]" in problems(_record(resumed_from_step=2), older)[0]
    no_relaunch = [e for e in good if not (e["kind"] == "state" and e["job"] == {"state": "RUNNING", "attempts": 2})]
    assert problems(_record(resumed_from_step=2), no_relaunch)[0].startswith("state history QUEUED > RUNNING > "
                                                                             "QUEUED > SUCCEEDED")
    miscounted = [*good[:-1], _state("SUCCEEDED", 3)]
    assert problems(_record(resumed_from_step=2), miscounted) == ["the record counts 3 attempts for 1 kills"]


def _checkpoints(root: Path, steps: list[int]) -> None:
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    for step in steps:
        checkpoint.save(root, step, model, opt, sched, {"micro": step})


def test_whole_checkpoints_pass_and_damaged_or_half_written_ones_are_caught(tmp_path: Path) -> None:
    _checkpoints(tmp_path / "good", [2, 4])
    assert checkpoint_problems(tmp_path / "good") == []
    assert checkpoint_problems(tmp_path / "none") == [f"no checkpoint in {tmp_path / 'none'}"]

    _checkpoints(tmp_path / "torn", [2, 4])
    weights = tmp_path / "torn" / "step-000004" / "trainable.pt"
    weights.write_bytes(weights.read_bytes()[:40])
    assert checkpoint_problems(tmp_path / "torn")[0].startswith("step-000004 does not load")

    _checkpoints(tmp_path / "tmp-left", [2])
    (tmp_path / "tmp-left" / ".step-000004.tmp").mkdir()
    assert checkpoint_problems(tmp_path / "tmp-left") == ["half-written checkpoint left: .step-000004.tmp"]

    _checkpoints(tmp_path / "no-state", [2])
    (tmp_path / "no-state" / "step-000002" / "state.json").unlink()
    assert checkpoint_problems(tmp_path / "no-state")[0].startswith("step-000002 does not load")

    _checkpoints(tmp_path / "renamed", [2])
    (tmp_path / "renamed" / "step-000002").rename(tmp_path / "renamed" / "step-000006")
    assert checkpoint_problems(tmp_path / "renamed") == ["step-000006: state.json says step 2"]


def _adapter(folder: Path, tensors: dict[str, torch.Tensor]) -> Path:
    folder.mkdir(parents=True)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    return folder


@pytest.mark.parametrize("planted, expected", [
    ({"a": torch.ones(2, 2), "b": torch.zeros(3)}, None),
    ({"a": torch.ones(2, 2), "b": torch.tensor([0.0, 1e-7, 0.0])}, "1 of 2 tensors differ (max abs difference 1e-07)"),
    ({"a": torch.ones(2, 2)}, "other tensors: ['b']"),
])
def test_adapter_weights_must_be_equal_bit_for_bit(tmp_path: Path, planted: dict[str, torch.Tensor],
                                                   expected: str | None) -> None:
    ref = _adapter(tmp_path / "ref", {"a": torch.ones(2, 2), "b": torch.zeros(3)})
    assert weights_difference(_adapter(tmp_path / "got", planted), ref) == expected


def _replica(folder: Path, name: str, log: list[tuple[str, str]]) -> Any:
    """A replica whose access log holds one JSON line per (method, code), as the services write it."""
    import logging
    from types import SimpleNamespace

    from codeeval.kit.logs import JsonFormatter
    from reliability.faults_replicas import Replica

    lines = []
    for method, code in log:
        record = logging.LogRecord("codeeval.rpc", logging.INFO, __file__, 1, "rpc", None, None)
        record.fields = {"method": f"/codeeval.analyzer.v1.Analyzer/{method}", "code": code, "ms": 3.0}
        lines.append(JsonFormatter().format(record))
    replica = Replica.__new__(Replica)
    replica.name = name
    replica.local = SimpleNamespace(proc=SimpleNamespace(poll=lambda: None), log_file=folder / f"{name}.log")
    replica.local.log_file.write_text("\n".join(lines + ['{"msg": "Analyzer serving Analyze calls"}']) + "\n")
    return replica


def test_the_analyzer_replica_is_killed_inside_the_analyze_stage_read_from_the_access_logs(tmp_path: Path) -> None:
    """The scale-out figure's analyzer kill: not before the run's first Analyze call is answered, not once
    all are, and then the replica round robin sends the next call to; other methods never count."""
    from reliability.faults_bench import _analyzer_victim

    a = _replica(tmp_path, "analyzer-0", [("Analyze", "OK"), ("GetCapabilities", "OK")])
    b = _replica(tmp_path, "analyzer-1", [("Analyze", "OK"), ("Score", "OK")])
    assert (a.served("Analyze"), b.served("Analyze"), b.served("Score")) == (1, 1, 1)
    before = {"analyzer-0": 1, "analyzer-1": 1}
    assert _analyzer_victim([a, b], before, 4) is None  # the stage has not begun
    a.local.log_file.write_text(a.local.log_file.read_text() * 2)
    victim, note = _analyzer_victim([a, b], before, 4)  # type: ignore[misc]
    assert victim is b and note == "analyzer-1 (round robin's next) after 1 of the run's 4 Analyze calls"
    b.local.log_file.write_text(b.local.log_file.read_text() * 4)
    assert _analyzer_victim([a, b], before, 4) is None  # 1 + 3 answered: the stage is over
