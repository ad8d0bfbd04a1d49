"""The sandbox image under gVisor, as overlays/prod runs it: per-run isolation really works.

Real Docker with the real runsc (Debian's, ptrace platform, registered by scripts/start-dockerd.sh),
the real sandbox image on the registry-free base, run with every flag of the rendered prod sandbox
pod (tests/deploy/sandbox_pods.py, no deviation: runsc from its RuntimeClass, uid 10001, read-only
root, all capabilities dropped, no-new-privileges, the shipped seccomp profile, the pod's pids limit,
memory and CPU limits, the unshare backend with one run at a time and its in-memory /jail/tmp, the
ConfigMap, the auth and TLS secrets from deploy/make-secrets.sh, mutual TLS, the pod's args).
bubblewrap cannot start under this runsc (deploy/README.md, "gVisor"), so this is the backend those
pods use. The service must become SERVING (its readiness runs a real program through the backend),
then the whole adversarial conformance suite (tests/sandbox/fixtures) must end in its expected
outcomes, sent over mutual TLS from inside the pod, with a run seeing nothing of the pod outside
the jail.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from deploy import dockerutil as du
from deploy.conftest import DEPLOY, ROOT, render
from deploy.sandbox_pods import GVISOR_OVERLAY, gvisor_flags, gvisor_pod

pytestmark = [pytest.mark.docker, pytest.mark.slow]
CLIENT = ROOT / "tests" / "deploy" / "fixtures" / "conformance-client.py"
FIXTURES = ROOT / "tests" / "sandbox" / "fixtures"


@pytest.fixture(scope="module")
def sandbox_under_gvisor(tmp_path_factory):
    du.ensure_engine()
    runtimes = du.docker("info", "--format", "{{json .Runtimes}}").stdout
    docs = render(GVISOR_OVERLAY)
    pod = gvisor_pod(docs)
    assert pod.runtime in json.loads(runtimes), f"no Docker runtime {pod.runtime} here: bash scripts/start-dockerd.sh"
    du.ensure_base()
    image = du.build(DEPLOY / "sandbox" / "Dockerfile", "codeeval/sandbox:test")
    secrets_dir = tmp_path_factory.mktemp("secrets") / "made"
    subprocess.run(["bash", str(DEPLOY / "make-secrets.sh"), str(secrets_dir)], check=True, capture_output=True,
                   timeout=120)
    flags = gvisor_flags(docs, tmp_path_factory.mktemp("pod"), secrets_dir)
    name = du.unique("codeeval-sandbox-gvisor")
    du.docker("run", "-d", "--name", name, *flags,
              "-v", f"{FIXTURES}:/fixtures:ro", "-v", f"{CLIENT}:/conformance-client.py:ro", image, *pod.args)
    try:
        yield name, f"{pod.external['auth'][0]}/token", pod.ports["grpc"]
    finally:
        du.docker("rm", "-f", name, check=False, timeout=120)


def test_conformance_suite_under_gvisor(sandbox_under_gvisor):
    name, token_file, port = sandbox_under_gvisor
    assert du.wait_serving_inside(name, port).endswith("SERVING")
    out = du.docker("exec", name, "python", "/conformance-client.py", "/fixtures", token_file,
                    f"127.0.0.1:{port}", timeout=900)
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
    assert du.wait_serving_inside(name, port).endswith("SERVING")
