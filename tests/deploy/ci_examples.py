"""The shipped CI examples as the test runs them: commands, settings and paths read from the YAML files.

- GitLab (``deploy/ci/gitlab-ci-bench.yml``): the job's ``variables``, its ``before_script`` and
  ``script`` joined into one shell script (as the runner runs them: one bash, ``-e -o pipefail``), and
  its artifact paths;
- GitHub (``deploy/ci/github-actions-bench.yml``): each step's ``run`` snippet by step name (GitHub
  runs them with ``bash --noprofile --norc -eo pipefail``), and the Job fields its yq filter sets;
- the bench Job (``deploy/k8s/jobs/bench-job.yaml``, as ``kubectl kustomize deploy/k8s/jobs`` renders
  it): its container's command and script, its env and the mount of its runs volume.

Nothing here changes a command: a test substitutes only settings (environment variables) and says which.
Cost: one YAML parse per call; the Job needs one kustomize render (cached by ``conftest.render``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from deploy.conftest import DEPLOY, by_kind, render

GITLAB = DEPLOY / "ci" / "gitlab-ci-bench.yml"
GITHUB = DEPLOY / "ci" / "github-actions-bench.yml"
GITLAB_JOB = "codeeval-bench"
BENCH_JOB = "codeeval-bench"
GITLAB_SHELL = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c"]
GITHUB_SHELL = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c"]


def gitlab_job() -> dict[str, Any]:
    """The bench job of the GitLab example."""
    return dict(yaml.safe_load(GITLAB.read_text())[GITLAB_JOB])


def gitlab_variables(job: dict[str, Any]) -> dict[str, str]:
    """The job's ``variables`` as the runner exports them (strings)."""
    return {k: str(v) for k, v in job["variables"].items()}


def gitlab_script(job: dict[str, Any]) -> str:
    """``before_script`` then ``script``: the runner runs every entry in order in one shell."""
    return "\n".join([*job.get("before_script", []), *job["script"]]) + "\n"


def gitlab_artifact_paths(job: dict[str, Any], pipeline_id: str) -> list[str]:
    """The job's artifact paths with ``$CI_PIPELINE_ID`` expanded (the only variable they use)."""
    return [p.replace("$CI_PIPELINE_ID", pipeline_id) for p in job["artifacts"]["paths"]]


def github_workflow() -> dict[str, Any]:
    return dict(yaml.safe_load(GITHUB.read_text()))


def github_step(name: str) -> str:
    """The ``run`` snippet of the bench job's step called ``name``."""
    steps = github_workflow()["jobs"]["bench"]["steps"]
    found = [s["run"] for s in steps if s.get("name") == name]
    if len(found) != 1:
        raise AssertionError(f"{GITHUB.name}: expected one step named {name!r}, found {len(found)}")
    return str(found[0])


def yq_env_fields(snippet: str) -> list[str]:
    """The container env names the workflow's yq filter sets on the Job (``select(.name == "X")``)."""
    return re.findall(r'select\(\.name == \\"(\w+)\\"\)', snippet)


def yq_job_name(snippet: str) -> str:
    """The Job the workflow's yq filter selects from the kustomize output."""
    found = re.search(r'select\(\.metadata\.name == \\"([\w-]+)\\"\)', snippet)
    if found is None:
        raise AssertionError("the workflow's yq filter selects no Job by name")
    return found.group(1)


def bench_job() -> dict[str, Any]:
    """The bench Job as ``kubectl kustomize deploy/k8s/jobs`` renders it (what the workflow applies)."""
    return by_kind(render("jobs"), "Job")[BENCH_JOB]


def job_container(job: dict[str, Any]) -> dict[str, Any]:
    containers = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "the bench Job has one container"
    return dict(containers[0])


def job_command(container: dict[str, Any]) -> list[str]:
    """The container's command and args: ``["/bin/sh", "-c", SCRIPT]``."""
    return [*container["command"], *container["args"]]


def job_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's literal env values (every entry of the bench Job is a literal)."""
    return {e["name"]: str(e["value"]) for e in container["env"]}


def job_volume_mount(job: dict[str, Any], claim: str) -> str:
    """Where the Job's container mounts the PersistentVolumeClaim ``claim``."""
    spec = job["spec"]["template"]["spec"]
    names = [v["name"] for v in spec["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == claim]
    assert len(names) == 1, f"the bench Job mounts claim {claim} once"
    mounts = [m["mountPath"] for m in job_container(job)["volumeMounts"] if m["name"] == names[0]]
    assert len(mounts) == 1, f"the bench Job's container mounts volume {names[0]} once"
    return str(mounts[0])


def venv_bin() -> Path:
    """The folder of this interpreter's ``codeeval`` (what the client image has on its PATH)."""
    return Path(sys.executable).parent


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """One example's command, with exactly ``env`` (no inherited variables) in ``cwd``."""
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
