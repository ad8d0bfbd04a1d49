"""The docker flags derived from the rendered manifests (tests/deploy/podspec.py), checked statically
for every overlay: the image tests run the ``dev`` overlay's flags for real; ``prod`` and ``prod-runc``
ask for more than a 2-core machine has, so here their flags are derived the same way and checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from codeeval.generator.factory import VLLM_SHM_BYTES
from deploy.conftest import K8S, by_kind, render
from deploy.deviations import MASKED_PROC, RUNTIME_DEFAULT_SECCOMP, SHORT_GENERATOR, UNCONFINED_SECCOMP
from deploy.podspec import PIDS_ANNOTATION, Deviation, docker_run, pod_run, quantity_bytes, quantity_cpus
from deploy.sandbox_pods import (
    BWRAP_OVERLAY,
    BWRAP_PROD_OVERLAYS,
    GVISOR_OVERLAY,
    SECRET_FILES,
    bwrap_probe_flags,
    gvisor_flags,
    gvisor_pod,
)

OVERLAYS = ["overlays/dev", "overlays/prod", "overlays/prod-runc"]
SORTED_TLS = sorted(SECRET_FILES["tls"])


def _deployments(target: str) -> list[str]:
    return sorted(by_kind(render(target), "Deployment"))


@pytest.mark.parametrize(("q", "expected"), [("512Mi", 512 * 2**20), ("2Gi", 2 * 2**30), ("1G", 10**9),
                                             (1024, 1024), ("1.5Gi", int(1.5 * 2**30))])
def test_quantity_bytes(q: str | int, expected: int) -> None:
    assert quantity_bytes(q) == expected


def test_quantities_that_are_not_quantities_are_refused() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity_bytes("2 GB")
    assert quantity_cpus("500m") == 0.5 and quantity_cpus("2") == 2.0


@pytest.mark.parametrize("target", OVERLAYS)
def test_every_service_maps_to_hardened_docker_flags(target: str) -> None:
    docs = render(target)
    for name in _deployments(target):
        run = pod_run(docs, name)
        flags = run.flags
        user = flags[flags.index("--user") + 1]
        assert not user.startswith("0:") and user != "0", f"{target} {name} runs as root"
        assert flags[flags.index("--cap-drop") + 1] == "ALL", f"{target} {name}"
        assert "--read-only" in flags and "no-new-privileges" in flags, f"{target} {name}"
        assert run.memory_bytes > 0, f"{target} {name} has no memory limit"
        assert run.ports.get("grpc"), f"{target} {name} exposes no grpc port"
        memory_backed = run.shm_bytes + sum(run.tmpfs.values())
        assert run.shm_bytes < run.memory_bytes, f"{target} {name}: /dev/shm as large as the memory limit"
        assert memory_backed > 0, f"{target} {name} has no writable scratch space under a read-only root"


@pytest.mark.parametrize("target", OVERLAYS)
def test_generator_pods_have_the_shared_memory_vllm_needs(target: str) -> None:
    """The generator's start-up check (codeeval.generator.factory) and the manifests agree."""
    run = pod_run(render(target), "generator")
    assert run.shm_bytes >= VLLM_SHM_BYTES, f"{target}: /dev/shm {run.shm_bytes} < {VLLM_SHM_BYTES}"


@pytest.mark.parametrize("target", OVERLAYS)
def test_sandbox_seccomp_profile_is_a_shipped_file(target: str) -> None:
    run = pod_run(render(target), "sandbox")
    seccomp = [f for f in run.security if f.startswith("seccomp=")]
    assert seccomp, f"{target}: the sandbox pod runs without its own seccomp profile"
    assert Path(seccomp[0].removeprefix("seccomp=")).is_file()


def test_dev_overlay_fits_a_two_core_machine() -> None:
    docs = render("overlays/dev")
    for name in ("sandbox", "analyzer", "generator"):
        flags = pod_run(docs, name).flags
        assert float(flags[flags.index("--cpus") + 1]) <= 2, name
        assert pod_run(docs, name).memory_bytes <= 6 * 2**30, name


def test_docker_run_writes_config_maps_and_needs_every_external_volume(tmp_path: Path) -> None:
    docs = render("overlays/dev")
    run = pod_run(docs, "analyzer")
    with pytest.raises(KeyError, match="auth"):
        docker_run(run, tmp_path, {})
    flags = docker_run(run, tmp_path, {"auth": tmp_path / "auth"})
    assert f"{tmp_path / 'auth'}:/etc/codeeval/auth:ro" in flags
    config_mount = next(f for f in flags if f.endswith(":/etc/codeeval/config:ro"))
    config = yaml.safe_load((Path(config_mount.split(":")[0]) / "config.yaml").read_text())
    assert config["analyzer"]["compute_threads"] == 1
    assert run.env["CODEEVAL_CONFIG"] == "/etc/codeeval/config/config.yaml"


def test_gvisor_pod_maps_its_runtime_class_pids_limit_and_jail(tmp_path: Path) -> None:
    """What test_sandbox_gvisor.py runs: the prod sandbox pod, every flag from the rendered overlay."""
    run = gvisor_pod(render(GVISOR_OVERLAY))
    assert run.flags[:2] == ["--runtime", "runsc"] and run.pids_limit == 4096
    assert run.tmpfs == {"/jail/tmp": 256 * 2**20, "/tmp": 512 * 2**20}
    assert {k: run.env[k] for k in ("CODEEVAL_SANDBOX_BACKEND", "CODEEVAL_SANDBOX_MAX_CONCURRENCY")} == \
        {"CODEEVAL_SANDBOX_BACKEND": "unshare", "CODEEVAL_SANDBOX_MAX_CONCURRENCY": "1"}
    assert not any(f.startswith("systempaths=") for f in run.security), "gVisor's pod keeps /proc masked"
    flags = gvisor_flags(render(GVISOR_OVERLAY), tmp_path, _fake_secrets(tmp_path / "made"))
    tls = tmp_path / "secret-tls"
    assert f"{tls}:/etc/codeeval/tls:ro" in flags and sorted(p.name for p in tls.iterdir()) == SORTED_TLS
    assert run.args == ["--host", "0.0.0.0", "--port", "50051", "--metrics-port", "9090"]


def test_gvisor_pod_needs_no_deviation_on_a_two_core_machine() -> None:
    """test_sandbox_gvisor.py runs prod's pod as it is; if its limits outgrow 2 cores or 6 GiB, that
    test needs a named deviation in sandbox_pods.py (and this check a static one in its place)."""
    flags = gvisor_pod(render(GVISOR_OVERLAY)).flags
    assert float(flags[flags.index("--cpus") + 1]) <= 2
    assert int(flags[flags.index("--memory") + 1]) <= 6 * 2**30


@pytest.mark.parametrize("target", BWRAP_PROD_OVERLAYS)
def test_bwrap_probe_pod_has_the_security_of_the_prod_bwrap_pods(target: str) -> None:
    """test_sandbox_seccomp.py runs the dev sandbox pod; prod-runc's must hold the same security,
    pids and memory limits and /tmp, so what the probe showed holds there."""
    dev, prod = pod_run(render(BWRAP_OVERLAY), "sandbox"), pod_run(render(target), "sandbox")
    assert prod.security == dev.security and prod.runtime == dev.runtime == ""
    assert (prod.memory_bytes, prod.pids_limit, prod.tmpfs) == (dev.memory_bytes, dev.pids_limit, dev.tmpfs)
    assert "hostUsers: false (a user namespace per pod)" in prod.unmapped


@pytest.mark.parametrize("target", [BWRAP_OVERLAY, *BWRAP_PROD_OVERLAYS])
def test_every_control_case_removes_what_the_pod_has(target: str) -> None:
    """Each control case of the seccomp probe takes away one thing the bwrap pods really carry."""
    docs = render(target)
    pod = pod_run(docs, "sandbox").flags
    assert bwrap_probe_flags(docs)[-2:] == ["--network", "none"]
    assert bwrap_probe_flags(docs)[:-2] == pod
    profile = next(f for f in pod if f.startswith("seccomp="))
    assert profile in pod and profile not in bwrap_probe_flags(docs, RUNTIME_DEFAULT_SECCOMP)
    assert "systempaths=unconfined" not in bwrap_probe_flags(docs, MASKED_PROC)
    unconfined = bwrap_probe_flags(docs, UNCONFINED_SECCOMP)
    assert profile not in unconfined and unconfined[-2:] == ["--security-opt", "seccomp=unconfined"]
    assert len(bwrap_probe_flags(docs, MASKED_PROC)) == len(pod)


def test_a_deviation_from_what_the_pod_lacks_is_refused() -> None:
    gvisor = gvisor_pod(render(GVISOR_OVERLAY))
    with pytest.raises(ValueError, match="masked-proc.*systempaths="):
        gvisor.deviating(MASKED_PROC)
    with pytest.raises(ValueError, match="not a named control case"):
        bwrap_probe_flags(render(BWRAP_OVERLAY), Deviation("ad-hoc", "unnamed", add=("--privileged",)))


def test_runtime_class_and_pids_annotation_are_checked() -> None:
    docs = render(GVISOR_OVERLAY)
    pod = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "sandbox")
    pod["spec"]["template"]["metadata"]["annotations"][PIDS_ANNOTATION] = "lots"
    with pytest.raises(ValueError, match=f"{PIDS_ANNOTATION} must be a positive integer, not 'lots'"):
        pod_run(docs, "sandbox")
    without_class = [d for d in render(GVISOR_OVERLAY) if d["kind"] != "RuntimeClass"]
    with pytest.raises(KeyError, match="runtimeClassName 'gvisor' is not a rendered RuntimeClass"):
        pod_run(without_class, "sandbox")


def _planted(tmp_path: Path, relative: str, old: str, new: str) -> Path:
    """A copy of deploy/k8s with ``old`` replaced by ``new`` (exactly once) in file ``relative``."""
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    path = tree / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{relative}: {old!r} is not there once; the planted drift needs updating"
    path.write_text(text.replace(old, new))
    return tree


def _fake_secrets(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("token", *SORTED_TLS):
        (folder / name).write_text(f"{name}\n")
    return folder


def test_a_planted_jail_size_drift_changes_what_the_gvisor_test_runs(tmp_path: Path) -> None:
    tree = _planted(tmp_path, "components/gvisor/sandbox-runtime.yaml", "sizeLimit: 256Mi", "sizeLimit: 384Mi")
    secrets = _fake_secrets(tmp_path / "made")
    planted = gvisor_flags(render(tree / GVISOR_OVERLAY), tmp_path / "a", secrets)
    shipped = gvisor_flags(render(GVISOR_OVERLAY), tmp_path / "b", secrets)
    assert f"/jail/tmp:rw,exec,mode=1777,size={384 * 2**20}" in planted
    assert f"/jail/tmp:rw,exec,mode=1777,size={256 * 2**20}" in shipped


def test_a_planted_pids_drift_changes_what_both_sandbox_tests_run(tmp_path: Path) -> None:
    tree = _planted(tmp_path, "base/sandbox.yaml", 'pod-pids-limit: "4096"', 'pod-pids-limit: "8192"')
    probe = bwrap_probe_flags(render(tree / BWRAP_OVERLAY))
    gvisor = gvisor_flags(render(tree / GVISOR_OVERLAY), tmp_path, _fake_secrets(tmp_path / "made"))
    for flags in (probe, gvisor):
        assert flags[flags.index("--pids-limit") + 1] == "8192"


def test_a_planted_security_drift_is_caught_statically(tmp_path: Path) -> None:
    """prod-runc losing procMount: Unmasked: the dev-pod probe would no longer show what prod runs."""
    tree = _planted(tmp_path, "overlays/prod-runc/kustomization.yaml", "  - path: scale.yaml\n",
                    "  - path: scale.yaml\n  - target:\n      kind: Deployment\n      name: sandbox\n"
                    "    patch: |-\n      - op: remove\n"
                    "        path: /spec/template/spec/containers/0/securityContext/procMount\n")
    dev = pod_run(render(tree / BWRAP_OVERLAY), "sandbox")
    prod = pod_run(render(tree / "overlays/prod-runc"), "sandbox")
    assert prod.security != dev.security
    with pytest.raises(ValueError, match="masked-proc"):
        prod.deviating(MASKED_PROC)


@pytest.mark.parametrize("target", OVERLAYS)
def test_short_generator_only_sizes_what_the_pod_leaves_to_the_config(target: str) -> None:
    """The generator image test's one deviation overrides nothing the pod sets, and not the engine,
    model or template: what it shows about the pod's engine holds for every overlay's pods."""
    run = pod_run(render(target), "generator")
    added = dict(a.split("=", 1) for a in SHORT_GENERATOR.add[1::2])
    assert SHORT_GENERATOR.add[::2] == ("-e",) * len(added) and not SHORT_GENERATOR.drop_security_opts
    assert not set(added) & set(run.env), f"{target}: overrides the pod's own env"
    assert not {"CODEEVAL_GENERATOR_ENGINE", "CODEEVAL_GENERATOR_MODEL", "CODEEVAL_GENERATOR_TEMPLATE"} & set(added)
    assert run.deviating(SHORT_GENERATOR)[: len(run.flags)] == run.flags


@pytest.mark.parametrize("target", OVERLAYS)
def test_sandbox_pods_pids_limit_outlasts_a_fork_bomb_in_every_slot(target: str) -> None:
    """The pod's pids limit (its annotation, tests/deploy/podspec.py) is above what the runs it holds
    at once may have: each run's process cap is at most the settings' max_max_processes, so a fork
    bomb meets its own rlimit before the pod's limit (which would take the whole pod down on gVisor).
    Where the pod does not set max_concurrency (the bubblewrap pods: the node's CPU count), only one
    run's cap can be checked statically."""
    from codeeval.sandbox.settings import SandboxSettings

    run = pod_run(render(target), "sandbox")
    slots = int(run.env.get("CODEEVAL_SANDBOX_MAX_CONCURRENCY", "1"))
    per_run = SandboxSettings.model_fields["max_max_processes"].default
    assert run.pids_limit > slots * per_run, f"{target}: pids limit {run.pids_limit} <= {slots} x {per_run}"
