"""Derive the sandbox pod's seccomp profile from the container runtime's default profile.

The default profiles of Docker, containerd and CRI-O (Kubernetes' ``RuntimeDefault``) only allow
namespace creation to holders of CAP_SYS_ADMIN, so an unprivileged bubblewrap inside a container
fails with "No permissions to create new namespace". This adds ONE rule to Docker's default
profile (moby/profiles/seccomp/default.json, Apache-2.0; taken from Debian's
golang-github-docker-docker-dev so it matches the engine Debian ships), allowing exactly the
syscalls bubblewrap uses to build its sandbox without any capability:

- ``clone`` with namespace flags (CLONE_NEWUSER/NS/PID/NET/IPC/UTS/CGROUP): the new namespaces;
- ``unshare``: bubblewrap's second mount namespace and --unshare-* after the user namespace exists;
- ``mount``, ``umount2``, ``pivot_root``: assembling the new root inside that mount namespace;
- ``sethostname``: ``--hostname`` in the run's own UTS namespace (the sandbox backend sets one);
- ``chroot``: the unshare backend (gVisor pods) enters its jail from inside the run's user namespace.

Everything else the default profile forbids stays forbidden (setns, bpf, keyctl, add_key,
perf_event_open, open_by_handle_at, the module and reboot calls, the new mount API fsopen/fsmount/
move_mount/open_tree, clone3, which still answers ENOSYS so libc falls back to clone). The
namespaces created are unprivileged user namespaces: their capabilities are over the sandbox's own
objects only, and the pod still runs non-root with all capabilities dropped.

usage: python3 make-bwrap-profile.py [DOCKER_DEFAULT_JSON] > sandbox-bwrap.json
Without an argument the default profile is extracted from the Debian package (apt-get download).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

BWRAP_SYSCALLS = ["clone", "unshare", "mount", "umount2", "pivot_root", "sethostname", "chroot"]
PACKAGE = "golang-github-docker-docker-dev"
MEMBER = "usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json"


def docker_default_profile() -> dict:
    """Docker's default profile from Debian's package (no container registry, no GitHub)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "-q", PACKAGE], cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        return json.loads((Path(tmp) / MEMBER).read_text())


def bwrap_profile(default: dict) -> dict:
    """``default`` plus one unconditional allow rule for :data:`BWRAP_SYSCALLS`."""
    profile = json.loads(json.dumps(default))
    profile["syscalls"].append({
        "names": BWRAP_SYSCALLS,
        "action": "SCMP_ACT_ALLOW",
        "args": [],
        "comment": "codeeval sandbox: unprivileged bubblewrap (user, mount, pid, net, ipc, uts namespaces; "
                   "bind mounts and pivot_root inside its own mount namespace; hostname of its own uts namespace; "
                   "the unshare backend's chroot inside its own user namespace)",
        "includes": {},
        "excludes": {},
    })
    return profile


def main(argv: list[str]) -> int:
    default = json.loads(Path(argv[1]).read_text()) if len(argv) > 1 else docker_default_profile()
    json.dump(bwrap_profile(default), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
