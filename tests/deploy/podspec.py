"""The docker run flags of a rendered Deployment: the manifests are the one source of how a service
runs, so the image tests run each image the way its pod would and cannot drift from the cluster.

What maps, from the pod template (a container's securityContext wins over the pod's):
* ``runAsUser``/``runAsGroup`` -> ``--user``; ``fsGroup`` -> ``--group-add``
* ``capabilities.drop``/``add`` -> ``--cap-drop``/``--cap-add``; ``readOnlyRootFilesystem`` -> ``--read-only``
* ``allowPrivilegeEscalation: false`` -> ``no-new-privileges``; ``procMount: Unmasked`` -> ``systempaths=unconfined``
* ``seccompProfile``: Localhost -> the profile file of that name under deploy/seccomp/; Unconfined ->
  ``seccomp=unconfined``; RuntimeDefault -> Docker's default profile (no flag)
* ``emptyDir`` at ``/dev/shm`` -> ``--shm-size``; any other ``emptyDir`` -> ``--tmpfs`` of its ``sizeLimit``
  (``mode=1777``: what docker's tmpfs defaults to under runc, stated so runsc mounts it the same)
* ``resources.limits`` -> ``--memory`` and ``--cpus``; ``env`` values -> ``-e``; ``ports`` -> :attr:`PodRun.ports`;
  the container's ``args`` -> :attr:`PodRun.args` (what follows the image on the command line)
* ``terminationGracePeriodSeconds`` (Kubernetes' default 30) -> ``--stop-timeout``
* ``runtimeClassName`` -> ``--runtime`` of that RuntimeClass's ``handler`` (a Docker runtime registered
  under the containerd handler's name, ``runsc`` for gVisor); its overhead and node selector are unmapped
* the pod template annotation ``codeeval.io/pod-pids-limit`` -> ``--pids-limit``. Kubernetes has no
  per-pod pids field: the limit is the kubelet's ``podPidsLimit`` on the node, which the annotation
  states as the pod's requirement (deploy/README.md) so the tests run the pod with it
* ``configMap`` volumes -> the rendered ConfigMap's files, written to a folder and mounted read-only
* ``secret`` and ``persistentVolumeClaim`` volumes -> a host folder the caller supplies, by volume name

What docker cannot express (``hostUsers: false``, probes, requests, fsGroup ownership changes) is
listed in :attr:`PodRun.unmapped`, so a test can say so instead of silently dropping it. Pure
functions of the rendered documents; only :func:`docker_run` writes (the ConfigMap files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deploy.conftest import DEPLOY, by_kind

SECCOMP_DIR = DEPLOY / "seccomp"
PIDS_ANNOTATION = "codeeval.io/pod-pids-limit"
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity_bytes(q: str | int) -> int:
    """A Kubernetes memory/storage quantity ("512Mi", "2Gi", "1G", 1024) in bytes."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kMGT]i?)?", str(q))
    if m is None:
        raise ValueError(f"not a Kubernetes quantity: {q!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2) or ""])


def quantity_cpus(q: str | int) -> float:
    """A Kubernetes CPU quantity ("2", "500m") in cores."""
    text = str(q)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


@dataclass
class PodRun:
    """The docker view of one container of a Deployment (see the module docstring)."""

    security: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    scratch: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    config_maps: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    external: dict[str, tuple[str, bool]] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    runtime: str = ""
    memory_bytes: int = 0
    pids_limit: int = 0
    grace_seconds: int = 30
    shm_bytes: int = 0
    tmpfs: dict[str, int] = field(default_factory=dict)

    @property
    def flags(self) -> list[str]:
        """Runtime, security, resource, scratch-space and env flags (no volumes from the host)."""
        runtime = ["--runtime", self.runtime] if self.runtime else []
        return [*runtime, *self.security, *self.resources, *self.scratch,
                *[a for k, v in self.env.items() for a in ("-e", f"{k}={v}")]]

    def deviating(self, *deviations: Deviation) -> list[str]:
        """:attr:`flags` with ``deviations`` applied: each drops the ``--security-opt`` values it names
        (by prefix) and appends its own flags. A deviation that drops nothing is a ValueError naming
        it: the pod no longer has what the test deviates from, so the test would prove nothing."""
        security = list(self.security)
        added: list[str] = []
        for dev in deviations:
            for prefix in dev.drop_security_opts:
                at = [i for i in range(1, len(security)) if security[i - 1] == "--security-opt"
                      and security[i].startswith(prefix)]
                if not at:
                    raise ValueError(f"deviation {dev.name!r}: the pod has no --security-opt {prefix}...")
                security = [f for i, f in enumerate(security) if i not in at and i + 1 not in at]
            added += dev.add
        return replace(self, security=security).flags + added


@dataclass(frozen=True)
class Deviation:
    """One named, justified difference between how a test runs a pod and how the cluster runs it:
    the ``--security-opt`` values it drops (prefixes, e.g. ``"seccomp="``) and the flags it adds."""

    name: str
    why: str
    drop_security_opts: tuple[str, ...] = ()
    add: tuple[str, ...] = ()


def _merged_security(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    return {**pod.get("securityContext", {}), **container.get("securityContext", {})}


def pod_run(docs: list[dict[str, Any]], deployment: str, container: str | None = None) -> PodRun:
    """The docker view of ``container`` (default: the first) of Deployment ``deployment`` in ``docs``."""
    deployments = by_kind(docs, "Deployment")
    if deployment not in deployments:
        raise KeyError(f"no Deployment {deployment!r} (have {sorted(deployments)})")
    pod = deployments[deployment]["spec"]["template"]["spec"]
    spec = next(c for c in pod["containers"] if container in (None, c["name"]))
    sec = _merged_security(pod, spec)
    run = PodRun()

    if "runAsUser" not in sec:
        raise ValueError(f"{deployment}: no runAsUser; the images must never run as root")
    run.security += ["--user", f"{sec['runAsUser']}:{sec.get('runAsGroup', sec['runAsUser'])}"]
    if "fsGroup" in pod.get("securityContext", {}):
        run.security += ["--group-add", str(pod["securityContext"]["fsGroup"])]
    caps = sec.get("capabilities", {})
    run.security += [a for c in caps.get("drop", []) for a in ("--cap-drop", c)]
    run.security += [a for c in caps.get("add", []) for a in ("--cap-add", c)]
    if sec.get("readOnlyRootFilesystem"):
        run.security.append("--read-only")
    if sec.get("allowPrivilegeEscalation") is False:
        run.security += ["--security-opt", "no-new-privileges"]
    if sec.get("procMount") == "Unmasked":
        run.security += ["--security-opt", "systempaths=unconfined"]
    seccomp = sec.get("seccompProfile", {})
    if seccomp.get("type") == "Localhost":
        profile = SECCOMP_DIR / Path(seccomp["localhostProfile"]).name
        if not profile.is_file():
            raise FileNotFoundError(f"{deployment}: seccomp profile {seccomp['localhostProfile']} not in {SECCOMP_DIR}")
        run.security += ["--security-opt", f"seccomp={profile}"]
    elif seccomp.get("type") == "Unconfined":
        run.security += ["--security-opt", "seccomp=unconfined"]
    if pod.get("hostUsers") is False:
        run.unmapped.append("hostUsers: false (a user namespace per pod)")
    if "runtimeClassName" in pod:
        classes = by_kind(docs, "RuntimeClass")
        if pod["runtimeClassName"] not in classes:
            raise KeyError(f"{deployment}: runtimeClassName {pod['runtimeClassName']!r} is not a rendered RuntimeClass")
        run.runtime = classes[pod["runtimeClassName"]]["handler"]
        run.unmapped.append(f"RuntimeClass {pod['runtimeClassName']}: overhead and scheduling")
    pids = deployments[deployment]["spec"]["template"].get("metadata", {}).get("annotations", {}).get(PIDS_ANNOTATION)
    if pids is not None:
        if not str(pids).isdigit() or int(pids) == 0:
            raise ValueError(f"{deployment}: annotation {PIDS_ANNOTATION} must be a positive integer, not {pids!r}")
        run.pids_limit = int(pids)

    limits = spec.get("resources", {}).get("limits", {})
    if "memory" in limits:
        run.memory_bytes = quantity_bytes(limits["memory"])
        run.resources += ["--memory", str(run.memory_bytes)]
    if "cpu" in limits:
        run.resources += ["--cpus", f"{quantity_cpus(limits['cpu']):g}"]
    if run.pids_limit:
        run.resources += ["--pids-limit", str(run.pids_limit)]
    run.grace_seconds = int(pod.get("terminationGracePeriodSeconds", 30))
    run.resources += ["--stop-timeout", str(run.grace_seconds)]

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    config_maps = by_kind(docs, "ConfigMap")
    for mount in spec.get("volumeMounts", []):
        vol, path = volumes[mount["name"]], mount["mountPath"]
        if "emptyDir" in vol:
            size = quantity_bytes(vol["emptyDir"].get("sizeLimit", "64Mi"))
            if path == "/dev/shm":
                run.shm_bytes = size
                run.scratch += ["--shm-size", str(size)]
            else:
                run.tmpfs[path] = size
                run.scratch += ["--tmpfs", f"{path}:rw,exec,mode=1777,size={size}"]
        elif "configMap" in vol:
            data = config_maps[vol["configMap"]["name"]]["data"]
            run.config_maps[mount["name"]] = (path, dict(data))
        else:
            run.external[mount["name"]] = (path, bool(mount.get("readOnly")))
    for env in spec.get("env", []):
        if "value" in env:
            run.env[env["name"]] = str(env["value"])
        else:
            run.unmapped.append(f"env {env['name']} (valueFrom)")
    run.args = [str(a) for a in spec.get("args", [])]
    run.ports = {p.get("name", str(p["containerPort"])): int(p["containerPort"]) for p in spec.get("ports", [])}
    return run


def docker_run(run: PodRun, workdir: Path, volumes: dict[str, Path], *deviations: Deviation) -> list[str]:
    """Every ``docker run`` flag of ``run``: :attr:`PodRun.flags` (with ``deviations``, see
    :meth:`PodRun.deviating`), the ConfigMaps written under ``workdir`` and mounted read-only, and each
    secret/PVC volume from ``volumes`` (by volume name) mounted at its path. A volume the pod mounts
    and ``volumes`` lacks is a KeyError naming it."""
    mounts: list[str] = []
    for name, (path, data) in run.config_maps.items():
        folder = workdir / f"configmap-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        for key, text in data.items():
            (folder / key).write_text(text)
            (folder / key).chmod(0o644)
        mounts += ["-v", f"{folder}:{path}:ro"]
    for name, (path, read_only) in run.external.items():
        if name not in volumes:
            raise KeyError(f"the pod mounts volume {name!r} at {path}: pass a host folder for it")
        mounts += ["-v", f"{volumes[name]}:{path}{':ro' if read_only else ''}"]
    return [*run.deviating(*deviations), *mounts]
