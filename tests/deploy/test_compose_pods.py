"""deploy/compose.yaml against the rendered pods, statically (tests/deploy/compose_pods.py): every
compared setting matches the pod each service stands for, except the named deviations, and each
named deviation is still a real difference. Planted drifts, on either side, are caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deploy.compose_pods import COMPOSE, compose_services, compose_view, differences, docker_bytes
from deploy.conftest import K8S
from deploy.deviations import COMPOSE_DEVIATIONS

SERVICES = ["sandbox", "analyzer", "generator", "trainer"]


def test_compose_has_exactly_the_four_services() -> None:
    assert sorted(compose_services()) == sorted(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_compose_service_runs_as_its_pod_but_for_named_deviations(service: str) -> None:
    drift = {k: v for k, v in differences(service).items() if (service, k) not in COMPOSE_DEVIATIONS}
    assert drift == {}, f"compose's {service} differs from its pod ((pod, compose) per setting): {drift}"


def test_every_named_deviation_is_still_a_difference() -> None:
    found = {(s, k) for s in SERVICES for k in differences(s)}
    assert set(COMPOSE_DEVIATIONS) <= found, f"stale deviations: {sorted(set(COMPOSE_DEVIATIONS) - found)}"


def test_compose_is_hardened_like_the_pods() -> None:
    """What no deviation may touch."""
    for name, svc in compose_services().items():
        view = compose_view(svc)
        assert view["user"] == "10001:10001" and view["read_only"] and view["cap_drop"] == ["ALL"], name
        assert "no-new-privileges" in view["security_opt"], name
    for _, setting in COMPOSE_DEVIATIONS:
        assert setting.split()[0] not in {"user", "group_add", "read_only", "cap_drop", "cap_add", "security_opt"}


def test_docker_sizes_and_grace_periods() -> None:
    assert docker_bytes("512m") == 512 * 2**20 and docker_bytes("2g") == 2 * 2**30 and docker_bytes(1024) == 1024
    with pytest.raises(ValueError, match="not a docker size"):
        docker_bytes("2 GB")
    with pytest.raises(ValueError, match="stop_grace_period '1m30s'"):
        compose_view({"stop_grace_period": "1m30s"})


def _planted(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    path = tmp_path / source.name
    text = source.read_text()
    assert text.count(old) == 1, f"{source.name}: {old!r} is not there once; the planted drift needs updating"
    path.write_text(text.replace(old, new))
    return path


def test_a_planted_compose_drift_is_caught(tmp_path: Path) -> None:
    compose = _planted(tmp_path, COMPOSE, "/jail/tmp:rw,exec,mode=1777,size=256m", "/jail/tmp:rw,exec,size=300m")
    assert differences("sandbox", compose)["tmpfs /jail/tmp size"] == (256 * 2**20, 300 * 2**20)


def test_a_planted_manifest_drift_is_caught(tmp_path: Path) -> None:
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    _planted(tree / "base", K8S / "base" / "analyzer.yaml", "terminationGracePeriodSeconds: 60",
             "terminationGracePeriodSeconds: 90")
    assert differences("analyzer", k8s=tree)["grace_seconds"] == (90, 60)
    assert "grace_seconds" not in differences("sandbox", k8s=tree)
