"""The docker flags derived from the rendered manifests (tests/deploy/podspec.py), checked statically
for every overlay: the image tests run the ``dev`` overlay's flags for real; ``prod`` and ``prod-runc``
ask for more than a 2-core machine has, so here their flags are derived the same way and checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codeeval.generator.factory import VLLM_SHM_BYTES
from deploy.conftest import DEPLOY, by_kind, render
from deploy.podspec import docker_run, pod_run, quantity_bytes, quantity_cpus

OVERLAYS = ["overlays/dev", "overlays/prod", "overlays/prod-runc"]


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


def test_compose_hardening_matches_the_dev_pods() -> None:
    """compose cannot be rendered from the manifests; its security settings and the generator's
    /dev/shm are held to the dev overlay's here."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    docs = render("overlays/dev")
    for name in ("sandbox", "analyzer", "generator"):
        flags, svc = pod_run(docs, name).flags, compose[name]
        assert svc["user"] == flags[flags.index("--user") + 1], name
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges" in svc["security_opt"], name
    assert quantity_bytes(compose["generator"]["shm_size"].replace("g", "Gi")) >= VLLM_SHM_BYTES
