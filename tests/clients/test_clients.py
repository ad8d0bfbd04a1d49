"""The typed clients and stage records: enums tied to the protos by value, JSON round trips (and
the run-folder lines written before the records existed), combining several analyzer answers, the
shared retry/error plumbing, the trainer's generator link and the trainer client. Servers here are
small in-process servicers (glue); the real services answer the same calls in tests/bench
(test_golden.py, test_mbpp_shapes.py) and tests/trainer/test_service.py."""

from __future__ import annotations

from concurrent import futures
from pathlib import Path

import grpc
import pytest

from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.api.trainer.v1 import trainer_pb2, trainer_pb2_grpc
from codeeval.cli import mainjob
from codeeval.clients import SandboxClient, ServiceError, TrainerClient, TrainerGeneratorLink
from codeeval.kit.errors import FailedPrecondition, Unavailable
from codeeval.records import (
    Execution,
    FinishReason,
    Leakage,
    Mode,
    Outcome,
    Program,
    QualitySummary,
    Sample,
    TaskAnalysis,
)

DOWN = "127.0.0.1:1"


def test_outcome_mirrors_every_proto_value_and_marks_infrastructure():
    for name, value in sandbox_pb2.Outcome.items():
        assert Outcome.from_proto(value).name == name.removeprefix("OUTCOME_") and Outcome.from_proto(value) == value
    assert Outcome.from_proto(999) is Outcome.UNSPECIFIED
    assert {o for o in Outcome if o.infrastructure} == {Outcome.SANDBOX_ERROR, Outcome.NOT_RUN}
    assert not Outcome.COMPILE_ERROR.compiled and not Outcome.NO_CODE.compiled and Outcome.FAILED.compiled
    assert Mode.from_proto(Mode.COMPILE_ONLY.to_proto()) is Mode.COMPILE_ONLY
    with pytest.raises(ValueError, match="nothing to execute"):
        Mode.NONE.to_proto()


def test_records_read_the_lines_run_folders_always_had():
    old_generation = {"task": "t", "item": "i", "sample": 0, "text": "x", "prompt_tokens": 3, "completion_tokens": 4,
                      "finish_reason": "FINISH_REASON_LENGTH", "adapter": "", "template": "smollm2",
                      "template_sha256": "s", "seed": 0}
    sample = Sample.from_json(old_generation)
    assert sample.finish_reason is FinishReason.LENGTH and sample.to_json() == old_generation
    old_execution = {"key": "k", "outcome": "PASSED", "exit_code": 0, "signal": 0, "wall_time_ms": 5,
                     "cpu_time_ms": 4, "peak_memory_bytes": 1, "detail": "", "compile_output": "", "stderr": "",
                     "attempts": 1, "backend": "bubblewrap"}
    ex = Execution.from_json(old_execution)
    assert ex.outcome is Outcome.PASSED and ex.passed and Execution.from_json(ex.to_json()) == ex


def test_sample_keeps_the_prompt_hash_and_the_template_override_flag():
    resp = generator_pb2.GenerateResponse(sample_index=1, text="x", template="smollm2", prompt_sha256="p" * 64,
                                          template_override=True)
    sample = Sample.from_proto("t", "i", resp)
    assert (sample.prompt_sha256, sample.template_override) == ("p" * 64, True)
    assert Sample.from_json(sample.to_json()) == sample
    plain = Sample.from_proto("t", "i", generator_pb2.GenerateResponse(text="x"))
    assert "prompt_sha256" not in plain.to_json() and "template_override" not in plain.to_json()


def test_program_key_request_and_round_trip():
    p = Program("python", "def f():\n    return 1\n", "assert f() == 1\n", "", Mode.RUN_TESTS, 500)
    assert Program.from_json(p.to_json()) == p and len(p.key) == 64
    req = p.to_request(calibrate=True, reference="def f():\n    return 1\n")
    assert req.id == p.key[:16] and req.limits.wall_time_ms == 500 and req.program.mode == sandbox_pb2.MODE_RUN_TESTS
    assert req.calibration.reference_source.startswith(b"def f")
    assert p.to_request(wall_time_ms=0).limits.wall_time_ms == 0
    with pytest.raises(Exception, match="unknown language 'cobol'"):
        Program("cobol", "", "", "", Mode.RUN_TESTS).to_request()


def test_summaries_of_several_calls_combine_and_one_is_kept_as_it_came():
    a = QualitySummary(2, 1, 0.5, 3, 100, 30.0, 2.0, {"pylint/convention": 3})
    b = QualitySummary(2, 2, 1.0, 1, 100, 10.0, 4.0, {"pylint/convention": 1, "pylint/error": 0})
    assert QualitySummary.combine([a]) is a
    c = QualitySummary.combine([a, b])
    assert (c.files, c.analyzable, c.analyzable_rate, c.issues, c.nloc) == (4, 3, 0.75, 4, 200)
    assert c.issues_per_kloc == pytest.approx(20.0) and c.mean_cc == pytest.approx((2.0 * 1 + 4.0 * 2) / 3)
    analysis = TaskAnalysis("t", [], c, QualitySummary.empty(), ["pylint 3"])
    assert TaskAnalysis.from_json(analysis.to_json()) == analysis
    leak = Leakage.combine([Leakage(2, 1, 0.5, 0.2), Leakage(2, 0, 0.0, 0.4)])
    assert (leak.instances, leak.verbatim, leak.verbatim_rate) == (4, 1, 0.25)
    assert leak.mean_overlap == pytest.approx(0.3)


def test_unavailable_service_is_a_service_error_naming_it():
    with SandboxClient(address=DOWN, wait_s=0.0) as client, pytest.raises(ServiceError) as info:
        client.capabilities()
    assert info.value.service == "sandbox" and info.value.code == grpc.StatusCode.UNAVAILABLE
    assert "sandbox service at" in str(info.value) and "unavailable" in str(info.value)


class _Generator(generator_pb2_grpc.GeneratorServiceServicer):
    def GetCapabilities(self, request, context):  # noqa: N802
        return generator_pb2.GetCapabilitiesResponse(engine="fake", max_lora_rank=16)

    def LoadAdapter(self, request, context):  # noqa: N802
        if not request.path.startswith("/"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "path: must be absolute")
        return generator_pb2.LoadAdapterResponse(adapter=generator_pb2.AdapterInfo(name=request.name))


class _Trainer(trainer_pb2_grpc.TrainerServiceServicer):
    def __init__(self, adapter: Path) -> None:
        self.adapter = adapter

    def ListJobs(self, request, context):  # noqa: N802
        assert request.state == trainer_pb2.JOB_STATE_SUCCEEDED
        artifact = trainer_pb2.Artifact(path=str(self.adapter))
        jobs = [trainer_pb2.Job(id="1", config="other", artifact=artifact),
                trainer_pb2.Job(id="2", config=mainjob.TRAIN_CONFIG, artifact=artifact)]
        return trainer_pb2.ListJobsResponse(jobs=jobs)

    def StartTraining(self, request, context):  # noqa: N802
        return trainer_pb2.StartTrainingResponse(job=trainer_pb2.Job(id="3", config=request.config, name=request.name))

    def WatchJob(self, request, context):  # noqa: N802
        yield trainer_pb2.WatchJobResponse(job_id=request.id, progress=trainer_pb2.Progress(step=1, total_steps=2))
        yield trainer_pb2.WatchJobResponse(job_id=request.id, job=trainer_pb2.Job(
            id=request.id, state=trainer_pb2.JOB_STATE_SUCCEEDED, artifact=trainer_pb2.Artifact(path="/a")))


@pytest.fixture
def server(tmp_path):
    srv = grpc.server(futures.ThreadPoolExecutor(4))
    generator_pb2_grpc.add_GeneratorServiceServicer_to_server(_Generator(), srv)
    trainer_pb2_grpc.add_TrainerServiceServicer_to_server(_Trainer(tmp_path), srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield f"127.0.0.1:{port}"
    srv.stop(0)


def test_trainer_generator_link(server, monkeypatch):
    monkeypatch.delenv("CODEEVAL_GENERATOR_ADDR", raising=False)
    assert TrainerGeneratorLink().address() is None and TrainerGeneratorLink().max_lora_rank() == 0
    with pytest.raises(FailedPrecondition, match="output.load_into_generator"):
        TrainerGeneratorLink().load_adapter("a", "/x")
    link = TrainerGeneratorLink(server)
    assert link.max_lora_rank() == 16
    assert link.load_adapter("tuned", "/x") == f"loaded adapter 'tuned' into the generator at {server}"
    with pytest.raises(Unavailable, match="INVALID_ARGUMENT: path: must be absolute") as info:
        link.load_adapter("tuned", "relative")
    assert info.value.field == "generator"
    with pytest.raises(Unavailable, match=f"generator: generator at {DOWN}"):
        TrainerGeneratorLink(DOWN).max_lora_rank()


def test_trainer_client_and_the_main_job_reuse_rule(server, monkeypatch):
    with TrainerClient(address=server) as trainer:
        assert [j.id for j in trainer.succeeded_jobs()] == ["1", "2"]
        assert trainer.start_training("c", "n").id == "3"
        steps = []
        final = trainer.watch("9", lambda p: steps.append(p.step))
        assert steps == [1] and final is not None and final.state == trainer_pb2.JOB_STATE_SUCCEEDED
    monkeypatch.setenv("CODEEVAL_TRAINER_ADDR", server)
    job, reused = mainjob.start_training(retrain=False)
    assert (job.id, reused) == ("2", True)
    job, reused = mainjob.start_training(retrain=True)
    assert (job.id, reused) == ("3", False)
    assert mainjob.wait_for_adapter("9").artifact.path == "/a"
