"""Kubernetes manifests: every kustomization builds, validates against the Kubernetes 1.37 schemas
offline (PyPI kubernetes-validate ships them), and satisfies the deployment policy."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest
import yaml

from deploy.conftest import DEPLOY, K8S, TARGETS, by_kind, render
from deploy.policy import SANDBOX_PROFILE, pod_specs, pod_violations

K8S_VERSION = "1.37.0"
SERVICES = {"sandbox": 50051, "analyzer": 50052, "generator": 50053, "trainer": 50054}


def validate_all(docs):
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    return errors


@pytest.mark.parametrize("target", TARGETS)
def test_builds_and_validates_against_the_schemas(target):
    docs = render(target)
    assert docs, f"{target} rendered nothing"
    assert validate_all(docs) == []


def test_validator_rejects_an_unknown_field_and_a_wrong_type():
    docs = render("overlays/prod")
    deployment = copy.deepcopy(by_kind(docs, "Deployment")["sandbox"])
    deployment["spec"]["replicaz"] = 3
    wrong_type = copy.deepcopy(by_kind(docs, "Service")["sandbox"])
    wrong_type["spec"]["ports"][0]["port"] = "fifty"
    assert len(validate_all([deployment, wrong_type])) == 2


@pytest.mark.parametrize("target", TARGETS)
def test_every_pod_spec_carries_the_security_settings(target):
    specs = list(pod_specs(render(target)))
    assert specs
    violations = [v for name, spec in specs for v in pod_violations(name, spec)]
    assert violations == []


def test_policy_flags_each_missing_setting():
    """The checker itself: strip one setting at a time from a compliant spec and expect a finding."""
    spec = by_kind(render("overlays/prod"), "Deployment")["analyzer"]["spec"]["template"]["spec"]
    assert pod_violations("analyzer", spec) == []
    container = ["containers", 0, "securityContext"]
    cases = {
        "automountServiceAccountToken": (["automountServiceAccountToken"], True),
        "runAsNonRoot": (["securityContext", "runAsNonRoot"], False),
        "readOnlyRootFilesystem": ([*container, "readOnlyRootFilesystem"], False),
        "allowPrivilegeEscalation": ([*container, "allowPrivilegeEscalation"], True),
        "capabilities": ([*container, "capabilities"], {"drop": ["NET_RAW"]}),
        "seccompProfile": ([*container, "seccompProfile"], {"type": "Unconfined"}),
        "resources.limits.memory": (["containers", 0, "resources", "limits"], {"cpu": "1"}),
    }
    for expected, (path, value) in cases.items():
        broken = copy.deepcopy(spec)
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        found = pod_violations("analyzer", broken)
        assert any(expected in v for v in found), (expected, found)
    localhost = copy.deepcopy(spec)
    localhost["securityContext"]["seccompProfile"] = {"type": "Localhost", "localhostProfile": SANDBOX_PROFILE}
    assert any("seccompProfile" in v for v in pod_violations("analyzer", localhost)), "only the sandbox may"


@pytest.mark.parametrize("target", ["overlays/dev", "overlays/prod"])
def test_services_are_headless_grpc_with_native_probes(target):
    docs = render(target)
    deployments, services = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    assert set(deployments) == set(SERVICES) == set(services)
    tls = target == "overlays/prod"
    for name, port in SERVICES.items():
        svc = services[name]["spec"]
        assert svc["clusterIP"] == "None", f"{name}: headless, so clients balance over pods"
        grpc_port = next(p for p in svc["ports"] if p["name"] == "grpc")
        assert (grpc_port["port"], grpc_port.get("appProtocol")) == (port, "grpc")
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "grpc", "containerPort": port} in container["ports"]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if tls:  # native gRPC probes cannot speak TLS: the exec probe runs the image's health check
                assert container[probe]["exec"]["command"][-1] == f"127.0.0.1:{port}", (name, probe)
                assert "grpc" not in container[probe]
            else:
                assert container[probe]["grpc"] == {"port": port}, (name, probe)


@pytest.mark.parametrize("target", ["overlays/dev", "overlays/prod", "overlays/prod-runc"])
def test_sandbox_isolation(target):
    docs = render(target)
    pod = by_kind(docs, "Deployment")["sandbox"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    deny = [p["spec"] for p in by_kind(docs, "NetworkPolicy").values()
            if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == "sandbox"
            and "Egress" in p["spec"]["policyTypes"]]
    assert deny and all(not p.get("egress") for p in deny), "sandbox egress must be denied outright"
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert tmp["emptyDir"]["medium"] == "Memory" and tmp["emptyDir"]["sizeLimit"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert pod["securityContext"]["seccompProfile"]["localhostProfile"] == SANDBOX_PROFILE
    assert (DEPLOY / "seccomp" / SANDBOX_PROFILE.split("/")[-1]).is_file(), "the profile the pod names is shipped"
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if target == "overlays/prod":  # gVisor, and the backend that works under it (test_sandbox_gvisor.py)
        assert pod["runtimeClassName"] == "gvisor"
        assert by_kind(docs, "RuntimeClass")["gvisor"]["handler"] == "runsc"
        assert env["CODEEVAL_SANDBOX_BACKEND"] == "unshare" and env["CODEEVAL_SANDBOX_MAX_CONCURRENCY"] == "1"
        jail_tmp = next(v for v in pod["volumes"] if v["name"] == "jail-tmp")
        assert jail_tmp["emptyDir"]["medium"] == "Memory" and jail_tmp["emptyDir"]["sizeLimit"]
        assert {"name": "jail-tmp", "mountPath": env["CODEEVAL_SANDBOX_JAIL_DIR"] + "/tmp"} in container["volumeMounts"]
        assert "hostUsers" not in pod and "procMount" not in container["securityContext"]
    else:  # runc: bubblewrap in a user-namespaced pod, which needs its fresh /proc
        assert "runtimeClassName" not in pod and "RuntimeClass" not in {d["kind"] for d in docs}
        assert env.get("CODEEVAL_SANDBOX_BACKEND", "bubblewrap") == "bubblewrap"
        assert pod["hostUsers"] is False and container["securityContext"]["procMount"] == "Unmasked"


def test_prod_schedules_generator_and_trainer_on_gpus_and_shares_adapters():
    docs = render("overlays/prod")
    deployments = by_kind(docs, "Deployment")
    mounts = {}
    for name in ("generator", "trainer"):
        pod = deployments[name]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert container["image"].endswith("-cuda")
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
        claim = next(v for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName")
                     == "codeeval-adapters")
        mounts[name] = next(m for m in container["volumeMounts"] if m["name"] == claim["name"])
    assert mounts["trainer"]["mountPath"] == mounts["generator"]["mountPath"] == "/adapters"
    assert mounts["generator"].get("readOnly") is True and not mounts["trainer"].get("readOnly")
    pvc = by_kind(docs, "PersistentVolumeClaim")["codeeval-adapters"]["spec"]
    assert pvc["accessModes"] == ["ReadWriteMany"]


@pytest.mark.parametrize("target", ["overlays/dev", "overlays/prod"])
def test_sandbox_and_analyzer_autoscale(target):
    docs = render(target)
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    for name in ("sandbox", "analyzer"):
        ref = hpas[name]["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == ("Deployment", name)
        assert 1 <= hpas[name]["spec"]["minReplicas"] < hpas[name]["spec"]["maxReplicas"]


@pytest.mark.parametrize("target", ["overlays/dev", "overlays/prod", "jobs"])
def test_every_mounted_secret_is_the_auth_or_tls_secret(target):
    docs = render(target)
    for name, spec in pod_specs(docs):
        secrets = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        assert "codeeval-auth" in secrets, f"{name}: bearer token from the codeeval-auth Secret"
        assert secrets <= {"codeeval-auth", "codeeval-tls"}, name
        env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env", [])}
        assert any(k.endswith("AUTH_TOKEN_FILE") and v == "/etc/codeeval/auth/token" for k, v in env.items()), name
        assert not any(k.endswith("AUTH_TOKEN") for k in env), f"{name}: never a token in plain env"


def test_jobs_train_on_gpus_and_bench_fails_on_regression():
    docs = by_kind(render("jobs"), "Job")
    train = docs["codeeval-train"]["spec"]["template"]["spec"]["containers"][0]
    assert train["args"][:2] == ["train", "--config"] and "--watch" in train["args"]
    assert train["resources"]["limits"]["nvidia.com/gpu"] == "1"
    bench = docs["codeeval-bench"]["spec"]["template"]["spec"]["containers"][0]
    script = " ".join(bench["args"])
    assert "codeeval bench" in script and "codeeval compare" in script
    assert docs["codeeval-bench"]["spec"]["backoffLimit"] == 0, "a regression must not be retried away"


def test_config_map_is_valid_yaml_with_one_section_per_service():
    config = yaml.safe_load((K8S / "base" / "config.yaml").read_text())
    assert set(config) == set(SERVICES)


def test_seccomp_profile_adds_exactly_the_sandbox_syscalls():
    profile = json.loads((DEPLOY / "seccomp" / "sandbox-bwrap.json").read_text())
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    unconditional = set()
    for rule in profile["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args") and not rule.get("includes"):
            unconditional.update(rule["names"])
    added = profile["syscalls"][-1]
    # bubblewrap's namespaces, mounts and hostname; chroot for the unshare backend's jail (gVisor pods).
    assert sorted(added["names"]) == sorted(["clone", "unshare", "mount", "umount2", "pivot_root", "sethostname",
                                             "chroot"])
    # Still forbidden without capabilities: entering other namespaces, BPF, keyrings, perf,
    # kernel modules, the new mount API, clone3 (libc falls back to clone).
    for name in ("setns", "bpf", "keyctl", "add_key", "perf_event_open", "init_module", "finit_module",
                 "fsopen", "fsmount", "move_mount", "open_tree", "clone3", "kexec_load", "reboot", "ptrace"):
        assert name not in unconditional, name
    assert {"read", "write", "execve", "seccomp", "prctl"} <= unconditional


# Services whose code is committed; a key here that the service's settings class does not have
# would be silently ignored by the YAML loader, so it is an error.
COMMITTED_SERVICES = ["sandbox", "analyzer", "generator", "trainer"]


@pytest.mark.parametrize("service", COMMITTED_SERVICES)
def test_config_map_keys_are_settings_of_the_service(service):
    import importlib

    settings_cls = importlib.import_module(f"codeeval.{service}.server").SETTINGS
    section = yaml.safe_load((K8S / "base" / "config.yaml").read_text())[service] or {}
    unknown = set(section) - set(settings_cls.model_fields)
    assert not unknown, f"{service}: config.yaml keys {sorted(unknown)} are not fields of {settings_cls.__name__}"
    settings_cls(**section)  # and the values validate


@pytest.mark.parametrize("target", ["overlays/dev", "overlays/prod", "jobs"])
def test_config_map_and_claims_that_pods_mount_exist(target):
    docs = render(target)
    base = render("overlays/dev") if target == "jobs" else docs
    config_maps, claims = set(by_kind(base, "ConfigMap")), set(by_kind(base, "PersistentVolumeClaim"))
    for name, spec in pod_specs(docs):
        for volume in spec["volumes"]:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, (name, volume)
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, (name, volume)


def test_compose_runs_every_service_hardened():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert set(compose["services"]) == set(SERVICES)
    for name, svc in compose["services"].items():
        assert (DEPLOY.parent / svc["build"]["dockerfile"]).is_file(), name
        assert svc["user"] == "10001:10001" and svc["read_only"] is True and svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges" in svc["security_opt"], name
        port = SERVICES[name]
        assert svc["ports"] == [f"127.0.0.1:${{CODEEVAL_{name.upper()}_PUBLISH:-{port}}}:{port}"], f"{name}: loopback"
        assert svc["environment"][f"CODEEVAL_{name.upper()}_AUTH_TOKEN_FILE"] == "/run/secrets/token"
    sandbox_opts = compose["services"]["sandbox"]["security_opt"]
    assert "seccomp=./seccomp/sandbox-bwrap.json" in sandbox_opts
    # compose cannot unmask /proc for bubblewrap: the sandbox uses the unshare backend there
    assert compose["services"]["sandbox"]["environment"]["CODEEVAL_SANDBOX_BACKEND"] == "unshare"
    assert (DEPLOY / "seccomp" / "sandbox-bwrap.json").is_file()
    assert "adapters:/adapters:ro" in compose["services"]["generator"]["volumes"]
    assert "adapters:/adapters" in compose["services"]["trainer"]["volumes"]


@pytest.mark.parametrize("example", ["github-actions-bench.yml", "gitlab-ci-bench.yml"])
def test_ci_examples_gate_on_regression(example):
    text = (DEPLOY / "ci" / example).read_text()
    assert yaml.safe_load(text), example
    assert "codeeval compare" in text  # they run for real in test_ci_examples_run.py
    assert "codeeval bench" in text or "codeeval-bench" in text
