"""Every place a deploy test runs a pod, or deploy/compose.yaml runs a service, differently from
the rendered manifests: named and justified here, and nowhere else. Static tests hold each one to
the manifests (a deviation from something the pod lacks is refused, a compose deviation that is no
longer a difference fails): tests/deploy/test_podspec.py, tests/deploy/test_compose_pods.py.

* The seccomp probe (test_sandbox_seccomp.py): :data:`NO_NETWORK` always; :data:`CONTROL_CASES`,
  each where a test names it, take away one setting of the pod to show what it does.
* The CPU generator image (test_generator_image.py): :data:`SHORT_GENERATOR`.
* The gVisor sandbox (test_sandbox_gvisor.py) and the sandbox and analyzer images (test_images.py):
  none.
* compose.yaml: :data:`COMPOSE_DEVIATIONS` (per service and compared setting,
  tests/deploy/compose_pods.py).
"""

from __future__ import annotations

from deploy.podspec import Deviation

NO_NETWORK = Deviation(
    "no-network", "the probes need no network, and docker cannot express the base NetworkPolicy "
    "sandbox-deny-egress (no egress at all): the probe container gets no network instead",
    add=("--network", "none"))
RUNTIME_DEFAULT_SECCOMP = Deviation(
    "runtime-default-seccomp", "control case: under the runtime's default profile (what seccompProfile "
    "RuntimeDefault gives) bubblewrap must fail, or the shipped profile is not what lets it run",
    drop_security_opts=("seccomp=",))
MASKED_PROC = Deviation(
    "masked-proc", "control case: with the runtime's masked /proc (procMount Default) bubblewrap cannot "
    "mount its run's fresh /proc: why the pod sets procMount Unmasked",
    drop_security_opts=("systempaths=",))
UNCONFINED_SECCOMP = Deviation(
    "unconfined-seccomp", "control case: with no filter at all the syscall probe must see setns reach the "
    "kernel, so the EPERM it sees under the shipped profile is the filter's",
    drop_security_opts=("seccomp=",), add=("--security-opt", "seccomp=unconfined"))
CONTROL_CASES = (RUNTIME_DEFAULT_SECCOMP, MASKED_PROC, UNCONFINED_SECCOMP)

SHORT_GENERATOR = Deviation(
    "short-generator", "sizes that keep the CPU generator image test short (a shorter context, one small "
    "LoRA slot, 8 tokens, one compute thread, fast health rechecks, text logs); the engine, model, template "
    "and security stay the pod's (settings the pod's env does not set, checked in test_podspec.py)",
    add=tuple(a for k, v in {"COMPUTE_THREADS": "1", "MAX_MODEL_LEN": "512", "MAX_LORAS": "1",
                             "MAX_LORA_RANK": "8", "MAX_CPU_LORAS": "2", "DEFAULT_MAX_TOKENS": "8",
                             "HEALTH_RECHECK_SECONDS": "2", "LOG_FORMAT": "text"}.items()
              for a in ("-e", f"CODEEVAL_GENERATOR_{k}={v}")))

COMPOSE_DEVIATIONS: dict[tuple[str, str], str] = {
    ("sandbox", "runtime"): "compose runs on the machine's default runtime (runc); runsc is an install and "
    "daemon choice of the machine, and the unshare backend's isolation does not depend on it",
    ("analyzer", "cpus"): "the services share one machine's CPUs without a quota; the dev overlay caps "
    "each pod at 2 CPUs for a small node",
    ("sandbox", "cpus"): "as the analyzer's",
    ("generator", "cpus"): "as the analyzer's",
    ("trainer", "cpus"): "as the analyzer's",
    ("analyzer", "tmpfs /tmp exec"): "compose keeps the analyzer's /tmp noexec (pylint and PMD need no exec "
    "there; test_compose.py serves both from it); a Kubernetes emptyDir cannot be mounted noexec",
    ("generator", "env CODEEVAL_GENERATOR_TEMPLATE"): "the dev overlay's model choice (SmolLM2 with its own "
    "chat template); compose serves ./models/base with the base config's template",
    ("generator", "memory"): "compose serves whatever model ./models/base holds, so no memory limit; the dev "
    "overlay's 6 GiB is sized for its SmolLM2-135M",
    ("generator", "tmpfs /tmp size"): "with no memory limit (above), compose caps the in-memory /tmp at 8 GiB "
    "rather than the pod's 20 GiB, which the pod's memory limit bounds anyway",
    ("trainer", "memory"): "as the generator's: the model, and so the memory it needs, is the user's",
    ("trainer", "tmpfs /tmp size"): "as the generator's",
    ("trainer", "env CODEEVAL_GENERATOR_ADDR"): "compose names the generator service plainly; the pod's "
    "dns:/// target spreads calls over a headless Service's replicas, which compose does not have",
}
