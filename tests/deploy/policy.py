"""The deployment policy every rendered pod spec must satisfy, as a function tests call.

``pod_violations(name, pod_spec)`` returns human-readable violations (empty list: compliant). It
encodes the issue's pod-security rules: non-root, read-only root filesystem, all capabilities
dropped, no privilege escalation, RuntimeDefault seccomp (the sandbox alone may use its shipped
Localhost profile), no service-account token, no host namespaces or hostPath volumes, and
requests and limits for cpu and memory on every container.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SANDBOX_PROFILE = "codeeval/sandbox-bwrap.json"
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) for every workload in ``docs`` (CronJobs included)."""
    for doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name", "?")
        if kind in POD_KINDS:
            yield f"{kind}/{name}", doc["spec"]["template"]["spec"]
        elif kind == "CronJob":
            yield f"{kind}/{name}", doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield f"{kind}/{name}", doc["spec"]


def _seccomp_ok(profile: dict[str, Any] | None, sandbox: bool) -> bool:
    if not profile:
        return False
    if profile.get("type") == "RuntimeDefault":
        return True
    return sandbox and profile.get("type") == "Localhost" and profile.get("localhostProfile") == SANDBOX_PROFILE


def pod_violations(name: str, spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    sandbox = any(c.get("name") == "sandbox" for c in spec.get("containers", []))
    if spec.get("automountServiceAccountToken") is not False:
        out.append(f"{name}: automountServiceAccountToken must be false")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            out.append(f"{name}: {key} must not be set")
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        out.append(f"{name}: pod securityContext.runAsNonRoot must be true")
    if not _seccomp_ok(psc.get("seccompProfile"), sandbox):
        out.append(f"{name}: pod seccompProfile must be RuntimeDefault (sandbox: Localhost {SANDBOX_PROFILE})")
    for vol in spec.get("volumes", []):
        if "hostPath" in vol:
            out.append(f"{name}: volume {vol['name']} is a hostPath")
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        cname = f"{name}/{c.get('name')}"
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            out.append(f"{cname}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{cname}: allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{cname}: readOnlyRootFilesystem must be true")
        caps = sc.get("capabilities", {})
        if caps.get("drop") != ["ALL"] or caps.get("add"):
            out.append(f"{cname}: capabilities must drop [ALL] and add nothing")
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True or uid == 0:
            out.append(f"{cname}: must run as non-root")
        if not _seccomp_ok(sc.get("seccompProfile", psc.get("seccompProfile")), sandbox):
            out.append(f"{cname}: seccompProfile must be RuntimeDefault (sandbox: Localhost {SANDBOX_PROFILE})")
        if sc.get("procMount", "Default") != "Default" and spec.get("hostUsers") is not False:
            out.append(f"{cname}: procMount {sc['procMount']} needs hostUsers: false (its own user namespace)")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in res.get(part, {}):
                    out.append(f"{cname}: resources.{part}.{resource} missing")
    return out
