"""The sandbox image under gVisor, as overlays/prod runs it: per-run isolation really works.

Real Docker with the real runsc (Debian's, ptrace platform, registered by scripts/start-dockerd.sh),
the real sandbox image on the registry-free base, the pod's hardening (uid 10001, read-only root,
all capabilities dropped, no-new-privileges, the shipped seccomp profile) and the pod's settings:
the unshare backend, one run at a time, an in-memory volume at /jail/tmp. bubblewrap cannot start
under this runsc (deploy/README.md, "gVisor"), so this is the backend those pods use. The service
must become SERVING (its readiness runs a real program through the backend), then the whole
adversarial conformance suite (tests/sandbox/fixtures) must end in its expected outcomes, sent
from inside the pod, with a run seeing nothing of the pod outside the jail.
"""

from __future__ import annotations

import json
import secrets

import pytest

from deploy import dockerutil as du
from deploy.conftest import DEPLOY, ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]
CLIENT = ROOT / "tests" / "deploy" / "fixtures" / "conformance-client.py"
FIXTURES = ROOT / "tests" / "sandbox" / "fixtures"
# The pod spec of overlays/prod (components/gvisor), as docker flags. With gVisor's ptrace
# platform every task of a run is also a host thread: the pod's pids limit must stay well above
# the runs' own RLIMIT_NPROC, or a fork bomb takes the whole pod down (deploy/README.md).
GVISOR_POD = ["--runtime", "runsc", "--pids-limit", "4096", "--security-opt", f"seccomp={du.SECCOMP_PROFILE}",
              "--tmpfs", "/jail/tmp:rw,exec,mode=1777,size=256m",
              "-e", "CODEEVAL_SANDBOX_BACKEND=unshare", "-e", "CODEEVAL_SANDBOX_JAIL_DIR=/jail",
              "-e", "CODEEVAL_SANDBOX_MAX_CONCURRENCY=1"]


@pytest.fixture(scope="module")
def sandbox_under_gvisor(tmp_path_factory):
    du.ensure_engine()
    runtimes = du.docker("info", "--format", "{{json .Runtimes}}").stdout
    assert "runsc" in json.loads(runtimes), "runsc is not a Docker runtime here: bash scripts/start-dockerd.sh"
    du.ensure_base()
    image = du.build(DEPLOY / "sandbox" / "Dockerfile", "codeeval/sandbox:test")
    token_file = tmp_path_factory.mktemp("auth") / "token"
    token_file.write_text(secrets.token_hex(16) + "\n")
    token_file.chmod(0o644)
    name = du.unique("codeeval-sandbox-gvisor")
    du.docker("run", "-d", "--name", name, *du.HARDENED, *GVISOR_POD,
              "-v", f"{token_file}:/etc/codeeval/auth/token:ro",
              "-e", "CODEEVAL_SANDBOX_AUTH_TOKEN_FILE=/etc/codeeval/auth/token",
              "-v", f"{FIXTURES}:/fixtures:ro", "-v", f"{CLIENT}:/conformance-client.py:ro", image)
    try:
        yield name
    finally:
        du.docker("rm", "-f", name, check=False, timeout=120)


def test_conformance_suite_under_gvisor(sandbox_under_gvisor):
    name = sandbox_under_gvisor
    assert du.wait_serving_inside(name, 50051).endswith("SERVING")
    out = du.docker("exec", name, "python", "/conformance-client.py", "/fixtures", "/etc/codeeval/auth/token",
                    timeout=900)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    probe, results, tail = lines[0], lines[1:-1], lines[-1]
    assert probe["jail_probe"] == "PASSED" and probe["backend"] == "unshare", probe
    assert "visible: []" in probe["stdout"], probe["stdout"]
    assert "root: ['bin', 'etc', 'lib', 'lib64', 'sbin', 'tmp', 'usr']" in probe["stdout"], probe["stdout"]
    assert "uid: 65534" in probe["stdout"], probe["stdout"]
    expected_count = sum(1 for _ in FIXTURES.glob("python/*.py")) + sum(1 for _ in FIXTURES.glob("java/*.java"))
    assert len(results) == expected_count
    wrong = [r for r in results if r["outcome"] not in r["expected"] or r["backend"] != "unshare"]
    assert wrong == [], json.dumps(wrong, indent=1)
    assert tail == {"listener_connections": 0}
    assert du.docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "running"
    assert du.wait_serving_inside(name, 50051).endswith("SERVING")
