"""The tls component's probe path, end to end in-process: certificates from make-secrets.sh, a real
kit server with mutual TLS, and deploy/healthcheck.py (what the exec probes and HEALTHCHECK run)
reaching it at 127.0.0.1 while verifying the in-cluster name. Also: without the client
certificate the mTLS server refuses, and plaintext probes cannot talk to it at all (why the tls
component replaces the native gRPC probes)."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess

import pytest
from support.kit_fake import start

from deploy.conftest import DEPLOY

spec = importlib.util.spec_from_file_location("codeeval_healthcheck", DEPLOY / "healthcheck.py")
assert spec is not None and spec.loader is not None
healthcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(healthcheck)


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("secrets")
    subprocess.run(["bash", str(DEPLOY / "make-secrets.sh"), str(out)], check=True, capture_output=True, timeout=120)
    return out


async def probe(address: str, monkeypatch, env: dict[str, str]) -> int:
    for key in ("CODEEVAL_TLS_CA_FILE", "CODEEVAL_TLS_CERT_FILE", "CODEEVAL_TLS_KEY_FILE", "CODEEVAL_TLS_SERVER_NAME"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CODEEVAL_HEALTHCHECK_TIMEOUT", "1")
    return await asyncio.to_thread(healthcheck.main, ["healthcheck", address])


async def test_exec_probe_passes_mutual_tls_with_the_pod_certificate(secrets_dir, monkeypatch):
    s = secrets_dir
    runner, _ = await start(host="127.0.0.1", tls_cert_file=s / "tls.crt", tls_key_file=s / "tls.key",
                            tls_client_ca_file=s / "ca.crt")
    try:
        await runner.wait_ready(5)
        address = f"127.0.0.1:{runner.port}"
        pod_env = {"CODEEVAL_TLS_CA_FILE": str(s / "ca.crt"), "CODEEVAL_TLS_CERT_FILE": str(s / "tls.crt"),
                   "CODEEVAL_TLS_KEY_FILE": str(s / "tls.key"), "CODEEVAL_TLS_SERVER_NAME": "sandbox.codeeval.svc"}
        assert await probe(address, monkeypatch, pod_env) == 0
        client_cert = ("CODEEVAL_TLS_CERT_FILE", "CODEEVAL_TLS_KEY_FILE")
        no_client_cert = {k: v for k, v in pod_env.items() if k not in client_cert}
        assert await probe(address, monkeypatch, no_client_cert) == 1
        wrong_name = {**pod_env, "CODEEVAL_TLS_SERVER_NAME": "evil.example.com"}
        assert await probe(address, monkeypatch, wrong_name) == 1
        assert await probe(address, monkeypatch, {}) == 1, "plaintext (a native gRPC probe) cannot pass"
    finally:
        await runner.shutdown(0)
