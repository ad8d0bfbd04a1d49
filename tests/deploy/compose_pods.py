"""deploy/compose.yaml held to the manifests. compose cannot be rendered from them, so each compose
service is compared, setting by setting, with the rendered pod it stands for (through the same
docker view, tests/deploy/podspec.py); the differences allowed are named and justified in
tests/deploy/deviations.py (``COMPOSE_DEVIATIONS``) and nowhere else.

The pod each service stands for: analyzer, generator and trainer: the ``dev`` overlay's (one machine,
CPU, locally built images). sandbox: the ``dev`` overlay with ``components/gvisor`` (the unshare
backend, one run at a time, the in-memory /jail/tmp), because compose cannot give bubblewrap its
unmasked /proc (docker run's ``systempaths=unconfined`` is a CLI option the engine API refuses).

Compared: user and supplementary groups, read-only root, capabilities, security options (the seccomp
profile as a file), the runtime, tmpfs mounts (size, exec), /dev/shm, memory, CPU and pids limits, the
stop grace period, and env values that are not files on a mounted volume (compose mounts the config
at another path and the token as a compose secret). Ports, volumes from the host and secrets are not
compared: compose publishes on loopback and mounts the repository's files. Pure functions; renders
with kubectl (cached per path), writes one kustomization to a temporary folder for the sandbox.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from deploy.conftest import DEPLOY, K8S, render
from deploy.podspec import PodRun, pod_run

COMPOSE = DEPLOY / "compose.yaml"
_DOCKER_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}



def docker_bytes(size: str | int) -> int:
    """A docker/compose size ("512m", "2g", 1024) in bytes (binary units, as docker reads them)."""
    m = re.fullmatch(r"(\d+)([bkmg]?)", str(size).lower())
    if m is None:
        raise ValueError(f"not a docker size: {size!r}")
    return int(m.group(1)) * _DOCKER_UNITS[m.group(2)]


def compose_pod(service: str, k8s: Path = K8S) -> PodRun:
    """The rendered pod compose's ``service`` stands for (module docstring), from the tree ``k8s``."""
    if service != "sandbox":
        return pod_run(render(k8s / "overlays" / "dev"), service)
    with tempfile.TemporaryDirectory(prefix="compose-sandbox-") as folder:
        rel = os.path.relpath(k8s, folder)
        (Path(folder) / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [f"{rel}/overlays/dev"], "components": [f"{rel}/components/gvisor"]}))
        return pod_run(render(Path(folder)), "sandbox")


def _under(value: str, roots: list[str]) -> bool:
    return any(value == r or value.startswith(r.rstrip("/") + "/") for r in roots)


def _flat(view: dict[str, Any], tmpfs: dict[str, tuple[int, bool]], env: dict[str, str]) -> dict[str, Any]:
    """One comparable entry per setting, per tmpfs mount's size and exec, and per env variable."""
    for path, (size, exec_) in tmpfs.items():
        view[f"tmpfs {path} size"], view[f"tmpfs {path} exec"] = size, exec_
    view.update({f"env {k}": v for k, v in env.items()})
    return view


def pod_view(run: PodRun) -> dict[str, Any]:
    """The compared settings of a pod's docker view (flat: see :func:`_flat`)."""
    flags, mounts = run.flags, [path for path, _ in [*run.config_maps.values(), *run.external.values()]]

    def values(flag: str) -> list[str]:
        return [flags[i + 1] for i, f in enumerate(flags) if f == flag]

    user = values("--user")[0]
    return _flat({
        "user": user, "group_add": sorted(set(values("--group-add")) - {user.partition(":")[2]}),
        "read_only": "--read-only" in flags, "cap_drop": values("--cap-drop"), "cap_add": values("--cap-add"),
        "security_opt": sorted(values("--security-opt")), "runtime": run.runtime,
        "shm": run.shm_bytes, "memory": run.memory_bytes, "cpus": float(next(iter(values("--cpus")), 0)),
        "pids": run.pids_limit, "grace_seconds": run.grace_seconds,
    }, {path: (size, True) for path, size in run.tmpfs.items()},
        {k: v for k, v in run.env.items() if not _under(v, mounts)})


def compose_view(svc: dict[str, Any], deploy_dir: Path = DEPLOY) -> dict[str, Any]:
    """The same settings of one service of compose.yaml (paths relative to ``deploy_dir``, where the
    file says compose runs)."""
    security = []
    for opt in svc.get("security_opt", []):
        key, _, value = opt.partition("=")
        security.append(f"seccomp={(deploy_dir / value).resolve()}" if key == "seccomp" else opt)
    tmpfs = {}
    for entry in svc.get("tmpfs", []):
        path, _, options = entry.partition(":")
        opts = dict(o.partition("=")[::2] for o in options.split(",") if o)
        tmpfs[path] = (docker_bytes(opts.get("size", "64m")), "exec" in opts)
    mounts = ["/run/secrets", *[v.split(":")[1] for v in svc.get("volumes", []) if isinstance(v, str)]]
    grace = str(svc.get("stop_grace_period", "10s"))
    if not grace.endswith("s") or not grace[:-1].isdigit():
        raise ValueError(f"stop_grace_period {grace!r}: write whole seconds, as 60s")
    return _flat({
        "user": str(svc.get("user", "")), "group_add": sorted(str(g) for g in svc.get("group_add", [])),
        "read_only": bool(svc.get("read_only")), "cap_drop": list(svc.get("cap_drop", [])),
        "cap_add": list(svc.get("cap_add", [])), "security_opt": sorted(security), "runtime": svc.get("runtime", ""),
        "shm": docker_bytes(svc["shm_size"]) if "shm_size" in svc else 0,
        "memory": docker_bytes(svc["mem_limit"]) if "mem_limit" in svc else 0,
        "cpus": float(svc.get("cpus", 0)), "pids": int(svc.get("pids_limit", 0)), "grace_seconds": int(grace[:-1]),
    }, tmpfs, {k: str(v) for k, v in svc.get("environment", {}).items() if not _under(str(v), mounts)})


def compose_services(path: Path = COMPOSE) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(path.read_text())["services"]
    return services


def differences(service: str, compose: Path = COMPOSE, k8s: Path = K8S) -> dict[str, tuple[Any, Any]]:
    """Every compared setting where compose's ``service`` and its pod differ: {setting: (pod, compose)}
    (None where one side lacks it), the named deviations included (the caller tells them apart)."""
    pod, ours = pod_view(compose_pod(service, k8s)), compose_view(compose_services(compose)[service])
    return {key: (pod.get(key), ours.get(key)) for key in sorted({*pod, *ours}) if pod.get(key) != ours.get(key)}
