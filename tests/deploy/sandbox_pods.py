"""How the two sandbox isolation tests run their pods (their deviations from the rendered manifests
are named and justified in tests/deploy/deviations.py, and nowhere else).

* tests/deploy/test_sandbox_gvisor.py runs the sandbox image exactly as ``overlays/prod`` runs the
  sandbox pod (components/gvisor: the ``runsc`` runtime, the unshare backend, the in-memory
  ``/jail/tmp``, one run at a time; the shipped seccomp profile, mutual TLS, the pod's pids limit,
  memory and CPU limits, its args): no deviation. It only adds its inputs, read-only (the fixtures
  and the conformance client). The pod's limits (2 CPUs, 2 GiB) fit a 2-core machine; should they
  grow past it, the overlay's values are to be checked statically and the docker run given a named
  deviation here (tests/deploy/test_podspec.py fails until then).
* tests/deploy/test_sandbox_seccomp.py runs the toolchain stage of the sandbox image with the
  ``overlays/dev`` sandbox pod's flags (bubblewrap under the shipped profile with an unmasked /proc;
  ``prod-runc``'s sandbox pod has the same security, checked statically in test_podspec.py) and
  :data:`~deploy.deviations.NO_NETWORK`, plus each control case only where a test names it.

Pure functions of the rendered documents, except :func:`secret_volumes` (copies secret files).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from deploy.deviations import CONTROL_CASES, NO_NETWORK
from deploy.podspec import Deviation, PodRun, docker_run, pod_run

GVISOR_OVERLAY = "overlays/prod"
BWRAP_OVERLAY = "overlays/dev"
#: Overlays whose sandbox pods run bubblewrap as BWRAP_OVERLAY's does, held to its security statically.
BWRAP_PROD_OVERLAYS = ("overlays/prod-runc",)
#: The files of each secret volume of the sandbox pod, as deploy/make-secrets.sh names them.
SECRET_FILES = {"auth": ("token",), "tls": ("tls.crt", "tls.key", "ca.crt")}



def gvisor_pod(docs: list[dict[str, Any]]) -> PodRun:
    """The sandbox pod of GVISOR_OVERLAY's rendered ``docs``; an AssertionError if it is not on runsc."""
    run = pod_run(docs, "sandbox")
    assert run.runtime == "runsc", f"{GVISOR_OVERLAY}'s sandbox pod runs on {run.runtime or 'the default runtime'}"
    return run


def secret_volumes(secrets_dir: Path, workdir: Path) -> dict[str, Path]:
    """A folder per secret volume of the sandbox pod (by volume name), with the files of a
    deploy/make-secrets.sh folder ``secrets_dir`` that the Secret holds, readable by the pod's uid."""
    folders = {}
    for volume, names in SECRET_FILES.items():
        folder = workdir / f"secret-{volume}"
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        for name in names:
            shutil.copyfile(secrets_dir / name, folder / name)
            (folder / name).chmod(0o644)
        folders[volume] = folder
    return folders


def gvisor_flags(docs: list[dict[str, Any]], workdir: Path, secrets_dir: Path) -> list[str]:
    """Every ``docker run`` flag of GVISOR_OVERLAY's sandbox pod (its ConfigMap written under
    ``workdir``, its secrets from the make-secrets.sh folder ``secrets_dir``); no deviation."""
    return docker_run(gvisor_pod(docs), workdir, secret_volumes(secrets_dir, workdir))


def bwrap_probe_flags(docs: list[dict[str, Any]], *controls: Deviation) -> list[str]:
    """The flags of BWRAP_OVERLAY's sandbox pod for a probe of the toolchain image: NO_NETWORK and
    ``controls`` (from CONTROL_CASES) applied; no volumes (the probe needs no config or secret)."""
    unknown = [c.name for c in controls if c not in CONTROL_CASES]
    if unknown:
        raise ValueError(f"not a named control case of this module: {unknown}")
    return pod_run(docs, "sandbox").deviating(NO_NETWORK, *controls)
